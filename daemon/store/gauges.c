/* daemon/store/gauges.c: per-scope gauges in LMDB. */
#include <string.h>

#include "store/buckets.h"
#include "store/gauges.h"

#define HEADER 8

static size_t key(const Scope *s, uint8_t *buf) {
        /* A bucket key without its minute. */
        return buckets_key(s, 0, buf) - 4;
}

int gauges_get(Store *st, MDB_txn *txn, const Scope *s, Gauges *out) {
        uint8_t kbuf[BUCKET_KEY_MAX];
        MDB_val k = {key(s, kbuf), kbuf}, v;
        int rc;

        memset(out, 0, sizeof(*out));
        rc = mdb_get(txn, st->gauges, &k, &v);
        if (rc == MDB_NOTFOUND)
                return 0;
        if (rc)
                return store_err(rc);
        if (v.mv_size != HEADER + sizeof(Gauges) || ((uint8_t *)v.mv_data)[0] != 1)
                return STORE_E_FORMAT;
        memcpy(out, (uint8_t *)v.mv_data + HEADER, sizeof(*out));
        return 0;
}

int gauges_add(Store *st, MDB_txn *txn, const Scope *s, const Gauges *delta) {
        uint8_t kbuf[BUCKET_KEY_MAX];
        MDB_val k = {key(s, kbuf), kbuf}, v;
        Gauges g;
        int r, rc;

        if ((r = gauges_get(st, txn, s, &g)))
                return r;
        g.backlog += delta->backlog;
        g.overdue += delta->overdue;
        g.complaints_open += delta->complaints_open;
        v.mv_size = HEADER + sizeof(g);
        rc = mdb_put(txn, st->gauges, &k, &v, MDB_RESERVE);
        if (rc)
                return store_err(rc);
        memset(v.mv_data, 0, HEADER);
        ((uint8_t *)v.mv_data)[0] = 1;
        memcpy((uint8_t *)v.mv_data + HEADER, &g, sizeof(g));
        return 0;
}
