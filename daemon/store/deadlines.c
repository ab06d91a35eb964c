/* daemon/store/deadlines.c: deadline index keys. */
#include <string.h>

#include "store/deadlines.h"

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
