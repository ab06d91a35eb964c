/* clients/rater-pub.c: publishes JSON lines as v1 events (CONTRACT.md 2.1).
 *
 * Fire-and-forget (default): an XPUB socket connects to raterd's SUB and
 * sends only once the daemon's subscription has arrived, so the first events
 * are not lost to PUB's slow-joiner drop; an unbounded send queue and a
 * linger of the timeout then flush everything before exit.
 *
 * Acknowledged (--reliable, CONTRACT.md 2.2): a DEALER pipelines up to
 * MAX_INFLIGHT events, matches the acks by id and resends what is not
 * acknowledged within RESEND_MS. The daemon answers a resend of a committed
 * event with `duplicate`, so retrying is always safe.
 *
 * Exit codes: 0 every event ok or duplicate, 1 some rejected, 2 bad input or
 * usage, 3 daemon unreachable. When several apply the highest wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clients/cleanup.h"
#include "daemon/util/error.h"
#include "proto/encode.h"
#include "proto/event.h"

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:7400"
#define DEFAULT_RELIABLE_ENDPOINT "tcp://127.0.0.1:7401"
#define MAX_LINE (1024 * 1024)
#define MAX_INFLIGHT 1000
#define RESEND_MS 2000
#define MAX_RESENDS 10

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

enum {
        EXIT_OK = 0,
        EXIT_REJECTED = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

typedef struct {
        const char *endpoint;
        const char *path;
        bool reliable;
        int timeout_s;
} Options;

typedef struct {
        uint64_t sent, ok, duplicate, rejected, invalid;
} Counters;

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Input lines, read with read(2) rather than stdio so that --reliable can
 * poll the descriptor next to the socket and keep taking acks while the
 * producer of a pipe is quiet. A read error is reported and ends the input
 * (error set): what was read is still delivered. */
typedef struct {
        int fd;
        const char *name;
        char *buf;
        size_t start, end, size;
        unsigned lineno;        /* number of the last line handed out or skipped */
        bool eof, skipping;     /* skipping: inside a line longer than MAX_LINE */
        int error;
} Reader;

static void reader_deinit(Reader *r) {
        free(r->buf);
        if (r->fd > STDIN_FILENO)
                close(r->fd);
}

static void reader_fail(Reader *r, int error) {
        fprintf(stderr, "rater-pub: reading %s: %s\n", r->name, strerror(error));
        r->error = error;
        r->eof = true;
}

/* Reads once; sets r->eof at the end of the input. */
static void reader_fill(Reader *r) {
        ssize_t n;

        if (r->start > 0) {
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->end -= r->start;
                r->start = 0;
        }
        if (r->end == r->size) {
                size_t size = r->size ? r->size * 2 : 65536;
                char *p = realloc(r->buf, size);
                if (!p) {
                        reader_fail(r, ENOMEM);
                        return;
                }
                r->buf = p;
                r->size = size;
        }
        do
                n = read(r->fd, r->buf + r->end, r->size - r->end);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                reader_fail(r, errno);
                return;
        }
        if (n == 0)
                r->eof = true;
        r->end += (size_t)n;
}

/* Returns 1 with the next line (no newline, not NUL-terminated) in
 * *line and *len, 0 when more input is needed, -1 at the end of input. A line
 * longer than MAX_LINE is reported, counted and skipped. */
static int reader_line(Reader *r, Counters *c, const char **line, size_t *len) {
        for (;;) {
                char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
                size_t n = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;

                if (!nl && !r->eof && n <= MAX_LINE)
                        return 0;
                if (!nl && r->eof && (n == 0 || r->error) && !r->skipping)
                        return -1; /* a partial line after a read error is dropped */
                if (r->skipping || n > MAX_LINE) {
                        if (!r->skipping) {
                                fprintf(stderr, "rater-pub: line %u: longer than %d bytes\n", r->lineno + 1, MAX_LINE);
                                c->invalid++;
                        }
                        r->skipping = !nl && !r->eof;
                        r->start = nl ? r->start + n + 1 : r->end;
                        if (!r->skipping)
                                r->lineno++;
                        if (r->skipping)
                                return r->eof ? -1 : 0;
                        continue;
                }
                *line = r->buf + r->start;
                *len = n;
                r->start += n + (nl != NULL);
                r->lineno++;
                return 1;
        }
}

static bool blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

/* Turns a line into an event. Returns 1 with *topic and the payload set, 0
 * for a blank line or one that was reported as bad, or -ENOMEM. */
static int encode(const char *line, size_t len, unsigned lineno, Counters *c, char **topic, msgpack_sbuffer *sb) {
        char err[256];
        int r;

        if (blank(line, len))
                return 0;
        r = proto_encode_json_line(line, len, wall_ms(), topic, sb, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                fprintf(stderr, "rater-pub: line %u: %s\n", lineno, err);
                c->invalid++;
                return 0;
        }
        return 1;
}

static int send_event(void *sock, const char *topic, const void *data, size_t len) {
        if (zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE) < 0 || zmq_send(sock, data, len, 0) < 0)
                return zmq_err();
        return 0;
}

/* Waits for the first subscription (a frame starting with byte 1) on the
 * XPUB, then takes any that came with it. Returns 0, -ETIMEDOUT or -errno. */
static int await_subscriber(void *sock, int timeout_s) {
        int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
        unsigned char frame[256];

        for (;;) {
                zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
                int64_t left = deadline - mono_ms();
                int n;

                if (left <= 0)
                        return -ETIMEDOUT;
                n = zmq_poll(&item, 1, (long)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return zmq_err();
                if (n == 0)
                        continue;
                n = zmq_recv(sock, frame, sizeof(frame), 0);
                if (n < 0)
                        return zmq_err();
                if (n > 0 && frame[0] == 1)
                        break;
        }
        while (zmq_recv(sock, frame, sizeof(frame), ZMQ_DONTWAIT) >= 0)
                ;
        return 0;
}

/* A context and a socket of type connected to the endpoint, with no send
 * limit (the input is what bounds it) and the given linger. Returns EXIT_OK,
 * or the exit code after saying why. */
static int open_socket(const Options *o, int type, int linger, void **ctx, void **sock) {
        int zero = 0;

        *ctx = zmq_ctx_new();
        if (!*ctx || !(*sock = zmq_socket(*ctx, type)) || zmq_setsockopt(*sock, ZMQ_SNDHWM, &zero, sizeof(zero)) < 0 ||
            zmq_setsockopt(*sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0) {
                fprintf(stderr, "rater-pub: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
                return EXIT_UNREACHABLE;
        }
        if (zmq_connect(*sock, o->endpoint) < 0) {
                fprintf(stderr, "rater-pub: invalid endpoint '%s': %s\n", o->endpoint, zmq_strerror(errno));
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

static int run_fire_and_forget(const Options *o, Reader *rd, Counters *c) {
        _cleanup_(zmq_ctx_termp) void *ctx = NULL;
        _cleanup_(zmq_closep) void *sock = NULL;
        int r = 0;
        bool subscribed = false;
        msgpack_sbuffer sb;

        /* sock is declared after ctx, so it is closed (and flushed, for up
         * to the linger) before the context terminates. */
        if ((r = open_socket(o, ZMQ_XPUB, o->timeout_s * 1000, &ctx, &sock)) != EXIT_OK)
                return r;

        msgpack_sbuffer_init(&sb);
        for (;;) {
                _cleanup_(freep) char *topic = NULL;
                const char *line;
                size_t len;
                int n = reader_line(rd, c, &line, &len);

                if (n < 0)
                        break;
                if (n == 0) {
                        reader_fill(rd);
                        continue;
                }
                msgpack_sbuffer_clear(&sb);
                r = encode(line, len, rd->lineno, c, &topic, &sb);
                if (r < 0)
                        break;
                if (r == 0)
                        continue;
                if (!subscribed) {
                        r = await_subscriber(sock, o->timeout_s);
                        if (r < 0)
                                break;
                        subscribed = true;
                }
                r = send_event(sock, topic, sb.data, sb.size);
                if (r < 0)
                        break;
                c->sent++;
        }
        msgpack_sbuffer_destroy(&sb);

        if (r == -ETIMEDOUT)
                fprintf(stderr, "rater-pub: no subscriber at %s within %ds (is raterd running?)\n", o->endpoint,
                        o->timeout_s);
        else if (r < 0)
                fprintf(stderr, "rater-pub: %s\n", zmq_strerror(-r));
        fprintf(stderr, "rater-pub: %" PRIu64 " sent\n", c->sent);
        return r < 0 ? EXIT_UNREACHABLE : EXIT_OK;
}

/* One event waiting for its ack. */
typedef struct {
        bool used;
        unsigned line;
        char *id;               /* the id its ack will carry; NULL: nil */
        char *topic;
        char *data;
        size_t len;
        int64_t sent_ms;
        unsigned resends;
} Pending;

/* The events in flight in send order: slot (head + k) % MAX_INFLIGHT for
 * k < span. An acked slot stays a hole until head passes it, so a stuck old
 * event bounds how far ahead the pipeline runs. */
typedef struct {
        Pending slot[MAX_INFLIGHT];
        size_t head, span, inflight;
        ProtoDecoder *decoder;
} Window;

static void pending_clear(Pending *p) {
        free(p->id);
        free(p->topic);
        free(p->data);
        *p = (Pending){0};
}

static Window *window_free(Window *w) {
        if (w) {
                for (size_t i = 0; i < MAX_INFLIGHT; i++)
                        pending_clear(&w->slot[i]);
                proto_decoder_free(w->decoder);
                free(w);
        }
        return NULL;
}

static void window_freep(Window **w) {
        window_free(*w);
}

static int window_new(Window **out) {
        _cleanup_(window_freep) Window *w = calloc(1, sizeof(Window));
        int r;

        if (!w)
                return -ENOMEM;
        r = proto_decoder_new(&w->decoder);
        if (r < 0)
                return r;
        *out = TAKE_PTR(w);
        return 0;
}

/* The id raterd will put in the ack: it decodes the id before anything
 * that could still reject the event (proto/decode.c), but says nil when the
 * topic is unknown or the message exceeds the (default) size limit. */
static int expected_ack_id(Window *w, const char *topic, const void *data, size_t len, char **out) {
        EventKind kind;
        Event ev;

        *out = NULL;
        if (strlen(topic) + len > 65536 || proto_parse_topic(topic, strlen(topic), &kind) != PROTO_OK)
                return 0;
        (void)proto_decode(w->decoder, kind, data, len, wall_ms(), INT64_MAX / 2, &ev, NULL);
        if (ev.id.len == 0)
                return 0;
        *out = strndup(ev.id.ptr, ev.id.len);
        return *out ? 0 : -ENOMEM;
}

/* Takes topic and the payload's buffer. Returns 0 or -ENOMEM. */
static int window_add(Window *w, unsigned line, char **topic, msgpack_sbuffer *sb, Pending **out) {
        Pending *p = &w->slot[(w->head + w->span) % MAX_INFLIGHT];
        int r;

        r = expected_ack_id(w, *topic, sb->data, sb->size, &p->id);
        if (r < 0)
                return r;
        p->used = true;
        p->line = line;
        p->topic = TAKE_PTR(*topic);
        p->len = sb->size;
        p->data = msgpack_sbuffer_release(sb);
        w->span++;
        w->inflight++;
        *out = p;
        return 0;
}

static void window_done(Window *w, Pending *p) {
        pending_clear(p);
        w->inflight--;
        while (w->span > 0 && !w->slot[w->head].used) {
                w->head = (w->head + 1) % MAX_INFLIGHT;
                w->span--;
        }
}

/* The oldest event in flight whose ack carries this id (NULL: nil). */
static Pending *window_match(Window *w, const char *id, size_t len) {
        for (size_t k = 0; k < w->span; k++) {
                Pending *p = &w->slot[(w->head + k) % MAX_INFLIGHT];
                if (!p->used)
                        continue;
                if (!id ? !p->id : p->id && strlen(p->id) == len && memcmp(p->id, id, len) == 0)
                        return p;
        }
        return NULL;
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key) {
        size_t n = strlen(key);

        for (uint32_t i = 0; i < map->via.map.size; i++) {
                const msgpack_object *k = &map->via.map.ptr[i].key;
                if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
                        return &map->via.map.ptr[i].val;
        }
        return NULL;
}

static bool str_is(const msgpack_object *o, const char *s) {
        return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
               memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Handles one ack frame. Returns true when it was a well-formed ack; an ack
 * that matches nothing in flight (the late answer to a resent event) is
 * ignored. */
static bool handle_ack(Window *w, Counters *c, const void *data, size_t len) {
        const msgpack_object *id, *status, *error;
        msgpack_unpacked up;
        Pending *p;
        bool ok = false;

        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, data, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
            up.data.type != MSGPACK_OBJECT_MAP)
                goto out;
        id = map_get(&up.data, "id");
        status = map_get(&up.data, "status");
        error = map_get(&up.data, "error");
        if (!status || status->type != MSGPACK_OBJECT_STR ||
            (id && id->type != MSGPACK_OBJECT_STR && id->type != MSGPACK_OBJECT_NIL))
                goto out;
        if (id && id->type == MSGPACK_OBJECT_NIL)
                id = NULL;
        ok = true;

        p = window_match(w, id ? id->via.str.ptr : NULL, id ? id->via.str.size : 0);
        if (!p)
                goto out;
        if (str_is(status, "ok")) {
                c->ok++;
        } else if (str_is(status, "duplicate")) {
                c->duplicate++;
        } else {
                int el = error && error->type == MSGPACK_OBJECT_STR ? (int)error->via.str.size : 7;
                const char *e = error && error->type == MSGPACK_OBJECT_STR ? error->via.str.ptr : "unknown";

                c->rejected++;
                if (!str_is(status, "rejected"))
                        fprintf(stderr, "rater-pub: line %u: unexpected ack status '%.*s'\n", p->line,
                                (int)status->via.str.size, status->via.str.ptr);
                if (p->id)
                        fprintf(stderr, "rater-pub: line %u: event %s rejected: %.*s\n", p->line, p->id, el, e);
                else
                        fprintf(stderr, "rater-pub: line %u: event rejected: %.*s\n", p->line, el, e);
        }
        window_done(w, p);
out:
        msgpack_unpacked_destroy(&up);
        return ok;
}

/* Reads every ack that is there. Returns the number of well-formed acks,
 * or -errno. */
static int drain_acks(void *sock, Window *w, Counters *c) {
        int n = 0;

        for (;;) {
                zmq_msg_t m;

                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
                        int r = errno == EAGAIN ? n : zmq_err();
                        zmq_msg_close(&m);
                        return r;
                }
                if (zmq_msg_size(&m) > 0 && handle_ack(w, c, zmq_msg_data(&m), zmq_msg_size(&m)))
                        n++;
                zmq_msg_close(&m);
        }
}

/* Resends what was not acked within RESEND_MS. Returns 0, -ETIMEDOUT when
 * an event went unacked MAX_RESENDS times, or -errno. */
static int resend_due(void *sock, Window *w, int64_t now) {
        for (size_t k = 0; k < w->span; k++) {
                Pending *p = &w->slot[(w->head + k) % MAX_INFLIGHT];
                int r;

                if (!p->used || now - p->sent_ms < RESEND_MS)
                        continue;
                if (p->resends >= MAX_RESENDS)
                        return -ETIMEDOUT;
                r = send_event(sock, p->topic, p->data, p->len);
                if (r < 0)
                        return r;
                p->resends++;
                p->sent_ms = now;
        }
        return 0;
}

static void report_unacked(const Options *o, Window *w, const char *why) {
        unsigned shown = 0;

        fprintf(stderr, "rater-pub: %s from raterd at %s; %zu event%s not acknowledged:", why, o->endpoint,
                w->inflight, w->inflight == 1 ? "" : "s");
        for (size_t k = 0; k < w->span && shown < 20; k++) {
                Pending *p = &w->slot[(w->head + k) % MAX_INFLIGHT];
                if (!p->used)
                        continue;
                fprintf(stderr, "%s %s (line %u)", shown ? "," : "", p->id ? p->id : "(no id)", p->line);
                shown++;
        }
        if (w->inflight > shown)
                fprintf(stderr, ", and %zu more", w->inflight - shown);
        fputc('\n', stderr);
}

static int run_reliable(const Options *o, Reader *rd, Counters *c) {
        _cleanup_(zmq_ctx_termp) void *ctx = NULL;
        _cleanup_(zmq_closep) void *sock = NULL;
        _cleanup_(window_freep) Window *w = NULL;
        int64_t first_sent = -1, now;
        bool input_done = false, answered = false;
        int r = 0;
        msgpack_sbuffer sb;

        if (window_new(&w) < 0) {
                fputs("rater-pub: out of memory\n", stderr);
                return EXIT_UNREACHABLE;
        }
        if ((r = open_socket(o, ZMQ_DEALER, 0, &ctx, &sock)) != EXIT_OK)
                return r;

        msgpack_sbuffer_init(&sb);
        while (r >= 0) {
                zmq_pollitem_t items[2] = {
                        {.socket = sock, .events = ZMQ_POLLIN},
                        {.fd = rd->fd, .events = ZMQ_POLLIN},
                };
                int nitems;

                /* Take what input is buffered, as far as the window goes. */
                while (!input_done && w->span < MAX_INFLIGHT) {
                        _cleanup_(freep) char *topic = NULL;
                        const char *line;
                        size_t len;
                        Pending *p = NULL;
                        int n = reader_line(rd, c, &line, &len);

                        if (n <= 0) {
                                input_done = n < 0;
                                break;
                        }
                        msgpack_sbuffer_clear(&sb);
                        r = encode(line, len, rd->lineno, c, &topic, &sb);
                        if (r == 0)
                                continue;
                        if (r > 0)
                                r = window_add(w, rd->lineno, &topic, &sb, &p);
                        if (r >= 0)
                                r = send_event(sock, p->topic, p->data, p->len);
                        if (r < 0)
                                break;
                        p->sent_ms = mono_ms();
                        if (first_sent < 0)
                                first_sent = p->sent_ms;
                        c->sent++;
                }
                if (r < 0 || (input_done && w->inflight == 0))
                        break;

                nitems = !input_done && w->span < MAX_INFLIGHT ? 2 : 1;
                if (zmq_poll(items, nitems, w->inflight > 0 ? 100 : -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = zmq_err();
                        break;
                }
                if (nitems == 2 && items[1].revents)
                        reader_fill(rd);
                if (items[0].revents & ZMQ_POLLIN) {
                        r = drain_acks(sock, w, c);
                        answered |= r > 0;
                }

                now = mono_ms();
                if (r >= 0 && !answered && first_sent >= 0 && now - first_sent >= (int64_t)o->timeout_s * 1000) {
                        char why[64];
                        snprintf(why, sizeof(why), "no answer within %ds", o->timeout_s);
                        report_unacked(o, w, why);
                        r = -EHOSTUNREACH;
                } else if (r >= 0) {
                        r = resend_due(sock, w, now);
                        if (r == -ETIMEDOUT)
                                report_unacked(o, w, "no ack after " STRINGIFY(MAX_RESENDS) " resends");
                }
        }
        msgpack_sbuffer_destroy(&sb);

        if (r == -ENOMEM)
                fputs("rater-pub: out of memory\n", stderr);
        else if (r < 0 && r != -ETIMEDOUT && r != -EHOSTUNREACH)
                fprintf(stderr, "rater-pub: %s: %s\n", o->endpoint, zmq_strerror(-r));
        fprintf(stderr, "rater-pub: %" PRIu64 " sent, %" PRIu64 " ok, %" PRIu64 " duplicate, %" PRIu64 " rejected\n",
                c->sent, c->ok, c->duplicate, c->rejected);
        if (r < 0)
                return EXIT_UNREACHABLE;
        return c->rejected > 0 ? EXIT_REJECTED : EXIT_OK;
}

static void usage(FILE *f) {
        fputs("Usage: rater-pub [-e ENDPOINT] [--reliable] [-t TIMEOUT_SECONDS] [FILE]\n"
              "\n"
              "Publishes JSON lines {\"kind\": \"feedback\", ...fields} from FILE (or standard\n"
              "input) to raterd as events. `kind` is the topic; `ts` defaults to now.\n"
              "\n"
              "  -e, --endpoint ENDPOINT  default " DEFAULT_ENDPOINT ", with --reliable " DEFAULT_RELIABLE_ENDPOINT "\n"
              "  -r, --reliable           wait for an acknowledgement of every event, resend\n"
              "                           unacknowledged ones, report rejected ones\n"
              "  -t, --timeout SECONDS    wait this long for raterd (default 5)\n"
              "  -h, --help               show this help\n"
              "      --version            show the version\n"
              "\n"
              "Exit status: 0 all events accepted (ok or duplicate), 1 some rejected,\n"
              "2 bad input or usage, 3 raterd unreachable.\n",
              f);
}

/* Digits only: no sign, no space, no overflow. */
static int parse_seconds(const char *s, int *out) {
        long n = 0;

        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                n = n * 10 + (*s - '0');
                if (n > 86400)
                        return -ERANGE;
        }
        if (n == 0)
                return -ERANGE;
        *out = (int)n;
        return 0;
}

static int parse_argv(int argc, char **argv, Options *o) {
        enum { OPT_VERSION = 0x100 };
        static const struct option opts[] = {
                {"endpoint", required_argument, NULL, 'e'},
                {"reliable", no_argument, NULL, 'r'},
                {"timeout", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {NULL, 0, NULL, 0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "e:rt:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'e':
                        o->endpoint = optarg;
                        break;
                case 'r':
                        o->reliable = true;
                        break;
                case 't':
                        if (parse_seconds(optarg, &o->timeout_s) < 0) {
                                fprintf(stderr, "rater-pub: invalid timeout '%s' (expected whole seconds, 1 to 86400)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        puts("rater-pub " RATERD_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (argc - optind > 1) {
                fprintf(stderr, "rater-pub: unexpected argument '%s'\n", argv[optind + 1]);
                return -EINVAL;
        }
        if (optind < argc && strcmp(argv[optind], "-") != 0)
                o->path = argv[optind];
        if (!o->endpoint)
                o->endpoint = o->reliable ? DEFAULT_RELIABLE_ENDPOINT : DEFAULT_ENDPOINT;
        return 1;
}

int main(int argc, char **argv) {
        Options o = {.timeout_s = 5};
        Reader rd = {.fd = STDIN_FILENO, .name = "standard input"};
        Counters c = {0};
        int r;

        r = parse_argv(argc, argv, &o);
        if (r <= 0) {
                if (r < 0) {
                        fputc('\n', stderr);
                        usage(stderr);
                }
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        }
        if (o.path) {
                rd.name = o.path;
                rd.fd = open(o.path, O_RDONLY | O_CLOEXEC);
                if (rd.fd < 0) {
                        fprintf(stderr, "rater-pub: cannot open %s: %s\n", o.path, strerror(errno));
                        return EXIT_USAGE;
                }
        }

        r = o.reliable ? run_reliable(&o, &rd, &c) : run_fire_and_forget(&o, &rd, &c);
        reader_deinit(&rd);
        if (c.invalid > 0)
                fprintf(stderr, "rater-pub: %" PRIu64 " invalid line%s skipped\n", c.invalid, c.invalid == 1 ? "" : "s");
        if ((c.invalid > 0 || rd.error) && r < EXIT_USAGE)
                r = EXIT_USAGE;
        return r;
}
