/* daemon/alerts/machine.h: AlertState, the state of one (rule, scope), and
 * the one function that moves it (CONTRACT.md section 4):
 *
 *            condition holds, for > 0           held for `for`
 *     ok ----------------------------> pending -----------------> firing
 *      ^  \___________________________________________________/    |
 *      |      condition holds, for = 0                             |
 *      +------ pending: condition stops holding                    |
 *      +------ firing: value crossed `clear` ----------------------+
 *
 * A firing alert whose rule has `repeat` is published again every repeat,
 * counted from when it started firing.
 * With no value (no samples) or fewer than min_samples samples the state
 * holds: no transition, no repeat.
 *
 * Pure: no storage, no sockets, no clock; `now` comes from the caller.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "alerts/rule.h"

typedef enum { ALERT_OK = 0, ALERT_PENDING, ALERT_FIRING, _ALERT_STATE_MAX } AlertStateKind;

typedef struct {
        uint8_t state;            /* AlertStateKind */
        bool has_value;           /* value and samples were evaluated at least once */
        int64_t since_ms;         /* when it started firing (firing only) */
        int64_t pending_since_ms; /* when the condition started holding (pending, firing) */
        int64_t published_ms;     /* last firing or repeat notification (sent or silenced) */
        double value;             /* last evaluated value */
        uint64_t samples;
} AlertState;

typedef enum {
        STEP_NONE = 0,  /* no transition (value and samples may be updated) */
        STEP_PENDING,   /* ok -> pending */
        STEP_FIRING,    /* ok or pending -> firing: publish */
        STEP_RESOLVED,  /* firing -> ok: publish */
        STEP_CANCELLED, /* pending -> ok */
        STEP_REPEAT,    /* firing, repeat is due: publish again */
} AlertStep;

/* Evaluates the rule against one value (has_value false: the index is
 * null) with `samples` behind it at time now, updating *st. Returns what
 * happened. */
AlertStep alert_state_step(AlertState *st, const AlertRule *r, bool has_value, double value, uint64_t samples,
                           int64_t now);

/* "ok", "pending", "firing". */
const char *alert_state_name(AlertStateKind s);
