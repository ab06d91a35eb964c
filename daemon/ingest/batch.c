/* daemon/ingest/batch.c: the coalescing map and the ack queue. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"
#include "util/error.h"
#include "util/hash.h"

/* Gauge deltas share the map with bucket deltas under this minute, which
 * no event time reaches (year 10136). */
#define GAUGE_MINUTE UINT32_MAX

typedef struct {
        Scope scope;
        uint32_t minute;
        uint64_t hash; /* of (scope, minute): compared before the name */
        BucketRecord rec;
        Gauges gauges;
} Entry;

typedef struct {
        Scope scope;
        uint32_t minute;
        uint8_t which;
        double value;
} Sample;

struct Batch {
        Entry *entries;
        size_t n_entries, cap_entries;
        Entry **order; /* entries sorted at flush (pointers: an Entry is big) */
        size_t cap_order;
        /* Open addressing; a slot holds the hash's high half above the
         * entry index + 1 (0 = free), so a probe that misses reads no Entry
         * (each one a cache miss: an Entry is ~400 bytes). */
        uint64_t *slots;
        size_t n_slots;  /* power of two, > 2 * n_entries */
        Ack *acks;
        size_t n_acks, cap_acks;
        Sample *samples;
        size_t n_samples, cap_samples;
        double *values;   /* one group's values at flush */
        Scope *touched;   /* distinct scopes written, built by batch_flush */
        size_t n_touched, cap_touched;
        Breach *breaches;
        size_t n_breaches, cap_breaches;
        Sketch *scratch;  /* one sketch accumulator at flush */
        uint8_t *enc;     /* its encoding, SKETCH_ENCODED_MAX bytes */
};

int batch_new(Batch **out) {
        _cleanup_(batch_freep) Batch *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        b->n_slots = 1024;
        b->slots = calloc(b->n_slots, sizeof(*b->slots));
        b->scratch = calloc(1, sizeof(Sketch)); /* all zero: an empty sketch */
        b->enc = malloc(SKETCH_ENCODED_MAX);
        if (!b->slots || !b->scratch || !b->enc)
                return -ENOMEM;
        *out = TAKE_PTR(b);
        return 0;
}

Batch *batch_free(Batch *b) {
        if (b) {
                free(b->entries);
                free(b->order);
                free(b->slots);
                free(b->acks);
                free(b->samples);
                free(b->values);
                free(b->touched);
                free(b->breaches);
                free(b->scratch);
                free(b->enc);
                free(b);
        }
        return NULL;
}

#define SLOT_TAG(h) ((h) & 0xffffffff00000000ULL)

static uint64_t hash(const Scope *s, uint32_t minute) {
        return hash_bytes((uint64_t)s->kind << 32 | minute, s->name, s->len);
}

static int grow_slots(Batch *b) {
        size_t n = b->n_slots * 2;
        uint64_t *slots = calloc(n, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_entries; i++) {
                size_t j = b->entries[i].hash & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = SLOT_TAG(b->entries[i].hash) | (i + 1);
        }
        free(b->slots);
        b->slots = slots;
        b->n_slots = n;
        return 0;
}

static Entry *lookup_h(Batch *b, const Scope *s, uint32_t minute, uint64_t h) {
        size_t j;
        Entry *e;

        if (2 * (b->n_entries + 1) > b->n_slots && grow_slots(b) < 0)
                return NULL;
        for (j = h & (b->n_slots - 1); b->slots[j]; j = (j + 1) & (b->n_slots - 1)) {
                if (SLOT_TAG(b->slots[j]) != SLOT_TAG(h))
                        continue;
                e = &b->entries[(b->slots[j] & 0xffffffffu) - 1];
                if (e->hash == h && e->minute == minute && e->scope.kind == s->kind && e->scope.len == s->len &&
                    memcmp(e->scope.name, s->name, s->len) == 0)
                        return e;
        }
        if (b->n_entries == b->cap_entries) {
                size_t cap = b->cap_entries ? b->cap_entries * 2 : 256;
                Entry *n = realloc(b->entries, cap * sizeof(*n));
                if (!n)
                        return NULL;
                b->entries = n;
                b->cap_entries = cap;
        }
        e = &b->entries[b->n_entries];
        e->scope = *s;
        e->minute = minute;
        e->hash = h;
        memset(&e->rec, 0, sizeof(e->rec));
        memset(&e->gauges, 0, sizeof(e->gauges));
        b->slots[j] = SLOT_TAG(h) | ++b->n_entries;
        return e;
}

static Entry *lookup(Batch *b, const Scope *s, uint32_t minute) {
        return lookup_h(b, s, minute, hash(s, minute));
}

uint32_t batch_minute(int64_t ts_ms) {
        int64_t m = ts_ms / 60000;
        return ts_ms < 0 ? 0 : m > (int64_t)UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)m;
}

BucketRecord *batch_bucket(Batch *b, const Scope *s, uint32_t minute) {
        Entry *e = lookup(b, s, minute);
        return e ? &e->rec : NULL;
}

Gauges *batch_gauges(Batch *b, const Scope *s) {
        Entry *e = lookup(b, s, GAUGE_MINUTE);
        return e ? &e->gauges : NULL;
}

/* Merges delta into the bucket (minute of ts) of `all` and every known
 * scope of set; merge knows which part of the record delta is. */
static int add_to_scopes(Batch *b, const ScopeSet *set, int64_t ts, void (*merge)(BucketRecord *, const void *),
                         const void *delta) {
        Scope scopes[4];
        int n = scopeset_list(set, true, scopes);
        uint32_t minute = batch_minute(ts);

        for (int i = 0; i < n; i++) {
                BucketRecord *r = batch_bucket(b, &scopes[i], minute);
                if (!r)
                        return -ENOMEM;
                merge(r, delta);
        }
        return 0;
}

static void merge_tk(BucketRecord *r, const void *delta) {
        tkagg_merge(&r->tk, delta);
}

static void merge_cp(BucketRecord *r, const void *delta) {
        cpagg_merge(&r->cp, delta);
}

int batch_add_tk(Batch *b, const ScopeSet *set, int64_t ts, const TkAgg *delta) {
        return add_to_scopes(b, set, ts, merge_tk, delta);
}

int batch_add_cp(Batch *b, const ScopeSet *set, int64_t ts, const CpAgg *delta) {
        return add_to_scopes(b, set, ts, merge_cp, delta);
}

int batch_add_gauges(Batch *b, const ScopeSet *set, bool with_all, const Gauges *delta) {
        Scope scopes[4];
        int n = scopeset_list(set, with_all, scopes);

        for (int i = 0; i < n; i++) {
                Gauges *g = batch_gauges(b, &scopes[i]);
                if (!g)
                        return -ENOMEM;
                g->backlog += delta->backlog;
                g->overdue += delta->overdue;
                g->complaints_open += delta->complaints_open;
        }
        return 0;
}

int batch_add_sample(Batch *b, const Scope *s, uint32_t minute, uint8_t which, double seconds) {
        if (b->n_samples == b->cap_samples) {
                size_t cap = b->cap_samples ? b->cap_samples * 2 : 256;
                Sample *n = realloc(b->samples, cap * sizeof(*n));
                double *v = realloc(b->values, cap * sizeof(*v));
                if (n)
                        b->samples = n;
                if (v)
                        b->values = v;
                if (!n || !v)
                        return -ENOMEM;
                b->cap_samples = cap;
        }
        b->samples[b->n_samples++] = (Sample){*s, minute, which, seconds};
        return 0;
}

void batch_feedback_keys(const Event *ev, FeedbackKeys *k) {
        k->n = scope_of_event(ev, k->scopes);
        k->minute = batch_minute(ev->ts);
        for (int i = 0; i < k->n; i++)
                k->hashes[i] = hash(&k->scopes[i], k->minute);
        memset(&k->delta, 0, sizeof(k->delta));
        fbagg_add(&k->delta, ev);
}

void batch_prefetch_feedback(const Batch *b, const FeedbackKeys *k, bool entries) {
        /* Only the tag is compared: a wrong guess costs a wasted prefetch,
         * never a wrong result (batch_add_feedback looks up for real). */
        for (int i = 0; i < k->n; i++) {
                uint64_t h = k->hashes[i];
                if (!entries) {
                        __builtin_prefetch(&b->slots[h & (b->n_slots - 1)], 0);
                        continue;
                }
                for (size_t j = h & (b->n_slots - 1); b->slots[j]; j = (j + 1) & (b->n_slots - 1)) {
                        if (SLOT_TAG(b->slots[j]) != SLOT_TAG(h))
                                continue;
                        const Entry *e = &b->entries[(b->slots[j] & 0xffffffffu) - 1];
                        __builtin_prefetch(e, 0);
                        __builtin_prefetch(&e->rec.fb, 1);
                        __builtin_prefetch((const char *)&e->rec.fb + 64, 1);
                        __builtin_prefetch((const char *)&e->rec.fb + 128, 1);
                        break;
                }
        }
}

int batch_add_feedback_keys(Batch *b, const FeedbackKeys *k) {
        for (int i = 0; i < k->n; i++) {
                Entry *e = lookup_h(b, &k->scopes[i], k->minute, k->hashes[i]);
                if (!e)
                        return -ENOMEM;
                fbagg_merge(&e->rec.fb, &k->delta);
        }
        return 0;
}

int batch_add_feedback(Batch *b, const Event *ev) {
        FeedbackKeys k;

        batch_feedback_keys(ev, &k);
        return batch_add_feedback_keys(b, &k);
}

int batch_add_ack(Batch *b, const void *routing, size_t routing_len, bool delimiter, AckStatus status, Slice id) {
        Ack *a;

        if (b->n_acks == b->cap_acks) {
                size_t cap = b->cap_acks ? b->cap_acks * 2 : 64;
                Ack *n = realloc(b->acks, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                b->acks = n;
                b->cap_acks = cap;
        }
        a = &b->acks[b->n_acks++];
        a->routing_len = (uint8_t)(routing_len > ACK_ROUTING_MAX ? ACK_ROUTING_MAX : routing_len);
        memcpy(a->routing, routing, a->routing_len);
        a->delimiter = delimiter;
        a->status = (uint8_t)status;
        a->id_len = (uint8_t)id.len;
        memcpy(a->id, id.ptr, id.len);
        return 0;
}

static int scope_cmp(const Scope *a, const Scope *b) {
        if (a->kind != b->kind)
                return a->kind - b->kind;
        if (a->len != b->len)
                return a->len - b->len;
        return memcmp(a->name, b->name, a->len);
}

static int sample_cmp(const void *x, const void *y) {
        const Sample *a = x, *b = y;
        int c = scope_cmp(&a->scope, &b->scope);

        if (c)
                return c;
        if (a->minute != b->minute)
                return a->minute < b->minute ? -1 : 1;
        return a->which - b->which;
}

static int entry_cmp(const void *x, const void *y) {
        const Entry *a = *(Entry *const *)x, *b = *(Entry *const *)y;
        int c = scope_cmp(&a->scope, &b->scope);

        if (c)
                return c;
        return a->minute < b->minute ? -1 : a->minute > b->minute;
}

static int touch(Batch *b, const Scope *s) {
        if (b->n_touched && scope_cmp(&b->touched[b->n_touched - 1], s) == 0)
                return 0;
        if (b->n_touched == b->cap_touched) {
                size_t cap = b->cap_touched ? b->cap_touched * 2 : 64;
                Scope *n = realloc(b->touched, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                b->touched = n;
                b->cap_touched = cap;
        }
        b->touched[b->n_touched++] = *s;
        return 0;
}

/* Writes the sketches of the sorted samples at one resolution: one
 * read-merge-write per (scope, bucket, which). */
static int flush_samples(Batch *b, Store *st, MDB_txn *txn, BucketRes res) {
        int r;

        for (size_t i = 0; i < b->n_samples;) {
                size_t j = i, n = 0;
                while (j < b->n_samples && sample_cmp(&b->samples[i], &b->samples[j]) == 0)
                        b->values[n++] = b->samples[j++].value;
                r = buckets_sketch_add(st, txn, res, &b->samples[i].scope, b->samples[i].minute, b->samples[i].which,
                                       b->values, n, b->scratch, b->enc);
                if (r)
                        return r;
                i = j;
        }
        return 0;
}

static int write_records(Batch *b, Store *st, MDB_txn *txn, MDB_cursor *mc, MDB_cursor *hc) {
        BucketRecord hour = {0};
        const Entry *hour_of = NULL;
        int r;

        b->n_touched = 0;
        for (size_t i = 0; i < b->n_entries; i++) {
                const Entry *e = b->order[i];
                if ((r = touch(b, &e->scope)))
                        return r;
                if (e->minute == GAUGE_MINUTE) {
                        r = gauges_add(st, txn, &e->scope, &e->gauges);
                } else {
                        r = buckets_add_at(mc, &e->scope, e->minute, &e->rec);
                        if (!r && hour_of && (scope_cmp(&hour_of->scope, &e->scope) || hour_of->minute / 60 != e->minute / 60)) {
                                r = buckets_add_at(hc, &hour_of->scope, hour_of->minute / 60, &hour);
                                hour_of = NULL;
                        }
                        if (!hour_of) {
                                memset(&hour, 0, sizeof(hour));
                                hour_of = e;
                        }
                        bucket_record_merge(&hour, &e->rec);
                }
                if (r)
                        return r;
        }
        if (hour_of && (r = buckets_add_at(hc, &hour_of->scope, hour_of->minute / 60, &hour)))
                return r;
        return 0;
}

int batch_flush(Batch *b, Store *st, void *txn) {
        MDB_cursor *mc = NULL, *hc = NULL;
        int r;

        /* Key order: LMDB then walks its B-tree forward page by page. The
         * slots are rebuilt by batch_reset, so sorting is safe here. Sorted
         * by scope then minute, the minutes of one hour are adjacent and
         * fold into one hour-bucket write. */
        if (b->n_entries > b->cap_order) {
                Entry **n = realloc(b->order, b->n_entries * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                b->order = n;
                b->cap_order = b->n_entries;
        }
        for (size_t i = 0; i < b->n_entries; i++)
                b->order[i] = &b->entries[i];
        if (b->n_entries)
                qsort(b->order, b->n_entries, sizeof(*b->order), entry_cmp);
        r = buckets_cursor(st, txn, RES_MINUTE, &mc);
        if (!r)
                r = buckets_cursor(st, txn, RES_HOUR, &hc);
        if (!r)
                r = write_records(b, st, txn, mc, hc);
        if (mc)
                mdb_cursor_close(mc);
        if (hc)
                mdb_cursor_close(hc);
        if (r)
                return r;

        if (!b->n_samples)
                return 0;
        qsort(b->samples, b->n_samples, sizeof(Sample), sample_cmp);
        if ((r = flush_samples(b, st, txn, RES_MINUTE)))
                return r;
        for (size_t i = 0; i < b->n_samples; i++)
                b->samples[i].minute /= 60;
        qsort(b->samples, b->n_samples, sizeof(Sample), sample_cmp);
        return flush_samples(b, st, txn, RES_HOUR);
}

const Scope *batch_touched(const Batch *b, size_t *n) {
        *n = b->n_touched;
        return b->touched;
}

int batch_add_breach(Batch *b, const Breach *br) {
        if (b->n_breaches == b->cap_breaches) {
                size_t cap = b->cap_breaches ? b->cap_breaches * 2 : 16;
                Breach *n = realloc(b->breaches, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                b->breaches = n;
                b->cap_breaches = cap;
        }
        b->breaches[b->n_breaches++] = *br;
        return 0;
}

const Breach *batch_breaches(const Batch *b, size_t *n) {
        *n = b->n_breaches;
        return b->breaches;
}

size_t batch_n_acks(const Batch *b) {
        return b->n_acks;
}

const Ack *batch_ack(const Batch *b, size_t i) {
        return &b->acks[i];
}

size_t batch_n_buckets(const Batch *b) {
        return b->n_entries;
}

void batch_reset(Batch *b) {
        if (b->n_entries)
                memset(b->slots, 0, b->n_slots * sizeof(*b->slots));
        b->n_entries = 0;
        b->n_acks = 0;
        b->n_samples = 0;
        b->n_breaches = 0;
}
