/* daemon/config/config.c: the key table, its parsers and the validation pass.
 *
 * inih does the INI syntax; it reads through our line reader so that every
 * message names the line, including those of the validation pass.
 */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "index/indices.h"
#include "index/scope.h"
#include "proto/duration.h"
#include "util/error.h"

typedef int (*ParseFn)(const char *value, void *field, char *why, size_t whylen);

typedef struct {
        const char *section;
        const char *key;
        ParseFn parse;
        size_t offset;
} ConfigKey;

static int parse_string(const char *v, void *field, char *why, size_t n) {
        char **p = field;
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

static int parse_duration(const char *v, void *field, char *why, size_t n) {
        if (duration_parse(v, field) < 0) {
                snprintf(why, n, "invalid duration '%s' (expected e.g. 500ms, 30s, 15m, 1h, 7d)", v);
                return CONFIG_E_INVALID;
        }
        return 0;
}

static int parse_uint(const char *v, void *field, char *why, size_t n) {
        char *end;
        unsigned long long x;

        errno = 0;
        if (*v < '0' || *v > '9' || (x = strtoull(v, &end, 10), errno) || *end) {
                snprintf(why, n, "invalid unsigned integer '%s'", v);
                return CONFIG_E_INVALID;
        }
        *(uint64_t *)field = x;
        return 0;
}

static int parse_double(const char *v, void *field, char *why, size_t n) {
        char *end;
        double x;

        errno = 0;
        x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x)) {
                snprintf(why, n, "invalid number '%s'", v);
                return CONFIG_E_INVALID;
        }
        *(double *)field = x;
        return 0;
}

static const char *const severity_names[_SEV_MAX] = {"info", "warning", "critical"};

const char *config_severity_name(AlertSeverity s) {
        return s >= 0 && s < _SEV_MAX ? severity_names[s] : "off";
}

static int parse_severity_or_off(const char *v, void *field, char *why, size_t n) {
        if (strcmp(v, "off") == 0) {
                *(AlertSeverity *)field = SEV_OFF;
                return 0;
        }
        for (int i = 0; i < _SEV_MAX; i++)
                if (strcmp(v, severity_names[i]) == 0) {
                        *(AlertSeverity *)field = (AlertSeverity)i;
                        return 0;
                }
        snprintf(why, n, "invalid severity '%s' (expected off, info, warning or critical)", v);
        return CONFIG_E_INVALID;
}

static int parse_severity(const char *v, void *field, char *why, size_t n) {
        int r = parse_severity_or_off(v, field, why, n);
        if (r == 0 && *(AlertSeverity *)field == SEV_OFF) {
                snprintf(why, n, "invalid severity 'off' (expected info, warning or critical)");
                return CONFIG_E_INVALID;
        }
        return r;
}

#define C(s, k, fn, f) {s, k, fn, offsetof(Config, f)}
static const ConfigKey config_keys[] = {
        C("daemon", "state_dir", parse_string, state_dir),
        C("daemon", "control", parse_string, control),
        C("daemon", "retention", parse_duration, retention_ms),
        C("daemon", "dedup_horizon", parse_duration, dedup_horizon_ms),
        C("daemon", "allowed_lateness", parse_duration, allowed_lateness_ms),
        C("daemon", "max_storage", parse_uint, max_storage),
        C("ingest", "bind", parse_string, ingest_bind),
        C("ingest", "connect", parse_string, ingest_connect),
        C("ingest", "reliable_bind", parse_string, reliable_bind),
        C("ingest", "max_message", parse_uint, max_message),
        C("ingest", "batch_max", parse_uint, batch_max),
        C("ingest", "batch_delay", parse_duration, batch_delay_ms),
        C("alerts", "bind", parse_string, alerts_bind),
        C("sla", "first_response.low", parse_duration, first_response_ms[PRIORITY_LOW]),
        C("sla", "first_response.normal", parse_duration, first_response_ms[PRIORITY_NORMAL]),
        C("sla", "first_response.high", parse_duration, first_response_ms[PRIORITY_HIGH]),
        C("sla", "first_response.urgent", parse_duration, first_response_ms[PRIORITY_URGENT]),
        C("sla", "breach_alert", parse_severity_or_off, breach_alert),
        C("weights", "reliability", parse_double, weights[RATER_RELIABILITY]),
        C("weights", "assurance", parse_double, weights[RATER_ASSURANCE]),
        C("weights", "tangibles", parse_double, weights[RATER_TANGIBLES]),
        C("weights", "empathy", parse_double, weights[RATER_EMPATHY]),
        C("weights", "responsiveness", parse_double, weights[RATER_RESPONSIVENESS]),
        C("complaints", "unhandled_after", parse_duration, unhandled_after_ms),
        C("complaints", "points.unhandled", parse_double, points[POINTS_UNHANDLED]),
        C("complaints", "points.dissatisfied", parse_double, points[1 + OUTCOME_DISSATISFIED]),
        C("complaints", "points.somewhat_dissatisfied", parse_double, points[1 + OUTCOME_SOMEWHAT_DISSATISFIED]),
        C("complaints", "points.basically_satisfied", parse_double, points[1 + OUTCOME_BASICALLY_SATISFIED]),
        C("complaints", "points.satisfied", parse_double, points[1 + OUTCOME_SATISFIED]),
        C("complaints", "points.very_satisfied", parse_double, points[1 + OUTCOME_VERY_SATISFIED]),
        C("service_index", "satisfaction", parse_double, si_satisfaction),
        C("service_index", "sla", parse_double, si_sla),
        C("service_index", "complaints", parse_double, si_complaints),
};
#undef C

#define R(k, fn, f) {"rule", k, fn, offsetof(Rule, f)}
static const ConfigKey rule_keys[] = {
        R("index", parse_string, index),
        R("scope", parse_string, scope),
        R("window", parse_duration, window_ms),
        R("below", parse_double, threshold),
        R("above", parse_double, threshold),
        R("clear", parse_double, clear),
        R("min_samples", parse_uint, min_samples),
        R("for", parse_duration, for_ms),
        R("severity", parse_severity, severity),
        R("repeat", parse_duration, repeat_ms),
};
#undef R

int config_init(Config *c) {
        *c = (Config){
                .retention_ms = 35LL * 86400000,
                .dedup_horizon_ms = 7LL * 86400000,
                .allowed_lateness_ms = 24LL * 3600000,
                .max_storage = 4ULL << 30,
                .max_message = 65536,
                .batch_max = 65536,
                .batch_delay_ms = 10,
                .first_response_ms = {
                        [PRIORITY_LOW] = 24LL * 3600000,
                        [PRIORITY_NORMAL] = 4LL * 3600000,
                        [PRIORITY_HIGH] = 3600000,
                        [PRIORITY_URGENT] = 15LL * 60000,
                },
                .breach_alert = SEV_OFF,
                .weights = {
                        [RATER_RELIABILITY] = 0.32,
                        [RATER_RESPONSIVENESS] = 0.22,
                        [RATER_ASSURANCE] = 0.19,
                        [RATER_EMPATHY] = 0.16,
                        [RATER_TANGIBLES] = 0.11,
                },
                .unhandled_after_ms = 72LL * 3600000,
                .points = {
                        [POINTS_UNHANDLED] = -5,
                        [1 + OUTCOME_DISSATISFIED] = -3,
                        [1 + OUTCOME_SOMEWHAT_DISSATISFIED] = -1,
                        [1 + OUTCOME_BASICALLY_SATISFIED] = 0,
                        [1 + OUTCOME_SATISFIED] = 2,
                        [1 + OUTCOME_VERY_SATISFIED] = 5,
                },
                .si_satisfaction = 0.5,
                .si_sla = 0.3,
                .si_complaints = 0.2,
        };
        c->state_dir = strdup("/var/lib/raterd");
        c->control = strdup("ipc:///run/raterd/control");
        c->ingest_bind = strdup("tcp://127.0.0.1:7400");
        c->ingest_connect = strdup("");
        c->reliable_bind = strdup("tcp://127.0.0.1:7401");
        c->alerts_bind = strdup("tcp://127.0.0.1:7402");
        if (!c->state_dir || !c->control || !c->ingest_bind || !c->ingest_connect || !c->reliable_bind ||
            !c->alerts_bind)
                return -ENOMEM;
        return 0;
}

static void rule_deinit(Rule *r) {
        free(r->name);
        free(r->index);
        free(r->scope);
}

void config_deinit(Config *c) {
        free(c->state_dir);
        free(c->control);
        free(c->ingest_bind);
        free(c->ingest_connect);
        free(c->reliable_bind);
        free(c->alerts_bind);
        free(c->path);
        for (size_t i = 0; i < c->n_rules; i++)
                rule_deinit(&c->rules[i]);
        free(c->rules);
        *c = (Config){0};
}

/* Parsing state shared by the line reader and the handler. */
typedef struct {
        Config *config;
        const char *name;
        const char *text; /* config_load_string */
        FILE *file;
        unsigned line;
        char why[256];
        unsigned why_line;
        char seen[64][96]; /* "section\nkey" of the current section, for duplicates */
        size_t n_seen;
        char section[96];
} Parser;

/* One line per call, so p->line is the line inih is handling. A line longer
 * than inih's buffer is refused instead of silently split in two. */
static char *reader(char *str, int num, void *stream) {
        Parser *p = stream;
        size_t n = 0;
        int ch = 0;

        if (p->why_line)
                return NULL;
        for (;;) {
                if (p->file) {
                        ch = fgetc(p->file);
                } else {
                        ch = *p->text ? (unsigned char)*p->text++ : EOF;
                }
                if (ch == EOF || ch == '\n')
                        break;
                if (n + 2 >= (size_t)num) {
                        p->line++;
                        snprintf(p->why, sizeof(p->why), "line longer than %d bytes", num - 2);
                        p->why_line = p->line;
                        return NULL;
                }
                str[n++] = (char)ch;
        }
        if (ch == EOF && n == 0)
                return NULL;
        str[n++] = '\n';
        str[n] = 0;
        p->line++;
        return str;
}

static int invalid(Parser *p, const char *fmt, ...) {
        va_list ap;

        if (!p->why_line) {
                va_start(ap, fmt);
                vsnprintf(p->why, sizeof(p->why), fmt, ap);
                va_end(ap);
                p->why_line = p->line;
        }
        return 0;
}

static bool valid_rule_name(const char *s) {
        if (!*s || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '-' || *s == '_'))
                        return false;
        return true;
}

static Rule *rule_for_section(Parser *p, const char *name) {
        Config *c = p->config;
        Rule *r;

        for (size_t i = 0; i < c->n_rules; i++)
                if (strcmp(c->rules[i].name, name) == 0)
                        return &c->rules[i];
        r = realloc(c->rules, (c->n_rules + 1) * sizeof(*r));
        if (!r)
                return NULL;
        c->rules = r;
        r = &c->rules[c->n_rules];
        *r = (Rule){.min_samples = 1, .severity = SEV_WARNING, .line = p->line, .name = strdup(name)};
        if (!r->name)
                return NULL;
        c->n_rules++;
        return r;
}

static int handler(void *user, const char *section, const char *key, const char *value) {
        Parser *p = user;
        char why[200] = "";
        int r;

        if (strcmp(section, p->section) != 0) {
                /* A rule's keys all sit in one section: a second [rule NAME]
                 * further down is refused, not merged. */
                if (strncmp(section, "rule ", 5) == 0)
                        for (size_t i = 0; i < p->config->n_rules; i++)
                                if (strcmp(p->config->rules[i].name, section + 5) == 0)
                                        return invalid(p, "duplicate section [%s]", section);
                snprintf(p->section, sizeof(p->section), "%s", section);
                p->n_seen = 0;
        }
        for (size_t i = 0; i < p->n_seen; i++)
                if (strcmp(p->seen[i], key) == 0)
                        return invalid(p, "duplicate key '%s' in [%s]", key, section);
        if (p->n_seen < sizeof(p->seen) / sizeof(p->seen[0]))
                snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", key);

        if (strncmp(section, "rule ", 5) == 0) {
                const char *name = section + 5;
                Rule *rule;

                if (!valid_rule_name(name))
                        return invalid(p, "invalid rule name '%s' (letters, digits, '-' and '_', at most 64)", name);
                rule = rule_for_section(p, name);
                if (!rule)
                        return invalid(p, "out of memory");
                for (size_t i = 0; i < sizeof(rule_keys) / sizeof(rule_keys[0]); i++) {
                        if (strcmp(rule_keys[i].key, key) != 0)
                                continue;
                        if (strcmp(key, "below") == 0 || strcmp(key, "above") == 0) {
                                if (rule->has_op)
                                        return invalid(p, "rule '%s' has both 'below' and 'above'", name);
                                rule->has_op = true;
                                rule->op = key[0] == 'b' ? RULE_BELOW : RULE_ABOVE;
                        }
                        if (strcmp(key, "clear") == 0)
                                rule->has_clear = true;
                        r = rule_keys[i].parse(value, (char *)rule + rule_keys[i].offset, why, sizeof(why));
                        if (r)
                                return invalid(p, "%s", r < 0 ? "out of memory" : why);
                        return 1;
                }
                return invalid(p, "unknown key '%s' in [rule %s]", key, name);
        }

        for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
                if (strcmp(config_keys[i].section, section) != 0 || strcmp(config_keys[i].key, key) != 0)
                        continue;
                r = config_keys[i].parse(value, (char *)p->config + config_keys[i].offset, why, sizeof(why));
                if (r)
                        return invalid(p, "%s", r < 0 ? "out of memory" : why);
                return 1;
        }
        for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
                if (strcmp(config_keys[i].section, section) == 0)
                        return invalid(p, "unknown key '%s' in [%s]", key, section);
        return invalid(p, "unknown section [%s]", section);
}

/* all, KIND:* or one scope (names 1-64 bytes, channels 1-32). */
static bool scope_pattern_valid(const char *s) {
        static const char *const kinds[] = {"team:", "agent:", "channel:"};
        Scope scope;

        for (size_t i = 0; i < 3; i++)
                if (strncmp(s, kinds[i], strlen(kinds[i])) == 0 && strcmp(s + strlen(kinds[i]), "*") == 0)
                        return true;
        return scope_parse(s, &scope) == 0;
}

/* The validation pass: relations between keys, checked once after parsing. */
static int validate(Parser *p) {
        Config *c = p->config;
        double wsum = 0;

#define CHECK(cond, ln, ...)                                                                                         \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        p->line = (ln);                                                                                \
                        invalid(p, __VA_ARGS__);                                                                       \
                        return CONFIG_E_INVALID;                                                                       \
                }                                                                                                      \
        } while (0)

        CHECK(c->retention_ms >= 3600000, 0, "[daemon] retention must be at least 1h");
        CHECK(c->dedup_horizon_ms > 0, 0, "[daemon] dedup_horizon must be positive");
        CHECK(c->allowed_lateness_ms <= c->retention_ms, 0, "[daemon] allowed_lateness must not exceed retention");
        CHECK(c->max_storage >= (1ULL << 20), 0, "[daemon] max_storage must be at least 1048576 bytes");
        CHECK(c->max_message >= 64 && c->max_message <= (64ULL << 20), 0,
              "[ingest] max_message must be between 64 and 67108864");
        CHECK(c->batch_max >= 1 && c->batch_max <= 1000000, 0, "[ingest] batch_max must be between 1 and 1000000");
        CHECK(c->batch_delay_ms <= 10000, 0, "[ingest] batch_delay must be at most 10s");
        CHECK(*c->ingest_bind || *c->ingest_connect || *c->reliable_bind, 0,
              "no ingest endpoint: set [ingest] bind, connect or reliable_bind");
        CHECK(*c->control, 0, "[daemon] control must not be empty");
        for (int i = 0; i < _PRIORITY_MAX; i++)
                CHECK(c->first_response_ms[i] > 0, 0, "[sla] first_response.%s must be positive",
                      proto_priority_name((TicketPriority)i));
        for (int i = 0; i < _RATER_DIM_MAX; i++) {
                CHECK(c->weights[i] >= 0, 0, "[weights] %s must not be negative", proto_rater_dim_name((RaterDim)i));
                wsum += c->weights[i];
        }
        CHECK(wsum > 0, 0, "[weights] at least one weight must be positive");
        CHECK(c->si_satisfaction >= 0 && c->si_sla >= 0 && c->si_complaints >= 0 &&
                      c->si_satisfaction + c->si_sla + c->si_complaints > 0,
              0, "[service_index] weights must not be negative and must not all be zero");
        CHECK(c->unhandled_after_ms > 0, 0, "[complaints] unhandled_after must be positive");

        for (size_t i = 0; i < c->n_rules; i++) {
                Rule *r = &c->rules[i];
                CHECK(strcmp(r->name, "sla-breach") != 0, r->line,
                      "rule name 'sla-breach' is reserved for SLA breach alerts ([sla] breach_alert)");
                CHECK(r->index, r->line, "rule '%s' has no 'index'", r->name);
                CHECK(index_lookup(r->index) >= 0, r->line, "rule '%s': unknown index '%s'", r->name, r->index);
                CHECK(index_lookup(r->index) != IDX_GRADE, r->line,
                      "rule '%s': index 'grade' is a word, not a number: watch service_index instead", r->name);
                CHECK(r->scope, r->line, "rule '%s' has no 'scope'", r->name);
                CHECK(scope_pattern_valid(r->scope), r->line,
                      "rule '%s': invalid scope '%s' (expected all, team:*, team:NAME, agent:..., channel:...)",
                      r->name, r->scope);
                CHECK(r->window_ms > 0, r->line, "rule '%s' needs a positive 'window'", r->name);
                CHECK(r->window_ms <= c->retention_ms, r->line, "rule '%s': window longer than retention", r->name);
                CHECK(r->has_op, r->line, "rule '%s' needs 'below' or 'above'", r->name);
                if (!r->has_clear)
                        r->clear = r->threshold;
                CHECK(r->op == RULE_BELOW ? r->clear >= r->threshold : r->clear <= r->threshold, r->line,
                      "rule '%s': 'clear' must be on the healthy side of the threshold", r->name);
        }
#undef CHECK
        return 0;
}

static int load(Parser *p, char *err, size_t errlen) {
        int r = ini_parse_stream(reader, p, handler, p);

        if (r == -2)
                return -ENOMEM;
        if (!p->why_line && r > 0) {
                p->why_line = (unsigned)r;
                snprintf(p->why, sizeof(p->why), "syntax error (expected [section] or key = value)");
        }
        if (!p->why_line && validate(p) == 0)
                return 0;
        if (p->why_line)
                snprintf(err, errlen, "%s:%u: %s", p->name, p->why_line, p->why);
        else
                snprintf(err, errlen, "%s: %s", p->name, p->why);
        return CONFIG_E_INVALID;
}

int config_load(Config *c, const char *path, char *err, size_t errlen) {
        _cleanup_(freep) Parser *p = calloc(1, sizeof(Parser));
        int r;

        if (!p)
                return -ENOMEM;
        p->config = c;
        p->name = path;
        free(c->path);
        if (!(c->path = strdup(path)))
                return -ENOMEM;
        p->file = fopen(path, "re");
        if (!p->file) {
                r = -errno;
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return r;
        }
        r = load(p, err, errlen);
        fclose(p->file);
        return r;
}

int config_load_string(Config *c, const char *name, const char *text, char *err, size_t errlen) {
        _cleanup_(freep) Parser *p = calloc(1, sizeof(Parser));

        if (!p)
                return -ENOMEM;
        p->config = c;
        p->name = name;
        p->text = text;
        return load(p, err, errlen);
}
