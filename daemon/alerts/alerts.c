/* daemon/alerts/alerts.c: the alert engine: rules and their window groups,
 * the evaluation passes, the commit-then-publish sequence, reloads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts-private.h"
#include "alerts/history.h"
#include "proto/duration.h"
#include "store/buckets.h"
#include "util/clock.h"
#include "util/error.h"

/* History entries pruned per pass at most: a long backlog is spread over
 * many small transactions. */
#define HISTORY_PRUNE_MAX 1000

static void rules_free(AlertRule *rules, AlertGroup *groups) {
        free(rules);
        free(groups);
}

Alerts *alerts_free(Alerts *a) {
        if (a) {
                alert_pub_free(a->pub);
                rules_free(a->rules, a->groups);
                alert_states_deinit(&a->states);
                silences_deinit(&a->silences);
                free(a->sw);
                free(a->changes);
                free(a->config_path);
                free(a);
        }
        return NULL;
}

void alerts_set_sink(Alerts *a, AlertsSinkFn fn, void *userdata) {
        a->sink = fn;
        a->sink_userdata = userdata;
}

size_t alerts_firing(const Alerts *a) {
        return a->states.n_firing;
}

const AlertRule *alerts_rule(const Alerts *a, const char *name) {
        for (size_t i = 0; i < a->n_rules; i++)
                if (strcmp(a->rules[i].name, name) == 0)
                        return &a->rules[i];
        return NULL;
}

/* ---- rules ------------------------------------------------------------ */

static int rule_cmp(const void *x, const void *y) {
        const AlertRule *a = x, *b = y;

        if (a->def.window_ms != b->def.window_ms)
                return a->def.window_ms < b->def.window_ms ? -1 : 1;
        return strcmp(a->name, b->name);
}

/* Compiles the rules into fresh arrays: rules sorted by window, and one
 * group per distinct window. */
static int rules_build(const Rule *src, size_t n, AlertRule **out_rules, AlertGroup **out_groups, size_t *n_groups,
                       char *err, size_t errlen) {
        _cleanup_(freep) AlertRule *rules = calloc(n ? n : 1, sizeof(*rules));
        _cleanup_(freep) AlertGroup *groups = calloc(n ? n : 1, sizeof(*groups));
        size_t ng = 0;
        int r;

        if (!rules || !groups)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if ((r = alert_rule_compile(&rules[i], &src[i], err, errlen)) < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(rules[j].name, rules[i].name) == 0) {
                                snprintf(err, errlen, "rule '%s' is defined twice", rules[i].name);
                                return -EINVAL;
                        }
        }
        qsort(rules, n, sizeof(*rules), rule_cmp);
        for (size_t i = 0; i < n; i++) {
                AlertRule *rule = &rules[i];
                AlertGroup *g;

                if (!ng || groups[ng - 1].window_ms != rule->def.window_ms)
                        groups[ng++] = (AlertGroup){.window_ms = rule->def.window_ms, .first = i};
                g = &groups[ng - 1];
                rule->group = ng - 1;
                g->n++;
                g->any[rule->pattern.kind] = true;
                g->wildcard[rule->pattern.kind] |= rule->pattern.wildcard;
                g->needs[rule->pattern.kind] |= rule->needs;
        }
        *out_rules = TAKE_PTR(rules);
        *out_groups = TAKE_PTR(groups);
        *n_groups = ng;
        return 0;
}

/* ---- changes ---------------------------------------------------------- */

static AlertChange *change_push(Alerts *a) {
        AlertChange *c;

        if (a->n_changes == a->cap_changes) {
                size_t cap = a->cap_changes ? a->cap_changes * 2 : 32;
                c = realloc(a->changes, cap * sizeof(*c));
                if (!c)
                        return NULL;
                a->changes = c;
                a->cap_changes = cap;
        }
        c = &a->changes[a->n_changes++];
        memset(c, 0, sizeof(*c));
        return c;
}

/* A threshold notice of rule (named rule, defined by def) in scope s. */
static void notice_threshold(AlertNotice *n, const char *rule, const Scope *s, const AlertDef *def,
                             NoticeState state, const AlertState *st, int64_t now) {
        *n = (AlertNotice){
                .kind = NOTICE_THRESHOLD,
                .state = (uint8_t)state,
                .scope = *s,
                .def = *def,
                .value = st->value,
                .samples = st->samples,
                .since_ms = state == NOTICE_PENDING || state == NOTICE_OK ? st->pending_since_ms : st->since_ms,
                .ts_ms = now,
                .priority = -1,
        };
        alert_notice_new_id(n->id);
        snprintf(n->rule, sizeof(n->rule), "%s", rule);
}

/* Queues the change of (rule, s) from the step just taken on st; slot is
 * the rule's index (-1: a removed rule). */
static int queue_step(Alerts *a, const char *rule, long slot, const Scope *s, const AlertDef *def, AlertStep step,
                      const AlertState *st, int64_t now) {
        static const NoticeState states[] = {
                [STEP_PENDING] = NOTICE_PENDING,   [STEP_FIRING] = NOTICE_FIRING, [STEP_RESOLVED] = NOTICE_RESOLVED,
                [STEP_CANCELLED] = NOTICE_OK,      [STEP_REPEAT] = NOTICE_FIRING,
        };
        AlertChange *c = change_push(a);

        if (!c)
                return -ENOMEM;
        notice_threshold(&c->n, rule, s, def, states[step], st, now);
        c->n.repeat = step == STEP_REPEAT;
        c->n.silenced = silences_match(&a->silences, rule, s, now) != NULL;
        c->st = *st;
        c->slot = slot;
        c->save_state = true;
        c->record = step != STEP_REPEAT;
        c->publish = !c->n.silenced && (step == STEP_FIRING || step == STEP_RESOLVED || step == STEP_REPEAT);
        return 0;
}

static int eval_rule(Alerts *a, const AlertRule *r, const Scope *s, int64_t now) {
        AlertEntry *e = alert_states_get(&a->states, r->name, s);
        AlertState st = e ? e->st : (AlertState){0};
        uint64_t samples;
        double value;
        bool has = compute_value(a->sw, r->def.index, a->config, &value, &samples);
        AlertStep step = alert_state_step(&st, r, has, value, samples, now);

        if (step == STEP_NONE) {
                if (e)
                        e->st = st; /* the latest value, in memory only */
                return 0;
        }
        return queue_step(a, r->name, r - a->rules, s, &r->def, step, &st, now);
}

/* Evaluates the rules of group g that match scope s. sum: the scope's
 * window sums when the caller has them and no rule needs more. */
static int eval_scope(Alerts *a, MDB_txn *txn, const AlertGroup *g, const WindowSpan *w, const Scope *s,
                      const BucketRecord *sum) {
        unsigned needs = 0;
        bool any = false;
        int r;

        for (size_t i = g->first; i < g->first + g->n; i++)
                if (scope_pattern_match(&a->rules[i].pattern, s)) {
                        any = true;
                        needs |= a->rules[i].needs;
                }
        if (!any)
                return 0;
        if (sum && !needs) {
                a->sw->sum = *sum;
                memset(&a->sw->gauges, 0, sizeof(a->sw->gauges));
                a->sw->loaded = 0;
        } else if ((r = compute_load(a->store, txn, s, w, needs, a->sw))) {
                return r;
        }
        for (size_t i = g->first; i < g->first + g->n; i++)
                if (scope_pattern_match(&a->rules[i].pattern, s) && (r = eval_rule(a, &a->rules[i], s, w->now_ms)))
                        return r;
        return 0;
}

/* Alerts whose rule is gone, or no longer watches their scope (slot -1,
 * see follow_rules): a firing one is resolved (and published), a pending
 * one goes back to ok. */
static int queue_orphans(Alerts *a, int64_t now) {
        AlertStatesIter it;

        for (AlertEntry *e = alert_states_first(&a->states, &it); e; e = alert_states_next(&a->states, &it)) {
                AlertState st = e->st;
                AlertStep step;
                int r;

                if (e->slot >= 0)
                        continue;
                step = st.state == ALERT_FIRING ? STEP_RESOLVED : STEP_CANCELLED;
                st.state = ALERT_OK;
                if ((r = queue_step(a, e->rule, -1, &e->scope, &e->def, step, &st, now)))
                        return r;
        }
        return 0;
}

static void queue_breach(Alerts *a, const Breach *b, int64_t now) {
        Scope scopes[4];
        int n = scopeset_list(&b->scopes, true, scopes);
        AlertChange *c = change_push(a);

        if (!c)
                return;
        /* One notice per ticket, named by its most specific known scope:
         * team, else agent, else channel, else all. */
        c->n = (AlertNotice){
                .kind = NOTICE_SLA_BREACH,
                .state = NOTICE_FIRING,
                .scope = b->scopes.team.len      ? b->scopes.team
                         : b->scopes.agent.len   ? b->scopes.agent
                         : b->scopes.channel.len ? b->scopes.channel
                                                 : (Scope){.kind = SCOPE_ALL},
                .def = {.index = IDX_SLA_BREACHES,
                        .window_ms = b->priority < _PRIORITY_MAX ? a->config->first_response_ms[b->priority] : 0,
                        .op = RULE_ABOVE,
                        .severity = a->breach_alert,
                        .threshold = 0,
                        .clear = 0},
                .value = 1,
                .samples = 1,
                .since_ms = b->deadline_ms,
                .ts_ms = now,
                .priority = (int8_t)b->priority,
        };
        alert_notice_new_id(c->n.id);
        snprintf(c->n.rule, sizeof(c->n.rule), "%s", RULE_SLA_BREACH);
        snprintf(c->n.ticket, sizeof(c->n.ticket), "%s", b->ticket);
        for (int i = 0; i < n && !c->n.silenced; i++)
                c->n.silenced = silences_match(&a->silences, RULE_SLA_BREACH, &scopes[i], now) != NULL;
        c->record = true;
        c->publish = !c->n.silenced;
}

/* ---- commit, apply, publish ----------------------------------------- */

static void log_notice(Alerts *a, const AlertNotice *n) {
        char scope[SCOPE_TEXT_MAX], window[32];
        unsigned k = ratelimit_test(&a->log_rl, mono_ms());

        if (!k)
                return;
        scope_format(&n->scope, scope);
        if (n->kind == NOTICE_SLA_BREACH)
                log_full(LOG_WARNING, LOG_ID_ALERT, "alert %ssla_breach: %s %s %s ticket %s missed its first-response deadline",
                         n->silenced ? "silenced " : "", config_severity_name(n->def.severity), n->rule, scope,
                         n->ticket);
        else
                log_full(n->state == NOTICE_RESOLVED ? LOG_INFO : LOG_WARNING, LOG_ID_ALERT,
                         "alert %s%s: %s %s %s %s(%s)=%.2f %s %g (clear %g) samples=%llu",
                         n->silenced ? "silenced " : "", n->repeat ? "repeat" : alert_notice_state_name(n->state),
                         config_severity_name(n->def.severity), n->rule, scope, index_info(n->def.index)->name,
                         duration_format(n->def.window_ms, window, sizeof(window)), n->value,
                         n->def.op == RULE_BELOW ? "below" : "above", n->def.threshold, n->def.clear,
                         (unsigned long long)n->samples);
        if (k > 1)
                log_info("%u alert log lines suppressed", k - 1);
}

static void log_failure(Alerts *a, const char *what, int r) {
        if (ratelimit_test(&a->err_rl, mono_ms()))
                log_full(LOG_ERR, r == STORE_E_FULL ? LOG_ID_STORAGE_FULL : NULL,
                         "alerts: %s failed: %s; retried on the next pass", what,
                         r == STORE_E_FULL ? "storage full (raise [daemon] max_storage or free disk)"
                         : r < 0          ? strerror(-r)
                                          : "storage error");
}

/* Maintenance a pass may carry in its write transaction. */
typedef struct {
        uint64_t expired_silence; /* 0: none */
        bool prune_history;
        int64_t prune_before;
} Chores;

static int write_pass(Alerts *a, const Chores *ch) {
        MDB_txn *txn;
        unsigned deleted;
        int r;

        if ((r = store_begin(a->store, 0, &txn)))
                return r;
        for (size_t i = 0; i < a->n_changes && !r; i++) {
                const AlertChange *c = &a->changes[i];
                if (c->save_state)
                        r = alert_states_save(a->store, txn, c->n.rule, &c->n.scope, &c->n.def, &c->st);
                if (!r && c->record)
                        r = alert_history_add(a->store, txn, &c->n);
        }
        if (!r && ch && ch->expired_silence) {
                r = silences_store_del(a->store, txn, ch->expired_silence);
                if (r == STORE_E_NOTFOUND)
                        r = 0;
        }
        if (!r && ch && ch->prune_history)
                r = alert_history_prune(a->store, txn, ch->prune_before, HISTORY_PRUNE_MAX, &deleted);
        if (r) {
                mdb_txn_abort(txn);
                return r;
        }
        return store_commit(txn);
}

/* Commits the queued changes (and chores), then applies and publishes
 * them. The queue is empty afterwards, whatever happened. */
static int commit_pass(Alerts *a, const Chores *ch) {
        int r = 0;

        if (a->n_changes || (ch && (ch->expired_silence || ch->prune_history)))
                r = write_pass(a, ch);
        if (r) {
                log_failure(a, "saving alert state", r);
                a->n_changes = 0;
                return r;
        }
        if (ch && ch->expired_silence)
                silences_remove(&a->silences, ch->expired_silence);
        for (size_t i = 0; i < a->n_changes; i++) {
                const AlertChange *c = &a->changes[i];

                if (c->save_state) {
                        AlertEntry *e;
                        if (alert_states_set(&a->states, c->n.rule, &c->n.scope, &c->n.def, &c->st) < 0)
                                log_failure(a, "keeping alert state in memory", -ENOMEM);
                        else if ((e = alert_states_get(&a->states, c->n.rule, &c->n.scope)))
                                e->slot = c->slot;
                }
                if (c->publish || c->n.silenced)
                        log_notice(a, &c->n);
                if (!c->publish)
                        continue;
                if (a->pub && (r = alert_pub_send(a->pub, &c->n)) < 0)
                        log_failure(a, "publishing an alert", r);
                if (a->sink)
                        a->sink(a->sink_userdata, &c->n);
        }
        a->n_changes = 0;
        return 0;
}

/* ---- passes ----------------------------------------------------------- */

int alerts_evaluate(Alerts *a, const Scope *scopes, size_t n_scopes, const Breach *breaches, size_t n_breaches,
                    int64_t now) {
        MDB_txn *txn = NULL;
        int r = 0;

        a->n_changes = 0;
        if (n_scopes && a->n_groups) {
                if ((r = store_begin(a->store, MDB_RDONLY, &txn))) {
                        log_failure(a, "reading for alert evaluation", r);
                        return r;
                }
                for (size_t gi = 0; gi < a->n_groups && !r; gi++) {
                        const AlertGroup *g = &a->groups[gi];
                        WindowSpan w;

                        window_span(g->window_ms, now, &w);
                        for (size_t i = 0; i < n_scopes && !r; i++)
                                if (scopes[i].kind < _SCOPE_KIND_MAX && g->any[scopes[i].kind])
                                        r = eval_scope(a, txn, g, &w, &scopes[i], NULL);
                }
                mdb_txn_abort(txn);
        }
        if (r) {
                log_failure(a, "alert evaluation", r);
                a->n_changes = 0;
                a->rescan_due = true;
                return r;
        }
        if (a->breach_alert != SEV_OFF)
                for (size_t i = 0; i < n_breaches; i++)
                        queue_breach(a, &breaches[i], now);
        if ((r = commit_pass(a, NULL)))
                a->rescan_due = true;
        return r;
}

void alerts_on_commit(void *userdata, const CommitInfo *info) {
        /* Runs on the main thread once ingest's batch is durable. */
        alerts_evaluate(userdata, info->scopes, info->n_scopes, info->breaches, info->n_breaches, now_ms());
}

typedef struct {
        Alerts *a;
        MDB_txn *txn;
        const AlertGroup *g;
        const WindowSpan *w;
        bool sums; /* the scan's sums are enough for every rule of this kind */
} ScanState;

static int scan_scope(const Scope *s, const BucketRecord *sum, void *userdata) {
        ScanState *ss = userdata;
        return eval_scope(ss->a, ss->txn, ss->g, ss->w, s, ss->sums ? sum : NULL);
}

/* Every scope of kind k that group g's rules watch. */
static int full_group_kind(Alerts *a, MDB_txn *txn, const AlertGroup *g, const WindowSpan *w, ScopeKind k) {
        int r;

        if (g->wildcard[k]) {
                /* One ordered scan yields every scope of the kind; exact
                 * rules of the kind are evaluated when their scope passes. */
                ScanState ss = {a, txn, g, w, g->needs[k] == 0};
                return buckets_foreach_scope(a->store, txn, w->hourly ? RES_HOUR : RES_MINUTE, k, w->from, w->to,
                                             scan_scope, &ss);
        }
        for (size_t i = g->first; i < g->first + g->n; i++) {
                const AlertRule *rule = &a->rules[i];
                bool seen = false;

                if (rule->pattern.kind != k)
                        continue;
                for (size_t j = g->first; j < i && !seen; j++)
                        seen = a->rules[j].pattern.kind == k &&
                               scope_pattern_match(&a->rules[j].pattern, &rule->pattern.scope);
                if (!seen && (r = eval_scope(a, txn, g, w, &rule->pattern.scope, NULL)))
                        return r;
        }
        return 0;
}

/* Time alone moves pending alerts (`for`) and firing ones with a repeat:
 * those of groups not scanned in this pass step again with the value they
 * were last evaluated with, which cannot have changed (see AlertGroup). */
static int queue_deadlines(Alerts *a, int64_t now) {
        AlertStatesIter it;

        for (AlertEntry *e = alert_states_first(&a->states, &it); e; e = alert_states_next(&a->states, &it)) {
                const AlertRule *rule;
                AlertState st = e->st;
                AlertStep step;
                int r;

                if (e->slot < 0 || (size_t)e->slot >= a->n_rules)
                        continue;
                rule = &a->rules[e->slot];
                if (a->groups[rule->group].scan_now || !st.has_value ||
                    !(st.state == ALERT_PENDING ? rule->for_ms > 0 : rule->repeat_ms > 0))
                        continue;
                step = alert_state_step(&st, rule, true, st.value, st.samples, now);
                if (step != STEP_NONE && (r = queue_step(a, rule->name, e->slot, &e->scope, &rule->def, step, &st, now)))
                        return r;
        }
        return 0;
}

int alerts_tick(Alerts *a, int64_t now) {
        Chores ch = {.expired_silence = silences_expired(&a->silences, now),
                     .prune_before = now - a->config->retention_ms};
        MDB_txn *txn;
        int64_t oldest;
        int r = 0;

        a->n_changes = 0;
        if ((r = store_begin(a->store, MDB_RDONLY, &txn))) {
                log_failure(a, "reading for alert evaluation", r);
                return r;
        }
        /* A group is scanned when its window slid past a bucket boundary
         * since its last scan (each minute, or each hour past 48 h), after
         * a reload, and after a failed pass. */
        for (size_t gi = 0; gi < a->n_groups && !r; gi++) {
                AlertGroup *g = &a->groups[gi];
                WindowSpan w;

                window_span(g->window_ms, now, &w);
                g->scan_now = a->rescan_due || !g->scanned || g->from != w.from || g->to != w.to;
                if (!g->scan_now)
                        continue;
                for (int k = 0; k < _SCOPE_KIND_MAX && !r; k++)
                        if (g->any[k])
                                r = full_group_kind(a, txn, g, &w, (ScopeKind)k);
                g->from = w.from;
                g->to = w.to;
        }
        if (!r)
                r = queue_deadlines(a, now);
        if (!r && a->orphans_due)
                r = queue_orphans(a, now);
        ch.prune_history = alert_history_oldest(a->store, txn, &oldest) == 0 && oldest < ch.prune_before;
        mdb_txn_abort(txn);
        if (!r)
                r = commit_pass(a, &ch);
        else
                log_failure(a, "alert evaluation", r);
        a->n_changes = 0;
        if (r) {
                a->rescan_due = true;
                return r;
        }
        for (size_t gi = 0; gi < a->n_groups; gi++)
                a->groups[gi].scanned |= a->groups[gi].scan_now;
        a->rescan_due = false;
        a->orphans_due = false;
        return 0;
}

/* ---- setup and reload ------------------------------------------------- */

/* Links each alert to its rule as configured now: a kept alert takes the
 * rule's definition (stored with its next transition); an alert whose rule
 * is gone or no longer matches its scope gets slot -1 (an orphan). */
static void follow_rules(Alerts *a) {
        AlertStatesIter it;

        for (AlertEntry *e = alert_states_first(&a->states, &it); e; e = alert_states_next(&a->states, &it)) {
                const AlertRule *rule = alerts_rule(a, e->rule);

                if (rule && !scope_pattern_match(&rule->pattern, &e->scope))
                        rule = NULL;
                e->slot = rule ? rule - a->rules : -1;
                if (rule)
                        e->def = rule->def;
        }
}

int alerts_set_rules(Alerts *a, const Rule *rules, size_t n_rules, AlertSeverity breach_alert, int64_t now,
                     char *err, size_t errlen) {
        AlertRule *compiled = NULL;
        AlertGroup *groups = NULL;
        size_t n_groups = 0;
        int r;

        if ((r = rules_build(rules, n_rules, &compiled, &groups, &n_groups, err, errlen)) < 0)
                return r;
        rules_free(a->rules, a->groups);
        a->rules = compiled;
        a->n_rules = n_rules;
        a->groups = groups;
        a->n_groups = n_groups;
        a->breach_alert = breach_alert;

        /* States of removed rules resolve now. */
        follow_rules(a);
        a->n_changes = 0;
        if ((r = queue_orphans(a, now)) < 0) {
                a->n_changes = 0;
                a->orphans_due = true;
                return r;
        }
        if ((r = commit_pass(a, NULL)))
                a->orphans_due = true; /* the next tick tries again */
        return r;
}

int alerts_reload(Alerts *a, char *err, size_t errlen) {
        _cleanup_(config_deinitp) Config c = {0};
        int r;

        if (!a->config_path) {
                snprintf(err, errlen, "raterd was not started with a configuration file");
                return ALERTS_E_CONFIG;
        }
        if ((r = config_init(&c)) < 0)
                return r;
        r = config_load(&c, a->config_path, err, errlen);
        if (r)
                return r == CONFIG_E_INVALID || r == -ENOENT || r == -EACCES ? ALERTS_E_CONFIG : r;
        r = alerts_set_rules(a, c.rules, c.n_rules, c.breach_alert, now_ms(), err, errlen);
        if (r == -EINVAL)
                return ALERTS_E_CONFIG;
        if (r == 0)
                log_full(LOG_INFO, LOG_ID_RULES_RELOADED, "reloaded %zu alert rules from %s", a->n_rules,
                         a->config_path);
        return r;
}

int alerts_new(Alerts **out, void *zctx, const Config *c, Store *store, char *err, size_t errlen) {
        _cleanup_(alerts_freep) Alerts *a = calloc(1, sizeof(*a));
        unsigned skipped = 0;
        MDB_txn *txn;
        int r;

        if (!a)
                return -ENOMEM;
        a->config = c;
        a->store = store;
        a->log_rl = (RateLimit)RATELIMIT_INIT(10000, 100);
        a->err_rl = (RateLimit)RATELIMIT_INIT(10000, 5);
        alert_states_init(&a->states);
        silences_init(&a->silences);
        if (c->path && !(a->config_path = strdup(c->path)))
                return -ENOMEM;
        if (!(a->sw = malloc(sizeof(*a->sw))))
                return -ENOMEM;
        if ((r = rules_build(c->rules, c->n_rules, &a->rules, &a->groups, &a->n_groups, err, errlen)) < 0)
                return r;
        a->n_rules = c->n_rules;
        a->breach_alert = c->breach_alert;
        if (zctx && (r = alert_pub_new(&a->pub, zctx, c->alerts_bind, err, errlen)) < 0)
                return r;

        if ((r = store_begin(store, MDB_RDONLY, &txn)))
                return r;
        r = alert_states_load(&a->states, store, txn, &skipped);
        if (!r)
                r = silences_load(&a->silences, store, txn);
        mdb_txn_abort(txn);
        if (r) {
                snprintf(err, errlen, "%s: cannot read the stored alert state: %s", store->path,
                         r < 0 ? strerror(-r) : "storage error");
                return r;
        }
        if (skipped)
                log_warning("alerts: %u stored alert states of an unknown format were ignored", skipped);
        follow_rules(a);
        a->orphans_due = true;
        *out = TAKE_PTR(a);
        return 0;
}
