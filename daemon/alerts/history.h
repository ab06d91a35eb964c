/* daemon/alerts/history.h: the alert history, the store's database
 * `alert_history`: every transition (pending, firing, resolved, ok) and
 * every SLA breach notice, silenced or not, in time order. Repeats of a
 * firing alert are not transitions and are not recorded.
 *
 *   key:   ts(u64 big-endian, Unix ms) id(16 bytes, the notice id)
 *          so a cursor walks the history in time order either way.
 *   value: version(u8 = ALERT_HISTORY_RECORD_V1), then the rest of
 *          AlertHistoryRecord (history.c) in host byte order: kind, state,
 *          op, severity, priority, silenced, the index name (NUL-padded,
 *          32 bytes), window, since, ts (ms), value, threshold, clear
 *          (float64), samples (u64), id (16 bytes), the lengths of rule,
 *          scope name and ticket (u8 each) and the scope kind (u8), 4 zero
 *          bytes; then the rule, scope name and ticket bytes. A reader
 *          skips records of a newer version.
 * Entries older than `[daemon] retention` are pruned.
 */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "alerts/notice.h"
#include "store/store.h"

#define ALERT_HISTORY_RECORD_V1 1

/* Appends n inside the write transaction txn. Returns 0 or a store error. */
int alert_history_add(Store *store, MDB_txn *txn, const AlertNotice *n);

/* Calls fn for each readable entry with ts >= since_ms, newest first, until
 * fn returns non-zero (returned) or `max` entries were given. Returns 0,
 * fn's value, or a store error. */
typedef int (*AlertHistoryFn)(const AlertNotice *n, void *userdata);
int alert_history_foreach(Store *store, MDB_txn *txn, int64_t since_ms, size_t max, AlertHistoryFn fn,
                          void *userdata);

/* The ts of the oldest entry; STORE_E_NOTFOUND when the history is empty. */
int alert_history_oldest(Store *store, MDB_txn *txn, int64_t *ts_ms);

/* Deletes up to max entries older than before_ms, oldest first, inside the
 * write transaction txn. Sets *deleted. Returns 0 or a store error. */
int alert_history_prune(Store *store, MDB_txn *txn, int64_t before_ms, unsigned max, unsigned *deleted);
