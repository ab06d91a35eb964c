/* tests/unit/test-encode.c: proto_encode_json_line(), JSON lines to event
 * messages. Each row is one input line and the exact message expected: the
 * topic and the payload rendered with its msgpack types (see describe()), or
 * the failure. Rows name the clause of proto/encode.h they check.
 */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/encode.h"
#include "proto/event.h"

#define NOW 1700000000000LL

/* Renders a msgpack object with its wire type: u<uint> i<negative int>
 * d<float> s"<str>" T F nil {k:v,...} [v,...]. Keys are strings in every
 * row, written bare. */
static void describe(const msgpack_object *o, char *buf, size_t size, size_t *at) {
#define OUT(...)                                                                                                       \
        do {                                                                                                           \
                if (*at < size)                                                                                        \
                        *at += (size_t)snprintf(buf + *at, size - *at, __VA_ARGS__);                                   \
        } while (0)
        switch (o->type) {
        case MSGPACK_OBJECT_NIL:
                OUT("nil");
                break;
        case MSGPACK_OBJECT_BOOLEAN:
                OUT("%s", o->via.boolean ? "T" : "F");
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                OUT("u%" PRIu64, o->via.u64);
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                OUT("i%" PRId64, o->via.i64);
                break;
        case MSGPACK_OBJECT_FLOAT32:
                OUT("f%g", o->via.f64);
                break;
        case MSGPACK_OBJECT_FLOAT64:
                OUT("d%g", o->via.f64);
                break;
        case MSGPACK_OBJECT_STR:
                OUT("s\"");
                for (uint32_t i = 0; i < o->via.str.size; i++) {
                        unsigned char c = (unsigned char)o->via.str.ptr[i];
                        if (c < 0x20 || c >= 0x7f)
                                OUT("\\x%02x", c);
                        else
                                OUT("%c", c);
                }
                OUT("\"");
                break;
        case MSGPACK_OBJECT_ARRAY:
                OUT("[");
                for (uint32_t i = 0; i < o->via.array.size; i++) {
                        if (i)
                                OUT(",");
                        describe(&o->via.array.ptr[i], buf, size, at);
                }
                OUT("]");
                break;
        case MSGPACK_OBJECT_MAP:
                OUT("{");
                for (uint32_t i = 0; i < o->via.map.size; i++) {
                        const msgpack_object *k = &o->via.map.ptr[i].key;
                        if (i)
                                OUT(",");
                        if (k->type == MSGPACK_OBJECT_STR)
                                OUT("%.*s:", (int)k->via.str.size, k->via.str.ptr);
                        else
                                OUT("<non-string key>:");
                        describe(&o->via.map.ptr[i].val, buf, size, at);
                }
                OUT("}");
                break;
        default:
                OUT("<type %d>", (int)o->type);
                break;
        }
#undef OUT
}

struct row {
        const char *clause;
        const char *line;
        const char *topic;      /* NULL: the line must be refused */
        const char *payload;    /* describe() of the payload, or a substring of the error */
};

static const struct row rows[] = {
        /* conversion, type for type */
        {"strings and uint", "{\"kind\":\"feedback\",\"id\":\"e1\",\"ts\":1700000000000,\"score\":4}", "feedback",
         "{id:s\"e1\",ts:u1700000000000,score:u4}"},
        {"negative int is msgpack int", "{\"kind\":\"feedback\",\"ts\":1,\"score\":-3}", "feedback",
         "{ts:u1,score:i-3}"},
        {"int64 minimum", "{\"kind\":\"ticket\",\"ts\":-9223372036854775808}", "ticket",
         "{ts:i-9223372036854775808}"},
        {"int64 maximum", "{\"kind\":\"ticket\",\"ts\":9223372036854775807}", "ticket",
         "{ts:u9223372036854775807}"},
        {"uint above INT64_MAX", "{\"kind\":\"ticket\",\"ts\":0,\"n\":9223372036854775808}", "ticket",
         "{ts:u0,n:u9223372036854775808}"},
        {"uint64 maximum", "{\"kind\":\"ticket\",\"ts\":0,\"n\":18446744073709551615}", "ticket",
         "{ts:u0,n:u18446744073709551615}"},
        {"zero is uint", "{\"kind\":\"feedback\",\"ts\":0,\"nps\":0}", "feedback", "{ts:u0,nps:u0}"},
        {"float stays float", "{\"kind\":\"feedback\",\"ts\":0,\"score\":4.5,\"x\":1e3,\"y\":-0.25}", "feedback",
         "{ts:u0,score:d4.5,x:d1000,y:d-0.25}"},
        {"bool and null", "{\"kind\":\"feedback\",\"ts\":0,\"a\":true,\"b\":false,\"c\":null}", "feedback",
         "{ts:u0,a:T,b:F,c:nil}"},
        {"nested object and array",
         "{\"kind\":\"feedback\",\"ts\":0,\"rater\":{\"reliability\":5,\"empathy\":{\"x\":[1,-1,\"s\",[]]}},"
         "\"l\":[{}]}",
         "feedback", "{ts:u0,rater:{reliability:u5,empathy:{x:[u1,i-1,s\"s\",[]]}},l:[{}]}"},
        {"string escapes and NUL kept", "{\"kind\":\"feedback\",\"ts\":0,\"id\":\"a\\u0000b\\u00e9\\n\"}",
         "feedback", "{ts:u0,id:s\"a\\x00b\\xc3\\xa9\\x0a\"}"},
        {"digits inside strings are not numbers",
         "{\"kind\":\"feedback\",\"ts\":0,\"id\":\"99999999999999999999999\"}", "feedback",
         "{ts:u0,id:s\"99999999999999999999999\"}"},
        {"kind is the topic verbatim", "{\"kind\":\"feedback.eu-west\",\"ts\":0}", "feedback.eu-west", "{ts:u0}"},
        {"unknown kind passed through", "{\"kind\":\"bogus\",\"ts\":0}", "bogus", "{ts:u0}"},
        {"kind may come anywhere", "{\"id\":\"x\",\"kind\":\"ticket\",\"ts\":5}", "ticket", "{id:s\"x\",ts:u5}"},
        {"surrounding whitespace and CRLF", "  {\"kind\":\"ticket\",\"ts\":5}  \r\n", "ticket", "{ts:u5}"},

        /* ts injection */
        {"ts added when absent", "{\"kind\":\"feedback\",\"id\":\"e2\",\"score\":5}", "feedback",
         "{id:s\"e2\",score:u5,ts:u1700000000000}"},
        {"ts added to kind-only object", "{\"kind\":\"complaint\"}", "complaint", "{ts:u1700000000000}"},
        {"explicit null ts is kept", "{\"kind\":\"feedback\",\"ts\":null}", "feedback", "{ts:nil}"},
        {"wrongly typed ts is kept", "{\"kind\":\"feedback\",\"ts\":\"now\"}", "feedback", "{ts:s\"now\"}"},

        /* refusals */
        {"missing kind", "{\"id\":\"e1\",\"ts\":1}", NULL, "missing \"kind\""},
        {"kind not a string", "{\"kind\":7}", NULL, "\"kind\""},
        {"kind empty", "{\"kind\":\"\"}", NULL, "\"kind\""},
        {"kind with NUL", "{\"kind\":\"feed\\u0000back\"}", NULL, "NUL"},
        {"array is not an object", "[{\"kind\":\"feedback\"}]", NULL, "not a JSON object"},
        {"number is not an object", "42", NULL, "not a JSON object"},
        {"string is not an object", "\"feedback\"", NULL, "not a JSON object"},
        {"null is not an object", "null", NULL, "not a JSON object"},
        {"empty line", "", NULL, "invalid JSON"},
        {"truncated", "{\"kind\":\"feedback\",\"ts\":1", NULL, "invalid JSON"},
        {"trailing text", "{\"kind\":\"feedback\"} x", NULL, "invalid JSON"},
        {"two objects", "{\"kind\":\"feedback\"}{\"kind\":\"ticket\"}", NULL, "invalid JSON"},
        {"trailing comma", "{\"kind\":\"feedback\",}", NULL, "invalid JSON"},
        {"leading zero", "{\"kind\":\"feedback\",\"score\":04}", NULL, "invalid JSON"},
        {"invalid UTF-8", "{\"kind\":\"feedback\",\"id\":\"\xff\"}", NULL, "invalid JSON"},
        {"uint64 overflow", "{\"kind\":\"feedback\",\"n\":18446744073709551616}", NULL, "out of range"},
        {"int64 underflow", "{\"kind\":\"feedback\",\"n\":-9223372036854775809}", NULL, "out of range"},
        {"huge integer", "{\"kind\":\"feedback\",\"n\":[123456789012345678901234567890123456789]}", NULL,
         "out of range"},
        {"float overflow", "{\"kind\":\"feedback\",\"x\":1e400}", NULL, "not finite"},
        {"NaN", "{\"kind\":\"feedback\",\"x\":NaN}", NULL, "not finite"},
};

static int check_row(const struct row *r) {
        msgpack_sbuffer sb;
        msgpack_unpacked up;
        char *topic = NULL, err[256] = "", got[1024] = "";
        size_t at = 0, off = 0;
        int ret = 0, rc;

        msgpack_sbuffer_init(&sb);
        msgpack_unpacked_init(&up);
        rc = proto_encode_json_line(r->line, strlen(r->line), NOW, &topic, &sb, err, sizeof(err));

        if (!r->topic) {
                if (rc != -EINVAL || topic || sb.size != 0 || !strstr(err, r->payload)) {
                        fprintf(stderr, "FAIL %s: expected -EINVAL with \"%s\", got rc=%d err=\"%s\" size=%zu\n",
                                r->clause, r->payload, rc, err, sb.size);
                        ret = 1;
                }
                goto out;
        }
        if (rc != 0 || !topic) {
                fprintf(stderr, "FAIL %s: rc=%d err=\"%s\"\n", r->clause, rc, err);
                ret = 1;
                goto out;
        }
        if (strcmp(topic, r->topic) != 0) {
                fprintf(stderr, "FAIL %s: topic \"%s\", expected \"%s\"\n", r->clause, topic, r->topic);
                ret = 1;
        }
        if (msgpack_unpack_next(&up, sb.data, sb.size, &off) != MSGPACK_UNPACK_SUCCESS || off != sb.size) {
                fprintf(stderr, "FAIL %s: payload is not exactly one msgpack object\n", r->clause);
                ret = 1;
                goto out;
        }
        describe(&up.data, got, sizeof(got), &at);
        if (strcmp(got, r->payload) != 0) {
                fprintf(stderr, "FAIL %s:\n   got %s\n  want %s\n", r->clause, got, r->payload);
                ret = 1;
        }
out:
        free(topic);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
        return ret;
}

/* The payload is appended to what the caller already has, and a refused
 * line leaves it as it was. */
static int check_append(void) {
        static const char good[] = "{\"kind\":\"ticket\",\"ts\":1}";
        static const char bad[] = "{\"ts\":1}";
        msgpack_sbuffer sb;
        char *topic = NULL, err[128];
        int ret = 0;

        msgpack_sbuffer_init(&sb);
        msgpack_sbuffer_write(&sb, "AB", 2);
        if (proto_encode_json_line(bad, sizeof(bad) - 1, NOW, &topic, &sb, err, sizeof(err)) != -EINVAL ||
            sb.size != 2) {
                fprintf(stderr, "FAIL append: a refused line changed the buffer\n");
                ret = 1;
        }
        if (proto_encode_json_line(good, sizeof(good) - 1, NOW, &topic, &sb, err, sizeof(err)) != 0 ||
            sb.size != 2 + 5 || memcmp(sb.data, "AB\x81\xa2ts\x01", 7) != 0) {
                fprintf(stderr, "FAIL append: payload not appended after the existing bytes\n");
                ret = 1;
        }
        free(topic);
        msgpack_sbuffer_destroy(&sb);
        return ret;
}

/* What rater-pub produces from a well-formed line is a valid event for the
 * daemon's decoder (CONTRACT.md 2.1), including the injected ts. */
static int check_roundtrip(void) {
        static const char line[] = "{\"kind\":\"feedback\",\"id\":\"rt-1\",\"team\":\"billing\",\"score\":4,"
                                   "\"rater\":{\"empathy\":5},\"nps\":9}";
        ProtoDecoder *d = NULL;
        msgpack_sbuffer sb;
        ProtoDiag diag = {0};
        EventKind kind;
        Event ev;
        char *topic = NULL, err[128];
        int ret = 0, r;

        msgpack_sbuffer_init(&sb);
        if (proto_decoder_new(&d) < 0 ||
            proto_encode_json_line(line, sizeof(line) - 1, NOW, &topic, &sb, err, sizeof(err)) != 0 ||
            proto_parse_topic(topic, strlen(topic), &kind) != PROTO_OK) {
                fprintf(stderr, "FAIL roundtrip: setup\n");
                ret = 1;
                goto out;
        }
        r = proto_decode(d, kind, sb.data, sb.size, NOW, 60000, &ev, &diag);
        if (r != PROTO_OK || ev.ts != NOW || ev.score != 4 || ev.nps != 9 || ev.team.len != 7 ||
            !(ev.rater_mask & (1u << RATER_EMPATHY))) {
                fprintf(stderr, "FAIL roundtrip: decode gave %s (field %s)\n", proto_reason_name(r),
                        diag.field ? diag.field : "-");
                ret = 1;
        }
out:
        free(topic);
        msgpack_sbuffer_destroy(&sb);
        proto_decoder_free(d);
        return ret;
}

int main(void) {
        int failed = 0;

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                failed += check_row(&rows[i]);
        failed += check_append();
        failed += check_roundtrip();

        if (failed)
                fprintf(stderr, "%d check(s) failed\n", failed);
        return failed ? 1 : 0;
}
