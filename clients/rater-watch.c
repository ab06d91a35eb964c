/* clients/rater-watch.c: the alert subscriber. Subscribes to raterd's alert
 * PUB socket (CONTRACT.md section 4: topic `alert.<severity>.<rule>`, then a
 * msgpack map), keeps the alerts that pass --severity/--rule, and for each
 * prints a readable line or a JSON line (--json) and/or runs a command with
 * the alert in its environment (--exec).
 *
 * Commands never hold up the subscription: they are spawned and reaped from
 * the one poll loop (SIGCHLD through a signalfd), at most MAX_CHILDREN at a
 * time; further alerts wait in a bounded queue and are dropped, counted,
 * beyond it. Each command is its own process group, so that stopping it at
 * exit reaches whatever the shell started. A malformed message is a
 * rate-limited warning, never an exit.
 *
 * Exit codes: 0 normal (also after SIGINT/SIGTERM), 1 runtime failure,
 * 2 usage error.
 *
 * This file has the options and the one loop; watch/alert.c reads and
 * formats alerts, watch/runner.c runs the --exec commands.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#include "clients/cleanup.h"
#include "daemon/util/error.h"
#include "proto/duration.h"
#include "watch/alert.h"
#include "watch/runner.h"
#include "watch/warn.h"

#define DEFAULT_ALERTS "tcp://127.0.0.1:7402"
#define SHUTDOWN_WAIT_MS 2000
#define MAX_PAYLOAD 65536 /* alerts are a few hundred bytes; bounds the command queue */
#define RECV_BURST 256    /* messages per poll round, so signals are seen */

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

enum {
        EXIT_OK = 0,
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
};

typedef struct {
        const char *endpoint;
        bool severity[N_SEVERITIES]; /* wanted severities, when by_severity */
        bool by_severity;
        const char **rules; /* array owned, strings point into argv */
        size_t n_rules;
        bool json;
        bool quiet; /* --exec without --json: no output */
        const char *exec;
} Options;

/* The subscriptions are prefixes: `alert.warning.csat` also delivers rule
 * `csat-drop`, so every received topic is matched exactly here. */
static bool topic_wanted(const Options *o, const Topic *t) {
        bool ok = !o->by_severity;

        for (size_t i = 0; i < N_SEVERITIES && !ok; i++)
                ok = o->severity[i] && strcmp(t->severity, severities[i]) == 0;
        if (!ok || o->n_rules == 0)
                return ok;
        for (size_t i = 0; i < o->n_rules; i++)
                if (strcmp(t->rule, o->rules[i]) == 0)
                        return true;
        return false;
}

/* ---- the watch --------------------------------------------------------- */

typedef struct {
        Options opt;
        void *ctx, *sub;
        int sfd;
        Runner runner;
        RateLimit bad_rl, oom_rl;
        uint64_t malformed;
        bool stopping;
        int64_t stop_deadline;
} Watch;

/* Shows at most 64 bytes of a topic from the wire, unprintables as '?'. */
static void topic_display(const void *data, size_t size, char *buf, size_t bufsize) {
        const unsigned char *p = data;
        size_t n = 0;

        for (size_t i = 0; i < size && i < 64 && n + 4 < bufsize; i++)
                buf[n++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
        if (size > 64 && n + 4 < bufsize)
                n += (size_t)snprintf(buf + n, bufsize - n, "...");
        buf[n] = '\0';
}

static void warn_malformed(Watch *w, const void *topic, size_t topic_size, int why) {
        char shown[80];

        w->malformed++;
        topic_display(topic, topic_size, shown, sizeof(shown));
        warn_limited(&w->bad_rl, "ignored a message on topic '%s': %s (%" PRIu64 " ignored so far)", shown,
                     alert_error(why), w->malformed);
}

/* Prints one alert (unless quiet) and flushes: stdout may be a pipe.
 * Returns 0 or a negative errno when the output cannot be written (then
 * reported). */
static int output(const Watch *w, json_object *a, const Topic *t) {
        char line[LINE_MAX_];

        if (w->opt.quiet)
                return 0;
        if (w->opt.json)
                fputs(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                      stdout);
        else {
                format_line(a, t, line, sizeof(line));
                fputs(line, stdout);
        }
        fputc('\n', stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                int r = errno > 0 ? -errno : -EIO;

                fprintf(stderr, "rater-watch: cannot write the output: %s\n", strerror(-r));
                return r;
        }
        return 0;
}

/* One received message: the topic is parsed and matched exactly before the
 * payload is decoded. Returns 0 (also for anything skipped) or a negative
 * errno when rater-watch cannot go on. */
static int handle_message(Watch *w, const void *topic, size_t topic_size, const void *payload, size_t payload_size) {
        _cleanup_(json_object_putp) json_object *a = NULL;
        Topic t;
        int r;

        r = topic_parse(topic, topic_size, &t);
        if (r > 0) {
                warn_malformed(w, topic, topic_size, r);
                return 0;
        }
        if (!topic_wanted(&w->opt, &t))
                return 0;
        r = payload_size > MAX_PAYLOAD ? ALERT_E_TOO_LARGE : alert_decode(payload, payload_size, &a);
        if (r > 0) {
                warn_malformed(w, topic, topic_size, r);
                return 0;
        }
        if (r == 0)
                r = output(w, a, &t);
        if (r == 0 && w->opt.exec)
                r = runner_submit(&w->runner, a, &t);
        if (r == -ENOMEM) {
                warn_limited(&w->oom_rl, "out of memory: an alert of rule %s is lost", t.rule);
                return 0;
        }
        return r;
}

/* Receives one whole message without waiting: its first two frames into
 * topic and payload, the number of frames into *n. ZeroMQ delivers all the
 * frames of a message or none. Returns 0, -EAGAIN when nothing is waiting,
 * or another negative errno. */
static int recv_message(void *sub, zmq_msg_t *topic, zmq_msg_t *payload, size_t *n) {
        bool more;

        *n = 0;
        do {
                zmq_msg_t part;

                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, sub, ZMQ_DONTWAIT) < 0) {
                        int r = zmq_err();

                        zmq_msg_close(&part);
                        return r;
                }
                more = zmq_msg_more(&part);
                if (*n < 2)
                        zmq_msg_move(*n == 0 ? topic : payload, &part);
                zmq_msg_close(&part);
                (*n)++;
        } while (more);
        return 0;
}

/* Receives and handles up to RECV_BURST messages, so that a flood cannot
 * keep the signalfd waiting. Returns 0 or a negative errno. */
static int receive(Watch *w) {
        for (int k = 0; k < RECV_BURST; k++) {
                zmq_msg_t topic, payload;
                size_t n;
                int r;

                zmq_msg_init(&topic);
                zmq_msg_init(&payload);
                r = recv_message(w->sub, &topic, &payload, &n);
                if (r == 0 && n != 2)
                        warn_malformed(w, zmq_msg_data(&topic), zmq_msg_size(&topic), ALERT_E_FRAMES);
                else if (r == 0)
                        r = handle_message(w, zmq_msg_data(&topic), zmq_msg_size(&topic), zmq_msg_data(&payload),
                                           zmq_msg_size(&payload));
                zmq_msg_close(&topic);
                zmq_msg_close(&payload);
                if (r == -EAGAIN || r == -EINTR)
                        return 0;
                if (r == -ENOTSOCK || r == -ETERM || r == -EFAULT) {
                        fprintf(stderr, "rater-watch: receive: %s\n", zmq_strerror(-r));
                        return r;
                }
                if (r < 0)
                        return r; /* output failed, reported */
        }
        return 0;
}

/* Queued commands are dropped; running ones get SHUTDOWN_WAIT_MS. */
static void begin_stop(Watch *w) {
        Runner *rn = &w->runner;

        if (rn->n_queued > 0)
                fprintf(stderr, "rater-watch: stopping: %zu queued command%s not run\n", rn->n_queued,
                        rn->n_queued == 1 ? "" : "s");
        for (; rn->n_queued > 0; rn->n_queued--) {
                Pending *p = &rn->queue[rn->head];

                json_object_put(p->fields);
                free(p->topic);
                *p = (Pending){0};
                rn->head = (rn->head + 1) % QUEUE_MAX;
        }
        w->stopping = true;
        w->stop_deadline = mono_ms() + SHUTDOWN_WAIT_MS;
}

/* Returns 1 when it is time to leave at once (a second SIGINT/SIGTERM). */
static int handle_signals(Watch *w) {
        struct signalfd_siginfo si;
        bool again = false;

        while (read(w->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGCHLD)
                        continue;
                if (w->stopping)
                        again = true;
                else
                        begin_stop(w);
        }
        runner_reap(&w->runner); /* SIGCHLDs coalesce: always reap everything */
        return again;
}


/* The one loop: the signalfd and the SUB socket, until SIGINT or SIGTERM and
 * the running commands are done (or SHUTDOWN_WAIT_MS passed). Returns 0 or
 * a negative errno (reported). */
static int watch_run(Watch *w) {
        for (;;) {
                zmq_pollitem_t items[2] = {
                        {.fd = w->sfd, .events = ZMQ_POLLIN},
                        {.socket = w->sub, .events = ZMQ_POLLIN},
                };
                long timeout = -1;
                int r;

                if (w->stopping) {
                        int64_t left = w->stop_deadline - mono_ms();

                        if (w->runner.n_running == 0)
                                return 0;
                        if (left <= 0) {
                                runner_terminate(&w->runner);
                                return 0;
                        }
                        timeout = (long)left;
                }
                if (zmq_poll(items, w->stopping ? 1 : 2, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = zmq_err();
                        fprintf(stderr, "rater-watch: poll: %s\n", zmq_strerror(-r));
                        return r;
                }
                if ((items[0].revents & ZMQ_POLLIN) && handle_signals(w)) {
                        runner_terminate(&w->runner);
                        return 0;
                }
                if (!w->stopping && (items[1].revents & ZMQ_POLLIN)) {
                        r = receive(w);
                        if (r < 0)
                                return r;
                }
                if (!w->stopping)
                        runner_pump(&w->runner);
        }
}

/* ---- setup ------------------------------------------------------------- */

static int subscribe(void *sub, const char *prefix) {
        return zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) < 0 ? zmq_err() : 0;
}

/* One prefix per wanted (severity, rule): `alert.<severity>.<rule>`, or
 * `alert.<severity>.` without --rule, or `alert.` without either. */
static int subscribe_all(void *sub, const Options *o) {
        char prefix[MAX_TOPIC];
        int r;

        if (!o->by_severity && o->n_rules == 0)
                return subscribe(sub, "alert.");
        for (size_t i = 0; i < N_SEVERITIES; i++) {
                if (o->by_severity && !o->severity[i])
                        continue;
                if (o->n_rules == 0) {
                        snprintf(prefix, sizeof(prefix), "alert.%s.", severities[i]);
                        if ((r = subscribe(sub, prefix)) < 0)
                                return r;
                }
                for (size_t k = 0; k < o->n_rules; k++) {
                        snprintf(prefix, sizeof(prefix), "alert.%s.%s", severities[i], o->rules[k]);
                        if ((r = subscribe(sub, prefix)) < 0)
                                return r;
                }
        }
        return 0;
}

/* SIGINT, SIGTERM and SIGCHLD are blocked before ZeroMQ starts its threads
 * (they inherit the mask), so all three arrive only through the signalfd.
 * SIGCHLD is set to its default: an inherited SIG_IGN would make the kernel
 * reap the commands without telling us. */
static int setup_signals(Watch *w) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGCHLD);
        if (sigaction(SIGCHLD, &dfl, NULL) < 0 || sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        w->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        return w->sfd < 0 ? -errno : 0;
}

/* No ZMQ_MAXMSGSIZE: libzmq treats a larger message as a protocol error and
 * drops the connection for good, without reconnecting. The one peer is
 * raterd's PUB socket; MAX_PAYLOAD is checked per message instead. */
static int setup(Watch *w) {
        int zero = 0, r;

        r = setup_signals(w);
        if (r < 0) {
                fprintf(stderr, "rater-watch: cannot set up signals: %s\n", strerror(-r));
                return r;
        }
        if (w->opt.exec) {
                r = runner_init(&w->runner, w->opt.exec);
                if (r < 0) {
                        fprintf(stderr, "rater-watch: cannot prepare --exec: %s\n", strerror(-r));
                        return r;
                }
        }
        w->ctx = zmq_ctx_new();
        if (!w->ctx || !(w->sub = zmq_socket(w->ctx, ZMQ_SUB)) ||
            zmq_setsockopt(w->sub, ZMQ_LINGER, &zero, sizeof(zero)) < 0 || (r = subscribe_all(w->sub, &w->opt)) < 0) {
                r = zmq_err();
                fprintf(stderr, "rater-watch: cannot create a ZeroMQ socket: %s\n", zmq_strerror(-r));
                return r;
        }
        if (zmq_connect(w->sub, w->opt.endpoint) < 0) {
                r = zmq_err();
                fprintf(stderr, "rater-watch: cannot connect to '%s': %s\n", w->opt.endpoint, zmq_strerror(-r));
                return r;
        }
        return 0;
}

static void teardown(Watch *w) {
        if (w->sub)
                zmq_close(w->sub);
        if (w->ctx)
                zmq_ctx_term(w->ctx);
        if (w->opt.exec)
                runner_deinit(&w->runner);
        if (w->sfd >= 0)
                close(w->sfd);
        free(w->opt.rules);
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f) {
        fputs("Usage: rater-watch [-e ENDPOINT] [--severity S] [--rule R] [--json] [--exec CMD]\n"
              "\n"
              "Subscribes to raterd's alert stream and prints one line per alert, or one\n"
              "JSON object per line with --json, and/or runs a command per alert.\n"
              "\n"
              "  -e, --endpoint ENDPOINT  alert PUB socket (default $RATERD_ALERTS, else\n"
              "                           " DEFAULT_ALERTS ")\n"
              "  -s, --severity S         only alerts of severity S or higher, with\n"
              "                           info < warning < critical\n"
              "  -r, --rule R             only alerts of rule R (exact name); may be repeated\n"
              "  -j, --json               print each alert as one JSON object with every field\n"
              "  -x, --exec CMD           run /bin/sh -c CMD for each alert; without --json\n"
              "                           nothing is printed\n"
              "  -h, --help               show this help\n"
              "      --version            show the version\n"
              "\n"
              "CMD gets each field of the alert as RATER_<KEY> (RATER_RULE, RATER_SCOPE,\n"
              "RATER_STATE, RATER_SEVERITY, RATER_VALUE, RATER_TICKET, ...; a null field is\n"
              "empty, an absent one unset, even if rater-watch inherited it), the whole\n"
              "alert as RATER_JSON and its topic as RATER_TOPIC, /dev/null as standard input,\n"
              "and rater-watch's output. At most " STRINGIFY(MAX_CHILDREN) " commands run at once; up to "
              STRINGIFY(QUEUE_MAX) " more\n"
              "alerts wait, and beyond that alerts are dropped with a warning. Commands\n"
              "never delay the reception of alerts.\n"
              "\n"
              "Malformed messages and payloads over 64 KiB are skipped with a warning\n"
              "(at most one a second).\n"
              "SIGINT or SIGTERM: queued commands are dropped, running ones get 2 seconds,\n"
              "then SIGTERM to their process group; a second signal ends this at once.\n"
              "Exit status: 0 stopped by SIGINT or SIGTERM, 1 runtime failure (socket,\n"
              "endpoint, output), 2 usage error.\n",
              f);
}

static int usage_error(const char *fmt, const char *arg) {
        fputs("rater-watch: ", stderr);
        fprintf(stderr, fmt, arg);
        fputs("\n\n", stderr);
        usage(stderr);
        return -EINVAL;
}

/* As raterd's configuration accepts them: letters, digits, '-', '_', 1-64. */
static bool valid_rule_name(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '-' || *s == '_'))
                        return false;
        return true;
}

/* Returns 1 to run, 0 after --help or --version, -EINVAL on a usage error
 * (reported), -ENOMEM. */
static int parse_argv(int argc, char **argv, Options *o) {
        enum { OPT_VERSION = 0x100 };
        static const struct option opts[] = {
                {"endpoint", required_argument, NULL, 'e'},
                {"severity", required_argument, NULL, 's'},
                {"rule", required_argument, NULL, 'r'},
                {"json", no_argument, NULL, 'j'},
                {"exec", required_argument, NULL, 'x'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {NULL, 0, NULL, 0},
        };
        int c;

        o->rules = calloc((size_t)argc, sizeof(char *));
        if (!o->rules)
                return -ENOMEM;
        while ((c = getopt_long(argc, argv, "e:s:r:jx:h", opts, NULL)) >= 0) {
                size_t i;

                switch (c) {
                case 'e':
                        if (!*optarg)
                                return usage_error("%s", "empty endpoint");
                        o->endpoint = optarg;
                        break;
                case 's':
                        for (i = 0; i < N_SEVERITIES && strcmp(optarg, severities[i]) != 0; i++)
                                ;
                        if (i == N_SEVERITIES)
                                return usage_error("invalid severity '%s' (expected info, warning or critical)",
                                                   optarg);
                        o->by_severity = true;
                        for (size_t k = 0; k < N_SEVERITIES; k++)
                                o->severity[k] = k >= i;
                        break;
                case 'r':
                        if (!valid_rule_name(optarg))
                                return usage_error("invalid rule name '%s' (letters, digits, '-' and '_', at most 64)",
                                                   optarg);
                        o->rules[o->n_rules++] = optarg;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'x':
                        if (!*optarg)
                                return usage_error("%s", "empty --exec command");
                        o->exec = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        puts("rater-watch " RATERD_VERSION);
                        return 0;
                default: /* getopt_long said what is wrong */
                        fputc('\n', stderr);
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (!o->endpoint) {
                o->endpoint = getenv("RATERD_ALERTS");
                if (!o->endpoint || !*o->endpoint)
                        o->endpoint = DEFAULT_ALERTS;
        }
        o->quiet = o->exec && !o->json;
        return 1;
}

int main(int argc, char **argv) {
        Watch w = {.sfd = -1};
        int r;

        r = parse_argv(argc, argv, &w.opt);
        if (r <= 0) {
                free(w.opt.rules);
                if (r == -ENOMEM)
                        fputs("rater-watch: out of memory\n", stderr);
                return r == 0 ? EXIT_OK : r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
        }
        r = setup(&w);
        if (r == 0)
                r = watch_run(&w);
        if (w.malformed > 0)
                fprintf(stderr, "rater-watch: %" PRIu64 " malformed message%s ignored\n", w.malformed,
                        w.malformed == 1 ? "" : "s");
        if (w.runner.dropped > 0)
                fprintf(stderr, "rater-watch: %" PRIu64 " alert%s dropped from the command queue\n",
                        w.runner.dropped, w.runner.dropped == 1 ? "" : "s");
        teardown(&w);
        return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
