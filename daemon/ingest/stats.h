/* daemon/ingest/stats.h: Stats, the ingest counters shown by
 * `raterctl status`. Counted since the daemon started; not persisted. */
#pragma once

#include <stdint.h>

#include "proto/event.h"

typedef struct {
        uint64_t received;               /* messages read from ingest sockets */
        uint64_t applied;                /* events committed */
        uint64_t duplicate;              /* events seen before, committed as no-ops */
        uint64_t rejected;               /* sum of rejected_by[] */
        uint64_t rejected_by[_PROTO_E_MAX];
        uint64_t failed;                 /* events lost to a failed commit (storage full, I/O) */
        uint64_t batches;                /* durable commits */
        uint64_t writer_busy_ns;         /* writer thread on batches (transaction to durable) */
        uint64_t writer_commit_ns;       /* of which in LMDB's commit: page writes and fsyncs */
        uint64_t pruned;                 /* keys deleted past their retention */
        int64_t started_ms;
} Stats;
