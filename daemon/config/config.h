/* daemon/config/config.h: raterd's configuration (CONTRACT.md section 5).
 *
 * Every key has a default (config_init), so an empty file runs. Keys are
 * parsed through one table (config.c) and checked once in a validation pass.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/event.h"

typedef enum { SEV_OFF = -1, SEV_INFO = 0, SEV_WARNING, SEV_CRITICAL, _SEV_MAX } AlertSeverity;
typedef enum { RULE_BELOW = 0, RULE_ABOVE } RuleOp;

/* Outcome points of section 3: index 0 is `unhandled`, then one per outcome
 * in ComplaintOutcome order. */
enum { POINTS_UNHANDLED = 0, _POINTS_MAX = 1 + _OUTCOME_MAX };

typedef struct {
        char *name;
        char *index;
        char *scope;
        int64_t window_ms;
        RuleOp op;
        bool has_op;
        double threshold;
        double clear;
        bool has_clear;
        uint64_t min_samples;
        int64_t for_ms;
        AlertSeverity severity;
        int64_t repeat_ms;
        unsigned line; /* where the section starts, for messages */
} Rule;

typedef struct {
        /* [daemon] */
        char *state_dir;
        char *control;
        int64_t retention_ms;
        int64_t dedup_horizon_ms;
        int64_t allowed_lateness_ms;
        uint64_t max_storage;   /* LMDB map size in bytes */
        /* [ingest] */
        char *ingest_bind;
        char *ingest_connect;
        char *reliable_bind;
        uint64_t max_message;
        uint64_t batch_max;     /* events per committed batch */
        int64_t batch_delay_ms; /* longest an event waits for its commit */
        /* [alerts] */
        char *alerts_bind;
        /* [sla] */
        int64_t first_response_ms[_PRIORITY_MAX];
        AlertSeverity breach_alert;
        /* [weights] */
        double weights[_RATER_DIM_MAX];
        /* [complaints] */
        int64_t unhandled_after_ms;
        double points[_POINTS_MAX];
        /* [service_index] */
        double si_satisfaction, si_sla, si_complaints;

        Rule *rules;
        size_t n_rules;

        char *path; /* the file config_load read (rules reload from it); NULL otherwise */
} Config;

/* Fills *c with the embedded defaults. Returns 0 or -ENOMEM. */
int config_init(Config *c);
/* Frees what *c owns; *c may then be initialised again. */
void config_deinit(Config *c);

/* Loads FILE over the defaults already in *c and records its path in
 * c->path. Returns 0; -ENOENT/-EACCES...
 * when the file cannot be read; CONFIG_E_INVALID with a message of the form
 * "FILE:LINE: reason" in err when it is refused. On failure *c is left with
 * a mix of values and must only be deinitialised. */
int config_load(Config *c, const char *path, char *err, size_t errlen);

/* Same, from a string (for tests); `name` stands for the file name. */
int config_load_string(Config *c, const char *name, const char *text, char *err, size_t errlen);

enum { CONFIG_E_INVALID = 1 };

const char *config_severity_name(AlertSeverity s);

static inline void config_deinitp(Config *c) {
        config_deinit(c);
}
