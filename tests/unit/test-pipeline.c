/* tests/unit/test-pipeline.c: the ingest pipeline's Stage (ingest/stage.c)
 * and Writer (ingest/writer.c): the id table through several growths, the
 * (kind, id) order the writer walks the dedup B-tree in, deep copies of
 * held events, one commit of ids and bucket deltas on real LMDB, the
 * writer thread's submit/take/eventfd protocol, and an aborted commit of a
 * stage that does not fit the map. */
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "testdir.h"
#include "ingest/stage.h"
#include "ingest/writer.h"
#include "store/buckets.h"
#include "store/dedup.h"
#include "util/error.h"

static char dir[] = "/tmp/raterd-test-pipeline-XXXXXX";

/* One minute's time (14:13:20 UTC, 2023-11-14) and seen times near it. */
#define T0 1700000000000LL

static void rm_store(const char *d) {
        testdir_clear_store(d);
}

static bool has(const Stage *s, EventKind kind, Slice id) {
        return stage_has_id(s, kind, id, stage_id_hash(kind, id));
}

static int add(Stage *s, EventKind kind, Slice id, int64_t seen_ms) {
        return stage_add_id(s, kind, id, stage_id_hash(kind, id), seen_ms);
}

/* The i-th generated id: 7 digits (unique) padded to 8..128 bytes, so the
 * key buffer holds ids of every length the protocol allows. */
static Slice gen_id(char *buf, int i) {
        size_t len = 8 + (size_t)i % 121;
        snprintf(buf, 8, "%07d", i);
        memset(buf + 7, 'a' + i % 26, len - 7);
        return (Slice){buf, len};
}

/* The dedup table's key order (LMDB's default memcmp-then-length order of
 * kind(u8) id), written independently of stage.c. */
static int key_cmp(EventKind ka, Slice a, EventKind kb, Slice b) {
        uint8_t x[1 + PROTO_ID_MAX], y[1 + PROTO_ID_MAX];
        size_t nx = 1 + a.len, ny = 1 + b.len;
        int c;

        x[0] = (uint8_t)ka;
        y[0] = (uint8_t)kb;
        memcpy(x + 1, a.ptr, a.len);
        memcpy(y + 1, b.ptr, b.len);
        if ((c = memcmp(x, y, nx < ny ? nx : ny)))
                return c;
        return nx < ny ? -1 : nx > ny;
}

static bool slice_is(Slice s, const char *want) {
        return s.ptr && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* 1. The id table. */
static void test_ids(void) {
        _cleanup_(stage_freep) Stage *s = NULL;
        char buf[PROTO_ID_MAX + 1];
        int r = 0;

        CHECK(stage_new(&s) == 0, "stage_new");
        CHECK(add(s, EVENT_FEEDBACK, sl("fb-0042"), 1) == 0, "add");

        /* Near misses of (feedback, "fb-0042"). With a forged hash (that of
         * the added id) the probe reaches the entry, so only the kind/length/
         * bytes comparison can reject it. */
        {
                const uint64_t h = stage_id_hash(EVENT_FEEDBACK, sl("fb-0042"));
                static const struct {
                        EventKind kind;
                        Slice id;
                        bool found;
                } rows[] = {
                        {EVENT_FEEDBACK, {"fb-0042", 7}, true},
                        {EVENT_TICKET, {"fb-0042", 7}, false},    /* other kind */
                        {EVENT_COMPLAINT, {"fb-0042", 7}, false}, /* other kind */
                        {EVENT_FEEDBACK, {"fb-004", 6}, false},   /* prefix */
                        {EVENT_FEEDBACK, {"fb-00420", 8}, false}, /* extension */
                        {EVENT_FEEDBACK, {"fb-0042\0", 8}, false},/* extension by a NUL */
                        {EVENT_FEEDBACK, {"fb-0043", 7}, false},  /* same length, last byte */
                        {EVENT_FEEDBACK, {"Fb-0042", 7}, false},  /* same length, first byte */
                };
                for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                        CHECK(has(s, rows[i].kind, rows[i].id) == rows[i].found, "row %zu (real hash)", i);
                        CHECK(stage_has_id(s, rows[i].kind, rows[i].id, h) == rows[i].found, "row %zu (forged hash)",
                              i);
                }
        }

        /* Two ids under one hash (a full collision): both found, a third
         * one under that hash not. */
        {
                const uint64_t h = 0x123456789abcdef0ULL;
                CHECK(stage_add_id(s, EVENT_TICKET, sl("x"), h, 2) == 0 && stage_add_id(s, EVENT_TICKET, sl("y"), h, 3) == 0,
                      "add colliding");
                CHECK(stage_has_id(s, EVENT_TICKET, sl("x"), h) && stage_has_id(s, EVENT_TICKET, sl("y"), h),
                      "both colliding ids found");
                CHECK(!stage_has_id(s, EVENT_TICKET, sl("z"), h), "third id under the same hash not found");
        }

        /* 50,000 ids (the table starts at 1024 slots and doubles at half
         * load: 7 growths; the key buffer reallocs too). Every kind is
         * used, so each id is also looked for under the next kind. */
        stage_reset(s);
        for (int i = 0; i < 50000 && !r; i++)
                r = add(s, (EventKind)(i % 3), gen_id(buf, i), T0 + i);
        CHECK(r == 0, "add 50000: %d", r);
        {
                int missing = 0, wrong_kind = 0, phantom = 0;
                for (int i = 0; i < 50000; i++) {
                        Slice id = gen_id(buf, i);
                        missing += !has(s, (EventKind)(i % 3), id);
                        wrong_kind += has(s, (EventKind)((i + 1) % 3), id);
                }
                for (int i = 50000; i < 51000; i++)
                        phantom += has(s, (EventKind)(i % 3), gen_id(buf, i));
                CHECK(missing == 0, "%d of 50000 ids not found after growth", missing);
                CHECK(wrong_kind == 0, "%d ids found under another kind", wrong_kind);
                CHECK(phantom == 0, "%d of 1000 absent ids found", phantom);
        }

        /* The sorted view at scale: all of them, in key order, each with its
         * own seen_ms (which encodes the id's number). */
        {
                size_t n = 0, bad_order = 0, bad_seen = 0;
                const StageId *ids = stage_ids_sorted(s, &n);
                CHECK(ids && n == 50000, "sorted: %zu", n);
                for (size_t i = 0; ids && i < n; i++) {
                        int num = atoi(ids[i].id.ptr); /* stops at the padding */
                        Slice want = gen_id(buf, num);
                        if (i && key_cmp(ids[i - 1].kind, ids[i - 1].id, ids[i].kind, ids[i].id) >= 0)
                                bad_order++;
                        if (ids[i].seen_ms != T0 + num || ids[i].kind != (EventKind)(num % 3) ||
                            ids[i].id.len != want.len || memcmp(ids[i].id.ptr, want.ptr, want.len))
                                bad_seen++;
                }
                CHECK(bad_order == 0, "%zu pairs out of key order", bad_order);
                CHECK(bad_seen == 0, "%zu sorted entries with the wrong kind, bytes or seen_ms", bad_seen);
        }

        /* Reset empties it; it refills (the grown table is kept). */
        stage_reset(s);
        {
                int found = 0;
                size_t n = 1;
                for (int i = 0; i < 50000; i += 7)
                        found += has(s, (EventKind)(i % 3), gen_id(buf, i));
                CHECK(found == 0, "%d ids found after reset", found);
                CHECK(!has(s, EVENT_FEEDBACK, sl("fb-0042")), "reset forgets the first id too");
                stage_ids_sorted(s, &n);
                CHECK(n == 0, "sorted after reset: %zu", n);
        }
        CHECK(add(s, EVENT_COMPLAINT, gen_id(buf, 7), 5) == 0 && add(s, EVENT_FEEDBACK, sl("again"), 6) == 0,
              "refill");
        CHECK(has(s, EVENT_COMPLAINT, gen_id(buf, 7)) && has(s, EVENT_FEEDBACK, sl("again")), "refilled ids found");
        CHECK(!has(s, EVENT_FEEDBACK, gen_id(buf, 6)), "an id of the old fill stays gone");
        {
                size_t n = 0;
                const StageId *ids = stage_ids_sorted(s, &n);
                /* The keys buffer restarted at 0: the refilled ids' bytes
                 * must not be the old fill's. */
                CHECK(n == 2 && ids[0].kind == EVENT_FEEDBACK && slice_is(ids[0].id, "again") && ids[0].seen_ms == 6 &&
                              ids[1].kind == EVENT_COMPLAINT && ids[1].seen_ms == 5,
                      "refilled sorted view");
        }
}

/* 2. The sorted view of a hand-made set. */
static void test_sorted(void) {
        _cleanup_(stage_freep) Stage *s = NULL;
        /* In the expected order; added in a scrambled one. */
        static const StageId want[] = {
                {EVENT_FEEDBACK, {"B", 1}, 10},     /* 'B' 0x42 < 'a' 0x61 */
                {EVENT_FEEDBACK, {"a", 1}, 11},     /* the shorter of a common prefix first */
                {EVENT_FEEDBACK, {"a\0", 2}, 12},   /* a NUL still sorts after the end */
                {EVENT_FEEDBACK, {"ab", 2}, 13},
                {EVENT_FEEDBACK, {"b", 1}, 14},
                {EVENT_FEEDBACK, {"\xff", 1}, 15},  /* bytes compare unsigned */
                {EVENT_COMPLAINT, {"0", 1}, 16},    /* the kind byte first: "0" < "B" but kind 1 > 0 */
                {EVENT_COMPLAINT, {"a", 1}, 17},
                {EVENT_TICKET, {"a", 1}, 18},
        };
        static const int order[] = {8, 3, 5, 1, 6, 0, 4, 2, 7};
        const size_t n_want = sizeof(want) / sizeof(want[0]);
        const StageId *ids;
        size_t n = 0;
        int r = 0;

        CHECK(stage_new(&s) == 0, "stage_new");
        for (size_t i = 0; i < n_want; i++)
                r |= add(s, want[order[i]].kind, want[order[i]].id, want[order[i]].seen_ms);
        CHECK(r == 0, "add");
        ids = stage_ids_sorted(s, &n);
        CHECK(ids && n == n_want, "n %zu", n);
        for (size_t i = 0; ids && i < n && i < n_want; i++)
                CHECK(ids[i].kind == want[i].kind && ids[i].id.len == want[i].id.len &&
                              memcmp(ids[i].id.ptr, want[i].id.ptr, want[i].id.len) == 0 &&
                              ids[i].seen_ms == want[i].seen_ms,
                      "position %zu: kind %d len %zu seen %lld", i, (int)ids[i].kind, ids[i].id.len,
                      (long long)ids[i].seen_ms);
}

/* 2b. The same order when every id shares a long prefix, the case the
 * sort's 64-bit key is built past: ids that tie on the key's 7 bytes, a
 * prefix that is a whole id, NUL and 0xff bytes, all kinds; checked
 * against a plain byte comparison of the dedup keys. */
static void test_sorted_prefix(void) {
        static const char alphabet[] = {'\0', '\1', 'a', 'b', '\xff'};
        _cleanup_(stage_freep) Stage *s = NULL;
        char ids[3000][40];
        size_t lens[3000], n = 0, bad = 0, n_added = 0;
        uint64_t rng = 0x2545f4914f6cdd1dULL;
        const StageId *sorted;

        CHECK(stage_new(&s) == 0, "stage_new");
        for (size_t i = 0; i < 3000; i++) {
                /* "TCK-2026-" then 0..24 bytes from a tiny alphabet: many
                 * share 7+ bytes after the prefix, some are prefixes of
                 * others, one is the bare prefix. */
                size_t len = 9;
                memcpy(ids[i], "TCK-2026-", 9);
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                for (size_t k = 0, extra = i ? rng % 25 : 0; k < extra; k++) {
                        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                        ids[i][len++] = alphabet[rng % sizeof(alphabet)];
                }
                lens[i] = len;
                Slice id = {ids[i], len};
                EventKind kind = (EventKind)(rng >> 32) % _EVENT_KIND_MAX;
                if (stage_has_id(s, kind, id, stage_id_hash(kind, id)))
                        continue; /* the tiny alphabet repeats some */
                CHECK(add(s, kind, id, (int64_t)i) == 0, "add %zu", i);
                n_added++;
        }
        sorted = stage_ids_sorted(s, &n);
        CHECK(sorted && n == n_added, "sorted %zu of %zu", n, n_added);
        for (size_t i = 1; sorted && i < n; i++)
                bad += key_cmp(sorted[i - 1].kind, sorted[i - 1].id, sorted[i].kind, sorted[i].id) >= 0;
        CHECK(bad == 0, "%zu of %zu pairs out of key order", bad, n);
        for (size_t i = 0; sorted && i < n; i++) {
                size_t at = (size_t)sorted[i].seen_ms;
                if (sorted[i].id.len != lens[at] || memcmp(sorted[i].id.ptr, ids[at], lens[at]) != 0)
                        bad++;
        }
        CHECK(bad == 0, "%zu sorted entries carry another id's seen_ms", bad);
}

/* The k-th string of held event i: "i/k." then filler, len bytes. */
static void pattern(char *dst, size_t len, int i, int k) {
        char num[32];
        int m = snprintf(num, sizeof(num), "%d/%d.", i, k);

        memset(dst, 'A' + k, len);
        memcpy(dst, num, (size_t)m);
}

/* 3. Held events are deep copies. */
static void test_hold(void) {
        _cleanup_(stage_freep) Stage *s = NULL;
        char buf[256];
        const Event *held;
        size_t n = 0;

        CHECK(stage_new(&s) == 0, "stage_new");
        {
                Event ev = {.kind = EVENT_TICKET, .v = 1, .ts = T0, .ticket_status = TICKET_RESPONDED,
                            .priority = PRIORITY_HIGH, .has_priority = true};
                strcpy(buf, "tk-1|team-a|agent-b|chat|cust-c|T-9");
                ev.id = (Slice){buf, 4};
                ev.team = (Slice){buf + 5, 6};
                ev.agent = (Slice){buf + 12, 7};
                ev.channel = (Slice){buf + 20, 4};
                ev.customer = (Slice){buf + 25, 6};
                ev.ticket = (Slice){buf + 32, 3};
                ev.complaint = (Slice){NULL, 0}; /* absent */
                ev.category = (Slice){"", 0};    /* present but empty */
                CHECK(stage_hold(s, &ev) == 0, "hold");
                memset(buf, '#', sizeof(buf));
        }
        held = stage_held(s, &n);
        CHECK(n == 1 && held, "one held: %zu", n);
        if (n == 1 && held) {
                const Event *e = &held[0];
                CHECK(slice_is(e->id, "tk-1") && slice_is(e->team, "team-a") && slice_is(e->agent, "agent-b") &&
                              slice_is(e->channel, "chat") && slice_is(e->customer, "cust-c") &&
                              slice_is(e->ticket, "T-9"),
                      "strings survive the source buffer: id '%.*s'", (int)e->id.len, e->id.ptr ? e->id.ptr : "");
                CHECK(e->complaint.ptr == NULL && e->complaint.len == 0, "absent slice stays absent");
                CHECK(e->category.ptr != NULL && e->category.len == 0, "empty slice stays present");
                CHECK(e->kind == EVENT_TICKET && e->v == 1 && e->ts == T0 && e->ticket_status == TICKET_RESPONDED &&
                              e->priority == PRIORITY_HIGH && e->has_priority,
                      "scalar fields copied");
        }

        /* 5,000 events x 6 strings x 64 bytes = 1.9 MB: 8 chunks, and the
         * held array reallocs many times. One source buffer, overwritten
         * for each event, stands for the decoder's reused payload. */
        stage_reset(s);
        {
                enum { N = 5000, L = 64 };
                char src[6][L];
                size_t bad = 0;
                int r = 0;
                for (int i = 0; i < N && !r; i++) {
                        Event ev = {.kind = i % 2 ? EVENT_TICKET : EVENT_COMPLAINT, .ts = T0 + i};
                        Slice *f[6] = {&ev.id, &ev.team, &ev.agent, &ev.channel, &ev.customer, &ev.ticket};
                        for (int k = 0; k < 6; k++) {
                                pattern(src[k], L, i, k);
                                *f[k] = (Slice){src[k], L};
                        }
                        r = stage_hold(s, &ev);
                }
                memset(src, 0, sizeof(src));
                CHECK(r == 0, "hold %d: %d", N, r);
                held = stage_held(s, &n);
                CHECK(n == N, "held %zu", n);
                for (size_t i = 0; i < n; i++) {
                        const Event *e = &held[i];
                        const Slice *f[6] = {&e->id, &e->team, &e->agent, &e->channel, &e->customer, &e->ticket};
                        for (int k = 0; k < 6; k++) {
                                char want[L];
                                pattern(want, L, (int)i, k);
                                bad += f[k]->len != L || memcmp(f[k]->ptr, want, L) != 0;
                        }
                        bad += e->ts != T0 + (int64_t)i; /* arrival order */
                }
                CHECK(bad == 0, "%zu corrupted strings or misordered events", bad);
        }

        /* After a reset the kept chunk is reused from its start. */
        stage_reset(s);
        held = stage_held(s, &n);
        CHECK(n == 0, "held after reset: %zu", n);
        strcpy(buf, "after-reset");
        CHECK(stage_hold(s, &(Event){.kind = EVENT_COMPLAINT, .id = sl(buf)}) == 0, "hold after reset");
        memset(buf, '#', sizeof(buf));
        held = stage_held(s, &n);
        CHECK(n == 1 && slice_is(held[0].id, "after-reset"), "held after reset");
}

/* Feedback of the commit tests: all in minute T0/60000; team t1 on the
 * even ones. */
static Event feedback(const char *id, int i) {
        return (Event){.kind = EVENT_FEEDBACK, .v = 1, .id = sl(id), .ts = T0 + i, .score = 1 + (uint32_t)i % 5,
                       .scale = 5, .team = i % 2 ? (Slice){0} : sl("t1"), .channel = sl("chat")};
}

enum { N_FB = 7 };

/* Stages N_FB feedback events (ids prefix-0..6) and their dedup ids. */
static int stage_feedback(Stage *s, const char *prefix) {
        int r = 0;
        for (int i = 0; i < N_FB && !r; i++) {
                char id[32];
                Event ev;
                snprintf(id, sizeof(id), "%s-%d", prefix, i);
                ev = feedback(id, i);
                r = add(s, EVENT_FEEDBACK, ev.id, T0 + i);
                if (!r)
                        r = batch_add_feedback(stage_batch(s), &ev);
        }
        return r;
}

static uint64_t fb_n(Store *st, MDB_txn *txn, const char *scope, BucketRes res) {
        Scope sc;
        BucketRecord sum = {0};
        uint32_t b = (uint32_t)(T0 / 60000) / (res == RES_HOUR ? 60 : 1);

        if (scope_parse(scope, &sc) < 0 || buckets_sum(st, txn, res, &sc, b, b, &sum))
                return UINT64_MAX;
        return sum.fb.n;
}

/* 4. One commit of ids and bucket deltas. */
static void test_commit(Store *st, const Config *c) {
        _cleanup_(stage_freep) Stage *s = NULL;
        const int64_t horizon = c->dedup_horizon_ms;
        static const struct {
                EventKind kind;
                const char *id;
        } plain[] = {
                {EVENT_TICKET, "tk-1"}, {EVENT_COMPLAINT, "cp-1"}, {EVENT_COMPLAINT, "cp-10"}, {EVENT_TICKET, "a"},
        };
        MDB_txn *txn;
        int r = 0;

        CHECK(horizon > 1000, "dedup horizon default %lld", (long long)horizon);
        CHECK(stage_new(&s) == 0, "stage_new");
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
                r |= add(s, plain[i].kind, sl(plain[i].id), T0);
        CHECK(r == 0, "add ids");
        CHECK(stage_feedback(s, "fb") == 0, "stage feedback");
        CHECK((r = writer_commit(st, c, s, 0)) == 0, "commit: %d", r);

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
                CHECK(dedup_seen(st, txn, plain[i].kind, sl(plain[i].id), T0 + 1000, horizon) == DEDUP_E_DUPLICATE,
                      "%s recorded", plain[i].id);
                /* The stored first-seen is T0: a horizon later it expired. */
                CHECK(dedup_seen(st, txn, plain[i].kind, sl(plain[i].id), T0 + horizon, horizon) == 0,
                      "%s expires after the horizon", plain[i].id);
        }
        for (int i = 0; i < N_FB; i++) {
                char id[32];
                snprintf(id, sizeof(id), "fb-%d", i);
                CHECK(dedup_seen(st, txn, EVENT_FEEDBACK, sl(id), T0 + 1000, horizon) == DEDUP_E_DUPLICATE,
                      "%s recorded", id);
        }
        CHECK(dedup_seen(st, txn, EVENT_FEEDBACK, sl("fb-7"), T0 + 1000, horizon) == 0, "unknown id");
        CHECK(dedup_seen(st, txn, EVENT_FEEDBACK, sl("tk-1"), T0 + 1000, horizon) == 0, "id of another kind");
        CHECK(store_entries(st, st->dedup) == 4 + N_FB, "dedup entries %llu",
              (unsigned long long)store_entries(st, st->dedup));

        /* The dedup table's own order is the sorted view's (the writer's
         * cursor walk relies on it). */
        {
                size_t n = 0, i = 0;
                const StageId *ids = stage_ids_sorted(s, &n);
                MDB_cursor *cur;
                MDB_val k, v;
                bool same = ids && n == 4 + N_FB;
                CHECK(mdb_cursor_open(txn, st->dedup, &cur) == 0, "cursor");
                for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && same;
                     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), i++)
                        same = i < n && k.mv_size == 1 + ids[i].id.len && ((uint8_t *)k.mv_data)[0] == ids[i].kind &&
                               memcmp((uint8_t *)k.mv_data + 1, ids[i].id.ptr, ids[i].id.len) == 0;
                mdb_cursor_close(cur);
                CHECK(same && i == n, "stored keys follow the sorted view (diverged at %zu of %zu)", i, n);
        }

        CHECK(fb_n(st, txn, "all", RES_MINUTE) == N_FB, "all: fb.n %llu",
              (unsigned long long)fb_n(st, txn, "all", RES_MINUTE));
        CHECK(fb_n(st, txn, "all", RES_HOUR) == N_FB, "all (hour): fb.n %llu",
              (unsigned long long)fb_n(st, txn, "all", RES_HOUR));
        CHECK(fb_n(st, txn, "team:t1", RES_MINUTE) == (N_FB + 1) / 2, "team:t1 (even events only)");
        CHECK(fb_n(st, txn, "channel:chat", RES_MINUTE) == N_FB, "channel:chat");
        mdb_txn_abort(txn);
}

/* 5. The writer thread. */
static void test_writer(Store *st, const Config *c) {
        _cleanup_(stage_freep) Stage *s1 = NULL, *s2 = NULL, *s3 = NULL;
        Writer *w = NULL;
        MDB_txn *txn;
        struct pollfd p;
        int r = -1;

        CHECK(stage_new(&s1) == 0 && stage_new(&s2) == 0 && stage_new(&s3) == 0, "stage_new");
        CHECK(writer_new(&w, st, c) == 0, "writer_new");
        if (!w)
                return;
        p = (struct pollfd){.fd = writer_fd(w), .events = POLLIN};

        CHECK(!writer_busy(w), "idle at start");
        CHECK(writer_take(w, false, &r) == NULL && writer_take(w, true, &r) == NULL, "nothing to take");
        CHECK(poll(&p, 1, 0) == 0, "fd quiet before any job");

        /* Blocking take. */
        CHECK(stage_feedback(s1, "w1") == 0, "stage");
        writer_submit(w, s1, 0);
        CHECK(writer_busy(w), "busy after submit");
        CHECK(writer_take(w, true, &r) == s1 && r == 0, "take: the stage back, result %d", r);
        CHECK(!writer_busy(w), "idle after take");
        CHECK(writer_take(w, false, &r) == NULL, "nothing left to take");
        /* take consumed the completion: a stale wakeup would spin the loop. */
        CHECK(poll(&p, 1, 0) == 0, "fd drained by take");

        /* Poll, then non-blocking take. */
        CHECK(stage_feedback(s2, "w2") == 0, "stage");
        writer_submit(w, s2, 0);
        CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "POLLIN when done (revents %#x)", (unsigned)p.revents);
        r = -1;
        CHECK(writer_take(w, false, &r) == s2 && r == 0, "non-blocking take after POLLIN: result %d", r);
        CHECK(!writer_busy(w), "idle after take");
        p.revents = 0;
        CHECK(poll(&p, 1, 0) == 0, "fd drained by take");

        /* A job submitted and never taken is committed before writer_free
         * returns. */
        CHECK(add(s3, EVENT_TICKET, sl("pending"), T0) == 0, "stage");
        writer_submit(w, s3, 0);
        w = writer_free(w);

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        CHECK(dedup_seen(st, txn, EVENT_FEEDBACK, sl("w1-0"), T0 + 1000, c->dedup_horizon_ms) == DEDUP_E_DUPLICATE &&
                      dedup_seen(st, txn, EVENT_FEEDBACK, sl("w2-6"), T0 + 1000, c->dedup_horizon_ms) ==
                              DEDUP_E_DUPLICATE,
              "both jobs' ids recorded");
        CHECK(dedup_seen(st, txn, EVENT_TICKET, sl("pending"), T0 + 1000, c->dedup_horizon_ms) == DEDUP_E_DUPLICATE,
              "writer_free let the submitted job finish");
        /* test_commit's 7 plus 7 per writer job. */
        CHECK(fb_n(st, txn, "all", RES_MINUTE) == 3 * N_FB, "all: fb.n %llu",
              (unsigned long long)fb_n(st, txn, "all", RES_MINUTE));
        mdb_txn_abort(txn);
}

/* 6. A stage that does not fit: nothing of it is stored. */
static void test_full(const Config *c) {
        _cleanup_(stage_freep) Stage *s = NULL;
        Store *st = NULL;
        Writer *w = NULL;
        MDB_txn *txn;
        char err[512] = "", id[101];
        int r = 0, found = 0;

        rm_store(dir);
        CHECK(store_open(&st, dir, 1 << 20, err, sizeof(err)) == 0, "small open: %s", err);
        if (!st)
                return;
        CHECK(stage_new(&s) == 0, "stage_new");
        /* 100,000 x 100-byte ids: ~10 MB of keys for a 1 MiB map. */
        for (int i = 0; i < 100000 && !r; i++) {
                memset(id, 'k', 100);
                snprintf(id, sizeof(id), "%06d", i);
                id[6] = '-';
                r = add(s, EVENT_FEEDBACK, (Slice){id, 100}, T0);
        }
        CHECK(r == 0, "stage 100000 ids");
        {
                Event ev = feedback("big-fb", 0);
                CHECK(batch_add_feedback(stage_batch(s), &ev) == 0, "stage a feedback");
        }
        CHECK((r = writer_commit(st, c, s, 0)) == STORE_E_FULL, "commit: %d", r);

        CHECK(store_begin(st, MDB_RDONLY, &txn) == 0, "begin ro");
        for (int i = 0; i < 10; i++) {
                memset(id, 'k', 100);
                snprintf(id, sizeof(id), "%06d", i);
                id[6] = '-';
                found += dedup_seen(st, txn, EVENT_FEEDBACK, (Slice){id, 100}, T0 + 1000, c->dedup_horizon_ms) != 0;
        }
        CHECK(found == 0, "%d of the first 10 ids stored by an aborted commit", found);
        CHECK(fb_n(st, txn, "all", RES_MINUTE) == 0, "no bucket of the aborted commit");
        mdb_txn_abort(txn);
        CHECK(store_entries(st, st->dedup) == 0 && store_entries(st, st->buckets) == 0, "dedup and buckets empty");

        /* The thread reports the same result. */
        CHECK(writer_new(&w, st, c) == 0, "writer_new");
        if (w) {
                writer_submit(w, s, 0);
                r = -1;
                CHECK(writer_take(w, true, &r) == s && r == STORE_E_FULL, "writer result %d", r);
                w = writer_free(w);
        }

        /* The abort left the map usable: a small stage commits. */
        stage_reset(s);
        CHECK(stage_feedback(s, "small") == 0, "stage small");
        CHECK((r = writer_commit(st, c, s, 0)) == 0, "small commit after the failed one: %d", r);
        CHECK(store_entries(st, st->dedup) == N_FB, "dedup entries %llu",
              (unsigned long long)store_entries(st, st->dedup));
        store_free(st);
}

int main(void) {
        _cleanup_(config_deinitp) Config c;
        Store *st = NULL;
        char err[512] = "";

        CHECK(config_init(&c) == 0, "config");
        CHECK(mkdtemp(dir) != NULL, "mkdtemp");

        test_ids();
        test_sorted();
        test_sorted_prefix();
        test_hold();

        CHECK(store_open(&st, dir, 1 << 24, err, sizeof(err)) == 0, "open: %s", err);
        if (st) {
                test_commit(st, &c);
                test_writer(st, &c);
                store_free(st);
        }
        test_full(&c);

        rm_store(dir);
        rmdir(dir);
        CHECK_DONE();
}
