/* daemon/store/dedup.c: the dedup table and its incremental pruning. */
#include <errno.h>
#include <string.h>

#include "store/dedup.h"

#define HEADER 8
#define VALUE_SIZE (HEADER + 8)

static int64_t value_seen(const MDB_val *v) {
        int64_t seen;

        if (v->mv_size != VALUE_SIZE || ((const uint8_t *)v->mv_data)[0] != 1)
                return INT64_MIN; /* unreadable: treat as expired */
        memcpy(&seen, (const uint8_t *)v->mv_data + HEADER, sizeof(seen));
        return seen;
}

static size_t make_key(uint8_t *kbuf, EventKind kind, Slice id) {
        kbuf[0] = (uint8_t)kind;
        memcpy(kbuf + 1, id.ptr, id.len);
        return 1 + id.len;
}

int dedup_seen(Store *st, MDB_txn *txn, EventKind kind, Slice id, int64_t now_ms, int64_t horizon_ms) {
        uint8_t kbuf[1 + PROTO_ID_MAX];
        MDB_val k = {make_key(kbuf, kind, id), kbuf}, v;
        int rc = mdb_get(txn, st->dedup, &k, &v);

        if (rc == MDB_NOTFOUND)
                return 0;
        if (rc)
                return store_err(rc);
        return value_seen(&v) > now_ms - horizon_ms ? DEDUP_E_DUPLICATE : 0;
}

int dedup_put_at(MDB_cursor *c, EventKind kind, Slice id, int64_t seen_ms) {
        uint8_t kbuf[1 + PROTO_ID_MAX];
        MDB_val k = {make_key(kbuf, kind, id), kbuf}, v = {VALUE_SIZE, NULL};
        int rc;

        /* Reserve and fill in place: one copy of the value, not two. */
        if ((rc = mdb_cursor_put(c, &k, &v, MDB_RESERVE)))
                return store_err(rc);
        memset(v.mv_data, 0, HEADER);
        ((uint8_t *)v.mv_data)[0] = 1;
        memcpy((uint8_t *)v.mv_data + HEADER, &seen_ms, sizeof(seen_ms));
        return 0;
}

int dedup_put(Store *st, MDB_txn *txn, EventKind kind, Slice id, int64_t seen_ms) {
        MDB_cursor *c;
        int rc = mdb_cursor_open(txn, st->dedup, &c);

        if (rc)
                return store_err(rc);
        rc = dedup_put_at(c, kind, id, seen_ms);
        mdb_cursor_close(c);
        return rc;
}

int dedup_prune(Store *st, int64_t now_ms, int64_t horizon_ms, unsigned max_scan, uint8_t *cursor_key,
                size_t *cursor_len) {
        MDB_txn *txn;
        MDB_cursor *c;
        MDB_val k, v;
        int rc, deleted = 0;
        unsigned scanned = 0;

        rc = mdb_txn_begin(st->env, NULL, 0, &txn);
        if (rc)
                return store_err(rc);
        rc = mdb_cursor_open(txn, st->dedup, &c);
        if (rc) {
                mdb_txn_abort(txn);
                return store_err(rc);
        }
        if (*cursor_len) {
                k = (MDB_val){*cursor_len, cursor_key};
                rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        } else {
                rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        }
        while (rc == 0 && scanned++ < max_scan) {
                if (value_seen(&v) <= now_ms - horizon_ms) {
                        if ((rc = mdb_cursor_del(c, 0)))
                                break;
                        deleted++;
                }
                /* After a delete LMDB's MDB_NEXT yields the entry that
                 * moved into the deleted slot, so no entry is skipped. */
                rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (rc == 0 && k.mv_size <= 1 + PROTO_ID_MAX) {
                memcpy(cursor_key, k.mv_data, k.mv_size);
                *cursor_len = k.mv_size;
        } else {
                *cursor_len = 0; /* end reached: wrap around */
        }
        mdb_cursor_close(c);
        if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) {
                mdb_txn_abort(txn);
                return store_err(rc);
        }
        rc = mdb_txn_commit(txn);
        return rc ? store_err(rc) : deleted;
}
