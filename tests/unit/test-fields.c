/* tests/unit/test-fields.c: the field scan (proto/fields.c) against
 * msgpack-c's own object tree, on generated event maps and their
 * mutations. The scan drives msgpack-c's parser with callbacks of ours; for
 * every input it must agree with msgpack_unpack() on whether the bytes are
 * one readable value and whether it is a map, and on every known key of the
 * map: present or not, type, value, the first key fault, and the dimension
 * pairs of `rater`. */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proto/fields.h"
#include "proto/mpwalk.h"

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint32_t rnd(uint32_t n) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng % n);
}

/* Keys drawn for the maps: every known key, near misses, rater dimensions. */
static const char *const pool[] = {
        "v", "id", "ts", "team", "agent", "channel", "customer", "ticket", "score", "scale", "rater", "nps",
        "complaint", "status", "severity", "category", "outcome", "priority", "reliability", "assurance",
        "tangibles", "empathy", "responsiveness", "x", "idx", "Team", "rate", "empath", "",
};
#define POOL_N (sizeof(pool) / sizeof(pool[0]))

/* Bytes written as they are: encodings msgpack-c's packer never picks. */
static void pack_raw(msgpack_packer *pk, const void *p, size_t n) {
        pk->callback(pk->data, p, n);
}

/* A string, now and then as str8 or str16 although it is short. */
static void pack_str(msgpack_packer *pk, const char *s) {
        size_t n = strlen(s);
        switch (rnd(8)) {
        case 0:
                pack_raw(pk, (const uint8_t[]){0xd9, (uint8_t)n}, 2);
                break;
        case 1:
                pack_raw(pk, (const uint8_t[]){0xda, 0, (uint8_t)n}, 3);
                break;
        default:
                msgpack_pack_str(pk, n);
        }
        msgpack_pack_str_body(pk, s, n);
}

/* Integers in the wider and signed encodings. */
static const struct {
        uint8_t b[9];
        size_t n;
} odd_ints[] = {
        {{0xd0, 0x00}, 2}, {{0xd0, 0x05}, 2}, {{0xd0, 0xff}, 2}, {{0xd1, 0x00, 0x07}, 3},
        {{0xd2, 0, 0, 0, 9}, 5}, {{0xd3, 0, 0, 0, 0, 0, 0, 0, 0}, 9},
        {{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, 9},
        {{0xcc, 0x03}, 2}, {{0xcd, 0x00, 0x01}, 3}, {{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1}, 9},
};

static void pack_value(msgpack_packer *pk, unsigned depth);

static void pack_map(msgpack_packer *pk, unsigned depth, unsigned n) {
        msgpack_pack_map(pk, n);
        for (unsigned i = 0; i < n; i++) {
                if (rnd(12) == 0)
                        msgpack_pack_int(pk, (int)rnd(5)); /* a key that is not a string */
                else
                        pack_str(pk, pool[rnd(POOL_N)]);
                pack_value(pk, depth + 1);
        }
}

static void pack_value(msgpack_packer *pk, unsigned depth) {
        switch (rnd(depth > 4 ? 9 : 12)) {
        case 0:
                if (rnd(2)) {
                        msgpack_pack_nil(pk);
                } else {
                        unsigned i = rnd(sizeof(odd_ints) / sizeof(odd_ints[0]));
                        pack_raw(pk, odd_ints[i].b, odd_ints[i].n);
                }
                break;
        case 1:
                msgpack_pack_uint64(pk, (uint64_t)rnd(12) << (rnd(4) * 16));
                break;
        case 2:
                msgpack_pack_int64(pk, -(int64_t)rnd(1000) - 1);
                break;
        case 3:
                msgpack_pack_uint8(pk, (uint8_t)rnd(8));
                break;
        case 4:
                msgpack_pack_double(pk, 2.5);
                break;
        case 5:
                msgpack_pack_true(pk);
                break;
        case 6:
                msgpack_pack_bin(pk, 3);
                msgpack_pack_bin_body(pk, "abc", 3);
                break;
        case 7:
        case 8:
                pack_str(pk, pool[rnd(POOL_N)]);
                break;
        case 9: {
                unsigned n = rnd(3);
                msgpack_pack_array(pk, n);
                for (unsigned i = 0; i < n; i++)
                        pack_value(pk, depth + 1);
                break;
        }
        default:
                pack_map(pk, depth, rnd(7));
                break;
        }
}

/* A random event-like map: known keys, near misses, repeats. */
static void pack_event(msgpack_packer *pk) {
        unsigned n = 1 + rnd(10);

        msgpack_pack_map(pk, n);
        for (unsigned i = 0; i < n; i++) {
                if (rnd(20) == 0)
                        msgpack_pack_int(pk, 7);
                else
                        pack_str(pk, pool[rnd(18 + 5)]);
                if (rnd(4) == 0) {
                        unsigned m = rnd(4);
                        msgpack_pack_array(pk, m);
                        for (unsigned j = 0; j < m; j++)
                                pack_value(pk, 3);
                } else {
                        pack_value(pk, 1);
                }
        }
}

static bool str_is(const msgpack_object *o, const char *s) {
        return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
               memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static int dim_of(const msgpack_object *k) {
        static const char *const dims[_RATER_DIM_MAX] = {"reliability", "assurance", "tangibles", "empathy",
                                                         "responsiveness"};
        for (int d = 0; d < _RATER_DIM_MAX; d++)
                if (str_is(k, dims[d]))
                        return d;
        return -1;
}

static bool same_value(const Tok *t, const msgpack_object *o) {
        if (tok_type(t) != o->type)
                return false;
        switch (o->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                return t->via.u64 == o->via.u64;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                return t->via.i64 == o->via.i64;
        case MSGPACK_OBJECT_STR:
                return tok_n(t) == o->via.str.size && t->via.ptr == o->via.str.ptr;
        default:
                return true;
        }
}

/* The dimension pairs of map m as fields.h defines them. */
static bool same_rater(const RaterAcc *a, const msgpack_object *m) {
        RaterAcc want = {0};

        for (uint32_t i = 0; i < m->via.map.size && !want.err; i++) {
                const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
                int d;
                if (k->type != MSGPACK_OBJECT_STR) {
                        want.err = PROTO_E_WRONG_TYPE;
                        break;
                }
                if ((d = dim_of(k)) < 0 || v->type == MSGPACK_OBJECT_NIL)
                        continue;
                if (want.mask & (1u << d)) {
                        want.err = PROTO_E_MALFORMED;
                        want.err_dim = (uint8_t)d;
                        break;
                }
                want.mask |= (uint8_t)(1u << d);
                want.seq[want.n].dim = (uint8_t)d;
                if (!same_value(&a->seq[want.n].val, v) || a->seq[want.n].dim != d)
                        return false;
                want.n++;
        }
        return a->n == want.n && a->mask == want.mask && a->err == want.err &&
               (want.err != PROTO_E_MALFORMED || a->err_dim == want.err_dim);
}

/* One input: 0 when scan and reference agree. */
static int check_one(FieldScan *s, const uint8_t *buf, size_t len, const char *what, unsigned iter) {
        msgpack_zone zone;
        msgpack_object root;
        size_t off = 0, end;
        Fields f;
        int got = field_scan(s, buf, len, &f), want, fails = 0;

        /* The reference is the decoder this scan replaced: a header walk
         * (msgpack-c would allocate what a header claims), then
         * msgpack_unpack() of exactly one value. */
        msgpack_zone_init(&zone, 4096);
        if (mpwalk(buf, len, 0, &end) != MPWALK_OK || msgpack_unpack((const char *)buf, len, &off, &zone, &root) !=
                                                              MSGPACK_UNPACK_SUCCESS)
                want = PROTO_E_MALFORMED;
        else
                want = root.type == MSGPACK_OBJECT_MAP ? PROTO_OK : PROTO_E_NOT_A_MAP;
        if (got != want) {
                fprintf(stderr, "%s #%u (%zu bytes): scan %d, msgpack-c %d\n", what, iter, len, got, want);
                fails++;
        } else if (got == PROTO_OK) {
                int kerr = 0;
                const char *kfield = NULL;
                bool id_twice = false;
                for (int j = 0; j < _K_MAX; j++) {
                        const msgpack_object *first = NULL;
                        for (uint32_t i = 0; i < root.via.map.size; i++) {
                                const msgpack_object *k = &root.via.map.ptr[i].key;
                                if (!str_is(k, field_key_name(j)))
                                        continue;
                                if (!first) {
                                        first = &root.via.map.ptr[i].val;
                                } else {
                                        id_twice |= j == K_ID;
                                }
                        }
                        if (!first != !f.f[j] || (first && !same_value(f.f[j], first))) {
                                fprintf(stderr, "%s #%u: key %s differs\n", what, iter, field_key_name(j));
                                fails++;
                        }
                        if (j == K_RATER && first && first->type == MSGPACK_OBJECT_MAP && !same_rater(f.rater, first)) {
                                fprintf(stderr, "%s #%u: rater pairs differ\n", what, iter);
                                fails++;
                        }
                }
                /* The first key fault in map order. */
                for (uint32_t i = 0; i < root.via.map.size && !kerr; i++) {
                        const msgpack_object *k = &root.via.map.ptr[i].key;
                        if (k->type != MSGPACK_OBJECT_STR) {
                                kerr = PROTO_E_WRONG_TYPE;
                                kfield = "(key)";
                                break;
                        }
                        for (uint32_t p = 0; p < i; p++)
                                for (int j = 0; j < _K_MAX; j++) {
                                        const char *name = field_key_name(j);
                                        if (str_is(k, name) && str_is(&root.via.map.ptr[p].key, name)) {
                                                kerr = PROTO_E_MALFORMED;
                                                kfield = name;
                                        }
                                }
                }
                if (f.kerr != kerr || (kerr && strcmp(f.kfield, kfield) != 0) || f.id_twice != id_twice) {
                        fprintf(stderr, "%s #%u: key fault %d (%s) / id twice %d, want %d (%s) / %d\n", what, iter,
                                f.kerr, f.kfield ? f.kfield : "-", f.id_twice, kerr, kfield ? kfield : "-", id_twice);
                        fails++;
                }
        }
        msgpack_zone_destroy(&zone);
        return fails;
}

int main(void) {
        FieldScan *s = NULL;
        unsigned ok = 0, malformed = 0, not_map = 0;

        CHECK(field_scan_new(&s) == 0, "new");
        for (unsigned iter = 0; iter < 20000; iter++) {
                msgpack_sbuffer sb;
                msgpack_packer pk;
                Fields f;

                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                if (rnd(10) == 0)
                        pack_value(&pk, 0);
                else
                        pack_event(&pk);
                CHECK(check_one(s, (const uint8_t *)sb.data, sb.size, "generated", iter) == 0, "generated #%u", iter);

                /* Mutations: a flipped byte, a cut, an appended byte. */
                uint8_t *m = malloc(sb.size + 1);
                if (!m)
                        abort();
                memcpy(m, sb.data, sb.size);
                m[rnd((uint32_t)sb.size)] ^= (uint8_t)(1u << rnd(8));
                CHECK(check_one(s, m, sb.size, "flipped", iter) == 0, "flipped #%u", iter);
                memcpy(m, sb.data, sb.size);
                CHECK(check_one(s, m, rnd((uint32_t)sb.size), "cut", iter) == 0, "cut #%u", iter);
                m[sb.size] = (uint8_t)rnd(256);
                CHECK(check_one(s, m, sb.size + 1, "appended", iter) == 0, "appended #%u", iter);
                free(m);

                switch (field_scan(s, sb.data, sb.size, &f)) {
                case PROTO_OK:
                        ok++;
                        break;
                case PROTO_E_NOT_A_MAP:
                        not_map++;
                        break;
                default:
                        malformed++;
                }
                msgpack_sbuffer_destroy(&sb);
        }
        /* The generator must reach every outcome, or the comparison proves little. */
        CHECK(ok > 10000 && not_map > 500, "generated: %u maps, %u not maps, %u malformed", ok, not_map, malformed);
        printf("20000 generated values (%u maps, %u not maps) and 60000 mutations agree with msgpack-c\n", ok, not_map);
        field_scan_free(s);
        CHECK_DONE();
}
