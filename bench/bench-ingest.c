/* bench/bench-ingest.c: raterd ingest throughput against its ceilings.
 *
 * One run measures, with the same pre-encoded feedback events:
 *   1. a bare ZeroMQ PUB->SUB pair over tcp loopback (the transport ceiling);
 *   2. the real daemon's fire-and-forget path (XPUB -> its SUB bind);
 *   3. its acknowledged path (DEALER -> its ROUTER, W events in flight);
 *   4. LMDB's durable (fsync'd) commit rate on the same file system, which
 *      bounds the acknowledged path at commits/s x events per batch;
 * then reads the daemon's peak RSS, stops it with SIGTERM and prints a
 * summary. Only 127.0.0.1 and ipc:// endpoints are used; every wait is
 * bounded, and a hard timeout kills the daemon and fails the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <lmdb.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DEFAULT_RATERD "build/daemon/raterd"
#define DEFAULT_N 200000
#define DEFAULT_WINDOW 20000
#define DEFAULT_TIMEOUT_S 120
#define MAX_N 10000000

#define N_TEAMS 200
#define N_AGENTS 10000
#define TOPIC "feedback"

#define STALL_MS 5000          /* no progress for this long ends a phase */
#define PHASE_MS 60000         /* no phase runs longer */
#define STATUS_POLL_MS 10      /* fire-and-forget progress sampling */
#define STATUS_TIMEOUT_MS 2000 /* one control request */
#define READY_MS 10000         /* daemon start-up */
#define STOP_MS 15000          /* daemon shutdown after SIGTERM */
#define LMDB_PROBE_MS 2000
#define LMDB_PROBE_MAX 1000000

typedef struct {
        const char *raterd;
        bool raterd_given;
        size_t n;
        size_t window;
        bool keep;
        unsigned timeout_s;
} Options;

/* N msgpack payloads back to back; payload i is data[off[i] .. off[i+1]). */
typedef struct {
        char *data;
        size_t *off;
        size_t n;
} EventSet;

typedef struct {
        uint64_t received, applied, duplicate, rejected, batches;
} DaemonStatus;

typedef struct {
        pid_t pid;
        char dir[64];
        char config[128];
        char state[128];
        char log[128];
        char control[160];
        char sub_ep[64], router_ep[64];
        void *zctx;
        void *ctl; /* DEALER to the control socket; reopened after a timeout */
} Daemon;

typedef struct {
        double ceiling_rate;
        size_t ceiling_count;
        double ff_rate, ff_send_s;
        uint64_t ff_applied, ff_received, ff_rejected;
        double ack_rate;
        uint64_t ack_ok, ack_dup, ack_rejected;
        double batches_per_s, events_per_batch;
        double lmdb_commits_per_s;
        long rss_kib;
} Results;

/* For the signal handler: what to kill when the run is cut short. */
static volatile sig_atomic_t g_daemon_pid, g_child_pid;
static char g_dir[64];

/* ---- small helpers ---------------------------------------------------- */

static int64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void) {
        return mono_ns() / 1000000;
}

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static double seconds(int64_t ns) {
        return (double)ns / 1e9;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
        va_list ap;

        fputs("bench-ingest: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void *zsocket(void *zctx, int type, int sndhwm, int rcvhwm) {
        void *s = zmq_socket(zctx, type);
        int linger = 0;

        if (!s)
                return NULL;
        if (zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm)) < 0 ||
            zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)) < 0 ||
            zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0) {
                zmq_close(s);
                return NULL;
        }
        return s;
}

/* Waits up to timeout_ms for the first subscription to reach an XPUB. */
static int wait_subscription(void *xpub, long timeout_ms) {
        int64_t deadline = mono_ms() + timeout_ms;
        char buf[64];

        while (mono_ms() < deadline) {
                zmq_pollitem_t it = {.socket = xpub, .events = ZMQ_POLLIN};
                if (zmq_poll(&it, 1, (long)(deadline - mono_ms())) <= 0)
                        continue;
                if (zmq_recv(xpub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 1 && buf[0] == 1)
                        return 0;
        }
        return -ETIMEDOUT;
}

/* ---- events ----------------------------------------------------------- */

typedef struct {
        uint64_t s;
} Rng;

static uint64_t rng_next(Rng *r) {
        /* xorshift64* */
        r->s ^= r->s >> 12;
        r->s ^= r->s << 25;
        r->s ^= r->s >> 27;
        return r->s * 2685821657736338717ULL;
}

static unsigned rng_below(Rng *r, unsigned n) {
        return (unsigned)((rng_next(r) >> 32) % n);
}

static void pack_cstr(msgpack_packer *pk, const char *s) {
        size_t n = strlen(s);

        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
}

/* Scores lean positive, as real CSAT surveys do. */
static unsigned pick_score(Rng *r) {
        static const unsigned cumulative[5] = {6, 13, 27, 62, 100};
        unsigned x = rng_below(r, 100);

        for (unsigned i = 0; i < 5; i++)
                if (x < cumulative[i])
                        return i + 1;
        return 5;
}

static void pack_feedback(msgpack_packer *pk, Rng *r, const char *tag, size_t i, int64_t ts) {
        static const char *const channels[4] = {"phone", "email", "chat", "web"};
        const char *dims[5] = {"reliability", "assurance", "tangibles", "empathy", "responsiveness"};
        unsigned agent = rng_below(r, N_AGENTS), score = pick_score(r), n_dims = 2 + rng_below(r, 4);
        int nps = (int)(2 * score) - (int)rng_below(r, 3);
        char id[64], team[16], agent_s[16];

        snprintf(id, sizeof(id), "%s-%07zu", tag, i);
        snprintf(team, sizeof(team), "team-%03u", agent % N_TEAMS); /* an agent stays in one team */
        snprintf(agent_s, sizeof(agent_s), "agent-%05u", agent);

        msgpack_pack_map(pk, 8);
        pack_cstr(pk, "id");
        pack_cstr(pk, id);
        pack_cstr(pk, "ts");
        msgpack_pack_int64(pk, ts);
        pack_cstr(pk, "team");
        pack_cstr(pk, team);
        pack_cstr(pk, "agent");
        pack_cstr(pk, agent_s);
        pack_cstr(pk, "channel");
        pack_cstr(pk, channels[rng_below(r, 4)]);
        pack_cstr(pk, "score");
        msgpack_pack_unsigned_int(pk, score);
        pack_cstr(pk, "rater");
        msgpack_pack_map(pk, n_dims);
        for (unsigned d = 0; d < n_dims; d++) {
                /* partial Fisher-Yates: n_dims distinct dimensions */
                unsigned j = d + rng_below(r, 5 - d), v = score + rng_below(r, 3);
                const char *t = dims[d];
                dims[d] = dims[j];
                dims[j] = t;
                v = v < 2 ? 1 : v - 1 > 5 ? 5 : v - 1;
                pack_cstr(pk, dims[d]);
                msgpack_pack_unsigned_int(pk, v);
        }
        pack_cstr(pk, "nps");
        msgpack_pack_unsigned_int(pk, (unsigned)(nps < 0 ? 0 : nps > 10 ? 10 : nps));
}

static int event_set_build(EventSet *set, size_t n, const char *tag, uint64_t seed) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        Rng r = {seed | 1};

        *set = (EventSet){.n = n, .off = malloc((n + 1) * sizeof(size_t))};
        if (!set->off)
                return -ENOMEM;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        for (size_t i = 0; i < n; i++) {
                set->off[i] = sb.size;
                pack_feedback(&pk, &r, tag, i, wall_ms());
        }
        set->off[n] = sb.size;
        set->data = msgpack_sbuffer_release(&sb);
        return set->data || n == 0 ? 0 : -ENOMEM;
}

static void event_set_free(EventSet *set) {
        free(set->data);
        free(set->off);
        *set = (EventSet){0};
}

/* Sends event i as the two frames of the contract: topic, payload. */
static int send_event(void *sock, const EventSet *set, size_t i) {
        if (zmq_send(sock, TOPIC, sizeof(TOPIC) - 1, ZMQ_SNDMORE) < 0 ||
            zmq_send(sock, set->data + set->off[i], set->off[i + 1] - set->off[i], 0) < 0)
                return -errno;
        return 0;
}

/* All N at once; with SNDHWM 0 this never blocks, the queue grows. */
static int send_all(void *sock, const EventSet *set) {
        for (size_t i = 0; i < set->n; i++) {
                int r = send_event(sock, set, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- 1. ceiling: bare PUB -> SUB -------------------------------------- */

typedef struct {
        uint64_t count;
        int64_t first_ns, last_ns;
} SubReport;

/* The forked SUB: binds, tells its endpoint, counts whole messages until N
 * or a stall, reports through the pipe. Never returns. */
static void ceiling_child(int wfd, size_t n) {
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

        zmq_msg_init(&m);
        while (rep.count < n) {
                zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
                uint64_t before = rep.count;

                if (zmq_poll(&it, 1, STALL_MS) <= 0)
                        break;
                while (rep.count < n && zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0)
                        if (!zmq_msg_more(&m))
                                rep.count++;
                if (rep.count > before) {
                        rep.last_ns = mono_ns();
                        if (!before)
                                rep.first_ns = rep.last_ns;
                }
        }
        zmq_msg_close(&m);
        zmq_close(sub);
        zmq_ctx_term(zctx);
        _exit(write(wfd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep) ? 0 : 1);
}

static int read_full(int fd, void *buf, size_t len, long timeout_ms) {
        int64_t deadline = mono_ms() + timeout_ms;
        size_t got = 0;

        while (got < len) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - mono_ms();
                ssize_t k;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int)left) <= 0)
                        continue;
                k = read(fd, (char *)buf + got, len - got);
                if (k == 0)
                        return -EPIPE;
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k > 0)
                        got += (size_t)k;
        }
        return 0;
}

/* Rate = messages the child got / (its last receive - our first send). */
static int run_ceiling(const EventSet *set, Results *res) {
        int fds[2], status, r = -EIO;
        char ep[256];
        SubReport rep;
        void *zctx = NULL, *pub = NULL;
        int64_t t0;
        pid_t pid;

        if (pipe(fds) < 0)
                return -errno;
        /* Fork before this process has a ZeroMQ context (no threads yet). */
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return -errno;
        }
        if (pid == 0) {
                close(fds[0]);
                ceiling_child(fds[1], set->n);
        }
        g_child_pid = pid;
        close(fds[1]);

        if (read_full(fds[0], ep, sizeof(ep), 5000) < 0 || !ep[0]) {
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
        r = read_full(fds[0], &rep, sizeof(rep), PHASE_MS);
        if (r < 0) {
                fail("ceiling: no report from the SUB child: %s", strerror(-r));
                goto out;
        }
        res->ceiling_count = rep.count;
        res->ceiling_rate = rep.count && rep.last_ns > t0 ? (double)rep.count / seconds(rep.last_ns - t0) : 0;
        printf("ceiling: %" PRIu64 "/%zu messages in %.3f s (child: first->last %.3f s)\n", rep.count, set->n,
               seconds(rep.last_ns - t0), seconds(rep.last_ns - rep.first_ns));
        r = rep.count == set->n ? 0 : -EIO;
        if (r < 0)
                fail("ceiling: the SUB child got %" PRIu64 " of %zu messages", rep.count, set->n);
out:
        if (r < 0)
                kill(pid, SIGKILL);
        if (pub)
                zmq_close(pub);
        if (zctx)
                zmq_ctx_term(zctx);
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        g_child_pid = 0;
        return r;
}

/* ---- daemon lifecycle --------------------------------------------------- */

/* Distinct free TCP ports on 127.0.0.1: all held open until all are known. */
static int free_ports(int *ports, int n) {
        int fds[8], r = 0, i;

        for (i = 0; i < n && i < 8; i++) {
                struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                socklen_t alen = sizeof(a);

                fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
                    getsockname(fds[i], (struct sockaddr *)&a, &alen) < 0) {
                        r = -errno;
                        if (fds[i] >= 0)
                                close(fds[i]);
                        break;
                }
                ports[i] = ntohs(a.sin_port);
        }
        while (i-- > 0)
                close(fds[i]);
        return r;
}

static int write_config(Daemon *d) {
        int ports[3], r;
        FILE *f;

        if ((r = free_ports(ports, 3)) < 0)
                return r;
        snprintf(d->sub_ep, sizeof(d->sub_ep), "tcp://127.0.0.1:%d", ports[0]);
        snprintf(d->router_ep, sizeof(d->router_ep), "tcp://127.0.0.1:%d", ports[1]);
        f = fopen(d->config, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "; written by bench-ingest\n"
                "[daemon]\n"
                "control = %s\n"
                "max_storage = %llu\n"
                "[ingest]\n"
                "bind = %s\n"
                "reliable_bind = %s\n"
                "[alerts]\n"
                "bind = tcp://127.0.0.1:%d\n",
                d->control, 8ULL << 30, d->sub_ep, d->router_ep, ports[2]);
        return fclose(f) == 0 ? 0 : -errno;
}

static void print_log_tail(const Daemon *d) {
        char buf[4096];
        FILE *f = fopen(d->log, "re");
        size_t k;

        if (!f)
                return;
        if (fseek(f, -(long)sizeof(buf) + 1, SEEK_END) < 0)
                rewind(f);
        k = fread(buf, 1, sizeof(buf) - 1, f);
        buf[k] = 0;
        fclose(f);
        fprintf(stderr, "---- %s (tail) ----\n%s---- end ----\n", d->log, buf);
}

static int daemon_spawn(Daemon *d, const char *raterd) {
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int in = open("/dev/null", O_RDONLY), out = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                        _exit(127);
                /* Plain stderr logging, no systemd notifications. */
                unsetenv("NOTIFY_SOCKET");
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                unsetenv("JOURNAL_STREAM");
                execl(raterd, raterd, "--config", d->config, "--state-dir", d->state, (char *)NULL);
                fprintf(stderr, "bench-ingest: exec %s: %s\n", raterd, strerror(errno));
                _exit(127);
        }
        d->pid = pid;
        g_daemon_pid = pid;
        return 0;
}

static int daemon_reaped(Daemon *d, int *status) {
        pid_t p = waitpid(d->pid, status, WNOHANG);

        if (p == d->pid) {
                d->pid = 0;
                g_daemon_pid = 0;
                return 1;
        }
        return 0;
}

static uint64_t json_u64(json_object *obj, const char *key) {
        json_object *v;

        return obj && json_object_object_get_ex(obj, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

static int parse_status(const char *text, size_t len, DaemonStatus *st) {
        json_tokener *tok = json_tokener_new();
        json_object *root, *ok, *result, *events;
        int r = -EPROTO;

        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, text, (int)len);
        if (root && json_object_object_get_ex(root, "ok", &ok) && json_object_get_boolean(ok) &&
            json_object_object_get_ex(root, "result", &result) &&
            json_object_object_get_ex(result, "events", &events)) {
                *st = (DaemonStatus){
                        .received = json_u64(events, "received"),
                        .applied = json_u64(events, "applied"),
                        .duplicate = json_u64(events, "duplicate"),
                        .rejected = json_u64(events, "rejected"),
                        .batches = json_u64(result, "batches"),
                };
                r = 0;
        }
        json_object_put(root);
        json_tokener_free(tok);
        return r;
}

/* One {"cmd":"status"} round trip. After a timeout the DEALER is dropped,
 * so a late reply can never be taken for the answer to a later request. */
static int status_query(Daemon *d, DaemonStatus *st, long timeout_ms) {
        static const char req[] = "{\"cmd\":\"status\"}";
        zmq_pollitem_t it;
        zmq_msg_t m;
        int r;

        if (!d->ctl) {
                d->ctl = zsocket(d->zctx, ZMQ_DEALER, 0, 0);
                if (!d->ctl || zmq_connect(d->ctl, d->control) < 0)
                        return -errno;
        }
        if (zmq_send(d->ctl, req, sizeof(req) - 1, ZMQ_DONTWAIT) < 0)
                return -errno;
        it = (zmq_pollitem_t){.socket = d->ctl, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, timeout_ms) <= 0) {
                zmq_close(d->ctl);
                d->ctl = NULL;
                return -ETIMEDOUT;
        }
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->ctl, 0) < 0) {
                zmq_msg_close(&m);
                return -errno;
        }
        r = parse_status(zmq_msg_data(&m), zmq_msg_size(&m), st);
        zmq_msg_close(&m);
        return r;
}

static int daemon_start(Daemon *d, const char *raterd) {
        int64_t deadline;
        DaemonStatus st;
        int status, r;

        snprintf(d->config, sizeof(d->config), "%s/raterd.conf", d->dir);
        snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
        snprintf(d->log, sizeof(d->log), "%s/raterd.log", d->dir);
        snprintf(d->control, sizeof(d->control), "ipc://%s/control", d->dir);
        if ((r = write_config(d)) < 0) {
                fail("writing %s: %s", d->config, strerror(-r));
                return r;
        }
        if ((r = daemon_spawn(d, raterd)) < 0) {
                fail("fork: %s", strerror(-r));
                return r;
        }
        /* Only now a context: the fork above happened without threads. */
        d->zctx = zmq_ctx_new();
        if (!d->zctx)
                return -errno;
        deadline = mono_ms() + READY_MS;
        while (mono_ms() < deadline) {
                if (daemon_reaped(d, &status)) {
                        fail("raterd exited during start-up (status %d)", status);
                        print_log_tail(d);
                        return -ECHILD;
                }
                if (status_query(d, &st, 200) == 0) {
                        printf("raterd: pid %d ready; SUB %s, ROUTER %s, control %s\n", (int)d->pid, d->sub_ep,
                               d->router_ep, d->control);
                        return 0;
                }
                sleep_ms(20);
        }
        fail("raterd did not answer status within %d s", READY_MS / 1000);
        print_log_tail(d);
        return -ETIMEDOUT;
}

/* VmHWM of /proc/PID/status in KiB, or -1. */
static long peak_rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* SIGTERM, then wait (bounded) for a clean exit 0. */
static int daemon_stop(Daemon *d) {
        int64_t deadline = mono_ms() + STOP_MS;
        int status = 0;

        if (d->ctl) {
                zmq_close(d->ctl);
                d->ctl = NULL;
        }
        if (d->zctx) {
                zmq_ctx_term(d->zctx);
                d->zctx = NULL;
        }
        if (!d->pid)
                return -ECHILD;
        kill(d->pid, SIGTERM);
        while (!daemon_reaped(d, &status)) {
                if (mono_ms() > deadline) {
                        fail("raterd did not exit within %d s of SIGTERM; killing it", STOP_MS / 1000);
                        kill(d->pid, SIGKILL);
                        while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        d->pid = 0;
                        g_daemon_pid = 0;
                        return -ETIMEDOUT;
                }
                sleep_ms(10);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status))
                        fail("raterd was killed by signal %d", WTERMSIG(status));
                else
                        fail("raterd exited with status %d after SIGTERM", WEXITSTATUS(status));
                print_log_tail(d);
                return -EIO;
        }
        printf("raterd: exited 0 after SIGTERM\n");
        return 0;
}

/* ---- 2. fire-and-forget ------------------------------------------------- */

static int run_fire_and_forget(Daemon *d, const EventSet *set, Results *res) {
        void *pub = zsocket(d->zctx, ZMQ_XPUB, 0, 0);
        DaemonStatus base = {0}, st = {0};
        uint64_t done = 0, last_done = 0;
        int64_t t0, t_sent, t_progress, deadline;
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
        if ((r = status_query(d, &base, STATUS_TIMEOUT_MS)) < 0) {
                fail("fire-and-forget: status: %s", strerror(-r));
                goto out;
        }
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
                if (status_query(d, &st, STATUS_TIMEOUT_MS) < 0)
                        continue;
                done = (st.applied - base.applied) + (st.duplicate - base.duplicate) + (st.rejected - base.rejected);
                if (done > last_done) {
                        last_done = done;
                        t_progress = mono_ns();
                }
        }
        res->ff_applied = st.applied - base.applied;
        res->ff_received = st.received - base.received;
        res->ff_rejected = st.rejected - base.rejected;
        res->ff_send_s = seconds(t_sent - t0);
        res->ff_rate = t_progress > t0 ? (double)res->ff_applied / seconds(t_progress - t0) : 0;
        printf("fire-and-forget: sent %zu in %.3f s; received %" PRIu64 ", applied %" PRIu64 ", rejected %" PRIu64
               " after %.3f s\n",
               set->n, res->ff_send_s, res->ff_received, res->ff_applied, res->ff_rejected, seconds(t_progress - t0));
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
        if ((r = status_query(d, &before, STATUS_TIMEOUT_MS)) < 0) {
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
                        if ((r = send_event(dealer, set, sent)) < 0)
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
        if (status_query(d, &after, STATUS_TIMEOUT_MS) < 0) {
                fail("acknowledged: status after the run failed");
                return -EIO;
        }

        res->ack_ok = counts[0];
        res->ack_dup = counts[1];
        res->ack_rejected = counts[2] + bad;
        res->ack_rate = (double)acked / seconds(t_ack - t0);
        res->batches_per_s = (double)(after.batches - before.batches) / seconds(t_ack - t0);
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

/* ---- run, report, clean up ------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
        if (remove(path) < 0)
                fprintf(stderr, "bench-ingest: remove %s: %s\n", path, strerror(errno));
        return 0;
}

static void on_fatal_signal(int sig) {
        static const char msg[] = "bench-ingest: hard timeout or signal: killing raterd; temp dir left: ";

        if (g_daemon_pid > 0)
                kill((pid_t)g_daemon_pid, SIGKILL);
        if (g_child_pid > 0)
                kill((pid_t)g_child_pid, SIGKILL);
        (void)!write(2, msg, sizeof(msg) - 1);
        (void)!write(2, g_dir, strlen(g_dir));
        (void)!write(2, "\n", 1);
        _exit(sig == SIGALRM ? 124 : 128 + sig);
}

static void print_summary(const Options *o, const Results *r) {
        double bound = r->lmdb_commits_per_s * r->events_per_batch;

        printf("\n== bench-ingest summary: N %zu, window %zu ==\n", o->n, o->window);
        printf("ceiling  zmq pub->sub     %9.0f msg/s\n", r->ceiling_rate);
        printf("raterd   fire-and-forget  %9.0f ev/s  (%.2fx ceiling)  lost %" PRIu64 "\n", r->ff_rate,
               r->ceiling_rate > 0 ? r->ff_rate / r->ceiling_rate : 0, (uint64_t)o->n - r->ff_applied);
        printf("raterd   acknowledged     %9.0f ev/s  batches %.0f/s, %.0f ev/batch; lmdb durable commits %.0f/s\n",
               r->ack_rate, r->batches_per_s, r->events_per_batch, r->lmdb_commits_per_s);
        printf("         acked bound      %9.0f ev/s  (lmdb commits/s x ev/batch); acked reaches %.2fx of it: %s\n",
               bound, bound > 0 ? r->ack_rate / bound : 0,
               bound > 0 && r->ack_rate < 0.5 * bound ? "limited by the daemon, not by fsync"
                                                      : "limited by durable commits");
        if (r->rss_kib >= 0)
                printf("raterd   peak RSS         %9.1f MiB\n", (double)r->rss_kib / 1024.0);
        else
                printf("raterd   peak RSS         unknown\n");
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-ingest [--raterd PATH] [-n N] [--window W] [--keep] [--timeout S]\n"
                "Measures raterd's ingest throughput against ZeroMQ and LMDB ceilings.\n\n"
                "  --raterd PATH   daemon binary (default " DEFAULT_RATERD ", else next to this build)\n"
                "  -n N            events per phase (default %d)\n"
                "  --window W      unacknowledged events in flight on the acked path (default %d)\n"
                "  --keep          keep the temp dir (config, log, LMDB files)\n"
                "  --timeout S     hard limit for the whole run (default %d s)\n",
                DEFAULT_N, DEFAULT_WINDOW, DEFAULT_TIMEOUT_S);
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
        enum { ARG_RATERD = 0x100, ARG_WINDOW, ARG_KEEP, ARG_TIMEOUT };
        static const struct option options[] = {
                {"raterd", required_argument, NULL, ARG_RATERD}, {"window", required_argument, NULL, ARG_WINDOW},
                {"keep", no_argument, NULL, ARG_KEEP},           {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
        };
        size_t t;
        int c;

        *o = (Options){.raterd = DEFAULT_RATERD, .n = DEFAULT_N, .window = DEFAULT_WINDOW,
                       .timeout_s = DEFAULT_TIMEOUT_S};
        while ((c = getopt_long(argc, argv, "n:h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_RATERD:
                        o->raterd = optarg;
                        o->raterd_given = true;
                        break;
                case 'n':
                        if (parse_size(optarg, 1, MAX_N, &o->n) < 0) {
                                fail("-n must be between 1 and %d", MAX_N);
                                return -1;
                        }
                        break;
                case ARG_WINDOW:
                        if (parse_size(optarg, 1, MAX_N, &o->window) < 0) {
                                fail("--window must be between 1 and %d", MAX_N);
                                return -1;
                        }
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

/* The default path is relative to the source tree; when it is not there,
 * use the raterd of the build tree this benchmark belongs to. */
static const char *resolve_raterd(const Options *o, char *buf, size_t len) {
        char self[PATH_MAX];
        ssize_t k;
        char *slash;

        if (o->raterd_given || access(o->raterd, X_OK) == 0)
                return o->raterd;
        k = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (k <= 0)
                return o->raterd;
        self[k] = 0;
        slash = strrchr(self, '/');
        if (!slash)
                return o->raterd;
        *slash = 0;
        snprintf(buf, len, "%s/../daemon/raterd", self);
        return access(buf, X_OK) == 0 ? buf : o->raterd;
}

static int run(const Options *o, const char *raterd, Daemon *d, Results *res) {
        EventSet ff = {0}, acked = {0};
        char tag[32], probe[96];
        unsigned run_id = (unsigned)getpid() ^ (unsigned)wall_ms();
        int r, r_stop;

        /* 1. every payload in memory before any timing */
        snprintf(tag, sizeof(tag), "fb-%08x-f", run_id);
        if ((r = event_set_build(&ff, o->n, tag, 0x9e3779b97f4a7c15ULL ^ run_id)) < 0)
                goto out;
        snprintf(tag, sizeof(tag), "fb-%08x-a", run_id);
        if ((r = event_set_build(&acked, o->n, tag, 0xd1b54a32d192ed03ULL ^ run_id)) < 0)
                goto out;
        printf("events: 2 x %zu feedback payloads, mean %.0f bytes\n", o->n, (double)ff.off[ff.n] / (double)ff.n);

        /* 2. transport ceiling */
        if ((r = run_ceiling(&ff, res)) < 0)
                goto out;

        /* 3.-5. the daemon */
        if ((r = daemon_start(d, raterd)) < 0)
                goto out;
        r = run_fire_and_forget(d, &ff, res);
        if (r == 0)
                r = run_acknowledged(d, &acked, o->window, res);
        /* 7. peak RSS, then a clean stop */
        res->rss_kib = d->pid ? peak_rss_kib(d->pid) : -1;
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
        return r;
}

int main(int argc, char **argv) {
        Options o;
        Daemon d = {0};
        Results res = {.rss_kib = -1};
        char raterd_buf[PATH_MAX + 32];
        const char *raterd;
        struct sigaction sa = {.sa_handler = on_fatal_signal};
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines survive a hard timeout */
        r = parse_args(argc, argv, &o);
        if (r)
                return r > 0 ? EXIT_SUCCESS : 2;
        raterd = resolve_raterd(&o, raterd_buf, sizeof(raterd_buf));
        if (access(raterd, X_OK) < 0) {
                fail("%s: %s (build raterd first or pass --raterd PATH)", raterd, strerror(errno));
                return EXIT_FAILURE;
        }

        snprintf(d.dir, sizeof(d.dir), "/tmp/bench-ingest.XXXXXX");
        if (!mkdtemp(d.dir)) {
                fail("mkdtemp: %s", strerror(errno));
                return EXIT_FAILURE;
        }
        memcpy(g_dir, d.dir, sizeof(g_dir));
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        alarm(o.timeout_s);

        printf("bench-ingest: raterd %s, N %zu, window %zu, temp dir %s\n", raterd, o.n, o.window, d.dir);
        r = run(&o, raterd, &d, &res);
        if (d.pid) { /* a phase failed with the daemon still up */
                kill(d.pid, SIGKILL);
                waitpid(d.pid, NULL, 0);
                g_daemon_pid = 0;
        }
        if (d.ctl)
                zmq_close(d.ctl);
        if (d.zctx)
                zmq_ctx_term(d.zctx);
        alarm(0);

        if (r == 0)
                print_summary(&o, &res);
        if (o.keep || r < 0)
                printf("temp dir kept: %s\n", d.dir);
        else
                nftw(d.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
