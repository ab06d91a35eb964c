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

/* Whether (kind, id) was seen within horizon_ms before now_ms, in any
 * transaction txn (the daemon asks in a read transaction on its main
 * thread). Returns 0 (new, or only seen longer ago), DEDUP_E_DUPLICATE,
 * or an error. */
int dedup_seen(Store *st, MDB_txn *txn, EventKind kind, Slice id, int64_t now_ms, int64_t horizon_ms);

/* Records (kind, id) as seen at seen_ms inside the write transaction txn,
 * replacing an expired entry. Returns 0, STORE_E_FULL or -errno. */
int dedup_put(Store *st, MDB_txn *txn, EventKind kind, Slice id, int64_t seen_ms);

/* The same through a cursor on the dedup table: for many ids in key order,
 * each found from the last one's leaf page. */
int dedup_put_at(MDB_cursor *c, EventKind kind, Slice id, int64_t seen_ms);

/* Deletes up to max_scan expired entries, resuming after the key saved in
 * *cursor_key (a buffer of 1 + PROTO_ID_MAX bytes; *cursor_len 0 = start)
 * in its own small write transaction. Returns the number deleted or an
 * error. Run it from the housekeeping timer: the scan wraps around so the
 * whole table is visited over time without ever holding the lock long. */
int dedup_prune(Store *st, int64_t now_ms, int64_t horizon_ms, unsigned max_scan, uint8_t *cursor_key,
                size_t *cursor_len);
