/* daemon/alerts/history.c: history records, their walk and pruning. */
#include <string.h>

#include "alerts/history.h"

#define INDEX_NAME_MAX 32
#define KEY_LEN (8 + ALERT_ID_LEN)

typedef struct {
        uint8_t version;
        uint8_t kind, state, op;
        int8_t severity, priority;
        uint8_t silenced, pad;
        char index[INDEX_NAME_MAX];
        int64_t window_ms, since_ms, ts_ms;
        double value, threshold, clear;
        uint64_t samples;
        uint8_t id[ALERT_ID_LEN];
        uint8_t rule_len, scope_len, ticket_len, scope_kind;
        uint8_t pad2[4];
} AlertHistoryRecord;

_Static_assert(sizeof(AlertHistoryRecord) == 8 + INDEX_NAME_MAX + 7 * 8 + ALERT_ID_LEN + 8,
               "AlertHistoryRecord has no padding");

static void key_of(int64_t ts, const uint8_t id[ALERT_ID_LEN], uint8_t *buf) {
        uint64_t t = (uint64_t)ts;

        for (int i = 0; i < 8; i++)
                buf[i] = (uint8_t)(t >> (56 - 8 * i));
        memcpy(buf + 8, id, ALERT_ID_LEN);
}

static int64_t key_ts(const MDB_val *k) {
        const uint8_t *p = k->mv_data;
        uint64_t t = 0;

        if (k->mv_size < 8)
                return 0;
        for (int i = 0; i < 8; i++)
                t = t << 8 | p[i];
        return (int64_t)t;
}

int alert_history_add(Store *store, MDB_txn *txn, const AlertNotice *n) {
        uint8_t kbuf[KEY_LEN], *p;
        MDB_val k = {KEY_LEN, kbuf}, v;
        AlertHistoryRecord rec = {0};
        size_t rl = strlen(n->rule), tl = strlen(n->ticket);
        int rc;

        rec.version = ALERT_HISTORY_RECORD_V1;
        rec.kind = n->kind;
        rec.state = n->state;
        rec.op = (uint8_t)n->def.op;
        rec.severity = (int8_t)n->def.severity;
        rec.priority = n->priority;
        rec.silenced = n->silenced;
        strncpy(rec.index, index_info(n->def.index)->name, sizeof(rec.index) - 1);
        rec.window_ms = n->def.window_ms;
        rec.since_ms = n->since_ms;
        rec.ts_ms = n->ts_ms;
        rec.value = n->value;
        rec.threshold = n->def.threshold;
        rec.clear = n->def.clear;
        rec.samples = n->samples;
        memcpy(rec.id, n->id, ALERT_ID_LEN);
        rec.rule_len = (uint8_t)rl;
        rec.scope_kind = n->scope.kind;
        rec.scope_len = n->scope.len;
        rec.ticket_len = (uint8_t)tl;

        key_of(n->ts_ms, n->id, kbuf);
        v.mv_size = sizeof(rec) + rl + n->scope.len + tl;
        rc = mdb_put(txn, store->alert_history, &k, &v, MDB_RESERVE);
        if (rc)
                return store_err(rc);
        p = v.mv_data;
        memcpy(p, &rec, sizeof(rec));
        p += sizeof(rec);
        memcpy(p, n->rule, rl);
        p += rl;
        memcpy(p, n->scope.name, n->scope.len);
        p += n->scope.len;
        memcpy(p, n->ticket, tl);
        return 0;
}

static bool record_read(const MDB_val *v, AlertNotice *n) {
        const uint8_t *p = v->mv_data;
        AlertHistoryRecord rec;
        int id;

        if (v->mv_size < sizeof(rec) || p[0] != ALERT_HISTORY_RECORD_V1)
                return false;
        memcpy(&rec, p, sizeof(rec));
        rec.index[sizeof(rec.index) - 1] = 0;
        id = index_lookup(rec.index);
        if (id < 0 || rec.rule_len > RULE_NAME_MAX || rec.scope_len > PROTO_NAME_MAX ||
            rec.scope_kind >= _SCOPE_KIND_MAX || rec.ticket_len > PROTO_ID_MAX || rec.kind >= _NOTICE_KIND_MAX ||
            rec.state >= _NOTICE_STATE_MAX || rec.op > RULE_ABOVE || rec.severity < 0 || rec.severity >= _SEV_MAX ||
            v->mv_size != sizeof(rec) + rec.rule_len + rec.scope_len + rec.ticket_len)
                return false;
        *n = (AlertNotice){
                .kind = rec.kind,
                .state = rec.state,
                .silenced = rec.silenced,
                .def = {.index = (IndexId)id,
                        .window_ms = rec.window_ms,
                        .op = (RuleOp)rec.op,
                        .severity = (AlertSeverity)rec.severity,
                        .threshold = rec.threshold,
                        .clear = rec.clear},
                .value = rec.value,
                .samples = rec.samples,
                .since_ms = rec.since_ms,
                .ts_ms = rec.ts_ms,
                .priority = rec.priority,
                .scope = {.kind = rec.scope_kind, .len = rec.scope_len},
        };
        memcpy(n->id, rec.id, ALERT_ID_LEN);
        p += sizeof(rec);
        memcpy(n->rule, p, rec.rule_len);
        p += rec.rule_len;
        memcpy(n->scope.name, p, rec.scope_len);
        p += rec.scope_len;
        memcpy(n->ticket, p, rec.ticket_len);
        return true;
}

int alert_history_foreach(Store *store, MDB_txn *txn, int64_t since_ms, size_t max, AlertHistoryFn fn,
                          void *userdata) {
        MDB_cursor *c;
        MDB_val k, v;
        size_t given = 0;
        int rc, r = 0;

        rc = mdb_cursor_open(txn, store->alert_history, &c);
        if (rc)
                return store_err(rc);
        for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0 && given < max;
             rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
                AlertNotice n;

                if (key_ts(&k) < since_ms)
                        break;
                if (!record_read(&v, &n))
                        continue;
                given++;
                if ((r = fn(&n, userdata)))
                        break;
        }
        mdb_cursor_close(c);
        if (r)
                return r;
        return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int alert_history_oldest(Store *store, MDB_txn *txn, int64_t *ts_ms) {
        MDB_cursor *c;
        MDB_val k, v;
        int rc;

        rc = mdb_cursor_open(txn, store->alert_history, &c);
        if (rc)
                return store_err(rc);
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc == 0)
                *ts_ms = key_ts(&k);
        mdb_cursor_close(c);
        return store_err(rc);
}

int alert_history_prune(Store *store, MDB_txn *txn, int64_t before_ms, unsigned max, unsigned *deleted) {
        MDB_cursor *c;
        MDB_val k, v;
        int rc;

        *deleted = 0;
        rc = mdb_cursor_open(txn, store->alert_history, &c);
        if (rc)
                return store_err(rc);
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && *deleted < max && key_ts(&k) < before_ms;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                if ((rc = mdb_cursor_del(c, 0)))
                        break;
                (*deleted)++;
        }
        mdb_cursor_close(c);
        return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}
