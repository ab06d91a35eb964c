/* daemon/alerts/notice.c: notification ids, the msgpack payload and the
 * alert PUB socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "alerts/notice.h"
#include "proto/duration.h"
#include "util/clock.h"
#include "util/endpoints.h"
#include "util/error.h"

/* Notices still queued at shutdown get this long to leave. */
#define PUB_LINGER_MS 500

struct AlertPub {
        void *sock;
};

void alert_notice_new_id(uint8_t id[ALERT_ID_LEN]) {
        static uint64_t counter;
        size_t got = 0;

        while (got < ALERT_ID_LEN) {
                ssize_t n = getrandom(id + got, ALERT_ID_LEN - got, 0);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        if (got < ALERT_ID_LEN) {
                /* No entropy source: time and a counter are still unique
                 * within this host. */
                uint64_t t = (uint64_t)now_ms(), c = ++counter;
                memcpy(id, &t, sizeof(t));
                memcpy(id + sizeof(t), &c, sizeof(c));
        }
}

char *alert_notice_id_text(const uint8_t id[ALERT_ID_LEN], char buf[ALERT_ID_TEXT]) {
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < ALERT_ID_LEN; i++) {
                buf[2 * i] = hex[id[i] >> 4];
                buf[2 * i + 1] = hex[id[i] & 15];
        }
        buf[2 * ALERT_ID_LEN] = 0;
        return buf;
}

const char *alert_notice_kind_name(NoticeKind k) {
        return k == NOTICE_SLA_BREACH ? "sla_breach" : "threshold";
}

const char *alert_notice_state_name(NoticeState s) {
        static const char *const names[_NOTICE_STATE_MAX] = {"pending", "firing", "resolved", "ok"};
        return s < _NOTICE_STATE_MAX ? names[s] : "unknown";
}

size_t alert_notice_topic(const AlertNotice *n, char *buf, size_t size) {
        int l = snprintf(buf, size, "alert.%s.%s", config_severity_name(n->def.severity), n->rule);
        return l < 0 ? 0 : (size_t)l >= size ? size - 1 : (size_t)l;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t len) {
        if (msgpack_pack_str(pk, len) < 0 || msgpack_pack_str_body(pk, s, len) < 0)
                return -ENOMEM;
        return 0;
}

static int pack_key_str(msgpack_packer *pk, const char *key, const char *s) {
        int r = pack_str(pk, key, strlen(key));
        return r ? r : pack_str(pk, s, strlen(s));
}

static int pack_key_double(msgpack_packer *pk, const char *key, double v) {
        int r = pack_str(pk, key, strlen(key));
        return r ? r : msgpack_pack_double(pk, v) < 0 ? -ENOMEM : 0;
}

static int pack_key_int(msgpack_packer *pk, const char *key, int64_t v) {
        int r = pack_str(pk, key, strlen(key));
        return r ? r : msgpack_pack_int64(pk, v) < 0 ? -ENOMEM : 0;
}

int alert_notice_pack(const AlertNotice *n, msgpack_packer *pk) {
        const bool sla = n->kind == NOTICE_SLA_BREACH;
        char idt[ALERT_ID_TEXT], scope[SCOPE_TEXT_MAX], window[32];
        size_t scope_len = scope_format(&n->scope, scope);
        int r;

        if (msgpack_pack_map(pk, sla ? 18 : 16) < 0)
                return -ENOMEM;
        if ((r = pack_key_int(pk, "v", 1)) || (r = pack_key_str(pk, "id", alert_notice_id_text(n->id, idt))) ||
            (r = pack_key_str(pk, "kind", alert_notice_kind_name((NoticeKind)n->kind))) ||
            (r = pack_key_str(pk, "rule", n->rule)))
                return r;
        if ((r = pack_str(pk, "scope", 5)) || (r = pack_str(pk, scope, scope_len)))
                return r;
        if ((r = pack_key_str(pk, "index", index_info(n->def.index)->name)) ||
            (r = pack_key_str(pk, "window", duration_format(n->def.window_ms, window, sizeof(window)))) ||
            (r = pack_key_double(pk, "value", n->value)) || (r = pack_key_double(pk, "threshold", n->def.threshold)) ||
            (r = pack_key_double(pk, "clear", n->def.clear)) ||
            (r = pack_key_str(pk, "op", n->def.op == RULE_BELOW ? "below" : "above")) ||
            (r = pack_key_str(pk, "state", alert_notice_state_name((NoticeState)n->state))) ||
            (r = pack_key_str(pk, "severity", config_severity_name(n->def.severity))))
                return r;
        if ((r = pack_str(pk, "samples", 7)) || msgpack_pack_uint64(pk, n->samples) < 0)
                return r ? r : -ENOMEM;
        if ((r = pack_key_int(pk, "since", n->since_ms)) || (r = pack_key_int(pk, "ts", n->ts_ms)))
                return r;
        if (sla && ((r = pack_key_str(pk, "ticket", n->ticket)) ||
                    (r = pack_key_str(pk, "priority",
                                      n->priority >= 0 && n->priority < _PRIORITY_MAX
                                              ? proto_priority_name((TicketPriority)n->priority)
                                              : "normal"))))
                return r;
        return 0;
}

AlertPub *alert_pub_free(AlertPub *p) {
        if (p) {
                if (p->sock)
                        zmq_close(p->sock);
                free(p);
        }
        return NULL;
}

int alert_pub_new(AlertPub **out, void *zctx, const char *endpoints, char *err, size_t errlen) {
        _cleanup_(alert_pub_freep) AlertPub *p = calloc(1, sizeof(*p));
        int linger = PUB_LINGER_MS, r;

        if (!p)
                return -ENOMEM;
        p->sock = zmq_socket(zctx, ZMQ_PUB);
        if (!p->sock)
                return zmq_err();
        if (zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0)
                return zmq_err();
        if ((r = endpoints_attach(p->sock, endpoints, true, err, errlen)) < 0)
                return r;
        *out = TAKE_PTR(p);
        return 0;
}

int alert_pub_send(AlertPub *p, const AlertNotice *n) {
        char topic[16 + RULE_NAME_MAX];
        size_t tlen = alert_notice_topic(n, topic, sizeof(topic));
        msgpack_sbuffer buf;
        msgpack_packer pk;
        int r;

        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        r = alert_notice_pack(n, &pk);
        if (r == 0 && (zmq_send(p->sock, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                       zmq_send(p->sock, buf.data, buf.size, ZMQ_DONTWAIT) < 0))
                r = zmq_err();
        msgpack_sbuffer_destroy(&buf);
        return r;
}
