/* daemon/alerts/silences.c: silences in memory and their records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/silences.h"

typedef struct {
        uint8_t version;
        uint8_t rule_len, scope_len, pad;
        uint16_t comment_len;
        uint8_t pad2[2];
        int64_t created_ms, until_ms;
} SilenceRecord;

_Static_assert(sizeof(SilenceRecord) == 24, "SilenceRecord has no padding");

typedef struct {
        uint8_t version, pad[7];
        uint64_t next;
} SilenceCounter;

void silences_init(Silences *ss) {
        *ss = (Silences){0};
}

void silences_deinit(Silences *ss) {
        free(ss->v);
        *ss = (Silences){0};
}

static void key_of(uint64_t id, uint8_t buf[8]) {
        for (int i = 0; i < 8; i++)
                buf[i] = (uint8_t)(id >> (56 - 8 * i));
}

static uint64_t key_id(const MDB_val *k) {
        const uint8_t *p = k->mv_data;
        uint64_t id = 0;

        if (k->mv_size != 8)
                return 0;
        for (int i = 0; i < 8; i++)
                id = id << 8 | p[i];
        return id;
}

static bool record_read(const MDB_val *v, Silence *s) {
        const uint8_t *p = v->mv_data;
        char scope[SCOPE_TEXT_MAX];
        SilenceRecord rec;

        if (v->mv_size < sizeof(rec) || p[0] != SILENCE_RECORD_V1)
                return false;
        memcpy(&rec, p, sizeof(rec));
        if (rec.rule_len == 0 || rec.rule_len > RULE_NAME_MAX || rec.scope_len >= SCOPE_TEXT_MAX ||
            rec.comment_len > SILENCE_COMMENT_MAX ||
            v->mv_size != sizeof(rec) + rec.rule_len + rec.scope_len + rec.comment_len)
                return false;
        p += sizeof(rec);
        memcpy(s->rule, p, rec.rule_len);
        s->rule[rec.rule_len] = 0;
        p += rec.rule_len;
        memcpy(scope, p, rec.scope_len);
        scope[rec.scope_len] = 0;
        p += rec.scope_len;
        memcpy(s->comment, p, rec.comment_len);
        s->comment[rec.comment_len] = 0;
        s->has_pattern = rec.scope_len > 0;
        if (s->has_pattern && scope_pattern_parse(scope, &s->pattern) < 0)
                return false;
        s->created_ms = rec.created_ms;
        s->until_ms = rec.until_ms;
        return true;
}

int silences_load(Silences *ss, Store *store, MDB_txn *txn) {
        MDB_cursor *c;
        MDB_val k, v;
        int rc, r = 0;

        rc = mdb_cursor_open(txn, store->alert_silences, &c);
        if (rc)
                return store_err(rc);
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                Silence s = {.id = key_id(&k)};

                if (s.id == 0 || !record_read(&v, &s))
                        continue;
                if ((r = silences_insert(ss, &s)) < 0)
                        break;
        }
        mdb_cursor_close(c);
        if (r)
                return r;
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int silences_store_add(Store *store, MDB_txn *txn, Silence *s) {
        uint8_t kbuf[8] = {0}, *p;
        MDB_val k = {8, kbuf}, v;
        SilenceCounter ctr = {.version = 1, .next = 1};
        SilenceRecord rec = {.version = SILENCE_RECORD_V1};
        char scope[SCOPE_TEXT_MAX] = "";
        size_t rl = strlen(s->rule), sl = s->has_pattern ? scope_pattern_format(&s->pattern, scope) : 0,
               cl = strlen(s->comment);
        int rc;

        rc = mdb_get(txn, store->alert_silences, &k, &v);
        if (rc == 0 && v.mv_size >= sizeof(ctr) && ((const uint8_t *)v.mv_data)[0] == 1)
                memcpy(&ctr, v.mv_data, sizeof(ctr));
        else if (rc && rc != MDB_NOTFOUND)
                return store_err(rc);
        s->id = ctr.next++;
        v = (MDB_val){sizeof(ctr), &ctr};
        if ((rc = mdb_put(txn, store->alert_silences, &k, &v, 0)))
                return store_err(rc);

        rec.rule_len = (uint8_t)rl;
        rec.scope_len = (uint8_t)sl;
        rec.comment_len = (uint16_t)cl;
        rec.created_ms = s->created_ms;
        rec.until_ms = s->until_ms;
        key_of(s->id, kbuf);
        v.mv_size = sizeof(rec) + rl + sl + cl;
        if ((rc = mdb_put(txn, store->alert_silences, &k, &v, MDB_RESERVE)))
                return store_err(rc);
        p = v.mv_data;
        memcpy(p, &rec, sizeof(rec));
        memcpy(p + sizeof(rec), s->rule, rl);
        memcpy(p + sizeof(rec) + rl, scope, sl);
        memcpy(p + sizeof(rec) + rl + sl, s->comment, cl);
        return 0;
}

int silences_store_del(Store *store, MDB_txn *txn, uint64_t id) {
        uint8_t kbuf[8];
        MDB_val k = {8, kbuf};

        if (id == 0)
                return STORE_E_NOTFOUND;
        key_of(id, kbuf);
        return store_err(mdb_del(txn, store->alert_silences, &k, NULL));
}

int silences_insert(Silences *ss, const Silence *s) {
        size_t i;

        if (ss->n == ss->cap) {
                size_t cap = ss->cap ? ss->cap * 2 : 8;
                Silence *v = realloc(ss->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                ss->v = v;
                ss->cap = cap;
        }
        for (i = ss->n; i > 0 && ss->v[i - 1].id > s->id; i--)
                ;
        memmove(&ss->v[i + 1], &ss->v[i], (ss->n - i) * sizeof(*ss->v));
        ss->v[i] = *s;
        ss->n++;
        return 0;
}

bool silences_remove(Silences *ss, uint64_t id) {
        for (size_t i = 0; i < ss->n; i++)
                if (ss->v[i].id == id) {
                        memmove(&ss->v[i], &ss->v[i + 1], (ss->n - i - 1) * sizeof(*ss->v));
                        ss->n--;
                        return true;
                }
        return false;
}

const Silence *silences_get(const Silences *ss, uint64_t id) {
        for (size_t i = 0; i < ss->n; i++)
                if (ss->v[i].id == id)
                        return &ss->v[i];
        return NULL;
}

const Silence *silences_match(const Silences *ss, const char *rule, const Scope *scope, int64_t now) {
        for (size_t i = 0; i < ss->n; i++) {
                const Silence *s = &ss->v[i];
                if (now < s->until_ms && strcmp(s->rule, rule) == 0 &&
                    (!s->has_pattern || scope_pattern_match(&s->pattern, scope)))
                        return s;
        }
        return NULL;
}

uint64_t silences_expired(const Silences *ss, int64_t now) {
        for (size_t i = 0; i < ss->n; i++)
                if (ss->v[i].until_ms <= now)
                        return ss->v[i].id;
        return 0;
}
