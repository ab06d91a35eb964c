/* daemon/index/fbagg.h: FbAgg, the satisfaction aggregate of one scope over
 * one bucket or window: counts and sums from which every satisfaction index
 * of CONTRACT.md section 3 is computed. Aggregates merge by addition, so a
 * window is the merge of its buckets.
 *
 * Stored in LMDB as part of a bucket record (store/buckets.h): the layout is
 * part of the storage format, change it only with a record version bump.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "index/indices.h"
#include "proto/event.h"

typedef struct {
        uint64_t n;                          /* feedback events */
        uint64_t csat_top;                   /* scores in the top two points */
        uint64_t nps_n, nps_promoters, nps_detractors;
        uint64_t rater_events;               /* feedback with any RATER dimension */
        uint64_t rater_n[_RATER_DIM_MAX];
        double score_sum;                    /* sum of norm(score) */
        double rater_sum[_RATER_DIM_MAX];    /* sums of norm(dimension) */
} FbAgg;

/* norm(x) = 100 * (x - 1) / (scale - 1). */
double fbagg_norm(uint32_t x, uint32_t scale);

/* Adds one validated feedback event. */
void fbagg_add(FbAgg *a, const Event *ev);

void fbagg_merge(FbAgg *into, const FbAgg *from);

/* Computes a satisfaction index (IDX_FEEDBACK_COUNT .. IDX_RATER_INDEX).
 * weights are the five RATER weights in RaterDim order. Sets *samples to the
 * number of samples behind the value; returns false (null) when there are
 * none. */
bool fbagg_value(const FbAgg *a, IndexId id, const double *weights, double *value, uint64_t *samples);
