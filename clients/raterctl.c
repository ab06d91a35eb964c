/* clients/raterctl.c: the operator's command line. Turns one command into one
 * JSON request on raterd's control socket (proto/PROTOCOL.md), waits for the
 * answer and prints its result as a table or, with --json, verbatim.
 *
 * Exit codes (CONTRACT.md section 6): 0 ok, 1 the daemon answered with an
 * error, 2 usage error, 3 daemon unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "clients/cleanup.h"
#include "daemon/util/error.h"
#include "proto/duration.h"

#define DEFAULT_CONTROL "ipc:///run/raterd/control"

enum {
        EXIT_OK = 0,
        EXIT_DAEMON = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

typedef struct {
        const char *endpoint;
        bool json;
        int timeout_s;
} Options;

static void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

static void usage(FILE *f) {
        fputs("Usage: raterctl [-e ENDPOINT] [--json] [-t TIMEOUT_SECONDS] COMMAND ...\n"
              "\n"
              "Commands:\n"
              "  status                                  daemon version, counters, storage\n"
              "  get --scope S [--window W] [INDEX...]   index values of one scope\n"
              "  top INDEX --by team|agent|channel [--window W] [--worst|--best]\n"
              "      [-n N] [--min-samples K]            scopes ranked by an index\n"
              "  alerts [--history] [--since W]          firing alerts, or their history\n"
              "  silence add RULE [--scope S] --for W [--comment C]\n"
              "  silence list | silence rm ID\n"
              "  rules                                   the loaded alert rules\n"
              "  reload                                  reload the rules from the configuration\n"
              "\n"
              "Options:\n"
              "  -e, --endpoint ENDPOINT  control socket (default $RATERD_CONTROL, else " DEFAULT_CONTROL ")\n"
              "  -j, --json               print the daemon's result as JSON\n"
              "  -t, --timeout SECONDS    wait at most this long for an answer (default 5)\n"
              "  -h, --help               show this help\n"
              "      --version            show the version\n"
              "\n"
              "Windows are durations: 500ms, 30s, 15m, 1h, 24h, 7d (default 1h).\n"
              "Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
              "3 daemon unreachable.\n",
              f);
}

static int usage_error(const char *fmt, const char *arg) {
        fputs("raterctl: ", stderr);
        fprintf(stderr, fmt, arg);
        fputs("\n\n", stderr);
        usage(stderr);
        return -EINVAL;
}

/* Digits only: no sign, no space, no base prefix, no overflow. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out) {
        uint64_t n = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (n > (max - (uint64_t)(*p - '0')) / 10)
                        return -ERANGE;
                n = n * 10 + (uint64_t)(*p - '0');
        }
        *out = n;
        return 0;
}

static int add_str(json_object *obj, const char *key, const char *val) {
        json_object *v = json_object_new_string(val);

        if (!v || json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_window(json_object *obj, const char *key, const char *w) {
        int64_t ms;

        if (duration_parse(w, &ms) < 0 || ms <= 0)
                return usage_error("invalid window '%s' (expected e.g. 5m, 1h, 24h, 7d)", w);
        return add_str(obj, key, w);
}

/* Global options are also accepted after the command (`raterctl get --json
 * ...`); they share these codes in every command's option table. */
enum {
        OPT_VERSION = 0x100,
        OPT_WORST,
        OPT_BEST,
        OPT_MIN_SAMPLES,
        OPT_HISTORY,
        OPT_SINCE,
        OPT_FOR,
        OPT_COMMENT,
};

#define COMMON_SHORT "e:jt:h"
#define COMMON_LONG                                                                                                    \
        {"endpoint", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},                                  \
                {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},                           \
                {"version", no_argument, NULL, OPT_VERSION}

/* Returns 1 when c was a common option and is handled, 0 when it is not
 * one, -EINVAL on a usage error. --help and --version exit at once. */
static int common_option(int c, Options *o) {
        uint64_t n;

        switch (c) {
        case 'e':
                o->endpoint = optarg;
                return 1;
        case 'j':
                o->json = true;
                return 1;
        case 't':
                if (parse_uint(optarg, 86400, &n) < 0 || n == 0)
                        return usage_error("invalid timeout '%s' (expected whole seconds, 1 to 86400)", optarg);
                o->timeout_s = (int)n;
                return 1;
        case 'h':
                usage(stdout);
                exit(EXIT_OK);
        case OPT_VERSION:
                puts("raterctl " RATERD_VERSION);
                exit(EXIT_OK);
        case '?': /* getopt_long said what is wrong */
                fputc('\n', stderr);
                usage(stderr);
                return -EINVAL;
        default:
                return 0;
        }
}

/* Parses the common options; on success the positional arguments are
 * argv[optind..argc-1] (getopt_long moves them there). */
static int parse_common(int argc, char **argv, Options *o) {
        static const struct option opts[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORT, opts, NULL)) >= 0) {
                r = common_option(c, o);
                if (r <= 0)
                        return r < 0 ? r : usage_error("%s", "invalid arguments");
        }
        return 0;
}

static int parse_none(int argc, char **argv, Options *o, json_object *req) {
        int r = parse_common(argc, argv, o);

        if (r < 0)
                return r;
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        return 0;
}

static int parse_get(int argc, char **argv, Options *o, json_object *req) {
        static const struct option opts[] = {
                COMMON_LONG, {"scope", required_argument, NULL, 's'}, {"window", required_argument, NULL, 'w'}, {NULL, 0, NULL, 0}};
        const char *scope = NULL, *window = NULL;
        json_object *list;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORT "s:w:", opts, NULL)) >= 0) {
                if (c == 's')
                        scope = optarg;
                else if (c == 'w' && window)
                        return usage_error("%s", "give several windows as one comma-separated --window (5m,1h,24h)");
                else if (c == 'w')
                        window = optarg;
                else if ((r = common_option(c, o)) <= 0)
                        return r < 0 ? r : usage_error("%s", "invalid arguments");
        }
        if (!scope)
                return usage_error("%s", "get needs --scope (all, team:NAME, agent:NAME or channel:NAME)");
        if ((r = add_str(req, "scope", scope)) < 0)
                return r;
        if (window && strchr(window, ',')) {
                /* Several windows: one request each (see get_windows). */
                _cleanup_(freep) char *copy = strdup(window);
                json_object *windows = json_object_new_array();
                char *save = NULL;
                if (!copy || !windows || json_object_object_add(req, "windows", windows) < 0) {
                        json_object_put(windows);
                        return -ENOMEM;
                }
                for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                        int64_t ms;
                        if (duration_parse(w, &ms) < 0 || ms <= 0)
                                return usage_error("invalid window '%s' (expected e.g. 5m, 1h, 24h, 7d)", w);
                        if (json_object_array_add(windows, json_object_new_string(w)) < 0)
                                return -ENOMEM;
                }
        } else if ((r = add_window(req, "window", window ? window : "1h")) < 0) {
                return r;
        }
        if (optind == argc)
                return 0; /* no names: every index */

        list = json_object_new_array();
        if (!list || json_object_object_add(req, "indices", list) < 0) {
                json_object_put(list);
                return -ENOMEM;
        }
        for (int i = optind; i < argc; i++) {
                json_object *s = json_object_new_string(argv[i]);
                if (!s || json_object_array_add(list, s) < 0) {
                        json_object_put(s);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int parse_top(int argc, char **argv, Options *o, json_object *req) {
        static const struct option opts[] = {
                COMMON_LONG,
                {"by", required_argument, NULL, 'b'},
                {"window", required_argument, NULL, 'w'},
                {"worst", no_argument, NULL, OPT_WORST},
                {"best", no_argument, NULL, OPT_BEST},
                {"limit", required_argument, NULL, 'n'},
                {"min-samples", required_argument, NULL, OPT_MIN_SAMPLES},
                {NULL, 0, NULL, 0},
        };
        const char *by = NULL, *window = NULL, *order = NULL;
        uint64_t n = 10, min_samples = 1;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORT "b:w:n:", opts, NULL)) >= 0) {
                switch (c) {
                case 'b':
                        by = optarg;
                        break;
                case 'w':
                        if (window)
                                return usage_error("%s", "top takes one --window");
                        window = optarg;
                        break;
                case OPT_WORST:
                case OPT_BEST:
                        if (order && strcmp(order, c == OPT_WORST ? "worst" : "best") != 0)
                                return usage_error("%s", "--worst and --best exclude each other");
                        order = c == OPT_WORST ? "worst" : "best";
                        break;
                case 'n':
                        if (parse_uint(optarg, 1000000, &n) < 0 || n == 0)
                                return usage_error("invalid -n '%s' (expected a count, 1 to 1000000)", optarg);
                        break;
                case OPT_MIN_SAMPLES:
                        if (parse_uint(optarg, INT64_MAX, &min_samples) < 0)
                                return usage_error("invalid --min-samples '%s' (expected a count)", optarg);
                        break;
                default:
                        if ((r = common_option(c, o)) <= 0)
                                return r < 0 ? r : usage_error("%s", "invalid arguments");
                }
        }
        if (optind >= argc)
                return usage_error("%s", "top needs an INDEX");
        if (optind + 1 < argc)
                return usage_error("unexpected argument '%s'", argv[optind + 1]);
        if (!by || (strcmp(by, "team") != 0 && strcmp(by, "agent") != 0 && strcmp(by, "channel") != 0))
                return usage_error("%s", "top needs --by team, agent or channel");

        if ((r = add_str(req, "index", argv[optind])) < 0 || (r = add_str(req, "by", by)) < 0 ||
            (r = add_window(req, "window", window ? window : "1h")) < 0 ||
            (r = add_str(req, "order", order ? order : "worst")) < 0)
                return r;
        if (json_object_object_add(req, "n", json_object_new_int64((int64_t)n)) < 0 ||
            json_object_object_add(req, "min_samples", json_object_new_int64((int64_t)min_samples)) < 0)
                return -ENOMEM;
        return 0;
}

static int parse_alerts(int argc, char **argv, Options *o, json_object *req) {
        static const struct option opts[] = {
                COMMON_LONG, {"history", no_argument, NULL, OPT_HISTORY}, {"since", required_argument, NULL, OPT_SINCE}, {NULL, 0, NULL, 0}};
        bool history = false;
        const char *since = NULL;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORT, opts, NULL)) >= 0) {
                if (c == OPT_HISTORY)
                        history = true;
                else if (c == OPT_SINCE)
                        since = optarg;
                else if ((r = common_option(c, o)) <= 0)
                        return r < 0 ? r : usage_error("%s", "invalid arguments");
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (json_object_object_add(req, "history", json_object_new_boolean(history)) < 0)
                return -ENOMEM;
        return since ? add_window(req, "since", since) : 0;
}

static int parse_silence_add(int argc, char **argv, Options *o, json_object *req) {
        static const struct option opts[] = {
                COMMON_LONG,
                {"scope", required_argument, NULL, 's'},
                {"for", required_argument, NULL, OPT_FOR},
                {"comment", required_argument, NULL, OPT_COMMENT},
                {NULL, 0, NULL, 0},
        };
        const char *scope = NULL, *duration = NULL, *comment = NULL;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, COMMON_SHORT "s:", opts, NULL)) >= 0) {
                if (c == 's')
                        scope = optarg;
                else if (c == OPT_FOR)
                        duration = optarg;
                else if (c == OPT_COMMENT)
                        comment = optarg;
                else if ((r = common_option(c, o)) <= 0)
                        return r < 0 ? r : usage_error("%s", "invalid arguments");
        }
        if (optind >= argc)
                return usage_error("%s", "silence add needs a RULE");
        if (optind + 1 < argc)
                return usage_error("unexpected argument '%s'", argv[optind + 1]);
        if (!duration)
                return usage_error("%s", "silence add needs --for W");
        if ((r = add_str(req, "rule", argv[optind])) < 0 || (scope && (r = add_str(req, "scope", scope)) < 0) ||
            (r = add_window(req, "for", duration)) < 0 || (comment && (r = add_str(req, "comment", comment)) < 0))
                return r;
        return 0;
}

static int parse_silence_rm(int argc, char **argv, Options *o, json_object *req) {
        int r = parse_common(argc, argv, o);

        if (r < 0)
                return r;
        if (optind >= argc)
                return usage_error("%s", "silence rm needs an ID");
        if (optind + 1 < argc)
                return usage_error("unexpected argument '%s'", argv[optind + 1]);
        return add_str(req, "id", argv[optind]);
}

/* Human output. Everything below prints a result the daemon answered with
 * ok: true; a member of an unexpected type prints as `-` or as JSON rather
 * than failing, so an older raterctl still shows a newer daemon's answer. */

static json_object *member(json_object *obj, const char *key) {
        json_object *v;

        return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

static const char *member_str(json_object *obj, const char *key) {
        json_object *v = member(obj, key);

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "-";
}

/* Counts and point sums print as integers even when sent as floats. */
static bool is_count(const char *index) {
        static const char *const counts[] = {
                "tickets_opened", "tickets_resolved", "tickets_reopened", "sla_breaches", "backlog", "overdue",
                "complaints_opened", "complaints_resolved", "complaints_open",
        };
        size_t n = index ? strlen(index) : 0;

        if (n >= 6 && strcmp(index + n - 6, "_count") == 0)
                return true;
        for (size_t i = 0; n > 0 && i < sizeof(counts) / sizeof(counts[0]); i++)
                if (strcmp(index, counts[i]) == 0)
                        return true;
        return false;
}

static const char *format_value(const char *index, json_object *v, char *buf, size_t size) {
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "-";
        case json_type_int:
                snprintf(buf, size, "%" PRId64, json_object_get_int64(v));
                return buf;
        case json_type_double:
                snprintf(buf, size, is_count(index) ? "%.0f" : "%.2f", json_object_get_double(v));
                return buf;
        case json_type_string:
                return json_object_get_string(v);
        default:
                return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        }
}

static void print_json(json_object *v, int flags) {
        puts(json_object_to_json_string_ext(v, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_uptime(int64_t s) {
        if (s >= 86400)
                printf("%" PRId64 "d ", s / 86400);
        if (s >= 3600)
                printf("%" PRId64 "h ", s / 3600 % 24);
        if (s >= 60)
                printf("%" PRId64 "m ", s / 60 % 60);
        printf("%" PRId64 "s\n", s % 60);
}

static void print_status(json_object *result) {
        json_object *events = member(result, "events"), *rejected = member(result, "rejected"),
                    *storage = member(result, "storage");
        char buf[64];

        printf("%-20s %s\n", "version", member_str(result, "version"));
        printf("%-20s ", "uptime");
        print_uptime(json_object_get_int64(member(result, "uptime_s")));
        if (json_object_is_type(events, json_type_object)) {
                json_object_object_foreach(events, key, val) {
                        snprintf(buf, sizeof(buf), "events %s", key);
                        printf("%-20s %" PRId64 "\n", buf, json_object_get_int64(val));
                }
        }
        if (json_object_is_type(rejected, json_type_object)) {
                json_object_object_foreach(rejected, key, val) {
                        if (json_object_get_int64(val) == 0)
                                continue;
                        snprintf(buf, sizeof(buf), "  rejected %s", key);
                        printf("%-20s %" PRId64 "\n", buf, json_object_get_int64(val));
                }
        }
        printf("%-20s %" PRId64 "\n", "commits", json_object_get_int64(member(result, "batches")));
        printf("%-20s %" PRId64 " ms, %" PRId64 " ms of it in LMDB commits\n", "writer busy",
               json_object_get_int64(member(member(result, "writer"), "busy_ms")),
               json_object_get_int64(member(member(result, "writer"), "commit_ms")));
        printf("%-20s %" PRId64 "\n", "storage bytes", json_object_get_int64(member(storage, "bytes")));
        printf("%-20s %s\n", "storage path", member_str(storage, "path"));
        printf("%-20s %" PRId64 "\n", "alerts firing", json_object_get_int64(member(result, "alerts_firing")));
}

static void print_get(json_object *result) {
        json_object *indices = member(result, "indices");
        char buf[64];
        int width = 0;

        printf("scope %s  window %s\n", member_str(result, "scope"), member_str(result, "window"));
        if (!json_object_is_type(indices, json_type_object))
                return;
        json_object_object_foreach(indices, k1, v1) {
                (void)v1;
                if ((int)strlen(k1) > width)
                        width = (int)strlen(k1);
        }
        json_object_object_foreach(indices, key, val)
                printf("%-*s  %s\n", width, key, format_value(key, val, buf, sizeof(buf)));
}

static void print_top(json_object *result) {
        json_object *rows = member(result, "rows");
        const char *index = member_str(result, "index");
        size_t n = json_object_is_type(rows, json_type_array) ? json_object_array_length(rows) : 0;
        char buf[64];
        int width = (int)strlen("scope");

        printf("index %s  window %s\n", index, member_str(result, "window"));
        for (size_t i = 0; i < n; i++) {
                int w = (int)strlen(member_str(json_object_array_get_idx(rows, i), "scope"));
                if (w > width)
                        width = w;
        }
        printf("%-*s  %10s  %8s\n", width, "scope", "value", "samples");
        for (size_t i = 0; i < n; i++) {
                json_object *row = json_object_array_get_idx(rows, i);
                printf("%-*s  %10s  %8" PRId64 "\n", width, member_str(row, "scope"),
                       format_value(index, member(row, "value"), buf, sizeof(buf)),
                       json_object_get_int64(member(row, "samples")));
        }
}

static void print_other(json_object *result) {
        if (!result || (json_object_is_type(result, json_type_object) && json_object_object_length(result) == 0))
                return;
        print_json(result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
}

/* A list member of the result (`alerts`, `silences`, `rules`) as a table
 * of the given columns; times (ms) print as UTC; anything unexpected as
 * JSON. */
static void print_table(json_object *result, const char *key, const char *const *cols, int ncols, const char *none) {
        json_object *list = member(result, key);
        int width[16];
        size_t n;
        char buf[64];

        if (!json_object_is_type(list, json_type_array) || ncols > 16) {
                print_other(result);
                return;
        }
        n = json_object_array_length(list);
        if (n == 0) {
                puts(none);
                return;
        }

        /* Two passes: measure, then print. */
        for (int pass = 0; pass < 2; pass++) {
                for (int c = 0; c < ncols; c++) {
                        if (pass == 0)
                                width[c] = (int)strlen(cols[c]);
                        else
                                printf("%-*s%s", width[c], cols[c], c + 1 < ncols ? "  " : "\n");
                }
                for (size_t i = 0; i < n; i++) {
                        json_object *a = json_object_array_get_idx(list, i);
                        for (int c = 0; c < ncols; c++) {
                                json_object *v = member(a, cols[c]);
                                bool is_time = strcmp(cols[c], "since") == 0 || strcmp(cols[c], "created") == 0 ||
                                               strcmp(cols[c], "until") == 0;
                                const char *s;

                                if (is_time && json_object_is_type(v, json_type_int)) {
                                        time_t t = (time_t)(json_object_get_int64(v) / 1000);
                                        struct tm tm;
                                        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
                                        s = buf;
                                } else {
                                        /* A count's value prints as a whole number. */
                                        const char *index = strcmp(cols[c], "value") == 0 ? member_str(a, "index") : NULL;
                                        s = format_value(index, v, buf, sizeof(buf));
                                }
                                if (pass == 0 && (int)strlen(s) > width[c])
                                        width[c] = (int)strlen(s);
                                else if (pass == 1)
                                        printf("%-*s%s", width[c], s, c + 1 < ncols ? "  " : "\n");
                        }
                }
        }
}

/* `{"alerts":[{rule, scope, index, window, value, threshold, state,
 * severity, since}]}` (CONTRACT.md section 6). */
static void print_alerts(json_object *result) {
        static const char *const cols[] = {"rule", "scope", "index", "window", "value", "threshold", "state",
                                           "severity", "since"};
        print_table(result, "alerts", cols, sizeof(cols) / sizeof(cols[0]), "no alerts");
}

static void print_silences(json_object *result) {
        static const char *const cols[] = {"id", "rule", "scope", "created", "until", "comment"};
        print_table(result, "silences", cols, sizeof(cols) / sizeof(cols[0]), "no silences");
}

static void print_rules(json_object *result) {
        static const char *const cols[] = {"name",  "scope",       "index", "window", "op",     "threshold", "clear",
                                           "min_samples", "for", "repeat", "severity", "pending", "firing"};
        print_table(result, "rules", cols, sizeof(cols) / sizeof(cols[0]), "no rules");
        if (member(result, "breach_alert"))
                printf("sla breach alerts: %s\n", member_str(result, "breach_alert"));
}

/* A command builds its request from its own arguments (argv[0] is the
 * command's last word) and prints a successful result for humans. */
typedef struct {
        const char *word, *sub; /* as typed: `status`, `silence add` */
        const char *cmd;        /* the request's "cmd" */
        int (*parse)(int argc, char **argv, Options *o, json_object *req);
        void (*print)(json_object *result);
} Command;

static const Command commands[] = {
        {"status", NULL, "status", parse_none, print_status},
        {"get", NULL, "get", parse_get, print_get},
        {"top", NULL, "top", parse_top, print_top},
        {"alerts", NULL, "alerts", parse_alerts, print_alerts},
        {"silence", "add", "silence_add", parse_silence_add, print_other},
        {"silence", "list", "silence_list", parse_none, print_silences},
        {"silence", "rm", "silence_rm", parse_silence_rm, print_other},
        {"rules", NULL, "rules", parse_none, print_rules},
        {"reload", NULL, "reload", parse_none, print_other},
};

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the request and waits for the one-frame answer. Returns EXIT_OK
 * with *answer set (a JSON object), or the exit code after saying why.
 * A REQ-style empty delimiter before the answer is skipped. */
static int call(const Options *o, json_object *req, json_object **answer) {
        _cleanup_(zmq_ctx_termp) void *ctx = NULL;
        _cleanup_(zmq_closep) void *sock = NULL;
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        int64_t deadline = mono_ms() + (int64_t)o->timeout_s * 1000;
        zmq_msg_t msg, body;
        int zero = 0, more, r = 0;
        json_object *a;

        ctx = zmq_ctx_new();
        if (!ctx || !(sock = zmq_socket(ctx, ZMQ_DEALER)) ||
            zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0) {
                fprintf(stderr, "raterctl: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
                return EXIT_UNREACHABLE;
        }
        if (zmq_connect(sock, o->endpoint) < 0) {
                fprintf(stderr, "raterctl: invalid endpoint '%s': %s\n", o->endpoint, zmq_strerror(errno));
                return EXIT_USAGE;
        }
        /* A connecting socket queues at once; EAGAIN only if it cannot. */
        if (zmq_send(sock, text, strlen(text), ZMQ_DONTWAIT) < 0 && errno != EAGAIN) {
                fprintf(stderr, "raterctl: cannot send to %s: %s\n", o->endpoint, zmq_strerror(errno));
                return EXIT_UNREACHABLE;
        }

        for (;;) {
                zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
                int64_t left = deadline - mono_ms();

                if (left > 0)
                        r = zmq_poll(&item, 1, (long)left);
                if (left <= 0 || r == 0) {
                        fprintf(stderr, "raterctl: no answer from raterd at %s within %ds\n", o->endpoint,
                                o->timeout_s);
                        return EXIT_UNREACHABLE;
                }
                if (r > 0)
                        break;
                if (errno != EINTR) {
                        fprintf(stderr, "raterctl: poll: %s\n", zmq_strerror(errno));
                        return EXIT_UNREACHABLE;
                }
        }

        zmq_msg_init(&msg);
        zmq_msg_init(&body);
        do {
                if (zmq_msg_recv(&msg, sock, 0) < 0) {
                        fprintf(stderr, "raterctl: receive: %s\n", zmq_strerror(errno));
                        zmq_msg_close(&msg);
                        zmq_msg_close(&body);
                        return EXIT_UNREACHABLE;
                }
                more = zmq_msg_more(&msg);
                if (zmq_msg_size(&msg) > 0)
                        zmq_msg_move(&body, &msg);
        } while (more);

        tok = json_tokener_new();
        a = tok ? json_tokener_parse_ex(tok, zmq_msg_data(&body), (int)zmq_msg_size(&body)) : NULL;
        zmq_msg_close(&msg);
        zmq_msg_close(&body);
        if (!json_object_is_type(a, json_type_object)) {
                json_object_put(a);
                fprintf(stderr, "raterctl: malformed answer from raterd at %s\n", o->endpoint);
                return EXIT_DAEMON;
        }
        *answer = a;
        return EXIT_OK;
}

/* `get` over several windows: one request per window; prints a JSON array
 * of the answers, or one table with a column per window. */
static int get_windows(const Options *o, json_object *req, json_object *list) {
        /* Our own reference: deleting the key from req drops req's. */
        _cleanup_(json_object_putp) json_object *windows = json_object_get(list);
        size_t n = json_object_array_length(windows);
        _cleanup_(json_object_putp) json_object *all = json_object_new_array();
        char buf[64];
        int width = 0, r;

        if (!all)
                return EXIT_DAEMON;
        json_object_object_del(req, "windows");
        for (size_t i = 0; i < n; i++) {
                _cleanup_(json_object_putp) json_object *answer = NULL;
                json_object *ok;
                json_object_object_add(req, "window", json_object_get(json_object_array_get_idx(windows, i)));
                if ((r = call(o, req, &answer)) != EXIT_OK)
                        return r;
                if (!json_object_object_get_ex(answer, "ok", &ok) || !json_object_get_boolean(ok)) {
                        fprintf(stderr, "raterctl: %s\n", member_str(answer, "error"));
                        return EXIT_DAEMON;
                }
                json_object_array_add(all, json_object_get(member(answer, "result")));
        }
        if (o->json) {
                print_json(all, JSON_C_TO_STRING_PLAIN);
                return EXIT_OK;
        }
        printf("scope %s\n", member_str(json_object_array_get_idx(all, 0), "scope"));
        json_object_object_foreach(member(json_object_array_get_idx(all, 0), "indices"), k1, v1) {
                (void)v1;
                if ((int)strlen(k1) > width)
                        width = (int)strlen(k1);
        }
        printf("%-*s", width, "index");
        for (size_t i = 0; i < n; i++)
                printf("  %12s", member_str(json_object_array_get_idx(all, i), "window"));
        putchar('\n');
        json_object_object_foreach(member(json_object_array_get_idx(all, 0), "indices"), key, val) {
                (void)val;
                printf("%-*s", width, key);
                for (size_t i = 0; i < n; i++)
                        printf("  %12s", format_value(key, member(member(json_object_array_get_idx(all, i), "indices"), key),
                                                     buf, sizeof(buf)));
                putchar('\n');
        }
        return EXIT_OK;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
        _cleanup_(json_object_putp) json_object *req = NULL, *answer = NULL;
        Options o = {.endpoint = getenv("RATERD_CONTROL"), .timeout_s = 5};
        const Command *cmd = NULL;
        json_object *ok, *result;
        char prog[64];
        int c, r;

        if (!o.endpoint || !*o.endpoint)
                o.endpoint = DEFAULT_CONTROL;
        while ((c = getopt_long(argc, argv, "+" COMMON_SHORT, opts, NULL)) >= 0)
                if (common_option(c, &o) <= 0)
                        return EXIT_USAGE;
        if (optind >= argc) {
                usage_error("%s", "missing COMMAND");
                return EXIT_USAGE;
        }
        argc -= optind;
        argv += optind;

        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && !cmd; i++)
                if (strcmp(argv[0], commands[i].word) == 0 &&
                    (!commands[i].sub || (argc > 1 && strcmp(argv[1], commands[i].sub) == 0)))
                        cmd = &commands[i];
        if (!cmd) {
                usage_error(strcmp(argv[0], "silence") == 0 ? "%s needs add, list or rm" : "unknown command '%s'",
                            argv[0]);
                return EXIT_USAGE;
        }
        /* getopt_long names argv[0] in its messages: make it the command. */
        snprintf(prog, sizeof(prog), "raterctl %s%s%s", cmd->word, cmd->sub ? " " : "", cmd->sub ? cmd->sub : "");
        if (cmd->sub) {
                argc--;
                argv++;
        }
        argv[0] = prog;

        req = json_object_new_object();
        if (!req || add_str(req, "cmd", cmd->cmd) < 0 || (r = cmd->parse(argc, argv, &o, req)) == -ENOMEM) {
                fputs("raterctl: out of memory\n", stderr);
                return EXIT_DAEMON;
        }
        if (r < 0)
                return EXIT_USAGE;

        if (json_object_object_get_ex(req, "windows", &result)) {
                r = get_windows(&o, req, result);
                if (r == EXIT_OK && (fflush(stdout) != 0 || ferror(stdout)))
                        r = EXIT_DAEMON;
                return r;
        }
        r = call(&o, req, &answer);
        if (r != EXIT_OK)
                return r;

        if (!json_object_object_get_ex(answer, "ok", &ok) || !json_object_is_type(ok, json_type_boolean)) {
                fprintf(stderr, "raterctl: malformed answer from raterd at %s\n", o.endpoint);
                return EXIT_DAEMON;
        }
        if (!json_object_get_boolean(ok)) {
                fprintf(stderr, "raterctl: %s\n", member_str(answer, "error"));
                return EXIT_DAEMON;
        }
        result = member(answer, "result");
        if (o.json)
                print_json(result, JSON_C_TO_STRING_PLAIN);
        else
                cmd->print(result);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "raterctl: cannot write the output: %s\n", strerror(errno));
                return EXIT_DAEMON;
        }
        return EXIT_OK;
}
