/* tests/unit/test-alerts.c: the alert engine (CONTRACT.md section 4).
 *
 * 1. The state machine, one table row per scenario: hysteresis band,
 *    min_samples, `for`, repeat.
 * 2. The notification payload, decoded back with msgpack-c: every field of
 *    section 4 with its type.
 * 3. The engine on a real LMDB store with real buckets and synthetic time:
 *    firing and resolution through the band, min_samples, `for` with the
 *    pending state visible, repeat, silences (recorded, not published),
 *    reload with a removed rule, restart with a firing alert (no second
 *    publication, resolution later), a rule removed while down, SLA breach
 *    notices, history order and pruning, the control requests.
 */
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "alerts/alerts.h"
#include "alerts/history.h"
#include "alerts/machine.h"
#include "alerts/notice.h"
#include "alerts/silences.h"
#include "check.h"
#include "testdir.h"
#include "index/fbagg.h"
#include "store/buckets.h"
#include "util/clock.h"

/* ---- 1. state machine ------------------------------------------------- */

typedef struct {
        int64_t t;     /* ms since the start of the row */
        double value;  /* < 0: null */
        unsigned samples;
        AlertStep want_step;
        AlertStateKind want_state;
} Step;

typedef struct {
        const char *clause;
        RuleOp op;
        double threshold, clear;
        uint64_t min_samples;
        int64_t for_ms, repeat_ms;
        Step steps[8];
} MachineRow;

#define END {-1, 0, 0, 0, 0}

static const MachineRow machine_rows[] = {
        {"4: below fires at once with for = 0, resolves at clear",
         RULE_BELOW, 80, 85, 1, 0, 0,
         {{0, 90, 10, STEP_NONE, ALERT_OK},
          {1000, 79.9, 10, STEP_FIRING, ALERT_FIRING},
          {2000, 82, 10, STEP_NONE, ALERT_FIRING},   /* in the band: stays firing */
          {3000, 84.99, 10, STEP_NONE, ALERT_FIRING},
          {4000, 85, 10, STEP_RESOLVED, ALERT_OK},   /* crossed clear */
          {5000, 82, 10, STEP_NONE, ALERT_OK},       /* in the band: stays ok */
          {6000, 80, 10, STEP_NONE, ALERT_OK},       /* at the threshold: not below */
          END}},
        {"4: above with clear = threshold",
         RULE_ABOVE, 10, 10, 1, 0, 0,
         {{0, 10, 1, STEP_NONE, ALERT_OK},
          {1, 10.5, 1, STEP_FIRING, ALERT_FIRING},
          {2, 10, 1, STEP_RESOLVED, ALERT_OK},
          END}},
        {"4: no evaluation below min_samples: the state holds",
         RULE_BELOW, 80, 80, 20, 0, 0,
         {{0, 10, 19, STEP_NONE, ALERT_OK},
          {1, 10, 20, STEP_FIRING, ALERT_FIRING},
          {2, 100, 19, STEP_NONE, ALERT_FIRING},   /* recovered, but too few samples */
          {3, -1, 0, STEP_NONE, ALERT_FIRING},     /* null */
          {4, 100, 25, STEP_RESOLVED, ALERT_OK},
          END}},
        {"4: a null value holds even with min_samples = 0",
         RULE_ABOVE, 0, 0, 0, 0, 0,
         {{0, -1, 0, STEP_NONE, ALERT_OK}, {1, 1, 0, STEP_FIRING, ALERT_FIRING}, {2, -1, 0, STEP_NONE, ALERT_FIRING},
          END}},
        {"4: for gives pending, then firing once held for `for`",
         RULE_BELOW, 80, 85, 1, 5000, 0,
         {{0, 50, 5, STEP_PENDING, ALERT_PENDING},
          {4999, 50, 5, STEP_NONE, ALERT_PENDING},
          {5000, 50, 5, STEP_FIRING, ALERT_FIRING},
          {6000, 90, 5, STEP_RESOLVED, ALERT_OK},
          END}},
        {"4: a pending alert whose condition stops holding goes back to ok",
         RULE_BELOW, 80, 85, 1, 5000, 0,
         {{0, 50, 5, STEP_PENDING, ALERT_PENDING},
          {1000, 81, 5, STEP_CANCELLED, ALERT_OK}, /* in the band: not below any more */
          {2000, 50, 5, STEP_PENDING, ALERT_PENDING},
          {6999, 50, 5, STEP_NONE, ALERT_PENDING}, /* for counts from the new start */
          {7000, 50, 5, STEP_FIRING, ALERT_FIRING},
          END}},
        {"4: pending holds below min_samples, fires when evaluated again",
         RULE_BELOW, 80, 85, 3, 1000, 0,
         {{0, 50, 3, STEP_PENDING, ALERT_PENDING},
          {5000, 50, 2, STEP_NONE, ALERT_PENDING},
          {6000, 50, 3, STEP_FIRING, ALERT_FIRING},
          END}},
        {"4: repeat re-publishes a still-firing alert every repeat",
         RULE_BELOW, 80, 85, 1, 0, 2000,
         {{0, 50, 5, STEP_FIRING, ALERT_FIRING},
          {1999, 50, 5, STEP_NONE, ALERT_FIRING},
          {2000, 82, 5, STEP_REPEAT, ALERT_FIRING}, /* in the band: still firing, still repeated */
          {3000, 50, 5, STEP_NONE, ALERT_FIRING},
          {4000, 50, 5, STEP_REPEAT, ALERT_FIRING},
          {5000, 95, 5, STEP_RESOLVED, ALERT_OK},
          {7000, 95, 5, STEP_NONE, ALERT_OK},
          END}},
        {"4: repeats keep their cadence when evaluated late, restart it after a gap",
         RULE_ABOVE, 10, 10, 1, 0, 2000,
         {{0, 50, 5, STEP_FIRING, ALERT_FIRING},
          {2900, 50, 5, STEP_REPEAT, ALERT_FIRING},  /* due at 2000 */
          {3999, 50, 5, STEP_NONE, ALERT_FIRING},
          {4000, 50, 5, STEP_REPEAT, ALERT_FIRING},  /* due at 4000, not 4900 */
          {20000, 50, 5, STEP_REPEAT, ALERT_FIRING}, /* periods missed: one repeat, count from here */
          {21999, 50, 5, STEP_NONE, ALERT_FIRING},
          {22000, 50, 5, STEP_REPEAT, ALERT_FIRING},
          END}},
};

static void test_machine(void) {
        for (size_t i = 0; i < sizeof(machine_rows) / sizeof(machine_rows[0]); i++) {
                const MachineRow *row = &machine_rows[i];
                AlertRule r = {.def = {.op = row->op, .threshold = row->threshold, .clear = row->clear},
                               .min_samples = row->min_samples,
                               .for_ms = row->for_ms,
                               .repeat_ms = row->repeat_ms};
                AlertState st = {0};
                int64_t since = 0;

                for (size_t j = 0; j < 8 && row->steps[j].t >= 0; j++) {
                        const Step *s = &row->steps[j];
                        int64_t now = 1000000 + s->t;
                        AlertStep got = alert_state_step(&st, &r, s->value >= 0, s->value, s->samples, now);

                        CHECK(got == s->want_step && st.state == s->want_state,
                              "[%s] step %zu: got step %d state %d, want %d %d", row->clause, j, got, st.state,
                              s->want_step, s->want_state);
                        if (got == STEP_FIRING)
                                since = now;
                        if (st.state == ALERT_FIRING)
                                CHECK(st.since_ms == since, "[%s] step %zu: since %lld, want %lld", row->clause, j,
                                      (long long)st.since_ms, (long long)since);
                        if (got == STEP_REPEAT)
                                CHECK(st.published_ms <= now && now - st.published_ms < row->repeat_ms,
                                      "[%s] repeat time %lld at %lld", row->clause, (long long)st.published_ms,
                                      (long long)now);
                }
        }
}

/* ---- 2. payload ------------------------------------------------------- */

static const msgpack_object *map_get(const msgpack_object *map, const char *key) {
        for (uint32_t i = 0; i < map->via.map.size; i++) {
                const msgpack_object_kv *kv = &map->via.map.ptr[i];
                if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
                    memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
                        return &kv->val;
        }
        return NULL;
}

static bool str_is(const msgpack_object *o, const char *s) {
        return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
               memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static void test_payload(void) {
        AlertNotice n = {
                .kind = NOTICE_THRESHOLD,
                .state = NOTICE_FIRING,
                .def = {.index = IDX_CSAT, .window_ms = 3600000, .op = RULE_BELOW, .severity = SEV_CRITICAL,
                        .threshold = 80, .clear = 85},
                .value = 72.5,
                .samples = 31,
                .since_ms = 1700000000000,
                .ts_ms = 1700000001000,
                .priority = -1,
        };
        msgpack_sbuffer buf;
        msgpack_packer pk;
        msgpack_unpacked u;
        char topic[128];
        const msgpack_object *m, *v;
        static const char *const keys[] = {"v",  "id",    "kind",     "rule",    "scope", "index",
                                           "window", "value", "threshold", "clear", "op",   "state",
                                           "severity", "samples", "since", "ts"};

        snprintf(n.rule, sizeof(n.rule), "csat-drop");
        scope_parse("team:billing", &n.scope);
        alert_notice_new_id(n.id);
        CHECK(alert_notice_topic(&n, topic, sizeof(topic)) == strlen("alert.critical.csat-drop") &&
                      strcmp(topic, "alert.critical.csat-drop") == 0,
              "topic %s", topic);

        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        CHECK(alert_notice_pack(&n, &pk) == 0, "pack");
        msgpack_unpacked_init(&u);
        CHECK(msgpack_unpack_next(&u, buf.data, buf.size, NULL) == MSGPACK_UNPACK_SUCCESS, "unpack");
        m = &u.data;
        CHECK(m->type == MSGPACK_OBJECT_MAP && m->via.map.size == 16, "a map of 16: %d", (int)m->via.map.size);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                CHECK(map_get(m, keys[i]), "4: key %s present", keys[i]);
        v = map_get(m, "v");
        CHECK(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 1, "v = 1");
        v = map_get(m, "id");
        CHECK(v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == 32, "id: 32 hex digits");
        CHECK(str_is(map_get(m, "kind"), "threshold"), "kind");
        CHECK(str_is(map_get(m, "rule"), "csat-drop"), "rule");
        CHECK(str_is(map_get(m, "scope"), "team:billing"), "scope");
        CHECK(str_is(map_get(m, "index"), "csat"), "index");
        CHECK(str_is(map_get(m, "window"), "1h"), "window as duration text");
        v = map_get(m, "value");
        CHECK(v && v->type == MSGPACK_OBJECT_FLOAT64 && v->via.f64 == 72.5, "value float64");
        v = map_get(m, "threshold");
        CHECK(v && v->type == MSGPACK_OBJECT_FLOAT64 && v->via.f64 == 80, "threshold float64");
        v = map_get(m, "clear");
        CHECK(v && v->type == MSGPACK_OBJECT_FLOAT64 && v->via.f64 == 85, "clear float64");
        CHECK(str_is(map_get(m, "op"), "below"), "op");
        CHECK(str_is(map_get(m, "state"), "firing"), "state");
        CHECK(str_is(map_get(m, "severity"), "critical"), "severity");
        v = map_get(m, "samples");
        CHECK(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 31, "samples");
        v = map_get(m, "since");
        CHECK(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 1700000000000, "since ms");
        v = map_get(m, "ts");
        CHECK(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 1700000001000, "ts ms");
        CHECK(!map_get(m, "ticket"), "no ticket on threshold alerts");
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&buf);

        /* sla_breach carries the ticket. */
        n.kind = NOTICE_SLA_BREACH;
        n.priority = PRIORITY_HIGH;
        snprintf(n.ticket, sizeof(n.ticket), "T-42");
        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        CHECK(alert_notice_pack(&n, &pk) == 0, "pack sla");
        msgpack_unpacked_init(&u);
        CHECK(msgpack_unpack_next(&u, buf.data, buf.size, NULL) == MSGPACK_UNPACK_SUCCESS, "unpack sla");
        CHECK(str_is(map_get(&u.data, "kind"), "sla_breach"), "kind sla_breach");
        CHECK(str_is(map_get(&u.data, "ticket"), "T-42"), "ticket");
        CHECK(str_is(map_get(&u.data, "priority"), "high"), "priority");
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&buf);
}

/* ---- 3. engine -------------------------------------------------------- */

static char dir[] = "/tmp/raterd-test-alerts-XXXXXX";

typedef struct {
        AlertNotice v[64];
        size_t n;
} Sink;

static void sink_fn(void *userdata, const AlertNotice *n) {
        Sink *s = userdata;
        if (s->n < 64)
                s->v[s->n++] = *n;
}

static Scope sc(const char *text) {
        Scope s;
        if (scope_parse(text, &s) < 0)
                abort();
        return s;
}

/* n feedback events of `score` (of 5) in scope at time ts, in both bucket
 * resolutions, as a committed batch would leave them. */
static void feed(Store *st, const char *scope, int64_t ts, unsigned score, unsigned n) {
        BucketRecord rec = {0};
        Scope s = sc(scope);
        MDB_txn *txn;

        for (unsigned i = 0; i < n; i++)
                fbagg_add(&rec.fb, &(Event){.score = score, .scale = 5});
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        CHECK(buckets_add(st, txn, RES_MINUTE, &s, (uint32_t)(ts / 60000), &rec) == 0, "add minute");
        CHECK(buckets_add(st, txn, RES_HOUR, &s, (uint32_t)(ts / 3600000), &rec) == 0, "add hour");
        CHECK(store_commit(txn) == 0, "commit");
}

static json_object *command(Alerts *a, const char *json) {
        json_object *req = json_tokener_parse(json), *res = NULL;
        char err[512] = "";
        int r = alerts_command(a, json_object_get_string(json_object_object_get(req, "cmd")), req, &res, err,
                               sizeof(err));

        CHECK(r == 0, "command %s: %d %s", json, r, err);
        json_object_put(req);
        return res;
}

static size_t array_len(json_object *o, const char *key) {
        return json_object_array_length(json_object_object_get(o, key));
}

static json_object *item(json_object *o, const char *key, size_t i) {
        return json_object_array_get_idx(json_object_object_get(o, key), i);
}

static const char *str(json_object *o, const char *key) {
        return json_object_get_string(json_object_object_get(o, key));
}

typedef struct {
        Config c;
        Store *st;
        Alerts *a;
        Sink sink;
} Env;

static void env_open(Env *e, const char *config) {
        char err[512] = "";

        e->sink.n = 0;
        CHECK(config_init(&e->c) == 0, "config");
        CHECK(config_load_string(&e->c, "t.conf", config, err, sizeof(err)) == 0, "config: %s", err);
        CHECK(store_open(&e->st, dir, 1 << 24, err, sizeof(err)) == 0, "store: %s", err);
        CHECK(alerts_new(&e->a, NULL, &e->c, e->st, err, sizeof(err)) == 0, "alerts_new: %s", err);
        alerts_set_sink(e->a, sink_fn, &e->sink);
}

static void env_close(Env *e) {
        e->a = alerts_free(e->a);
        e->st = store_free(e->st);
        config_deinit(&e->c);
}

static void rm_store(void) {
        testdir_clear_store(dir);
}

static const char *const csat_rule = "[rule csat-drop]\nindex = csat\nscope = team:*\nwindow = 1h\nbelow = 80\n"
                                     "clear = 85\nseverity = warning\n";

static void test_fire_and_resolve(int64_t t0) {
        Env e;
        Scope x = sc("team:x"), all = sc("all");
        json_object *res;

        rm_store();
        env_open(&e, csat_rule);
        feed(e.st, "team:x", t0, 5, 10);
        CHECK(alerts_evaluate(e.a, &x, 1, NULL, 0, t0) == 0 && e.sink.n == 0, "csat 100: nothing");
        feed(e.st, "team:x", t0, 1, 10);
        CHECK(alerts_evaluate(e.a, (Scope[]){all, x}, 2, NULL, 0, t0 + 1000) == 0, "evaluate");
        CHECK(e.sink.n == 1, "4: firing published: %zu", e.sink.n);
        if (e.sink.n == 1) {
                const AlertNotice *n = &e.sink.v[0];
                CHECK(n->state == NOTICE_FIRING && n->kind == NOTICE_THRESHOLD && strcmp(n->rule, "csat-drop") == 0,
                      "firing notice");
                CHECK(n->value == 50 && n->samples == 20 && n->def.threshold == 80 && n->def.clear == 85 &&
                              n->def.op == RULE_BELOW && n->def.severity == SEV_WARNING && n->since_ms == t0 + 1000 &&
                              n->ts_ms == t0 + 1000 && n->def.window_ms == 3600000 && n->def.index == IDX_CSAT,
                      "firing fields: value %g samples %llu", n->value, (unsigned long long)n->samples);
                CHECK(n->scope.kind == SCOPE_TEAM && n->scope.len == 1 && n->scope.name[0] == 'x', "scope team:x");
        }
        CHECK(alerts_firing(e.a) == 1, "firing count");

        /* 40/50 = 80 and 50/60 = 83.3: in the band, no notice. */
        feed(e.st, "team:x", t0, 5, 30);
        CHECK(alerts_tick(e.a, t0 + 2000) == 0 && e.sink.n == 1, "80: still firing, nothing published");
        feed(e.st, "team:x", t0, 5, 10);
        CHECK(alerts_evaluate(e.a, &x, 1, NULL, 0, t0 + 3000) == 0 && e.sink.n == 1, "83.3: still firing");
        res = command(e.a, "{\"cmd\":\"alerts\"}");
        CHECK(array_len(res, "alerts") == 1 && strcmp(str(item(res, "alerts", 0), "state"), "firing") == 0 &&
                      fabs(json_object_get_double(json_object_object_get(item(res, "alerts", 0), "value")) - 250.0 / 3) <
                              1e-9,
              "alerts: %s", json_object_to_json_string(res));
        json_object_put(res);

        /* 70/80 = 87.5 >= clear: resolved. */
        feed(e.st, "team:x", t0, 5, 20);
        CHECK(alerts_evaluate(e.a, &x, 1, NULL, 0, t0 + 4000) == 0 && e.sink.n == 2, "resolved published");
        if (e.sink.n == 2)
                CHECK(e.sink.v[1].state == NOTICE_RESOLVED && e.sink.v[1].value == 87.5 &&
                              e.sink.v[1].since_ms == t0 + 1000 && memcmp(e.sink.v[0].id, e.sink.v[1].id, 16) != 0,
                      "resolved notice: since of the firing, a new id");
        CHECK(alerts_firing(e.a) == 0, "nothing firing");

        /* History: newest first, both transitions. */
        res = command(e.a, "{\"cmd\":\"alerts\",\"history\":true}");
        CHECK(array_len(res, "alerts") == 2 && strcmp(str(item(res, "alerts", 0), "state"), "resolved") == 0 &&
                      strcmp(str(item(res, "alerts", 1), "state"), "firing") == 0,
              "history: %s", json_object_to_json_string(res));
        json_object_put(res);
        env_close(&e);
}

static void test_min_samples_for_repeat(int64_t t0) {
        Env e;
        Scope b = sc("team:b");
        json_object *res;

        rm_store();
        env_open(&e, "[rule slow]\nindex = csat\nscope = team:b\nwindow = 1h\nbelow = 80\nmin_samples = 5\n"
                     "for = 5m\nrepeat = 2s\nseverity = critical\n");
        feed(e.st, "team:b", t0, 1, 4);
        CHECK(alerts_evaluate(e.a, &b, 1, NULL, 0, t0) == 0 && e.sink.n == 0, "4 samples < min_samples: hold");
        res = command(e.a, "{\"cmd\":\"alerts\"}");
        CHECK(array_len(res, "alerts") == 0, "nothing pending below min_samples");
        json_object_put(res);

        feed(e.st, "team:b", t0, 1, 1);
        CHECK(alerts_evaluate(e.a, &b, 1, NULL, 0, t0 + 1000) == 0 && e.sink.n == 0, "pending is not published");
        res = command(e.a, "{\"cmd\":\"alerts\"}");
        CHECK(array_len(res, "alerts") == 1 && strcmp(str(item(res, "alerts", 0), "state"), "pending") == 0 &&
                      json_object_get_int64(json_object_object_get(item(res, "alerts", 0), "since")) == t0 + 1000,
              "pending listed: %s", json_object_to_json_string(res));
        json_object_put(res);

        CHECK(alerts_tick(e.a, t0 + 1000 + 299999) == 0 && e.sink.n == 0, "still pending before `for`");
        CHECK(alerts_tick(e.a, t0 + 1000 + 300000) == 0 && e.sink.n == 1, "firing after `for`");
        CHECK(e.sink.n == 1 && e.sink.v[0].since_ms == t0 + 301000 && e.sink.v[0].def.severity == SEV_CRITICAL,
              "since = when it started firing");
        CHECK(alerts_tick(e.a, t0 + 302000) == 0 && e.sink.n == 1, "no repeat before 2s");
        CHECK(alerts_tick(e.a, t0 + 303000) == 0 && e.sink.n == 2, "repeat after 2s");
        CHECK(e.sink.n == 2 && e.sink.v[1].repeat && e.sink.v[1].state == NOTICE_FIRING &&
                      e.sink.v[1].since_ms == t0 + 301000,
              "a repeat is `firing` with the same since");
        CHECK(alerts_tick(e.a, t0 + 305000) == 0 && e.sink.n == 3, "second repeat");

        /* History has pending and firing, not the repeats. */
        res = command(e.a, "{\"cmd\":\"alerts\",\"history\":true}");
        CHECK(array_len(res, "alerts") == 2 && strcmp(str(item(res, "alerts", 1), "state"), "pending") == 0,
              "history: %s", json_object_to_json_string(res));
        json_object_put(res);
        res = command(e.a, "{\"cmd\":\"rules\"}");
        CHECK(array_len(res, "rules") == 1 &&
                      json_object_get_int64(json_object_object_get(item(res, "rules", 0), "firing")) == 1 &&
                      strcmp(str(item(res, "rules", 0), "for"), "5m") == 0,
              "rules: %s", json_object_to_json_string(res));
        json_object_put(res);
        env_close(&e);
}

static void test_silence(int64_t t0) {
        Env e;
        Scope x = sc("team:x"), y = sc("team:y");
        json_object *res, *req;
        char err[256] = "", buf[128];
        int64_t id;

        rm_store();
        env_open(&e, csat_rule);
        res = command(e.a, "{\"cmd\":\"silence_add\",\"rule\":\"csat-drop\",\"scope\":\"team:x\",\"for\":\"1h\","
                           "\"comment\":\"maintenance\"}");
        id = json_object_get_int64(json_object_object_get(res, "id"));
        CHECK(id == 1, "first silence id 1");
        json_object_put(res);

        feed(e.st, "team:x", t0, 1, 3);
        feed(e.st, "team:y", t0, 1, 3);
        CHECK(alerts_evaluate(e.a, (Scope[]){x, y}, 2, NULL, 0, t0) == 0, "evaluate");
        CHECK(e.sink.n == 1 && e.sink.v[0].scope.name[0] == 'y', "4: only the unsilenced scope is published");
        CHECK(alerts_firing(e.a) == 2, "both change state");
        res = command(e.a, "{\"cmd\":\"alerts\",\"history\":true}");
        CHECK(array_len(res, "alerts") == 2, "both recorded");
        for (size_t i = 0; i < 2; i++) {
                json_object *h = item(res, "alerts", i);
                CHECK(json_object_get_boolean(json_object_object_get(h, "silenced")) ==
                              (strcmp(str(h, "scope"), "team:x") == 0),
                      "silenced flag: %s", json_object_to_json_string(h));
        }
        json_object_put(res);

        res = command(e.a, "{\"cmd\":\"silence_list\"}");
        CHECK(array_len(res, "silences") == 1 && strcmp(str(item(res, "silences", 0), "comment"), "maintenance") == 0 &&
                      strcmp(str(item(res, "silences", 0), "scope"), "team:x") == 0,
              "list: %s", json_object_to_json_string(res));
        json_object_put(res);

        /* Refusals. */
        {
                static const char *const bad[] = {
                        "{\"cmd\":\"silence_add\",\"rule\":\"nope\",\"for\":\"1h\"}",
                        "{\"cmd\":\"silence_add\",\"rule\":\"csat-drop\",\"for\":\"soon\"}",
                        "{\"cmd\":\"silence_add\",\"rule\":\"csat-drop\",\"for\":\"1h\",\"scope\":\"region:eu\"}",
                        "{\"cmd\":\"silence_add\",\"rule\":\"csat-drop\"}",
                        "{\"cmd\":\"silence_rm\",\"id\":\"99\"}",
                        "{\"cmd\":\"silence_rm\",\"id\":\"x1\"}",
                        "{\"cmd\":\"alerts\",\"since\":\"yesterday\"}",
                };
                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        json_object *out = NULL;
                        req = json_tokener_parse(bad[i]);
                        *err = 0;
                        CHECK(alerts_command(e.a, str(req, "cmd"), req, &out, err, sizeof(err)) ==
                                              ALERTS_E_BAD_REQUEST &&
                                      *err && !out,
                              "refused: %s (%s)", bad[i], err);
                        json_object_put(req);
                }
        }

        /* Removed: the resolution of team:x is published. */
        snprintf(buf, sizeof(buf), "{\"cmd\":\"silence_rm\",\"id\":\"%lld\"}", (long long)id);
        json_object_put(command(e.a, buf));
        res = command(e.a, "{\"cmd\":\"silence_list\"}");
        CHECK(array_len(res, "silences") == 0, "removed");
        json_object_put(res);
        feed(e.st, "team:x", t0, 5, 30);
        CHECK(alerts_tick(e.a, t0 + 1000) == 0 && e.sink.n == 2 && e.sink.v[1].state == NOTICE_RESOLVED,
              "resolution published after the silence is gone");

        /* A silence survives a restart, ids are not reused, expiry removes it. */
        json_object_put(command(e.a, "{\"cmd\":\"silence_add\",\"rule\":\"csat-drop\",\"for\":\"2s\"}"));
        env_close(&e);
        env_open(&e, csat_rule);
        res = command(e.a, "{\"cmd\":\"silence_list\"}");
        CHECK(array_len(res, "silences") == 1 &&
                      json_object_get_int64(json_object_object_get(item(res, "silences", 0), "id")) == 2 &&
                      json_object_is_type(json_object_object_get(item(res, "silences", 0), "scope"), json_type_null),
              "persisted: %s", json_object_to_json_string(res));
        json_object_put(res);
        CHECK(alerts_tick(e.a, now_ms() + 3000) == 0, "tick past expiry");
        env_close(&e);
        env_open(&e, csat_rule);
        res = command(e.a, "{\"cmd\":\"silence_list\"}");
        CHECK(array_len(res, "silences") == 0, "expired silence deleted from the store");
        json_object_put(res);
        env_close(&e);
}

static void test_reload_and_restart(int64_t t0) {
        Env e;
        Scope x = sc("team:x");
        Config other;
        char err[256] = "";

        rm_store();
        env_open(&e, "[rule keep]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 80\n"
                     "[rule drop]\nindex = satisfaction\nscope = team:*\nwindow = 5m\nbelow = 50\n");
        feed(e.st, "team:x", t0, 1, 5);
        feed(e.st, "all", t0, 1, 5);
        CHECK(alerts_tick(e.a, t0) == 0 && e.sink.n == 2 && alerts_firing(e.a) == 2, "both fire");

        /* Reload without `drop`: its alert resolves and is published. */
        config_init(&other);
        CHECK(config_load_string(&other, "t.conf", "[rule keep]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 80\n",
                                 err, sizeof(err)) == 0,
              "%s", err);
        CHECK(alerts_set_rules(e.a, other.rules, other.n_rules, SEV_OFF, t0 + 1000, err, sizeof(err)) == 0, "%s", err);
        config_deinit(&other);
        CHECK(e.sink.n == 3 && e.sink.v[2].state == NOTICE_RESOLVED && strcmp(e.sink.v[2].rule, "drop") == 0 &&
                      e.sink.v[2].def.index == IDX_SATISFACTION && e.sink.v[2].def.window_ms == 300000,
              "4: removed rule resolved and published with its own fields");
        CHECK(alerts_firing(e.a) == 1, "the kept rule still fires");
        CHECK(alerts_tick(e.a, t0 + 2000) == 0 && e.sink.n == 3, "no second resolution");

        /* A refused rule set changes nothing. */
        {
                Rule bad = {.name = (char *)"b", .index = (char *)"grade", .scope = (char *)"all", .window_ms = 1,
                            .has_op = true};
                CHECK(alerts_set_rules(e.a, &bad, 1, SEV_OFF, t0, err, sizeof(err)) == -EINVAL && *err,
                      "grade refused");
                CHECK(alerts_firing(e.a) == 1, "rules kept");
        }

        /* Restart (as after kill -9: the state was committed before the
         * notice left): no second firing notice, still firing, and the
         * resolution comes when the value recovers. */
        env_close(&e);
        env_open(&e, "[rule keep]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 80\n");
        CHECK(alerts_firing(e.a) == 1, "firing after restart");
        CHECK(alerts_tick(e.a, t0 + 3000) == 0 && e.sink.n == 0, "4: a restart does not repeat a firing notice");
        feed(e.st, "all", t0, 5, 50);
        CHECK(alerts_evaluate(e.a, &(Scope){.kind = SCOPE_ALL}, 1, NULL, 0, t0 + 4000) == 0 && e.sink.n == 1 &&
                      e.sink.v[0].state == NOTICE_RESOLVED,
              "4: the resolution is not lost");
        CHECK(alerts_firing(e.a) == 0, "resolved");

        /* A rule removed while raterd was down: resolved by the first tick. */
        feed(e.st, "team:x", t0, 1, 100);
        env_close(&e);
        env_open(&e, "[rule keep]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 80\n"
                     "[rule gone]\nindex = csat\nscope = team:x\nwindow = 1h\nbelow = 80\n");
        CHECK(alerts_evaluate(e.a, &x, 1, NULL, 0, t0 + 5000) == 0 && e.sink.n == 1, "gone fires");
        env_close(&e);
        env_open(&e, "[rule keep]\nindex = csat\nscope = all\nwindow = 1h\nbelow = 80\n");
        CHECK(alerts_firing(e.a) == 1, "loaded");
        CHECK(alerts_tick(e.a, t0 + 6000) == 0 && e.sink.n == 1 && e.sink.v[0].state == NOTICE_RESOLVED &&
                      strcmp(e.sink.v[0].rule, "gone") == 0,
              "resolved at the first tick");
        CHECK(alerts_firing(e.a) == 0, "nothing firing");
        env_close(&e);
}

static void test_breaches_and_history(int64_t t0) {
        Env e;
        Breach b = {.deadline_ms = t0 - 500, .priority = PRIORITY_NORMAL};
        json_object *res;
        MDB_txn *txn;
        unsigned deleted = 0;

        rm_store();
        env_open(&e, "[sla]\nbreach_alert = warning\nfirst_response.normal = 2s\n");
        snprintf(b.ticket, sizeof(b.ticket), "T-1");
        scope_parse("team:support", &b.scopes.team);
        CHECK(alerts_evaluate(e.a, NULL, 0, &b, 1, t0) == 0 && e.sink.n == 1, "breach published");
        if (e.sink.n == 1) {
                const AlertNotice *n = &e.sink.v[0];
                CHECK(n->kind == NOTICE_SLA_BREACH && strcmp(n->rule, "sla-breach") == 0 &&
                              strcmp(n->ticket, "T-1") == 0 && n->since_ms == t0 - 500 &&
                              n->def.severity == SEV_WARNING && n->def.window_ms == 2000 &&
                              n->scope.kind == SCOPE_TEAM && n->state == NOTICE_FIRING,
                      "breach fields");
        }
        /* A silence on sla-breach suppresses the next one (recorded). */
        json_object_put(command(e.a, "{\"cmd\":\"silence_add\",\"rule\":\"sla-breach\",\"for\":\"1h\"}"));
        snprintf(b.ticket, sizeof(b.ticket), "T-2");
        CHECK(alerts_evaluate(e.a, NULL, 0, &b, 1, t0 + 10) == 0 && e.sink.n == 1, "silenced breach not published");
        res = command(e.a, "{\"cmd\":\"alerts\",\"history\":true}");
        CHECK(array_len(res, "alerts") == 2 && strcmp(str(item(res, "alerts", 0), "ticket"), "T-2") == 0 &&
                      strcmp(str(item(res, "alerts", 0), "kind"), "sla_breach") == 0,
              "breaches in the history, newest first: %s", json_object_to_json_string(res));
        json_object_put(res);
        res = command(e.a, "{\"cmd\":\"alerts\",\"history\":true,\"since\":\"1ms\"}");
        json_object_put(res);

        /* Off: nothing. */
        CHECK(alerts_set_rules(e.a, NULL, 0, SEV_OFF, t0, NULL, 0) == 0, "breach_alert off");
        snprintf(b.ticket, sizeof(b.ticket), "T-3");
        CHECK(alerts_evaluate(e.a, NULL, 0, &b, 1, t0 + 20) == 0 && e.sink.n == 1, "off: not published");

        /* Pruning history older than a cutoff. */
        CHECK(store_begin(e.st, 0, &txn) == 0, "begin");
        CHECK(alert_history_prune(e.st, txn, t0 + 5, 100, &deleted) == 0 && deleted == 1, "pruned the oldest: %u",
              deleted);
        CHECK(store_commit(txn) == 0, "commit");
        res = command(e.a, "{\"cmd\":\"alerts\",\"history\":true}");
        CHECK(array_len(res, "alerts") == 1, "one left");
        json_object_put(res);
        env_close(&e);
}

/* Values change through commits (alerts_evaluate) or when the window
 * slides past a bucket boundary: only then does the tick scan again. */
static void test_window_slides(int64_t t0) {
        Env e;

        rm_store();
        env_open(&e, "[rule fast]\nindex = csat\nscope = team:*\nwindow = 5m\nbelow = 80\n");
        feed(e.st, "team:w", t0 - 4 * 60000, 1, 5);
        feed(e.st, "team:w", t0, 5, 5);
        CHECK(alerts_tick(e.a, t0) == 0 && e.sink.n == 1 && e.sink.v[0].state == NOTICE_FIRING, "50: firing");
        feed(e.st, "team:w", t0, 5, 100); /* written, never committed through ingest */
        CHECK(alerts_tick(e.a, t0 + 1000) == 0 && e.sink.n == 1, "same span: no rescan");
        CHECK(alerts_tick(e.a, t0 + 60000) == 0 && e.sink.n == 2 && e.sink.v[1].state == NOTICE_RESOLVED &&
                      e.sink.v[1].value == 100,
              "the window slid: the unhappy minute left it, resolved without any event");
        env_close(&e);
}

/* A rule kept under its name keeps its alerts; those in scopes its new
 * pattern no longer matches resolve like those of a removed rule. */
static void test_scope_narrowed(int64_t t0) {
        Env e;
        Config other;
        char err[256] = "";

        rm_store();
        env_open(&e, csat_rule);
        feed(e.st, "team:x", t0, 1, 3);
        feed(e.st, "team:y", t0, 1, 3);
        CHECK(alerts_tick(e.a, t0) == 0 && e.sink.n == 2 && alerts_firing(e.a) == 2, "both fire");
        config_init(&other);
        CHECK(config_load_string(&other, "t.conf",
                                 "[rule csat-drop]\nindex = csat\nscope = team:y\nwindow = 1h\nbelow = 70\n"
                                 "clear = 75\nseverity = critical\n",
                                 err, sizeof(err)) == 0,
              "%s", err);
        CHECK(alerts_set_rules(e.a, other.rules, other.n_rules, SEV_OFF, t0 + 1000, err, sizeof(err)) == 0, "%s", err);
        config_deinit(&other);
        CHECK(e.sink.n == 3 && e.sink.v[2].state == NOTICE_RESOLVED && e.sink.v[2].scope.name[0] == 'x' &&
                      e.sink.v[2].def.severity == SEV_WARNING,
              "team:x is no longer watched: resolved, as it was defined");
        CHECK(alerts_firing(e.a) == 1, "team:y kept firing");
        feed(e.st, "team:y", t0, 5, 27); /* 27/30 = 90 */
        CHECK(alerts_evaluate(e.a, &(Scope){.kind = SCOPE_TEAM, .len = 1, .name = "y"}, 1, NULL, 0, t0 + 2000) == 0 &&
                      e.sink.n == 4 && e.sink.v[3].state == NOTICE_RESOLVED && e.sink.v[3].def.severity == SEV_CRITICAL &&
                      e.sink.v[3].def.clear == 75,
              "team:y resolves under the new definition");
        env_close(&e);
}

/* The real PUB socket: topic and payload frames reach a subscriber; a bad
 * endpoint or a bad rule fails the constructor without leaking. */
static void test_socket(int64_t t0) {
        void *zctx = zmq_ctx_new(), *sub = zmq_socket(zctx, ZMQ_SUB);
        char err[512] = "", topic[64] = "", payload[1024];
        Config c;
        Store *st;
        Alerts *a = NULL;
        Scope x = sc("team:x");
        int n, linger = 0, timeout = 2000;

        rm_store();
        CHECK(store_open(&st, dir, 1 << 24, err, sizeof(err)) == 0, "store: %s", err);
        config_init(&c);
        CHECK(config_load_string(&c, "t.conf", "[alerts]\nbind = inproc://test-alerts\n[rule csat-drop]\n"
                                                 "index = csat\nscope = team:*\nwindow = 1h\nbelow = 80\n",
                                 err, sizeof(err)) == 0,
              "%s", err);
        CHECK(alerts_new(&a, zctx, &c, st, err, sizeof(err)) == 0, "alerts_new: %s", err);
        zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.", 6);
        CHECK(zmq_connect(sub, "inproc://test-alerts") == 0, "connect");
        usleep(50000);
        feed(st, "team:x", t0, 1, 2);
        CHECK(alerts_evaluate(a, &x, 1, NULL, 0, t0) == 0, "evaluate");
        n = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
        CHECK(n == (int)strlen("alert.warning.csat-drop") && memcmp(topic, "alert.warning.csat-drop", (size_t)n) == 0,
              "topic frame (%d)", n);
        n = zmq_recv(sub, payload, sizeof(payload), 0);
        CHECK(n > 100 && (uint8_t)payload[0] == 0xde, "payload frame: a msgpack map16 of 16 (%d)", n);
        a = alerts_free(a);
        config_deinit(&c);

        /* Refusals: an endpoint that cannot be bound, a rule that cannot be
         * compiled. */
        config_init(&c);
        free(c.alerts_bind);
        c.alerts_bind = strdup("tcp://256.1.1.1:1");
        *err = 0;
        CHECK(alerts_new(&a, zctx, &c, st, err, sizeof(err)) < 0 && !a && strstr(err, "256.1.1.1"), "bad bind: %s",
              err);
        free(c.alerts_bind);
        c.alerts_bind = strdup("");
        c.rules = calloc(1, sizeof(Rule));
        c.n_rules = 1;
        c.rules[0] = (Rule){.name = strdup("r"), .index = strdup("grade"), .scope = strdup("all"), .window_ms = 1,
                            .has_op = true};
        *err = 0;
        CHECK(alerts_new(&a, zctx, &c, st, err, sizeof(err)) == -EINVAL && !a && *err, "bad rule: %s", err);
        config_deinit(&c);
        store_free(st);
        zmq_close(sub);
        zmq_ctx_term(zctx);
}

int main(void) {
        /* At the start of a minute, so that ticks a few seconds apart
         * share their window span. */
        int64_t t0 = now_ms() / 60000 * 60000 + 100;

        test_machine();
        test_payload();
        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        test_fire_and_resolve(t0);
        test_min_samples_for_repeat(t0);
        test_silence(t0);
        test_reload_and_restart(t0);
        test_breaches_and_history(t0);
        test_window_slides(t0);
        test_scope_narrowed(t0);
        test_socket(t0);
        rm_store();
        rmdir(dir);
        CHECK_DONE();
}
