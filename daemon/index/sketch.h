/* daemon/index/sketch.h: Sketch, a mergeable quantile sketch of durations in
 * seconds with a relative-error guarantee, behind the frt_p* and
 * resolution_p* indices of CONTRACT.md section 3 ("quantiles within 1 %
 * relative error").
 *
 * Values are counted in logarithmic bins. With alpha = SKETCH_ALPHA = 0.005
 * and gamma = (1 + alpha) / (1 - alpha), a value x maps to bin
 * k = ceil(log(x) / log(gamma)), which holds (gamma^(k-1), gamma^k], and a
 * bin reports 2 * gamma^k / (gamma + 1): within alpha relative error of every
 * value in it. A quantile is therefore within 0.5 % of the exact quantile of
 * the same rank, a factor two inside the contract's 1 %.
 *
 * Range and edges:
 *   - values below 1 ms (SKETCH_MIN_SECONDS), including 0, and negative or
 *     NaN inputs are counted in a separate zero counter and reported as 0:
 *     quantiles of values < 1 ms have an absolute error < 1 ms instead;
 *   - values above 10^8 s (SKETCH_MAX_SECONDS), including +inf, are clamped
 *     into the top bin and reported as about 1.0045e8;
 *   - each counter saturates at UINT32_MAX (4.29e9 samples in one 1 % wide
 *     bin); the total stays the exact sum of the counters.
 *
 * Sketches merge by adding counters, so a window is the merge of its
 * buckets and the merge of two sketches equals the sketch of all values.
 * The in-memory Sketch is a dense, heap-free struct of about 10 KB (it can
 * live in arrays); stored sketches use the sparse format below.
 *
 * Storage format, version 1 (an API: change it only with a version bump):
 *
 *   u8      version           = 1
 *   varint  zero count        values < 1 ms
 *   varint  entries           number of non-empty bins, <= SKETCH_BINS
 *   entries times:
 *     varint  gap             bin offset (k - SKETCH_K_MIN) for the first
 *                             entry, offset - previous offset - 1 after it,
 *                             so offsets strictly increase and stay below
 *                             SKETCH_BINS
 *     varint  count           >= 1
 *
 * A varint is an unsigned LEB128 of a uint32: 7 bits per byte, least
 * significant group first, high bit set on all but the last byte, at most 5
 * bytes, no overlong forms (a last byte of 0 after other bytes), no value
 * above UINT32_MAX. There are no trailing bytes. The encoding of a sketch is
 * thus unique. Typical size: 3 bytes empty, about 2 bytes per non-empty bin.
 *
 * Compatibility: readers reject versions they do not know. alpha,
 * SKETCH_K_MIN and the bin mapping are part of version 1: changing any of
 * them needs version 2, and a reader of version 2 must keep reading 1.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKETCH_ALPHA 0.005
#define SKETCH_MIN_SECONDS 0.001
#define SKETCH_MAX_SECONDS 1e8
/* ceil(log(SKETCH_MIN_SECONDS) / log(gamma)) and the same of
 * SKETCH_MAX_SECONDS; the unit test recomputes them. */
#define SKETCH_K_MIN (-690)
#define SKETCH_K_MAX 1843
#define SKETCH_BINS (SKETCH_K_MAX - SKETCH_K_MIN + 1)
#define SKETCH_FORMAT_VERSION 1
/* Bound of sketch_encode(): version, zero count (5), entries (2), and per
 * bin a gap (2, as offsets stay below 2^14) and a count (5). */
#define SKETCH_ENCODED_MAX ((size_t)1 + 5 + 2 + (size_t)SKETCH_BINS * (2 + 5))

enum {
        SKETCH_E_FORMAT = 1, /* a stored sketch is malformed or of an unknown version */
};

typedef struct {
        uint64_t n;                   /* zero + sum of bins */
        uint32_t zero;                /* values < SKETCH_MIN_SECONDS */
        /* Every bin outside [lo, end) is zero (lo == end: all are), so
         * encoding, merging, quantiles and clearing visit only the bins a
         * sketch uses, not all 2,534. An all-zero struct is empty. */
        uint16_t lo, end;
        uint32_t bins[SKETCH_BINS];   /* bins[k - SKETCH_K_MIN] */
} Sketch;

/* Makes s the empty sketch. */
void sketch_init(Sketch *s);

/* Makes a sketch that sketch_init() made once the empty sketch again,
 * clearing only the bins it used. */
void sketch_clear(Sketch *s);

/* Counts one duration in seconds (see the header comment for values below
 * 1 ms, above 10^8 s, negative and NaN). */
void sketch_add(Sketch *s, double seconds);

/* Adds the counts of from to into; into and from may be the same sketch. */
void sketch_merge(Sketch *into, const Sketch *from);

/* Number of values counted. */
uint64_t sketch_count(const Sketch *s);

/* Sets *out to the q-quantile, q in [0, 1]: the value of rank
 * r = max(1, ceil(q * n)) (1-based) among the n values in ascending order,
 * i.e. the representative of the smallest bin (the zero counter first)
 * whose cumulative count is >= r. q * n is rounded up with a relative
 * tolerance of 1e-12, so that 0.07 * 100 is rank 7 and not 8. Returns false,
 * leaving *out alone, when s is empty or q is not in [0, 1]. */
bool sketch_quantile(const Sketch *s, double q, double *out);

/* Largest size sketch_encode() can return: SKETCH_ENCODED_MAX. */
size_t sketch_encoded_max(void);

/* Writes the storage form of s to buf. Returns its length (>= 3), or 0 when
 * cap is too small, in which case nothing is written. */
size_t sketch_encode(const Sketch *s, uint8_t *buf, size_t cap);

/* Adds the stored sketch buf[0 .. len) to into. Returns 0, or
 * SKETCH_E_FORMAT when buf is not a valid storage form (NULL, truncated, trailing
 * bytes, unknown version, out-of-range or unordered bins, empty entries,
 * overlong varints), in which case into is unchanged. Reads no byte outside
 * buf, for any input. */
int sketch_decode_merge(Sketch *into, const void *buf, size_t len);
