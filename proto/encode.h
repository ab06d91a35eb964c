/* proto/encode.h: building v1 event messages for clients (rater-pub, bench,
 * tests). The daemon never encodes events. */
#pragma once

#include <json-c/json.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Converts one JSON object {"kind": K, ...fields} into an event message.
 * K is the topic verbatim (`feedback`, `ticket.eu-west`, ...); every other
 * member becomes a payload field, converted type for type (integers stay
 * integers: non-negative as msgpack uint, negative as int; floats float64;
 * strings str; objects map; arrays array; true/false bool; null nil).
 * When the object has no `ts`, now_ms is added as `ts`.
 *
 * On success returns 0, stores a malloc'd NUL-terminated topic in *topic
 * (caller frees) and appends the msgpack payload to *payload (caller
 * initialised). On failure returns -EINVAL and writes a one-line reason to
 * err (e.g. "not a JSON object", "missing \"kind\""). */
int proto_encode_json_event(json_object *obj, int64_t now_ms, char **topic, msgpack_sbuffer *payload, char *err,
                            size_t errlen);

/* Same, from one line of text (need not be NUL-terminated). */
int proto_encode_json_line(const char *line, size_t len, int64_t now_ms, char **topic, msgpack_sbuffer *payload,
                           char *err, size_t errlen);
