/* bench/bench-ingest.c: raterd ingest throughput against its ceilings.
 *
 * The default run measures, with pre-encoded feedback events:
 *   1. a ZeroMQ PUB->SUB pair over tcp loopback with raterd's validation
 *      (proto_decode) in the receiver, storing nothing (best of three);
 *   2. R rounds (--rounds, default 3) of: the bare PUB->SUB pair (the
 *      transport ceiling), then the real daemon's fire-and-forget path
 *      (XPUB -> its SUB bind) with N new events. Each daemon run is held
 *      against the ceiling measured just before it, and the summary gives
 *      the median of those ratios: a single short run swings by 2x on a
 *      shared machine, and pairing them cancels slow spells;
 *   3. its acknowledged path (DEALER -> its ROUTER, W events in flight),
 *      then one event at a time (each ack waits for its own commit), each
 *      with the share of the time the daemon's writer thread spent in
 *      LMDB's commit (status `writer.commit_ms`);
 *   4. LMDB's durable (fsync'd) commit rate for one put on the same file
 *      system, to hold the one-at-a-time rate against, and the round trip
 *      of a bare DEALER -> ROUTER echo with the same frames: one event's
 *      time splits into ZeroMQ's, LMDB's commit's and the daemon's own;
 * then reads the daemon's peak RSS, stops it with SIGTERM and prints a
 * summary. A fire-and-forget run ends when the daemon reports every event
 * applied, that is durably committed, so its rate includes the last
 * batch's commit; the bare pair's ends at the last message received.
 *
 * `--mix` measures the realistic mix of mix.h instead: the same bare
 * PUB->SUB ceiling for those messages, then the daemon's SUB path at the
 * highest rate it keeps up with, its peak RSS and CPU, and the size of its
 * LMDB store after the run. SUB drops at its high water mark, so the
 * publisher keeps at most --window events outstanding (sent but not yet
 * read by the daemon, from the `received` counter of its status), well
 * under the daemon's receive HWM; or, with --pace R, sends open loop at R
 * events/s and reports what was lost. Lost events are always counted:
 * sent - (applied + duplicate + rejected + failed).
 *
 * Only 127.0.0.1 and ipc:// endpoints are used; every wait is bounded, and
 * a hard timeout kills the daemon and fails the run.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <msgpack.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon.h"
#include "proto/event.h"
#include "events.h"
#include "mix.h"
#include "util.h"

#define DEFAULT_RATERD "build/daemon/raterd"
/* A million: about a second of the bare pair. At 200,000 the pair is done
 * in ~70 ms, less than the daemon's last batch commit, which its rate has
 * to include. */
#define DEFAULT_N 1000000
#define DEFAULT_MIX_N 10000000
#define DEFAULT_WINDOW 20000
#define DEFAULT_MIX_WINDOW 50000
#define DEFAULT_TIMEOUT_S 120
#define DEFAULT_MIX_TIMEOUT_S 1200
#define MAX_N 10000000

#define STALL_MS 5000          /* no progress for this long ends a phase */
#define PHASE_MS 60000         /* no phase of the default run lasts longer */
#define STATUS_POLL_MS 10      /* fire-and-forget progress sampling */
#define MIX_POLL_MS 20         /* mix: window refresh from the daemon's counters */
#define MIX_REPORT_MS 10000    /* mix: a progress line this often */
#define LMDB_PROBE_MS 2000
#define ONE_BY_ONE_N 2000       /* acknowledged, one in flight: events */
#define CEILING_RUNS 3         /* the validation ceiling is the best of these */
#define DEFAULT_ROUNDS 3       /* default run: ceiling, fire-and-forget pairs */
#define MAX_ROUNDS 15
#define LMDB_PROBE_MAX 1000000

typedef struct {
        const char *raterd;
        size_t n;
        size_t window;
        bool keep;
        bool mix;
        double pace; /* mix: open-loop events/s; 0: windowed */
        size_t pub_hwm; /* mix, paced: the publisher's SNDHWM */
        unsigned timeout_s;
        unsigned rounds;
} Options;

typedef struct {
        double ceiling_rate; /* the best round */
        size_t ceiling_count;
        /* Per round: the bare ceiling, then the daemon's fire-and-forget
         * rate right after it, and their ratio. */
        double round_ceiling[MAX_ROUNDS], round_ff[MAX_ROUNDS];
        /* and the CPU each spent per message: the bare SUB process, the
         * daemon (all threads: reading, validating, aggregating, LMDB) */
        double round_sub_cpu[MAX_ROUNDS], round_ff_cpu[MAX_ROUNDS];
        double ff_cpu; /* ns per applied event, the last fire-and-forget run */
        double decode_rate; /* the ceiling with proto_decode in the receiver */
        double ff_rate, ff_send_s;
        uint64_t ff_applied, ff_received, ff_rejected;
        uint64_t ff_lost; /* over all rounds */
        double ack_rate;
        double ack_writer_busy, ack_writer_commit; /* shares of the phase's wall time */
        double ack1_rate, ack1_batches_per_s; /* one event in flight */
        double ack1_writer_busy, ack1_writer_commit;
        double echo_rate; /* bare DEALER -> ROUTER echo round trips/s */
        uint64_t ack_ok, ack_dup, ack_rejected;
        double batches_per_s, events_per_batch;
        double lmdb_commits_per_s;
        long rss_kib;
} Results;

typedef struct {
        MixStats mix;
        double mean_bytes;
        double rate, elapsed_s;
        uint64_t sent, received, applied, duplicate, rejected, failed, lost, batches;
        bool completed;
        uint64_t max_burst; /* paced: most events one send slice had to catch up */
        const char *ended; /* why the phase ended before every event was done */
        long rss_kib, rss_anon_kib, rss_file_kib;
        long long cpu_ticks;
        long long wchar; /* bytes the daemon passed to write calls (LMDB pages) */
        DaemonStatus end;
        long long mdb_size, mdb_disk;
} MixResults;

/* ---- forked peers ---------------------------------------------------------- */

/* A peer process (the bare receiver of a ceiling): fn runs in the child
 * with the write end of a pipe and never returns; *rfd is the read end. */
typedef struct {
        size_t n;
        bool decode;
} PeerArgs;

static pid_t peer_start(void (*fn)(int wfd, const PeerArgs *a), const PeerArgs *a, int *rfd) {
        int fds[2];
        pid_t pid;

        if (pipe(fds) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                close(fds[0]);
                fn(fds[1], a);
        }
        guard_set_child(pid);
        close(fds[1]);
        *rfd = fds[0];
        return pid;
}

/* Closes rfd and waits for the peer, killed first when failed. */
static void peer_stop(pid_t pid, int rfd, bool failed) {
        int status;

        close(rfd);
        if (failed)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        guard_set_child(0);
}

/* ---- 1. ceiling: bare PUB -> SUB -------------------------------------- */

typedef struct {
        uint64_t count;
        int64_t first_ns, last_ns;
        int64_t cpu_ns; /* the child's CPU (all its threads) while receiving */
} SubReport;

/* The forked SUB: binds, tells its endpoint, counts whole messages until N
 * or a stall, reports through the pipe. With decode, also validates each
 * (topic, payload) the way raterd does (proto_decode, msgpack-c) and
 * counts only valid events: the cost of the contract's validation alone,
 * with nothing stored. Never returns. */
static void ceiling_child(int wfd, const PeerArgs *a) {
        size_t n = a->n;
        bool decode = a->decode;
        ProtoDecoder *dec = NULL;
        EventKind kind = EVENT_FEEDBACK;
        bool topic_ok = false;
        Event ev;
        ProtoDiag diag;
        void *zctx = zmq_ctx_new();
        void *sub = zctx ? zsocket(zctx, ZMQ_SUB, 0, 0) : NULL;
        char ep[256] = "";
        size_t eplen = sizeof(ep);
        SubReport rep = {0};
        zmq_msg_t m;

        if (!sub || zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) < 0 || zmq_bind(sub, "tcp://127.0.0.1:*") < 0 ||
            zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, ep, &eplen) < 0)
                ep[0] = 0;
        if (write(wfd, ep, sizeof(ep)) != (ssize_t)sizeof(ep) || !ep[0])
                _exit(1);

        if (decode && proto_decoder_new(&dec) < 0)
                _exit(1);
        zmq_msg_init(&m);
        int64_t cpu0 = cpu_ns_self();
        while (rep.count < n) {
                zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
                uint64_t before = rep.count;

                if (zmq_poll(&it, 1, STALL_MS) <= 0)
                        break;
                while (rep.count < n && zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0) {
                        if (!decode) {
                                rep.count += !zmq_msg_more(&m);
                        } else if (zmq_msg_more(&m)) {
                                topic_ok = proto_parse_topic(zmq_msg_data(&m), zmq_msg_size(&m), &kind) == 0;
                        } else {
                                rep.count += topic_ok && proto_decode(dec, kind, zmq_msg_data(&m), zmq_msg_size(&m),
                                                                      wall_ms(), 86400000, &ev, &diag) == 0;
                                topic_ok = false;
                        }
                }
                if (rep.count > before) {
                        rep.last_ns = mono_ns();
                        if (!before)
                                rep.first_ns = rep.last_ns;
                }
        }
        rep.cpu_ns = cpu_ns_self() - cpu0;
        zmq_msg_close(&m);
        proto_decoder_free(dec);
        zmq_close(sub);
        zmq_ctx_term(zctx);
        _exit(write(wfd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep) ? 0 : 1);
}

/* Rate = messages the child got / (its last receive - our first send). */
static int run_ceiling(const EventSet *set, bool decode, double *rate, size_t *count, double *cpu_per_msg) {
        int rfd = -1, r = -EIO;
        char ep[256];
        SubReport rep;
        void *zctx = NULL, *pub = NULL;
        int64_t t0;
        pid_t pid = peer_start(ceiling_child, &(PeerArgs){set->n, decode}, &rfd);

        if (pid < 0)
                return pid;
        if (read_full(rfd, ep, sizeof(ep), 5000) < 0 || !ep[0]) {
                fail("ceiling: the SUB child did not report its endpoint");
                goto out;
        }
        zctx = zmq_ctx_new();
        pub = zctx ? zsocket(zctx, ZMQ_XPUB, 0, 0) : NULL;
        if (!pub || zmq_connect(pub, ep) < 0) {
                fail("ceiling: XPUB connect to %s: %s", ep, zmq_strerror(errno));
                goto out;
        }
        if (wait_subscription(pub, 5000) < 0) {
                fail("ceiling: no subscription from the SUB child within 5 s");
                goto out;
        }
        t0 = mono_ns();
        if ((r = send_all(pub, set)) < 0) {
                fail("ceiling: send: %s", zmq_strerror(-r));
                goto out;
        }
        /* A minute, and more for big sets (10 M take ~10 s here). */
        r = read_full(rfd, &rep, sizeof(rep), PHASE_MS + (long)(set->n / 50));
        if (r < 0) {
                fail("ceiling: no report from the SUB child: %s", strerror(-r));
                goto out;
        }
        *count = rep.count;
        *cpu_per_msg = rep.count ? (double)rep.cpu_ns / (double)rep.count : 0;
        *rate = rep.count && rep.last_ns > t0 ? (double)rep.count / seconds(rep.last_ns - t0) : 0;
        printf("ceiling: %" PRIu64 "/%zu messages in %.3f s (child: first->last %.3f s, CPU %.0f ns/msg)\n",
               rep.count, set->n, seconds(rep.last_ns - t0), seconds(rep.last_ns - rep.first_ns), *cpu_per_msg);
        r = rep.count == set->n ? 0 : -EIO;
        if (r < 0)
                fail("ceiling: the SUB child got %" PRIu64 " of %zu messages", rep.count, set->n);
out:
        if (pub)
                zmq_close(pub);
        if (zctx)
                zmq_ctx_term(zctx);
        peer_stop(pid, rfd, r < 0);
        return r;
}

/* ---- 2. fire-and-forget ------------------------------------------------- */

static int run_fire_and_forget(Daemon *d, const EventSet *set, Results *res) {
        void *pub = zsocket(d->zctx, ZMQ_XPUB, 0, 0);
        DaemonStatus base = {0}, st = {0};
        uint64_t done = 0, last_done = 0;
        int64_t t0, t_sent, t_progress, deadline;
        long long cpu0, cpu1;
        int r;

        if (!pub || zmq_connect(pub, d->sub_ep) < 0) {
                fail("fire-and-forget: XPUB connect to %s: %s", d->sub_ep, zmq_strerror(errno));
                r = -EIO;
                goto out;
        }
        if ((r = wait_subscription(pub, 5000)) < 0) {
                fail("fire-and-forget: no subscription from raterd within 5 s");
                goto out;
        }
        if ((r = daemon_status(d, &base, STATUS_TIMEOUT_MS)) < 0) {
                fail("fire-and-forget: status: %s", strerror(-r));
                goto out;
        }
        cpu0 = proc_cpu_ns(d->pid);
        t0 = mono_ns();
        if ((r = send_all(pub, set)) < 0) {
                fail("fire-and-forget: send: %s", zmq_strerror(-r));
                goto out;
        }
        t_sent = mono_ns();

        /* Progress = applied + duplicate + rejected; stop at N or a stall. */
        t_progress = t0;
        deadline = mono_ms() + PHASE_MS;
        while (done < set->n && mono_ms() < deadline && mono_ns() - t_progress < (int64_t)STALL_MS * 1000000) {
                sleep_ms(STATUS_POLL_MS);
                if (daemon_status(d, &st, STATUS_TIMEOUT_MS) < 0)
                        continue;
                done = (st.applied - base.applied) + (st.duplicate - base.duplicate) + (st.rejected - base.rejected);
                if (done > last_done) {
                        last_done = done;
                        t_progress = mono_ns();
                }
        }
        cpu1 = proc_cpu_ns(d->pid);
        res->ff_applied = st.applied - base.applied;
        res->ff_cpu =
                cpu0 >= 0 && cpu1 >= cpu0 && res->ff_applied ? (double)(cpu1 - cpu0) / (double)res->ff_applied : 0;
        res->ff_received = st.received - base.received;
        res->ff_rejected = st.rejected - base.rejected;
        res->ff_send_s = seconds(t_sent - t0);
        res->ff_rate = t_progress > t0 ? (double)res->ff_applied / seconds(t_progress - t0) : 0;
        printf("fire-and-forget: sent %zu in %.3f s; received %" PRIu64 ", applied %" PRIu64 ", rejected %" PRIu64
               " after %.3f s (daemon CPU %.0f ns/event)\n",
               set->n, res->ff_send_s, res->ff_received, res->ff_applied, res->ff_rejected, seconds(t_progress - t0),
               res->ff_cpu);
        if (res->ff_rejected)
                fail("fire-and-forget: raterd rejected %" PRIu64 " events (see %s)", res->ff_rejected, d->log);
        r = 0;
out:
        if (pub)
                zmq_close(pub);
        return r;
}

/* ---- 3. acknowledged ------------------------------------------------------ */

/* Classifies one ack frame: 0 ok, 1 duplicate, 2 rejected, -1 unreadable. */
static int ack_status(const void *data, size_t len) {
        static const char *const names[3] = {"ok", "duplicate", "rejected"};
        msgpack_unpacked u;
        size_t off = 0;
        int r = -1;

        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && u.data.type == MSGPACK_OBJECT_MAP) {
                for (uint32_t i = 0; i < u.data.via.map.size; i++) {
                        const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
                        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 6 ||
                            memcmp(kv->key.via.str.ptr, "status", 6) != 0 || kv->val.type != MSGPACK_OBJECT_STR)
                                continue;
                        for (int k = 0; k < 3; k++)
                                if (kv->val.via.str.size == strlen(names[k]) &&
                                    memcmp(kv->val.via.str.ptr, names[k], kv->val.via.str.size) == 0)
                                        r = k;
                }
        }
        msgpack_unpacked_destroy(&u);
        return r;
}

static int run_acknowledged(Daemon *d, const EventSet *set, size_t window, Results *res) {
        void *dealer = zsocket(d->zctx, ZMQ_DEALER, 0, 0);
        DaemonStatus before = {0}, after = {0};
        uint64_t counts[3] = {0}, acked = 0, bad = 0;
        size_t sent = 0;
        int64_t t0, t_ack, deadline;
        zmq_msg_t m;
        int r = 0;

        if (!dealer || zmq_connect(dealer, d->router_ep) < 0) {
                fail("acknowledged: DEALER connect to %s: %s", d->router_ep, zmq_strerror(errno));
                if (dealer)
                        zmq_close(dealer);
                return -EIO;
        }
        if ((r = daemon_status(d, &before, STATUS_TIMEOUT_MS)) < 0) {
                fail("acknowledged: status: %s", strerror(-r));
                zmq_close(dealer);
                return r;
        }
        zmq_msg_init(&m);
        t0 = t_ack = mono_ns();
        deadline = mono_ms() + PHASE_MS;
        while (acked < set->n) {
                zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};

                while (sent < set->n && sent - acked < window) {
                        if ((r = send_event(dealer, set, sent, 0)) < 0)
                                break;
                        sent++;
                }
                if (r < 0) {
                        fail("acknowledged: send: %s", zmq_strerror(-r));
                        break;
                }
                if (mono_ms() > deadline || mono_ns() - t_ack > (int64_t)STALL_MS * 1000000) {
                        fail("acknowledged: stalled with %" PRIu64 " of %zu acked", acked, set->n);
                        r = -ETIMEDOUT;
                        break;
                }
                if (zmq_poll(&it, 1, 100) <= 0)
                        continue;
                while (acked < set->n && zmq_msg_recv(&m, dealer, ZMQ_DONTWAIT) >= 0) {
                        int k = ack_status(zmq_msg_data(&m), zmq_msg_size(&m));
                        if (k < 0)
                                bad++;
                        else
                                counts[k]++;
                        acked++;
                }
                t_ack = mono_ns();
        }
        zmq_msg_close(&m);
        zmq_close(dealer);
        if (r < 0)
                return r;
        if (daemon_status(d, &after, STATUS_TIMEOUT_MS) < 0) {
                fail("acknowledged: status after the run failed");
                return -EIO;
        }

        res->ack_ok = counts[0];
        res->ack_dup = counts[1];
        res->ack_rejected = counts[2] + bad;
        res->ack_rate = (double)acked / seconds(t_ack - t0);
        res->batches_per_s = (double)(after.batches - before.batches) / seconds(t_ack - t0);
        res->ack_writer_busy = (double)(after.writer_busy_ms - before.writer_busy_ms) / 1000.0 / seconds(t_ack - t0);
        res->ack_writer_commit = (double)(after.writer_commit_ms - before.writer_commit_ms) / 1000.0 / seconds(t_ack - t0);
        res->events_per_batch = after.batches > before.batches
                                        ? (double)((after.applied - before.applied) + (after.duplicate - before.duplicate)) /
                                                  (double)(after.batches - before.batches)
                                        : 0;
        printf("acknowledged: %" PRIu64 " acks in %.3f s (ok %" PRIu64 ", duplicate %" PRIu64 ", rejected %" PRIu64
               ", unreadable %" PRIu64 "); %" PRIu64 " batches\n",
               acked, seconds(t_ack - t0), counts[0], counts[1], counts[2], bad, after.batches - before.batches);
        if (res->ack_rejected || res->ack_dup) {
                fail("acknowledged: expected only 'ok' acks for fresh events");
                return -EIO;
        }
        return 0;
}

/* ---- 3b. the transport's round trip ----------------------------------------- */

/* The forked echo: a bare ROUTER that sends every message straight back,
 * until n of them or a stall. Never returns. */
static void echo_child(int wfd, const PeerArgs *a) {
        size_t n = a->n;
        void *zctx = zmq_ctx_new();
        void *router = zctx ? zsocket(zctx, ZMQ_ROUTER, 0, 0) : NULL;
        char ep[256] = "";
        size_t eplen = sizeof(ep), done = 0;
        zmq_msg_t m;

        if (!router || zmq_bind(router, "tcp://127.0.0.1:*") < 0 ||
            zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen) < 0)
                ep[0] = 0;
        if (write(wfd, ep, sizeof(ep)) != (ssize_t)sizeof(ep) || !ep[0])
                _exit(1);
        zmq_msg_init(&m);
        while (done < n) {
                zmq_pollitem_t it = {.socket = router, .events = ZMQ_POLLIN};
                bool more = true;

                if (zmq_poll(&it, 1, STALL_MS) <= 0)
                        break;
                while (more && zmq_msg_recv(&m, router, 0) >= 0) {
                        more = zmq_msg_more(&m);
                        if (zmq_msg_send(&m, router, more ? ZMQ_SNDMORE : 0) < 0)
                                _exit(1);
                }
                done++;
        }
        zmq_msg_close(&m);
        zmq_close(router);
        zmq_ctx_term(zctx);
        _exit(done == n ? 0 : 1);
}

/* Round trips/s of a bare DEALER -> ROUTER echo, one message in flight,
 * the same frames as an acknowledged event: the part of one acknowledged
 * event's time that is ZeroMQ's alone. */
static int run_echo(const EventSet *set, double *rate) {
        int rfd = -1, r = -EIO;
        char ep[256];
        void *zctx = NULL, *dealer = NULL;
        zmq_msg_t m;
        int64_t t0;
        pid_t pid = peer_start(echo_child, &(PeerArgs){.n = set->n}, &rfd);

        if (pid < 0)
                return pid;
        zmq_msg_init(&m);
        if (read_full(rfd, ep, sizeof(ep), 5000) < 0 || !ep[0]) {
                fail("echo: the ROUTER child did not report its endpoint");
                goto out;
        }
        zctx = zmq_ctx_new();
        dealer = zctx ? zsocket(zctx, ZMQ_DEALER, 0, 0) : NULL;
        if (!dealer || zmq_connect(dealer, ep) < 0) {
                fail("echo: DEALER connect to %s: %s", ep, zmq_strerror(errno));
                goto out;
        }
        t0 = mono_ns();
        for (size_t i = 0; i < set->n; i++) {
                zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
                bool more = true;

                if ((r = send_event(dealer, set, i, 0)) < 0) {
                        fail("echo: send: %s", zmq_strerror(-r));
                        goto out;
                }
                if (zmq_poll(&it, 1, STALL_MS) <= 0) {
                        fail("echo: no reply to message %zu within %d ms", i, STALL_MS);
                        r = -ETIMEDOUT;
                        goto out;
                }
                while (more && zmq_msg_recv(&m, dealer, 0) >= 0)
                        more = zmq_msg_more(&m);
        }
        *rate = (double)set->n / seconds(mono_ns() - t0);
        printf("echo: %zu round trips, %.1f us each\n", set->n, 1e6 / *rate);
        r = 0;
out:
        zmq_msg_close(&m);
        if (dealer)
                zmq_close(dealer);
        if (zctx)
                zmq_ctx_term(zctx);
        peer_stop(pid, rfd, r < 0);
        return r;
}

/* ---- 4. LMDB durable commit ceiling --------------------------------------- */

static int lmdb_probe(const char *dir, Results *res) {
        MDB_env *env = NULL;
        MDB_txn *txn;
        MDB_dbi dbi;
        uint64_t i = 0;
        int64_t t0, end;
        int rc;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, 256ULL << 20)) ||
            (rc = mdb_env_open(env, dir, 0, 0600)) || (rc = mdb_txn_begin(env, NULL, 0, &txn)))
                goto out;
        if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) || (rc = mdb_txn_commit(txn)))
                goto out;
        t0 = mono_ns();
        end = t0 + (int64_t)LMDB_PROBE_MS * 1000000;
        /* Default flags: every commit fsyncs data and meta page, like raterd's. */
        for (; i < LMDB_PROBE_MAX && mono_ns() < end; i++) {
                uint8_t val[16] = {1};
                MDB_val k = {sizeof(i), &i}, v = {sizeof(val), val};
                if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
                        goto out;
                if ((rc = mdb_put(txn, dbi, &k, &v, 0))) {
                        mdb_txn_abort(txn);
                        goto out;
                }
                if ((rc = mdb_txn_commit(txn)))
                        goto out;
        }
        res->lmdb_commits_per_s = (double)i / seconds(mono_ns() - t0);
        printf("lmdb: %" PRIu64 " durable one-put commits in %.3f s (%s)\n", i, seconds(mono_ns() - t0), dir);
out:
        if (rc)
                fail("lmdb probe in %s: %s", dir, mdb_strerror(rc));
        if (env)
                mdb_env_close(env);
        return rc ? -EIO : 0;
}

/* ---- 5. the realistic mix over the SUB path --------------------------------- */

static void mix_progress(const Daemon *d, int64_t t0, const DaemonStatus *st, const DaemonStatus *base,
                         uint64_t sent, uint64_t *last_done, int64_t *last_ns) {
        uint64_t done = status_done(st) - status_done(base);
        int64_t now = mono_ns();
        long rss = proc_status_kib(d->pid, "VmRSS");

        printf("mix: %6.1f s  sent %9" PRIu64 "  done %9" PRIu64 "  last %5.1f s at %8.0f ev/s  RSS %7.1f MiB  "
               "batches %" PRIu64 "  storage %.1f MiB\n",
               seconds(now - t0), sent, done, seconds(now - *last_ns),
               now > *last_ns ? (double)(done - *last_done) / seconds(now - *last_ns) : 0, (double)rss / 1024.0,
               st->batches - base->batches, (double)st->storage_bytes / 1048576.0);
        *last_done = done;
        *last_ns = now;
}

/* Windowed: sends while fewer than `window` events are sent but not yet read
 * by the daemon. Paced (pace > 0): sends open loop at `pace` events/s
 * through a PUB with ZeroMQ's default HWM, as a plain publisher would. */
static int run_mix_sub(Daemon *d, EventSet *set, size_t window, double pace, size_t pub_hwm, int64_t deadline_ms,
                       MixResults *res) {
        /* Windowed, the window bounds what is queued; the PUB pipe's own
         * limit must not: ZeroMQ's writer learns of the reader's progress
         * only every half HWM, so a limit near the window drops messages
         * that have long left. 0 = no limit. */
        int hwm = pace > 0 ? (int)pub_hwm : 0;
        void *pub = zsocket(d->zctx, ZMQ_XPUB, hwm, 0);
        DaemonStatus base = {0}, st = {0};
        uint64_t sent = 0, shifted = 0, received = 0, done = 0, last_done = 0, report_done = 0;
        int64_t t0, now, t_progress, next_poll = 0, next_report, report_ns, shift = 0;
        long long cpu0, wchar0;
        int r = 0;

        if (!pub || zmq_connect(pub, d->sub_ep) < 0) {
                fail("mix: XPUB connect to %s: %s", d->sub_ep, zmq_strerror(errno));
                r = -EIO;
                goto out;
        }
        if ((r = wait_subscription(pub, 5000)) < 0) {
                fail("mix: no subscription from raterd within 5 s");
                goto out;
        }
        if ((r = daemon_status(d, &base, STATUS_TIMEOUT_MS)) < 0) {
                fail("mix: status: %s", strerror(-r));
                goto out;
        }
        st = base;
        cpu0 = proc_cpu_ticks(d->pid);
        wchar0 = proc_io(d->pid, "wchar");
        t0 = t_progress = report_ns = mono_ns();
        next_report = t0 + (int64_t)MIX_REPORT_MS * 1000000;
        for (;;) {
                uint64_t allowed = set->n;

                now = mono_ns();
                if (pace > 0) {
                        double due = seconds(now - t0) * pace;
                        allowed = due < (double)set->n ? (uint64_t)due : set->n;
                } else if (received + window < allowed) {
                        allowed = received + window;
                }
                if (sent < allowed) {
                        shift = wall_ms() - set->built_ms;
                        if (allowed - sent > res->max_burst)
                                res->max_burst = allowed - sent;
                }
                while (sent < allowed) {
                        /* event times follow the clock: `now` is when it is sent */
                        if (sent == shifted) {
                                event_set_shift_ts(set, sent, shift);
                                shifted++;
                        }
                        if ((r = send_event(pub, set, sent, ZMQ_DONTWAIT)) < 0)
                                break;
                        sent++;
                }
                if (r == -EAGAIN) {
                        r = 0; /* not with drop semantics, but never spin on it */
                } else if (r < 0) {
                        fail("mix: send: %s", zmq_strerror(-r));
                        goto out;
                }
                if (now >= next_poll) {
                        if (daemon_status(d, &st, STATUS_TIMEOUT_MS) == 0) {
                                received = st.received - base.received;
                                done = status_done(&st) - status_done(&base);
                                if (done > last_done) {
                                        last_done = done;
                                        t_progress = mono_ns();
                                }
                        }
                        next_poll = mono_ns() + (int64_t)MIX_POLL_MS * 1000000;
                }
                if (done >= set->n)
                        break;
                if (mono_ns() - t_progress > (int64_t)STALL_MS * 1000000) {
                        fail("mix: no progress for %d s with %" PRIu64 " of %" PRIu64 " sent events done",
                             STALL_MS / 1000, done, sent);
                        res->ended = sent == set->n ? "the rest never arrived: dropped" : "the daemon stalled";
                        break;
                }
                if (mono_ms() > deadline_ms) {
                        fail("mix: time limit reached with %" PRIu64 " of %zu events done (raise --timeout or "
                             "lower -n)",
                             done, set->n);
                        res->ended = "time limit reached";
                        break;
                }
                if (mono_ns() >= next_report) {
                        mix_progress(d, t0, &st, &base, sent, &report_done, &report_ns);
                        next_report += (int64_t)MIX_REPORT_MS * 1000000;
                }
                /* Paced: 1 ms slices. Windowed: wait for the daemon to read. */
                if (pace > 0 ? sent >= allowed : sent >= allowed && sent < set->n)
                        sleep_ms(1);
                else if (sent >= set->n)
                        sleep_ms(MIX_POLL_MS / 2);
        }
        res->cpu_ticks = cpu0 >= 0 ? proc_cpu_ticks(d->pid) - cpu0 : -1;
        res->wchar = wchar0 >= 0 ? proc_io(d->pid, "wchar") - wchar0 : -1;
        res->sent = sent;
        res->received = st.received - base.received;
        res->applied = st.applied - base.applied;
        res->duplicate = st.duplicate - base.duplicate;
        res->rejected = st.rejected - base.rejected;
        res->failed = st.failed - base.failed;
        res->batches = st.batches - base.batches;
        res->lost = set->n - done;
        res->completed = done >= set->n;
        res->elapsed_s = seconds(t_progress - t0);
        res->rate = res->elapsed_s > 0 ? (double)res->applied / res->elapsed_s : 0;
        printf("mix: sent %" PRIu64 "; received %" PRIu64 ", applied %" PRIu64 ", duplicate %" PRIu64
               ", rejected %" PRIu64 ", failed %" PRIu64 " after %.3f s; %" PRIu64 " batches\n",
               sent, res->received, res->applied, res->duplicate, res->rejected, res->failed, res->elapsed_s,
               res->batches);
        if (res->rejected || res->duplicate)
                fail("mix: raterd rejected %" PRIu64 " and found %" PRIu64 " duplicate events (see %s)", res->rejected,
                     res->duplicate, d->log);
        r = 0;
out:
        if (pub)
                zmq_close(pub);
        return r;
}

static int run_mix(const Options *o, const char *raterd, Daemon *d, MixResults *res, double *ceiling,
                   size_t *ceiling_count) {
        EventSet set = {0};
        char tag[32], mdb[160];
        unsigned run_id = (unsigned)getpid() ^ (unsigned)wall_ms();
        int64_t t_build = mono_ns(), deadline;
        int r, r_stop;

        snprintf(tag, sizeof(tag), "mx%08x", run_id);
        if ((r = mix_build(&set, o->n, tag, 0x9e3779b97f4a7c15ULL ^ run_id, &res->mix)) < 0)
                goto out;
        if ((r = event_set_track_ts(&set)) < 0)
                goto out;
        res->mean_bytes = event_set_mean_bytes(&set);
        printf("events: %zu payloads of the mix, mean %.0f bytes, built in %.1f s\n", set.n, res->mean_bytes,
               seconds(mono_ns() - t_build));
        mix_print(&res->mix, set.n);

        double cpu;
        if ((r = run_ceiling(&set, false, ceiling, ceiling_count, &cpu)) < 0)
                goto out;
        if ((r = daemon_start(d, raterd, NULL)) < 0)
                goto out;
        /* Leave a minute of the hard limit for the stop and the report. */
        deadline = mono_ms() + (int64_t)o->timeout_s * 1000 - 60000 - (mono_ns() - t_build) / 1000000;
        r = run_mix_sub(d, &set, o->window, o->pace, o->pub_hwm, deadline, res);
        res->rss_kib = proc_peak_rss_kib(d->pid);
        res->rss_anon_kib = proc_status_kib(d->pid, "RssAnon");
        res->rss_file_kib = proc_status_kib(d->pid, "RssFile");
        if (r == 0 && (r = daemon_status(d, &res->end, STATUS_TIMEOUT_MS)) < 0)
                fail("mix: status after the run: %s", strerror(-r));
        r_stop = daemon_stop(d);
        if (r == 0)
                r = r_stop;
        snprintf(mdb, sizeof(mdb), "%s/data.mdb", d->state);
        res->mdb_size = file_size(mdb, &res->mdb_disk);
out:
        event_set_free(&set);
        return r;
}

/* ---- run, report ------------------------------------------------------------ */

static int cmp_double(const void *x, const void *y) {
        double a = *(const double *)x, b = *(const double *)y;
        return a < b ? -1 : a > b;
}

static double median(double *v, unsigned n) {
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_summary(const Options *o, const Results *r) {
        double ratios[MAX_ROUNDS], cpu_ratios[MAX_ROUNDS], best_ff = 0;

        printf("\n== bench-ingest summary: N %zu, window %zu, %u rounds ==\n", o->n, o->window, o->rounds);
        for (unsigned i = 0; i < o->rounds; i++) {
                ratios[i] = r->round_ceiling[i] > 0 ? r->round_ff[i] / r->round_ceiling[i] : 0;
                if (r->round_ff[i] > best_ff)
                        best_ff = r->round_ff[i];
                cpu_ratios[i] = r->round_ff_cpu[i] > 0 ? r->round_sub_cpu[i] / r->round_ff_cpu[i] : 0;
                printf("round %-2u zmq pub->sub %9.0f msg/s, raterd fire-and-forget %9.0f ev/s: %.2fx"
                       "  | CPU: SUB %4.0f ns/msg, raterd %4.0f ns/ev: %.2fx\n",
                       i + 1, r->round_ceiling[i], r->round_ff[i], ratios[i], r->round_sub_cpu[i], r->round_ff_cpu[i],
                       cpu_ratios[i]);
        }
        double cpu_median = median(cpu_ratios, o->rounds);
        qsort(ratios, o->rounds, sizeof(double), cmp_double);
        printf("ceiling  zmq pub->sub     %9.0f msg/s  (best round)\n", r->ceiling_rate);
        printf("ceiling  + validation     %9.0f ev/s  (%.2fx best ceiling: pub->sub with proto_decode, nothing stored)\n",
               r->decode_rate, r->ceiling_rate > 0 ? r->decode_rate / r->ceiling_rate : 0);
        printf("raterd   fire-and-forget  %9.0f ev/s  (best round)  lost %" PRIu64 " of %zu\n", best_ff, r->ff_lost,
               o->rounds * o->n);
        printf("raterd   fire-and-forget / ceiling of the same round: median %.2fx (min %.2fx, max %.2fx); "
               "best / best %.2fx\n",
               o->rounds % 2 ? ratios[o->rounds / 2] : (ratios[o->rounds / 2 - 1] + ratios[o->rounds / 2]) / 2,
               ratios[0], ratios[o->rounds - 1], r->ceiling_rate > 0 ? best_ff / r->ceiling_rate : 0);
        printf("raterd   CPU per message, bare SUB process / raterd (all threads): median %.2fx (min %.2fx, max %.2fx)\n",
               cpu_median, cpu_ratios[0], cpu_ratios[o->rounds - 1]);
        printf("raterd   acknowledged     %9.0f ev/s  batches %.0f/s, %.0f ev/batch; lmdb durable commits %.0f/s\n",
               r->ack_rate, r->batches_per_s, r->events_per_batch, r->lmdb_commits_per_s);
        printf("         writer thread busy %.0f %% of the phase, %.0f %% in LMDB's durable commit (page writes, fsyncs)\n",
               100 * r->ack_writer_busy, 100 * r->ack_writer_commit);
        printf("raterd   acked, 1 in flight %7.0f ev/s  %.0f commits/s = %.2fx lmdb's durable one-put commits/s\n",
               r->ack1_rate, r->ack1_batches_per_s,
               r->lmdb_commits_per_s > 0 ? r->ack1_batches_per_s / r->lmdb_commits_per_s : 0);
        printf("         writer thread busy %.0f %% of the phase, %.0f %% in LMDB's durable commit (page writes, fsyncs)\n",
               100 * r->ack1_writer_busy, 100 * r->ack1_writer_commit);
        if (r->ack1_rate > 0 && r->echo_rate > 0) {
                double each = 1e6 / r->ack1_rate, echo = 1e6 / r->echo_rate, commit = r->ack1_writer_commit * each,
                       txn = (r->ack1_writer_busy - r->ack1_writer_commit) * each;
                printf("         per event %.0f us = ZeroMQ echo round trip %.0f + LMDB durable commit %.0f"
                       " + the writer's transaction %.0f + the rest %.0f\n",
                       each, echo, commit, txn, each - echo - commit - txn);
        }
        if (r->rss_kib >= 0)
                printf("raterd   peak RSS         %9.1f MiB\n", (double)r->rss_kib / 1024.0);
        else
                printf("raterd   peak RSS         unknown\n");
}

static double mib(long long bytes) {
        return (double)bytes / 1048576.0;
}

static void print_mix_summary(const Options *o, const MixResults *m, double ceiling) {
        long tck = sysconf(_SC_CLK_TCK);
        double cpu_s = m->cpu_ticks >= 0 && tck > 0 ? (double)m->cpu_ticks / (double)tck : -1;

        printf("\n== bench-ingest --mix: N %zu (ticket %.0f %%, feedback %.0f %%, complaint %.0f %%), %d agents in "
               "%d teams, %.0f B/event ==\n",
               o->n, 100.0 * (double)m->mix.kind[BK_TICKET] / (double)o->n,
               100.0 * (double)m->mix.kind[BK_FEEDBACK] / (double)o->n,
               100.0 * (double)m->mix.kind[BK_COMPLAINT] / (double)o->n, N_AGENTS, N_TEAMS, m->mean_bytes);
        printf("%-34s %12s %10s\n", "", "events/s", "vs bare");
        printf("%-34s %12.0f %9.2fx\n", "bare zmq pub->sub, same messages", ceiling, 1.0);
        if (o->pace > 0)
                printf("%-34s %12.0f %9.3fx  (open loop at %.0f/s, PUB HWM %zu, largest catch-up burst %" PRIu64
                       ")\n",
                       "raterd SUB path, paced", m->rate, ceiling > 0 ? m->rate / ceiling : 0, o->pace, o->pub_hwm,
                       m->max_burst);
        else
                printf("%-34s %12.0f %9.3fx  (window of %zu unread events)\n", "raterd SUB path, sustained", m->rate,
                       ceiling > 0 ? m->rate / ceiling : 0, o->window);
        printf("%-34s %12" PRIu64 "  of %" PRIu64 " sent (%s)%s%s\n", "lost (sent - done)", m->lost, m->sent,
               m->received < m->sent ? "some never read by the daemon" : "all read by the daemon",
               m->ended ? "; " : "", m->ended ? m->ended : "");
        printf("%-34s %12" PRIu64 " / %" PRIu64 " / %" PRIu64 "\n", "applied / rejected / failed", m->applied,
               m->rejected, m->failed);
        printf("%-34s %12.1f s  (%.1f us/event, %" PRIu64 " batches, %.0f events/batch)\n", "elapsed",
               m->elapsed_s, m->applied ? cpu_s * 1e6 / (double)m->applied : 0, m->batches,
               m->batches ? (double)m->applied / (double)m->batches : 0);
        printf("%-34s %12.1f s  (%.0f %% of one core)\n", "daemon CPU (utime+stime)", cpu_s,
               m->elapsed_s > 0 ? 100.0 * cpu_s / m->elapsed_s : 0);
        printf("%-34s %12.1f MiB  (%.0f KiB per commit, %.0f B per event)\n", "daemon writes (wchar)", mib(m->wchar),
               m->batches ? (double)m->wchar / 1024.0 / (double)m->batches : 0,
               m->applied ? (double)m->wchar / (double)m->applied : 0);
        printf("%-34s %12.1f MiB  (at the end: %.1f MiB anonymous, %.1f MiB file pages, the LMDB map)\n",
               "daemon peak RSS (VmHWM)", (double)m->rss_kib / 1024.0, (double)m->rss_anon_kib / 1024.0,
               (double)m->rss_file_kib / 1024.0);
        printf("%-34s %12.1f MiB  (%.1f MiB on disk; %.0f B/event)\n", "LMDB data.mdb after the run", mib(m->mdb_size),
               mib(m->mdb_disk), m->applied ? (double)m->mdb_size / (double)m->applied : 0);
        printf("%-34s %12.1f MiB\n", "raterctl status storage bytes", mib((long long)m->end.storage_bytes));
        printf("%-34s minute_buckets %" PRIu64 ", hour_buckets %" PRIu64 ", tickets %" PRIu64 ", complaints %" PRIu64
               ", dedup %" PRIu64 "\n",
               "LMDB entries", m->end.minute_buckets, m->end.hour_buckets, m->end.tickets, m->end.complaints,
               m->end.dedup);
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-ingest [--raterd PATH] [-n N] [--rounds R] [--window W] [--keep] [--timeout S]\n"
                "       bench-ingest --mix [--pace R [--pub-hwm H]] [--raterd PATH] [-n N] [--window W] [--keep]\n"
                "                    [--timeout S]\n"
                "Measures raterd's ingest throughput against ZeroMQ and LMDB ceilings.\n\n"
                "  --raterd PATH   daemon binary (default: the one of this build tree, else " DEFAULT_RATERD ")\n"
                "  -n N            events per phase (default %d; --mix: %d)\n"
                "  --rounds R      default run: R rounds of a bare PUB->SUB run then a fire-and-forget\n"
                "                  run of N new events, ratio per round and median (default %d)\n"
                "  --window W      events in flight: unacknowledged on the acked path (default %d); --mix:\n"
                "                  sent but not yet read by the daemon (default %d)\n"
                "  --mix           the realistic ticket/feedback/complaint mix over the SUB path, with peak\n"
                "                  RSS and LMDB size\n"
                "  --pace R        --mix: send open loop at R events/s instead of windowed, count losses\n"
                "  --pub-hwm H     --pace: the publisher's send high water mark (default 1000, ZeroMQ's)\n"
                "  --keep          keep the temp dir (config, log, LMDB files)\n"
                "  --timeout S     hard limit for the whole run (default %d s; --mix: %d s)\n",
                DEFAULT_N, DEFAULT_MIX_N, DEFAULT_ROUNDS, DEFAULT_WINDOW, DEFAULT_MIX_WINDOW, DEFAULT_TIMEOUT_S,
                DEFAULT_MIX_TIMEOUT_S);
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out) {
        char *end;
        unsigned long long v;

        errno = 0;
        if (*s < '0' || *s > '9' || (v = strtoull(s, &end, 10), errno) || *end || v < lo || v > hi)
                return -EINVAL;
        *out = (size_t)v;
        return 0;
}

static int parse_args(int argc, char **argv, Options *o) {
        enum { ARG_RATERD = 0x100, ARG_WINDOW, ARG_KEEP, ARG_TIMEOUT, ARG_MIX, ARG_PACE, ARG_PUB_HWM, ARG_ROUNDS };
        static const struct option options[] = {
                {"raterd", required_argument, NULL, ARG_RATERD}, {"window", required_argument, NULL, ARG_WINDOW},
                {"keep", no_argument, NULL, ARG_KEEP},           {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"mix", no_argument, NULL, ARG_MIX},             {"pace", required_argument, NULL, ARG_PACE},
                {"pub-hwm", required_argument, NULL, ARG_PUB_HWM}, {"rounds", required_argument, NULL, ARG_ROUNDS},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        bool n_given = false, window_given = false, timeout_given = false;
        size_t t;
        int c;

        *o = (Options){.n = DEFAULT_N,
                       .window = DEFAULT_WINDOW,
                       .pub_hwm = 1000,
                       .timeout_s = DEFAULT_TIMEOUT_S,
                       .rounds = DEFAULT_ROUNDS};
        while ((c = getopt_long(argc, argv, "n:h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_RATERD:
                        o->raterd = optarg;
                        break;
                case 'n':
                        if (parse_size(optarg, 1, MAX_N, &o->n) < 0) {
                                fail("-n must be between 1 and %d", MAX_N);
                                return -1;
                        }
                        n_given = true;
                        break;
                case ARG_WINDOW:
                        if (parse_size(optarg, 1, MAX_N, &o->window) < 0) {
                                fail("--window must be between 1 and %d", MAX_N);
                                return -1;
                        }
                        window_given = true;
                        break;
                case ARG_KEEP:
                        o->keep = true;
                        break;
                case ARG_TIMEOUT:
                        if (parse_size(optarg, 1, 3600, &t) < 0) {
                                fail("--timeout must be between 1 and 3600 seconds");
                                return -1;
                        }
                        o->timeout_s = (unsigned)t;
                        timeout_given = true;
                        break;
                case ARG_MIX:
                        o->mix = true;
                        break;
                case ARG_PACE:
                        if (parse_size(optarg, 1, 100000000, &t) < 0) {
                                fail("--pace must be between 1 and 100000000 events/s");
                                return -1;
                        }
                        o->pace = (double)t;
                        break;
                case ARG_ROUNDS:
                        if (parse_size(optarg, 1, MAX_ROUNDS, &t) < 0) {
                                fail("--rounds must be between 1 and %d", MAX_ROUNDS);
                                return -1;
                        }
                        o->rounds = (unsigned)t;
                        break;
                case ARG_PUB_HWM:
                        if (parse_size(optarg, 1, MAX_N, &o->pub_hwm) < 0) {
                                fail("--pub-hwm must be between 1 and %d", MAX_N);
                                return -1;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return -1;
                }
        }
        if (optind < argc) {
                fail("unexpected argument '%s'", argv[optind]);
                return -1;
        }
        if (o->pace > 0 && !o->mix) {
                fail("--pace needs --mix");
                return -1;
        }
        if (o->mix) {
                if (!n_given)
                        o->n = DEFAULT_MIX_N;
                if (!window_given)
                        o->window = DEFAULT_MIX_WINDOW;
                if (!timeout_given)
                        o->timeout_s = DEFAULT_MIX_TIMEOUT_S;
        }
        return 0;
}

/* Builds round i's fire-and-forget events: new ids every round, so none
 * is a duplicate of an earlier round's. */
static int build_round(EventSet *set, size_t n, unsigned run_id, unsigned i) {
        char tag[32];

        snprintf(tag, sizeof(tag), "fb-%08x-f%u", run_id, i);
        return event_set_build_feedback(set, n, tag, 0x9e3779b97f4a7c15ULL ^ run_id ^ ((uint64_t)i << 40));
}

static int run(const Options *o, const char *raterd, Daemon *d, Results *res) {
        EventSet ff = {0}, acked = {0}, one = {0};
        char tag[32], probe[96];
        unsigned run_id = (unsigned)getpid() ^ (unsigned)wall_ms();
        int r, r_stop;

        /* 1. every payload in memory before any timing (each round's own
         * set is built between rounds) */
        if ((r = build_round(&ff, o->n, run_id, 0)) < 0)
                goto out;
        snprintf(tag, sizeof(tag), "fb-%08x-a", run_id);
        if ((r = event_set_build_feedback(&acked, o->n, tag, 0xd1b54a32d192ed03ULL ^ run_id)) < 0)
                goto out;
        snprintf(tag, sizeof(tag), "fb-%08x-1", run_id);
        if ((r = event_set_build_feedback(&one, o->n < ONE_BY_ONE_N ? o->n : ONE_BY_ONE_N, tag,
                                          0x94d049bb133111ebULL ^ run_id)) < 0)
                goto out;
        printf("events: %u x %zu fire-and-forget and %zu acknowledged feedback payloads, mean %.0f bytes\n",
               o->rounds, o->n, o->n, event_set_mean_bytes(&ff));

        /* 2. the ceiling with raterd's validation in the receiver: what any
         * daemon that checks every message as the contract asks could
         * reach, before storing anything (best of CEILING_RUNS). */
        for (unsigned i = 0; i < CEILING_RUNS; i++) {
                double rate = 0, cpu;
                size_t count = 0;
                if ((r = run_ceiling(&ff, true, &rate, &count, &cpu)) < 0)
                        goto out;
                if (rate > res->decode_rate)
                        res->decode_rate = rate;
        }

        /* 3. rounds of (bare PUB->SUB ceiling, the daemon's fire-and-forget
         * path), back to back with the same number of messages: one short
         * run swings by 2x on a shared machine, so each daemon run is held
         * against the ceiling measured just before it. */
        if ((r = daemon_start(d, raterd, NULL)) < 0)
                goto out;
        for (unsigned i = 0; i < o->rounds; i++) {
                if (i > 0) {
                        event_set_free(&ff);
                        if ((r = build_round(&ff, o->n, run_id, i)) < 0)
                                goto stop;
                }
                if ((r = run_ceiling(&ff, false, &res->round_ceiling[i], &res->ceiling_count, &res->round_sub_cpu[i])) <
                    0)
                        goto stop;
                if ((r = run_fire_and_forget(d, &ff, res)) < 0)
                        goto stop;
                res->round_ff[i] = res->ff_rate;
                res->round_ff_cpu[i] = res->ff_cpu;
                res->ff_lost += o->n - res->ff_applied;
                if (res->round_ceiling[i] > res->ceiling_rate)
                        res->ceiling_rate = res->round_ceiling[i];
        }
        /* 4.-5. the acknowledged path */
        r = run_acknowledged(d, &acked, o->window, res);
        if (r == 0) {
                /* One event in flight: every ack waits for its own commit,
                 * so this is the daemon's durable commit rate, to hold
                 * against LMDB's own (phase 6). */
                Results one_res = *res;
                if ((r = run_echo(&one, &res->echo_rate)) < 0)
                        goto stop;
                r = run_acknowledged(d, &one, 1, &one_res);
                res->ack1_rate = one_res.ack_rate;
                res->ack1_batches_per_s = one_res.batches_per_s;
                res->ack1_writer_busy = one_res.ack_writer_busy;
                res->ack1_writer_commit = one_res.ack_writer_commit;
        }
stop:
        /* 7. peak RSS, then a clean stop */
        res->rss_kib = d->pid ? proc_peak_rss_kib(d->pid) : -1;
        r_stop = daemon_stop(d);
        if (r == 0)
                r = r_stop;
        if (r < 0)
                goto out;

        /* 6. LMDB's durable commit rate on the same file system */
        snprintf(probe, sizeof(probe), "%s/lmdb-probe", d->dir);
        r = lmdb_probe(probe, res);
out:
        event_set_free(&ff);
        event_set_free(&acked);
        event_set_free(&one);
        return r;
}

int main(int argc, char **argv) {
        Options o;
        Daemon d = {0};
        Results res = {.rss_kib = -1};
        MixResults mres = {.rss_kib = -1};
        double ceiling = 0;
        size_t ceiling_count = 0;
        char raterd_buf[PATH_MAX + 32];
        const char *raterd;
        int r;

        bench_set_name("bench-ingest");
        setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines survive a hard timeout */
        r = parse_args(argc, argv, &o);
        if (r)
                return r > 0 ? EXIT_SUCCESS : 2;
        raterd = daemon_resolve(o.raterd, DEFAULT_RATERD, raterd_buf, sizeof(raterd_buf));
        if (access(raterd, X_OK) < 0) {
                fail("%s: %s (build raterd first or pass --raterd PATH)", raterd, strerror(errno));
                return EXIT_FAILURE;
        }

        snprintf(d.dir, sizeof(d.dir), "/tmp/bench-ingest.XXXXXX");
        if (!mkdtemp(d.dir)) {
                fail("mkdtemp: %s", strerror(errno));
                return EXIT_FAILURE;
        }
        guard_install(o.timeout_s, d.dir);

        printf("bench-ingest: raterd %s, N %zu, window %zu%s, temp dir %s\n", raterd, o.n, o.window,
               o.mix ? ", realistic mix" : "", d.dir);
        r = o.mix ? run_mix(&o, raterd, &d, &mres, &ceiling, &ceiling_count) : run(&o, raterd, &d, &res);
        daemon_close(&d); /* a phase failed with the daemon still up */
        guard_disarm();

        if (r == 0 && o.mix)
                print_mix_summary(&o, &mres, ceiling);
        else if (r == 0)
                print_summary(&o, &res);
        if (o.keep || r < 0)
                printf("temp dir kept: %s\n", d.dir);
        else
                remove_tree(d.dir);
        return r < 0 || (o.mix && mres.lost) ? EXIT_FAILURE : EXIT_SUCCESS;
}
