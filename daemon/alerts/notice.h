/* daemon/alerts/notice.h: AlertNotice, one alert notification or history
 * entry, and AlertPub, the alert PUB socket (`[alerts] bind`) it is
 * published on.
 *
 * Wire format (CONTRACT.md section 4): two frames, the topic
 * `alert.<severity>.<rule>` and a msgpack map with string keys:
 *   v          uint 1
 *   id         str, 32 hex digits: a random 128-bit notification id
 *   kind       str "threshold" | "sla_breach"
 *   rule       str (`sla-breach` for kind sla_breach)
 *   scope      str, e.g. "team:billing"
 *   index      str, e.g. "csat" (`sla_breaches` for kind sla_breach)
 *   window     str, a duration ("1h"; the ticket's first-response target
 *              for sla_breach)
 *   value      float64 (1.0 for sla_breach: one breach)
 *   threshold  float64 (0.0 for sla_breach)
 *   clear      float64 (0.0 for sla_breach)
 *   op         str "below" | "above" (`above` for sla_breach)
 *   state      str "firing" | "resolved" (a repeat is "firing" again)
 *   severity   str "info" | "warning" | "critical"
 *   samples    uint
 *   since      int, Unix ms when the alert started firing (the deadline
 *              for sla_breach)
 *   ts         int, Unix ms of this notification
 *   ticket     str, sla_breach only
 *   priority   str, sla_breach only: the ticket's priority
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/rule.h"
#include "index/scope.h"

#define ALERT_ID_LEN 16
#define ALERT_ID_TEXT (2 * ALERT_ID_LEN + 1)

typedef enum { NOTICE_THRESHOLD = 0, NOTICE_SLA_BREACH, _NOTICE_KIND_MAX } NoticeKind;

/* What happened. Only firing (also a repeat) and resolved are published;
 * pending and ok (a pending alert whose condition stopped holding) are
 * recorded in the history only. */
typedef enum { NOTICE_PENDING = 0, NOTICE_FIRING, NOTICE_RESOLVED, NOTICE_OK, _NOTICE_STATE_MAX } NoticeState;

typedef struct {
        uint8_t id[ALERT_ID_LEN];
        uint8_t kind;  /* NoticeKind */
        uint8_t state; /* NoticeState */
        bool silenced; /* matched a silence: recorded, not published */
        bool repeat;   /* a repeat of a firing alert (not recorded in the history) */
        char rule[RULE_NAME_MAX + 1];
        Scope scope;
        AlertDef def;
        double value;
        uint64_t samples;
        int64_t since_ms, ts_ms;
        int8_t priority; /* TicketPriority, sla_breach only (else -1) */
        char ticket[PROTO_ID_MAX + 1];
} AlertNotice;

/* Fills id with fresh random bytes. */
void alert_notice_new_id(uint8_t id[ALERT_ID_LEN]);
/* Writes the id as 32 lowercase hex digits and a NUL; returns buf. */
char *alert_notice_id_text(const uint8_t id[ALERT_ID_LEN], char buf[ALERT_ID_TEXT]);

const char *alert_notice_kind_name(NoticeKind k);
const char *alert_notice_state_name(NoticeState s);

/* Writes the topic `alert.<severity>.<rule>` into buf; returns its length
 * (truncated to size - 1). */
size_t alert_notice_topic(const AlertNotice *n, char *buf, size_t size);

/* Packs the payload map into pk. Returns 0 or -ENOMEM. */
int alert_notice_pack(const AlertNotice *n, msgpack_packer *pk);

typedef struct AlertPub AlertPub;

/* Creates a PUB socket on zctx bound to every endpoint of the comma
 * separated list (none: notices go nowhere). Returns 0, or an error with
 * the endpoint named in err. */
int alert_pub_new(AlertPub **out, void *zctx, const char *endpoints, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
AlertPub *alert_pub_free(AlertPub *p);

/* Publishes one notice without blocking (a subscriber past its high water
 * mark loses it: PUB semantics). Returns 0 or a negative errno. */
int alert_pub_send(AlertPub *p, const AlertNotice *n);

static inline void alert_pub_freep(AlertPub **p) {
        alert_pub_free(*p);
}
