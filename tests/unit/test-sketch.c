/* tests/unit/test-sketch.c: the quantile sketch behind frt_p50/p90/p99 and
 * resolution_p50/p90 (CONTRACT.md section 3, "quantiles within 1 % relative
 * error"): exact small cases, accuracy against sorted data on skewed
 * distributions, merge, and the storage form under truncated, hand-made and
 * random bytes. Every input buffer is allocated at its exact length, so a
 * read past it shows under valgrind and ASan. */
#include <stdlib.h>

#include "check.h"
#include "index/sketch.h"

#define CONTRACT_BOUND 0.01
/* The sketch's own bound, with room for the rounding of log() and exp(). */
#define ALPHA_TOL (SKETCH_ALPHA * (1 + 1e-9))
#define N_SAMPLES 100000
#define N_FUZZ 10000

static double max_rel_err; /* over every check against an exact value >= 1 ms */

/* Checks got against the exact quantile want: 0 when want is below 1 ms,
 * else within alpha relative error (and so within the contract's 1 %). */
static void check_value(double got, double want, const char *what, double q) {
        double rel;

        if (want < SKETCH_MIN_SECONDS) {
                CHECK(got == 0, "%s q=%g: got %.12g for exact %.12g < 1 ms, want 0", what, q, got, want);
                return;
        }
        rel = fabs(got - want) / want;
        if (rel > max_rel_err)
                max_rel_err = rel;
        CHECK(rel <= ALPHA_TOL && rel <= CONTRACT_BOUND, "%s q=%g: got %.12g, exact %.12g, relative error %.3g", what,
              q, got, want, rel);
}

/* The rank definition of sketch.h, written again: max(1, ceil(q * n)) with
 * q * n rounded up with a relative tolerance of 1e-12. */
static size_t rank_of(double q, size_t n) {
        double r = q * (double)n;

        r = ceil(r - r * 1e-12);
        return r < 1 ? 1 : (size_t)r;
}

static bool same(const Sketch *a, const Sketch *b) {
        return a->n == b->n && a->zero == b->zero && memcmp(a->bins, b->bins, sizeof(a->bins)) == 0;
}

/* splitmix64: a fixed seed makes every run see the same data. */
static uint64_t rng_state;

static uint64_t rng_next(void) {
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

/* Uniform in the open interval (0, 1). */
static double rng_unit(void) {
        return ((double)(rng_next() >> 11) + 0.5) * 0x1p-53;
}

/* Standard normal by Box-Muller (the second variate is dropped). */
static double rng_normal(void) {
        return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

typedef enum {
        DIST_LOGNORMAL, /* median 2 min, sigma 2.5, kept within 0.01 s .. 10^6 s */
        DIST_PARETO,    /* x_m 0.01 s, shape 0.5, kept below 10^6 s */
        DIST_MIXED,     /* 30 % instant (< 2 ms, a third exactly 0) + the lognormal */
        _DIST_MAX,
} Dist;

static const char *const dist_name[_DIST_MAX] = {"lognormal", "pareto", "mixed"};

static double sample(Dist d) {
        double x;

        for (;;) {
                switch (d) {
                case DIST_LOGNORMAL:
                        x = exp(log(120.0) + 2.5 * rng_normal());
                        break;
                case DIST_PARETO:
                        x = 0.01 / sqrt(rng_unit());
                        break;
                case DIST_MIXED:
                default:
                        if (rng_unit() < 0.3)
                                return rng_unit() < 1.0 / 3 ? 0 : 0.002 * rng_unit();
                        x = exp(log(120.0) + 2.5 * rng_normal());
                        break;
                }
                if (x >= 0.01 && x <= 1e6)
                        return x;
        }
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Big sketches live here rather than on the stack. */
static Sketch all, part_a, part_b, tmp, snap;
static double values[N_SAMPLES], sorted[N_SAMPLES];
static uint8_t enc[SKETCH_ENCODED_MAX];

/* (a) Small cases, each against a value worked out by hand. */
typedef struct {
        const char *clause;
        double v[4];
        size_t n;
        double q;
        bool has;
        double want;
} QuantileRow;

static const QuantileRow quantile_rows[] = {
        {"empty sketch: index is null", {0}, 0, 0.5, false, 0},
        {"one value: every quantile is that value", {42}, 1, 0.5, true, 42},
        {"one value, q=0 (min rank 1)", {42}, 1, 0, true, 42},
        {"one value, q=1", {42}, 1, 1, true, 42},
        {"two values: p50 is rank ceil(1)=1, the lower", {1, 10}, 2, 0.5, true, 1},
        {"two values: p90 is rank 2", {1, 10}, 2, 0.9, true, 10},
        {"two values given in descending order", {10, 1}, 2, 0.5, true, 1},
        {"frt_p50 of {1,2,3,4} is rank 2", {1, 2, 3, 4}, 4, 0.5, true, 2},
        {"p25 of {1,2,3,4} is rank 1", {4, 3, 2, 1}, 4, 0.25, true, 1},
        {"p75 of {1,2,3,4} is rank 3", {1, 2, 3, 4}, 4, 0.75, true, 3},
        {"frt_p99 of {1,2,3,4} is rank 4", {1, 2, 3, 4}, 4, 0.99, true, 4},
        {"zero durations report 0", {0, 0, 0}, 3, 0.5, true, 0},
        {"values < 1 ms report 0", {0.0005, 0.0009999}, 2, 1, true, 0},
        {"p50 of {0, 0.5 ms, 5, 7} is rank 2: 0", {0, 0.0005, 5, 7}, 4, 0.5, true, 0},
        {"p51 of {0, 0.5 ms, 5, 7} is rank 3: 5", {0, 0.0005, 5, 7}, 4, 0.51, true, 5},
        {"1 ms exactly is the first bin, not 0", {0.001}, 1, 0.5, true, 0.001},
        {"10^8 s is the top bin", {1e8}, 1, 0.5, true, 1e8},
        {"10^9 s clamps into the top bin", {1e9}, 1, 0.5, true, 1e8},
        {"+inf clamps into the top bin", {INFINITY}, 1, 0.5, true, 1e8},
        {"a clamped value ranks above the others", {5e12, 1}, 2, 1, true, 1e8},
        {"negative input counts as 0", {-1}, 1, 0.5, true, 0},
        {"NaN input counts as 0", {NAN}, 1, 0.5, true, 0},
        {"q < 0 is rejected", {1}, 1, -0.1, false, 0},
        {"q > 1 is rejected", {1}, 1, 1.1, false, 0},
        {"q NaN is rejected", {1}, 1, NAN, false, 0},
};

static void test_small(void) {
        double lg = log1p(SKETCH_ALPHA) - log1p(-SKETCH_ALPHA);

        CHECK(SKETCH_K_MIN == (int)ceil(log(SKETCH_MIN_SECONDS) / lg), "K_MIN is the bin of 1 ms");
        CHECK(SKETCH_K_MAX == (int)ceil(log(SKETCH_MAX_SECONDS) / lg), "K_MAX is the bin of 10^8 s");
        CHECK(sketch_encoded_max() == SKETCH_ENCODED_MAX, "encoded max");

        for (size_t i = 0; i < sizeof(quantile_rows) / sizeof(quantile_rows[0]); i++) {
                const QuantileRow *r = &quantile_rows[i];
                double got = -1;
                bool has;

                sketch_init(&tmp);
                for (size_t j = 0; j < r->n; j++)
                        sketch_add(&tmp, r->v[j]);
                CHECK(sketch_count(&tmp) == r->n, "%s: count", r->clause);
                has = sketch_quantile(&tmp, r->q, &got);
                CHECK(has == r->has, "%s: has %d", r->clause, has);
                if (has && r->has)
                        check_value(got, r->want, r->clause, r->q);
                else
                        CHECK(got == -1, "%s: *out untouched on false", r->clause);
        }

        /* Rank rounding: over 1..100 the q = i/100 quantile is i, also where
         * q * 100 rounds above i in binary (0.07 * 100 = 7.000000000000001). */
        sketch_init(&tmp);
        for (int i = 1; i <= 100; i++)
                sketch_add(&tmp, i);
        for (int i = 1; i <= 100; i++) {
                double got;

                CHECK(sketch_quantile(&tmp, i / 100.0, &got), "1..100 q=%d%%", i);
                check_value(got, i, "1..100", i / 100.0);
        }
}

/* The guarantee value by value over the whole range: on a log grid and at
 * every bin edge gamma^k and its neighbouring doubles. */
static void test_sweep(void) {
        const int grid = 20000;
        double lg = log1p(SKETCH_ALPHA) - log1p(-SKETCH_ALPHA);

        for (int i = 0; i <= grid + 3 * SKETCH_BINS; i++) {
                double x, got = 0;

                if (i <= grid)
                        x = SKETCH_MIN_SECONDS * pow(10, 11.0 * i / grid);
                else {
                        int j = i - grid - 1, k = SKETCH_K_MIN + j / 3;

                        x = exp(k * lg);
                        x = j % 3 == 0 ? x : nextafter(x, j % 3 == 1 ? 0 : INFINITY);
                        if (x < SKETCH_MIN_SECONDS || x > SKETCH_MAX_SECONDS)
                                continue;
                }
                sketch_init(&tmp);
                sketch_add(&tmp, x);
                CHECK(sketch_quantile(&tmp, 0.5, &got), "sweep %.17g", x);
                check_value(got, x, "sweep", 0.5);
        }
}

/* (b) and (c): accuracy on 100,000 skewed samples, and merge. */
static void test_dist(Dist d) {
        static const double qs[] = {0.5, 0.9, 0.99, 0, 0.001, 0.01, 0.1, 0.25, 0.75, 0.95, 0.999, 1};
        double before = max_rel_err, worst = 0;
        size_t len;

        max_rel_err = 0;
        sketch_init(&all);
        sketch_init(&part_a);
        sketch_init(&part_b);
        for (size_t i = 0; i < N_SAMPLES; i++) {
                values[i] = sample(d);
                sketch_add(&all, values[i]);
                sketch_add(rng_next() % 3 ? &part_a : &part_b, values[i]);
        }
        memcpy(sorted, values, sizeof(values));
        qsort(sorted, N_SAMPLES, sizeof(sorted[0]), cmp_double);
        CHECK(sorted[0] >= 0 && sorted[N_SAMPLES - 1] <= 1e6, "%s range", dist_name[d]);
        CHECK(sketch_count(&all) == N_SAMPLES, "%s count", dist_name[d]);

        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
                double got = 0, want = sorted[rank_of(qs[i], N_SAMPLES) - 1];

                CHECK(sketch_quantile(&all, qs[i], &got), "%s q=%g", dist_name[d], qs[i]);
                check_value(got, want, dist_name[d], qs[i]);
        }
        worst = max_rel_err;
        if (before > max_rel_err)
                max_rel_err = before;

        /* (c) The merge of the parts is the sketch of all, bit for bit, and
         * so is the stored form of one part merged into the other. */
        tmp = part_a;
        sketch_merge(&tmp, &part_b);
        CHECK(same(&tmp, &all), "%s: merge(a, b) == sketch(all)", dist_name[d]);
        tmp = part_b;
        len = sketch_encode(&part_a, enc, sizeof(enc));
        CHECK(len > 0 && sketch_decode_merge(&tmp, enc, len) == 0, "%s: decode a", dist_name[d]);
        CHECK(same(&tmp, &all), "%s: decode_merge(b, encode(a)) == sketch(all)", dist_name[d]);

        len = sketch_encode(&all, enc, sizeof(enc));
        printf("%-9s 100000 samples: max relative error %.4f %%, encoded %zu bytes (%zu dense)\n", dist_name[d],
               100 * worst, len, sizeof(Sketch));
}

static void test_merge_edges(void) {
        /* A sketch merged into itself doubles. */
        sketch_init(&tmp);
        sketch_add(&tmp, 0);
        sketch_add(&tmp, 3);
        sketch_add(&tmp, 3);
        sketch_merge(&tmp, &tmp);
        CHECK(tmp.n == 6 && tmp.zero == 2, "self merge doubles: n %llu", (unsigned long long)tmp.n);

        /* Counters saturate and n stays their sum. */
        sketch_init(&tmp);
        tmp.bins[7] = UINT32_MAX - 1;
        tmp.lo = 7;
        tmp.end = 8; /* the used range, as sketch_add would have set it */
        tmp.zero = 5;
        tmp.n = (uint64_t)UINT32_MAX - 1 + 5;
        snap = tmp;
        sketch_merge(&tmp, &snap);
        CHECK(tmp.bins[7] == UINT32_MAX && tmp.zero == 10, "saturated merge");
        CHECK(tmp.n == (uint64_t)UINT32_MAX + 10, "saturated n: %llu", (unsigned long long)tmp.n);
        sketch_add(&tmp, exp((7 + SKETCH_K_MIN - 0.5) * (log1p(SKETCH_ALPHA) - log1p(-SKETCH_ALPHA))));
        CHECK(tmp.bins[7] == UINT32_MAX && tmp.n == (uint64_t)UINT32_MAX + 10, "saturated add");

        /* Merging the empty sketch changes nothing. */
        snap = tmp;
        sketch_init(&part_a);
        sketch_merge(&tmp, &part_a);
        CHECK(same(&tmp, &snap), "merge of empty");
}

/* (d) The storage form. */
typedef struct {
        const char *what;
        uint8_t b[10];
        size_t len;
        int want;
} DecodeRow;

static const DecodeRow decode_rows[] = {
        {"no bytes", {0}, 0, SKETCH_E_FORMAT},
        {"version 0", {0, 0, 0}, 3, SKETCH_E_FORMAT},
        {"version 2 (unknown)", {2, 0, 0}, 3, SKETCH_E_FORMAT},
        {"version only", {1}, 1, SKETCH_E_FORMAT},
        {"no entry count", {1, 0}, 2, SKETCH_E_FORMAT},
        {"empty sketch", {1, 0, 0}, 3, 0},
        {"trailing byte", {1, 0, 0, 0}, 4, SKETCH_E_FORMAT},
        {"one entry: bin 0 x1", {1, 0, 1, 0, 1}, 5, 0},
        {"entry with count 0", {1, 0, 1, 0, 0}, 5, SKETCH_E_FORMAT},
        {"entry without count", {1, 0, 1, 0}, 4, SKETCH_E_FORMAT},
        {"bins 0 and 1", {1, 0, 2, 0, 1, 0, 1}, 7, 0},
        {"2 entries announced, 1 present", {1, 0, 2, 0, 1}, 5, SKETCH_E_FORMAT},
        {"last bin (offset 2533)", {1, 0, 1, 0xE5, 0x13, 1}, 6, 0},
        {"offset 2534 past the last bin", {1, 0, 1, 0xE6, 0x13, 1}, 6, SKETCH_E_FORMAT},
        {"second offset past the last bin", {1, 0, 2, 0xE5, 0x13, 1, 0, 1}, 8, SKETCH_E_FORMAT},
        {"2535 entries announced", {1, 0, 0xE7, 0x13}, 4, SKETCH_E_FORMAT},
        {"overlong varint", {1, 0x80, 0x00, 0}, 4, SKETCH_E_FORMAT},
        {"zero count UINT32_MAX", {1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0}, 7, 0},
        {"zero count UINT32_MAX + 1", {1, 0x80, 0x80, 0x80, 0x80, 0x10, 0}, 7, SKETCH_E_FORMAT},
        {"6-byte varint", {1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0}, 8, SKETCH_E_FORMAT},
        {"varint cut at the end", {1, 0x80}, 2, SKETCH_E_FORMAT},
};

/* Decodes a copy of b[0 .. len) at its exact size into tmp, preloaded with
 * data; checks the result is 0 or SKETCH_E_FORMAT and that a rejected input
 * left tmp unchanged. Returns the result. */
static int decode_exact(const uint8_t *b, size_t len, const char *what) {
        uint8_t *copy = malloc(len ? len : 1);
        int r;

        if (!copy)
                abort();
        if (len)
                memcpy(copy, b, len);
        sketch_init(&tmp);
        sketch_add(&tmp, 0);
        sketch_add(&tmp, 2.5);
        snap = tmp;
        r = sketch_decode_merge(&tmp, copy, len);
        CHECK(r == 0 || r == SKETCH_E_FORMAT, "%s: result %d", what, r);
        if (r != 0)
                CHECK(same(&tmp, &snap), "%s: rejected input changed the sketch", what);
        free(copy);
        return r;
}

static void test_encoding(void) {
        uint8_t small[16];
        size_t len, lens[_DIST_MAX];
        static uint8_t encs[_DIST_MAX][SKETCH_ENCODED_MAX];
        unsigned valid = 0;

        /* Empty sketch: version, zero count 0, no entries. */
        sketch_init(&tmp);
        len = sketch_encode(&tmp, small, sizeof(small));
        CHECK(len == 3 && small[0] == 1 && small[1] == 0 && small[2] == 0, "empty encoding: %zu bytes", len);
        CHECK(sketch_decode_merge(NULL, NULL, 0) == SKETCH_E_FORMAT, "NULL buffer");

        for (size_t i = 0; i < sizeof(decode_rows) / sizeof(decode_rows[0]); i++) {
                const DecodeRow *r = &decode_rows[i];
                int got = decode_exact(r->b, r->len, r->what);

                CHECK(got == r->want, "%s: got %d, want %d", r->what, got, r->want);
                if (got == 0) {
                        /* Accepted bytes are canonical: they encode back as they were. */
                        sketch_init(&part_a);
                        CHECK(sketch_decode_merge(&part_a, r->b, r->len) == 0, "%s", r->what);
                        len = sketch_encode(&part_a, enc, sizeof(enc));
                        CHECK(len == r->len && memcmp(enc, r->b, len) == 0, "%s: re-encoding differs", r->what);
                }
        }

        /* Every counter at UINT32_MAX stays within the bound. */
        for (size_t i = 0; i < SKETCH_BINS; i++)
                tmp.bins[i] = UINT32_MAX;
        tmp.lo = 0;
        tmp.end = SKETCH_BINS;
        tmp.zero = UINT32_MAX;
        tmp.n = (uint64_t)UINT32_MAX * (SKETCH_BINS + 1);
        len = sketch_encode(&tmp, enc, sizeof(enc));
        CHECK(len > 0 && len <= sketch_encoded_max(), "full sketch: %zu bytes", len);
        sketch_init(&part_a);
        CHECK(sketch_decode_merge(&part_a, enc, len) == 0 && same(&part_a, &tmp), "full sketch round trip");

        /* Round trips of the three distributions, and a short buffer. */
        for (Dist d = 0; d < _DIST_MAX; d++) {
                sketch_init(&all);
                for (size_t i = 0; i < N_SAMPLES; i++)
                        sketch_add(&all, sample(d));
                lens[d] = sketch_encode(&all, encs[d], sizeof(encs[d]));
                sketch_init(&tmp);
                CHECK(sketch_decode_merge(&tmp, encs[d], lens[d]) == 0 && same(&tmp, &all), "%s round trip",
                      dist_name[d]);
                memset(enc, 0xAA, sizeof(enc));
                CHECK(sketch_encode(&all, enc, lens[d] - 1) == 0, "%s: short buffer", dist_name[d]);
                CHECK(enc[0] == 0xAA && enc[lens[d] - 2] == 0xAA, "%s: short buffer written", dist_name[d]);

                /* Every strict prefix is rejected. */
                for (size_t cut = 0; cut < lens[d]; cut++)
                        CHECK(decode_exact(encs[d], cut, "prefix") == SKETCH_E_FORMAT, "%s prefix %zu accepted",
                              dist_name[d], cut);
        }

        /* A typical minute bucket: 20 first-response times. */
        sketch_init(&tmp);
        for (int i = 0; i < 20; i++)
                sketch_add(&tmp, sample(DIST_LOGNORMAL));
        len = sketch_encode(&tmp, enc, sizeof(enc));
        printf("20 samples (a minute bucket): encoded %zu bytes\n", len);

        /* 10,000 random inputs: raw bytes, structured bytes that pass the
         * header, and mutations of a real encoding. Accepted inputs must be
         * canonical. */
        for (int i = 0; i < N_FUZZ; i++) {
                uint8_t b[96];
                size_t n = 0;

                switch (i % 3) {
                case 0:
                        n = rng_next() % 65;
                        for (size_t j = 0; j < n; j++)
                                b[j] = (uint8_t)rng_next();
                        break;
                case 1:
                        b[n++] = 1;
                        b[n++] = (uint8_t)(rng_next() % 4);
                        b[n++] = (uint8_t)(rng_next() % 5);
                        for (size_t m = rng_next() % 12; m; m--)
                                b[n++] = rng_next() % 8 ? (uint8_t)(rng_next() % 3) : (uint8_t)rng_next();
                        break;
                default: {
                        size_t from = rng_next() % (lens[DIST_LOGNORMAL] - 40);

                        b[n++] = 1;
                        b[n++] = encs[DIST_LOGNORMAL][1];
                        b[n++] = (uint8_t)(1 + rng_next() % 8);
                        for (size_t m = rng_next() % 40; m; m--)
                                b[n++] = encs[DIST_LOGNORMAL][from++];
                        for (size_t m = rng_next() % 3 + 1; m && n > 3; m--)
                                b[3 + rng_next() % (n - 3)] ^= (uint8_t)(1u << (rng_next() % 8));
                        break;
                }
                }
                if (decode_exact(b, n, "fuzz") == 0) {
                        valid++;
                        sketch_init(&part_a);
                        CHECK(sketch_decode_merge(&part_a, b, n) == 0, "fuzz %d", i);
                        len = sketch_encode(&part_a, enc, sizeof(enc));
                        CHECK(len == n && memcmp(enc, b, n) == 0, "fuzz %d: accepted input is not canonical", i);
                        CHECK(tmp.n == snap.n + part_a.n, "fuzz %d: count", i);
                }
        }
        printf("%d random inputs: %u accepted, %u rejected\n", N_FUZZ, valid, N_FUZZ - valid);
}

/* (e) The used range and sketch_clear: one scratch sketch reused for many
 * (as the writer does) must encode, merge and answer exactly like a fresh
 * one, whichever bins the previous use touched. */
static void test_reuse(void) {
        static const double sets[][4] = {
                {3, 3, 3, 3},          /* one bin */
                {1e-3, 1e8, 42, 0},    /* both edges, the middle, the zero counter */
                {0, 0, 0, 0},          /* the zero counter only */
                {7200, 0.5, 0.5, 1e9}, /* a later bin first, clamped top */
                {0.002, 0.002, 0.002, 0.002},
        };
        static Sketch scratch, fresh, merged;
        static uint8_t e1[SKETCH_ENCODED_MAX], e2[SKETCH_ENCODED_MAX];

        sketch_init(&scratch);
        for (size_t round = 0; round < 3; round++)
                for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
                        size_t n = round == 2 ? 0 : 4; /* the last round: empty sketches */
                        double q1 = -1, q2 = -1;

                        sketch_clear(&scratch);
                        CHECK(sketch_count(&scratch) == 0, "clear empties (round %zu set %zu)", round, i);
                        sketch_init(&fresh);
                        for (size_t k = 0; k < n; k++) {
                                sketch_add(&scratch, sets[i][k]);
                                sketch_add(&fresh, sets[i][k]);
                        }
                        CHECK(same(&scratch, &fresh), "reused equals fresh (round %zu set %zu)", round, i);
                        size_t l1 = sketch_encode(&scratch, e1, sizeof(e1)), l2 = sketch_encode(&fresh, e2, sizeof(e2));
                        CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0, "same encoding (round %zu set %zu)", round, i);
                        CHECK(sketch_quantile(&scratch, 0.99, &q1) == sketch_quantile(&fresh, 0.99, &q2) && q1 == q2,
                              "same p99 (round %zu set %zu)", round, i);
                        /* Decoded into a cleared sketch, merged into another. */
                        sketch_clear(&scratch);
                        CHECK(sketch_decode_merge(&scratch, e2, l2) == 0 && same(&scratch, &fresh),
                              "decode into a cleared sketch (round %zu set %zu)", round, i);
                        sketch_init(&merged);
                        sketch_merge(&merged, &scratch);
                        l1 = sketch_encode(&merged, e1, sizeof(e1));
                        CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0, "merge keeps every bin (round %zu set %zu)", round,
                              i);
                }
        /* Cleared means every bin is zero again, not only the counters. */
        sketch_clear(&scratch);
        sketch_init(&fresh);
        CHECK(same(&scratch, &fresh), "cleared bins are zero");
}

int main(void) {
        rng_state = 0x5EED5EED5EED5EEDull;
        test_small();
        test_sweep();
        for (Dist d = 0; d < _DIST_MAX; d++)
                test_dist(d);
        test_merge_edges();
        test_encoding();
        test_reuse();
        printf("sizeof(Sketch) %zu, encoded max %zu; max relative error over all checks %.4f %% (bound %.1f %%)\n",
               sizeof(Sketch), sketch_encoded_max(), 100 * max_rel_err, 100 * SKETCH_ALPHA);
        CHECK_DONE();
}
