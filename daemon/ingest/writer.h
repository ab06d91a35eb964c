/* daemon/ingest/writer.h: Writer, the thread that commits stages.
 *
 * LMDB's commit (B-tree writes, write(2), fdatasync) takes as long as the
 * validation of the next batch, so the two overlap: the main thread stages
 * batch N+1 while the writer commits batch N in one write transaction:
 * ticket and complaint events applied in arrival order, the deadline
 * sweeps when asked, the dedup entries, then the bucket deltas
 * (batch_flush). One job at a time; the main thread learns that it is done
 * from writer_fd() and takes the stage back with writer_take().
 *
 * Error model: the job's result is 0, STORE_E_FULL, STORE_E_FORMAT or
 * -errno; on any error the transaction is aborted and nothing of the stage
 * is stored. The writer never logs and never touches Stats: the main
 * thread does, when it takes the stage back.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "ingest/stage.h"
#include "store/store.h"

typedef struct Writer Writer;

int writer_new(Writer **out, Store *st, const Config *c);
/* Lets a submitted job finish, stops and joins the thread. */
Writer *writer_free(Writer *w);

/* Readable (POLLIN) when a submitted job is done. */
int writer_fd(const Writer *w);

/* Hands s to the thread; sweep_ms > 0 also runs the deadline sweeps up to
 * it. Only when !writer_busy(). */
void writer_submit(Writer *w, Stage *s, int64_t sweep_ms);

/* Totals over every finished job: time on the batch (from its transaction's
 * start to the end of its commit) and, of it, in LMDB's durable commit
 * (page writes and fsyncs). */
void writer_times(Writer *w, uint64_t *busy_ns, uint64_t *commit_ns);

/* Lets the thread run the once-a-second chores between jobs: a bounded
 * step of dedup pruning (entries past dedup_horizon) and of retention
 * (ingest/retention.h). Off by default (tests drive the writer alone). */
void writer_enable_chores(Writer *w);

/* Keys deleted by retention since start. */
uint64_t writer_pruned(Writer *w);

/* A job was submitted and not yet taken back. */
bool writer_busy(const Writer *w);

/* Takes back the stage of the submitted job with its result; NULL when
 * there is none, or (wait false) when it is not done yet. */
Stage *writer_take(Writer *w, bool wait, int *result);

/* The write transaction's work, run by the thread; exposed for tests. */
int writer_commit(Store *st, const Config *c, Stage *s, int64_t sweep_ms);

static inline void writer_freep(Writer **w) {
        writer_free(*w);
}
