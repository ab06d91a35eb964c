/* daemon/store/deadlines.c: deadline index keys. */
#include <string.h>

#include "store/deadlines.h"
#include "store/store.h"

size_t deadline_key(int64_t deadline, const char *id, size_t len, uint8_t *buf) {
        uint64_t d = deadline < 0 ? 0 : (uint64_t)deadline;

        for (int i = 0; i < 8; i++)
                buf[i] = (uint8_t)(d >> (56 - 8 * i));
        memcpy(buf + 8, id, len);
        return 8 + len;
}

bool deadline_key_parse(const MDB_val *k, int64_t *deadline, const char **id, size_t *len) {
        const uint8_t *p = k->mv_data;
        uint64_t d = 0;

        if (k->mv_size <= 8)
                return false;
        for (int i = 0; i < 8; i++)
                d = d << 8 | p[i];
        *deadline = d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
        *id = (const char *)p + 8;
        *len = k->mv_size - 8;
        return true;
}

bool deadline_first_due(MDB_txn *txn, MDB_dbi dbi, int64_t now) {
        MDB_cursor *c;
        MDB_val k, v;
        bool due = false;

        if (mdb_cursor_open(txn, dbi, &c))
                return false;
        if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0) {
                int64_t d;
                const char *id;
                size_t len;
                /* A malformed key is due: the sweep drops it. */
                due = !deadline_key_parse(&k, &d, &id, &len) || d <= now;
        }
        mdb_cursor_close(c);
        return due;
}

int deadline_sweep(MDB_txn *txn, MDB_dbi dbi, int64_t now, unsigned max, DeadlineDueFn fn, void *userdata,
                   unsigned *swept) {
        MDB_cursor *cur;
        MDB_val k, v;
        int rc, r = 0;

        *swept = 0;
        rc = mdb_cursor_open(txn, dbi, &cur);
        if (rc)
                return store_err(rc);
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (rc == 0 && *swept < max) {
                const char *id;
                size_t len;
                int64_t deadline;

                if (deadline_key_parse(&k, &deadline, &id, &len)) {
                        if (deadline > now)
                                break;
                        if ((r = fn(userdata, id, len, deadline)))
                                break;
                }
                if ((rc = mdb_cursor_del(cur, 0)))
                        break;
                (*swept)++;
                /* After a delete MDB_NEXT yields the entry that moved into
                 * the deleted slot, so no entry is skipped. */
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (r)
                return r;
        return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}
