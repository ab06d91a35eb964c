/* daemon/server.h: Server, the daemon's one event loop: zmq_poll over the
 * ingest and control sockets, a signalfd and a timerfd. */
#pragma once

#include "config/config.h"

typedef struct Server Server;

/* Opens storage, binds every socket and sets up signals and timers.
 * Returns 0, or an error with a reason in err. Signals SIGTERM, SIGINT and
 * SIGHUP must already be blocked in every thread (main does it first). */
int server_new(Server **out, const Config *c, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
Server *server_free(Server *s);

/* Runs until SIGTERM/SIGINT, then drains the ingest sockets, commits and
 * returns 0; returns a negative errno on a fatal error. */
int server_run(Server *s);

static inline void server_freep(Server **s) {
        server_free(*s);
}
