/* daemon/alerts/requests.c: the alert control requests (proto/PROTOCOL.md):
 * alerts, silence_add, silence_list, silence_rm, rules, reload.
 *
 * `alerts` lists what is pending or firing now, sorted by rule and scope;
 * with history it lists the recorded transitions newest first, at most
 * HISTORY_MAX of them. `since W` keeps what started (or, in the history,
 * happened) within the last W.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts-private.h"
#include "alerts/history.h"
#include "proto/duration.h"
#include "util/clock.h"
#include "util/error.h"

#define HISTORY_MAX 1000

static int bad(char *err, size_t errlen, const char *fmt, const char *arg) {
        snprintf(err, errlen, fmt, arg);
        return ALERTS_E_BAD_REQUEST;
}

static const char *get_string(json_object *req, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool has_key(json_object *req, const char *key) {
        json_object *v;
        return json_object_object_get_ex(req, key, &v) && !json_object_is_type(v, json_type_null);
}

static void add(json_object *o, const char *key, json_object *v) {
        json_object_object_add(o, key, v);
}

static json_object *duration_json(int64_t ms) {
        char buf[32];
        return json_object_new_string(duration_format(ms, buf, sizeof(buf)));
}

static json_object *scope_json(const Scope *s) {
        char buf[SCOPE_TEXT_MAX];
        size_t n = scope_format(s, buf);
        return json_object_new_string_len(buf, (int)n);
}

static json_object *pattern_json(const ScopePattern *p) {
        char buf[SCOPE_TEXT_MAX];
        size_t n = scope_pattern_format(p, buf);
        return json_object_new_string_len(buf, (int)n);
}

/* The members shared by current alerts and history entries. */
static void add_def(json_object *o, const AlertDef *d) {
        add(o, "index", json_object_new_string(index_info(d->index)->name));
        add(o, "window", duration_json(d->window_ms));
        add(o, "threshold", json_object_new_double(d->threshold));
        add(o, "clear", json_object_new_double(d->clear));
        add(o, "op", json_object_new_string(d->op == RULE_BELOW ? "below" : "above"));
        add(o, "severity", json_object_new_string(config_severity_name(d->severity)));
}

/* ---- alerts ----------------------------------------------------------- */

static int entry_cmp(const void *x, const void *y) {
        const AlertEntry *a = *(AlertEntry *const *)x, *b = *(AlertEntry *const *)y;
        int c = strcmp(a->rule, b->rule);

        if (c)
                return c;
        if (a->scope.kind != b->scope.kind)
                return a->scope.kind < b->scope.kind ? -1 : 1;
        c = memcmp(a->scope.name, b->scope.name, a->scope.len < b->scope.len ? a->scope.len : b->scope.len);
        return c ? c : (a->scope.len > b->scope.len) - (a->scope.len < b->scope.len);
}

static int list_current(Alerts *a, int64_t since, json_object *list) {
        _cleanup_(freep) AlertEntry **v = calloc(a->states.n ? a->states.n : 1, sizeof(*v));
        int64_t now = now_ms();
        AlertStatesIter it;
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (AlertEntry *e = alert_states_first(&a->states, &it); e && n < a->states.n;
             e = alert_states_next(&a->states, &it))
                v[n++] = e;
        qsort(v, n, sizeof(*v), entry_cmp);
        for (size_t i = 0; i < n; i++) {
                const AlertEntry *e = v[i];
                int64_t started = e->st.state == ALERT_FIRING ? e->st.since_ms : e->st.pending_since_ms;
                json_object *o;

                if (started < since)
                        continue;
                o = json_object_new_object();
                add(o, "rule", json_object_new_string(e->rule));
                add(o, "scope", scope_json(&e->scope));
                add_def(o, &e->def);
                add(o, "value", e->st.has_value ? json_object_new_double(e->st.value) : NULL);
                add(o, "samples", json_object_new_int64((int64_t)e->st.samples));
                add(o, "state", json_object_new_string(alert_state_name((AlertStateKind)e->st.state)));
                add(o, "since", json_object_new_int64(started));
                add(o, "silenced", json_object_new_boolean(silences_match(&a->silences, e->rule, &e->scope, now) != NULL));
                json_object_array_add(list, o);
        }
        return 0;
}

static int history_entry(const AlertNotice *n, void *userdata) {
        json_object *o = json_object_new_object();
        char id[ALERT_ID_TEXT];

        add(o, "id", json_object_new_string(alert_notice_id_text(n->id, id)));
        add(o, "kind", json_object_new_string(alert_notice_kind_name((NoticeKind)n->kind)));
        add(o, "rule", json_object_new_string(n->rule));
        add(o, "scope", scope_json(&n->scope));
        add_def(o, &n->def);
        add(o, "value", json_object_new_double(n->value));
        add(o, "samples", json_object_new_int64((int64_t)n->samples));
        add(o, "state", json_object_new_string(alert_notice_state_name((NoticeState)n->state)));
        add(o, "since", json_object_new_int64(n->since_ms));
        add(o, "ts", json_object_new_int64(n->ts_ms));
        add(o, "silenced", json_object_new_boolean(n->silenced));
        if (n->kind == NOTICE_SLA_BREACH) {
                add(o, "ticket", json_object_new_string(n->ticket));
                add(o, "priority", json_object_new_string(n->priority >= 0 && n->priority < _PRIORITY_MAX
                                                                  ? proto_priority_name((TicketPriority)n->priority)
                                                                  : "normal"));
        }
        json_object_array_add(userdata, o);
        return 0;
}

static int cmd_alerts(Alerts *a, json_object *req, json_object **result, char *err, size_t errlen) {
        const char *since_text = get_string(req, "since");
        json_object *v, *list;
        bool history = json_object_object_get_ex(req, "history", &v) && json_object_get_boolean(v);
        int64_t since = INT64_MIN, w;
        MDB_txn *txn;
        int r;

        if (since_text) {
                if (duration_parse(since_text, &w) < 0 || w <= 0)
                        return bad(err, errlen, "invalid since '%s' (expected e.g. 5m, 1h, 24h, 7d)", since_text);
                since = now_ms() - w;
        } else if (has_key(req, "since")) {
                return bad(err, errlen, "%s", "since must be a duration string");
        }
        list = json_object_new_array();
        if (!history) {
                r = list_current(a, since, list);
        } else if (!(r = store_begin(a->store, MDB_RDONLY, &txn))) {
                r = alert_history_foreach(a->store, txn, since, HISTORY_MAX, history_entry, list);
                mdb_txn_abort(txn);
        }
        if (r) {
                json_object_put(list);
                return r;
        }
        *result = json_object_new_object();
        add(*result, "alerts", list);
        return 0;
}

/* ---- silences --------------------------------------------------------- */

static json_object *silence_json(const Silence *s) {
        json_object *o = json_object_new_object();

        add(o, "id", json_object_new_int64((int64_t)s->id));
        add(o, "rule", json_object_new_string(s->rule));
        add(o, "scope", s->has_pattern ? pattern_json(&s->pattern) : NULL);
        add(o, "created", json_object_new_int64(s->created_ms));
        add(o, "until", json_object_new_int64(s->until_ms));
        add(o, "comment", json_object_new_string(s->comment));
        return o;
}

static int cmd_silence_add(Alerts *a, json_object *req, json_object **result, char *err, size_t errlen) {
        const char *rule = get_string(req, "rule"), *scope = get_string(req, "scope"), *dur = get_string(req, "for"),
                   *comment = get_string(req, "comment");
        Silence s = {0};
        int64_t ms;
        MDB_txn *txn;
        int r;

        if (!rule)
                return bad(err, errlen, "%s", "missing rule");
        if (strcmp(rule, RULE_SLA_BREACH) != 0 && !alerts_rule(a, rule))
                return bad(err, errlen, "unknown rule '%s' (`raterctl rules` lists them)", rule);
        if (!scope && has_key(req, "scope"))
                return bad(err, errlen, "%s", "scope must be a string");
        if (scope && scope_pattern_parse(scope, &s.pattern) < 0)
                return bad(err, errlen,
                           "invalid scope '%s' (expected all, team:*, team:NAME, agent:*, agent:NAME, channel:*, "
                           "channel:NAME)",
                           scope);
        if (!dur || duration_parse(dur, &ms) < 0 || ms <= 0)
                return bad(err, errlen, "invalid or missing for '%s' (expected e.g. 30m, 2h, 1d)", dur ? dur : "");
        if (comment && strlen(comment) > SILENCE_COMMENT_MAX)
                return bad(err, errlen, "%s", "comment longer than 256 bytes");
        if (!comment && has_key(req, "comment"))
                return bad(err, errlen, "%s", "comment must be a string");

        snprintf(s.rule, sizeof(s.rule), "%s", rule);
        s.has_pattern = scope != NULL;
        s.created_ms = now_ms();
        s.until_ms = ms > INT64_MAX - s.created_ms ? INT64_MAX : s.created_ms + ms;
        snprintf(s.comment, sizeof(s.comment), "%s", comment ? comment : "");

        if ((r = store_begin(a->store, 0, &txn)))
                return r;
        if ((r = silences_store_add(a->store, txn, &s))) {
                mdb_txn_abort(txn);
                return r;
        }
        if ((r = store_commit(txn)))
                return r;
        if ((r = silences_insert(&a->silences, &s)) < 0)
                return r;
        log_info("silence %llu added: rule %s%s%s until %lld%s%s", (unsigned long long)s.id, s.rule,
                 scope ? " scope " : "", scope ? scope : "", (long long)s.until_ms, *s.comment ? ": " : "", s.comment);
        *result = silence_json(&s);
        return 0;
}

static int cmd_silence_list(Alerts *a, json_object **result) {
        json_object *list = json_object_new_array();
        int64_t now = now_ms();

        for (size_t i = 0; i < a->silences.n; i++)
                if (a->silences.v[i].until_ms > now)
                        json_object_array_add(list, silence_json(&a->silences.v[i]));
        *result = json_object_new_object();
        add(*result, "silences", list);
        return 0;
}

static int cmd_silence_rm(Alerts *a, json_object *req, json_object **result, char *err, size_t errlen) {
        json_object *v;
        const char *text;
        char *end;
        uint64_t id = 0;
        MDB_txn *txn;
        int r;

        if (!json_object_object_get_ex(req, "id", &v))
                return bad(err, errlen, "%s", "missing id");
        if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
                id = (uint64_t)json_object_get_int64(v);
        } else if (json_object_is_type(v, json_type_string)) {
                text = json_object_get_string(v);
                errno = 0;
                id = *text >= '1' && *text <= '9' ? strtoull(text, &end, 10) : 0;
                if (errno || !id || *end)
                        return bad(err, errlen, "invalid silence id '%s'", text);
        } else {
                return bad(err, errlen, "%s", "invalid silence id");
        }
        if (!silences_get(&a->silences, id))
                return bad(err, errlen, "no silence with id %s", json_object_get_string(v));

        if ((r = store_begin(a->store, 0, &txn)))
                return r;
        r = silences_store_del(a->store, txn, id);
        if (r && r != STORE_E_NOTFOUND) {
                mdb_txn_abort(txn);
                return r;
        }
        if ((r = store_commit(txn)))
                return r;
        silences_remove(&a->silences, id);
        log_info("silence %llu removed", (unsigned long long)id);
        *result = json_object_new_object();
        add(*result, "id", json_object_new_int64((int64_t)id));
        add(*result, "removed", json_object_new_boolean(1));
        return 0;
}

/* ---- rules and reload ------------------------------------------------- */

static int rule_ptr_cmp(const void *x, const void *y) {
        return strcmp((*(const AlertRule *const *)x)->name, (*(const AlertRule *const *)y)->name);
}

static int cmd_rules(Alerts *a, json_object **result) {
        _cleanup_(freep) const AlertRule **v = calloc(a->n_rules ? a->n_rules : 1, sizeof(*v));
        _cleanup_(freep) size_t *counts = calloc(2 * (a->n_rules ? a->n_rules : 1), sizeof(*counts));
        json_object *list;
        AlertStatesIter it;

        if (!v || !counts)
                return -ENOMEM;
        for (size_t i = 0; i < a->n_rules; i++)
                v[i] = &a->rules[i];
        qsort(v, a->n_rules, sizeof(*v), rule_ptr_cmp);
        /* One walk over the non-ok alerts counts them per rule. */
        for (AlertEntry *e = alert_states_first(&a->states, &it); e; e = alert_states_next(&a->states, &it))
                for (size_t i = 0; i < a->n_rules; i++)
                        if (strcmp(v[i]->name, e->rule) == 0) {
                                counts[2 * i + (e->st.state == ALERT_FIRING)]++;
                                break;
                        }
        list = json_object_new_array();
        for (size_t i = 0; i < a->n_rules; i++) {
                const AlertRule *r = v[i];
                json_object *o = json_object_new_object();

                add(o, "name", json_object_new_string(r->name));
                add(o, "scope", pattern_json(&r->pattern));
                add_def(o, &r->def);
                add(o, "min_samples", json_object_new_int64((int64_t)r->min_samples));
                add(o, "for", duration_json(r->for_ms));
                add(o, "repeat", r->repeat_ms > 0 ? duration_json(r->repeat_ms) : NULL);
                add(o, "firing", json_object_new_int64((int64_t)counts[2 * i + 1]));
                add(o, "pending", json_object_new_int64((int64_t)counts[2 * i]));
                json_object_array_add(list, o);
        }
        *result = json_object_new_object();
        add(*result, "rules", list);
        add(*result, "breach_alert", json_object_new_string(config_severity_name(a->breach_alert)));
        return 0;
}

static int cmd_reload(Alerts *a, json_object **result, char *err, size_t errlen) {
        int r = alerts_reload(a, err, errlen);

        if (r)
                return r;
        *result = json_object_new_object();
        add(*result, "rules", json_object_new_int64((int64_t)a->n_rules));
        add(*result, "alerts_firing", json_object_new_int64((int64_t)alerts_firing(a)));
        return 0;
}

int alerts_command(Alerts *a, const char *cmd, json_object *req, json_object **result, char *err, size_t errlen) {
        if (strcmp(cmd, "alerts") == 0)
                return cmd_alerts(a, req, result, err, errlen);
        if (strcmp(cmd, "silence_add") == 0)
                return cmd_silence_add(a, req, result, err, errlen);
        if (strcmp(cmd, "silence_list") == 0)
                return cmd_silence_list(a, result);
        if (strcmp(cmd, "silence_rm") == 0)
                return cmd_silence_rm(a, req, result, err, errlen);
        if (strcmp(cmd, "rules") == 0)
                return cmd_rules(a, result);
        if (strcmp(cmd, "reload") == 0)
                return cmd_reload(a, result, err, errlen);
        return ALERTS_E_UNKNOWN_COMMAND;
}
