/* daemon/alerts/states.c: the hash table of non-ok alerts and its records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/states.h"

#define INDEX_NAME_MAX 32

typedef struct {
        uint8_t version;
        uint8_t state;
        uint8_t op;
        int8_t severity;
        uint8_t has_value;
        uint8_t pad[3];
        char index[INDEX_NAME_MAX]; /* NUL-padded */
        int64_t window_ms;
        int64_t since_ms, pending_since_ms, published_ms;
        double threshold, clear, value;
        uint64_t samples;
} AlertStateRecord;

_Static_assert(sizeof(AlertStateRecord) == 8 + INDEX_NAME_MAX + 8 * 8, "AlertStateRecord has no padding");

#define KEY_MAX (1 + RULE_NAME_MAX + 2 + PROTO_NAME_MAX)

void alert_states_init(AlertStates *t) {
        *t = (AlertStates){0};
}

void alert_states_deinit(AlertStates *t) {
        for (size_t i = 0; i < t->n_slots; i++) {
                AlertEntry *e = t->slots[i];
                while (e) {
                        AlertEntry *next = e->next;
                        free(e);
                        e = next;
                }
        }
        free(t->slots);
        *t = (AlertStates){0};
}

/* FNV-1a over rule, a separator, and the scope's kind, length and name. */
static size_t hash(const char *rule, const Scope *s) {
        uint64_t h = 14695981039346656037ULL;

        for (const char *p = rule; *p; p++)
                h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
        h = (h ^ s->kind) * 1099511628211ULL;
        h = (h ^ s->len) * 1099511628211ULL;
        for (size_t i = 0; i < s->len; i++)
                h = (h ^ (uint8_t)s->name[i]) * 1099511628211ULL;
        return (size_t)(h ^ (h >> 29));
}

static bool same(const AlertEntry *e, const char *rule, const Scope *s) {
        return e->scope.kind == s->kind && e->scope.len == s->len && memcmp(e->scope.name, s->name, s->len) == 0 &&
               strcmp(e->rule, rule) == 0;
}

AlertEntry *alert_states_get(const AlertStates *t, const char *rule, const Scope *s) {
        if (!t->n_slots)
                return NULL;
        for (AlertEntry *e = t->slots[hash(rule, s) & (t->n_slots - 1)]; e; e = e->next)
                if (same(e, rule, s))
                        return e;
        return NULL;
}

static int grow(AlertStates *t) {
        size_t n = t->n_slots ? t->n_slots * 2 : 64;
        AlertEntry **slots = calloc(n, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_slots; i++) {
                AlertEntry *e = t->slots[i];
                while (e) {
                        AlertEntry *next = e->next;
                        size_t j = hash(e->rule, &e->scope) & (n - 1);
                        e->next = slots[j];
                        slots[j] = e;
                        e = next;
                }
        }
        free(t->slots);
        t->slots = slots;
        t->n_slots = n;
        return 0;
}

int alert_states_set(AlertStates *t, const char *rule, const Scope *s, const AlertDef *def, const AlertState *st) {
        AlertEntry **link, *e;
        size_t len = strlen(rule);

        if (len > RULE_NAME_MAX)
                return -EINVAL;
        if (t->n_slots) {
                for (link = &t->slots[hash(rule, s) & (t->n_slots - 1)]; (e = *link); link = &e->next) {
                        if (!same(e, rule, s))
                                continue;
                        t->n_firing -= e->st.state == ALERT_FIRING;
                        if (st->state == ALERT_OK) {
                                *link = e->next;
                                free(e);
                                t->n--;
                                return 0;
                        }
                        e->def = *def;
                        e->st = *st;
                        t->n_firing += st->state == ALERT_FIRING;
                        return 0;
                }
        }
        if (st->state == ALERT_OK)
                return 0;
        if (t->n >= t->n_slots && grow(t) < 0)
                return -ENOMEM;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        memcpy(e->rule, rule, len + 1);
        e->slot = -1;
        e->scope = *s;
        e->def = *def;
        e->st = *st;
        link = &t->slots[hash(rule, s) & (t->n_slots - 1)];
        e->next = *link;
        *link = e;
        t->n++;
        t->n_firing += st->state == ALERT_FIRING;
        return 0;
}

AlertEntry *alert_states_next(const AlertStates *t, AlertStatesIter *it) {
        AlertEntry *e = it->next;

        while (!e && it->slot < t->n_slots)
                e = t->slots[it->slot++];
        it->next = e ? e->next : NULL;
        return e;
}

AlertEntry *alert_states_first(const AlertStates *t, AlertStatesIter *it) {
        *it = (AlertStatesIter){0};
        return alert_states_next(t, it);
}

static size_t state_key(const char *rule, const Scope *s, uint8_t *buf) {
        size_t n = 0, l = strlen(rule);

        buf[n++] = (uint8_t)l;
        memcpy(buf + n, rule, l);
        n += l;
        buf[n++] = s->kind;
        buf[n++] = s->len;
        memcpy(buf + n, s->name, s->len);
        return n + s->len;
}

static bool state_key_parse(const MDB_val *k, char *rule, Scope *s) {
        const uint8_t *p = k->mv_data;
        size_t l;

        if (k->mv_size < 3 || (l = p[0]) > RULE_NAME_MAX || k->mv_size < l + 3)
                return false;
        memcpy(rule, p + 1, l);
        rule[l] = 0;
        p += 1 + l;
        if (p[0] >= _SCOPE_KIND_MAX || p[1] > PROTO_NAME_MAX || k->mv_size != l + 3 + p[1])
                return false;
        *s = (Scope){.kind = p[0], .len = p[1]};
        memcpy(s->name, p + 2, s->len);
        return true;
}

int alert_states_save(Store *store, MDB_txn *txn, const char *rule, const Scope *s, const AlertDef *def,
                      const AlertState *st) {
        uint8_t kbuf[KEY_MAX];
        MDB_val k = {state_key(rule, s, kbuf), kbuf}, v;
        AlertStateRecord rec = {0};
        int rc;

        if (st->state == ALERT_OK) {
                rc = mdb_del(txn, store->alert_states, &k, NULL);
                return rc == MDB_NOTFOUND ? 0 : store_err(rc);
        }
        rec.version = ALERT_STATE_RECORD_V1;
        rec.state = st->state;
        rec.op = (uint8_t)def->op;
        rec.severity = (int8_t)def->severity;
        rec.has_value = st->has_value;
        strncpy(rec.index, index_info(def->index)->name, sizeof(rec.index) - 1);
        rec.window_ms = def->window_ms;
        rec.since_ms = st->since_ms;
        rec.pending_since_ms = st->pending_since_ms;
        rec.published_ms = st->published_ms;
        rec.threshold = def->threshold;
        rec.clear = def->clear;
        rec.value = st->value;
        rec.samples = st->samples;
        v = (MDB_val){sizeof(rec), &rec};
        return store_err(mdb_put(txn, store->alert_states, &k, &v, 0));
}

static bool record_read(const MDB_val *v, AlertDef *def, AlertState *st) {
        AlertStateRecord rec;
        int id;

        if (v->mv_size < sizeof(rec) || ((const uint8_t *)v->mv_data)[0] != ALERT_STATE_RECORD_V1)
                return false;
        memcpy(&rec, v->mv_data, sizeof(rec));
        rec.index[sizeof(rec.index) - 1] = 0;
        id = index_lookup(rec.index);
        if (id < 0 || rec.state == ALERT_OK || rec.state >= _ALERT_STATE_MAX || rec.op > RULE_ABOVE ||
            rec.severity < 0 || rec.severity >= _SEV_MAX)
                return false;
        *def = (AlertDef){
                .index = (IndexId)id,
                .window_ms = rec.window_ms,
                .op = (RuleOp)rec.op,
                .severity = (AlertSeverity)rec.severity,
                .threshold = rec.threshold,
                .clear = rec.clear,
        };
        *st = (AlertState){
                .state = rec.state,
                .has_value = rec.has_value,
                .since_ms = rec.since_ms,
                .pending_since_ms = rec.pending_since_ms,
                .published_ms = rec.published_ms,
                .value = rec.value,
                .samples = rec.samples,
        };
        return true;
}

int alert_states_load(AlertStates *t, Store *store, MDB_txn *txn, unsigned *skipped) {
        MDB_cursor *c;
        MDB_val k, v;
        int rc, r = 0;

        *skipped = 0;
        rc = mdb_cursor_open(txn, store->alert_states, &c);
        if (rc)
                return store_err(rc);
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                char rule[RULE_NAME_MAX + 1];
                Scope s;
                AlertDef def;
                AlertState st;

                if (!state_key_parse(&k, rule, &s) || !record_read(&v, &def, &st)) {
                        (*skipped)++;
                        continue;
                }
                if ((r = alert_states_set(t, rule, &s, &def, &st)) < 0)
                        break;
        }
        mdb_cursor_close(c);
        if (r)
                return r;
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}
