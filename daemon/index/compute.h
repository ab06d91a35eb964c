/* daemon/index/compute.h: the value of any contract index (CONTRACT.md
 * section 3) for one scope over one window, read from the bucket store.
 *
 * Windows: a window W ending now covers the buckets of event time
 *   W <= 48 h: the current minute and the ceil(W / 1m) - 1 minutes before it
 *              (so between W - 1m and W);
 *   W >  48 h: the ceil(W / 1h) - 1 whole hours before the current one,
 *              from the hour buckets, and the current hour's minutes up to
 *              now (so between W - 1h and W).
 * Every batch writes both bucket sizes (store/buckets.h), so the two views
 * agree and minute buckets can be dropped once they are older than 48 h.
 *
 * Gauges (backlog, overdue, complaints_open) are "now" values, the same for
 * every window. `grade` has no number: compute_value gives service_index's
 * value for it and callers print index_grade() of it.
 */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "index/indices.h"
#include "index/scope.h"
#include "index/sketch.h"
#include "store/buckets.h"
#include "store/gauges.h"
#include "store/store.h"

#define MINUTE_WINDOW_MAX_MS (48LL * 3600 * 1000)

typedef struct {
        int64_t window_ms;
        int64_t now_ms;
        bool hourly;       /* hour buckets (W > 48 h) */
        uint32_t from, to; /* bucket numbers: minutes, or hours when hourly */
        int64_t from_ms;   /* start of the oldest bucket */
} WindowSpan;

/* Fills w for window_ms (> 0) ending at now_ms. */
void window_span(int64_t window_ms, int64_t now_ms, WindowSpan *w);

/* Which parts a computation needs loaded beyond the bucket sums. */
enum {
        NEED_GAUGES = 1 << 0,
        NEED_FRT_SKETCH = 1 << 1,
        NEED_RES_SKETCH = 1 << 2,
};

/* What the indices of one scope over one window are computed from. The
 * sketches are large (about 10 KB each): allocate a ScopeWindow on the heap
 * or reuse one. */
typedef struct {
        BucketRecord sum;
        Gauges gauges;
        Sketch frt, res;
        unsigned loaded; /* NEED_* bits actually loaded */
} ScopeWindow;

/* The NEED_* bits index id requires. */
unsigned compute_needs(IndexId id);

/* Loads the sums of s over w and the parts in `need` into *sw (which it
 * resets first). Returns 0 or a store error. */
int compute_load(Store *st, MDB_txn *txn, const Scope *s, const WindowSpan *w, unsigned need, ScopeWindow *sw);

/* Computes index id from a loaded ScopeWindow (the parts it needs must be
 * loaded, else it is null). Returns false when the index is null (no
 * samples); *value and *samples are always set. *samples is the number of
 * samples behind the value (what `min_samples` compares with): events for
 * counts, the denominator for rates, the scored complaints for points. */
bool compute_value(const ScopeWindow *sw, IndexId id, const Config *c, double *value, uint64_t *samples);
