/* daemon/store/gauges.h: Gauges, the "now" values of a scope that do not
 * depend on a window: open tickets, overdue tickets, open complaints.
 *
 * Database `gauges`. Key: the scope part of a bucket key (kind, len, name).
 * Value: version(u8 = 1) 7 zero bytes, then Gauges (host order). Deltas
 * are coalesced per batch and added here at flush.
 */
#pragma once

#include <lmdb.h>
#include <stdint.h>

#include "index/scope.h"
#include "store/store.h"

typedef struct {
        int64_t backlog, overdue, complaints_open;
} Gauges;

/* Adds delta to the stored gauges of s inside txn. Returns 0 or an error. */
int gauges_add(Store *st, MDB_txn *txn, const Scope *s, const Gauges *delta);

/* Reads the gauges of s (zero when none). Returns 0 or an error. */
int gauges_get(Store *st, MDB_txn *txn, const Scope *s, Gauges *out);
