/* bench/bench-alerts.c: raterd's alert latency and evaluation cost.
 *
 * 1. Latency. One rule, `csat` below 50 (clear 60) over team:*, 5m window,
 *    min_samples 1. Under a background load of the realistic mix (mix.h,
 *    --load events/s open loop on the daemon's own teams and agents), the
 *    benchmark sends one unhappy feedback (score 1: csat 0) for each of
 *    --alerts fresh teams, --probe-rate of them a second, on the same PUB
 *    socket, and a thread on a SUB to the alert PUB socket stamps every
 *    `firing` notification of those teams. Latency = its receive time minus
 *    the send time of the feedback (one monotonic clock: same machine), so
 *    it holds the ingest batch, its fsync'd commit, the evaluation of the
 *    touched scopes, the fsync'd commit of the alert state and the PUB->SUB
 *    hop. The notification's own `ts` splits it into before and after the
 *    daemon stamped it (ms resolution).
 *
 * 2. Evaluation cost. --scopes agents (in N_TEAMS teams) each get feedback
 *    and tickets; then the daemon idles --idle seconds, when only its timers
 *    run: the once-a-second alert tick and housekeeping. The tick rescans a
 *    rule group (rules sharing a window) for every scope when the window
 *    slid past a bucket boundary, i.e. at each wall-clock minute, and
 *    otherwise only steps `for`/`repeat` deadlines; so the interval starts
 *    at second 55 and holds one minute boundary. Its CPU time (utime+stime
 *    of /proc/PID/stat, and on-CPU ns of its threads' schedstat in 1-second
 *    slices) is read on a daemon with --rules rules over agent:* and team:*
 *    and on one without rules. The busiest slice minus the median slice is
 *    the full pass; the median slice net of the no-rules daemon is the
 *    routine tick. For comparison, the same daemon then answers one `top`
 *    query per rule (index, scope kind and window of the rule) over the
 *    control socket: the operator's way of computing the same values for
 *    every scope.
 *
 * Only 127.0.0.1 and ipc:// endpoints; every wait is bounded; a hard
 * timeout kills the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon.h"
#include "events.h"
#include "mix.h"
#include "util.h"

#define DEFAULT_RATERD "build/daemon/raterd"
#define DEFAULT_ALERTS 1200
#define DEFAULT_PROBE_RATE 40
#define DEFAULT_LOAD 10000
#define DEFAULT_SCOPES N_AGENTS
#define DEFAULT_RULES 20
#define DEFAULT_IDLE_S 10
#define DEFAULT_TIMEOUT_S 600
#define MAX_ALERTS 100000

#define WARMUP_TRIES 10     /* warm-up probes, one a second, until one fires */
#define DRAIN_MS 5000       /* after the last probe: wait for late alerts */
#define SETTLE_MS 3000      /* after populating: let commits and first passes end */
#define POPULATE_PER_SCOPE 5
#define IDLE_START_S 55     /* the idle interval starts at this second of a wall-clock minute */
#define MAX_IDLE_S 300

typedef struct {
        const char *raterd;
        size_t alerts;
        double probe_rate;
        double load;
        size_t scopes;
        size_t rules;
        unsigned idle_s;
        bool latency, eval;
        bool keep;
        const char *dump; /* per-probe latencies (CSV) */
        unsigned timeout_s;
} Options;

/* ---- the alert receiver --------------------------------------------------- */

typedef struct {
        void *zctx;
        const char *endpoint;
        char prefix[64]; /* "team:" + probe team prefix */
        size_t n;
        int64_t *recv_ns;   /* first `firing` of probe i, monotonic; 0 = none */
        int64_t *daemon_ts; /* its `ts` (Unix ms) */
        atomic_bool stop;
        atomic_bool ready;
        atomic_uint_fast64_t total, probe_firing, other, unreadable, repeated;
        int error;
} Receiver;

static bool str_is(const msgpack_object *o, const char *s) {
        size_t n = strlen(s);

        return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

/* Handles one alert payload: a probe's firing notification is stamped. */
static void receiver_take(Receiver *rc, const void *data, size_t len, int64_t t) {
        msgpack_unpacked u;
        size_t off = 0;
        const msgpack_object *scope = NULL, *state = NULL, *ts = NULL;

        atomic_fetch_add(&rc->total, 1);
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_MAP) {
                atomic_fetch_add(&rc->unreadable, 1);
                goto out;
        }
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
                const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
                if (str_is(&kv->key, "scope"))
                        scope = &kv->val;
                else if (str_is(&kv->key, "state"))
                        state = &kv->val;
                else if (str_is(&kv->key, "ts"))
                        ts = &kv->val;
        }
        if (!scope || !state || scope->type != MSGPACK_OBJECT_STR) {
                atomic_fetch_add(&rc->unreadable, 1);
                goto out;
        }
        {
                size_t plen = strlen(rc->prefix);
                char num[16];
                size_t k = scope->via.str.size - plen;
                char *end;
                unsigned long i;

                if (!str_is(state, "firing") || scope->via.str.size <= plen || k >= sizeof(num) ||
                    memcmp(scope->via.str.ptr, rc->prefix, plen) != 0) {
                        atomic_fetch_add(&rc->other, 1);
                        goto out;
                }
                memcpy(num, scope->via.str.ptr + plen, k);
                num[k] = 0;
                i = strtoul(num, &end, 10);
                if (*end || i >= rc->n) {
                        atomic_fetch_add(&rc->other, 1);
                        goto out;
                }
                if (rc->recv_ns[i]) {
                        atomic_fetch_add(&rc->repeated, 1);
                        goto out;
                }
                rc->recv_ns[i] = t;
                if (ts && ts->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                        rc->daemon_ts[i] = (int64_t)ts->via.u64;
                atomic_fetch_add(&rc->probe_firing, 1);
        }
out:
        msgpack_unpacked_destroy(&u);
}

static void *receiver_main(void *arg) {
        Receiver *rc = arg;
        void *sub = zsocket(rc->zctx, ZMQ_SUB, 0, 0);
        zmq_msg_t m;

        if (!sub || zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) < 0 || zmq_connect(sub, rc->endpoint) < 0) {
                rc->error = errno ? errno : EIO;
                if (sub)
                        zmq_close(sub);
                atomic_store(&rc->ready, true);
                return NULL;
        }
        atomic_store(&rc->ready, true);
        zmq_msg_init(&m);
        while (!atomic_load(&rc->stop)) {
                zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
                if (zmq_poll(&it, 1, 100) <= 0)
                        continue;
                /* [topic][payload]: stamp at the payload, then parse */
                while (zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0) {
                        if (zmq_msg_more(&m))
                                continue;
                        receiver_take(rc, zmq_msg_data(&m), zmq_msg_size(&m), mono_ns());
                }
        }
        zmq_msg_close(&m);
        zmq_close(sub);
        return NULL;
}

/* ---- 1. latency --------------------------------------------------------------- */

typedef struct {
        size_t probes, received;
        double p50_ms, p90_ms, p99_ms, max_ms, min_ms;
        double to_ts_p50_ms, to_ts_p99_ms; /* send -> the notification's ts (daemon side) */
        uint64_t background_sent, background_lost, other_alerts, repeated, unreadable;
        uint64_t batches, events; /* ingest commits and events during the timed part */
        double timed_s;
        double cpu_pct;           /* daemon utime+stime over the timed part, % of one core */
        long long wchar;          /* bytes the daemon wrote (pwrite) in the timed part */
        double load_achieved;
        long rss_kib;
        bool no_alerts; /* the daemon published nothing: alerts not implemented or not ready */
} Latency;

static int cmp_double(const void *x, const void *y) {
        double a = *(const double *)x, b = *(const double *)y;

        return a < b ? -1 : a > b;
}

/* Nearest-rank quantile of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q) {
        size_t r = (size_t)ceil(q * (double)n);

        if (n == 0)
                return NAN;
        return v[r < 1 ? 0 : r > n ? n - 1 : r - 1];
}

static void pack_probe(msgpack_sbuffer *sb, Rng *r, const char *tag, const char *kind, size_t i) {
        msgpack_packer pk;
        char id[64], team[64];

        msgpack_sbuffer_clear(sb);
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        snprintf(id, sizeof(id), "%s-%s-%zu", tag, kind, i);
        snprintf(team, sizeof(team), "%s-%s%zu", tag, kind, i);
        pack_feedback(&pk, r, id, wall_ms(), team, NULL, 1);
}

static int send_probe(void *pub, const msgpack_sbuffer *sb) {
        if (zmq_send(pub, "feedback", 8, ZMQ_SNDMORE) < 0 || zmq_send(pub, sb->data, sb->size, 0) < 0)
                return -errno;
        return 0;
}

static int run_latency(const Options *o, const char *raterd, Daemon *d, Latency *lat) {
        static const char rule[] = "[rule csat-probe]\n"
                                   "index = csat\n"
                                   "scope = team:*\n"
                                   "window = 5m\n"
                                   "below = 50\n"
                                   "clear = 60\n"
                                   "min_samples = 1\n"
                                   "severity = warning\n";
        unsigned run_id = (unsigned)getpid() ^ (unsigned)wall_ms();
        double duration_s = 2.0 + (double)o->alerts / o->probe_rate + DRAIN_MS / 1000.0 + WARMUP_TRIES;
        size_t n_bg = (size_t)(o->load * duration_s) + 1;
        Receiver rc = {.n = o->alerts};
        EventSet bg = {0};
        MixStats ms;
        msgpack_sbuffer sb;
        DaemonStatus base, st;
        pthread_t thread;
        bool thread_up = false;
        void *pub = NULL;
        int64_t *send_ns = NULL, *send_wall = NULL, t0, next_probe, last_probe = 0;
        double *lat_ms = NULL, *ts_ms = NULL;
        size_t bg_sent = 0, probes = 0, n_ts = 0;
        bool bg_exhausted = false;
        long long cpu0, wchar0;
        char tag[32];
        Rng r = {0x2545f4914f6cdd1dULL ^ run_id};
        int rv = 0;

        msgpack_sbuffer_init(&sb);
        snprintf(tag, sizeof(tag), "al%08x", run_id);
        snprintf(rc.prefix, sizeof(rc.prefix), "team:%s-p", tag);
        send_ns = calloc(o->alerts, sizeof(int64_t));
        send_wall = calloc(o->alerts, sizeof(int64_t));
        rc.recv_ns = calloc(o->alerts, sizeof(int64_t));
        rc.daemon_ts = calloc(o->alerts, sizeof(int64_t));
        lat_ms = calloc(o->alerts, sizeof(double));
        ts_ms = calloc(o->alerts, sizeof(double));
        if (!send_ns || !send_wall || !rc.recv_ns || !rc.daemon_ts || !lat_ms || !ts_ms) {
                rv = -ENOMEM;
                goto out;
        }
        if ((rv = mix_build(&bg, n_bg, tag, 0x9e3779b97f4a7c15ULL ^ run_id, &ms)) < 0 ||
            (rv = event_set_track_ts(&bg)) < 0)
                goto out;
        printf("latency: %zu background events of the mix (%.0f/s for up to %.0f s), %zu probe teams at %.0f/s\n",
               n_bg, o->load, duration_s, o->alerts, o->probe_rate);

        if ((rv = daemon_start(d, raterd, rule)) < 0)
                goto out;
        rc.zctx = d->zctx;
        rc.endpoint = d->alerts_ep;
        if ((rv = -pthread_create(&thread, NULL, receiver_main, &rc)) < 0) {
                fail("latency: receiver thread: %s", strerror(-rv));
                goto out;
        }
        thread_up = true;
        while (!atomic_load(&rc.ready))
                sleep_ms(1);
        if (rc.error) {
                fail("latency: SUB to %s: %s", d->alerts_ep, zmq_strerror(rc.error));
                rv = -EIO;
                goto out;
        }
        pub = zsocket(d->zctx, ZMQ_XPUB, 1000, 0);
        if (!pub || zmq_connect(pub, d->sub_ep) < 0 || wait_subscription(pub, 5000) < 0) {
                fail("latency: XPUB to %s: no subscription from raterd", d->sub_ep);
                rv = -EIO;
                goto out;
        }

        /* Warm-up: the alert SUB joins asynchronously, and an alert sent
         * before its subscription reaches the daemon is lost. One fresh team
         * a second until one firing arrives (any scope counts). */
        sleep_ms(300);
        for (unsigned w = 0; w < WARMUP_TRIES && !atomic_load(&rc.total); w++) {
                pack_probe(&sb, &r, tag, "w", w);
                if ((rv = send_probe(pub, &sb)) < 0)
                        goto out;
                for (int k = 0; k < 100 && !atomic_load(&rc.total); k++)
                        sleep_ms(10);
        }
        if (!atomic_load(&rc.total)) {
                fail("latency: no alert within %d s of unhappy feedback for fresh teams: this raterd publishes no "
                     "alerts (see %s)",
                     WARMUP_TRIES, d->log);
                rv = -ENOTSUP;
                lat->no_alerts = true;
                goto out;
        }
        atomic_store(&rc.total, 0);
        atomic_store(&rc.other, 0);

        if ((rv = daemon_status(d, &base, STATUS_TIMEOUT_MS)) < 0)
                goto out;
        cpu0 = proc_cpu_ticks(d->pid);
        wchar0 = proc_io(d->pid, "wchar");
        t0 = mono_ns();
        next_probe = t0 + 1000000000LL; /* the background runs alone for a second first */
        for (;;) {
                int64_t now = mono_ns();
                double due_bg = seconds(now - t0) * o->load;
                size_t want = due_bg < (double)bg.n ? (size_t)due_bg : bg.n;
                int64_t shift = wall_ms() - bg.built_ms;

                while (bg_sent < want) {
                        event_set_shift_ts(&bg, bg_sent, shift);
                        if ((rv = send_event(pub, &bg, bg_sent, 0)) < 0)
                                goto out;
                        bg_sent++;
                }
                if (probes < o->alerts && now >= next_probe) {
                        pack_probe(&sb, &r, tag, "p", probes);
                        send_wall[probes] = wall_ms();
                        send_ns[probes] = mono_ns();
                        if ((rv = send_probe(pub, &sb)) < 0)
                                goto out;
                        probes++;
                        last_probe = mono_ns();
                        next_probe += (int64_t)(1e9 / o->probe_rate);
                }
                if (probes == o->alerts &&
                    (atomic_load(&rc.probe_firing) == o->alerts || mono_ns() - last_probe > (int64_t)DRAIN_MS * 1000000))
                        break;
                if (bg_sent == bg.n && bg.n > 1 && probes < o->alerts && !bg_exhausted) {
                        fail("latency: background set exhausted; probes continue without load");
                        bg_exhausted = true;
                }
                sleep_ms(1);
        }
        lat->load_achieved = (double)bg_sent / seconds(mono_ns() - t0);
        lat->cpu_pct = 100.0 * (double)(proc_cpu_ticks(d->pid) - cpu0) / (double)sysconf(_SC_CLK_TCK) /
                       seconds(mono_ns() - t0);
        lat->wchar = wchar0 >= 0 ? proc_io(d->pid, "wchar") - wchar0 : -1;
        atomic_store(&rc.stop, true);
        pthread_join(thread, NULL);
        thread_up = false;

        if (daemon_status(d, &st, STATUS_TIMEOUT_MS) == 0) {
                uint64_t done = status_done(&st) - status_done(&base);
                lat->background_sent = bg_sent;
                lat->background_lost = lat->background_sent + probes > done ? lat->background_sent + probes - done : 0;
                lat->batches = st.batches - base.batches;
                lat->events = done;
                lat->timed_s = seconds(mono_ns() - t0);
        }
        lat->rss_kib = proc_peak_rss_kib(d->pid);
        lat->probes = probes;
        if (o->dump) {
                FILE *f = fopen(o->dump, "we");
                if (!f) {
                        fail("latency: %s: %s", o->dump, strerror(errno));
                } else {
                        fprintf(f, "probe,sent_s,latency_ms,to_ts_ms\n");
                        for (size_t i = 0; i < probes; i++)
                                fprintf(f, "%zu,%.4f,%.3f,%" PRId64 "\n", i, seconds(send_ns[i] - t0),
                                        rc.recv_ns[i] ? (double)(rc.recv_ns[i] - send_ns[i]) / 1e6 : -1.0,
                                        rc.daemon_ts[i] ? rc.daemon_ts[i] - send_wall[i] : -1);
                        fclose(f);
                }
        }
        for (size_t i = 0; i < probes; i++) {
                if (!rc.recv_ns[i])
                        continue;
                lat_ms[lat->received++] = (double)(rc.recv_ns[i] - send_ns[i]) / 1e6;
                if (rc.daemon_ts[i])
                        ts_ms[n_ts++] = (double)(rc.daemon_ts[i] - send_wall[i]);
        }
        qsort(lat_ms, lat->received, sizeof(double), cmp_double);
        qsort(ts_ms, n_ts, sizeof(double), cmp_double);
        lat->p50_ms = quantile(lat_ms, lat->received, 0.50);
        lat->p90_ms = quantile(lat_ms, lat->received, 0.90);
        lat->p99_ms = quantile(lat_ms, lat->received, 0.99);
        lat->min_ms = lat->received ? lat_ms[0] : NAN;
        lat->max_ms = lat->received ? lat_ms[lat->received - 1] : NAN;
        lat->to_ts_p50_ms = quantile(ts_ms, n_ts, 0.50);
        lat->to_ts_p99_ms = quantile(ts_ms, n_ts, 0.99);
        lat->other_alerts = atomic_load(&rc.other);
        lat->repeated = atomic_load(&rc.repeated);
        lat->unreadable = atomic_load(&rc.unreadable);
        printf("latency: %zu probes, %zu firing alerts received; %" PRIu64 " other alerts (background teams), "
               "background %" PRIu64 " sent at %.0f/s, %" PRIu64 " lost\n",
               probes, lat->received, lat->other_alerts, lat->background_sent, lat->load_achieved,
               lat->background_lost);
        rv = 0;
out:
        if (thread_up) {
                atomic_store(&rc.stop, true);
                pthread_join(thread, NULL);
        }
        if (pub)
                zmq_close(pub);
        if (d->pid) {
                int r_stop = daemon_stop(d);
                if (rv == 0)
                        rv = r_stop;
        }
        event_set_free(&bg);
        msgpack_sbuffer_destroy(&sb);
        free(send_ns);
        free(send_wall);
        free(rc.recv_ns);
        free(rc.daemon_ts);
        free(lat_ms);
        free(ts_ms);
        return rv;
}

/* ---- 2. evaluation cost ------------------------------------------------------- */

typedef struct {
        const char *index, *scope, *window, *op;
        double threshold, clear;
} RuleSpec;

/* Twenty rules of the kinds operators write: per agent and per team, the
 * satisfaction, responsiveness and complaint indices over 5m, 1h and 24h. */
static const RuleSpec rule_specs[] = {
        {"csat", "agent:*", "1h", "below", 50, 60},
        {"satisfaction", "agent:*", "1h", "below", 40, 50},
        {"nps", "agent:*", "24h", "below", -20, 0},
        {"rater_index", "agent:*", "1h", "below", 50, 60},
        {"frt_p90", "agent:*", "1h", "above", 900, 600},
        {"sla_compliance", "agent:*", "24h", "below", 80, 90},
        {"backlog", "agent:*", "1h", "above", 20, 10},
        {"complaint_handling", "agent:*", "24h", "below", 40, 50},
        {"fcr", "agent:*", "24h", "below", 50, 60},
        {"service_index", "agent:*", "24h", "below", 50, 60},
        {"csat", "team:*", "5m", "below", 60, 70},
        {"satisfaction", "team:*", "5m", "below", 50, 60},
        {"nps", "team:*", "1h", "below", 0, 10},
        {"rater_index", "team:*", "1h", "below", 60, 70},
        {"frt_p50", "team:*", "5m", "above", 600, 300},
        {"sla_compliance", "team:*", "1h", "below", 90, 95},
        {"reopen_rate", "team:*", "24h", "above", 20, 10},
        {"complaint_rate", "team:*", "24h", "above", 30, 20},
        {"repeat_complaint_rate", "team:*", "24h", "above", 30, 20},
        {"service_index", "team:*", "1h", "below", 60, 70},
};
#define N_RULE_SPECS (sizeof(rule_specs) / sizeof(rule_specs[0]))

typedef struct {
        bool with_rules;
        double cpu_ms_per_s;    /* utime+stime over the idle interval, per second */
        double sched_ms_per_s;  /* on-CPU ns of all threads, per second */
        double slice_median_ms; /* on-CPU per 1-second slice: the routine tick */
        double slice_max_ms;    /* the busiest slice: the one with the minute boundary */
        double idle_s;
        uint64_t batches_idle;  /* commits during the idle interval */
        uint64_t storage_growth;
        uint64_t firing;
        long rss_kib;
        double top_wall_ms, top_cpu_ms; /* one `top` per rule */
        size_t top_rows;
} EvalRun;

static char *rules_config(size_t n) {
        size_t cap = n * 192 + 1, len = 0;
        char *s = malloc(cap);

        if (!s)
                return NULL;
        s[0] = 0;
        for (size_t i = 0; i < n; i++) {
                const RuleSpec *rs = &rule_specs[i % N_RULE_SPECS];
                len += (size_t)snprintf(s + len, cap - len,
                                        "[rule r%02zu-%s-%.4s]\nindex = %s\nscope = %s\nwindow = %s\n%s = %g\n"
                                        "clear = %g\nseverity = info\n",
                                        i, rs->index, rs->scope, rs->index, rs->scope, rs->window, rs->op,
                                        rs->threshold, rs->clear);
        }
        return s;
}

/* Feedback and tickets (opened and responded) for every agent: 5 events a
 * scope, all inside the last minutes so every window holds them. */
static int build_population(EventSet *set, size_t scopes, const char *tag, uint64_t seed) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        Rng r = {seed | 1};
        size_t n = scopes * POPULATE_PER_SCOPE, i = 0;
        int64_t now = wall_ms();
        int rc;

        if ((rc = event_set_begin(set, n, &sb)) < 0)
                return rc;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        for (size_t a = 0; a < scopes; a++) {
                char agent[32], team[16], id[64], ticket[64];

                agent_names((unsigned)(a % N_AGENTS), agent, sizeof(agent), team, sizeof(team));
                if (a >= N_AGENTS)
                        snprintf(agent, sizeof(agent), "agent-x%zu", a);
                for (int k = 0; k < 3; k++) {
                        snprintf(id, sizeof(id), "%s-f%zu-%d", tag, a, k);
                        set->off[i] = sb.size;
                        set->kind[i++] = BK_FEEDBACK;
                        pack_feedback(&pk, &r, id, now - (int64_t)rng_below(&r, 120000), team, agent, pick_score(&r));
                }
                snprintf(ticket, sizeof(ticket), "%s-T%zu", tag, a);
                for (int k = 0; k < 2; k++) {
                        int64_t ts = now - 180000 + k * (int64_t)(30000 + rng_below(&r, 120000));
                        snprintf(id, sizeof(id), "%s-t%zu-%d", tag, a, k);
                        set->off[i] = sb.size;
                        set->kind[i++] = BK_TICKET;
                        msgpack_pack_map(&pk, 6 + (k == 0));
                        pack_cstr(&pk, "id");
                        pack_cstr(&pk, id);
                        pack_cstr(&pk, "ts");
                        msgpack_pack_int64(&pk, ts);
                        pack_cstr(&pk, "team");
                        pack_cstr(&pk, team);
                        pack_cstr(&pk, "agent");
                        pack_cstr(&pk, agent);
                        pack_cstr(&pk, "ticket");
                        pack_cstr(&pk, ticket);
                        pack_cstr(&pk, "status");
                        pack_cstr(&pk, k == 0 ? "opened" : "responded");
                        if (k == 0) {
                                pack_cstr(&pk, "priority");
                                pack_cstr(&pk, "normal");
                        }
                }
        }
        return event_set_finish(set, &sb);
}

static int populate(Daemon *d, const EventSet *set) {
        void *pub = zsocket(d->zctx, ZMQ_XPUB, 0, 0);
        DaemonStatus base, st = {0};
        int64_t deadline = mono_ms() + 120000, t_progress = mono_ms();
        uint64_t done = 0, last = 0;
        int r;

        if (!pub || zmq_connect(pub, d->sub_ep) < 0 || wait_subscription(pub, 5000) < 0) {
                fail("eval: XPUB to %s: no subscription from raterd", d->sub_ep);
                if (pub)
                        zmq_close(pub);
                return -EIO;
        }
        if ((r = daemon_status(d, &base, STATUS_TIMEOUT_MS)) < 0) {
                zmq_close(pub);
                return r;
        }
        /* In slices well under the daemon's receive HWM: SUB drops past it. */
        for (size_t sent = 0; sent < set->n || done < set->n;) {
                while (sent < set->n && sent < done + 50000) {
                        if ((r = send_event(pub, set, sent, 0)) < 0) {
                                zmq_close(pub);
                                return r;
                        }
                        sent++;
                }
                sleep_ms(20);
                if (daemon_status(d, &st, STATUS_TIMEOUT_MS) == 0)
                        done = status_done(&st) - status_done(&base);
                if (done > last) {
                        last = done;
                        t_progress = mono_ms();
                }
                if (mono_ms() > deadline || mono_ms() - t_progress > 10000) {
                        fail("eval: populating stalled at %" PRIu64 " of %zu events", done, set->n);
                        zmq_close(pub);
                        return -ETIMEDOUT;
                }
        }
        zmq_close(pub);
        printf("eval: populated %zu events (applied %" PRIu64 ", rejected %" PRIu64 ")\n", set->n,
               st.applied - base.applied, st.rejected - base.rejected);
        return st.rejected - base.rejected ? -EPROTO : 0;
}

/* Sleeps until second `sec` of the wall-clock minute (at most a minute). */
static void wait_for_second(int sec) {
        int64_t wait = (int64_t)sec * 1000 - wall_ms() % 60000;

        if (wait < 0)
                wait += 60000;
        printf("eval: waiting %.0f s for second %d of the minute\n", (double)wait / 1000.0, sec);
        sleep_ms((long)wait);
}

/* One `top` per rule, like an operator (or a cron job) computing each rule's
 * index for every scope of its kind. */
static int run_tops(Daemon *d, size_t n_rules, EvalRun *ev) {
        long long cpu0 = proc_cpu_ns(d->pid);
        int64_t t0 = mono_ns();

        for (size_t i = 0; i < n_rules; i++) {
                const RuleSpec *rs = &rule_specs[i % N_RULE_SPECS];
                char req[256], by[16];
                json_object *res, *rows;
                int r;

                snprintf(by, sizeof(by), "%.*s", (int)(strchr(rs->scope, ':') - rs->scope), rs->scope);
                snprintf(req, sizeof(req),
                         "{\"cmd\":\"top\",\"index\":\"%s\",\"by\":\"%s\",\"window\":\"%s\",\"n\":100000,"
                         "\"min_samples\":1}",
                         rs->index, by, rs->window);
                if ((r = daemon_request(d, req, &res, 30000)) < 0) {
                        fail("eval: %s failed: %s", req, strerror(-r));
                        return r;
                }
                if (json_object_object_get_ex(res, "rows", &rows))
                        ev->top_rows += json_object_array_length(rows);
                json_object_put(res);
        }
        ev->top_wall_ms = (double)(mono_ns() - t0) / 1e6;
        ev->top_cpu_ms = (double)(proc_cpu_ns(d->pid) - cpu0) / 1e6;
        return 0;
}

static int run_eval_one(const Options *o, const char *raterd, Daemon *d, bool with_rules, EvalRun *ev) {
        unsigned run_id = (unsigned)getpid() ^ (unsigned)wall_ms() ^ (with_rules ? 0x5bd1e995u : 0);
        long tck = sysconf(_SC_CLK_TCK);
        char *extra = with_rules ? rules_config(o->rules) : NULL;
        EventSet set = {0};
        DaemonStatus st0, st1;
        long long ticks0, ticks1, ns[MAX_IDLE_S + 1];
        double slices[MAX_IDLE_S];
        int64_t t0, t1;
        char tag[32];
        int r;

        ev->with_rules = with_rules;
        if (with_rules && !extra)
                return -ENOMEM;
        snprintf(tag, sizeof(tag), "ev%08x", run_id);
        if ((r = build_population(&set, o->scopes, tag, 0xd1b54a32d192ed03ULL ^ run_id)) < 0)
                goto out;
        if ((r = daemon_start(d, raterd, extra)) < 0)
                goto out;
        if ((r = populate(d, &set)) < 0)
                goto out;
        sleep_ms(SETTLE_MS);
        if ((r = daemon_status(d, &st0, STATUS_TIMEOUT_MS)) < 0)
                goto out;

        /* Idle: nothing but the daemon's own timers; no requests until the
         * end. The engine rescans a rule group when its window slides past
         * a bucket boundary (each wall-clock minute) and otherwise only
         * steps deadlines, so the interval starts at second IDLE_START_S of
         * a minute and holds one boundary; 1-second slices of on-CPU time
         * tell the boundary pass from the routine ticks. */
        wait_for_second(IDLE_START_S);
        ticks0 = proc_cpu_ticks(d->pid);
        ns[0] = proc_cpu_ns(d->pid);
        t0 = mono_ns();
        for (unsigned i = 1; i <= o->idle_s; i++) {
                int64_t left = t0 + (int64_t)i * 1000000000 - mono_ns();
                if (left > 0)
                        sleep_ms((long)(left / 1000000));
                ns[i] = proc_cpu_ns(d->pid);
        }
        ticks1 = proc_cpu_ticks(d->pid);
        t1 = mono_ns();
        for (unsigned i = 0; i < o->idle_s; i++)
                slices[i] = (double)(ns[i + 1] - ns[i]) / 1e6;
        qsort(slices, o->idle_s, sizeof(double), cmp_double);
        ev->slice_median_ms = quantile(slices, o->idle_s, 0.5);
        ev->slice_max_ms = slices[o->idle_s - 1];
        if ((r = daemon_status(d, &st1, STATUS_TIMEOUT_MS)) < 0)
                goto out;
        ev->idle_s = seconds(t1 - t0);
        ev->cpu_ms_per_s = (double)(ticks1 - ticks0) * 1000.0 / (double)tck / ev->idle_s;
        ev->sched_ms_per_s = (double)(ns[o->idle_s] - ns[0]) / 1e6 / ev->idle_s;
        ev->batches_idle = st1.batches - st0.batches;
        ev->storage_growth = st1.storage_bytes - st0.storage_bytes;
        ev->firing = st1.alerts_firing;
        ev->rss_kib = proc_peak_rss_kib(d->pid);
        printf("eval: %s: idle %.1f s: CPU %.1f ms/s (utime+stime), %.1f ms/s on-CPU; 1-s slices: median %.1f ms, "
               "max %.1f ms; %" PRIu64 " commits; %" PRIu64 " alerts firing\n",
               with_rules ? "with rules" : "no rules", ev->idle_s, ev->cpu_ms_per_s, ev->sched_ms_per_s,
               ev->slice_median_ms, ev->slice_max_ms, ev->batches_idle, ev->firing);
        if (with_rules)
                r = run_tops(d, o->rules, ev);
out:
        if (d->pid) {
                int r_stop = daemon_stop(d);
                if (r == 0)
                        r = r_stop;
        }
        event_set_free(&set);
        free(extra);
        return r;
}

/* ---- report, arguments, main --------------------------------------------------- */

static void print_summary(const Options *o, const Latency *lat, bool lat_done, const EvalRun *none,
                          const EvalRun *rules, bool eval_done) {
        printf("\n== bench-alerts ==\n");
        if (o->latency && !lat_done) {
                printf("alert latency          not measured: %s\n",
                       lat->no_alerts ? "this raterd published no alert (alerts not ready)" : "the run failed");
        } else if (o->latency) {
                printf("alert latency          %zu of %zu alerts received; background %.0f ev/s (mix), %" PRIu64
                       " lost\n",
                       lat->received, lat->probes, lat->load_achieved, lat->background_lost);
                printf("  send -> SUB receive  p50 %7.2f ms   p90 %7.2f ms   p99 %7.2f ms   min %.2f   max %.2f ms\n",
                       lat->p50_ms, lat->p90_ms, lat->p99_ms, lat->min_ms, lat->max_ms);
                printf("  send -> alert ts     p50 %7.0f ms   p99 %7.0f ms   (daemon side, ms clock)\n",
                       lat->to_ts_p50_ms, lat->to_ts_p99_ms);
                printf("  background alerts    %" PRIu64 " (other teams crossing the same rule)\n", lat->other_alerts);
                printf("  ingest commits       %.1f/s, %.0f events each (one every %.1f ms), %.0f KiB written each\n",
                       (double)lat->batches / lat->timed_s, lat->batches ? (double)lat->events / (double)lat->batches : 0,
                       lat->batches ? 1000.0 * lat->timed_s / (double)lat->batches : 0,
                       lat->batches ? (double)lat->wchar / 1024.0 / (double)lat->batches : 0);
                printf("  daemon CPU           %.0f %% of one core over the timed part\n", lat->cpu_pct);
                printf("  daemon peak RSS      %.1f MiB\n", (double)lat->rss_kib / 1024.0);
        }
        if (o->eval && !eval_done) {
                printf("evaluation cost        not measured (the run failed)\n");
        } else if (o->eval) {
                double net = rules->cpu_ms_per_s - none->cpu_ms_per_s;
                double net_ns = rules->sched_ms_per_s - none->sched_ms_per_s;
                printf("evaluation cost        %zu agents in %d teams (+ channels, all), %zu rules, idle %.0f s from "
                       ":%02d (one minute boundary)\n",
                       o->scopes, N_TEAMS, o->rules, rules->idle_s, IDLE_START_S);
                printf("  %-18s %9s %11s %11s %11s %8s %12s %8s\n", "", "CPU ms/s", "on-CPU ms/s", "median 1 s",
                       "max 1 s", "commits", "store +bytes", "RSS MiB");
                printf("  %-18s %9.1f %11.1f %11.1f %11.1f %8" PRIu64 " %12" PRIu64 " %8.1f\n", "raterd, no rules",
                       none->cpu_ms_per_s, none->sched_ms_per_s, none->slice_median_ms, none->slice_max_ms,
                       none->batches_idle, none->storage_growth, (double)none->rss_kib / 1024.0);
                printf("  %-18s %9.1f %11.1f %11.1f %11.1f %8" PRIu64 " %12" PRIu64 " %8.1f\n", "raterd, rules",
                       rules->cpu_ms_per_s, rules->sched_ms_per_s, rules->slice_median_ms, rules->slice_max_ms,
                       rules->batches_idle, rules->storage_growth, (double)rules->rss_kib / 1024.0);
                printf("  full pass (all groups rescanned at the minute boundary): %.1f ms on-CPU "
                       "(busiest 1-s slice - median slice)\n",
                       rules->slice_max_ms - rules->slice_median_ms);
                printf("  routine 1-s tick (no window slid): %.1f ms on-CPU net of the no-rules daemon\n",
                       rules->slice_median_ms - none->slice_median_ms);
                printf("  average over the interval: %.1f ms/s utime+stime, %.1f ms/s on-CPU, net of the no-rules "
                       "daemon\n",
                       net, net_ns);
                printf("  comparable: %zu `top` queries, one per rule (%zu rows): %.1f ms wall, %.1f ms daemon CPU\n",
                       o->rules, rules->top_rows, rules->top_wall_ms, rules->top_cpu_ms);
                printf("  alerts firing after populating: %" PRIu64 "\n", rules->firing);
        }
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-alerts [--raterd PATH] [--only latency|eval] [--alerts N] [--probe-rate R] [--load R]\n"
                "                    [--scopes N] [--rules N] [--idle S] [--dump CSV] [--keep] [--timeout S]\n"
                "Measures raterd's alert latency under load and the cost of its full evaluation pass.\n\n"
                "  --raterd PATH     daemon binary (default: the one of this build tree, else " DEFAULT_RATERD ")\n"
                "  --only WHAT       run one of the two measurements\n"
                "  --alerts N        threshold crossings to time, one fresh team each (default %d)\n"
                "  --probe-rate R    crossings per second (default %d)\n"
                "  --load R          background events/s of the realistic mix (default %d)\n"
                "  --scopes N        agents for the evaluation cost (default %d)\n"
                "  --rules N         rules for the evaluation cost (default %d)\n"
                "  --idle S          idle seconds measured (default %d)\n"
                "  --dump CSV        write every probe's send time and latency to CSV\n"
                "  --keep            keep the temp dir\n"
                "  --timeout S       hard limit for the whole run (default %d s)\n",
                DEFAULT_ALERTS, DEFAULT_PROBE_RATE, DEFAULT_LOAD, DEFAULT_SCOPES, DEFAULT_RULES, DEFAULT_IDLE_S,
                DEFAULT_TIMEOUT_S);
}

static int parse_num(const char *s, size_t lo, size_t hi, size_t *out) {
        char *end;
        unsigned long long v;

        errno = 0;
        if (*s < '0' || *s > '9' || (v = strtoull(s, &end, 10), errno) || *end || v < lo || v > hi)
                return -EINVAL;
        *out = (size_t)v;
        return 0;
}

static int parse_args(int argc, char **argv, Options *o) {
        enum { A_RATERD = 0x100, A_ONLY, A_ALERTS, A_PROBE, A_LOAD, A_SCOPES, A_RULES, A_IDLE, A_KEEP, A_TIMEOUT, A_DUMP };
        static const struct option options[] = {
                {"raterd", required_argument, NULL, A_RATERD}, {"only", required_argument, NULL, A_ONLY},
                {"alerts", required_argument, NULL, A_ALERTS}, {"probe-rate", required_argument, NULL, A_PROBE},
                {"load", required_argument, NULL, A_LOAD},     {"scopes", required_argument, NULL, A_SCOPES},
                {"rules", required_argument, NULL, A_RULES},   {"idle", required_argument, NULL, A_IDLE},
                {"keep", no_argument, NULL, A_KEEP},           {"timeout", required_argument, NULL, A_TIMEOUT},
                {"dump", required_argument, NULL, A_DUMP},     {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        size_t v;
        int c;

        *o = (Options){.alerts = DEFAULT_ALERTS, .probe_rate = DEFAULT_PROBE_RATE, .load = DEFAULT_LOAD,
                       .scopes = DEFAULT_SCOPES, .rules = DEFAULT_RULES, .idle_s = DEFAULT_IDLE_S,
                       .latency = true, .eval = true, .timeout_s = DEFAULT_TIMEOUT_S};
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case A_RATERD:
                        o->raterd = optarg;
                        break;
                case A_ONLY:
                        if (strcmp(optarg, "latency") != 0 && strcmp(optarg, "eval") != 0) {
                                fail("--only takes latency or eval");
                                return -1;
                        }
                        o->latency = optarg[0] == 'l';
                        o->eval = !o->latency;
                        break;
#define NUM(opt, lo, hi, field, cast)                                                                            \
        case opt:                                                                                                \
                if (parse_num(optarg, lo, hi, &v) < 0) {                                                         \
                        fail("--%s must be between %d and %d", options[opt - A_RATERD].name, lo, hi);            \
                        return -1;                                                                               \
                }                                                                                                \
                o->field = (cast)v;                                                                              \
                break;
                        NUM(A_ALERTS, 1, MAX_ALERTS, alerts, size_t)
                        NUM(A_PROBE, 1, 1000, probe_rate, double)
                        NUM(A_LOAD, 0, 200000, load, double)
                        NUM(A_SCOPES, 1, 100000, scopes, size_t)
                        NUM(A_RULES, 1, 200, rules, size_t)
                        NUM(A_IDLE, 2, MAX_IDLE_S, idle_s, unsigned)
                        NUM(A_TIMEOUT, 1, 3600, timeout_s, unsigned)
#undef NUM
                case A_KEEP:
                        o->keep = true;
                        break;
                case A_DUMP:
                        o->dump = optarg;
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
        return 0;
}

int main(int argc, char **argv) {
        Options o;
        Daemon d = {0};
        Latency lat = {0};
        EvalRun none = {0}, rules = {0};
        bool lat_done = false, eval_done = false;
        char raterd_buf[PATH_MAX + 32], base[32];
        const char *raterd;
        int r = 0;

        bench_set_name("bench-alerts");
        setvbuf(stdout, NULL, _IOLBF, 0);
        r = parse_args(argc, argv, &o);
        if (r)
                return r > 0 ? EXIT_SUCCESS : 2;
        raterd = daemon_resolve(o.raterd, DEFAULT_RATERD, raterd_buf, sizeof(raterd_buf));
        if (access(raterd, X_OK) < 0) {
                fail("%s: %s (build raterd first or pass --raterd PATH)", raterd, strerror(errno));
                return EXIT_FAILURE;
        }
        snprintf(base, sizeof(base), "/tmp/bench-alerts.XXXXXX");
        if (!mkdtemp(base)) {
                fail("mkdtemp: %s", strerror(errno));
                return EXIT_FAILURE;
        }
        guard_install(o.timeout_s, base);
        printf("bench-alerts: raterd %s, temp dir %s\n", raterd, base);

        /* Each daemon gets a fresh sub-directory: state never carries over. */
        if (o.latency) {
                d = (Daemon){0};
                snprintf(d.dir, sizeof(d.dir), "%s/latency", base);
                if (mkdir(d.dir, 0700) < 0)
                        r = -errno;
                else
                        r = run_latency(&o, raterd, &d, &lat);
                lat_done = r == 0;
                daemon_close(&d);
        }
        if (o.eval) {
                int r2;
                d = (Daemon){0};
                snprintf(d.dir, sizeof(d.dir), "%s/eval-none", base);
                r2 = mkdir(d.dir, 0700) < 0 ? -errno : run_eval_one(&o, raterd, &d, false, &none);
                daemon_close(&d);
                if (r2 == 0) {
                        d = (Daemon){0};
                        snprintf(d.dir, sizeof(d.dir), "%s/eval-rules", base);
                        r2 = mkdir(d.dir, 0700) < 0 ? -errno : run_eval_one(&o, raterd, &d, true, &rules);
                        daemon_close(&d);
                }
                eval_done = r2 == 0;
                if (r == 0)
                        r = r2;
        }
        guard_disarm();
        print_summary(&o, &lat, lat_done, &none, &rules, eval_done);
        if (o.keep || r < 0)
                printf("temp dir kept: %s\n", base);
        else
                remove_tree(base);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
