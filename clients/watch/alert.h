/* clients/watch/alert.h: an alert message as rater-watch reads it
 * (CONTRACT.md section 4): its topic `alert.<severity>.<rule>`, its msgpack
 * map decoded into json-c, and the one-line text form. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#define MAX_TOPIC 256
#define MAX_KEY 128
#define MAX_DEPTH 8       /* containers an alert's values may nest */
#define LINE_MAX_ 2048

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

/* The text of an ALERT_E_* code. */
const char *alert_error(int e);

#define N_SEVERITIES 3
extern const char *const severities[N_SEVERITIES];

typedef struct {
        char text[MAX_TOPIC]; /* the whole topic */
        char severity[MAX_TOPIC];
        const char *rule; /* into severity[], after its NUL */
} Topic;

/* Splits topic bytes into t. Returns 0 or ALERT_E_TOPIC. */
int topic_parse(const void *data, size_t size, Topic *t);

/* Decodes a payload that must be exactly one msgpack map into a json-c
 * object (owned by the caller). Returns 0, ALERT_E_*, or -ENOMEM. */
int alert_decode(const void *data, size_t size, json_object **out);

/* A field's value as text: returns buf, or a string owned by v. Missing and
 * null give `null_text`; arrays and maps their JSON. */
const char *value_text(json_object *v, const char *null_text, char *buf, size_t size);

/* A string field of the alert, or fallback. */
const char *field_str(json_object *a, const char *key, const char *fallback);

/* The readable line of an alert, control characters shown as '?'. */
void format_line(json_object *a, const Topic *t, char *line, size_t size);
