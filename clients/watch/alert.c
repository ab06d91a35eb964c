/* clients/watch/alert.c: alert topics and payloads, and their text form
 * (see alert.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/cleanup.h"
#include "daemon/util/error.h"
#include "proto/duration.h"
#include "proto/mpwalk.h"
#include "watch/alert.h"

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

const char *alert_error(int e) {
        return e > 0 && e <= ALERT_E_TOO_LARGE ? alert_errors[e] : "unknown";
}

const char *const severities[N_SEVERITIES] = {"info", "warning", "critical"};

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

int alert_decode(const void *data, size_t size, json_object **out) {
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

int topic_parse(const void *data, size_t size, Topic *t) {
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

static json_object *field(json_object *a, const char *key) {
        json_object *v = NULL;

        json_object_object_get_ex(a, key, &v);
        return v;
}

const char *field_str(json_object *a, const char *key, const char *fallback) {
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

const char *value_text(json_object *v, const char *null_text, char *buf, size_t size) {
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
void format_line(json_object *a, const Topic *t, char *line, size_t size) {
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
