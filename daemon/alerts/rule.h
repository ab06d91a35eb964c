/* daemon/alerts/rule.h: AlertRule, an alert rule of the configuration
 * (CONTRACT.md sections 4 and 5) compiled for evaluation, and ScopePattern,
 * the scope part of rules and silences.
 *
 * A rule watches one index over one window in every scope its pattern
 * matches. `below = T`: the condition holds while value < T and the alert
 * resolves once value >= clear; `above = T`: holds while value > T and
 * resolves once value <= clear. clear lies on the healthy side of T (config
 * validation), so between T and clear is a band where a firing alert stays
 * firing and an ok one stays ok: hysteresis against flapping.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "index/indices.h"
#include "index/scope.h"

#define RULE_NAME_MAX 64
/* The rule name of first-response breach notices ([sla] breach_alert). */
#define RULE_SLA_BREACH "sla-breach"

/* `all`, `KIND:*` or one exact scope. */
typedef struct {
        uint8_t kind; /* ScopeKind */
        bool wildcard;
        Scope scope; /* the exact scope when !wildcard */
} ScopePattern;

/* Parses all|team:*|team:NAME|agent:*|agent:NAME|channel:*|channel:NAME.
 * Returns 0 or -EINVAL. */
int scope_pattern_parse(const char *text, ScopePattern *out);
bool scope_pattern_match(const ScopePattern *p, const Scope *s);
/* Writes the pattern as text into buf (size >= SCOPE_TEXT_MAX); returns its
 * length. */
size_t scope_pattern_format(const ScopePattern *p, char *buf);

/* What a notification and a stored alert say about their rule: enough to
 * publish a resolution after the rule is gone. */
typedef struct {
        IndexId index;
        int64_t window_ms;
        RuleOp op;
        AlertSeverity severity;
        double threshold, clear;
} AlertDef;

typedef struct {
        char name[RULE_NAME_MAX + 1];
        AlertDef def;
        ScopePattern pattern;
        uint64_t min_samples;
        int64_t for_ms, repeat_ms;
        unsigned needs; /* NEED_* of index/compute.h */
        size_t group;   /* the engine's window group (alerts.c) */
} AlertRule;

/* Compiles a validated configuration rule into out (nothing is borrowed
 * from r). Returns 0, or -EINVAL with a reason in err for a rule the
 * configuration validation should have refused. */
int alert_rule_compile(AlertRule *out, const Rule *r, char *err, size_t errlen);

/* The condition holds: value beyond the threshold. */
bool alert_def_breached(const AlertDef *d, double value);
/* The value crossed back over clear: a firing alert resolves. */
bool alert_def_cleared(const AlertDef *d, double value);
