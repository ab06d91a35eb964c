/* daemon/alerts/alerts-private.h: the inside of Alerts, shared by the
 * engine (alerts.c) and its control requests (requests.c) only. */
#pragma once

#include "alerts/alerts.h"
#include "alerts/machine.h"
#include "alerts/notice.h"
#include "alerts/rule.h"
#include "alerts/silences.h"
#include "alerts/states.h"
#include "index/compute.h"
#include "util/log.h"

/* Rules sharing a window: one window sum per scope serves all of them. */
typedef struct {
        int64_t window_ms;
        size_t first, n;                 /* into Alerts.rules, sorted by window */
        unsigned needs[_SCOPE_KIND_MAX]; /* NEED_* of its rules, per scope kind */
        bool wildcard[_SCOPE_KIND_MAX];  /* a KIND:* rule */
        bool any[_SCOPE_KIND_MAX];       /* any rule of that kind */
        /* The bucket span of the last full scan that was committed: until
         * the window slides past a bucket boundary, only commits (which
         * evaluate the scopes they touch) can change a value. */
        bool scanned;
        uint32_t from, to;
        bool scan_now; /* alerts_tick: scanned in this pass */
} AlertGroup;

/* One evaluated change of a pass, applied after its commit. */
typedef struct {
        AlertNotice n;
        AlertState st;   /* the new state (threshold notices) */
        long slot;       /* index of the rule in Alerts.rules, -1: none */
        bool save_state; /* write alert_states */
        bool record;     /* append to the history */
        bool publish;    /* send on the PUB socket (not silenced, not pending/ok) */
} AlertChange;

struct Alerts {
        const Config *config;
        Store *store;
        AlertPub *pub;
        char *config_path;

        AlertRule *rules; /* sorted by window, then name */
        size_t n_rules;
        AlertGroup *groups;
        size_t n_groups;
        AlertSeverity breach_alert;

        AlertStates states;
        Silences silences;
        ScopeWindow *sw; /* scratch: sketches are large */

        AlertChange *changes;
        size_t n_changes, cap_changes;
        bool orphans_due; /* stored alerts of unknown rules wait for resolution */
        bool rescan_due;  /* a pass failed: the next tick scans every group */

        AlertsSinkFn sink;
        void *sink_userdata;

        RateLimit log_rl, err_rl;
};

/* The rule named name, or NULL. */
const AlertRule *alerts_rule(const Alerts *a, const char *name);

