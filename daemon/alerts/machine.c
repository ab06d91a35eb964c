/* daemon/alerts/machine.c: the per-(rule, scope) state machine. */
#include "alerts/machine.h"

const char *alert_state_name(AlertStateKind s) {
        static const char *const names[_ALERT_STATE_MAX] = {"ok", "pending", "firing"};
        return s < _ALERT_STATE_MAX ? names[s] : "unknown";
}

static AlertStep fire(AlertState *st, int64_t now) {
        st->state = ALERT_FIRING;
        st->since_ms = now;
        st->published_ms = now;
        return STEP_FIRING;
}

AlertStep alert_state_step(AlertState *st, const AlertRule *r, bool has_value, double value, uint64_t samples,
                           int64_t now) {
        /* Too few samples say nothing about the service: hold. A null value
         * holds too, even under min_samples = 0. */
        if (!has_value || samples < r->min_samples)
                return STEP_NONE;
        st->has_value = true;
        st->value = value;
        st->samples = samples;

        switch (st->state) {
        case ALERT_OK:
                if (!alert_def_breached(&r->def, value))
                        return STEP_NONE;
                st->pending_since_ms = now;
                if (r->for_ms <= 0)
                        return fire(st, now);
                st->state = ALERT_PENDING;
                return STEP_PENDING;
        case ALERT_PENDING:
                if (!alert_def_breached(&r->def, value)) {
                        st->state = ALERT_OK;
                        st->pending_since_ms = 0;
                        return STEP_CANCELLED;
                }
                return now - st->pending_since_ms >= r->for_ms ? fire(st, now) : STEP_NONE;
        case ALERT_FIRING:
                /* Between threshold and clear the alert stays firing. */
                if (alert_def_cleared(&r->def, value)) {
                        st->state = ALERT_OK;
                        return STEP_RESOLVED;
                }
                if (r->repeat_ms > 0 && now - st->published_ms >= r->repeat_ms) {
                        /* Keep the cadence (evaluation runs about once a
                         * second, so a repeat comes up to a second late)
                         * unless a whole period was missed (raterd was
                         * down): then count from now. */
                        st->published_ms += r->repeat_ms;
                        if (now - st->published_ms >= r->repeat_ms)
                                st->published_ms = now;
                        return STEP_REPEAT;
                }
                return STEP_NONE;
        default:
                /* A state we do not know (a damaged record): start over. */
                st->state = ALERT_OK;
                return STEP_NONE;
        }
}
