/* bench/daemon.h: Daemon, a raterd the benchmark starts for itself on
 * loopback (free ports, a temp dir, an ipc:// control socket), queries
 * through its control socket and stops with SIGTERM. Every wait is bounded.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define STATUS_TIMEOUT_MS 2000 /* one control request */

typedef struct {
        uint64_t received, applied, duplicate, rejected, failed, batches;
        uint64_t storage_bytes;
        uint64_t minute_buckets, hour_buckets, tickets, complaints, dedup;
        uint64_t alerts_firing;
        uint64_t writer_busy_ms, writer_commit_ms;
} DaemonStatus;

typedef struct {
        pid_t pid;
        char dir[64];
        char config[128];
        char state[128];
        char log[128];
        char control[160];
        char sub_ep[64], router_ep[64], alerts_ep[64];
        void *zctx;
        void *ctl; /* DEALER to the control socket; reopened after a timeout */
} Daemon;

/* Writes a configuration in d->dir (loopback endpoints on free ports, an
 * ipc:// control socket in the dir, `extra` appended verbatim: rules and
 * other sections), starts `raterd` and waits until it answers `status`.
 * d->dir must be set. Returns 0 or a negative errno (reported). */
int daemon_start(Daemon *d, const char *raterd, const char *extra);

/* SIGTERM, then waits (bounded) for exit 0. Closes the control socket and
 * the ZeroMQ context first. Returns 0 or a negative errno (reported). */
int daemon_stop(Daemon *d);

/* SIGKILL and reap, for a run that failed with the daemon still up. */
void daemon_kill(Daemon *d);

/* Whatever a failed run left: kills the daemon, closes the control socket
 * and terminates the ZeroMQ context. */
void daemon_close(Daemon *d);

/* One control request (a JSON object as text); on success *result holds the
 * answer's "result" (owned by the caller, json_object_put). Returns 0,
 * -ETIMEDOUT, -EPROTO when the answer is an error or unreadable, or a
 * negative errno. After a timeout the DEALER is dropped, so a late reply
 * can never be taken for the answer to a later request. */
int daemon_request(Daemon *d, const char *request, json_object **result, long timeout_ms);

/* `{"cmd":"status"}` into st. Returns like daemon_request. */
int daemon_status(Daemon *d, DaemonStatus *st, long timeout_ms);

/* Events the daemon finished with: applied + duplicate + rejected + failed. */
uint64_t status_done(const DaemonStatus *st);

/* Prints the last 4 KiB of the daemon's log on stderr. */
void daemon_log_tail(const Daemon *d);

/* The daemon binary: `given` when set, else ../daemon/raterd next to this
 * executable (same build tree) when it exists, else `dflt`. */
const char *daemon_resolve(const char *given, const char *dflt, char *buf, size_t len);
