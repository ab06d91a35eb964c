/* daemon/ingest/ingest.h: Ingest, the SUB and acknowledged ROUTER ingest
 * paths (CONTRACT.md sections 2.1 and 2.2) and the batch commit.
 *
 * Ingest reads messages without blocking, validates them, deduplicates and
 * aggregates them into the open batch inside one LMDB write transaction, and
 * on commit makes the batch durable before any `ok`/`duplicate` ack leaves.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "config/config.h"
#include "index/scope.h"
#include "ingest/batch.h"
#include "ingest/stats.h"
#include "store/store.h"

typedef struct Ingest Ingest;

/* What a durably committed batch changed, for alert evaluation. Valid only
 * during the callback. */
typedef struct {
        const Scope *scopes; /* distinct scopes whose buckets or gauges changed (with `all`) */
        size_t n_scopes;
        const Breach *breaches;
        size_t n_breaches;
} CommitInfo;

typedef void (*IngestCommitFn)(void *userdata, const CommitInfo *info);

/* Calls fn after every successful commit (after the acks went out). */
void ingest_on_commit(Ingest *in, IngestCommitFn fn, void *userdata);

/* Runs the deadline sweeps (SLA first-response deadlines, unhandled
 * complaints) up to now inside the open batch, opening one if needed; the
 * caller commits. Returns 0 or an error (logged and counted like a failed
 * commit). */
int ingest_sweep(Ingest *in, int64_t now_ms);

/* Creates the sockets on zctx and binds/connects every endpoint of c.
 * Returns 0, or an error with the failing endpoint named in err. */
int ingest_new(Ingest **out, void *zctx, const Config *c, Store *st, Stats *stats, char *err, size_t errlen);
/* Commits nothing: call ingest_commit first. Accepts NULL; returns NULL. */
Ingest *ingest_free(Ingest *in);

/* Fills up to 2 poll items (ZMQ_POLLIN); returns how many. */
int ingest_pollitems(Ingest *in, zmq_pollitem_t *items);

/* Reads what is ready, up to the room left in the batch. Sets *drained when
 * every socket reported EAGAIN. Returns 0 or a negative errno (socket). */
int ingest_read(Ingest *in, bool *drained);

/* Events in the open batch, and ms left before it must be committed (-1
 * when none is open). */
unsigned ingest_batch_events(const Ingest *in);
int64_t ingest_batch_deadline(const Ingest *in, int64_t mono_now);
bool ingest_batch_full(const Ingest *in);
/* Whether acknowledged-path clients wait on the open batch. */
bool ingest_batch_acks(const Ingest *in);

/* Commits the open batch durably, then sends its acks. A failed commit
 * drops the batch (no acks: reliable clients resend) and is logged and
 * counted. Returns 0 or the error. */
int ingest_commit(Ingest *in);

static inline void ingest_freep(Ingest **in) {
        ingest_free(*in);
}
