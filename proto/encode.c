/* proto/encode.c: JSON objects to v1 event messages (topic + msgpack map)
 * for the clients. The conversion is type for type and never validates the
 * event itself: that is the daemon's job, and a tool that publishes exactly
 * what it was given is what lets tests send bad events on purpose.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

/* proto/ is built without the daemon's include path, so it carries the
 * few cleanup helpers it needs rather than reaching into daemon/util. */
#define _cleanup_(f) __attribute__((cleanup(f)))

static void freep(char **p) {
        free(*p);
}

static void json_object_putp(json_object **o) {
        json_object_put(*o);
}

static void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;

        if (err && errlen > 0) {
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* Finds what msgpack cannot carry faithfully before a single byte is packed,
 * so that a failed conversion leaves the payload buffer untouched. */
static int check_value(json_object *o, char *err, size_t errlen) {
        switch (json_object_get_type(o)) {
        case json_type_double:
                if (!isfinite(json_object_get_double(o)))
                        return fail(err, errlen, "%s", "number is not finite");
                return 0;
        case json_type_object: {
                json_object_object_foreach(o, key, val) {
                        (void)key;
                        int r = check_value(val, err, errlen);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        int r = check_value(json_object_array_get_idx(o, i), err, errlen);
                        if (r < 0)
                                return r;
                }
                return 0;
        default:
                return 0;
        }
}

static int pack_str(msgpack_packer *pk, const char *s, size_t len) {
        if (msgpack_pack_str(pk, len) < 0)
                return -ENOMEM;
        return msgpack_pack_str_body(pk, s, len) < 0 ? -ENOMEM : 0;
}

/* msgpack-c's packer reports only "the write callback failed"; with an
 * sbuffer that means realloc failed, hence -ENOMEM throughout. */
static int pack_value(msgpack_packer *pk, json_object *o) {
        int r = 0;

        switch (json_object_get_type(o)) {
        case json_type_null:
                r = msgpack_pack_nil(pk);
                break;
        case json_type_boolean:
                r = json_object_get_boolean(o) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
                break;
        case json_type_int: {
                /* json-c keeps integers above INT64_MAX as uint64, where
                 * get_int64 would clamp; get_uint64 returns both kinds of
                 * non-negative value exactly. */
                int64_t v = json_object_get_int64(o);
                r = v < 0 ? msgpack_pack_int64(pk, v) : msgpack_pack_uint64(pk, json_object_get_uint64(o));
                break;
        }
        case json_type_double:
                r = msgpack_pack_double(pk, json_object_get_double(o));
                break;
        case json_type_string:
                return pack_str(pk, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        case json_type_array: {
                size_t n = json_object_array_length(o);
                if (msgpack_pack_array(pk, n) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        r = pack_value(pk, json_object_array_get_idx(o, i));
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case json_type_object: {
                if (msgpack_pack_map(pk, (size_t)json_object_object_length(o)) < 0)
                        return -ENOMEM;
                json_object_object_foreach(o, key, val) {
                        r = pack_str(pk, key, strlen(key));
                        if (r >= 0)
                                r = pack_value(pk, val);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        }
        return r < 0 ? -ENOMEM : 0;
}

int proto_encode_json_event(json_object *obj, int64_t now_ms, char **topic, msgpack_sbuffer *payload, char *err,
                            size_t errlen) {
        _cleanup_(freep) char *t = NULL;
        json_object *kind, *ts;
        msgpack_packer pk;
        size_t start = payload->size, n;
        bool add_ts;
        int r = 0;

        if (!json_object_is_type(obj, json_type_object))
                return fail(err, errlen, "%s", "not a JSON object");
        if (!json_object_object_get_ex(obj, "kind", &kind))
                return fail(err, errlen, "%s", "missing \"kind\"");
        if (!json_object_is_type(kind, json_type_string) || json_object_get_string_len(kind) == 0)
                return fail(err, errlen, "%s", "\"kind\" is not a non-empty string");
        if (strlen(json_object_get_string(kind)) != (size_t)json_object_get_string_len(kind))
                return fail(err, errlen, "%s", "\"kind\" contains a NUL character");
        r = check_value(obj, err, errlen);
        if (r < 0)
                return r;

        t = strdup(json_object_get_string(kind));
        if (!t) {
                snprintf(err, errlen, "%s", "out of memory");
                return -ENOMEM;
        }

        add_ts = !json_object_object_get_ex(obj, "ts", &ts);
        n = (size_t)json_object_object_length(obj) - 1 + add_ts;

        msgpack_packer_init(&pk, payload, msgpack_sbuffer_write);
        if (msgpack_pack_map(&pk, n) < 0)
                r = -ENOMEM;
        json_object_object_foreach(obj, key, val) {
                if (r < 0)
                        break;
                if (strcmp(key, "kind") == 0)
                        continue;
                r = pack_str(&pk, key, strlen(key));
                if (r >= 0)
                        r = pack_value(&pk, val);
        }
        if (r >= 0 && add_ts) {
                r = pack_str(&pk, "ts", 2);
                if (r >= 0 && msgpack_pack_int64(&pk, now_ms) < 0)
                        r = -ENOMEM;
        }
        if (r < 0) {
                payload->size = start;
                snprintf(err, errlen, "%s", "out of memory");
                return r;
        }

        *topic = t;
        t = NULL;
        return 0;
}

/* json-c clamps integer literals beyond int64/uint64 to the nearest bound
 * without telling, even in strict mode. We refuse them rather than publish a
 * number the user did not write: scan the (already valid) text for integer
 * literals outside strings and range-check each. */
static int check_integer_literals(const char *s, size_t len, char *err, size_t errlen) {
        for (size_t i = 0; i < len;) {
                if (s[i] == '"') {
                        for (i++; i < len && s[i] != '"'; i++)
                                if (s[i] == '\\')
                                        i++;
                        i++;
                        continue;
                }
                if (s[i] != '-' && (s[i] < '0' || s[i] > '9')) {
                        i++;
                        continue;
                }

                size_t b = i;
                bool integer = true;
                for (; i < len && strchr("+-0123456789.eE", s[i]); i++)
                        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
                                integer = false;
                if (!integer)
                        continue;

                char buf[32];
                if (i - b >= sizeof(buf))
                        return fail(err, errlen, "integer %.*s... out of range", 20, s + b);
                memcpy(buf, s + b, i - b);
                buf[i - b] = '\0';
                errno = 0;
                if (buf[0] == '-')
                        (void)strtoll(buf, NULL, 10);
                else
                        (void)strtoull(buf, NULL, 10);
                if (errno == ERANGE)
                        return fail(err, errlen, "integer %s out of range", buf);
        }
        return 0;
}

int proto_encode_json_line(const char *line, size_t len, int64_t now_ms, char **topic, msgpack_sbuffer *payload,
                           char *err, size_t errlen) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_(json_object_putp) json_object *obj = NULL;
        enum json_tokener_error e;
        int r;

        if (len > INT32_MAX)
                return fail(err, errlen, "%s", "line too long");
        tok = json_tokener_new();
        if (!tok) {
                snprintf(err, errlen, "%s", "out of memory");
                return -ENOMEM;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

        obj = json_tokener_parse_ex(tok, line, (int)len);
        e = json_tokener_get_error(tok);
        if (e == json_tokener_continue) {
                /* The tokener waits for more input after a top-level scalar
                 * or an unfinished value; a NUL byte tells it there is none. */
                obj = json_tokener_parse_ex(tok, "", 1);
                e = json_tokener_get_error(tok);
        } else if (e == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
                /* strict mode already refuses trailing text; this is an
                 * embedded NUL byte, where the tokener stops. */
                return fail(err, errlen, "%s", "invalid JSON: NUL byte in line");
        }
        if (e != json_tokener_success)
                return fail(err, errlen, "invalid JSON: %s", json_tokener_error_desc(e));
        if (!obj) /* the line was `null` */
                return fail(err, errlen, "%s", "not a JSON object");

        r = check_integer_literals(line, len, err, errlen);
        if (r < 0)
                return r;
        return proto_encode_json_event(obj, now_ms, topic, payload, err, errlen);
}
