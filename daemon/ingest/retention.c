/* daemon/ingest/retention.c: one bounded pruning step over every database
 * that grows with time. */
#include "ingest/retention.h"
#include "index/compute.h"
#include "ingest/complaints.h"
#include "ingest/tickets.h"

/* Minute buckets outlive the longest minute-resolution window by an hour,
 * so a window read at the edge never finds its oldest minutes gone. */
#define MINUTE_KEEP_MS (MINUTE_WINDOW_MAX_MS + 3600000LL)

int retention_step(Retention *rt, Store *st, const Config *c, int64_t now_ms, unsigned scan) {
        int64_t minute_before = (now_ms - MINUTE_KEEP_MS) / 60000;
        int64_t hour_before = (now_ms - c->retention_ms) / 3600000 - 1;
        unsigned deleted = 0, n;
        MDB_txn *txn;
        int r;

        if ((r = store_begin(st, 0, &txn)))
                return r;
        if (minute_before > 0) {
                if ((r = buckets_prune(st, txn, RES_MINUTE, (uint32_t)minute_before, scan, &rt->minute, &n)))
                        goto fail;
                deleted += n;
        }
        if (hour_before > 0) {
                if ((r = buckets_prune(st, txn, RES_HOUR, (uint32_t)hour_before, scan, &rt->hour, &n)))
                        goto fail;
                deleted += n;
        }
        if ((r = tickets_prune(st, txn, now_ms, c->retention_ms, scan, rt->tickets, &rt->tickets_len, &n)))
                goto fail;
        deleted += n;
        if ((r = complaints_prune(st, txn, now_ms, c->retention_ms, scan, rt->complaints, &rt->complaints_len, &n)))
                goto fail;
        deleted += n;
        if (!deleted) {
                /* Nothing to make durable: no fsync. */
                mdb_txn_abort(txn);
                return 0;
        }
        if ((r = store_commit(txn)))
                return r;
        rt->deleted += deleted;
        return 0;
fail:
        mdb_txn_abort(txn);
        return r;
}
