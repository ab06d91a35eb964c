/* daemon/control/control.h: Control, the operator socket (a ROUTER on
 * `[daemon] control`) and the requests of proto/PROTOCOL.md. */
#pragma once

#include <zmq.h>

#include "alerts/alerts.h"
#include "config/config.h"
#include "ingest/stats.h"
#include "store/store.h"

typedef struct Control Control;

/* Binds the control socket (ipc: owner-only). Returns 0 or an error with
 * the endpoint named in err. The pointers must outlive the Control; alerts
 * may be NULL (no alert commands). */
int control_new(Control **out, void *zctx, const Config *c, Store *st, const Stats *stats, Alerts *alerts, char *err,
                size_t errlen);
/* Accepts NULL; returns NULL. */
Control *control_free(Control *c);

void control_pollitem(Control *c, zmq_pollitem_t *item);

/* See CommandContext.settle. */
void control_set_settle(Control *c, void (*fn)(void *userdata), void *userdata);

/* Answers up to `max` pending requests without blocking. */
void control_dispatch(Control *c, unsigned max);

static inline void control_freep(Control **c) {
        control_free(*c);
}
