/* proto/fields.c: the fields of one event's msgpack map (see fields.h). */
#include <errno.h>
#include <msgpack/unpack.h>
#include <msgpack/unpack_define.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

#define KEY(k, s) [k] = s
static const char *const keys[_K_MAX] = {
        KEY(K_V, "v"), KEY(K_ID, "id"), KEY(K_TS, "ts"), KEY(K_TEAM, "team"), KEY(K_AGENT, "agent"),
        KEY(K_CHANNEL, "channel"), KEY(K_CUSTOMER, "customer"), KEY(K_TICKET, "ticket"),
        KEY(K_SCORE, "score"), KEY(K_SCALE, "scale"), KEY(K_RATER, "rater"), KEY(K_NPS, "nps"),
        KEY(K_COMPLAINT, "complaint"), KEY(K_STATUS, "status"), KEY(K_SEVERITY, "severity"),
        KEY(K_CATEGORY, "category"), KEY(K_OUTCOME, "outcome"), KEY(K_PRIORITY, "priority"),
};
#undef KEY

#define NO_SLOT UINT8_MAX
#define TOK_ROOT (UINT64_C(1) << 8)
#define TOK_ONE (UINT64_C(1) << 32)

static inline uint8_t tok_slot(const Tok *t) {
        return (uint8_t)(t->head >> 16);
}

static inline Tok tok(uint64_t head, uint64_t u64) {
        return (Tok){.head = head, .via.u64 = u64};
}

const char *field_key_name(int k) {
        return k >= 0 && k < _K_MAX ? keys[k] : "unknown";
}

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
                return IS("agent")   ? K_AGENT
                       : IS("score") ? K_SCORE
                       : IS("scale") ? K_SCALE
                       : IS("rater") ? K_RATER
                                     : -1;
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
                        w->kfield = keys[j];
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

struct FieldScan {
        struct mp_tok_context ctx;
};

int field_scan_new(FieldScan **out) {
        FieldScan *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *out = s;
        return 0;
}

FieldScan *field_scan_free(FieldScan *s) {
        free(s);
        return NULL;
}

int field_scan(FieldScan *s, const void *payload, size_t len, Fields *out) {
        struct mp_tok_context *ctx = &s->ctx;
        Walk *w = &ctx->user;
        const uint8_t *p = payload;
        size_t off = 0;

        w->root_is_map = len > 0 && ((p[0] & 0xf0) == 0x80 || p[0] == 0xde || p[0] == 0xdf);
        w->maps = w->open = w->has = 0;
        w->kerr = PROTO_OK;
        w->kfield = NULL;
        w->id_twice = false;
        mp_tok_init(ctx);
        /* 1: one whole value; 0: truncated; below 0: a byte no value starts
         * with, or nesting past the parser's 32 levels. Then a short off
         * means trailing bytes. */
        if (mp_tok_execute(ctx, payload, len, &off) != 1 || off != len)
                return PROTO_E_MALFORMED;
        if (!w->root_is_map)
                return PROTO_E_NOT_A_MAP;
        for (int j = 0; j < _K_MAX; j++)
                out->f[j] = w->has & (1u << j) ? &w->val[j] : NULL;
        out->rater = &w->rater;
        out->kerr = w->kerr;
        out->kfield = w->kfield;
        out->id_twice = w->id_twice;
        return PROTO_OK;
}
