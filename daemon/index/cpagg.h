/* daemon/index/cpagg.h: CpAgg, the complaint sums of one scope over one
 * bucket or window (CONTRACT.md section 3, complaints). Merges by addition.
 * Part of the stored bucket record: change only with a record version bump.
 *
 *   opened, resolved   the minute of that event;
 *   repeat             openings by a customer who opened another complaint
 *                      in the 30 days before;
 *   unhandled          complaints that passed unhandled_after unresolved,
 *                      counted in the minute they passed it;
 *   points, scored     outcome points of resolutions plus unhandled points,
 *                      and how many complaints they came from.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "index/indices.h"

typedef struct {
        uint64_t opened, resolved, repeat, unhandled, scored;
        double points;
} CpAgg;

void cpagg_merge(CpAgg *into, const CpAgg *from);

/* Computes the complaint indices except complaint_rate (which needs ticket
 * counts: see index/compute.h) and the complaints_open gauge. */
bool cpagg_value(const CpAgg *a, IndexId id, double *value, uint64_t *samples);
