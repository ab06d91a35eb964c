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
#include <msgpack/unpack_define.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

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

/* Compares with a literal of constant length: the compiler turns each into
 * a load or two and a compare, where a memcmp call per key cost more than
 * the rest of the match. */
#define IS(lit) (memcmp(p, lit, sizeof(lit) - 1) == 0)

/* The K_* of a map key, or -1 for a key this schema does not know. */
static int key_index(const char *p, size_t len) {
        switch (len) {
        case 1:
                return p[0] == 'v' ? K_V : -1;
        case 2:
                return IS("id") ? K_ID : IS("ts") ? K_TS : -1;
        case 3:
                return IS("nps") ? K_NPS : -1;
        case 4:
                return IS("team") ? K_TEAM : -1;
        case 5:
                return IS("agent") ? K_AGENT : IS("score") ? K_SCORE : IS("scale") ? K_SCALE : IS("rater") ? K_RATER : -1;
        case 6:
                return IS("ticket") ? K_TICKET : IS("status") ? K_STATUS : -1;
        case 7:
                return IS("channel") ? K_CHANNEL : IS("outcome") ? K_OUTCOME : -1;
        case 8:
                return IS("customer")   ? K_CUSTOMER
                       : IS("severity") ? K_SEVERITY
                       : IS("category") ? K_CATEGORY
                       : IS("priority") ? K_PRIORITY
                                        : -1;
        case 9:
                return IS("complaint") ? K_COMPLAINT : -1;
        default:
                return -1;
        }
}

/* The RaterDim a map key names, or -1. */
static int dim_index(const char *p, size_t len) {
        switch (len) {
        case 7:
                return IS("empathy") ? RATER_EMPATHY : -1;
        case 9:
                return IS("assurance") ? RATER_ASSURANCE : IS("tangibles") ? RATER_TANGIBLES : -1;
        case 11:
                return IS("reliability") ? RATER_RELIABILITY : -1;
        case 14:
                return IS("responsiveness") ? RATER_RESPONSIVENESS : -1;
        default:
                return -1;
        }
}
#undef IS

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

/* Parsing: msgpack-c's own parser (its unpack_template.h state machine),
 * driven by callbacks of ours instead of the ones that build a
 * msgpack_object tree in a zone. Nothing is allocated, so a header claiming
 * 2^32 elements costs nothing: the bytes simply run out (malformed). The
 * callbacks keep only what validation reads: the top-level map's known
 * keys, and the dimension pairs of every nested map (any of them may turn
 * out to be the value of `rater`). */

/* One parsed object in two words, built in registers: a Tok assembled
 * field by field in memory and then copied whole stalls on store
 * forwarding, and the parser copies every one. head holds the
 * MSGPACK_OBJECT_* type (bits 0-7), the top-level-map flag (8), a non-empty
 * nested map's RaterAcc slot (16-23, NO_SLOT otherwise) and a string's size
 * or a map's pairs still to come (32-63); via holds the value or the bytes. */
typedef struct {
        uint64_t head;
        union {
                uint64_t u64;
                int64_t i64;
                const char *ptr;
        } via;
} Tok;

#define TOK_ROOT (UINT64_C(1) << 8)
#define TOK_ONE (UINT64_C(1) << 32)

static inline uint8_t tok_type(const Tok *t) {
        return (uint8_t)t->head;
}

static inline uint8_t tok_slot(const Tok *t) {
        return (uint8_t)(t->head >> 16);
}

static inline uint32_t tok_n(const Tok *t) {
        return (uint32_t)(t->head >> 32);
}

static inline Tok tok(uint64_t head, uint64_t u64) {
        return (Tok){.head = head, .via.u64 = u64};
}

#define NO_SLOT UINT8_MAX

/* The dimension pairs of one map, in order, up to its first fault that does
 * not depend on `scale` (a non-string key, a dimension given twice): the
 * checks that do are replayed in order once `scale` is known. */
typedef struct {
        uint8_t n, mask;
        uint8_t err;     /* 0, PROTO_E_WRONG_TYPE or PROTO_E_MALFORMED */
        uint8_t err_dim; /* the dimension given twice */
        struct {
                uint8_t dim;
                Tok val;
        } seq[_RATER_DIM_MAX];
} RaterAcc;

typedef struct {
        bool root_is_map;
        unsigned maps; /* maps started */
        unsigned open; /* non-empty nested maps open: the next free slot */
        uint32_t has;  /* bit per K_* found */
        int kerr;      /* the first key fault of the top-level map */
        const char *kfield;
        bool id_twice;
        Tok val[_K_MAX];
        RaterAcc rater; /* copied from the slot of the top-level `rater` */
        RaterAcc acc[MSGPACK_EMBED_STACK_SIZE];
} Walk;

static inline Tok mp_cb_root(Walk *w) {
        (void)w;
        return tok(MSGPACK_OBJECT_NIL, 0);
}

static inline int mp_cb_uint64(Walk *w, uint64_t d, Tok *o) {
        (void)w;
        *o = tok(MSGPACK_OBJECT_POSITIVE_INTEGER, d);
        return 0;
}
static inline int mp_cb_uint8(Walk *w, uint8_t d, Tok *o) {
        return mp_cb_uint64(w, d, o);
}
static inline int mp_cb_uint16(Walk *w, uint16_t d, Tok *o) {
        return mp_cb_uint64(w, d, o);
}
static inline int mp_cb_uint32(Walk *w, uint32_t d, Tok *o) {
        return mp_cb_uint64(w, d, o);
}

/* As in msgpack-c: a signed encoding of a non-negative number is positive. */
static inline int mp_cb_int64(Walk *w, int64_t d, Tok *o) {
        (void)w;
        if (d >= 0)
                *o = tok(MSGPACK_OBJECT_POSITIVE_INTEGER, (uint64_t)d);
        else
                *o = tok(MSGPACK_OBJECT_NEGATIVE_INTEGER, (uint64_t)d);
        return 0;
}
static inline int mp_cb_int8(Walk *w, int8_t d, Tok *o) {
        return mp_cb_int64(w, d, o);
}
static inline int mp_cb_int16(Walk *w, int16_t d, Tok *o) {
        return mp_cb_int64(w, d, o);
}
static inline int mp_cb_int32(Walk *w, int32_t d, Tok *o) {
        return mp_cb_int64(w, d, o);
}

static inline int mp_cb_type(Walk *w, uint8_t type, Tok *o) {
        (void)w;
        *o = tok(type, 0);
        return 0;
}
static inline int mp_cb_float(Walk *w, float d, Tok *o) {
        (void)d;
        return mp_cb_type(w, MSGPACK_OBJECT_FLOAT32, o);
}
static inline int mp_cb_double(Walk *w, double d, Tok *o) {
        (void)d;
        return mp_cb_type(w, MSGPACK_OBJECT_FLOAT64, o);
}
static inline int mp_cb_nil(Walk *w, Tok *o) {
        return mp_cb_type(w, MSGPACK_OBJECT_NIL, o);
}
static inline int mp_cb_true(Walk *w, Tok *o) {
        return mp_cb_type(w, MSGPACK_OBJECT_BOOLEAN, o);
}
static inline int mp_cb_false(Walk *w, Tok *o) {
        return mp_cb_type(w, MSGPACK_OBJECT_BOOLEAN, o);
}
static inline int mp_cb_bin(Walk *w, const char *b, const char *p, unsigned int l, Tok *o) {
        (void)b, (void)p, (void)l;
        return mp_cb_type(w, MSGPACK_OBJECT_BIN, o);
}
static inline int mp_cb_ext(Walk *w, const char *b, const char *p, unsigned int l, Tok *o) {
        (void)b, (void)p, (void)l;
        return mp_cb_type(w, MSGPACK_OBJECT_EXT, o);
}
static inline int mp_cb_str(Walk *w, const char *b, const char *p, unsigned int l, Tok *o) {
        (void)w, (void)b;
        *o = (Tok){.head = MSGPACK_OBJECT_STR | (uint64_t)l << 32, .via.ptr = p};
        return 0;
}

static inline int mp_cb_array(Walk *w, unsigned int n, Tok *o) {
        (void)n;
        return mp_cb_type(w, MSGPACK_OBJECT_ARRAY, o);
}
static inline int mp_cb_array_item(Walk *w, Tok *c, Tok o) {
        (void)w, (void)c, (void)o;
        return 0;
}

static inline int mp_cb_map(Walk *w, unsigned int n, Tok *o) {
        uint64_t head = MSGPACK_OBJECT_MAP | (uint64_t)n << 32;

        if (w->maps++ == 0 && w->root_is_map) {
                head |= TOK_ROOT | (uint64_t)NO_SLOT << 16;
        } else if (n == 0) {
                head |= (uint64_t)NO_SLOT << 16;
        } else {
                /* Maps close innermost first, so the count of open ones is a
                 * free slot; the template caps nesting at the slots there are. */
                RaterAcc *a = &w->acc[w->open];
                a->n = a->mask = a->err = 0;
                head |= (uint64_t)w->open++ << 16;
        }
        *o = tok(head, 0);
        return 0;
}

static void root_item(Walk *w, Tok k, Tok v) {
        if (tok_type(&k) != MSGPACK_OBJECT_STR) {
                if (!w->kerr) {
                        w->kerr = PROTO_E_WRONG_TYPE;
                        w->kfield = "(key)";
                }
                return;
        }
        int j = key_index(k.via.ptr, tok_n(&k));
        if (j < 0)
                return;
        if (w->has & (1u << j)) {
                if (!w->kerr) {
                        w->kerr = PROTO_E_MALFORMED;
                        w->kfield = keys[j].s;
                }
                w->id_twice |= j == K_ID;
                return;
        }
        w->has |= 1u << j;
        w->val[j] = v;
        if (j == K_RATER && tok_type(&v) == MSGPACK_OBJECT_MAP) {
                /* The slot goes to the next nested map: keep its pairs now. */
                if (tok_slot(&v) == NO_SLOT)
                        w->rater.n = w->rater.mask = w->rater.err = 0;
                else
                        w->rater = w->acc[tok_slot(&v)];
        }
}

static void nested_item(RaterAcc *a, Tok k, Tok v) {
        if (a->err)
                return;
        if (tok_type(&k) != MSGPACK_OBJECT_STR) {
                a->err = PROTO_E_WRONG_TYPE;
                return;
        }
        int d = dim_index(k.via.ptr, tok_n(&k));
        if (d < 0 || tok_type(&v) == MSGPACK_OBJECT_NIL)
                return;
        if (a->mask & (1u << d)) {
                a->err = PROTO_E_MALFORMED;
                a->err_dim = (uint8_t)d;
                return;
        }
        a->mask |= (uint8_t)(1u << d);
        a->seq[a->n].dim = (uint8_t)d;
        a->seq[a->n++].val = v;
}

static inline int mp_cb_map_item(Walk *w, Tok *c, Tok k, Tok v) {
        if (c->head & TOK_ROOT) {
                root_item(w, k, v);
                return 0;
        }
        nested_item(&w->acc[tok_slot(c)], k, v);
        c->head -= TOK_ONE;
        if (tok_n(c) == 0)
                w->open--;
        return 0;
}

#define msgpack_unpack_struct(name) struct mp_tok##name
#define msgpack_unpack_func(ret, name) static inline ret mp_tok##name
#define msgpack_unpack_callback(name) mp_cb##name
#define msgpack_unpack_object Tok
#define msgpack_unpack_user Walk
#include <msgpack/unpack_template.h>

struct ProtoDecoder {
        struct mp_tok_context ctx;
};

int proto_decoder_new(ProtoDecoder **out) {
        ProtoDecoder *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *out = d;
        return 0;
}

ProtoDecoder *proto_decoder_free(ProtoDecoder *d) {
        free(d);
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
                return required ? fail(diag, PROTO_E_MISSING_FIELD, keys[key].s) : PROTO_OK;
        if (tok_type(o) != MSGPACK_OBJECT_STR)
                return fail(diag, PROTO_E_WRONG_TYPE, keys[key].s);
        if (tok_n(o) == 0)
                return fail(diag, PROTO_E_OUT_OF_RANGE, keys[key].s);
        if (tok_n(o) > max)
                return fail(diag, PROTO_E_TOO_LONG, keys[key].s);
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
                return required ? fail(diag, PROTO_E_MISSING_FIELD, keys[key].s) : PROTO_OK;
        if (tok_type(o) != MSGPACK_OBJECT_STR)
                return fail(diag, PROTO_E_WRONG_TYPE, keys[key].s);
        for (int i = 0; i < n; i++)
                if (name_eq(o->via.ptr, tok_n(o), &names[i])) {
                        *out = i;
                        return PROTO_OK;
                }
        return fail(diag, PROTO_E_OUT_OF_RANGE, keys[key].s);
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
        struct mp_tok_context *ctx = &d->ctx;
        Walk *w = &ctx->user;
        const Tok *f[_K_MAX];
        size_t off = 0;
        int r;

        memset(ev, 0, sizeof(*ev));
        ev->kind = kind;
        ev->outcome = OUTCOME_NONE;
        if (diag)
                *diag = (ProtoDiag){0};

        const uint8_t *p = payload;
        w->root_is_map = len > 0 && ((p[0] & 0xf0) == 0x80 || p[0] == 0xde || p[0] == 0xdf);
        w->maps = w->open = w->has = 0;
        w->kerr = PROTO_OK;
        w->kfield = NULL;
        w->id_twice = false;
        mp_tok_init(ctx);
        r = mp_tok_execute(ctx, payload, len, &off);
        if (r != 1 || off != len)
                /* 0: truncated; below 0: a byte no msgpack value starts
                 * with, or nesting past msgpack-c's 32 levels; a short off:
                 * trailing bytes. None is a message we can read. */
                return fail(diag, PROTO_E_MALFORMED, NULL);
        if (!w->root_is_map)
                return fail(diag, PROTO_E_NOT_A_MAP, NULL);

        for (int j = 0; j < _K_MAX; j++)
                f[j] = w->has & (1u << j) ? &w->val[j] : NULL;
        /* The first bad key decided the reason, but the scan went on so that
         * a readable id still names the event in its ack (CONTRACT.md 2.2). */
        if (!w->id_twice && present(f[K_ID]))
                (void)get_str(f[K_ID], PROTO_ID_MAX, true, K_ID, &ev->id, NULL);
        if (w->kerr)
                return fail(diag, w->kerr, w->kfield);

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
                r = decode_feedback(f, &w->rater, ev, diag);
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
