/* daemon/server.c: setup, the poll loop, housekeeping and shutdown.
 *
 * Loop order matters: settle the batch the writer thread finished, read
 * what is ready, close the open batch when it is full, its delay is up, or
 * the sockets are drained and reliable clients wait on it, and commit
 * everything before answering control requests, so an operator never reads
 * around an open batch.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <zmq.h>

#include "alerts/alerts.h"
#include "control/control.h"
#include "ingest/ingest.h"
#include "server.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

/* The tick sweeps deadlines (SLA breaches must be counted and alerted
 * within a second of passing); slower chores run every SLOW_TICKS ticks. */
#define TICK_MS 250
#define SLOW_TICKS 4

struct Server {
        const Config *config;
        void *zctx;
        Store *store;
        Ingest *ingest;
        Control *control;
        Alerts *alerts;
        Stats stats;
        int sigfd, timerfd;
        uint64_t watchdog_usec;
        uint64_t ticks;
};

Server *server_free(Server *s) {
        if (s) {
                ingest_free(s->ingest);
                control_free(s->control);
                alerts_free(s->alerts);
                if (s->zctx)
                        zmq_ctx_term(s->zctx);
                store_free(s->store);
                if (s->sigfd >= 0)
                        close(s->sigfd);
                if (s->timerfd >= 0)
                        close(s->timerfd);
                free(s);
        }
        return NULL;
}

static void settle(void *userdata) {
        ingest_sync(userdata);
}

int server_new(Server **out, const Config *c, char *err, size_t errlen) {
        _cleanup_(server_freep) Server *s = calloc(1, sizeof(*s));
        struct itimerspec its = {0};
        sigset_t mask;
        int64_t period_ms = TICK_MS;
        int r;

        if (!s)
                return -ENOMEM;
        s->sigfd = s->timerfd = -1;
        s->config = c;
        s->stats.started_ms = now_ms();

        if ((r = store_open(&s->store, c->state_dir, c->max_storage, err, errlen)))
                return r;
        s->zctx = zmq_ctx_new();
        if (!s->zctx)
                return zmq_err();
        if ((r = ingest_new(&s->ingest, s->zctx, c, s->store, &s->stats, err, errlen)) < 0)
                return r;
        if ((r = alerts_new(&s->alerts, s->zctx, c, s->store, err, errlen)))
                return r;
        ingest_on_commit(s->ingest, alerts_on_commit, s->alerts);
        if ((r = control_new(&s->control, s->zctx, c, s->store, &s->stats, s->alerts, err, errlen)) < 0)
                return r;
        control_set_settle(s->control, settle, s->ingest);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (s->sigfd < 0)
                return -errno;

        /* The watchdog wants a ping at least every WATCHDOG_USEC; the
         * housekeeping tick pings at half of it. */
        if (sd_watchdog_enabled(0, &s->watchdog_usec) > 0 && (int64_t)(s->watchdog_usec / 2000) < period_ms)
                period_ms = (int64_t)(s->watchdog_usec / 2000) > 0 ? (int64_t)(s->watchdog_usec / 2000) : 1;
        s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (s->timerfd < 0)
                return -errno;
        its.it_interval.tv_sec = period_ms / 1000;
        its.it_interval.tv_nsec = (period_ms % 1000) * 1000000;
        its.it_value = its.it_interval;
        if (timerfd_settime(s->timerfd, 0, &its, NULL) < 0)
                return -errno;

        *out = TAKE_PTR(s);
        return 0;
}

static void commit(Server *s) {
        (void)ingest_commit(s->ingest);
}

static void housekeeping(Server *s) {
        uint64_t ticks;

        if (read(s->timerfd, &ticks, sizeof(ticks)) < 0)
                return;
        if (s->watchdog_usec)
                sd_notify(0, "WATCHDOG=1");
        /* Deadlines pass without events: count them now, commit with the
         * open batch (or alone). */
        (void)ingest_sweep(s->ingest, now_ms());
        commit(s);
        if (s->ticks++ % SLOW_TICKS)
                return;
        /* Dedup pruning and retention run on the writer thread (see
         * ingest/writer.c): here only their count. */
        s->stats.pruned = ingest_pruned(s->ingest);
        /* Windows slide and `for`/`repeat` deadlines pass without events:
         * every rule in every scope, once a second. Errors are logged. */
        (void)alerts_tick(s->alerts, now_ms());
}

/* SIGHUP: the alert rules (and [sla] breach_alert) from the configuration
 * file again; a refused file keeps the rules in force. */
static void reload_rules(Server *s) {
        char err[1024] = "";
        int r = alerts_reload(s->alerts, err, sizeof(err));

        if (r)
                log_error("SIGHUP: rules not reloaded, the old ones stay: %s",
                          *err ? err : r < 0 ? strerror(-r) : "storage error");
}

/* Returns true when the loop must stop. */
static bool handle_signals(Server *s) {
        struct signalfd_siginfo si;
        bool stop = false;

        while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        stop = true;
                else if (si.ssi_signo == SIGHUP)
                        reload_rules(s);
        }
        return stop;
}

int server_run(Server *s) {
        zmq_pollitem_t items[6];
        int n_ingest, n, r;
        bool stop = false, drained = true;

        sd_notifyf(0, "READY=1\nSTATUS=ingesting; state in %s", s->config->state_dir);
        log_full(LOG_INFO, LOG_ID_STARTED, "raterd %s ready: state in %s", RATERD_VERSION, s->config->state_dir);

        while (!stop) {
                int64_t deadline = ingest_batch_deadline(s->ingest, mono_ms());
                long timeout = drained ? (deadline < 0 ? -1 : (long)deadline) : 0;

                n_ingest = ingest_pollitems(s->ingest, items);
                n = n_ingest;
                control_pollitem(s->control, &items[n++]);
                items[n++] = (zmq_pollitem_t){.fd = s->sigfd, .events = ZMQ_POLLIN};
                items[n++] = (zmq_pollitem_t){.fd = s->timerfd, .events = ZMQ_POLLIN};

                r = zmq_poll(items, n, timeout);
                if (r < 0 && errno != EINTR)
                        return zmq_err();

                if (items[n - 2].revents & ZMQ_POLLIN)
                        stop = handle_signals(s);
                ingest_reap(s->ingest);

                r = ingest_read(s->ingest, &drained);
                if (r < 0 && r != -EAGAIN && r != -EINTR)
                        log_error("reading ingest sockets failed: %s", zmq_strerror(-r));
                /* Drained sockets close a batch at once only when reliable
                 * clients wait on it; fire-and-forget events wait up to
                 * batch_delay for company, so a steady stream is committed
                 * in large batches rather than one small batch per poll. */
                if ((drained && ingest_batch_acks(s->ingest)) || ingest_batch_full(s->ingest) ||
                    ingest_batch_deadline(s->ingest, mono_ms()) == 0)
                        commit(s);

                if (items[n - 1].revents & ZMQ_POLLIN)
                        housekeeping(s);
                if (items[n_ingest].revents & ZMQ_POLLIN)
                        control_dispatch(s->control, 64); /* settles ingest first (settle()) */
        }

        sd_notify(0, "STOPPING=1\nSTATUS=draining");
        /* Drain what already arrived, commit it, ack it. Bounded: a
         * publisher that keeps sending cannot hold the shutdown. */
        for (unsigned i = 0; i < 64; i++) {
                ingest_read(s->ingest, &drained);
                ingest_sync(s->ingest);
                if (drained)
                        break;
        }
        log_full(LOG_INFO, LOG_ID_STOPPED, "raterd stopping: %llu events applied, %llu duplicate, %llu rejected",
                 (unsigned long long)s->stats.applied, (unsigned long long)s->stats.duplicate,
                 (unsigned long long)s->stats.rejected);
        return 0;
}
