/* daemon/ingest/writer.c: the commit thread (see writer.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ingest/complaints.h"
#include "ingest/retention.h"
#include "ingest/tickets.h"
#include "ingest/writer.h"
#include "store/dedup.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

/* Deadlines handled per sweep: bounds one commit's work; the rest waits for
 * the next tick (250 ms later). */
#define SWEEP_MAX 20000

/* Chores: once a second, between batches, a bounded step of dedup pruning
 * and of retention, each in a small transaction of its own. They run here
 * because a write transaction on the main thread would wait for LMDB's
 * write lock, held by this thread for a whole commit: a slow disk would
 * stop the loop. */
#define CHORE_MS 1000
#define DEDUP_PRUNE_SCAN 5000
#define RETENTION_SCAN 5000

struct Writer {
        Store *store;
        const Config *config;
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* job submitted, job done, or quit */
        Stage *job;          /* submitted, not yet taken back */
        int64_t sweep_ms;
        bool done, quit;
        int result;
        int efd;
        uint64_t busy_ns, commit_ns; /* totals over every job */
        bool chores;
        int64_t next_chore_ms; /* monotonic */
        Retention retention;
        uint8_t prune_key[1 + PROTO_ID_MAX];
        size_t prune_len;
        uint64_t pruned; /* keys deleted by retention, for status */
};

/* writer_commit, adding the time spent in LMDB's durable commit (page
 * writes and fsyncs) to *commit_ns. */
static int commit_timed(Store *st, const Config *c, Stage *s, int64_t sweep_ms, uint64_t *commit_ns) {
        MDB_txn *txn;
        const Event *held;
        const StageId *ids;
        size_t n;
        unsigned swept;
        int r;

        if ((r = store_begin(st, 0, &txn)))
                return r;
        held = stage_held(s, &n);
        for (size_t i = 0; i < n && !r; i++)
                r = held[i].kind == EVENT_TICKET ? tickets_apply(st, txn, stage_batch(s), c, &held[i])
                                                 : complaints_apply(st, txn, stage_batch(s), c, &held[i]);
        if (!r && sweep_ms > 0)
                r = tickets_sweep(st, txn, stage_batch(s), sweep_ms, SWEEP_MAX, &swept);
        if (!r && sweep_ms > 0)
                r = complaints_sweep(st, txn, stage_batch(s), c, sweep_ms, SWEEP_MAX, &swept);
        if (!r) {
                MDB_cursor *cur;
                ids = stage_ids_sorted(s, &n);
                if (!ids && n)
                        r = -ENOMEM;
                else if (!(r = store_err(mdb_cursor_open(txn, st->dedup, &cur)))) {
                        for (size_t i = 0; i < n && !r; i++)
                                r = dedup_put_at(cur, ids[i].kind, ids[i].id, ids[i].seen_ms);
                        mdb_cursor_close(cur);
                }
        }
        if (!r)
                r = batch_flush(stage_batch(s), st, txn);
        if (r) {
                mdb_txn_abort(txn);
                return r;
        }
        int64_t t0 = mono_ns();
        r = store_commit(txn);
        *commit_ns += (uint64_t)(mono_ns() - t0);
        return r;
}

int writer_commit(Store *st, const Config *c, Stage *s, int64_t sweep_ms) {
        uint64_t ns = 0;
        return commit_timed(st, c, s, sweep_ms, &ns);
}

/* Errors are logged: a failed step is tried again next second. */
static void run_chores(Writer *w) {
        int64_t now = now_ms();
        int r;

        r = dedup_prune(w->store, now, w->config->dedup_horizon_ms, DEDUP_PRUNE_SCAN, w->prune_key, &w->prune_len);
        if (r < 0 || r == STORE_E_FULL)
                log_warning("pruning expired dedup entries failed: %s", r < 0 ? strerror(-r) : "storage full");
        r = retention_step(&w->retention, w->store, w->config, now, RETENTION_SCAN);
        if (r)
                log_warning("deleting data past its retention failed: %s", r < 0 ? strerror(-r) : "storage error");
}

/* Waits for a job or quit; runs the chores when they are due. Called and
 * returns with the lock held. A finished job waits here until the main
 * thread takes it, so back-to-back jobs do not starve the chores. */
static void wait_for_job(Writer *w) {
        while (!w->quit && (!w->job || w->done)) {
                struct timespec until;
                int64_t left;

                if (!w->chores) {
                        pthread_cond_wait(&w->cond, &w->lock);
                        continue;
                }
                left = w->next_chore_ms - mono_ms();
                if (left <= 0) {
                        pthread_mutex_unlock(&w->lock);
                        run_chores(w);
                        pthread_mutex_lock(&w->lock);
                        w->pruned = w->retention.deleted;
                        w->next_chore_ms = mono_ms() + CHORE_MS;
                        continue;
                }
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += left / 1000;
                until.tv_nsec += (left % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&w->cond, &w->lock, &until);
        }
}

static void *run(void *userdata) {
        Writer *w = userdata;
        uint64_t one = 1;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                wait_for_job(w);
                if (!w->job || w->done)
                        break; /* quit with nothing left to do */
                pthread_mutex_unlock(&w->lock);
                uint64_t commit_ns = 0;
                int64_t t0 = mono_ns();
                int r = commit_timed(w->store, w->config, w->job, w->sweep_ms, &commit_ns);
                uint64_t busy_ns = (uint64_t)(mono_ns() - t0);
                pthread_mutex_lock(&w->lock);
                w->result = r;
                w->busy_ns += busy_ns;
                w->commit_ns += commit_ns;
                w->done = true;
                pthread_cond_broadcast(&w->cond);
                /* Wakes the poll loop; a full counter only means it is
                 * already awake. */
                (void)!write(w->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int writer_new(Writer **out, Store *st, const Config *c) {
        _cleanup_(writer_freep) Writer *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        w->store = st;
        w->config = c;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0)
                return -errno;
        pthread_mutex_init(&w->lock, NULL);
        {
                /* Timed waits on the monotonic clock: the wall clock may
                 * jump. */
                pthread_condattr_t attr;
                pthread_condattr_init(&attr);
                pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                pthread_cond_init(&w->cond, &attr);
                pthread_condattr_destroy(&attr);
        }
        if ((r = pthread_create(&w->thread, NULL, run, w)))
                return -r;
        w->started = true;
        *out = TAKE_PTR(w);
        return 0;
}

Writer *writer_free(Writer *w) {
        if (!w)
                return NULL;
        if (w->started) {
                pthread_mutex_lock(&w->lock);
                w->quit = true;
                pthread_cond_broadcast(&w->cond);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
                pthread_mutex_destroy(&w->lock);
                pthread_cond_destroy(&w->cond);
        }
        if (w->efd >= 0)
                close(w->efd);
        free(w);
        return NULL;
}

int writer_fd(const Writer *w) {
        return w->efd;
}

void writer_submit(Writer *w, Stage *s, int64_t sweep_ms) {
        pthread_mutex_lock(&w->lock);
        w->job = s;
        w->sweep_ms = sweep_ms;
        w->done = false;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

void writer_times(Writer *w, uint64_t *busy_ns, uint64_t *commit_ns) {
        pthread_mutex_lock(&w->lock);
        *busy_ns = w->busy_ns;
        *commit_ns = w->commit_ns;
        pthread_mutex_unlock(&w->lock);
}

void writer_enable_chores(Writer *w) {
        pthread_mutex_lock(&w->lock);
        w->chores = true;
        w->next_chore_ms = mono_ms() + CHORE_MS;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

uint64_t writer_pruned(Writer *w) {
        uint64_t n;

        pthread_mutex_lock(&w->lock);
        n = w->pruned;
        pthread_mutex_unlock(&w->lock);
        return n;
}

bool writer_busy(const Writer *w) {
        /* Only the main thread sets and clears job. */
        return w->job != NULL;
}

Stage *writer_take(Writer *w, bool wait, int *result) {
        Stage *s = NULL;
        uint64_t n;

        pthread_mutex_lock(&w->lock);
        if (w->job && !w->done && wait)
                while (!w->done)
                        pthread_cond_wait(&w->cond, &w->lock);
        if (w->job && w->done) {
                s = w->job;
                *result = w->result;
                w->job = NULL;
                w->done = false;
        }
        pthread_mutex_unlock(&w->lock);
        if (s)
                (void)!read(w->efd, &n, sizeof(n));
        return s;
}
