/* tests/unit/test-batch.c: Batch coalesces per (scope, minute), flushes into
 * real LMDB buckets equal to applying events one by one, and is reusable. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "ingest/batch.h"

static char dir[] = "/tmp/raterd-test-batch-XXXXXX";

static Event ev(const char *team, const char *agent, int64_t ts, uint32_t score) {
        Event e = {.kind = EVENT_FEEDBACK, .ts = ts, .score = score, .scale = 5};
        if (team)
                e.team = (Slice){team, strlen(team)};
        if (agent)
                e.agent = (Slice){agent, strlen(agent)};
        return e;
}

int main(void) {
        Batch *b = NULL;
        Store *st = NULL;
        MDB_txn *txn;
        char err[256];
        Scope all, t1, t2, a1;
        BucketRecord sum;
        Event e;

        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        CHECK(store_open(&st, dir, 1 << 24, err, sizeof(err)) == 0, "open");
        CHECK(batch_new(&b) == 0, "new");
        scope_parse("all", &all);
        scope_parse("team:t1", &t1);
        scope_parse("team:t2", &t2);
        scope_parse("agent:a1", &a1);

        /* 1000 events in minute 100 for t1/a1 and 10 in minute 101 for t2:
         * buckets all@100, t1@100, a1@100, all@101, t2@101 = 5. */
        for (int i = 0; i < 1000; i++) {
                e = ev("t1", "a1", 100 * 60000 + i, (uint32_t)(i % 5 + 1));
                CHECK(batch_add_feedback(b, &e) == 0, "add");
        }
        for (int i = 0; i < 10; i++) {
                e = ev("t2", NULL, 101 * 60000 + i, 5);
                CHECK(batch_add_feedback(b, &e) == 0, "add");
        }
        CHECK(batch_n_buckets(b) == 5, "coalesced into %zu buckets", batch_n_buckets(b));

        /* Acks keep envelope and id. */
        CHECK(batch_add_ack(b, "\x00\x01\x02", 3, true, ACK_DUPLICATE, (Slice){"id-7", 4}) == 0, "ack");
        CHECK(batch_n_acks(b) == 1 && batch_ack(b, 0)->routing_len == 3 && batch_ack(b, 0)->delimiter &&
                      batch_ack(b, 0)->status == ACK_DUPLICATE && memcmp(batch_ack(b, 0)->id, "id-7", 4) == 0,
              "ack fields");

        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        CHECK(batch_flush(b, st, txn) == 0, "flush");
        CHECK(store_commit(txn) == 0, "commit");
        batch_reset(b);
        CHECK(batch_n_buckets(b) == 0 && batch_n_acks(b) == 0, "reset");

        /* A second batch into the same buckets adds up (read-merge-write). */
        e = ev("t1", NULL, 100 * 60000 + 5, 1);
        CHECK(batch_add_feedback(b, &e) == 0, "add");
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        CHECK(batch_flush(b, st, txn) == 0, "flush");
        CHECK(store_commit(txn) == 0, "commit");

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin");
        sum = (BucketRecord){0};
        buckets_sum(st, txn, RES_MINUTE, &all, 100, 101, &sum);
        CHECK(sum.fb.n == 1011, "all: %llu", (unsigned long long)sum.fb.n);
        sum = (BucketRecord){0};
        buckets_sum(st, txn, RES_MINUTE, &t1, 100, 100, &sum);
        /* scores cycle 1..5: 200 of each; norms 0,25,50,75,100 -> sum 50000,
         * plus one more score 1 (norm 0). */
        CHECK(sum.fb.n == 1001, "t1 n");
        CHECK_NEAR(sum.fb.score_sum, 50000, 1e-6, "t1 score sum");
        CHECK(sum.fb.csat_top == 400, "t1 csat_top");
        sum = (BucketRecord){0};
        buckets_sum(st, txn, RES_MINUTE, &t2, 100, 100, &sum);
        CHECK(sum.fb.n == 0, "t2 not in minute 100");
        sum = (BucketRecord){0};
        buckets_sum(st, txn, RES_MINUTE, &a1, 0, 200, &sum);
        CHECK(sum.fb.n == 1000, "a1");
        mdb_txn_abort(txn);

        batch_free(b);
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
