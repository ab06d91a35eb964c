/* daemon/alerts/rule.c: compiling rules, scope patterns, the threshold
 * tests. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alerts/rule.h"
#include "index/compute.h"

static const char *const kind_prefix[_SCOPE_KIND_MAX] = {"all", "team:", "agent:", "channel:"};

int scope_pattern_parse(const char *text, ScopePattern *out) {
        *out = (ScopePattern){0};
        for (int k = SCOPE_TEAM; k < _SCOPE_KIND_MAX; k++) {
                size_t l = strlen(kind_prefix[k]);
                if (strncmp(text, kind_prefix[k], l) == 0 && strcmp(text + l, "*") == 0) {
                        out->kind = (uint8_t)k;
                        out->wildcard = true;
                        return 0;
                }
        }
        if (scope_parse(text, &out->scope) < 0)
                return -EINVAL;
        out->kind = out->scope.kind;
        return 0;
}

bool scope_pattern_match(const ScopePattern *p, const Scope *s) {
        if (p->kind != s->kind)
                return false;
        return p->wildcard || (p->scope.len == s->len && memcmp(p->scope.name, s->name, s->len) == 0);
}

size_t scope_pattern_format(const ScopePattern *p, char *buf) {
        if (!p->wildcard)
                return scope_format(&p->scope, buf);
        return (size_t)snprintf(buf, SCOPE_TEXT_MAX, "%s*", kind_prefix[p->kind]);
}

int alert_rule_compile(AlertRule *out, const Rule *r, char *err, size_t errlen) {
        int id;

        *out = (AlertRule){0};
        if (!r->name || strlen(r->name) > RULE_NAME_MAX) {
                snprintf(err, errlen, "rule name missing or longer than %d", RULE_NAME_MAX);
                return -EINVAL;
        }
        strcpy(out->name, r->name);
        id = r->index ? index_lookup(r->index) : -1;
        if (id < 0 || id == IDX_GRADE) {
                snprintf(err, errlen, "rule '%s': index '%s' cannot be watched", r->name, r->index ? r->index : "");
                return -EINVAL;
        }
        if (!r->scope || scope_pattern_parse(r->scope, &out->pattern) < 0) {
                snprintf(err, errlen, "rule '%s': invalid scope '%s'", r->name, r->scope ? r->scope : "");
                return -EINVAL;
        }
        if (r->window_ms <= 0 || !r->has_op || r->severity < 0 || r->severity >= _SEV_MAX) {
                snprintf(err, errlen, "rule '%s' is incomplete", r->name);
                return -EINVAL;
        }
        out->def = (AlertDef){
                .index = (IndexId)id,
                .window_ms = r->window_ms,
                .op = r->op,
                .severity = r->severity,
                .threshold = r->threshold,
                .clear = r->has_clear ? r->clear : r->threshold,
        };
        out->min_samples = r->min_samples;
        out->for_ms = r->for_ms;
        out->repeat_ms = r->repeat_ms;
        out->needs = compute_needs((IndexId)id);
        return 0;
}

bool alert_def_breached(const AlertDef *d, double value) {
        return d->op == RULE_BELOW ? value < d->threshold : value > d->threshold;
}

bool alert_def_cleared(const AlertDef *d, double value) {
        return d->op == RULE_BELOW ? value >= d->clear : value <= d->clear;
}
