/* proto/decode.c: strict msgpack decoding and validation of v1 events.
 *
 * Order of checks (it decides which reason a message with several faults
 * gets, and the tests pin it): frame shape (malformed, not_a_map), key types,
 * `v` (bad_version: a future schema may have other required fields), then
 * common fields in table order, then kind-specific fields. A nil value counts
 * as absent. A known key given twice is malformed: the two values could
 * disagree and we refuse to guess.
 */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "mpwalk.h"

struct ProtoDecoder {
        msgpack_zone zone;
};

int proto_decoder_new(ProtoDecoder **out) {
        ProtoDecoder *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        if (!msgpack_zone_init(&d->zone, 4096)) {
                free(d);
                return -ENOMEM;
        }
        *out = d;
        return 0;
}

ProtoDecoder *proto_decoder_free(ProtoDecoder *d) {
        if (d) {
                msgpack_zone_destroy(&d->zone);
                free(d);
        }
        return NULL;
}

enum {
        K_V, K_ID, K_TS, K_TEAM, K_AGENT, K_CHANNEL, K_CUSTOMER, K_TICKET,
        K_SCORE, K_SCALE, K_RATER, K_NPS,
        K_COMPLAINT, K_STATUS, K_SEVERITY, K_CATEGORY, K_OUTCOME, K_PRIORITY,
        _K_MAX,
};

/* Names with their lengths, so matching compares a length before bytes. */
typedef struct {
        const char *s;
        size_t len;
} Name;

/* Every key of every event is matched here. */
#define KEY(k, s) [k] = {s, sizeof(s) - 1}
static const Name keys[_K_MAX] = {
        KEY(K_V, "v"), KEY(K_ID, "id"), KEY(K_TS, "ts"), KEY(K_TEAM, "team"), KEY(K_AGENT, "agent"),
        KEY(K_CHANNEL, "channel"), KEY(K_CUSTOMER, "customer"), KEY(K_TICKET, "ticket"),
        KEY(K_SCORE, "score"), KEY(K_SCALE, "scale"), KEY(K_RATER, "rater"), KEY(K_NPS, "nps"),
        KEY(K_COMPLAINT, "complaint"), KEY(K_STATUS, "status"), KEY(K_SEVERITY, "severity"),
        KEY(K_CATEGORY, "category"), KEY(K_OUTCOME, "outcome"), KEY(K_PRIORITY, "priority"),
};
#undef KEY

/* The known keys of each length (the longest is 9), -1 ended: a key is
 * matched against at most four names, the first byte settling most. */
#define KEY_LEN_MAX 9
static const int8_t keys_by_len[KEY_LEN_MAX + 1][5] = {
        [1] = {K_V, -1},
        [2] = {K_ID, K_TS, -1},
        [3] = {K_NPS, -1},
        [4] = {K_TEAM, -1},
        [5] = {K_AGENT, K_SCORE, K_SCALE, K_RATER, -1},
        [6] = {K_TICKET, K_STATUS, -1},
        [7] = {K_CHANNEL, K_OUTCOME, -1},
        [8] = {K_CUSTOMER, K_SEVERITY, K_CATEGORY, K_PRIORITY, -1},
        [9] = {K_COMPLAINT, -1},
};

/* The K_* of a map key, or -1 for a key this schema does not know. */
static int key_index(const char *p, size_t len) {
        if (len == 0 || len > KEY_LEN_MAX)
                return -1;
        for (const int8_t *c = keys_by_len[len]; *c >= 0; c++)
                if (keys[*c].s[0] == p[0] && memcmp(keys[*c].s, p, len) == 0)
                        return *c;
        return -1;
}


static const char *const reason_names[_PROTO_E_MAX] = {
        [PROTO_OK] = "ok",
        [PROTO_E_MALFORMED] = "malformed",
        [PROTO_E_NOT_A_MAP] = "not_a_map",
        [PROTO_E_MISSING_FIELD] = "missing_field",
        [PROTO_E_WRONG_TYPE] = "wrong_type",
        [PROTO_E_OUT_OF_RANGE] = "out_of_range",
        [PROTO_E_TOO_LONG] = "too_long",
        [PROTO_E_UNKNOWN_TOPIC] = "unknown_topic",
        [PROTO_E_BAD_VERSION] = "bad_version",
        [PROTO_E_TOO_OLD] = "too_old",
        [PROTO_E_IN_FUTURE] = "in_future",
        [PROTO_E_TOO_LARGE] = "too_large",
};

#define N(x) {x, sizeof(x) - 1}
static const Name kind_names[_EVENT_KIND_MAX] = {N("feedback"), N("complaint"), N("ticket")};
static const Name dim_names[_RATER_DIM_MAX] = {N("reliability"), N("assurance"), N("tangibles"), N("empathy"),
                                               N("responsiveness")};
static const Name outcome_names[_OUTCOME_MAX] = {N("dissatisfied"), N("somewhat_dissatisfied"),
                                                 N("basically_satisfied"), N("satisfied"), N("very_satisfied")};
static const Name priority_names[_PRIORITY_MAX] = {N("low"), N("normal"), N("high"), N("urgent")};
static const Name severity_names[] = {N("low"), N("medium"), N("high"), N("critical")};
static const Name cstatus_names[] = {N("opened"), N("resolved")};
static const Name tstatus_names[] = {N("opened"), N("responded"), N("resolved"), N("reopened")};
#undef N

const char *proto_kind_name(EventKind kind) {
        return (unsigned)kind < _EVENT_KIND_MAX ? kind_names[kind].s : "unknown";
}

const char *proto_reason_name(int reason) {
        return reason >= 0 && reason < _PROTO_E_MAX ? reason_names[reason] : "unknown";
}

const char *proto_rater_dim_name(RaterDim d) {
        return (unsigned)d < _RATER_DIM_MAX ? dim_names[d].s : "unknown";
}

const char *proto_outcome_name(ComplaintOutcome o) {
        return o >= 0 && o < _OUTCOME_MAX ? outcome_names[o].s : "none";
}

const char *proto_priority_name(TicketPriority p) {
        return (unsigned)p < _PRIORITY_MAX ? priority_names[p].s : "unknown";
}

static bool name_eq(const char *p, size_t n, const Name *name) {
        return n == name->len && memcmp(p, name->s, n) == 0;
}

int proto_parse_topic(const void *topic, size_t len, EventKind *kind) {
        const char *t = topic;

        for (int k = 0; k < _EVENT_KIND_MAX; k++) {
                size_t l = kind_names[k].len;
                if (len >= l && memcmp(t, kind_names[k].s, l) == 0 && (len == l || t[l] == '.')) {
                        *kind = (EventKind)k;
                        return PROTO_OK;
                }
        }
        return PROTO_E_UNKNOWN_TOPIC;
}

static int fail(ProtoDiag *diag, int reason, const char *field) {
        if (diag) {
                diag->reason = reason;
                diag->field = field;
        }
        return reason;
}

static bool present(const msgpack_object *o) {
        return o && o->type != MSGPACK_OBJECT_NIL;
}

/* A string field of min..max bytes into *out; absent leaves *out empty. */
static int get_str(const msgpack_object *o, size_t max, bool required, int key, Slice *out, ProtoDiag *diag) {
        if (!present(o))
                return required ? fail(diag, PROTO_E_MISSING_FIELD, keys[key].s) : PROTO_OK;
        if (o->type != MSGPACK_OBJECT_STR)
                return fail(diag, PROTO_E_WRONG_TYPE, keys[key].s);
        if (o->via.str.size == 0)
                return fail(diag, PROTO_E_OUT_OF_RANGE, keys[key].s);
        if (o->via.str.size > max)
                return fail(diag, PROTO_E_TOO_LONG, keys[key].s);
        out->ptr = o->via.str.ptr;
        out->len = o->via.str.size;
        return PROTO_OK;
}

/* An unsigned integer in lo..hi. A negative integer is a number out of
 * range, not a wrong type; a float is a wrong type. */
static int get_uint(const msgpack_object *o, uint64_t lo, uint64_t hi, const char *name, uint32_t *out,
                    ProtoDiag *diag) {
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                return fail(diag, PROTO_E_OUT_OF_RANGE, name);
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return fail(diag, PROTO_E_WRONG_TYPE, name);
        if (o->via.u64 < lo || o->via.u64 > hi)
                return fail(diag, PROTO_E_OUT_OF_RANGE, name);
        *out = (uint32_t)o->via.u64;
        return PROTO_OK;
}

/* One of a fixed set of strings; *out keeps its default when absent. */
static int get_enum(const msgpack_object *o, const Name *names, int n, bool required, int key, int *out,
                    ProtoDiag *diag) {
        if (!present(o))
                return required ? fail(diag, PROTO_E_MISSING_FIELD, keys[key].s) : PROTO_OK;
        if (o->type != MSGPACK_OBJECT_STR)
                return fail(diag, PROTO_E_WRONG_TYPE, keys[key].s);
        for (int i = 0; i < n; i++)
                if (name_eq(o->via.str.ptr, o->via.str.size, &names[i])) {
                        *out = i;
                        return PROTO_OK;
                }
        return fail(diag, PROTO_E_OUT_OF_RANGE, keys[key].s);
}

static int decode_feedback(const msgpack_object *const *f, Event *ev, ProtoDiag *diag) {
        int r;

        ev->scale = 5;
        if (present(f[K_SCALE]) && (r = get_uint(f[K_SCALE], 2, 100, "scale", &ev->scale, diag)))
                return r;
        if (!present(f[K_SCORE]))
                return fail(diag, PROTO_E_MISSING_FIELD, "score");
        if ((r = get_uint(f[K_SCORE], 1, ev->scale, "score", &ev->score, diag)))
                return r;

        if (present(f[K_RATER])) {
                const msgpack_object *m = f[K_RATER];
                if (m->type != MSGPACK_OBJECT_MAP)
                        return fail(diag, PROTO_E_WRONG_TYPE, "rater");
                for (uint32_t i = 0; i < m->via.map.size; i++) {
                        const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
                        if (k->type != MSGPACK_OBJECT_STR)
                                return fail(diag, PROTO_E_WRONG_TYPE, "rater");
                        for (int d = 0; d < _RATER_DIM_MAX; d++) {
                                if (!name_eq(k->via.str.ptr, k->via.str.size, &dim_names[d]))
                                        continue;
                                if (v->type == MSGPACK_OBJECT_NIL)
                                        break;
                                if (ev->rater_mask & (1u << d))
                                        return fail(diag, PROTO_E_MALFORMED, dim_names[d].s);
                                if ((r = get_uint(v, 1, ev->scale, dim_names[d].s, &ev->rater[d], diag)))
                                        return r;
                                ev->rater_mask |= (uint8_t)(1u << d);
                                break;
                        }
                }
        }

        if (present(f[K_NPS])) {
                if ((r = get_uint(f[K_NPS], 0, 10, "nps", &ev->nps, diag)))
                        return r;
                ev->has_nps = true;
        }
        return PROTO_OK;
}

static int decode_complaint(const msgpack_object *const *f, Event *ev, ProtoDiag *diag) {
        int r, st = 0, sev = SEVERITY_MEDIUM, out = OUTCOME_NONE;

        if ((r = get_str(f[K_COMPLAINT], PROTO_ID_MAX, true, K_COMPLAINT, &ev->complaint, diag)))
                return r;
        if ((r = get_enum(f[K_STATUS], cstatus_names, 2, true, K_STATUS, &st, diag)))
                return r;
        if ((r = get_enum(f[K_SEVERITY], severity_names, 4, false, K_SEVERITY, &sev, diag)))
                return r;
        if ((r = get_str(f[K_CATEGORY], PROTO_NAME_MAX, false, K_CATEGORY, &ev->category, diag)))
                return r;
        /* The outcome only means something on a resolution; on an opening it
         * is ignored like any unknown key. */
        if (st == COMPLAINT_RESOLVED &&
            (r = get_enum(f[K_OUTCOME], outcome_names, _OUTCOME_MAX, true, K_OUTCOME, &out, diag)))
                return r;
        ev->complaint_status = (ComplaintStatus)st;
        ev->severity = (ComplaintSeverity)sev;
        ev->outcome = (ComplaintOutcome)out;
        return PROTO_OK;
}

static int decode_ticket(const msgpack_object *const *f, Event *ev, ProtoDiag *diag) {
        int r, st = 0, prio = PRIORITY_NORMAL;

        if ((r = get_enum(f[K_STATUS], tstatus_names, 4, true, K_STATUS, &st, diag)))
                return r;
        if ((r = get_enum(f[K_PRIORITY], priority_names, _PRIORITY_MAX, false, K_PRIORITY, &prio, diag)))
                return r;
        ev->ticket_status = (TicketStatus)st;
        ev->priority = (TicketPriority)prio;
        ev->has_priority = present(f[K_PRIORITY]);
        return PROTO_OK;
}

int proto_decode(ProtoDecoder *d, EventKind kind, const void *payload, size_t len, int64_t now_ms,
                 int64_t lateness_ms, Event *ev, ProtoDiag *diag) {
        const msgpack_object *f[_K_MAX] = {0};
        msgpack_object root;
        size_t off = 0, end;
        int r, kerr = PROTO_OK;
        const char *kfield = NULL;
        bool id_twice = false;

        memset(ev, 0, sizeof(*ev));
        ev->kind = kind;
        ev->outcome = OUTCOME_NONE;
        if (diag)
                *diag = (ProtoDiag){0};

        /* Bounds msgpack-c's allocations by the payload (see mpwalk.h);
         * trailing bytes are left to msgpack_unpack(). */
        if (mpwalk(payload, len, 0, &end) != MPWALK_OK)
                return fail(diag, PROTO_E_MALFORMED, NULL);
        msgpack_zone_clear(&d->zone);
        r = msgpack_unpack(payload, len, &off, &d->zone, &root);
        if (r != MSGPACK_UNPACK_SUCCESS)
                /* EXTRA_BYTES (trailing garbage), PARSE_ERROR (bad bytes)
                 * and NOMEM (nesting past msgpack-c's 32-level stack, or a
                 * failed allocation) are all a message we cannot read;
                 * mpwalk() already refused truncated ones. */
                return fail(diag, PROTO_E_MALFORMED, NULL);
        if (root.type != MSGPACK_OBJECT_MAP)
                return fail(diag, PROTO_E_NOT_A_MAP, NULL);

        /* The first bad key decides the reason, but the scan goes on so that
         * a readable id still names the event in its ack (CONTRACT.md 2.2). */
        for (uint32_t i = 0; i < root.via.map.size; i++) {
                const msgpack_object *k = &root.via.map.ptr[i].key;
                if (k->type != MSGPACK_OBJECT_STR) {
                        if (!kerr) {
                                kerr = PROTO_E_WRONG_TYPE;
                                kfield = "(key)";
                        }
                        continue;
                }
                int j = key_index(k->via.str.ptr, k->via.str.size);
                if (j < 0)
                        continue;
                if (!f[j]) {
                        f[j] = &root.via.map.ptr[i].val;
                } else {
                        if (!kerr) {
                                kerr = PROTO_E_MALFORMED;
                                kfield = keys[j].s;
                        }
                        id_twice |= j == K_ID;
                }
        }
        if (!id_twice && present(f[K_ID]))
                (void)get_str(f[K_ID], PROTO_ID_MAX, true, K_ID, &ev->id, NULL);
        if (kerr)
                return fail(diag, kerr, kfield);

        ev->v = 1;
        if (present(f[K_V])) {
                if (f[K_V]->type != MSGPACK_OBJECT_POSITIVE_INTEGER && f[K_V]->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                        return fail(diag, PROTO_E_WRONG_TYPE, "v");
                if (f[K_V]->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || f[K_V]->via.u64 != 1)
                        return fail(diag, PROTO_E_BAD_VERSION, "v");
        }

        if ((r = get_str(f[K_ID], PROTO_ID_MAX, true, K_ID, &ev->id, diag)))
                return r;

        if (!present(f[K_TS]))
                return fail(diag, PROTO_E_MISSING_FIELD, "ts");
        if (f[K_TS]->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                /* Saturate: still in_future, but decided last like any time. */
                ev->ts = f[K_TS]->via.u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)f[K_TS]->via.u64;
        } else if (f[K_TS]->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                ev->ts = f[K_TS]->via.i64;
        } else {
                return fail(diag, PROTO_E_WRONG_TYPE, "ts");
        }

        if ((r = get_str(f[K_TEAM], PROTO_NAME_MAX, false, K_TEAM, &ev->team, diag)) ||
            (r = get_str(f[K_AGENT], PROTO_NAME_MAX, false, K_AGENT, &ev->agent, diag)) ||
            (r = get_str(f[K_CHANNEL], PROTO_CHANNEL_MAX, false, K_CHANNEL, &ev->channel, diag)) ||
            (r = get_str(f[K_CUSTOMER], PROTO_ID_MAX, false, K_CUSTOMER, &ev->customer, diag)) ||
            (r = get_str(f[K_TICKET], PROTO_ID_MAX, kind == EVENT_TICKET, K_TICKET, &ev->ticket, diag)))
                return r;

        switch (kind) {
        case EVENT_FEEDBACK:
                r = decode_feedback(f, ev, diag);
                break;
        case EVENT_COMPLAINT:
                r = decode_complaint(f, ev, diag);
                break;
        case EVENT_TICKET:
                r = decode_ticket(f, ev, diag);
                break;
        default:
                return fail(diag, PROTO_E_UNKNOWN_TOPIC, NULL);
        }
        if (r)
                return r;

        /* Time last: a well-formed event at the wrong time is a clock or
         * replay problem, the most useful thing to tell the operator. */
        if (ev->ts < now_ms - lateness_ms)
                return fail(diag, PROTO_E_TOO_OLD, "ts");
        if (ev->ts > now_ms + PROTO_FUTURE_SLACK_MS)
                return fail(diag, PROTO_E_IN_FUTURE, "ts");
        return PROTO_OK;
}
