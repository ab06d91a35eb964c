/* tests/unit/test-complaints.c: the complaint state machine on real LMDB
 * (CONTRACT.md section 3, complaints): outcome points, counts and the
 * complaints_open gauge in any arrival order, unhandled sweeps, repeat
 * detection, configured points and pruning. Every delta goes through
 * batch_flush and a durable commit and is read back with buckets_sum and
 * gauges_get, the path the daemon uses. Each case runs on a fresh store. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "testdir.h"
#include "config/config.h"
#include "ingest/complaints.h"
#include "store/buckets.h"
#include "store/gauges.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* A minute start in 2023, plus 30 s so deadlines do not sit on minute
 * boundaries. */
#define T0 (28000000LL * MIN + 30000)

static char dir[] = "/tmp/raterd-test-complaints-XXXXXX";
static char path[256];
static int n_stores;
static Store *st;
static Batch *b;
static Config cfg;
static Scope all;

static const char *const outcome_names[_OUTCOME_MAX] = {"dissatisfied", "somewhat_dissatisfied",
                                                        "basically_satisfied", "satisfied", "very_satisfied"};

static void rm_store(void) {
        if (!n_stores)
                return;
        testdir_clear_store(path);
        rmdir(path);
}

/* Closes the previous case's store and opens an empty one. */
static void fresh(void) {
        char err[256] = "";

        st = store_free(st);
        rm_store();
        snprintf(path, sizeof(path), "%s/%d", dir, n_stores++);
        CHECK(store_open(&st, path, 1 << 24, err, sizeof(err)) == 0, "open %s: %s", path, err);
}

/* A complaint event; eid is the event id, cid the complaint id. */
static Event cev(const char *eid, const char *cid, ComplaintStatus status, int64_t ts, ComplaintOutcome outcome,
                 const char *team, const char *customer) {
        return (Event){
                .kind = EVENT_COMPLAINT,
                .v = 1,
                .id = sl(eid),
                .ts = ts,
                .team = sl(team),
                .customer = sl(customer),
                .complaint = sl(cid),
                .complaint_status = status,
                .severity = SEVERITY_MEDIUM,
                .outcome = status == COMPLAINT_RESOLVED ? outcome : OUTCOME_NONE,
        };
}

static Event opened(const char *eid, const char *cid, int64_t ts, const char *team, const char *customer) {
        return cev(eid, cid, COMPLAINT_OPENED, ts, OUTCOME_NONE, team, customer);
}

static Event resolved(const char *eid, const char *cid, int64_t ts, ComplaintOutcome o, const char *team) {
        return cev(eid, cid, COMPLAINT_RESOLVED, ts, o, team, NULL);
}

/* Applies one event in its own batch and durable commit. */
static void apply(const Event *ev) {
        MDB_txn *txn;
        int r;

        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        r = complaints_apply(st, txn, b, &cfg, ev);
        CHECK(r == 0, "apply %.*s: %d", (int)ev->id.len, ev->id.ptr, r);
        CHECK(batch_flush(b, st, txn) == 0, "flush");
        CHECK(store_commit(txn) == 0, "commit");
        batch_reset(b);
}

/* Runs a sweep in its own batch; returns how many deadlines it processed. */
static int sweep(int64_t now_ms, unsigned max) {
        MDB_txn *txn;
        unsigned swept = 12345;
        int r;

        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        r = complaints_sweep(st, txn, b, &cfg, now_ms, max, &swept);
        CHECK(r == 0, "sweep: %d", r);
        CHECK(batch_flush(b, st, txn) == 0, "flush");
        CHECK(store_commit(txn) == 0, "commit");
        batch_reset(b);
        return (int)swept;
}

/* The CpAgg of scope s over the minutes of [from_ms, to_ms]. */
static CpAgg sum(const Scope *s, int64_t from_ms, int64_t to_ms) {
        BucketRecord r = {0};
        MDB_txn *txn;

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        CHECK(buckets_sum(st, txn, RES_MINUTE, s, batch_minute(from_ms), batch_minute(to_ms), &r) == 0, "sum");
        mdb_txn_abort(txn);
        return r.cp;
}

static CpAgg sum_all(const Scope *s) {
        return sum(s, 0, T0 + 400 * DAY);
}

static int64_t open_gauge(const Scope *s) {
        Gauges g = {0};
        MDB_txn *txn;

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        CHECK(gauges_get(st, txn, s, &g) == 0, "gauges");
        mdb_txn_abort(txn);
        return g.complaints_open;
}

static ComplaintState state(const char *cid, int *rc) {
        ComplaintState s = {0};
        MDB_txn *txn;

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        *rc = complaints_get(st, txn, cid, strlen(cid), &s);
        mdb_txn_abort(txn);
        return s;
}

static Scope team(const char *name) {
        Scope s;
        char text[80];

        snprintf(text, sizeof(text), "team:%s", name);
        CHECK(scope_parse(text, &s) == 0, "scope %s", text);
        return s;
}

#define CHECK_CP(a, o, rs, rp, u, sc, pts, what)                                                                       \
        do {                                                                                                           \
                CpAgg _a = (a);                                                                                        \
                CHECK(_a.opened == (o) && _a.resolved == (rs) && _a.repeat == (rp) && _a.unhandled == (u) &&           \
                              _a.scored == (sc),                                                                       \
                      "%s: opened %llu resolved %llu repeat %llu unhandled %llu scored %llu", (what),                  \
                      (unsigned long long)_a.opened, (unsigned long long)_a.resolved,                                   \
                      (unsigned long long)_a.repeat, (unsigned long long)_a.unhandled,                                 \
                      (unsigned long long)_a.scored);                                                                  \
                CHECK_NEAR(_a.points, (pts), 1e-9, (what));                                                            \
        } while (0)

/* CONTRACT 3: default outcome points, counts in the minute of each event,
 * gauge up while open and back to 0, in order and resolved-first. */
static void test_outcomes(void) {
        static const struct {
                ComplaintOutcome outcome;
                double points;
        } rows[] = {
                {OUTCOME_DISSATISFIED, -3},       {OUTCOME_SOMEWHAT_DISSATISFIED, -1}, {OUTCOME_BASICALLY_SATISFIED, 0},
                {OUTCOME_SATISFIED, 2},           {OUTCOME_VERY_SATISFIED, 5},
        };
        Scope billing = team("billing");
        const int64_t tr = T0 + 3 * HOUR;

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                for (int reversed = 0; reversed < 2; reversed++) {
                        Event o = opened("e-open", "c1", T0, "billing", NULL);
                        Event r = resolved("e-res", "c1", tr, rows[i].outcome, "billing");
                        char what[96];
                        ComplaintState s;
                        int rc;

                        snprintf(what, sizeof(what), "%s%s", outcome_names[rows[i].outcome],
                                 reversed ? " (resolved first)" : "");
                        fresh();
                        apply(reversed ? &r : &o);
                        /* Open only between opened and resolved: never when
                         * resolved arrived first. */
                        CHECK(open_gauge(&all) == (reversed ? 0 : 1) && open_gauge(&billing) == (reversed ? 0 : 1),
                              "%s: gauge after first event", what);
                        apply(reversed ? &o : &r);
                        CHECK(open_gauge(&all) == 0 && open_gauge(&billing) == 0, "%s: gauge back to 0", what);

                        CHECK_CP(sum_all(&all), 1, 1, 0, 0, 1, rows[i].points, what);
                        CHECK_CP(sum_all(&billing), 1, 1, 0, 0, 1, rows[i].points, what);
                        CHECK_CP(sum(&all, T0, T0), 1, 0, 0, 0, 0, 0, what);
                        CHECK_CP(sum(&billing, tr, tr), 0, 1, 0, 0, 1, rows[i].points, what);

                        s = state("c1", &rc);
                        CHECK(rc == 0 && s.version == COMPLAINT_STATE_V2 &&
                                      s.flags == (CP_F_OPENED | CP_F_RESOLVED | CP_F_SCORED) &&
                                      s.outcome == rows[i].outcome && s.opened_ts == T0 && s.resolved_ts == tr &&
                                      s.last_ts == tr && s.deadline_ts == T0 + 72 * HOUR,
                              "%s: state rc %d flags %#x", what, rc, s.flags);

                        /* No deadline left behind: nothing to score later. */
                        CHECK(sweep(T0 + 100 * HOUR, 100) == 0, "%s: no unhandled entry", what);
                        CHECK_CP(sum_all(&all), 1, 1, 0, 0, 1, rows[i].points, what);
                }
        }
}

/* A second `opened` or `resolved` with a new event id (not a duplicate)
 * counts as an event and changes nothing else. */
static void test_second_events(void) {
        Scope t = team("t");
        Event o1 = opened("e1", "c1", T0, "t", "cust");
        Event o2 = opened("e2", "c1", T0 + MIN, "t", "cust");
        Event r1 = resolved("e3", "c1", T0 + HOUR, OUTCOME_SATISFIED, "t");
        Event r2 = resolved("e4", "c1", T0 + 2 * HOUR, OUTCOME_DISSATISFIED, "t");

        fresh();
        apply(&o1);
        apply(&o2);
        CHECK(open_gauge(&all) == 1 && open_gauge(&t) == 1, "second opened: still one open");
        /* Same customer, same complaint: not a repeat. */
        CHECK_CP(sum_all(&t), 2, 0, 0, 0, 0, 0, "two opened");
        CHECK_CP(sum(&t, T0 + MIN, T0 + MIN), 1, 0, 0, 0, 0, 0, "second opened in its minute");
        apply(&r1);
        apply(&r2);
        CHECK(open_gauge(&all) == 0 && open_gauge(&t) == 0, "gauge 0 after resolutions");
        CHECK_CP(sum_all(&t), 2, 2, 0, 0, 1, 2, "second resolved not scored");
        CHECK_CP(sum(&t, T0 + 2 * HOUR, T0 + 2 * HOUR), 0, 1, 0, 0, 0, 0, "second resolved counted");
        /* One deadline only, and it was removed at the resolution. */
        CHECK(sweep(T0 + 80 * HOUR, 100) == 0, "no deadline left");
}

/* CONTRACT 3, unhandled: -5 once, in the minute the deadline passes, never
 * before it; the complaint stays open; a later resolution is scored too. */
static void test_unhandled(void) {
        Scope t = team("t");
        const int64_t d = T0 + 72 * HOUR;
        Event o = opened("e1", "c1", T0, "t", NULL);
        Event r = resolved("e2", "c1", d + HOUR, OUTCOME_SATISFIED, NULL);
        ComplaintState s;
        int rc;

        fresh();
        apply(&o);
        CHECK(sweep(d - 1, 100) == 0, "nothing due 1 ms before the deadline");
        CHECK_CP(sum_all(&t), 1, 0, 0, 0, 0, 0, "before the deadline");
        CHECK(sweep(d, 100) == 1, "due at the deadline");
        CHECK_CP(sum(&t, d, d), 0, 0, 0, 1, 1, -5, "deadline minute");
        CHECK_CP(sum(&all, d, d), 0, 0, 0, 1, 1, -5, "deadline minute, all");
        CHECK_CP(sum(&t, T0 + MIN, d - MIN), 0, 0, 0, 0, 0, 0, "nothing between");
        CHECK(sweep(d + 10 * HOUR, 100) == 0, "scored once");
        CHECK_CP(sum_all(&t), 1, 0, 0, 1, 1, -5, "scored once, sums");
        CHECK(open_gauge(&t) == 1 && open_gauge(&all) == 1, "still open after unhandled");
        s = state("c1", &rc);
        CHECK(rc == 0 && (s.flags & CP_F_UNHANDLED) && (s.flags & CP_F_OPEN), "state flags %#x", s.flags);

        /* Unhandled then resolved: a second scored entry. */
        apply(&r);
        CHECK_CP(sum_all(&t), 1, 1, 0, 1, 2, -3, "unhandled then resolved");
        CHECK_CP(sum(&t, d + HOUR, d + HOUR), 0, 1, 0, 0, 1, 2, "outcome in the resolution minute");
        CHECK(open_gauge(&t) == 0 && open_gauge(&all) == 0, "closed");
        CHECK(sweep(d + 20 * HOUR, 100) == 0, "nothing more");
        CHECK_CP(sum_all(&t), 1, 1, 0, 1, 2, -3, "final");
}

/* A resolution past the deadline that arrives before any sweep (a restart,
 * or resolved-first) scores what the sweep would have: same sums in every
 * arrival order. */
static void test_late_resolution(void) {
        Scope t = team("t");
        const int64_t d = T0 + 72 * HOUR;

        for (int order = 0; order < 3; order++) {
                Event o = opened("e1", "c1", T0, "t", NULL);
                Event r = resolved("e2", "c1", d + MIN, OUTCOME_VERY_SATISFIED, "t");
                char what[64];

                snprintf(what, sizeof(what), "late resolution, order %d", order);
                fresh();
                if (order == 0) { /* sweep first */
                        apply(&o);
                        CHECK(sweep(d + MIN, 100) == 1, "%s: swept", what);
                        apply(&r);
                } else if (order == 1) { /* resolution before the sweep */
                        apply(&o);
                        apply(&r);
                } else { /* resolved first */
                        apply(&r);
                        apply(&o);
                }
                CHECK(sweep(d + 2 * MIN, 100) == 0, "%s: nothing left to sweep", what);
                CHECK_CP(sum_all(&t), 1, 1, 0, 1, 2, 0, what);
                CHECK_CP(sum(&t, d, d), 0, 0, 0, 1, 1, -5, what);
                CHECK(open_gauge(&t) == 0 && open_gauge(&all) == 0, "%s: gauge", what);
        }

        /* Resolved 1 ms before the deadline: handled in time. */
        {
                Event o = opened("e1", "c1", T0, "t", NULL);
                Event r = resolved("e2", "c1", d - 1, OUTCOME_SATISFIED, "t");
                fresh();
                apply(&o);
                apply(&r);
                CHECK(sweep(d + HOUR, 100) == 0, "in time: nothing to sweep");
                CHECK_CP(sum_all(&t), 1, 1, 0, 0, 1, 2, "resolved in time");
        }
}

/* The sweep honours max and resumes where it stopped. */
static void test_sweep_max(void) {
        static const char *const ids[] = {"a", "b", "c", "d", "e"};
        const int64_t d = T0 + 72 * HOUR;

        fresh();
        for (size_t i = 0; i < 5; i++) {
                Event o = opened(ids[i], ids[i], T0 + (int64_t)i * MIN, NULL, NULL);
                apply(&o);
        }
        CHECK(sweep(d + 10 * MIN, 2) == 2, "first two");
        CHECK(sweep(d + 10 * MIN, 2) == 2, "next two");
        CHECK(sweep(d + 10 * MIN, 0) == 0, "max 0");
        CHECK(sweep(d + 10 * MIN, 2) == 1, "last one");
        CHECK_CP(sum_all(&all), 5, 0, 0, 5, 5, -25, "five unhandled");
        CHECK(open_gauge(&all) == 5, "five still open");
}

/* CONTRACT 3, repeat_complaint_rate: another complaint opened by the same
 * customer within the previous 30 days. */
static void test_repeat(void) {
        static const struct {
                const char *name;
                int64_t gap;        /* second opening after the first */
                const char *second; /* its customer */
                bool reversed;      /* the second arrives first */
                uint64_t repeat;
        } rows[] = {
                {"same millisecond", 0, "cust", false, 1},
                {"1 hour later", HOUR, "cust", false, 1},
                {"29 days later", 29 * DAY, "cust", false, 1},
                {"exactly 30 days later", 30 * DAY, "cust", false, 1},
                {"30 days + 1 ms later", 30 * DAY + 1, "cust", false, 0},
                {"31 days later", 31 * DAY, "cust", false, 0},
                {"another customer", HOUR, "other", false, 0},
                {"no customer", HOUR, NULL, false, 0},
                /* Documented limitation: only the latest opening is kept. */
                {"arrivals out of order", HOUR, "cust", true, 0},
        };
        Scope t1 = team("t1"), t2 = team("t2");

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                Event a = opened("e1", "first", T0, "t1", "cust");
                Event c = opened("e2", "second", T0 + rows[i].gap, "t2", rows[i].second);

                fresh();
                apply(rows[i].reversed ? &c : &a);
                apply(rows[i].reversed ? &a : &c);
                CHECK(sum_all(&all).repeat == rows[i].repeat, "%s: repeat %llu", rows[i].name,
                      (unsigned long long)sum_all(&all).repeat);
                /* Counted in the repeating complaint's scopes and minute. */
                CHECK(sum(&t2, T0 + rows[i].gap, T0 + rows[i].gap).repeat == rows[i].repeat, "%s: team and minute",
                      rows[i].name);
                CHECK(sum_all(&t1).repeat == 0, "%s: not on the first", rows[i].name);
                CHECK(sum_all(&all).opened == 2, "%s: opened", rows[i].name);
        }

        /* A chain: each opening compares with the latest one. */
        fresh();
        {
                Event e[] = {
                        opened("e1", "c1", T0, NULL, "cust"),
                        opened("e2", "c2", T0 + 20 * DAY, NULL, "cust"),
                        opened("e3", "c3", T0 + 45 * DAY, NULL, "cust"), /* 25 days after c2 */
                        opened("e4", "c4", T0 + 90 * DAY, NULL, "cust"), /* 45 days after c3 */
                };
                for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
                        apply(&e[i]);
                CHECK_CP(sum_all(&all), 4, 0, 2, 0, 0, 0, "chain");
        }
}

/* CONTRACT 5, [complaints]: configured points and unhandled_after. */
static void test_custom_points(void) {
        static const char conf[] = "[complaints]\n"
                                   "unhandled_after = 1h\n"
                                   "points.unhandled = -10\n"
                                   "points.dissatisfied = -7\n"
                                   "points.very_satisfied = 9.5\n";
        Scope t = team("t");
        char err[256] = "";
        Event e[] = {
                opened("e1", "a", T0, "t", NULL),
                resolved("e2", "a", T0 + 10 * MIN, OUTCOME_VERY_SATISFIED, NULL),
                opened("e3", "b", T0, "t", NULL),
                resolved("e4", "b", T0 + 20 * MIN, OUTCOME_DISSATISFIED, NULL),
                opened("e5", "c", T0, "t", NULL),
                resolved("e6", "c", T0 + 30 * MIN, OUTCOME_SATISFIED, NULL), /* default kept: +2 */
                opened("e7", "d", T0, "t", NULL),
        };

        CHECK(config_load_string(&cfg, "test.conf", conf, err, sizeof(err)) == 0, "config: %s", err);
        fresh();
        for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
                apply(&e[i]);
        CHECK(sweep(T0 + HOUR - 1, 100) == 0, "1h not yet passed");
        CHECK(sweep(T0 + HOUR, 100) == 1, "1h passed");
        CHECK_CP(sum(&t, T0 + HOUR, T0 + HOUR), 0, 0, 0, 1, 1, -10, "configured unhandled points");
        CHECK_CP(sum(&t, T0 + 10 * MIN, T0 + 10 * MIN), 0, 1, 0, 0, 1, 9.5, "configured very_satisfied");
        CHECK_CP(sum(&t, T0 + 20 * MIN, T0 + 20 * MIN), 0, 1, 0, 0, 1, -7, "configured dissatisfied");
        CHECK_CP(sum_all(&t), 4, 3, 0, 1, 4, 9.5 - 7 + 2 - 10, "configured totals");
        CHECK(open_gauge(&t) == 1, "one still open");

        config_deinit(&cfg);
        CHECK(config_init(&cfg) == 0, "config defaults");
}

/* A scope learnt late counts the open complaint from then on, and every
 * delta goes to the scopes known when it is made. */
static void test_late_scope(void) {
        Scope t = team("late");
        Event o1 = opened("e1", "c1", T0, NULL, NULL);
        Event o2 = opened("e2", "c1", T0 + MIN, "late", NULL);
        Event r = resolved("e3", "c1", T0 + HOUR, OUTCOME_SATISFIED, NULL);

        fresh();
        apply(&o1);
        CHECK(open_gauge(&all) == 1 && open_gauge(&t) == 0, "team unknown");
        apply(&o2);
        CHECK(open_gauge(&all) == 1 && open_gauge(&t) == 1, "team learnt: counts from now");
        apply(&r);
        CHECK(open_gauge(&all) == 0 && open_gauge(&t) == 0, "both back to 0");
        CHECK_CP(sum_all(&all), 2, 1, 0, 0, 1, 2, "all");
        CHECK_CP(sum_all(&t), 1, 1, 0, 0, 1, 2, "team from its first event on");

        /* Team only on the resolution: never counted open there. */
        fresh();
        o1 = opened("e1", "c1", T0, NULL, NULL);
        r = resolved("e2", "c1", T0 + HOUR, OUTCOME_SATISFIED, "late");
        apply(&o1);
        apply(&r);
        CHECK(open_gauge(&all) == 0 && open_gauge(&t) == 0, "gauges 0");
        CHECK_CP(sum_all(&t), 0, 1, 0, 0, 1, 2, "resolution counted in the late team");
}

/* Prune drops resolved complaints older than retention and customer
 * records older than 30 days, and keeps everything else. */
static void test_prune(void) {
        const int64_t now = T0 + 40 * DAY;
        const int64_t retention = 35 * DAY;
        static const struct {
                const char *cid;
                bool kept;
        } rows[] = {
                {"old-resolved", false},
                {"old-open", true},         /* scored unhandled, still open: holds the gauge */
                {"old-resolved-only", false},
                {"recent-resolved", true},  /* resolved long ago, latest event recent */
                {"fresh", true},
        };
        Event e[] = {
                opened("e1", "old-resolved", T0, NULL, "cust-old"),
                resolved("e2", "old-resolved", T0 + HOUR, OUTCOME_SATISFIED, NULL),
                opened("e3", "old-open", T0, NULL, NULL),
                resolved("e5", "old-resolved-only", T0 + DAY, OUTCOME_SATISFIED, NULL),
                resolved("e6", "recent-resolved", T0, OUTCOME_SATISFIED, NULL),
                resolved("e7", "recent-resolved", now - DAY, OUTCOME_SATISFIED, NULL),
                opened("e8", "fresh", now - HOUR, NULL, "cust-new"),
                resolved("e9", "fresh", now - MIN, OUTCOME_SATISFIED, NULL),
        };
        uint8_t resume[PROTO_ID_MAX];
        size_t resume_len = 0;
        MDB_txn *txn;
        unsigned deleted = 0, n;
        int calls = 0, r;

        fresh();
        for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
                apply(&e[i]);
        CHECK(sweep(T0 + 73 * HOUR, 100) == 1, "old-open swept");
        /* One key of each database per call: the resume key must carry the
         * scan through both (5 complaints, 2 customers) to the end. */
        do {
                CHECK(store_begin(st, 0, &txn) == 0, "begin");
                r = complaints_prune(st, txn, now, retention, 1, resume, &resume_len, &n);
                CHECK(r == 0, "prune: %d", r);
                CHECK(store_commit(txn) == 0, "commit");
                deleted += n;
                calls++;
        } while (resume_len && calls < 50);
        CHECK(calls >= 5 && calls <= 7, "one key per database per call: %d calls", calls);
        CHECK(deleted == 3, "deleted %u (old-resolved, old-resolved-only, cust-old)", deleted);
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                state(rows[i].cid, &r);
                CHECK(r == (rows[i].kept ? 0 : STORE_E_NOTFOUND), "%s: rc %d", rows[i].cid, r);
        }
        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        {
                MDB_val k = {8, (void *)"cust-old"}, v;
                CHECK(mdb_get(txn, st->customers, &k, &v) == MDB_NOTFOUND, "old customer pruned");
                k = (MDB_val){8, (void *)"cust-new"};
                CHECK(mdb_get(txn, st->customers, &k, &v) == 0, "recent customer kept");
        }
        mdb_txn_abort(txn);

        /* A second full pass finds nothing more, and the sums are untouched. */
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        r = complaints_prune(st, txn, now, retention, 1000, resume, &resume_len, &n);
        CHECK(store_commit(txn) == 0, "commit");
        CHECK(r == 0 && n == 0 && resume_len == 0, "second pass: %d, %u deleted, resume %zu", r, n, resume_len);
        CHECK_CP(sum_all(&all), 3, 5, 0, 1, 5, 4 * 2 - 5, "buckets untouched");
        CHECK(open_gauge(&all) == 1, "open complaint still counted");
}

/* A retention shorter than 30 days drops a complaint's state before its
 * customer record: the same complaint id opened again is not a repeat of
 * itself, another complaint is. */
static void test_reused_id(void) {
        Event e[] = {
                opened("e1", "c1", T0, NULL, "cust"),
                resolved("e2", "c1", T0 + HOUR, OUTCOME_SATISFIED, NULL),
        };
        Event again = opened("e3", "c1", T0 + 3 * DAY, NULL, "cust");
        Event other = opened("e4", "c2", T0 + 4 * DAY, NULL, "cust");
        uint8_t resume[PROTO_ID_MAX];
        size_t resume_len = 0;
        unsigned n = 0;
        MDB_txn *txn;
        int r;

        fresh();
        apply(&e[0]);
        apply(&e[1]);
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        r = complaints_prune(st, txn, T0 + 3 * DAY, DAY, 100, resume, &resume_len, &n);
        CHECK(store_commit(txn) == 0, "commit");
        CHECK(r == 0 && n == 1 && resume_len == 0, "state pruned, customer kept: %d %u", r, n);
        state("c1", &r);
        CHECK(r == STORE_E_NOTFOUND, "c1 gone: %d", r);
        apply(&again);
        CHECK(sum_all(&all).repeat == 0, "same complaint id: not a repeat");
        apply(&other);
        CHECK(sum_all(&all).repeat == 1, "another complaint: a repeat");
}

/* The stored bytes of complaint cid (a copy in buf), or 0. */
static size_t raw_state(const char *cid, uint8_t *buf, size_t cap) {
        MDB_txn *txn;
        MDB_val k = {strlen(cid), (void *)cid}, v;
        size_t n = 0;

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        if (mdb_get(txn, st->complaints, &k, &v) == 0 && v.mv_size <= cap) {
                memcpy(buf, v.mv_data, v.mv_size);
                n = v.mv_size;
        }
        mdb_txn_abort(txn);
        return n;
}

static void put_raw_state(const char *cid, const void *data, size_t len) {
        MDB_txn *txn;
        MDB_val k = {strlen(cid), (void *)cid}, v = {len, (void *)data};

        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        CHECK(mdb_put(txn, st->complaints, &k, &v, 0) == 0, "put raw");
        CHECK(store_commit(txn) == 0, "commit");
}

/* State versions: version 2 keeps the scopes by length (team "t": 40 + 5 +
 * 2 + 2 bytes, not the whole struct); a version 1 state is still read and,
 * on the next event, rewritten as version 2; a version 2 state whose scopes
 * do not add up to its size is refused. */
static void test_state_versions(void) {
        uint8_t buf[sizeof(ComplaintState) + 16];
        ComplaintState s, v1;
        Event o = opened("e1", "c1", T0, "t", NULL), r = resolved("e2", "old", T0 + HOUR, OUTCOME_SATISFIED, NULL);
        int rc;
        size_t n;

        fresh();
        apply(&o);
        n = raw_state("c1", buf, sizeof(buf));
        CHECK(n == 40 + (2 + 1) + 2 + 2 && buf[0] == COMPLAINT_STATE_V2, "version 2 size %zu", n);
        s = state("c1", &rc);
        CHECK(rc == 0 && s.scopes.team.len == 1 && s.scopes.team.name[0] == 't' && s.scopes.agent.len == 0 &&
                      (s.flags & CP_F_OPENED),
              "version 2 read back");

        /* A version 1 state as an earlier raterd wrote it. */
        memset(&v1, 0, sizeof(v1));
        v1.version = COMPLAINT_STATE_V1;
        v1.flags = CP_F_OPENED | CP_F_OPEN;
        v1.severity = SEVERITY_MEDIUM;
        v1.outcome = CP_OUTCOME_NONE;
        v1.opened_ts = v1.last_ts = T0;
        v1.deadline_ts = T0 + 72 * HOUR;
        scope_parse("team:old-team", &v1.scopes.team);
        put_raw_state("old", &v1, sizeof(v1));
        s = state("old", &rc);
        CHECK(rc == 0 && memcmp(&s, &v1, sizeof(s)) == 0, "version 1 read");
        apply(&r);
        s = state("old", &rc);
        CHECK(rc == 0 && s.version == COMPLAINT_STATE_V2 && (s.flags & CP_F_RESOLVED) && s.opened_ts == T0 &&
                      s.scopes.team.len == 8 && memcmp(s.scopes.team.name, "old-team", 8) == 0,
              "version 1 upgraded on the next event: rc %d flags 0x%x", rc, s.flags);
        CHECK(raw_state("old", buf, sizeof(buf)) == 40 + (2 + 8) + 2 + 2, "upgraded size");

        /* Refused: scopes cut short, a name longer than allowed, a byte
         * past the scopes, an unknown version. */
        n = raw_state("c1", buf, sizeof(buf));
        put_raw_state("bad", buf, n - 1);
        (void)state("bad", &rc);
        CHECK(rc == STORE_E_FORMAT, "cut scopes refused");
        buf[41] = PROTO_NAME_MAX + 1;
        put_raw_state("bad", buf, n);
        (void)state("bad", &rc);
        CHECK(rc == STORE_E_FORMAT, "long name refused");
        buf[41] = 1;
        buf[n] = 0;
        put_raw_state("bad", buf, n + 1);
        (void)state("bad", &rc);
        CHECK(rc == STORE_E_FORMAT, "trailing byte refused");
        buf[0] = 3;
        put_raw_state("bad", buf, n);
        (void)state("bad", &rc);
        CHECK(rc == STORE_E_FORMAT, "version 3 refused");
}

int main(void) {
        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        CHECK(config_init(&cfg) == 0, "config");
        CHECK(batch_new(&b) == 0, "batch");
        scope_parse("all", &all);

        test_outcomes();
        test_second_events();
        test_unhandled();
        test_late_resolution();
        test_sweep_max();
        test_repeat();
        test_custom_points();
        test_late_scope();
        test_prune();
        test_reused_id();
        test_state_versions();

        st = store_free(st);
        rm_store();
        rmdir(dir);
        batch_free(b);
        config_deinit(&cfg);
        CHECK_DONE();
}
