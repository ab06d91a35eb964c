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
} CommandContext;

int command_run(const CommandContext *ctx, json_object *request, json_object **result, char *err, size_t errlen);
