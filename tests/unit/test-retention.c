/* tests/unit/test-retention.c: retention_step on a real LMDB store with a
 * moving clock: minute buckets go after 49 h, hour buckets after retention
 * + 1 h, closed tickets after retention, open tickets never, and a pass over
 * many keys is spread over bounded steps. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "ingest/retention.h"
#include "ingest/tickets.h"
#include "util/error.h"

#define H 3600000LL

static char dir[] = "/tmp/raterd-test-retention-XXXXXX";

static Event ticket(const char *id, const char *tid, TicketStatus st, int64_t ts) {
        return (Event){.kind = EVENT_TICKET, .id = {id, strlen(id)}, .ts = ts, .team = {"t", 1},
                       .ticket = {tid, strlen(tid)}, .ticket_status = st, .priority = PRIORITY_NORMAL};
}

/* Applies events and a feedback per event time through a real batch. */
static void apply(Store *st, const Config *c, const Event *evs, size_t n) {
        Batch *b = NULL;
        MDB_txn *txn;

        CHECK(batch_new(&b) == 0, "batch");
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        for (size_t i = 0; i < n; i++) {
                Event fbk = {.kind = EVENT_FEEDBACK, .ts = evs[i].ts, .score = 5, .scale = 5, .team = {"t", 1}};
                CHECK(tickets_apply(st, txn, b, c, &evs[i]) == 0, "apply %zu", i);
                CHECK(batch_add_feedback(b, &fbk) == 0, "feedback");
        }
        CHECK(batch_flush(b, st, txn) == 0, "flush");
        CHECK(store_commit(txn) == 0, "commit");
        batch_free(b);
}

static bool has_ticket(Store *st, const char *id) {
        MDB_txn *txn;
        TicketState t;
        int r;

        store_begin(st, MDB_RDONLY, &txn);
        r = tickets_get(st, txn, id, strlen(id), &t);
        mdb_txn_abort(txn);
        return r == 0;
}

static uint64_t fb_sum(Store *st, BucketRes res, uint32_t from, uint32_t to) {
        MDB_txn *txn;
        BucketRecord sum = {0};
        Scope s;

        scope_parse("team:t", &s);
        store_begin(st, MDB_RDONLY, &txn);
        buckets_sum(st, txn, res, &s, from, to, &sum);
        mdb_txn_abort(txn);
        return sum.fb.n;
}

/* Steps until a step deletes nothing twice in a row (a whole pass). */
static void run_until_quiet(Retention *rt, Store *st, const Config *c, int64_t now, unsigned scan, int *steps) {
        uint64_t last = rt->deleted;
        int quiet = 0;

        *steps = 0;
        while (quiet < 2 && *steps < 10000) {
                CHECK(retention_step(rt, st, c, now, scan) == 0, "step");
                (*steps)++;
                quiet = rt->deleted == last ? quiet + 1 : 0;
                last = rt->deleted;
        }
}

int main(void) {
        _cleanup_(config_deinitp) Config c;
        Store *st = NULL;
        Retention rt = {0};
        char err[256] = "";
        int64_t t0 = 1700000000000LL; /* event times */
        int steps;

        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        CHECK(config_init(&c) == 0, "config");
        c.retention_ms = 10 * H;
        CHECK(store_open(&st, dir, 1 << 26, err, sizeof(err)) == 0, "open: %s", err);

        {
                Event evs[] = {
                        ticket("a1", "A", TICKET_OPENED, t0), ticket("a2", "A", TICKET_RESOLVED, t0 + 60000),
                        ticket("b1", "B", TICKET_OPENED, t0), /* stays open */
                        ticket("c1", "C", TICKET_RESPONDED, t0), /* never opened */
                        ticket("d1", "D", TICKET_OPENED, t0 + 8 * H), ticket("d2", "D", TICKET_RESOLVED, t0 + 8 * H),
                };
                apply(st, &c, evs, sizeof(evs) / sizeof(evs[0]));
        }
        uint32_t m0 = (uint32_t)(t0 / 60000), h0 = (uint32_t)(t0 / H);

        /* Nothing is past any horizon yet. */
        run_until_quiet(&rt, st, &c, t0 + 9 * H, 1000, &steps);
        CHECK(rt.deleted == 0, "deleted %llu too early", (unsigned long long)rt.deleted);
        CHECK(has_ticket(st, "A") && has_ticket(st, "C"), "tickets kept");

        /* 11 h later: closed A and never-opened C are past retention; open B
         * stays (it is in the backlog); D (8 h younger) stays. Minute
         * buckets (< 49 h) stay; hour buckets are kept until retention + 1 h. */
        run_until_quiet(&rt, st, &c, t0 + 11 * H, 1000, &steps);
        CHECK(!has_ticket(st, "A") && !has_ticket(st, "C"), "closed tickets pruned");
        CHECK(has_ticket(st, "B") && has_ticket(st, "D"), "open and young tickets kept");
        CHECK(fb_sum(st, RES_MINUTE, m0, m0 + 1) == 4, "minute buckets kept: %llu",
              (unsigned long long)fb_sum(st, RES_MINUTE, m0, m0 + 1));
        CHECK(fb_sum(st, RES_HOUR, h0, h0) == 4, "hour bucket kept at retention + 1 h");

        /* 12 h + 1 min later: the first hour bucket is older than retention +
         * 1 h; the hour of D's events is not. */
        run_until_quiet(&rt, st, &c, (int64_t)(h0 + 12) * H + 60000, 1000, &steps);
        CHECK(fb_sum(st, RES_HOUR, h0, h0) == 0, "old hour bucket pruned");
        CHECK(fb_sum(st, RES_HOUR, h0 + 8, h0 + 8) == 2, "young hour bucket kept");
        CHECK(fb_sum(st, RES_MINUTE, m0, m0 + 1) == 4, "minute buckets kept before 49 h");

        /* 50 h later: old minute buckets go too. */
        run_until_quiet(&rt, st, &c, t0 + 50 * H, 1000, &steps);
        CHECK(fb_sum(st, RES_MINUTE, m0, m0 + 1) == 0, "minute buckets pruned after 49 h");
        CHECK(fb_sum(st, RES_MINUTE, m0 + 480, m0 + 480) == 2, "younger minute bucket kept");
        CHECK(has_ticket(st, "B"), "open ticket never pruned");

        /* Bounded steps: with a scan of 1 key a pass takes many steps, each
         * deleting at most one key per database. */
        {
                Event evs[64];
                char ids[64][8], tids[64][8];
                Retention slow = {0};
                uint64_t before;
                for (int i = 0; i < 64; i++) {
                        snprintf(ids[i], sizeof(ids[i]), "e%d", i);
                        snprintf(tids[i], sizeof(tids[i]), "T%d", i);
                        evs[i] = ticket(ids[i], tids[i], TICKET_RESPONDED, t0 + 100 * H);
                }
                apply(st, &c, evs, 64);
                before = slow.deleted;
                CHECK(retention_step(&slow, st, &c, t0 + 200 * H, 1) == 0, "one step");
                CHECK(slow.deleted - before <= 6, "one bounded step deleted %llu",
                      (unsigned long long)(slow.deleted - before));
                run_until_quiet(&slow, st, &c, t0 + 200 * H, 1, &steps);
                CHECK(steps >= 64, "a pass over 64 tickets with scan 1 took %d steps", steps);
                CHECK(!has_ticket(st, "T0") && !has_ticket(st, "T63"), "all pruned in the end");
        }

        /* Ticket state versions: a new ticket is stored as version 2 (the
         * 64-byte head, then the scopes by length); a version 1 ticket (the
         * whole struct) of an earlier raterd is read, pruned when closed and
         * old, and rewritten as version 2 by its next event. */
        {
                TicketState v1 = {.version = TICKET_STATE_V1, .flags = TK_F_OPENED | TK_F_RESOLVED,
                                  .priority = PRIORITY_NORMAL, .opened_ts = t0 + 300 * H, .state_ts = t0 + 300 * H,
                                  .last_ts = t0 + 300 * H};
                TicketState got;
                MDB_txn *txn;
                MDB_val k, v;
                Event e = ticket("v2-1", "V2", TICKET_OPENED, t0 + 300 * H);

                apply(st, &c, &e, 1);
                CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin");
                k = (MDB_val){2, (void *)"V2"};
                CHECK(mdb_get(txn, st->tickets, &k, &v) == 0 && v.mv_size == 64 + (2 + 1) + 2 + 2 &&
                              ((uint8_t *)v.mv_data)[0] == TICKET_STATE_V2,
                      "version 2 ticket: %zu bytes", v.mv_size);
                mdb_txn_abort(txn);

                scope_parse("team:t", &v1.scopes.team);
                CHECK(store_begin(st, 0, &txn) == 0, "begin");
                k = (MDB_val){2, (void *)"V1"};
                v = (MDB_val){sizeof(v1), &v1};
                CHECK(mdb_put(txn, st->tickets, &k, &v, 0) == 0, "put version 1");
                k = (MDB_val){3, (void *)"V1b"};
                CHECK(mdb_put(txn, st->tickets, &k, &v, 0) == 0, "put version 1");
                CHECK(store_commit(txn) == 0, "commit");
                CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin");
                CHECK(tickets_get(st, txn, "V1", 2, &got) == 0 && memcmp(&got, &v1, sizeof(got)) == 0, "version 1 read");
                mdb_txn_abort(txn);

                e = ticket("v1-1", "V1b", TICKET_REOPENED, t0 + 301 * H);
                apply(st, &c, &e, 1);
                CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin");
                k = (MDB_val){3, (void *)"V1b"};
                CHECK(mdb_get(txn, st->tickets, &k, &v) == 0 && ((uint8_t *)v.mv_data)[0] == TICKET_STATE_V2 &&
                              v.mv_size == 64 + (2 + 1) + 2 + 2,
                      "version 1 rewritten as version 2: %zu bytes", v.mv_size);
                CHECK(tickets_get(st, txn, "V1b", 3, &got) == 0 && got.opened_ts == t0 + 300 * H && got.reopens == 1 &&
                              got.scopes.team.len == 1,
                      "upgraded state");
                mdb_txn_abort(txn);

                run_until_quiet(&rt, st, &c, t0 + 400 * H, 1000, &steps);
                CHECK(!has_ticket(st, "V1"), "closed version 1 ticket pruned");
                CHECK(has_ticket(st, "V2") && has_ticket(st, "V1b"), "open tickets of both versions kept");
        }

        store_free(st);
        {
                char p[256];
                snprintf(p, sizeof(p), "%s/data.mdb", dir);
                unlink(p);
                snprintf(p, sizeof(p), "%s/lock.mdb", dir);
                unlink(p);
                rmdir(dir);
        }
        CHECK_DONE();
}
