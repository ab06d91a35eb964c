/* tests/unit/test-store.c: Store, buckets and dedup on real LMDB files:
 * versioned format and record versions, read-merge-write of buckets, window sums, scope
 * enumeration, dedup horizon and pruning, refusal of foreign or damaged
 * files. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testdir.h"
#include "store/buckets.h"
#include "store/dedup.h"

static char dir[] = "/tmp/raterd-test-store-XXXXXX";

static void rm_store(const char *d) {
        testdir_clear_store(d);
}

static BucketRecord one(uint32_t score) {
        BucketRecord r = {0};
        fbagg_add(&r.fb, &(Event){.score = score, .scale = 5});
        return r;
}

static int count_scopes(const Scope *s, const BucketRecord *sum, void *userdata) {
        int *n = userdata;
        (*n)++;
        /* team:a has 3 events in range (minutes 1000, 1005), team:bb 1, team:c 0. */
        if (s->len == 1 && s->name[0] == 'a')
                CHECK(sum->fb.n == 3, "team:a in range: %llu", (unsigned long long)sum->fb.n);
        if (s->len == 2)
                CHECK(sum->fb.n == 1, "team:bb in range");
        if (s->len == 1 && s->name[0] == 'c')
                CHECK(sum->fb.n == 0, "team:c out of range");
        return 0;
}

/* What ingest does per event, in one transaction: ask, then record. */
static int check_and_set(Store *st, MDB_txn *txn, EventKind kind, Slice id, int64_t now, int64_t horizon) {
        int r = dedup_seen(st, txn, kind, id, now, horizon);
        return r ? r : dedup_put(st, txn, kind, id, now);
}

/* The stored bytes of one minute bucket of scope s (valid in txn). */
static MDB_val raw_record(Store *st, MDB_txn *txn, const Scope *s, uint32_t minute) {
        static uint8_t kbuf[BUCKET_KEY_MAX];
        MDB_val k = {buckets_key(s, minute, kbuf), kbuf}, v = {0, NULL};
        if (mdb_get(txn, st->buckets, &k, &v))
                v = (MDB_val){0, NULL};
        return v;
}

static void put_raw(Store *st, MDB_txn *txn, const Scope *s, uint32_t minute, const void *data, size_t len) {
        uint8_t kbuf[BUCKET_KEY_MAX];
        MDB_val k = {buckets_key(s, minute, kbuf), kbuf}, v = {len, (void *)data};
        CHECK(mdb_put(txn, st->buckets, &k, &v, 0) == 0, "raw put");
}

/* Record versions: version 2 stores only the sections in use; version 1
 * records (the whole struct) are still read and merged, becoming version 2;
 * a newer version, an unknown section bit or a wrong size is refused. */
static void test_record_versions(Store *st) {
        MDB_txn *txn;
        Scope v;
        BucketRecord sum, full = one(4);
        uint8_t buf[8 + sizeof(BucketRecord)] = {0};
        MDB_val raw;

        scope_parse("team:versions", &v);
        full.tk.opened = 3;
        full.tk.frt_sum = 90.5;
        full.cp.opened = 2;
        full.cp.points = 7.25;
        CHECK(store_begin(st, 0, &txn) == 0, "begin");

        /* Feedback only: the header and FbAgg, nothing else. */
        CHECK(buckets_add(st, txn, RES_MINUTE, &v, 100, &(BucketRecord){.fb = one(5).fb}) == 0, "add fb");
        raw = raw_record(st, txn, &v, 100);
        CHECK(raw.mv_size == 8 + sizeof(FbAgg), "feedback-only size %zu", raw.mv_size);
        CHECK(raw.mv_size && ((uint8_t *)raw.mv_data)[0] == BUCKET_RECORD_V2 && ((uint8_t *)raw.mv_data)[1] == 1,
              "version 2, mask fb");
        /* Merging tickets in grows it to two sections. */
        CHECK(buckets_add(st, txn, RES_MINUTE, &v, 100, &(BucketRecord){.tk = full.tk}) == 0, "add tk");
        raw = raw_record(st, txn, &v, 100);
        CHECK(raw.mv_size == 8 + sizeof(FbAgg) + sizeof(TkAgg) && ((uint8_t *)raw.mv_data)[1] == 3,
              "fb + tk size %zu", raw.mv_size);
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &v, 100, 100, &sum) == 0 && sum.fb.n == 1 && sum.tk.opened == 3 &&
                      sum.tk.frt_sum == 90.5 && sum.cp.opened == 0,
              "fb + tk read back");

        /* A version 1 record is read, and merged into as version 2. */
        buf[0] = BUCKET_RECORD_V1;
        memcpy(buf + 8, &full, sizeof(full));
        put_raw(st, txn, &v, 200, buf, sizeof(buf));
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &v, 200, 200, &sum) == 0 && sum.fb.n == 1 && sum.tk.opened == 3 &&
                      sum.cp.points == 7.25,
              "version 1 read");
        CHECK(buckets_add(st, txn, RES_MINUTE, &v, 200, &full) == 0, "merge into version 1");
        raw = raw_record(st, txn, &v, 200);
        CHECK(raw.mv_size == 8 + sizeof(BucketRecord) && ((uint8_t *)raw.mv_data)[0] == BUCKET_RECORD_V2 &&
                      ((uint8_t *)raw.mv_data)[1] == 7,
              "rewritten as version 2, all sections");
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &v, 200, 200, &sum) == 0 && sum.fb.n == 2 && sum.tk.opened == 6 &&
                      sum.cp.opened == 4 && sum.cp.points == 14.5,
              "merged sums");

        /* Refused, never overwritten: a newer version, an unknown section,
         * a size that does not match the mask. */
        static const struct {
                uint8_t version, mask;
                size_t len;
        } bad[] = {
                {3, 1, 8 + sizeof(FbAgg)},
                {BUCKET_RECORD_V2, 1 | 8, 8 + sizeof(FbAgg)},
                {BUCKET_RECORD_V2, 1, 8 + sizeof(FbAgg) - 1},
                {BUCKET_RECORD_V2, 1, 8 + sizeof(FbAgg) + 1},
                {BUCKET_RECORD_V2, 3, 8 + sizeof(FbAgg)},
                {BUCKET_RECORD_V1, 0, 8 + sizeof(FbAgg)},
                {BUCKET_RECORD_V2, 0, 4},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(buf, 0, sizeof(buf));
                buf[0] = bad[i].version;
                buf[1] = bad[i].mask;
                put_raw(st, txn, &v, 300, buf, bad[i].len);
                CHECK(buckets_add(st, txn, RES_MINUTE, &v, 300, &full) == STORE_E_FORMAT, "bad record %zu refused", i);
                raw = raw_record(st, txn, &v, 300);
                CHECK(raw.mv_size == bad[i].len, "bad record %zu left as it was", i);
        }
        /* An all-zero record is the header alone. */
        memset(buf, 0, sizeof(buf));
        buf[0] = BUCKET_RECORD_V2;
        put_raw(st, txn, &v, 400, buf, 8);
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &v, 400, 400, &sum) == 0 && sum.fb.n == 0, "empty version 2");
        mdb_txn_abort(txn);
}

int main(void) {
        Store *st = NULL;
        MDB_txn *txn;
        char err[512] = "";
        Scope a, bb, c, all;
        BucketRecord sum, r1 = one(5), r2 = one(1);
        int n = 0, r;

        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        CHECK(store_open(&st, dir, 1 << 24, err, sizeof(err)) == 0, "open: %s", err);

        scope_parse("team:a", &a);
        scope_parse("team:bb", &bb);
        scope_parse("team:c", &c);
        scope_parse("all", &all);

        /* Buckets: two writes to one minute merge; a window sums minutes. */
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        CHECK(buckets_add(st, txn, RES_MINUTE, &a, 1000, &r1) == 0, "add");
        CHECK(buckets_add(st, txn, RES_MINUTE, &a, 1000, &r2) == 0, "add again");
        CHECK(buckets_add(st, txn, RES_MINUTE, &a, 1005, &r1) == 0, "add later");
        CHECK(buckets_add(st, txn, RES_MINUTE, &a, 2000, &r1) == 0, "add far later");
        CHECK(buckets_add(st, txn, RES_MINUTE, &bb, 1001, &r1) == 0, "add bb");
        CHECK(buckets_add(st, txn, RES_MINUTE, &c, 10, &r1) == 0, "add c old");
        CHECK(buckets_add(st, txn, RES_MINUTE, &all, 1000, &r1) == 0, "add all");
        CHECK(store_commit(txn) == 0, "commit");

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &a, 1000, 1000, &sum) == 0 && sum.fb.n == 2, "one minute: %llu",
              (unsigned long long)sum.fb.n);
        CHECK_NEAR(sum.fb.score_sum, 100, 1e-9, "merged sums");
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &a, 1000, 1999, &sum) == 0 && sum.fb.n == 3, "range excludes 2000");
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &a, 1001, 1004, &sum) == 0 && sum.fb.n == 0, "empty range");
        sum = (BucketRecord){0};
        /* team:a must not pick up team:bb, whose key sorts right after it. */
        CHECK(buckets_sum(st, txn, RES_MINUTE, &a, 0, 5000, &sum) == 0 && sum.fb.n == 4, "scope boundary");
        CHECK(buckets_foreach_scope(st, txn, RES_MINUTE, SCOPE_TEAM, 1000, 1500, count_scopes, &n) == 0, "foreach");
        CHECK(n == 3, "three team scopes, got %d", n);
        n = 0;
        CHECK(buckets_foreach_scope(st, txn, RES_MINUTE, SCOPE_AGENT, 0, 5000, count_scopes, &n) == 0 && n == 0, "no agents");
        mdb_txn_abort(txn);

        /* Dedup: new, duplicate within the horizon, new again after it. */
        CHECK(store_begin(st, 0, &txn) == 0, "begin");
        CHECK(check_and_set(st, txn, EVENT_FEEDBACK, sl("e1"), 1000000, 5000) == 0, "first is new");
        CHECK(check_and_set(st, txn, EVENT_FEEDBACK, sl("e1"), 1004999, 5000) == DEDUP_E_DUPLICATE, "dup");
        CHECK(check_and_set(st, txn, EVENT_TICKET, sl("e1"), 1000000, 5000) == 0, "other kind is new");
        CHECK(check_and_set(st, txn, EVENT_FEEDBACK, sl("e1"), 1005001, 5000) == 0, "after horizon: new");
        CHECK(check_and_set(st, txn, EVENT_FEEDBACK, sl("e1"), 1006000, 5000) == DEDUP_E_DUPLICATE,
              "renewed entry holds");
        CHECK(check_and_set(st, txn, EVENT_COMPLAINT, sl("old"), 1, 5000) == 0, "old entry");
        CHECK(store_commit(txn) == 0, "commit");
        {
                uint8_t key[1 + PROTO_ID_MAX];
                size_t len = 0;
                r = dedup_prune(st, 1006000, 5000, 100, key, &len);
                /* "old" and the ticket e1 (seen at 1000000) expire; feedback
                 * e1 (renewed at 1005001) stays. */
                CHECK(r == 2, "pruned %d", r);
                CHECK(store_begin(st, 0, &txn) == 0, "begin");
                CHECK(check_and_set(st, txn, EVENT_FEEDBACK, sl("e1"), 1006001, 5000) == DEDUP_E_DUPLICATE,
                      "kept entry still deduplicates");
                mdb_txn_abort(txn);
        }
        store_free(st);
        st = NULL;

        /* Reopening keeps the data. */
        CHECK(store_open(&st, dir, 1 << 24, err, sizeof(err)) == 0, "reopen: %s", err);
        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin");
        sum = (BucketRecord){0};
        CHECK(buckets_sum(st, txn, RES_MINUTE, &a, 0, 5000, &sum) == 0 && sum.fb.n == 4, "persisted");
        mdb_txn_abort(txn);
        test_record_versions(st);

        /* A store of another format is refused, not rewritten. */
        {
                MDB_val k = {6, (void *)"format"}, v;
                uint32_t other = 99;
                CHECK(store_begin(st, 0, &txn) == 0, "begin");
                v = (MDB_val){sizeof(other), &other};
                CHECK(mdb_put(txn, st->meta, &k, &v, 0) == 0, "put");
                CHECK(store_commit(txn) == 0, "commit");
                store_free(st);
                st = NULL;
                err[0] = 0;
                r = store_open(&st, dir, 1 << 24, err, sizeof(err));
                CHECK(r == STORE_E_FORMAT && strstr(err, "format 99"), "foreign format: %d %s", r, err);
                store_free(st);
                st = NULL;
        }

        /* A damaged data file is refused with a message, not a crash. */
        {
                char p[256];
                int fd;
                rm_store(dir);
                snprintf(p, sizeof(p), "%s/data.mdb", dir);
                fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
                CHECK(fd >= 0 && write(fd, "this is not an lmdb file, just garbage bytes......", 50) == 50, "write");
                close(fd);
                err[0] = 0;
                r = store_open(&st, dir, 1 << 24, err, sizeof(err));
                CHECK(r != 0 && *err, "garbage file refused: %d %s", r, err);
                store_free(st);
                st = NULL;
        }

        /* A full map is a handled condition. */
        {
                rm_store(dir);
                CHECK(store_open(&st, dir, 1 << 20, err, sizeof(err)) == 0, "small open: %s", err);
                CHECK(store_begin(st, 0, &txn) == 0, "begin");
                r = 0;
                for (int i = 0; i < 100000 && r == 0; i++) {
                        char id[32];
                        snprintf(id, sizeof(id), "event-%08d", i);
                        r = check_and_set(st, txn, EVENT_FEEDBACK, sl(id), 1, 1000);
                }
                CHECK(r == STORE_E_FULL, "map full reported: %d", r);
                mdb_txn_abort(txn);
                store_free(st);
        }
        rm_store(dir);
        rmdir(dir);
        CHECK_DONE();
}
