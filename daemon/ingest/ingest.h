/* daemon/ingest/ingest.h: Ingest, the SUB and acknowledged ROUTER ingest
 * paths (CONTRACT.md sections 2.1 and 2.2) and the batch commit.
 *
 * Ingest reads messages without blocking, validates them, deduplicates and
 * aggregates them into the open batch; a closed batch is committed by the
 * writer thread (ingest/writer.h) while the next one fills, and is durable
 * before any of its `ok`/`duplicate` acks leaves.
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

/* Asks the open batch to run the deadline sweeps (SLA first-response
 * deadlines, unhandled complaints) up to now when one is due, opening it if
 * needed; the caller commits. Returns 0 or an error reading the store. */
int ingest_sweep(Ingest *in, int64_t now_ms);

/* Creates the sockets on zctx and binds/connects every endpoint of c.
 * Returns 0, or an error with the failing endpoint named in err. */
int ingest_new(Ingest **out, void *zctx, const Config *c, Store *st, Stats *stats, char *err, size_t errlen);
/* Commits nothing: call ingest_commit first. Accepts NULL; returns NULL. */
Ingest *ingest_free(Ingest *in);

/* Fills up to 3 poll items (ZMQ_POLLIN): the sockets and the writer's
 * wake-up fd; returns how many. Call ingest_reap() after every poll. */
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

/* Closes the open batch: hands it to the writer when the writer is idle;
 * otherwise it stays open (and, once full, its sockets are left out of the
 * poll) until the writer is done. Never blocks. Returns 0. */
int ingest_commit(Ingest *in);

/* Settles the batch in flight if the writer is done with it: on success
 * its counts, acks and the commit callback; a failed commit drops it (no
 * acks: reliable clients resend), logged and counted. Never blocks. */
void ingest_reap(Ingest *in);

/* Keys deleted by retention since start (the writer thread prunes). */
uint64_t ingest_pruned(Ingest *in);

/* Commits everything staged and waits until it is durable and settled:
 * before answering an operator, and at shutdown. */
void ingest_sync(Ingest *in);

static inline void ingest_freep(Ingest **in) {
        ingest_free(*in);
}
