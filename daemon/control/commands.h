/* daemon/control/commands.h: the control requests, JSON in, JSON out.
 * Each returns 0 with *result set (caller owns it), or an error with a
 * one-line reason in err. */
#pragma once

#include <json-c/json.h>

#include "alerts/alerts.h"
#include "config/config.h"
#include "ingest/stats.h"
#include "store/store.h"

typedef struct {
        const Config *config;
        Store *store;
        const Stats *stats;
        Alerts *alerts; /* NULL: no alert commands */
        /* Called before every command but `status`: commits what ingest
         * has staged, so an operator never reads around an open batch.
         * `status` only reads counters, and `applied` counts only durable
         * events: it must not force commits on a dashboard's schedule. */
        void (*settle)(void *userdata);
        void *settle_data;
} CommandContext;

int command_run(const CommandContext *ctx, json_object *request, json_object **result, char *err, size_t errlen);
