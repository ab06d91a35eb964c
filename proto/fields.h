/* proto/fields.h: the fields of one event's msgpack map, for decode.c.
 *
 * msgpack-c's own parser (the state machine of msgpack/unpack_template.h)
 * runs with callbacks of ours instead of the ones that build a
 * msgpack_object tree in a zone. Nothing is allocated, so a header claiming
 * 2^32 elements costs nothing: the bytes simply run out. The callbacks keep
 * only what validation reads: the known keys of the top-level map, and the
 * dimension pairs of every nested map (any of them may turn out to be the
 * value of `rater`). Validation proper (types, ranges, the order of the
 * reasons) is decode.c's.
 */
#pragma once

#include <msgpack/object.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"

/* The keys of every event kind. */
enum {
        K_V, K_ID, K_TS, K_TEAM, K_AGENT, K_CHANNEL, K_CUSTOMER, K_TICKET,
        K_SCORE, K_SCALE, K_RATER, K_NPS,
        K_COMPLAINT, K_STATUS, K_SEVERITY, K_CATEGORY, K_OUTCOME, K_PRIORITY,
        _K_MAX,
};

/* The key's name ("team"), for diagnostics. */
const char *field_key_name(int k);

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

static inline uint8_t tok_type(const Tok *t) {
        return (uint8_t)t->head;
}

static inline uint32_t tok_n(const Tok *t) {
        return (uint32_t)(t->head >> 32);
}

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
        const Tok *f[_K_MAX]; /* NULL when absent */
        const RaterAcc *rater; /* the pairs of f[K_RATER] when it is a map */
        /* The first fault among the top-level keys (a key that is not a
         * string, a known key given twice), 0 if none; the scan goes on
         * past it, so that a readable id can still name the event. */
        int kerr;
        const char *kfield;
        bool id_twice;
} Fields;

typedef struct FieldScan FieldScan;

int field_scan_new(FieldScan **out);
FieldScan *field_scan_free(FieldScan *s);

/* Reads the one msgpack value of payload[0 .. len). Returns PROTO_OK with
 * *out filled (pointing into s and the payload, valid until the next
 * scan), PROTO_E_MALFORMED (truncated, a byte no value starts with, nesting
 * past msgpack-c's 32 levels, trailing bytes) or PROTO_E_NOT_A_MAP. */
int field_scan(FieldScan *s, const void *payload, size_t len, Fields *out);
