/* daemon/index/tkagg.h: TkAgg, the responsiveness sums of one scope over one
 * bucket or window (CONTRACT.md section 3, tickets). Merges by addition.
 * Part of the stored bucket record: change only with a record version bump.
 *
 * Where each ticket is counted (minute = bucket of event time):
 *   opened/resolved/reopened  the minute of that event;
 *   frt_*                     the minute of the ticket's first response;
 *   res_*                     the minute of its first resolution;
 *   sla_due, sla_met          the minute its SLA outcome was decided: the
 *                             first response when it came by the deadline
 *                             (met), else the deadline (breach);
 *   sla_breaches              the minute of the deadline, counted when the
 *                             deadline passes even if no event ever comes;
 *   fcr_n, fcr_ok             the minute of each resolution.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "index/indices.h"

typedef struct {
        uint64_t opened, resolved, reopened;
        uint64_t frt_n, res_n;
        double frt_sum, res_sum; /* seconds */
        uint64_t sla_due, sla_met, sla_breaches;
        uint64_t fcr_n, fcr_ok;
} TkAgg;

void tkagg_merge(TkAgg *into, const TkAgg *from);

/* Computes the count, mean and rate indices of tickets (not the quantiles,
 * which come from sketches, nor the gauges). Returns false (null) when the
 * index has no samples; *samples is always set. */
bool tkagg_value(const TkAgg *a, IndexId id, double *value, uint64_t *samples);
