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
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <msgpack.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clients/cleanup.h"
#include "daemon/util/error.h"
#include "proto/duration.h"
#include "proto/mpwalk.h"

#define DEFAULT_ALERTS "tcp://127.0.0.1:7402"
#define MAX_CHILDREN 16
#define QUEUE_MAX 1024
#define SHUTDOWN_WAIT_MS 2000
#define MAX_PAYLOAD 65536 /* alerts are a few hundred bytes; bounds the command queue */
#define MAX_TOPIC 256
#define MAX_KEY 128
#define MAX_DEPTH 8
#define RECV_BURST 256 /* messages per poll round, so signals are seen */
#define LINE_MAX_ 2048

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

extern char **environ;

enum {
        EXIT_OK = 0,
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
};

/* Why a message was not an alert (positive codes, see util/error.h). */
enum {
        ALERT_E_FRAMES = 1,
        ALERT_E_TOPIC,
        ALERT_E_MALFORMED,
        ALERT_E_NOT_A_MAP,
        ALERT_E_BAD_KEY,
        ALERT_E_BAD_STRING,
        ALERT_E_TOO_DEEP,
        ALERT_E_TOO_LARGE,
};

static const char *const alert_errors[] = {
        [ALERT_E_FRAMES] = "expected 2 frames (topic, payload)",
        [ALERT_E_TOPIC] = "topic is not alert.<severity>.<rule>",
        [ALERT_E_MALFORMED] = "payload is not one msgpack value",
        [ALERT_E_NOT_A_MAP] = "payload is not a msgpack map",
        [ALERT_E_BAD_KEY] = "map key is not a short string",
        [ALERT_E_BAD_STRING] = "string is not UTF-8",
        [ALERT_E_TOO_DEEP] = "value nested too deeply",
        [ALERT_E_TOO_LARGE] = "payload larger than 64 KiB",
};

static const char *const severities[] = {"info", "warning", "critical"};
#define N_SEVERITIES (sizeof(severities) / sizeof(severities[0]))

/* Alert fields with a contract meaning: inherited RATER_<KEY> variables of
 * these names are never passed on, so a command cannot mistake a stale one
 * (RATER_TICKET of an earlier shell) for a field of this alert. */
static const char *const known_keys[] = {
        "v",     "id",    "kind", "rule",  "scope",    "index",   "window", "value",  "threshold",
        "clear", "op",    "state", "severity", "samples", "since", "ts",     "ticket", "topic",
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

typedef struct {
        bool armed;
        int64_t last_ms;
        uint64_t suppressed;
} RateLimit;

typedef struct {
        char text[MAX_TOPIC]; /* the whole topic */
        char severity[MAX_TOPIC];
        const char *rule; /* into severity[], after its NUL */
} Topic;

typedef struct {
        pid_t pid;
        char label[160]; /* "rule R scope S", for warnings */
} Child;

typedef struct {
        json_object *fields; /* a reference */
        char *topic;
} Pending;

typedef struct {
        const char *cmd;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t actions;
        bool attr_ready, actions_ready;
        Child running[MAX_CHILDREN];
        size_t n_running;
        Pending *queue; /* ring of QUEUE_MAX */
        size_t head, n_queued;
        uint64_t failed, dropped;
        RateLimit drop_rl, spawn_rl, exit_rl;
} Runner;

typedef struct {
        char **v; /* "NAME=value", NULL-terminated */
        size_t n, cap;
} Env;

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At most one line a second per limiter; the next one says how many were
 * swallowed. Malformed input must not be able to flood the terminal. */
__attribute__((format(printf, 2, 3))) static void warn_limited(RateLimit *rl, const char *fmt, ...) {
        int64_t now = mono_ms();
        va_list ap;

        if (rl->armed && now - rl->last_ms < 1000) {
                rl->suppressed++;
                return;
        }
        fputs("rater-watch: warning: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        if (rl->suppressed)
                fprintf(stderr, " (%" PRIu64 " similar warnings suppressed)", rl->suppressed);
        fputc('\n', stderr);
        rl->armed = true;
        rl->last_ms = now;
        rl->suppressed = 0;
}

/* ---- alert decoding --------------------------------------------------- */

static bool utf8_valid(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;

                if (len == 0 || i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3fu);
                }
                /* no overlong forms, no surrogates, nothing past U+10FFFF */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

/* Converts one msgpack value into json-c (nil, and floats that JSON cannot
 * hold, become NULL: JSON null). Returns 0, ALERT_E_*, or -ENOMEM. */
static int to_json(const msgpack_object *o, unsigned depth, json_object **out) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        int r;

        *out = NULL;
        switch (o->type) {
        case MSGPACK_OBJECT_NIL:
        case MSGPACK_OBJECT_EXT: /* not used by the contract: null */
                return 0;
        case MSGPACK_OBJECT_BOOLEAN:
                j = json_object_new_boolean(o->via.boolean);
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                j = o->via.u64 > INT64_MAX ? json_object_new_uint64(o->via.u64)
                                           : json_object_new_int64((int64_t)o->via.u64);
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                j = json_object_new_int64(o->via.i64);
                break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                if (!isfinite(o->via.f64))
                        return 0;
                j = json_object_new_double(o->via.f64);
                break;
        case MSGPACK_OBJECT_STR:
        case MSGPACK_OBJECT_BIN: {
                const char *p = o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr;
                uint32_t n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;

                if (!utf8_valid((const unsigned char *)p, n))
                        return ALERT_E_BAD_STRING;
                j = json_object_new_string_len(p, (int)n);
                break;
        }
        case MSGPACK_OBJECT_ARRAY:
                if (depth >= MAX_DEPTH)
                        return ALERT_E_TOO_DEEP;
                j = json_object_new_array_ext((int)o->via.array.size);
                for (uint32_t i = 0; j && i < o->via.array.size; i++) {
                        json_object *e;

                        r = to_json(&o->via.array.ptr[i], depth + 1, &e);
                        if (r != 0)
                                return r;
                        if (json_object_array_add(j, e) < 0) {
                                json_object_put(e);
                                return -ENOMEM;
                        }
                }
                break;
        case MSGPACK_OBJECT_MAP:
                if (depth >= MAX_DEPTH)
                        return ALERT_E_TOO_DEEP;
                j = json_object_new_object();
                for (uint32_t i = 0; j && i < o->via.map.size; i++) {
                        const msgpack_object_kv *kv = &o->via.map.ptr[i];
                        char key[MAX_KEY + 1];
                        json_object *e;

                        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size == 0 ||
                            kv->key.via.str.size > MAX_KEY || memchr(kv->key.via.str.ptr, 0, kv->key.via.str.size))
                                return ALERT_E_BAD_KEY;
                        if (!utf8_valid((const unsigned char *)kv->key.via.str.ptr, kv->key.via.str.size))
                                return ALERT_E_BAD_STRING;
                        memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
                        key[kv->key.via.str.size] = '\0';
                        r = to_json(&kv->val, depth + 1, &e);
                        if (r != 0)
                                return r;
                        if (json_object_object_add(j, key, e) < 0) {
                                json_object_put(e);
                                return -ENOMEM;
                        }
                }
                break;
        default:
                return ALERT_E_MALFORMED;
        }
        if (!j)
                return -ENOMEM;
        *out = TAKE_PTR(j);
        return 0;
}

/* msgpack-c allocates a container's element array when it reads the header
 * and reports nesting beyond its stack of 32 as out of memory: the headers
 * are walked first (proto/mpwalk.h), containers may nest MAX_DEPTH deep
 * (to_json's limit) and nothing may follow the alert. Returns 0,
 * ALERT_E_MALFORMED or ALERT_E_TOO_DEEP. */
static int payload_check(const uint8_t *p, size_t len) {
        size_t end;

        switch (mpwalk(p, len, MAX_DEPTH, &end)) {
        case MPWALK_OK:
                return end == len ? 0 : ALERT_E_MALFORMED;
        case MPWALK_TOO_DEEP:
                return ALERT_E_TOO_DEEP;
        default:
                return ALERT_E_MALFORMED;
        }
}

static void msgpack_unpacked_donep(msgpack_unpacked *u) {
        msgpack_unpacked_destroy(u);
}

/* Decodes a payload that must be exactly one msgpack map into a json-c
 * object (owned by the caller). Returns 0, ALERT_E_*, or -ENOMEM. */
static int alert_decode(const void *data, size_t size, json_object **out) {
        _cleanup_(msgpack_unpacked_donep) msgpack_unpacked u;
        size_t off = 0;
        int r;

        msgpack_unpacked_init(&u);
        r = payload_check(data, size);
        if (r != 0)
                return r;
        r = msgpack_unpack_next(&u, data, size, &off);
        if (r == MSGPACK_UNPACK_NOMEM_ERROR)
                return -ENOMEM;
        if (r != MSGPACK_UNPACK_SUCCESS || off != size)
                return ALERT_E_MALFORMED;
        if (u.data.type != MSGPACK_OBJECT_MAP)
                return ALERT_E_NOT_A_MAP;
        return to_json(&u.data, 0, out);
}

static int topic_parse(const void *data, size_t size, Topic *t) {
        char *dot;

        if (size <= strlen("alert.") || size >= sizeof(t->text) || memchr(data, 0, size) ||
            memcmp(data, "alert.", strlen("alert.")) != 0)
                return ALERT_E_TOPIC;
        memcpy(t->text, data, size);
        t->text[size] = '\0';
        strcpy(t->severity, t->text + strlen("alert."));
        dot = strchr(t->severity, '.');
        if (!dot || dot == t->severity || !dot[1])
                return ALERT_E_TOPIC;
        *dot = '\0';
        t->rule = dot + 1;
        return 0;
}

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

/* ---- formatting ------------------------------------------------------- */

static json_object *field(json_object *a, const char *key) {
        json_object *v = NULL;

        json_object_object_get_ex(a, key, &v);
        return v;
}

static const char *field_str(json_object *a, const char *key, const char *fallback) {
        json_object *v = field(a, key);

        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : fallback;
}

/* The shortest form that reads back as the same double: 80, 72.5, 0.1
 * (%.1g alone would write 80 as 8e+01). */
static char *format_double(double d, char *buf, size_t size) {
        if (fabs(d) < 1e15 && d == (double)(int64_t)d) {
                snprintf(buf, size, "%.0f", d);
                return buf;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        break;
        }
        return buf;
}

/* A field's value as text: returns buf, or a string owned by v. Missing and
 * null give `null_text`; arrays and maps their JSON. */
static const char *value_text(json_object *v, const char *null_text, char *buf, size_t size) {
        switch (json_object_get_type(v)) {
        case json_type_null:
                return null_text;
        case json_type_boolean:
                return json_object_get_boolean(v) ? "true" : "false";
        case json_type_int:
                if (json_object_get_int64(v) == INT64_MAX)
                        snprintf(buf, size, "%" PRIu64, json_object_get_uint64(v));
                else
                        snprintf(buf, size, "%" PRId64, json_object_get_int64(v));
                return buf;
        case json_type_double:
                return format_double(json_object_get_double(v), buf, size);
        case json_type_string:
                return json_object_get_string(v);
        default:
                return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        }
}

static void format_time(json_object *ts, char *buf, size_t size) {
        struct timespec now;
        struct tm tm;
        time_t t;

        if (json_object_is_type(ts, json_type_int) && json_object_get_int64(ts) >= 0 &&
            json_object_get_int64(ts) < INT64_C(253402300800000)) /* year 10000 */
                t = (time_t)(json_object_get_int64(ts) / 1000);
        else {
                clock_gettime(CLOCK_REALTIME, &now); /* no usable ts: the time of receipt */
                t = now.tv_sec;
        }
        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "-");
}

__attribute__((format(printf, 4, 5))) static void append(char *line, size_t size, size_t *n, const char *fmt, ...) {
        va_list ap;
        int k;

        if (*n >= size)
                return;
        va_start(ap, fmt);
        k = vsnprintf(line + *n, size - *n, fmt, ap);
        va_end(ap);
        if (k > 0)
                *n += (size_t)k;
}

static bool present(json_object *a, const char *key) {
        json_object *v;

        return json_object_object_get_ex(a, key, &v) && v != NULL;
}

/* One readable line, e.g.
 *   2026-11-25T10:00:00Z FIRING   warning csat-drop team:billing csat(1h)=72.50 below 80 (clear 85) samples=31
 *   2026-11-25T11:00:00Z RESOLVED warning csat-drop team:billing csat(1h)=86.00 below 80 (clear 85) samples=40
 *   2026-11-25T10:00:00Z FIRING   critical sla-breach team:billing sla_breach ticket=T-1
 * Absent fields are left out. Control characters from the wire are shown
 * as '?': one alert, one line. */
static void format_line(json_object *a, const Topic *t, char *line, size_t size) {
        const char *severity = field_str(a, "severity", t->severity), *rule = field_str(a, "rule", t->rule);
        const char *scope = field_str(a, "scope", "-"), *kind = field_str(a, "kind", "threshold");
        char ts[32], st[16], vbuf[64], wbuf[32], tbuf[64];
        json_object *value = field(a, "value"), *window = field(a, "window");
        size_t n = 0;

        format_time(field(a, "ts"), ts, sizeof(ts));
        snprintf(st, sizeof(st), "%s", field_str(a, "state", "?"));
        for (char *p = st; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
        line[0] = '\0';
        append(line, size, &n, "%s %-8s %s %s %s", ts, st, severity, rule, scope);
        if (strcmp(kind, "threshold") != 0)
                append(line, size, &n, " %s", kind);
        if (present(a, "index")) {
                const char *v;

                /* two decimals read best for 0-100 indices; huge values keep their digits */
                if ((json_object_is_type(value, json_type_double) || json_object_is_type(value, json_type_int)) &&
                    fabs(json_object_get_double(value)) < 1e12) {
                        snprintf(vbuf, sizeof(vbuf), "%.2f", json_object_get_double(value));
                        v = vbuf;
                } else
                        v = value_text(value, "null", vbuf, sizeof(vbuf));
                append(line, size, &n, " %s(%s)=%s", field_str(a, "index", "?"),
                       json_object_is_type(window, json_type_int)
                               ? duration_format(json_object_get_int64(window), wbuf, sizeof(wbuf))
                               : value_text(window, "?", wbuf, sizeof(wbuf)),
                       v);
        }
        if (present(a, "threshold"))
                append(line, size, &n, " %s %s", field_str(a, "op", "?"),
                       value_text(field(a, "threshold"), "?", tbuf, sizeof(tbuf)));
        if (present(a, "clear"))
                append(line, size, &n, " (clear %s)", value_text(field(a, "clear"), "?", tbuf, sizeof(tbuf)));
        if (present(a, "samples"))
                append(line, size, &n, " samples=%s", value_text(field(a, "samples"), "?", tbuf, sizeof(tbuf)));
        if (present(a, "ticket"))
                append(line, size, &n, " ticket=%s", value_text(field(a, "ticket"), "?", tbuf, sizeof(tbuf)));
        for (char *p = line; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
}

/* ---- --exec ----------------------------------------------------------- */

static void env_done(Env *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->v[i]);
        free(e->v);
}

static bool env_has(const Env *e, const char *name, size_t len) {
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
                        return true;
        return false;
}

/* Adds "name=value" unless name is set already (first one wins). */
static int env_add(Env *e, const char *name, const char *value) {
        size_t len = strlen(name);
        char *s;

        if (env_has(e, name, len))
                return 0;
        if (e->n + 1 >= e->cap)
                return -ENOMEM; /* sized by env_build, never reached */
        s = malloc(len + strlen(value) + 2);
        if (!s)
                return -ENOMEM;
        sprintf(s, "%s=%s", name, value);
        e->v[e->n++] = s;
        e->v[e->n] = NULL;
        return 0;
}

/* "RATER_" + the key in upper case, other characters as '_'. */
static void env_name(const char *key, char *buf, size_t size) {
        size_t n = (size_t)snprintf(buf, size, "RATER_");

        for (; *key && n + 1 < size; key++, n++)
                buf[n] = *key >= 'a' && *key <= 'z'   ? (char)(*key - 'a' + 'A')
                         : (*key >= 'A' && *key <= 'Z') || (*key >= '0' && *key <= '9') ? *key
                                                                                         : '_';
        buf[n] = '\0';
}

/* Whether the inherited variable entry[0..len) is one rater-watch sets for
 * every command that has the field: RATER_JSON, RATER_<known key>. */
static bool reserved_name(const char *entry, size_t len) {
        char name[MAX_KEY + 8];

        if (len < strlen("RATER_") || strncmp(entry, "RATER_", strlen("RATER_")) != 0)
                return false;
        if (len == strlen("RATER_JSON") && strncmp(entry, "RATER_JSON", len) == 0)
                return true;
        for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++) {
                env_name(known_keys[i], name, sizeof(name));
                if (strlen(name) == len && strncmp(entry, name, len) == 0)
                        return true;
        }
        return false;
}

/* The environment of one command: RATER_JSON (the whole alert), RATER_TOPIC,
 * RATER_<KEY> per field (null as the empty string), then the inherited
 * environment without the reserved RATER_* names. The first of two names
 * that fold to the same variable wins. Returns 0 or -ENOMEM. */
static int env_build(Env *e, json_object *a, const char *topic) {
        const char *text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n_environ = 0;
        int r;

        while (environ[n_environ])
                n_environ++;
        *e = (Env){.cap = 2 + (size_t)json_object_object_length(a) + n_environ + 1};
        e->v = calloc(e->cap, sizeof(char *));
        if (!e->v || !text)
                return -ENOMEM;
        r = env_add(e, "RATER_JSON", text);
        if (r == 0)
                r = env_add(e, "RATER_TOPIC", topic);
        json_object_object_foreach(a, key, v) {
                char name[MAX_KEY + 8], buf[64];

                if (r < 0)
                        break;
                env_name(key, name, sizeof(name));
                r = env_add(e, name, value_text(v, "", buf, sizeof(buf)));
        }
        for (size_t i = 0; r == 0 && i < n_environ; i++) {
                const char *eq = strchr(environ[i], '=');
                char *name;

                if (!eq || eq == environ[i] || reserved_name(environ[i], (size_t)(eq - environ[i])))
                        continue;
                name = strndup(environ[i], (size_t)(eq - environ[i]));
                if (!name)
                        return -ENOMEM;
                r = env_add(e, name, eq + 1);
                free(name);
        }
        return r;
}

static void runner_deinit(Runner *rn) {
        for (size_t k = 0; rn->queue && k < rn->n_queued; k++) {
                Pending *p = &rn->queue[(rn->head + k) % QUEUE_MAX];

                json_object_put(p->fields);
                free(p->topic);
        }
        free(rn->queue);
        if (rn->attr_ready)
                posix_spawnattr_destroy(&rn->attr);
        if (rn->actions_ready)
                posix_spawn_file_actions_destroy(&rn->actions);
        *rn = (Runner){0};
}

/* Commands start with no signal blocked (this process blocks the ones its
 * signalfd reads), in a process group of their own, with /dev/null as
 * standard input; standard output and error are shared with rater-watch.
 * Returns 0 or a negative errno. */
static int runner_init(Runner *rn, const char *cmd) {
        sigset_t none;
        int r;

        *rn = (Runner){.cmd = cmd};
        rn->queue = calloc(QUEUE_MAX, sizeof(Pending));
        if (!rn->queue)
                return -ENOMEM;
        sigemptyset(&none);
        r = posix_spawnattr_init(&rn->attr);
        if (r != 0)
                return -r;
        rn->attr_ready = true;
        r = posix_spawnattr_setflags(&rn->attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&rn->attr, &none);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&rn->attr, 0);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_init(&rn->actions);
        if (r != 0)
                return -r;
        rn->actions_ready = true;
        r = posix_spawn_file_actions_addopen(&rn->actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        return -r;
}

static void child_label(json_object *a, char *buf, size_t size) {
        snprintf(buf, size, "rule %s scope %s", field_str(a, "rule", "?"), field_str(a, "scope", "?"));
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
}

/* Starts the command for one alert. A failure is warned and counted: the
 * alert is lost to the command, the watch goes on. */
static void runner_spawn(Runner *rn, json_object *a, const char *topic) {
        char *argv[] = {(char *)"sh", (char *)"-c", (char *)rn->cmd, NULL};
        Child *c = &rn->running[rn->n_running];
        Env env = {0};
        pid_t pid = -1;
        int r;

        child_label(a, c->label, sizeof(c->label));
        r = env_build(&env, a, topic);
        if (r == 0)
                r = -posix_spawn(&pid, "/bin/sh", &rn->actions, &rn->attr, argv, env.v);
        env_done(&env);
        if (r < 0) {
                rn->failed++;
                warn_limited(&rn->spawn_rl, "cannot run the command for %s: %s (%" PRIu64 " failed so far)",
                             c->label, strerror(-r), rn->failed);
                return;
        }
        c->pid = pid;
        rn->n_running++;
}

/* Runs the command for an alert now, or queues it (taking a reference) while
 * MAX_CHILDREN run; drops it when the queue is full. Returns 0 or -ENOMEM. */
static int runner_submit(Runner *rn, json_object *a, const Topic *t) {
        Pending *p;

        if (rn->n_running < MAX_CHILDREN && rn->n_queued == 0) {
                runner_spawn(rn, a, t->text);
                return 0;
        }
        if (rn->n_queued == QUEUE_MAX) {
                char label[160];

                rn->dropped++;
                child_label(a, label, sizeof(label));
                warn_limited(&rn->drop_rl,
                             "%d commands running and %d alerts waiting: the alert of %s is dropped (%" PRIu64
                             " dropped so far)",
                             MAX_CHILDREN, QUEUE_MAX, label, rn->dropped);
                return 0;
        }
        p = &rn->queue[(rn->head + rn->n_queued) % QUEUE_MAX];
        p->topic = strdup(t->text);
        if (!p->topic)
                return -ENOMEM;
        p->fields = json_object_get(a);
        rn->n_queued++;
        return 0;
}

/* Starts queued commands while there is room. */
static void runner_pump(Runner *rn) {
        while (rn->n_queued > 0 && rn->n_running < MAX_CHILDREN) {
                Pending p = rn->queue[rn->head];

                rn->queue[rn->head] = (Pending){0};
                rn->head = (rn->head + 1) % QUEUE_MAX;
                rn->n_queued--;
                runner_spawn(rn, p.fields, p.topic);
                json_object_put(p.fields);
                free(p.topic);
        }
}

/* Reaps every finished command; a failing one is a (rate-limited) warning. */
static void runner_reap(Runner *rn) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                size_t i;

                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0)
                        return;
                for (i = 0; i < rn->n_running && rn->running[i].pid != pid; i++)
                        ;
                if (i == rn->n_running)
                        continue; /* not ours */
                if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                        warn_limited(&rn->exit_rl, "command for %s exited with status %d", rn->running[i].label,
                                     WEXITSTATUS(status));
                else if (WIFSIGNALED(status))
                        warn_limited(&rn->exit_rl, "command for %s killed by signal %d", rn->running[i].label,
                                     WTERMSIG(status));
                rn->running[i] = rn->running[--rn->n_running];
        }
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
                     alert_errors[why], w->malformed);
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

static void terminate_children(Runner *rn) {
        if (rn->n_running > 0)
                fprintf(stderr, "rater-watch: stopping: terminating %zu running command%s\n", rn->n_running,
                        rn->n_running == 1 ? "" : "s");
        for (size_t i = 0; i < rn->n_running; i++)
                kill(-rn->running[i].pid, SIGTERM); /* its process group */
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
                                terminate_children(&w->runner);
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
                        terminate_children(&w->runner);
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
