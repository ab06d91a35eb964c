/* daemon/index/sketch.c: log-binned quantile sketch, its merge and its
 * sparse storage form. */
#include <math.h>
#include <string.h>

#include "index/sketch.h"

/* log(gamma) = log((1 + alpha) / (1 - alpha)), without the rounding of the
 * quotient. */
static double log_gamma(void) {
        return log1p(SKETCH_ALPHA) - log1p(-SKETCH_ALPHA);
}

/* Adds k to *c, saturating, and keeps *n the sum of the counters. */
static void count_add(uint32_t *c, uint64_t *n, uint32_t k) {
        uint32_t room = UINT32_MAX - *c;

        if (k > room)
                k = room;
        *c += k;
        *n += k;
}

/* Widens s's used range to bin i. */
static void use_bin(Sketch *s, size_t i) {
        if (s->lo == s->end) {
                s->lo = (uint16_t)i;
                s->end = (uint16_t)(i + 1);
        } else if (i < s->lo) {
                s->lo = (uint16_t)i;
        } else if (i >= s->end) {
                s->end = (uint16_t)(i + 1);
        }
}

void sketch_init(Sketch *s) {
        memset(s, 0, sizeof(*s));
}

void sketch_clear(Sketch *s) {
        memset(&s->bins[s->lo], 0, (size_t)(s->end - s->lo) * sizeof(s->bins[0]));
        s->n = 0;
        s->zero = 0;
        s->lo = s->end = 0;
}

void sketch_add(Sketch *s, double seconds) {
        double k;

        /* Also true for NaN, which compares false. */
        if (!(seconds >= SKETCH_MIN_SECONDS)) {
                count_add(&s->zero, &s->n, 1);
                return;
        }
        if (seconds > SKETCH_MAX_SECONDS)
                seconds = SKETCH_MAX_SECONDS;
        k = ceil(log(seconds) / log_gamma());
        /* log() may round a value at the range's edge one bin out. */
        if (k < SKETCH_K_MIN)
                k = SKETCH_K_MIN;
        else if (k > SKETCH_K_MAX)
                k = SKETCH_K_MAX;
        use_bin(s, (size_t)((int)k - SKETCH_K_MIN));
        count_add(&s->bins[(int)k - SKETCH_K_MIN], &s->n, 1);
}

void sketch_merge(Sketch *into, const Sketch *from) {
        /* Read each counter before writing into, so into == from doubles. */
        uint32_t zero = from->zero;
        size_t lo = from->lo, end = from->end;

        count_add(&into->zero, &into->n, zero);
        for (size_t i = lo; i < end; i++) {
                uint32_t c = from->bins[i];

                if (c) {
                        use_bin(into, i);
                        count_add(&into->bins[i], &into->n, c);
                }
        }
}

uint64_t sketch_count(const Sketch *s) {
        return s->n;
}

static double bin_value(size_t i) {
        double gamma = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA);

        return 2 * exp(((double)i + SKETCH_K_MIN) * log_gamma()) / (gamma + 1);
}

bool sketch_quantile(const Sketch *s, double q, double *out) {
        double r;
        uint64_t rank, cum;

        if (s->n == 0 || !(q >= 0 && q <= 1))
                return false;
        r = q * (double)s->n;
        r = ceil(r - r * 1e-12);
        rank = r < 1 ? 1 : (uint64_t)r;
        if (rank > s->n)
                rank = s->n;

        cum = s->zero;
        if (cum >= rank) {
                *out = 0;
                return true;
        }
        for (size_t i = s->lo; i < s->end; i++) {
                cum += s->bins[i];
                if (cum >= rank) {
                        *out = bin_value(i);
                        return true;
                }
        }
        /* Unreachable while n is the sum of the counters. */
        *out = bin_value(SKETCH_BINS - 1);
        return true;
}

size_t sketch_encoded_max(void) {
        return SKETCH_ENCODED_MAX;
}

static size_t put_varint(uint8_t *p, uint32_t v) {
        size_t n = 0;

        while (v >= 0x80) {
                p[n++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        p[n++] = (uint8_t)v;
        return n;
}

size_t sketch_encode(const Sketch *s, uint8_t *buf, size_t cap) {
        uint8_t tmp[5];
        size_t len, entries = 0, prev = 0;

        /* Size first, so a short buffer is never written past cap. */
        len = 1 + put_varint(tmp, s->zero);
        for (size_t i = s->lo; i < s->end; i++)
                if (s->bins[i]) {
                        len += put_varint(tmp, (uint32_t)(entries ? i - prev - 1 : i));
                        len += put_varint(tmp, s->bins[i]);
                        entries++;
                        prev = i;
                }
        len += put_varint(tmp, (uint32_t)entries);
        if (len > cap)
                return 0;

        len = 0;
        buf[len++] = SKETCH_FORMAT_VERSION;
        len += put_varint(buf + len, s->zero);
        len += put_varint(buf + len, (uint32_t)entries);
        entries = 0;
        for (size_t i = s->lo; i < s->end; i++)
                if (s->bins[i]) {
                        len += put_varint(buf + len, (uint32_t)(entries ? i - prev - 1 : i));
                        len += put_varint(buf + len, s->bins[i]);
                        entries++;
                        prev = i;
                }
        return len;
}

/* Reads one canonical varint; false on truncation, overlong or > 32 bits. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint32_t *out) {
        uint64_t v = 0;

        for (unsigned i = 0; i < 5; i++) {
                uint8_t b;

                if (*p >= end)
                        return false;
                b = *(*p)++;
                v |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        if ((i > 0 && b == 0) || v > UINT32_MAX)
                                return false;
                        *out = (uint32_t)v;
                        return true;
                }
        }
        return false;
}

/* Walks a stored sketch; adds it to into unless into is NULL. Run once
 * without into to validate, then once with it, so a malformed input leaves
 * into unchanged. */
static int parse(const uint8_t *p, size_t len, Sketch *into) {
        const uint8_t *end = p + len;
        uint32_t zero, entries, gap, count;
        uint64_t off = 0;

        if (len < 1 || *p++ != SKETCH_FORMAT_VERSION)
                return SKETCH_E_FORMAT;
        if (!get_varint(&p, end, &zero) || !get_varint(&p, end, &entries) || entries > SKETCH_BINS)
                return SKETCH_E_FORMAT;
        if (into)
                count_add(&into->zero, &into->n, zero);
        for (uint32_t e = 0; e < entries; e++) {
                if (!get_varint(&p, end, &gap) || !get_varint(&p, end, &count) || count == 0)
                        return SKETCH_E_FORMAT;
                off = e ? off + 1 + gap : gap;
                if (off >= SKETCH_BINS)
                        return SKETCH_E_FORMAT;
                if (into) {
                        use_bin(into, (size_t)off);
                        count_add(&into->bins[off], &into->n, count);
                }
        }
        return p == end ? 0 : SKETCH_E_FORMAT;
}

int sketch_decode_merge(Sketch *into, const void *buf, size_t len) {
        int r;

        if (!buf)
                return SKETCH_E_FORMAT;
        r = parse(buf, len, NULL);
        if (r)
                return r;
        return parse(buf, len, into);
}
