/* proto/decode.c: strict msgpack decoding and validation of v1 events.
 * fields.c reads the bytes; this file judges what they say.
 *
 * Order of checks (it decides which reason a message with several faults
 * gets, and the tests pin it): frame shape (malformed, not_a_map), key types,
 * `v` (bad_version: a future schema may have other required fields), then
 * common fields in table order, then kind-specific fields. A nil value counts
 * as absent. A known key given twice is malformed: the two values could
 * disagree and we refuse to guess.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fields.h"

/* Names with their lengths, so matching compares a length before bytes. */
typedef struct {
        const char *s;
        size_t len;
} Name;

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

struct ProtoDecoder {
        FieldScan *scan;
};

int proto_decoder_new(ProtoDecoder **out) {
        ProtoDecoder *d = calloc(1, sizeof(*d));
        int r;

        if (!d)
                return -ENOMEM;
        if ((r = field_scan_new(&d->scan)) < 0) {
                free(d);
                return r;
        }
        *out = d;
        return 0;
}

ProtoDecoder *proto_decoder_free(ProtoDecoder *d) {
        if (d) {
                field_scan_free(d->scan);
                free(d);
        }
        return NULL;
}

static int fail(ProtoDiag *diag, int reason, const char *field) {
        if (diag) {
                diag->reason = reason;
                diag->field = field;
        }
        return reason;
}

static bool present(const Tok *o) {
        return o && tok_type(o) != MSGPACK_OBJECT_NIL;
}

/* A string field of min..max bytes into *out; absent leaves *out empty. */
static int get_str(const Tok *o, size_t max, bool required, int key, Slice *out, ProtoDiag *diag) {
        if (!present(o))
                return required ? fail(diag, PROTO_E_MISSING_FIELD, field_key_name(key)) : PROTO_OK;
        if (tok_type(o) != MSGPACK_OBJECT_STR)
                return fail(diag, PROTO_E_WRONG_TYPE, field_key_name(key));
        if (tok_n(o) == 0)
                return fail(diag, PROTO_E_OUT_OF_RANGE, field_key_name(key));
        if (tok_n(o) > max)
                return fail(diag, PROTO_E_TOO_LONG, field_key_name(key));
        out->ptr = o->via.ptr;
        out->len = tok_n(o);
        return PROTO_OK;
}

/* An unsigned integer in lo..hi. A negative integer is a number out of
 * range, not a wrong type; a float is a wrong type. */
static int get_uint(const Tok *o, uint64_t lo, uint64_t hi, const char *name, uint32_t *out,
                    ProtoDiag *diag) {
        if (tok_type(o) == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                return fail(diag, PROTO_E_OUT_OF_RANGE, name);
        if (tok_type(o) != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return fail(diag, PROTO_E_WRONG_TYPE, name);
        if (o->via.u64 < lo || o->via.u64 > hi)
                return fail(diag, PROTO_E_OUT_OF_RANGE, name);
        *out = (uint32_t)o->via.u64;
        return PROTO_OK;
}

/* One of a fixed set of strings; *out keeps its default when absent. */
static int get_enum(const Tok *o, const Name *names, int n, bool required, int key, int *out,
                    ProtoDiag *diag) {
        if (!present(o))
                return required ? fail(diag, PROTO_E_MISSING_FIELD, field_key_name(key)) : PROTO_OK;
        if (tok_type(o) != MSGPACK_OBJECT_STR)
                return fail(diag, PROTO_E_WRONG_TYPE, field_key_name(key));
        for (int i = 0; i < n; i++)
                if (name_eq(o->via.ptr, tok_n(o), &names[i])) {
                        *out = i;
                        return PROTO_OK;
                }
        return fail(diag, PROTO_E_OUT_OF_RANGE, field_key_name(key));
}

static int decode_feedback(const Tok *const *f, const RaterAcc *rater, Event *ev, ProtoDiag *diag) {
        int r;

        ev->scale = 5;
        if (present(f[K_SCALE]) && (r = get_uint(f[K_SCALE], 2, 100, "scale", &ev->scale, diag)))
                return r;
        if (!present(f[K_SCORE]))
                return fail(diag, PROTO_E_MISSING_FIELD, "score");
        if ((r = get_uint(f[K_SCORE], 1, ev->scale, "score", &ev->score, diag)))
                return r;

        if (present(f[K_RATER])) {
                if (tok_type(f[K_RATER]) != MSGPACK_OBJECT_MAP)
                        return fail(diag, PROTO_E_WRONG_TYPE, "rater");
                /* The pairs in order, then the fault that stopped them. */
                for (unsigned i = 0; i < rater->n; i++) {
                        int d = rater->seq[i].dim;
                        if ((r = get_uint(&rater->seq[i].val, 1, ev->scale, dim_names[d].s, &ev->rater[d], diag)))
                                return r;
                }
                ev->rater_mask = rater->mask;
                if (rater->err == PROTO_E_MALFORMED)
                        return fail(diag, PROTO_E_MALFORMED, dim_names[rater->err_dim].s);
                if (rater->err)
                        return fail(diag, rater->err, "rater");
        }

        if (present(f[K_NPS])) {
                if ((r = get_uint(f[K_NPS], 0, 10, "nps", &ev->nps, diag)))
                        return r;
                ev->has_nps = true;
        }
        return PROTO_OK;
}

static int decode_complaint(const Tok *const *f, Event *ev, ProtoDiag *diag) {
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

static int decode_ticket(const Tok *const *f, Event *ev, ProtoDiag *diag) {
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
        Fields fl;
        const Tok *const *f = fl.f;
        int r;

        memset(ev, 0, sizeof(*ev));
        ev->kind = kind;
        ev->outcome = OUTCOME_NONE;
        if (diag)
                *diag = (ProtoDiag){0};

        if ((r = field_scan(d->scan, payload, len, &fl)))
                return fail(diag, r, NULL);
        /* The first bad key decided the reason, but the scan went on so that
         * a readable id still names the event in its ack (CONTRACT.md 2.2). */
        if (!fl.id_twice && present(f[K_ID]))
                (void)get_str(f[K_ID], PROTO_ID_MAX, true, K_ID, &ev->id, NULL);
        if (fl.kerr)
                return fail(diag, fl.kerr, fl.kfield);

        ev->v = 1;
        if (present(f[K_V])) {
                uint8_t t = tok_type(f[K_V]);
                if (t != MSGPACK_OBJECT_POSITIVE_INTEGER && t != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                        return fail(diag, PROTO_E_WRONG_TYPE, "v");
                if (t == MSGPACK_OBJECT_NEGATIVE_INTEGER || f[K_V]->via.u64 != 1)
                        return fail(diag, PROTO_E_BAD_VERSION, "v");
        }

        if ((r = get_str(f[K_ID], PROTO_ID_MAX, true, K_ID, &ev->id, diag)))
                return r;

        if (!present(f[K_TS]))
                return fail(diag, PROTO_E_MISSING_FIELD, "ts");
        if (tok_type(f[K_TS]) == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                /* Saturate: still in_future, but decided last like any time. */
                ev->ts = f[K_TS]->via.u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)f[K_TS]->via.u64;
        } else if (tok_type(f[K_TS]) == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
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
                r = decode_feedback(f, fl.rater, ev, diag);
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
