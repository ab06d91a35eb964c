/* daemon/store/dedup.h: exactly-once by (kind, event id) within
 * dedup_horizon.
 *
 * Database `dedup`. Key: kind(u8) id(1-128 bytes). Value: version(u8 = 1)
 * 7 zero bytes, first_seen(int64 Unix ms, host order). An entry older than
 * the horizon is treated as absent and is overwritten or pruned.
 */
#pragma once

#include <lmdb.h>
#include <stdint.h>

#include "proto/event.h"
#include "store/store.h"

enum { DEDUP_E_DUPLICATE = 1 };

/* Records (kind, id) as seen at now_ms inside the write transaction txn.
 * Returns 0 when it is new, DEDUP_E_DUPLICATE when it was seen within
 * horizon_ms, STORE_E_FULL, or -errno. */
int dedup_check_and_set(Store *st, MDB_txn *txn, EventKind kind, Slice id, int64_t now_ms, int64_t horizon_ms);

/* Deletes up to max_scan expired entries, resuming after the key saved in
 * *cursor_key (a buffer of 1 + PROTO_ID_MAX bytes; *cursor_len 0 = start)
 * in its own small write transaction. Returns the number deleted or an
 * error. Run it from the housekeeping timer: the scan wraps around so the
 * whole table is visited over time without ever holding the lock long. */
int dedup_prune(Store *st, int64_t now_ms, int64_t horizon_ms, unsigned max_scan, uint8_t *cursor_key,
                size_t *cursor_len);
