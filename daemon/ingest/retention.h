/* daemon/ingest/retention.h: Retention, the incremental deletion of data
 * past its horizon (CONTRACT.md section 3, `retention`):
 *
 *   minute buckets and sketches   older than 49 h (windows up to 48 h read them)
 *   hour buckets and sketches     older than `retention` + 1 h
 *   ticket state                  closed tickets whose last event is older than `retention`
 *   complaint state               the same for complaints, and customer history
 *                                 older than 30 days
 *
 * Each step scans a bounded number of keys of each database from where the
 * last step stopped and deletes in one small write transaction, so a full
 * pass over a large store is spread over many ticks and never holds ingest
 * up for long. It must run between batches (LMDB has one writer).
 */
#pragma once

#include <stdint.h>

#include "config/config.h"
#include "store/buckets.h"
#include "store/store.h"

typedef struct {
        BucketsPrune minute, hour;
        uint8_t tickets[PROTO_ID_MAX], complaints[PROTO_ID_MAX];
        size_t tickets_len, complaints_len;
        uint64_t deleted; /* since start, for status */
} Retention;

/* Runs one step at now_ms, scanning at most `scan` keys per database.
 * Returns 0 or an error (nothing of the step is kept then). */
int retention_step(Retention *rt, Store *st, const Config *c, int64_t now_ms, unsigned scan);
