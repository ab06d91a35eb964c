/* tests/unit/test-decode.c: table-driven tests of proto_decode and
 * proto_parse_topic against CONTRACT.md section 2.1, plus a seeded fuzz loop.
 *
 * A row starts from a valid base message of its kind and applies edits:
 * replace a key's value, drop it, append an unknown key or append a known key
 * a second time ("+key"). Special payloads are raw bytes or built by a
 * function. Every payload is copied into a buffer of exactly its length, so
 * valgrind and ASan see any read past the end.
 */
#include <inttypes.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define NOW INT64_C(1700000000000)
#define LATE INT64_C(86400000) /* allowed_lateness = 24h */
#define SLACK INT64_C(300000)  /* the contract's 5 min into the future */

enum {
        T_END = 0,
        T_DROP, /* remove the key from the base message */
        T_STR,  /* s */
        T_REP,  /* n copies of s[0] */
        T_UINT, /* u */
        T_INT,  /* i, packed as the smallest msgpack int */
        T_F64,  /* d */
        T_NIL,
        T_TRUE,
        T_BIN,  /* s as bin 8 */
        T_ARR,  /* empty array */
        T_MAP,  /* sub, a T_END-terminated list */
        T_RAW,  /* n raw bytes of s as the value */
};

/* A key that starts with '+' is appended even when the base has it (a
 * duplicate); a key that starts with '#' is packed as the integer after it. */
typedef struct Field {
        const char *key;
        int t;
        const char *s;
        size_t n;
        uint64_t u;
        int64_t i;
        double d;
        const struct Field *sub;
} Field;

#define F(...) ((const Field[]){__VA_ARGS__, {0}})
#define S(k, v) {.key = (k), .t = T_STR, .s = (v)}
#define U(k, v) {.key = (k), .t = T_UINT, .u = (v)}
#define I(k, v) {.key = (k), .t = T_INT, .i = (v)}
#define D(k, v) {.key = (k), .t = T_F64, .d = (v)}
#define NIL(k) {.key = (k), .t = T_NIL}
#define DROP(k) {.key = (k), .t = T_DROP}
#define ARR(k) {.key = (k), .t = T_ARR}
#define TRUE_(k) {.key = (k), .t = T_TRUE}
#define REP(k, c, count) {.key = (k), .t = T_REP, .s = (c), .n = (count)}
#define BIN(k, v) {.key = (k), .t = T_BIN, .s = (v)}
#define RAWV(k, lit) {.key = (k), .t = T_RAW, .s = (lit), .n = sizeof(lit) - 1}
#define MAP(k, ...) {.key = (k), .t = T_MAP, .sub = F(__VA_ARGS__)}
#define EMPTY_MAP(k) {.key = (k), .t = T_MAP, .sub = (const Field[]){{0}}}

typedef const char *(*CheckFn)(const Event *ev);

typedef struct {
        const char *clause; /* the contract clause the row checks */
        const char *name;
        EventKind kind;
        const Field *edits;
        const char *raw; /* payload as raw bytes instead of base + edits */
        size_t rawlen;
        void (*build)(msgpack_packer *pk);
        int trunc;         /* drop this many bytes from the end */
        const char *trail; /* append these bytes (NUL-terminated) */
        int want;
        const char *field; /* expected diag->field; NULL: not checked, "-": must be NULL */
        const char *id;    /* expected ev->id; NULL: not checked, "-": must be empty */
        CheckFn check;     /* extra checks of an accepted event */
} Row;

#define RAW(lit) .raw = (lit), .rawlen = sizeof(lit) - 1

static const Field base_feedback[] = {
        S("id", "fb-1"), I("ts", NOW), U("score", 4), {0}};
static const Field base_complaint[] = {S("id", "c-1"),
                                       I("ts", NOW),
                                       S("complaint", "C-42"),
                                       S("status", "opened"),
                                       {0}};
static const Field base_ticket[] = {
        S("id", "t-1"), I("ts", NOW), S("ticket", "T-7"), S("status", "opened"), {0}};

static const Field *base_of(EventKind k) {
        return k == EVENT_FEEDBACK ? base_feedback : k == EVENT_COMPLAINT ? base_complaint : base_ticket;
}

/* ---- payload building ---- */

static void pack_key(msgpack_packer *pk, const char *key) {
        if (key[0] == '#') {
                msgpack_pack_int64(pk, strtoll(key + 1, NULL, 10));
                return;
        }
        if (key[0] == '+')
                key++;
        msgpack_pack_str(pk, strlen(key));
        msgpack_pack_str_body(pk, key, strlen(key));
}

static size_t count_fields(const Field *f) {
        size_t n = 0;
        while (f && f[n].key)
                n++;
        return n;
}

static void pack_value(msgpack_packer *pk, const Field *f) {
        switch (f->t) {
        case T_STR:
                msgpack_pack_str(pk, strlen(f->s));
                msgpack_pack_str_body(pk, f->s, strlen(f->s));
                break;
        case T_REP: {
                char *b = malloc(f->n + 1);
                memset(b, f->s[0], f->n);
                msgpack_pack_str(pk, f->n);
                msgpack_pack_str_body(pk, b, f->n);
                free(b);
                break;
        }
        case T_UINT:
                msgpack_pack_uint64(pk, f->u);
                break;
        case T_INT:
                msgpack_pack_int64(pk, f->i);
                break;
        case T_F64:
                msgpack_pack_double(pk, f->d);
                break;
        case T_NIL:
                msgpack_pack_nil(pk);
                break;
        case T_TRUE:
                msgpack_pack_true(pk);
                break;
        case T_BIN:
                msgpack_pack_bin(pk, strlen(f->s));
                msgpack_pack_bin_body(pk, f->s, strlen(f->s));
                break;
        case T_ARR:
                msgpack_pack_array(pk, 0);
                break;
        case T_MAP:
                msgpack_pack_map(pk, count_fields(f->sub));
                for (const Field *s = f->sub; s->key; s++) {
                        pack_key(pk, s->key);
                        pack_value(pk, s);
                }
                break;
        case T_RAW:
                msgpack_sbuffer_write(pk->data, f->s, f->n);
                break;
        default:
                abort();
        }
}

static const Field *find_edit(const Field *edits, const char *key) {
        for (const Field *e = edits; e && e->key; e++)
                if (strcmp(e->key, key) == 0)
                        return e;
        return NULL;
}

static bool in_base(const Field *base, const char *key) {
        for (const Field *b = base; b->key; b++)
                if (strcmp(b->key, key) == 0)
                        return true;
        return false;
}

static void pack_message(msgpack_packer *pk, const Field *base, const Field *edits) {
        const Field *out[64];
        size_t n = 0;

        for (const Field *b = base; b->key; b++) {
                const Field *e = find_edit(edits, b->key);
                if (!e)
                        out[n++] = b;
                else if (e->t != T_DROP)
                        out[n++] = e;
        }
        for (const Field *e = edits; e && e->key; e++)
                if (e->t != T_DROP && (e->key[0] == '+' || !in_base(base, e->key)))
                        out[n++] = e;

        msgpack_pack_map(pk, n);
        for (size_t i = 0; i < n; i++) {
                pack_key(pk, out[i]->key);
                pack_value(pk, out[i]);
        }
}

/* Returns a malloc'ed buffer of exactly *len bytes (at least 1 allocated). */
static char *row_payload(const Row *r, size_t *len) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        char *p;

        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (r->raw) {
                if (r->rawlen) /* msgpack_sbuffer_write memcpy()s to NULL when empty */
                        msgpack_sbuffer_write(&sb, r->raw, r->rawlen);
        } else if (r->build)
                r->build(&pk);
        else
                pack_message(&pk, base_of(r->kind), r->edits);
        if (r->trail)
                msgpack_sbuffer_write(&sb, r->trail, strlen(r->trail));
        *len = sb.size - (size_t)r->trunc;
        p = malloc(*len ? *len : 1);
        if (*len)
                memcpy(p, sb.data, *len);
        msgpack_sbuffer_destroy(&sb);
        return p;
}

/* One value of every msgpack type (29 in an array16), for the unknown-key
 * row and the fuzz message: the field scan must parse them all. */
#define ZOO                                                          \
        "\xdc\x00\x1d"                                               \
        "\xca\x3f\x80\x00\x00" /* float32 */                         \
        "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00" /* float64 */         \
        "\xd3\xff\xff\xff\xff\xff\xff\xff\xff" /* int64 */           \
        "\xcf\x00\x00\x00\x00\x00\x00\x00\x01" /* uint64 */          \
        "\xc5\x00\x02" "ab" /* bin16 */                              \
        "\xd9\x03xyz" /* str8 */                                     \
        "\xde\x00\x01\xa1k\xc0" /* map16 */                          \
        "\xc7\x02\x05\x00\x00" /* ext8 */                            \
        "\xd6\xff\x00\x00\x00\x01" /* fixext4: timestamp32 */        \
        "\xc8\x00\x01\x07\x00" /* ext16 */                           \
        "\xd8\x01" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" /* fixext16 */ \
        "\xd0\x80" /* int8 */                                        \
        "\xd1\x80\x00" /* int16 */                                   \
        "\xd2\x80\x00\x00\x00" /* int32 */                           \
        "\xcc\xff" /* uint8 */                                       \
        "\xcd\xff\xff" /* uint16 */                                  \
        "\xce\xff\xff\xff\xff" /* uint32 */                          \
        "\xc4\x01z" /* bin8 */                                       \
        "\xc6\x00\x00\x00\x01z" /* bin32 */                          \
        "\xda\x00\x01z" /* str16 */                                  \
        "\xdb\x00\x00\x00\x01z" /* str32 */                          \
        "\xdc\x00\x01\xc3" /* array16 */                             \
        "\xdf\x00\x00\x00\x01\xa1k\xc2" /* map32 */                  \
        "\xc9\x00\x00\x00\x01\x07\x00" /* ext32 */                   \
        "\xd4\x01\x00" /* fixext1 */                                 \
        "\xd5\x01\x00\x00" /* fixext2 */                             \
        "\xd7\x01" "\0\0\0\0\0\0\0\0" /* fixext8 */                  \
        "\xe0" /* negative fixint */                                 \
        "\x7f" /* positive fixint */

/* ---- special payloads ---- */

static void build_nested(msgpack_packer *pk, int depth) {
        /* {"id":..,"ts":..,"score":4,"x":{"x":{... depth maps ...}}} */
        msgpack_pack_map(pk, 4);
        pack_key(pk, "id");
        pack_value(pk, &(Field)S("", "fb-1"));
        pack_key(pk, "ts");
        msgpack_pack_int64(pk, NOW);
        pack_key(pk, "score");
        msgpack_pack_uint8(pk, 4);
        pack_key(pk, "x");
        for (int i = 0; i < depth - 1; i++) {
                msgpack_pack_map(pk, 1);
                pack_key(pk, "x");
        }
        msgpack_pack_map(pk, 0);
}

static void build_nested_100(msgpack_packer *pk) {
        build_nested(pk, 100);
}

static void build_nested_20(msgpack_packer *pk) {
        build_nested(pk, 20);
}

/* msgpack-c's parser holds 32 open containers: the top-level map and 31. */
static void build_nested_31(msgpack_packer *pk) {
        build_nested(pk, 31);
}

static void build_nested_32(msgpack_packer *pk) {
        build_nested(pk, 32);
}

static void build_array_payload(msgpack_packer *pk) {
        msgpack_pack_array(pk, 2);
        pack_key(pk, "id");
        pack_key(pk, "fb-1");
}

static void build_int_payload(msgpack_packer *pk) {
        msgpack_pack_int64(pk, 42);
}

static void build_str_payload(msgpack_packer *pk) {
        pack_key(pk, "feedback");
}

/* Keys that are not strings: an array key and a map key before a valid id. */
static void build_array_key(msgpack_packer *pk) {
        msgpack_pack_map(pk, 4);
        pack_key(pk, "id");
        pack_key(pk, "fb-1");
        pack_key(pk, "ts");
        msgpack_pack_int64(pk, NOW);
        pack_key(pk, "score");
        msgpack_pack_uint8(pk, 4);
        msgpack_pack_array(pk, 1);
        pack_key(pk, "id");
        msgpack_pack_true(pk);
}

/* ---- checks of accepted events ---- */

#define EXPECT(c)                  \
        do {                       \
                if (!(c))          \
                        return #c; \
        } while (0)

static bool sl(Slice s, const char *lit) {
        return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static bool sl_rep(Slice s, char c, size_t n) {
        if (s.len != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s.ptr[i] != c)
                        return false;
        return true;
}

static const char *chk_feedback_min(const Event *ev) {
        EXPECT(ev->kind == EVENT_FEEDBACK);
        EXPECT(ev->v == 1);
        EXPECT(sl(ev->id, "fb-1"));
        EXPECT(ev->ts == NOW);
        EXPECT(ev->score == 4);
        EXPECT(ev->scale == 5);
        EXPECT(ev->rater_mask == 0);
        EXPECT(!ev->has_nps);
        EXPECT(ev->team.len == 0 && ev->agent.len == 0 && ev->channel.len == 0);
        EXPECT(ev->customer.len == 0 && ev->ticket.len == 0);
        return NULL;
}

static const char *chk_feedback_full(const Event *ev) {
        EXPECT(ev->kind == EVENT_FEEDBACK);
        EXPECT(ev->v == 1);
        EXPECT(sl(ev->id, "fb-1"));
        EXPECT(ev->ts == NOW - 1000);
        EXPECT(sl(ev->team, "billing"));
        EXPECT(sl(ev->agent, "alice"));
        EXPECT(sl(ev->channel, "chat"));
        EXPECT(sl(ev->customer, "cust-9"));
        EXPECT(sl(ev->ticket, "T-3"));
        EXPECT(ev->score == 8);
        EXPECT(ev->scale == 10);
        EXPECT(ev->rater_mask == ((1u << RATER_RELIABILITY) | (1u << RATER_EMPATHY) | (1u << RATER_RESPONSIVENESS)));
        EXPECT(ev->rater[RATER_RELIABILITY] == 9);
        EXPECT(ev->rater[RATER_EMPATHY] == 10);
        EXPECT(ev->rater[RATER_RESPONSIVENESS] == 1);
        EXPECT(ev->has_nps && ev->nps == 7);
        return NULL;
}

static const char *chk_rater_all(const Event *ev) {
        EXPECT(ev->rater_mask == 0x1f);
        for (int d = 0; d < _RATER_DIM_MAX; d++)
                EXPECT(ev->rater[d] == (uint32_t)d + 1);
        return NULL;
}

static const char *chk_rater_none(const Event *ev) {
        EXPECT(ev->rater_mask == 0);
        return NULL;
}

static const char *chk_rater_nil_dim(const Event *ev) {
        EXPECT(ev->rater_mask == (1u << RATER_TANGIBLES));
        EXPECT(ev->rater[RATER_TANGIBLES] == 2);
        return NULL;
}

static const char *chk_rater_assurance_2(const Event *ev) {
        EXPECT(ev->rater_mask == (1u << RATER_ASSURANCE));
        EXPECT(ev->rater[RATER_ASSURANCE] == 2);
        return NULL;
}

static const char *chk_rater_late_scale(const Event *ev) {
        EXPECT(ev->scale == 10);
        EXPECT(ev->rater_mask == ((1u << RATER_RELIABILITY) | (1u << RATER_EMPATHY)));
        EXPECT(ev->rater[RATER_RELIABILITY] == 8);
        EXPECT(ev->rater[RATER_EMPATHY] == 10);
        return NULL;
}

static const char *chk_scale_2(const Event *ev) {
        EXPECT(ev->scale == 2 && ev->score == 2);
        return NULL;
}

static const char *chk_scale_100(const Event *ev) {
        EXPECT(ev->scale == 100 && ev->score == 100);
        return NULL;
}

static const char *chk_score_5(const Event *ev) {
        EXPECT(ev->scale == 5 && ev->score == 5);
        return NULL;
}

static const char *chk_score_1(const Event *ev) {
        EXPECT(ev->score == 1);
        return NULL;
}

static const char *chk_nps_0(const Event *ev) {
        EXPECT(ev->has_nps && ev->nps == 0);
        return NULL;
}

static const char *chk_nps_10(const Event *ev) {
        EXPECT(ev->has_nps && ev->nps == 10);
        return NULL;
}

static const char *chk_no_nps(const Event *ev) {
        EXPECT(!ev->has_nps);
        return NULL;
}

static const char *chk_v1(const Event *ev) {
        EXPECT(ev->v == 1);
        return NULL;
}

static const char *chk_ts_lo(const Event *ev) {
        EXPECT(ev->ts == NOW - LATE);
        return NULL;
}

static const char *chk_ts_hi(const Event *ev) {
        EXPECT(ev->ts == NOW + SLACK);
        return NULL;
}

static const char *chk_no_team(const Event *ev) {
        EXPECT(ev->team.len == 0);
        EXPECT(ev->customer.len == 0);
        return NULL;
}

static const char *chk_max_lengths(const Event *ev) {
        EXPECT(sl_rep(ev->id, 'i', 128));
        EXPECT(sl_rep(ev->team, 't', 64));
        EXPECT(sl_rep(ev->agent, 'a', 64));
        EXPECT(sl_rep(ev->channel, 'c', 32));
        EXPECT(sl_rep(ev->customer, 'u', 128));
        EXPECT(sl_rep(ev->ticket, 'k', 128));
        return NULL;
}

static const char *chk_one_byte(const Event *ev) {
        EXPECT(sl(ev->id, "x"));
        EXPECT(sl(ev->team, "t"));
        return NULL;
}

static const char *chk_complaint_opened(const Event *ev) {
        EXPECT(ev->kind == EVENT_COMPLAINT);
        EXPECT(sl(ev->id, "c-1"));
        EXPECT(sl(ev->complaint, "C-42"));
        EXPECT(ev->complaint_status == COMPLAINT_OPENED);
        EXPECT(ev->severity == SEVERITY_MEDIUM);
        EXPECT(ev->outcome == OUTCOME_NONE);
        EXPECT(ev->category.len == 0);
        return NULL;
}

static const char *chk_complaint_full(const Event *ev) {
        EXPECT(ev->complaint_status == COMPLAINT_RESOLVED);
        EXPECT(ev->severity == SEVERITY_CRITICAL);
        EXPECT(sl(ev->category, "billing error"));
        EXPECT(ev->outcome == OUTCOME_SOMEWHAT_DISSATISFIED);
        EXPECT(sl(ev->customer, "cust-1"));
        return NULL;
}

static const char *chk_outcome_very(const Event *ev) {
        EXPECT(ev->complaint_status == COMPLAINT_RESOLVED);
        EXPECT(ev->outcome == OUTCOME_VERY_SATISFIED);
        return NULL;
}

static const char *chk_outcome_dissatisfied(const Event *ev) {
        EXPECT(ev->outcome == OUTCOME_DISSATISFIED);
        return NULL;
}

static const char *chk_outcome_basically(const Event *ev) {
        EXPECT(ev->outcome == OUTCOME_BASICALLY_SATISFIED);
        return NULL;
}

static const char *chk_outcome_satisfied(const Event *ev) {
        EXPECT(ev->outcome == OUTCOME_SATISFIED);
        return NULL;
}

static const char *chk_outcome_none_opened(const Event *ev) {
        EXPECT(ev->complaint_status == COMPLAINT_OPENED);
        EXPECT(ev->outcome == OUTCOME_NONE);
        return NULL;
}

static const char *chk_sev_low(const Event *ev) {
        EXPECT(ev->severity == SEVERITY_LOW);
        return NULL;
}

static const char *chk_sev_high(const Event *ev) {
        EXPECT(ev->severity == SEVERITY_HIGH);
        return NULL;
}

static const char *chk_sev_medium(const Event *ev) {
        EXPECT(ev->severity == SEVERITY_MEDIUM);
        return NULL;
}

static const char *chk_ticket_opened(const Event *ev) {
        EXPECT(ev->kind == EVENT_TICKET);
        EXPECT(sl(ev->id, "t-1"));
        EXPECT(sl(ev->ticket, "T-7"));
        EXPECT(ev->ticket_status == TICKET_OPENED);
        EXPECT(ev->priority == PRIORITY_NORMAL);
        EXPECT(!ev->has_priority);
        return NULL;
}

static const char *chk_ticket_responded(const Event *ev) {
        EXPECT(ev->ticket_status == TICKET_RESPONDED);
        return NULL;
}

static const char *chk_ticket_resolved(const Event *ev) {
        EXPECT(ev->ticket_status == TICKET_RESOLVED);
        return NULL;
}

static const char *chk_ticket_reopened(const Event *ev) {
        EXPECT(ev->ticket_status == TICKET_REOPENED);
        return NULL;
}

static const char *chk_prio_urgent(const Event *ev) {
        EXPECT(ev->priority == PRIORITY_URGENT && ev->has_priority);
        return NULL;
}

static const char *chk_prio_low(const Event *ev) {
        EXPECT(ev->priority == PRIORITY_LOW && ev->has_priority);
        return NULL;
}

static const char *chk_prio_high(const Event *ev) {
        EXPECT(ev->priority == PRIORITY_HIGH && ev->has_priority);
        return NULL;
}

static const char *chk_prio_normal_explicit(const Event *ev) {
        EXPECT(ev->priority == PRIORITY_NORMAL && ev->has_priority);
        return NULL;
}

static const char *chk_prio_nil(const Event *ev) {
        EXPECT(ev->priority == PRIORITY_NORMAL && !ev->has_priority);
        return NULL;
}

/* ---- the table ---- */

#define FB EVENT_FEEDBACK
#define CO EVENT_COMPLAINT
#define TI EVENT_TICKET

static const Row rows[] = {
        /* 2.1 Payload: one msgpack map. Unreadable bytes are malformed. */
        {"2.1 payload", "empty payload", FB, RAW(""), .want = PROTO_E_MALFORMED, .field = "-", .id = "-"},
        {"2.1 payload", "truncated map (3 pairs announced, 1 given)", FB, RAW("\x83\xa2id\xa1" "a"),
         .want = PROTO_E_MALFORMED, .field = "-", .id = "-"},
        {"2.1 payload", "truncated: last byte of a valid message missing", FB, .trunc = 1, .want = PROTO_E_MALFORMED,
         .field = "-"},
        {"2.1 payload", "truncated string body", FB, RAW("\x81\xa2id\xa4" "ab"), .want = PROTO_E_MALFORMED},
        {"2.1 payload", "trailing byte after a valid map", FB, .trail = "\xc0", .want = PROTO_E_MALFORMED,
         .field = "-"},
        {"2.1 payload", "a second map after a valid map", FB, .trail = "\x80", .want = PROTO_E_MALFORMED},
        {"2.1 payload", "invalid byte 0xc1 alone", FB, RAW("\xc1"), .want = PROTO_E_MALFORMED, .field = "-"},
        {"2.1 payload", "invalid byte 0xc1 as a value", FB, RAW("\x81\xa1x\xc1"), .want = PROTO_E_MALFORMED},
        {"2.1 payload", "invalid byte 0xc1 as a key", FB, RAW("\x81\xc1\x01"), .want = PROTO_E_MALFORMED},
        {"2.1 payload", "array32 header claiming 0xffffffff elements, no data", FB, RAW("\xdd\xff\xff\xff\xff"),
         .want = PROTO_E_MALFORMED, .field = "-"},
        {"2.1 payload", "map32 header claiming 0xffffffff pairs, no data", FB, RAW("\xdf\xff\xff\xff\xff"),
         .want = PROTO_E_MALFORMED, .field = "-"},
        {"2.1 payload", "value: array32 claiming 0xffffffff elements", FB, RAW("\x81\xa1x\xdd\xff\xff\xff\xff"),
         .want = PROTO_E_MALFORMED},
        {"2.1 payload", "str32 header claiming 4 GiB, no data", FB, RAW("\x81\xa1x\xdb\xff\xff\xff\xff"),
         .want = PROTO_E_MALFORMED},
        {"2.1 payload", "value: array16 claiming 65535 elements, 3 given", FB,
         .edits = F(RAWV("x", "\xdc\xff\xff\x01\x02\x03")), .want = PROTO_E_MALFORMED, .field = "-"},
        {"2.1 payload", "value: map16 claiming 2 pairs, 1 given, message ends", FB,
         RAW("\x81\xa1x\xde\x00\x02\xa1k\xc0"), .want = PROTO_E_MALFORMED},
        {"2.1 payload", "value: ext8 longer than the message", FB, RAW("\x81\xa1x\xc7\x09\x01\x00"),
         .want = PROTO_E_MALFORMED},
        {"2.1 payload", "value: float64 cut short", FB, RAW("\x81\xa1x\xcb\x00\x00"), .want = PROTO_E_MALFORMED},
        {"2.1 payload", "every msgpack type under an unknown key is ignored", FB, .edits = F(RAWV("zoo", ZOO)),
         .want = PROTO_OK, .check = chk_feedback_min},
        {"2.1 payload", "map nested 100 levels deep", FB, .build = build_nested_100, .want = PROTO_E_MALFORMED,
         .field = "-"},
        {"2.1 payload", "32 containers deep (msgpack-c's limit) under an unknown key is ignored", FB,
         .build = build_nested_31, .want = PROTO_OK},
        {"2.1 payload", "33 containers deep", FB, .build = build_nested_32, .want = PROTO_E_MALFORMED,
         .field = "-"},
        {"2.1 payload", "map nested 20 levels deep under an unknown key is ignored", FB, .build = build_nested_20,
         .want = PROTO_OK},
        {"2.1 payload", "duplicate known key id: no id named", FB, .edits = F(S("+id", "fb-2")),
         .want = PROTO_E_MALFORMED, .field = "id", .id = "-"},
        {"2.1 payload", "duplicate known key score (same value)", FB, .edits = F(U("+score", 4)),
         .want = PROTO_E_MALFORMED, .field = "score", .id = "fb-1"},
        {"2.1 payload", "duplicate known key ts, one nil", FB, .edits = F(NIL("+ts")), .want = PROTO_E_MALFORMED,
         .field = "ts"},
        {"2.1 payload", "duplicate unknown key is ignored", FB, .edits = F(U("zz", 1), NIL("+zz")),
         .want = PROTO_OK},
        {"2.1 payload", "duplicate rater dimension", FB,
         .edits = F(RAWV("rater", "\x82\xabreliability\x01\xabreliability\x02")), .want = PROTO_E_MALFORMED,
         .field = "reliability", .id = "fb-1"},

        /* 2.1 Payload: a map, not another msgpack type. */
        {"2.1 payload", "array payload", FB, .build = build_array_payload, .want = PROTO_E_NOT_A_MAP, .field = "-",
         .id = "-"},
        {"2.1 payload", "empty array payload", FB, RAW("\x90"), .want = PROTO_E_NOT_A_MAP},
        {"2.1 payload", "int payload", FB, .build = build_int_payload, .want = PROTO_E_NOT_A_MAP, .field = "-"},
        {"2.1 payload", "string payload", CO, .build = build_str_payload, .want = PROTO_E_NOT_A_MAP, .field = "-"},
        {"2.1 payload", "nil payload", TI, RAW("\xc0"), .want = PROTO_E_NOT_A_MAP},

        /* 2.1 Payload: string keys. */
        {"2.1 payload", "integer key", FB, .edits = F(U("#7", 1)), .want = PROTO_E_WRONG_TYPE,
         .field = "(key)"},
        {"2.1 payload", "array key", FB, .build = build_array_key, .want = PROTO_E_WRONG_TYPE, .field = "(key)",
         .id = "fb-1"},
        {"2.1 payload", "integer key before the id still names the event", FB,
         .edits = F(DROP("id"), U("#7", 1), S("+id", "fb-1")), .want = PROTO_E_WRONG_TYPE, .field = "(key)",
         .id = "fb-1"},
        {"2.1 payload", "bin key", FB, RAW("\x81\xc4\x02id\xa1x"), .want = PROTO_E_WRONG_TYPE, .field = "(key)"},
        {"2.1 payload", "unknown keys are ignored", FB,
         .edits = F(S("note", "hello"), MAP("extra", ARR("#1")), D("ID", 1.5)),
         .want = PROTO_OK, .check = chk_feedback_min},
        {"2.1 payload", "empty map", FB, RAW("\x80"), .want = PROTO_E_MISSING_FIELD, .field = "id"},
        {"2.1 payload", "keys are case-sensitive: ID is not id", FB, .edits = F(DROP("id"), S("ID", "x")),
         .want = PROTO_E_MISSING_FIELD, .field = "id"},
        {"2.1 payload", "other kinds' keys are unknown keys", FB,
         .edits = F(S("status", "bogus"), U("priority", 9), ARR("outcome")),
         .want = PROTO_OK, .check = chk_feedback_min},

        /* 2.1 v */
        {"2.1 v", "v absent defaults to 1", FB, .want = PROTO_OK, .check = chk_feedback_min},
        {"2.1 v", "v = 1 explicit", FB, .edits = F(U("v", 1)), .want = PROTO_OK, .check = chk_v1},
        {"2.1 v", "v = nil is absent", FB, .edits = F(NIL("v")), .want = PROTO_OK, .check = chk_v1},
        {"2.1 v", "v = 2", FB, .edits = F(U("v", 2)), .want = PROTO_E_BAD_VERSION, .field = "v",
         .id = "fb-1"},
        {"2.1 v", "v = 0", FB, .edits = F(U("v", 0)), .want = PROTO_E_BAD_VERSION, .field = "v"},
        {"2.1 v", "v = -1", FB, .edits = F(I("v", -1)), .want = PROTO_E_BAD_VERSION, .field = "v"},
        {"2.1 v", "v = 2^64-1", FB, .edits = F(U("v", UINT64_MAX)), .want = PROTO_E_BAD_VERSION},
        {"2.1 v", "v = \"1\" is a wrong type", FB, .edits = F(S("v", "1")), .want = PROTO_E_WRONG_TYPE,
         .field = "v", .id = "fb-1"},
        {"2.1 v", "bad_version with an over-long id names no id", FB,
         .edits = F(U("v", 2), REP("id", "i", 129)), .want = PROTO_E_BAD_VERSION, .field = "v", .id = "-"},
        {"2.1 v", "v = 1.0 is a wrong type", FB, .edits = F(D("v", 1.0)), .want = PROTO_E_WRONG_TYPE,
         .field = "v"},
        {"2.1 v", "bad_version is decided before missing fields", TI,
         .edits = F(U("v", 2), DROP("id"), DROP("ticket")), .want = PROTO_E_BAD_VERSION,
         .field = "v", .id = "-"},

        /* 2.1 id */
        {"2.1 id", "id missing", FB, .edits = F(DROP("id")), .want = PROTO_E_MISSING_FIELD, .field = "id",
         .id = "-"},
        {"2.1 id", "id nil is missing", FB, .edits = F(NIL("id")), .want = PROTO_E_MISSING_FIELD, .field = "id"},
        {"2.1 id", "id as int", FB, .edits = F(U("id", 17)), .want = PROTO_E_WRONG_TYPE, .field = "id",
         .id = "-"},
        {"2.1 id", "id as bin", FB, .edits = F(BIN("id", "fb-1")), .want = PROTO_E_WRONG_TYPE, .field = "id"},
        {"2.1 id", "id empty", FB, .edits = F(S("id", "")), .want = PROTO_E_OUT_OF_RANGE, .field = "id",
         .id = "-"},
        {"2.1 id", "id 129 bytes", FB, .edits = F(REP("id", "i", 129)), .want = PROTO_E_TOO_LONG, .field = "id",
         .id = "-"},
        {"2.1 id", "id is decided before ts", FB, .edits = F(DROP("id"), DROP("ts")),
         .want = PROTO_E_MISSING_FIELD, .field = "id"},

        /* 2.1 ts */
        {"2.1 ts", "ts missing", FB, .edits = F(DROP("ts")), .want = PROTO_E_MISSING_FIELD, .field = "ts",
         .id = "fb-1"},
        {"2.1 ts", "ts nil is missing", CO, .edits = F(NIL("ts")), .want = PROTO_E_MISSING_FIELD, .field = "ts"},
        {"2.1 ts", "ts as float", FB, .edits = F(D("ts", 1700000000000.0)), .want = PROTO_E_WRONG_TYPE,
         .field = "ts", .id = "fb-1"},
        {"2.1 ts", "ts as string", TI, .edits = F(S("ts", "1700000000000")), .want = PROTO_E_WRONG_TYPE,
         .field = "ts"},
        {"2.1 ts", "ts = now - allowed_lateness is accepted", FB, .edits = F(I("ts", NOW - LATE)),
         .want = PROTO_OK, .check = chk_ts_lo},
        {"2.1 ts", "ts = now - allowed_lateness - 1ms is too_old", FB, .edits = F(I("ts", NOW - LATE - 1)),
         .want = PROTO_E_TOO_OLD, .field = "ts", .id = "fb-1"},
        {"2.1 ts", "ts = now + 5min is accepted", CO, .edits = F(I("ts", NOW + SLACK)), .want = PROTO_OK,
         .check = chk_ts_hi},
        {"2.1 ts", "ts = now + 5min + 1ms is in_future", TI, .edits = F(I("ts", NOW + SLACK + 1)),
         .want = PROTO_E_IN_FUTURE, .field = "ts", .id = "t-1"},
        {"2.1 ts", "ts = 0 is too_old", FB, .edits = F(I("ts", 0)), .want = PROTO_E_TOO_OLD, .field = "ts"},
        {"2.1 ts", "ts negative is too_old", FB, .edits = F(I("ts", -5)), .want = PROTO_E_TOO_OLD,
         .field = "ts"},
        {"2.1 ts", "ts INT64_MIN is too_old", FB, .edits = F(I("ts", INT64_MIN)), .want = PROTO_E_TOO_OLD},
        {"2.1 ts", "ts 2^64-1 is in_future", FB, .edits = F(U("ts", UINT64_MAX)),
         .want = PROTO_E_IN_FUTURE, .field = "ts"},
        {"2.1 ts", "ts 2^64-1 is decided after the kind's fields", FB,
         .edits = F(U("ts", UINT64_MAX), U("score", 0)), .want = PROTO_E_OUT_OF_RANGE, .field = "score"},
        {"2.1 ts", "ts in seconds, not ms, is too_old", FB, .edits = F(I("ts", NOW / 1000)),
         .want = PROTO_E_TOO_OLD},
        {"2.1 ts", "field errors are decided before time", FB,
         .edits = F(I("ts", 0), U("score", 0)), .want = PROTO_E_OUT_OF_RANGE,
         .field = "score"},

        /* 2.1 team, agent, channel, customer, ticket (optional common fields) */
        {"2.1 team", "all optional strings at their maximum length", FB,
         .edits = F(REP("id", "i", 128), REP("team", "t", 64), REP("agent", "a", 64),
                    REP("channel", "c", 32), REP("customer", "u", 128), REP("ticket", "k", 128)),
         .want = PROTO_OK, .check = chk_max_lengths},
        {"2.1 team", "one-byte strings", FB, .edits = F(S("id", "x"), S("team", "t")), .want = PROTO_OK,
         .check = chk_one_byte},
        {"2.1 team", "team 65 bytes", FB, .edits = F(REP("team", "t", 65)), .want = PROTO_E_TOO_LONG,
         .field = "team", .id = "fb-1"},
        {"2.1 team", "team empty", FB, .edits = F(S("team", "")), .want = PROTO_E_OUT_OF_RANGE, .field = "team"},
        {"2.1 team", "team as int", FB, .edits = F(U("team", 3)), .want = PROTO_E_WRONG_TYPE,
         .field = "team"},
        {"2.1 team", "team and customer nil are absent", FB, .edits = F(NIL("team"), NIL("customer")),
         .want = PROTO_OK, .check = chk_no_team},
        {"2.1 agent", "agent 65 bytes", CO, .edits = F(REP("agent", "a", 65)), .want = PROTO_E_TOO_LONG,
         .field = "agent"},
        {"2.1 agent", "agent as map", TI, .edits = F(MAP("agent", NIL("x"))),
         .want = PROTO_E_WRONG_TYPE, .field = "agent"},
        {"2.1 channel", "channel 33 bytes", FB, .edits = F(REP("channel", "c", 33)), .want = PROTO_E_TOO_LONG,
         .field = "channel"},
        {"2.1 customer", "customer 129 bytes", CO, .edits = F(REP("customer", "u", 129)),
         .want = PROTO_E_TOO_LONG, .field = "customer"},
        {"2.1 ticket", "ticket 129 bytes", TI, .edits = F(REP("ticket", "k", 129)), .want = PROTO_E_TOO_LONG,
         .field = "ticket"},
        {"2.1 ticket", "ticket missing on a ticket event", TI, .edits = F(DROP("ticket")),
         .want = PROTO_E_MISSING_FIELD, .field = "ticket", .id = "t-1"},
        {"2.1 ticket", "ticket nil on a ticket event is missing", TI, .edits = F(NIL("ticket")),
         .want = PROTO_E_MISSING_FIELD, .field = "ticket"},
        {"2.1 ticket", "ticket is optional on feedback", FB, .edits = F(DROP("ticket")), .want = PROTO_OK},
        {"2.1 ticket", "common fields are decided before kind fields", TI,
         .edits = F(DROP("ticket"), DROP("status")), .want = PROTO_E_MISSING_FIELD, .field = "ticket"},

        /* 2.1 feedback */
        {"2.1 feedback", "minimal feedback, scale default 5", FB, .want = PROTO_OK, .check = chk_feedback_min},
        {"2.1 feedback", "full feedback", FB,
         .edits = F(U("v", 1), I("ts", NOW - 1000), S("team", "billing"),
                    S("agent", "alice"), S("channel", "chat"), S("customer", "cust-9"),
                    S("ticket", "T-3"), U("score", 8), U("scale", 10),
                    {"rater", T_MAP,
                     .sub = F(U("reliability", 9), U("empathy", 10),
                              U("responsiveness", 1))},
                    U("nps", 7)),
         .want = PROTO_OK, .check = chk_feedback_full},
        {"2.1 score", "score missing", FB, .edits = F(DROP("score")), .want = PROTO_E_MISSING_FIELD,
         .field = "score", .id = "fb-1"},
        {"2.1 score", "score nil is missing", FB, .edits = F(NIL("score")), .want = PROTO_E_MISSING_FIELD,
         .field = "score"},
        {"2.1 score", "score as string", FB, .edits = F(S("score", "4")), .want = PROTO_E_WRONG_TYPE,
         .field = "score"},
        {"2.1 score", "score as float", FB, .edits = F(D("score", 4.0)), .want = PROTO_E_WRONG_TYPE,
         .field = "score"},
        {"2.1 score", "score as bool", FB, .edits = F(TRUE_("score")), .want = PROTO_E_WRONG_TYPE, .field = "score"},
        {"2.1 score", "score 0", FB, .edits = F(U("score", 0)), .want = PROTO_E_OUT_OF_RANGE,
         .field = "score", .id = "fb-1"},
        {"2.1 score", "score 1 (lowest)", FB, .edits = F(U("score", 1)), .want = PROTO_OK,
         .check = chk_score_1},
        {"2.1 score", "score 5 = default scale", FB, .edits = F(U("score", 5)), .want = PROTO_OK,
         .check = chk_score_5},
        {"2.1 score", "score 6 > default scale 5", FB, .edits = F(U("score", 6)),
         .want = PROTO_E_OUT_OF_RANGE, .field = "score"},
        {"2.1 score", "score 11 > scale 10", FB, .edits = F(U("score", 11), U("scale", 10)),
         .want = PROTO_E_OUT_OF_RANGE, .field = "score"},
        {"2.1 score", "score 2^32+1 does not wrap", FB, .edits = F(U("score", UINT64_C(0x100000001))),
         .want = PROTO_E_OUT_OF_RANGE, .field = "score"},
        {"2.1 score", "score negative", FB, .edits = F(I("score", -1)), .want = PROTO_E_OUT_OF_RANGE,
         .field = "score"},
        {"2.1 scale", "scale 1", FB, .edits = F(U("score", 1), U("scale", 1)),
         .want = PROTO_E_OUT_OF_RANGE, .field = "scale"},
        {"2.1 scale", "scale 0", FB, .edits = F(U("scale", 0)), .want = PROTO_E_OUT_OF_RANGE,
         .field = "scale"},
        {"2.1 scale", "scale 2 (lowest)", FB, .edits = F(U("score", 2), U("scale", 2)),
         .want = PROTO_OK, .check = chk_scale_2},
        {"2.1 scale", "scale 100 (highest), score 100", FB,
         .edits = F(U("score", 100), U("scale", 100)), .want = PROTO_OK,
         .check = chk_scale_100},
        {"2.1 scale", "scale 101", FB, .edits = F(U("scale", 101)), .want = PROTO_E_OUT_OF_RANGE,
         .field = "scale"},
        {"2.1 scale", "scale as string", FB, .edits = F(S("scale", "5")), .want = PROTO_E_WRONG_TYPE,
         .field = "scale"},
        {"2.1 scale", "scale nil defaults to 5", FB, .edits = F(NIL("scale")), .want = PROTO_OK,
         .check = chk_feedback_min},
        {"2.1 rater", "rater all five dimensions", FB,
         .edits = F({"rater", T_MAP,
                     .sub = F(U("reliability", 1), U("assurance", 2),
                              U("tangibles", 3), U("empathy", 4),
                              U("responsiveness", 5))}),
         .want = PROTO_OK, .check = chk_rater_all},
        {"2.1 rater", "rater empty map", FB, .edits = F(EMPTY_MAP("rater")), .want = PROTO_OK,
         .check = chk_rater_none},
        {"2.1 rater", "rater nil is absent", FB, .edits = F(NIL("rater")), .want = PROTO_OK,
         .check = chk_rater_none},
        {"2.1 rater", "rater unknown dimension ignored, nil dimension absent", FB,
         .edits = F({"rater", T_MAP,
                     .sub = F(U("speed", 99), NIL("empathy"), U("tangibles", 2))}),
         .want = PROTO_OK, .check = chk_rater_nil_dim},
        {"2.1 rater", "rater not a map (array)", FB, .edits = F(ARR("rater")), .want = PROTO_E_WRONG_TYPE,
         .field = "rater"},
        {"2.1 rater", "rater not a map (string)", FB, .edits = F(S("rater", "reliability")),
         .want = PROTO_E_WRONG_TYPE, .field = "rater"},
        {"2.1 rater", "rater with an integer key", FB, .edits = F(MAP("rater", U("#0", 3))),
         .want = PROTO_E_WRONG_TYPE, .field = "rater"},
        {"2.1 rater", "rater dimension 0", FB, .edits = F(MAP("rater", U("assurance", 0))),
         .want = PROTO_E_OUT_OF_RANGE, .field = "assurance", .id = "fb-1"},
        {"2.1 rater", "rater dimension above scale", FB,
         .edits = F(MAP("rater", U("reliability", 6))), .want = PROTO_E_OUT_OF_RANGE,
         .field = "reliability"},
        {"2.1 rater", "rater dimension negative", FB,
         .edits = F(MAP("rater", I("empathy", -3))), .want = PROTO_E_OUT_OF_RANGE,
         .field = "empathy"},
        {"2.1 rater", "rater dimension as string", FB,
         .edits = F(MAP("rater", S("tangibles", "3"))), .want = PROTO_E_WRONG_TYPE,
         .field = "tangibles"},
        {"2.1 rater", "rater dimension as nested map", FB,
         .edits = F(MAP("rater", MAP("responsiveness", U("x", 1)))),
         .want = PROTO_E_WRONG_TYPE, .field = "responsiveness"},
        /* Every nested map is read for dimensions until it turns out not
         * to be the value of rater: only that one's may count. */
        {"2.1 rater", "dimensions in maps before and after rater do not count", FB,
         .edits = F(MAP("x", U("reliability", 5), U("assurance", 5)), MAP("rater", U("assurance", 2)),
                    MAP("y", U("empathy", 1))),
         .want = PROTO_OK, .check = chk_rater_assurance_2},
        {"2.1 rater", "dimensions in a map inside rater do not count", FB,
         .edits = F(MAP("rater", MAP("z", U("reliability", 3), U("empathy", 1)), U("assurance", 2))),
         .want = PROTO_OK, .check = chk_rater_assurance_2},
        {"2.1 rater", "dimensions checked against a scale that comes after rater", FB,
         .edits = F(MAP("rater", U("reliability", 8), U("empathy", 10)), U("scale", 10)), .want = PROTO_OK,
         .check = chk_rater_late_scale},
        {"2.1 rater", "the first fault in order: a bad dimension before an integer key", FB,
         .edits = F(MAP("rater", U("reliability", 9), U("#0", 3))), .want = PROTO_E_OUT_OF_RANGE,
         .field = "reliability"},
        {"2.1 rater", "the first fault in order: an integer key before a bad dimension", FB,
         .edits = F(MAP("rater", U("assurance", 2), U("#0", 3), U("reliability", 9))),
         .want = PROTO_E_WRONG_TYPE, .field = "rater"},
        {"2.1 rater", "the first fault in order: a bad dimension before its repeat", FB,
         .edits = F(MAP("rater", U("tangibles", 0), U("tangibles", 2))), .want = PROTO_E_OUT_OF_RANGE,
         .field = "tangibles"},
        {"2.1 rater", "a dimension given twice, the first time nil, counts once", FB,
         .edits = F(MAP("rater", NIL("assurance"), U("assurance", 2))), .want = PROTO_OK,
         .check = chk_rater_assurance_2},
        {"2.1 nps", "nps 0", FB, .edits = F(U("nps", 0)), .want = PROTO_OK, .check = chk_nps_0},
        {"2.1 nps", "nps 10", FB, .edits = F(U("nps", 10)), .want = PROTO_OK, .check = chk_nps_10},
        {"2.1 nps", "nps nil is absent", FB, .edits = F(NIL("nps")), .want = PROTO_OK, .check = chk_no_nps},
        {"2.1 nps", "nps 11", FB, .edits = F(U("nps", 11)), .want = PROTO_E_OUT_OF_RANGE, .field = "nps"},
        {"2.1 nps", "nps negative", FB, .edits = F(I("nps", -1)), .want = PROTO_E_OUT_OF_RANGE,
         .field = "nps"},
        {"2.1 nps", "nps as float", FB, .edits = F(D("nps", 5.0)), .want = PROTO_E_WRONG_TYPE,
         .field = "nps"},

        /* 2.1 complaint */
        {"2.1 complaint", "minimal opened complaint, severity default medium", CO, .want = PROTO_OK,
         .check = chk_complaint_opened},
        {"2.1 complaint", "resolved complaint with all fields", CO,
         .edits = F(S("status", "resolved"), S("severity", "critical"),
                    S("category", "billing error"), S("outcome", "somewhat_dissatisfied"),
                    S("customer", "cust-1")),
         .want = PROTO_OK, .check = chk_complaint_full},
        {"2.1 complaint", "complaint missing", CO, .edits = F(DROP("complaint")), .want = PROTO_E_MISSING_FIELD,
         .field = "complaint", .id = "c-1"},
        {"2.1 complaint", "complaint empty", CO, .edits = F(S("complaint", "")), .want = PROTO_E_OUT_OF_RANGE,
         .field = "complaint"},
        {"2.1 complaint", "complaint 129 bytes", CO, .edits = F(REP("complaint", "c", 129)),
         .want = PROTO_E_TOO_LONG, .field = "complaint"},
        {"2.1 complaint", "complaint as int", CO, .edits = F(U("complaint", 42)),
         .want = PROTO_E_WRONG_TYPE, .field = "complaint"},
        {"2.1 status", "complaint status missing", CO, .edits = F(DROP("status")), .want = PROTO_E_MISSING_FIELD,
         .field = "status"},
        {"2.1 status", "complaint status unknown (a ticket status)", CO, .edits = F(S("status", "responded")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "status"},
        {"2.1 status", "complaint status is case-sensitive", CO, .edits = F(S("status", "Opened")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "status"},
        {"2.1 status", "complaint status as int", CO, .edits = F(U("status", 0)),
         .want = PROTO_E_WRONG_TYPE, .field = "status"},
        {"2.1 severity", "severity low", CO, .edits = F(S("severity", "low")), .want = PROTO_OK,
         .check = chk_sev_low},
        {"2.1 severity", "severity high", CO, .edits = F(S("severity", "high")), .want = PROTO_OK,
         .check = chk_sev_high},
        {"2.1 severity", "severity nil defaults to medium", CO, .edits = F(NIL("severity")), .want = PROTO_OK,
         .check = chk_sev_medium},
        {"2.1 severity", "severity unknown", CO, .edits = F(S("severity", "extreme")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "severity"},
        {"2.1 severity", "severity empty", CO, .edits = F(S("severity", "")), .want = PROTO_E_OUT_OF_RANGE,
         .field = "severity"},
        {"2.1 severity", "severity prefix of a value", CO, .edits = F(S("severity", "hig")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "severity"},
        {"2.1 severity", "severity as int", CO, .edits = F(U("severity", 2)), .want = PROTO_E_WRONG_TYPE,
         .field = "severity"},
        {"2.1 category", "category 65 bytes", CO, .edits = F(REP("category", "g", 65)),
         .want = PROTO_E_TOO_LONG, .field = "category"},
        {"2.1 outcome", "outcome missing on resolved", CO, .edits = F(S("status", "resolved")),
         .want = PROTO_E_MISSING_FIELD, .field = "outcome", .id = "c-1"},
        {"2.1 outcome", "outcome nil on resolved is missing", CO,
         .edits = F(S("status", "resolved"), NIL("outcome")), .want = PROTO_E_MISSING_FIELD,
         .field = "outcome"},
        {"2.1 outcome", "outcome unknown", CO, .edits = F(S("status", "resolved"), S("outcome", "happy")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "outcome"},
        {"2.1 outcome", "outcome as int", CO, .edits = F(S("status", "resolved"), U("outcome", 3)),
         .want = PROTO_E_WRONG_TYPE, .field = "outcome"},
        {"2.1 outcome", "outcome dissatisfied", CO,
         .edits = F(S("status", "resolved"), S("outcome", "dissatisfied")), .want = PROTO_OK,
         .check = chk_outcome_dissatisfied},
        {"2.1 outcome", "outcome basically_satisfied", CO,
         .edits = F(S("status", "resolved"), S("outcome", "basically_satisfied")), .want = PROTO_OK,
         .check = chk_outcome_basically},
        {"2.1 outcome", "outcome satisfied", CO,
         .edits = F(S("status", "resolved"), S("outcome", "satisfied")), .want = PROTO_OK,
         .check = chk_outcome_satisfied},
        {"2.1 outcome", "outcome very_satisfied", CO,
         .edits = F(S("status", "resolved"), S("outcome", "very_satisfied")), .want = PROTO_OK,
         .check = chk_outcome_very},
        {"2.1 outcome", "outcome on opened is ignored (PROTOCOL.md choice)", CO,
         .edits = F(S("outcome", "happy")), .want = PROTO_OK, .check = chk_outcome_none_opened},

        /* 2.1 ticket */
        {"2.1 ticket", "minimal opened ticket, priority default normal", TI, .want = PROTO_OK,
         .check = chk_ticket_opened},
        {"2.1 status", "ticket responded", TI, .edits = F(S("status", "responded")), .want = PROTO_OK,
         .check = chk_ticket_responded},
        {"2.1 status", "ticket resolved", TI, .edits = F(S("status", "resolved")), .want = PROTO_OK,
         .check = chk_ticket_resolved},
        {"2.1 status", "ticket reopened", TI, .edits = F(S("status", "reopened")), .want = PROTO_OK,
         .check = chk_ticket_reopened},
        {"2.1 status", "ticket status missing", TI, .edits = F(DROP("status")), .want = PROTO_E_MISSING_FIELD,
         .field = "status", .id = "t-1"},
        {"2.1 status", "ticket status unknown", TI, .edits = F(S("status", "closed")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "status"},
        {"2.1 status", "ticket status as bin", TI, .edits = F(BIN("status", "opened")), .want = PROTO_E_WRONG_TYPE,
         .field = "status"},
        {"2.1 priority", "priority urgent", TI, .edits = F(S("priority", "urgent")), .want = PROTO_OK,
         .check = chk_prio_urgent},
        {"2.1 priority", "priority low", TI, .edits = F(S("priority", "low")), .want = PROTO_OK,
         .check = chk_prio_low},
        {"2.1 priority", "priority high", TI, .edits = F(S("priority", "high")), .want = PROTO_OK,
         .check = chk_prio_high},
        {"2.1 priority", "priority normal explicit", TI, .edits = F(S("priority", "normal")), .want = PROTO_OK,
         .check = chk_prio_normal_explicit},
        {"2.1 priority", "priority nil is absent", TI, .edits = F(NIL("priority")), .want = PROTO_OK,
         .check = chk_prio_nil},
        {"2.1 priority", "priority unknown", TI, .edits = F(S("priority", "critical")),
         .want = PROTO_E_OUT_OF_RANGE, .field = "priority", .id = "t-1"},
        {"2.1 priority", "priority as int", TI, .edits = F(U("priority", 1)), .want = PROTO_E_WRONG_TYPE,
         .field = "priority"},
};

/* ---- runners ---- */

static bool slice_inside(Slice s, const char *p, size_t len) {
        return s.len == 0 || (s.ptr >= p && s.len <= len && s.ptr <= p + len - s.len);
}

static bool slices_inside(const Event *ev, const char *p, size_t len) {
        return slice_inside(ev->id, p, len) && slice_inside(ev->team, p, len) && slice_inside(ev->agent, p, len) &&
               slice_inside(ev->channel, p, len) && slice_inside(ev->customer, p, len) &&
               slice_inside(ev->ticket, p, len) && slice_inside(ev->complaint, p, len) &&
               slice_inside(ev->category, p, len);
}

static int run_rows(ProtoDecoder *d) {
        int failed = 0;

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                const Row *r = &rows[i];
                ProtoDiag diag = {.reason = _PROTO_E_MAX, .field = "unset"};
                Event ev;
                size_t len;
                char *p = row_payload(r, &len);
                int got = proto_decode(d, r->kind, p, len, NOW, LATE, &ev, &diag);
                const char *why = NULL;

                if (got != r->want)
                        why = "reason";
                else if ((int)diag.reason != got)
                        why = "diag->reason differs from the return value";
                else if (r->field && strcmp(r->field, "-") == 0 && diag.field)
                        why = "diag->field should be NULL";
                else if (r->field && strcmp(r->field, "-") != 0 && (!diag.field || strcmp(diag.field, r->field)))
                        why = "diag->field";
                else if (r->id && strcmp(r->id, "-") == 0 && ev.id.len)
                        why = "ev->id should be empty";
                else if (r->id && strcmp(r->id, "-") != 0 && !sl(ev.id, r->id))
                        why = "ev->id should name the event";
                else if (!slices_inside(&ev, p, len))
                        why = "a slice points outside the payload";
                else if (got == PROTO_OK && ev.kind != r->kind)
                        why = "ev->kind";
                else if (got == PROTO_OK && r->check)
                        why = r->check(&ev);

                if (why) {
                        printf("FAIL [%s] %s: %s: got %s (field %s, id '%.*s'), want %s (field %s)\n", r->clause,
                               r->name, why, proto_reason_name(got), diag.field ? diag.field : "NULL",
                               (int)ev.id.len, ev.id.ptr ? ev.id.ptr : "", proto_reason_name(r->want),
                               r->field ? r->field : "any");
                        failed++;
                }
                free(p);
        }
        printf("decode rows: %zu, failed: %d\n", sizeof(rows) / sizeof(rows[0]), failed);
        return failed;
}

typedef struct {
        const char *topic;
        int want;
        EventKind kind;
} TopicRow;

static const TopicRow topic_rows[] = {
        {"feedback", PROTO_OK, EVENT_FEEDBACK},
        {"complaint", PROTO_OK, EVENT_COMPLAINT},
        {"ticket", PROTO_OK, EVENT_TICKET},
        {"feedback.eu-west", PROTO_OK, EVENT_FEEDBACK},
        {"ticket.", PROTO_OK, EVENT_TICKET},
        {"complaint.x.y", PROTO_OK, EVENT_COMPLAINT},
        {"feedbackx", PROTO_E_UNKNOWN_TOPIC, 0},
        {"Feedback", PROTO_E_UNKNOWN_TOPIC, 0},
        {"", PROTO_E_UNKNOWN_TOPIC, 0},
        {"alert", PROTO_E_UNKNOWN_TOPIC, 0},
        {"feed", PROTO_E_UNKNOWN_TOPIC, 0},
        {"tickets", PROTO_E_UNKNOWN_TOPIC, 0},
        {" feedback", PROTO_E_UNKNOWN_TOPIC, 0},
        {"feedback ", PROTO_E_UNKNOWN_TOPIC, 0},
        {"feedback-eu", PROTO_E_UNKNOWN_TOPIC, 0},
        {".feedback", PROTO_E_UNKNOWN_TOPIC, 0},
};

static int run_topics(void) {
        int failed = 0;
        size_t n = sizeof(topic_rows) / sizeof(topic_rows[0]);

        for (size_t i = 0; i < n; i++) {
                const TopicRow *r = &topic_rows[i];
                size_t len = strlen(r->topic);
                char *p = malloc(len ? len : 1);
                EventKind k = (EventKind)-1;
                int got;

                memcpy(p, r->topic, len);
                got = proto_parse_topic(p, len, &k);
                if (got != r->want || (got == PROTO_OK && k != r->kind)) {
                        printf("FAIL [2.1 topic] '%s': got %s kind %d, want %s kind %d\n", r->topic,
                               proto_reason_name(got), (int)k, proto_reason_name(r->want), (int)r->kind);
                        failed++;
                }
                free(p);
        }

        /* The frame length is authoritative: a NUL inside is not an end. */
        {
                EventKind k;
                int got = proto_parse_topic("feedback\0", 9, &k);
                n++;
                if (got != PROTO_E_UNKNOWN_TOPIC) {
                        printf("FAIL [2.1 topic] 'feedback\\0' (9 bytes): got %s, want unknown_topic\n",
                               proto_reason_name(got));
                        failed++;
                }
                got = proto_parse_topic("feedback.eu", 8, &k);
                n++;
                if (got != PROTO_OK || k != EVENT_FEEDBACK) {
                        printf("FAIL [2.1 topic] 'feedback' as an 8-byte prefix of a longer buffer: got %s\n",
                               proto_reason_name(got));
                        failed++;
                }
        }
        printf("topic rows: %zu, failed: %d\n", n, failed);
        return failed;
}

/* ---- fuzz ---- */

static uint64_t rng_state = UINT64_C(0x5eed5eed12345678);

static uint64_t rnd(void) {
        /* splitmix64: fixed seed, same sequence everywhere. */
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static bool reason_possible(int r) {
        switch (r) {
        case PROTO_OK:
        case PROTO_E_MALFORMED:
        case PROTO_E_NOT_A_MAP:
        case PROTO_E_MISSING_FIELD:
        case PROTO_E_WRONG_TYPE:
        case PROTO_E_OUT_OF_RANGE:
        case PROTO_E_TOO_LONG:
        case PROTO_E_BAD_VERSION:
        case PROTO_E_TOO_OLD:
        case PROTO_E_IN_FUTURE:
                return true;
        default:
                return false;
        }
}

/* Decodes a copy of buf in an exactly sized allocation; returns 1 on a
 * failed property. */
static int fuzz_one(ProtoDecoder *d, EventKind kind, const uint8_t *buf, size_t len, const char *what, size_t iter,
                    int want) {
        char *p = malloc(len ? len : 1);
        ProtoDiag diag;
        Event ev;
        int got, bad = 0;

        memcpy(p, buf, len);
        got = proto_decode(d, kind, p, len, NOW, LATE, &ev, &diag);
        if (!reason_possible(got) || (int)diag.reason != got || (want >= 0 && got != want) ||
            !slices_inside(&ev, p, len) || (got == PROTO_OK && !ev.id.len)) {
                printf("FAIL [fuzz] %s #%zu (kind %s, %zu bytes): got %d (%s)\n", what, iter, proto_kind_name(kind),
                       len, got, proto_reason_name(got));
                bad = 1;
        }
        free(p);
        return bad;
}

static size_t pack_full(msgpack_sbuffer *sb, EventKind kind) {
        const Field fb[] = {
                U("v", 1),
                S("id", "fb-1"),
                I("ts", NOW),
                S("team", "billing"),
                S("agent", "alice"),
                S("channel", "chat"),
                S("customer", "cust"),
                S("ticket", "T-1"),
                U("score", 7),
                U("scale", 10),
                {"rater", T_MAP,
                 .sub = F(U("reliability", 9), U("assurance", 8), NIL("tangibles"),
                          U("empathy", 10), U("responsiveness", 1))},
                U("nps", 9),
                MAP("extra", ARR("a"), D("b", 1.5)),
                RAWV("zoo", ZOO),
                {0},
        };
        const Field co[] = {
                S("id", "c-1"),       I("ts", NOW - 5), S("complaint", "C-1"),
                S("status", "resolved"), S("severity", "high"), S("category", "billing"),
                S("outcome", "satisfied"), S("customer", "cust"), {0},
        };
        const Field ti[] = {
                S("id", "t-1"),         I("ts", NOW + 5),    S("ticket", "T-1"),
                S("status", "opened"),  S("priority", "urgent"), S("team", "ops"),
                {0},
        };
        msgpack_packer pk;

        msgpack_sbuffer_init(sb);
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        pack_message(&pk, kind == EVENT_FEEDBACK ? fb : kind == EVENT_COMPLAINT ? co : ti, NULL);
        return sb->size;
}

static int run_fuzz(ProtoDecoder *d) {
        uint8_t buf[512];
        int failed = 0;
        size_t runs = 0;

        /* Random byte strings, half of them starting with a map header so
         * that the decoder gets past the first byte more often. */
        for (size_t i = 0; i < 10000; i++) {
                size_t len = rnd() % 201;
                for (size_t j = 0; j < len; j++)
                        buf[j] = (uint8_t)rnd();
                if (len && (i & 1))
                        buf[0] = (uint8_t)(0x80 | (rnd() % 16));
                failed += fuzz_one(d, (EventKind)(rnd() % _EVENT_KIND_MAX), buf, len, "random bytes", i, -1);
                runs++;
        }

        for (int k = 0; k < _EVENT_KIND_MAX; k++) {
                msgpack_sbuffer sb;
                size_t len = pack_full(&sb, (EventKind)k);

                /* The unmutated message is valid. */
                failed += fuzz_one(d, (EventKind)k, (const uint8_t *)sb.data, len, "valid message", 0, PROTO_OK);
                runs++;

                /* msgpack is prefix-free: every strict prefix is malformed. */
                for (size_t l = 0; l < len; l++, runs++)
                        failed += fuzz_one(d, (EventKind)k, (const uint8_t *)sb.data, l, "truncation", l,
                                           PROTO_E_MALFORMED);

                /* Every single-bit flip. */
                for (size_t bit = 0; bit < len * 8; bit++, runs++) {
                        memcpy(buf, sb.data, len);
                        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                        failed += fuzz_one(d, (EventKind)k, buf, len, "bit flip", bit, -1);
                }

                /* Random stacks of 1-8 mutations: bit flips, random bytes,
                 * truncations, appended garbage. */
                for (size_t i = 0; i < 10000; i++, runs++) {
                        size_t l = len;
                        memcpy(buf, sb.data, len);
                        for (int m = 0, nm = 1 + (int)(rnd() % 8); m < nm && l; m++) {
                                switch (rnd() % 4) {
                                case 0:
                                        buf[rnd() % l] ^= (uint8_t)(1u << (rnd() % 8));
                                        break;
                                case 1:
                                        buf[rnd() % l] = (uint8_t)rnd();
                                        break;
                                case 2:
                                        l = rnd() % l;
                                        break;
                                default:
                                        for (size_t g = rnd() % 8; g > 0 && l < sizeof(buf); g--)
                                                buf[l++] = (uint8_t)rnd();
                                        break;
                                }
                        }
                        failed += fuzz_one(d, (EventKind)k, buf, l, "mutation", i, -1);
                }
                msgpack_sbuffer_destroy(&sb);
        }
        printf("fuzz runs: %zu, failed: %d\n", runs, failed);
        return failed;
}

int main(void) {
        ProtoDecoder *d = NULL;
        int failed = 0;

        if (proto_decoder_new(&d) < 0) {
                printf("FAIL proto_decoder_new\n");
                return 1;
        }
        failed += run_rows(d);
        failed += run_topics();
        failed += run_fuzz(d);
        proto_decoder_free(d);
        /* Freeing NULL is allowed and returns NULL. */
        if (proto_decoder_free(NULL) != NULL) {
                printf("FAIL proto_decoder_free(NULL)\n");
                failed++;
        }
        return failed ? 1 : 0;
}
