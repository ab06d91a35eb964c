/* daemon/ingest/ingest.c: reading, validating and committing events.
 *
 * Two batches are alive at once: the open one, filled here on the main
 * thread, and the one in flight, committed by the writer thread
 * (ingest/writer.h). An event is a duplicate when its (kind, id) is in the
 * open batch, in the batch in flight, or in LMDB's committed dedup table
 * (read in a read transaction renewed after every commit, so nothing falls
 * between the three).
 *
 * Durability sequence for an acknowledged event:
 *   1. its dedup entry, ticket or complaint state and bucket deltas are
 *      written in the writer's transaction for its batch;
 *   2. mdb_txn_commit() returns only after LMDB has fsync'd data and meta
 *      page (the env is opened without MDB_NOSYNC / MDB_NOMETASYNC);
 *   3. only then, back on the main thread, are `ok` and `duplicate` acks
 *      sent.
 * A kill -9 before 2 loses the batch and no ack was sent, so the client
 * resends; a kill -9 after 2 keeps it, and a resend is a `duplicate`.
 * When a commit fails, an open batch that counted duplicates against it
 * fails too: none of its acks may vouch for events that were not stored.
 */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"
#include "ingest/ingest.h"
#include "ingest/message.h"
#include "ingest/stage.h"
#include "ingest/tickets.h"
#include "ingest/writer.h"
#include "store/deadlines.h"
#include "store/dedup.h"
#include "util/clock.h"
#include "util/endpoints.h"
#include "util/error.h"
#include "util/log.h"

#define SOCKET_HWM 100000

/* A batch and its counts: the open one, or the one in flight. */
typedef struct {
        Stage *stage;
        unsigned n_events;
        uint64_t n_applied, n_duplicate;
        int64_t started;  /* mono ms of its first event or sweep */
        int64_t sweep_ms; /* run the deadline sweeps up to this; 0: no */
        bool leans;       /* counted duplicates against the batch in flight */
} Slot;

struct Ingest {
        const Config *config;
        Store *store;
        Stats *stats;
        void *sub, *router;
        ProtoDecoder *decoder;
        Writer *writer;
        Slot open, flight; /* flight.stage is NULL when the writer is idle */
        Stage *spare;
        MDB_txn *rtxn; /* dedup lookups in committed data */
        bool rtxn_live;
        msgpack_sbuffer reply;
        RateLimit reject_rl, fail_rl;
        IngestCommitFn on_commit;
        void *on_commit_data;
};

typedef enum { ST_OK, ST_DUPLICATE, ST_REJECTED, ST_FAILED } Status;

Ingest *ingest_free(Ingest *in) {
        if (in) {
                /* Joins the thread after its job: nothing is left running
                 * on the stages freed below. */
                writer_free(in->writer);
                if (in->rtxn)
                        mdb_txn_abort(in->rtxn);
                if (in->sub)
                        zmq_close(in->sub);
                if (in->router)
                        zmq_close(in->router);
                proto_decoder_free(in->decoder);
                stage_free(in->open.stage);
                stage_free(in->flight.stage);
                stage_free(in->spare);
                msgpack_sbuffer_destroy(&in->reply);
                free(in);
        }
        return NULL;
}

static int socket_new(void *zctx, int type, const Config *c, void **out) {
        int hwm = SOCKET_HWM, linger = 1000;
        int64_t maxmsg = (int64_t)c->max_message;
        void *s = zmq_socket(zctx, type);

        if (!s)
                return zmq_err();
        /* ZMQ_MAXMSGSIZE makes ZeroMQ drop an oversized frame (and the peer
         * that sent it) before it is buffered: memory stays bounded. */
        if (zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) < 0 ||
            zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
            zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0 ||
            zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0) {
                int r = zmq_err();
                zmq_close(s);
                return r;
        }
        *out = s;
        return 0;
}

int ingest_new(Ingest **out, void *zctx, const Config *c, Store *st, Stats *stats, char *err, size_t errlen) {
        _cleanup_(ingest_freep) Ingest *in = calloc(1, sizeof(*in));
        int r;

        if (!in)
                return -ENOMEM;
        in->config = c;
        in->store = st;
        in->stats = stats;
        in->reject_rl = (RateLimit)RATELIMIT_INIT(10000, 10);
        in->fail_rl = (RateLimit)RATELIMIT_INIT(10000, 5);
        msgpack_sbuffer_init(&in->reply);
        if ((r = proto_decoder_new(&in->decoder)) < 0 || (r = stage_new(&in->open.stage)) < 0 ||
            (r = stage_new(&in->spare)) < 0 || (r = writer_new(&in->writer, st, c)) < 0)
                return r;
        writer_enable_chores(in->writer);

        if (*c->ingest_bind || *c->ingest_connect) {
                if ((r = socket_new(zctx, ZMQ_SUB, c, &in->sub)) < 0)
                        return r;
                if (zmq_setsockopt(in->sub, ZMQ_SUBSCRIBE, "", 0) < 0)
                        return zmq_err();
                if ((r = endpoints_attach(in->sub, c->ingest_bind, true, err, errlen)) < 0 ||
                    (r = endpoints_attach(in->sub, c->ingest_connect, false, err, errlen)) < 0)
                        return r;
        }
        if (*c->reliable_bind) {
                if ((r = socket_new(zctx, ZMQ_ROUTER, c, &in->router)) < 0)
                        return r;
                if ((r = endpoints_attach(in->router, c->reliable_bind, true, err, errlen)) < 0)
                        return r;
        }
        *out = TAKE_PTR(in);
        return 0;
}

int ingest_pollitems(Ingest *in, zmq_pollitem_t *items) {
        int n = 0;

        /* A full open batch (the writer still busy with the last) reads
         * nothing more: the sockets are left out so the loop sleeps until
         * the writer is done instead of spinning on them, and keeps serving
         * signals, timers and operators meanwhile. */
        if (!ingest_batch_full(in)) {
                if (in->sub)
                        items[n++] = (zmq_pollitem_t){.socket = in->sub, .events = ZMQ_POLLIN};
                if (in->router)
                        items[n++] = (zmq_pollitem_t){.socket = in->router, .events = ZMQ_POLLIN};
        }
        items[n++] = (zmq_pollitem_t){.fd = writer_fd(in->writer), .events = ZMQ_POLLIN};
        return n;
}

static bool pending(const Slot *s) {
        return s->n_events || s->sweep_ms;
}

unsigned ingest_batch_events(const Ingest *in) {
        return in->open.n_events;
}

bool ingest_batch_acks(const Ingest *in) {
        return batch_n_acks(stage_batch(in->open.stage)) > 0;
}

bool ingest_batch_full(const Ingest *in) {
        return in->open.n_events >= in->config->batch_max;
}

int64_t ingest_batch_deadline(const Ingest *in, int64_t mono_now) {
        int64_t left;

        /* While the writer is busy the open batch cannot go anyway; the
         * writer's fd wakes the loop when it can. */
        if (!pending(&in->open) || writer_busy(in->writer))
                return -1;
        left = in->open.started + in->config->batch_delay_ms - mono_now;
        return left < 0 ? 0 : left;
}

static void log_failure(Ingest *in, int r, unsigned n) {
        unsigned shown = ratelimit_test(&in->fail_rl, mono_ms());

        if (shown)
                log_full(LOG_ERR, r == STORE_E_FULL ? LOG_ID_STORAGE_FULL : LOG_ID_COMMIT_FAILED,
                         "commit of %u events failed: %s; they were not acknowledged", n,
                         r == STORE_E_FULL    ? "storage full (raise [daemon] max_storage or free disk)"
                         : r == STORE_E_FORMAT ? "a stored bucket has an unknown format"
                         : r < 0              ? strerror(-r)
                                              : "storage error");
}

/* Drops a batch: nothing of it is acked, everything is counted. */
static void slot_fail(Ingest *in, Slot *s, int r) {
        log_failure(in, r, s->n_events);
        in->stats->failed += s->n_events;
        stage_reset(s->stage);
        *s = (Slot){.stage = s->stage};
}

/* The dedup read transaction, renewed on first use after each commit. */
static int rtxn_get(Ingest *in, MDB_txn **out) {
        int rc;

        if (!in->rtxn_live) {
                rc = in->rtxn ? mdb_txn_renew(in->rtxn) : mdb_txn_begin(in->store->env, NULL, MDB_RDONLY, &in->rtxn);
                if (rc)
                        return store_err(rc); /* a reset handle is kept for the next try */
                in->rtxn_live = true;
        }
        *out = in->rtxn;
        return 0;
}

static void rtxn_release(Ingest *in) {
        if (in->rtxn_live)
                mdb_txn_reset(in->rtxn);
        in->rtxn_live = false;
}

/* Whether the event is a duplicate: of the open batch, of the batch in
 * flight, or of committed data. Returns 0, DEDUP_E_DUPLICATE or an error. */
static int dedup(Ingest *in, const Event *ev, uint64_t h, int64_t now) {
        MDB_txn *rtxn = NULL;
        int r;

        if (stage_has_id(in->open.stage, ev->kind, ev->id, h))
                return DEDUP_E_DUPLICATE;
        if (in->flight.stage && stage_has_id(in->flight.stage, ev->kind, ev->id, h)) {
                in->open.leans = true;
                return DEDUP_E_DUPLICATE;
        }
        if ((r = rtxn_get(in, &rtxn)))
                return r;
        return dedup_seen(in->store, rtxn, ev->kind, ev->id, now, in->config->dedup_horizon_ms);
}

/* Stages a validated event in the open batch, or counts it a duplicate. */
/* keys: a feedback event's bucket keys (prefetch_slots worked them out). */
static Status stage_event(Ingest *in, const Event *ev, int64_t now, uint64_t h, const FeedbackKeys *keys) {
        Slot *o = &in->open;
        int r;

        if (!pending(o))
                o->started = mono_ms();
        o->n_events++;
        r = dedup(in, ev, h, now);
        if (r == DEDUP_E_DUPLICATE) {
                o->n_duplicate++;
                return ST_DUPLICATE;
        }
        if (!r)
                r = stage_add_id(o->stage, ev->kind, ev->id, h, now);
        if (!r)
                r = ev->kind != EVENT_FEEDBACK ? stage_hold(o->stage, ev)
                                               : batch_add_feedback_keys(stage_batch(o->stage), keys);
        if (r) {
                slot_fail(in, o, r);
                return ST_FAILED;
        }
        o->n_applied++;
        return ST_OK;
}

static void count_reject(Ingest *in, int reason) {
        in->stats->rejected++;
        in->stats->rejected_by[reason]++;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n) {
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
}

/* Sends one ack frame behind the client's envelope; never blocks: a client
 * that does not read its acks loses them and resends. */
static void send_ack(Ingest *in, const void *routing, size_t rlen, bool delimiter, const char *status, Slice id,
                     int reason) {
        msgpack_packer pk;

        msgpack_sbuffer_clear(&in->reply);
        msgpack_packer_init(&pk, &in->reply, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, reason ? 3 : 2);
        pack_str(&pk, "id", 2);
        if (id.len)
                pack_str(&pk, id.ptr, id.len);
        else
                msgpack_pack_nil(&pk);
        pack_str(&pk, "status", 6);
        pack_str(&pk, status, strlen(status));
        if (reason) {
                pack_str(&pk, "error", 5);
                pack_str(&pk, proto_reason_name(reason), strlen(proto_reason_name(reason)));
        }
        if (zmq_send(in->router, routing, rlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return;
        if (delimiter && zmq_send(in->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return;
        zmq_send(in->router, in->reply.data, in->reply.size, ZMQ_DONTWAIT);
}

/* Messages read and validated before any is staged: their prefetches
 * (batch_prefetch_feedback) overlap. */
#define LOOKAHEAD 16

/* First step of a look-ahead: the event's id hash and bucket keys, and
 * prefetches of the hash slots they land in. */
static void prefetch_slots(Ingest *in, const Event *ev, uint64_t *h, FeedbackKeys *keys) {
        *h = stage_id_hash(ev->kind, ev->id);
        stage_prefetch_id(in->open.stage, *h);
        if (in->flight.stage)
                stage_prefetch_id(in->flight.stage, *h);
        if (ev->kind == EVENT_FEEDBACK) {
                batch_feedback_keys(ev, keys);
                batch_prefetch_feedback(stage_batch(in->open.stage), keys, false);
        }
}

/* Second step, once the slots are in: the entries they point to. */
static void prefetch_entries(Ingest *in, const Event *evs, const FeedbackKeys *keys, unsigned k) {
        for (unsigned i = 0; i < k; i++)
                if (evs[i].kind == EVENT_FEEDBACK)
                        batch_prefetch_feedback(stage_batch(in->open.stage), &keys[i], true);
}

/* Reads up to room messages from the SUB socket ([topic][payload]) or,
 * routed, the ROUTER ([routing][topic][payload] from a DEALER,
 * [routing][""][topic][payload] from a REQ), in rounds of LOOKAHEAD: read
 * and validate, prefetch the valid ones' slots, then their entries, then
 * stage them. Rejections are settled at once (acked, when routed); valid
 * events wait with their frames open (the Event points into them), and
 * their ok or duplicate acks wait in the batch for its commit. */
static int read_socket(Ingest *in, void *sock, bool routed, unsigned room, bool *drained) {
        zmq_msg_t parts[LOOKAHEAD][MESSAGE_FRAMES_MAX];
        int n_parts[LOOKAHEAD];
        bool delims[LOOKAHEAD];
        Event evs[LOOKAHEAD];
        uint64_t hs[LOOKAHEAD];
        FeedbackKeys keys[LOOKAHEAD];
        ProtoDiag diag;
        unsigned read = 0;
        int r = 0;

        *drained = false;
        while (read < room && !*drained) {
                /* One clock read a round: its messages arrived within
                 * microseconds of each other. */
                int64_t round_now = now_ms();
                unsigned k = 0;

                while (k < LOOKAHEAD && read < room) {
                        zmq_msg_t *p = parts[k];
                        bool delim, framed;
                        int first;

                        r = message_recv(sock, p, &n_parts[k]);
                        if (r <= 0) {
                                *drained = true;
                                break;
                        }
                        read++;
                        in->stats->received++;
                        delim = routed && n_parts[k] == 4 && zmq_msg_size(&p[1]) == 0;
                        first = routed + delim; /* the topic frame */
                        framed = n_parts[k] == first + 2;
                        if (!framed) {
                                evs[k].kind = EVENT_FEEDBACK;
                                evs[k].id = (Slice){0};
                                diag = (ProtoDiag){.reason = PROTO_E_MALFORMED};
                        } else if (message_validate(in->decoder, in->config, &p[first], &p[first + 1], &evs[k], &diag,
                                                    round_now)) {
                                delims[k] = delim;
                                prefetch_slots(in, &evs[k], &hs[k], &keys[k]);
                                k++;
                                continue;
                        }
                        count_reject(in, diag.reason);
                        message_log_reject(&in->reject_rl, framed, &evs[k], &diag);
                        if (routed)
                                send_ack(in, zmq_msg_data(&p[0]), zmq_msg_size(&p[0]), delim, "rejected", evs[k].id,
                                         diag.reason);
                        message_close(p, n_parts[k]);
                }
                prefetch_entries(in, evs, keys, k);
                for (unsigned i = 0; i < k; i++) {
                        Status st = stage_event(in, &evs[i], round_now, hs[i], &keys[i]);
                        if (routed && (st == ST_OK || st == ST_DUPLICATE)) {
                                int ra = batch_add_ack(stage_batch(in->open.stage), zmq_msg_data(&parts[i][0]),
                                                       zmq_msg_size(&parts[i][0]), delims[i],
                                                       st == ST_OK ? ACK_OK : ACK_DUPLICATE, evs[i].id);
                                if (ra < 0)
                                        slot_fail(in, &in->open, ra);
                        }
                        message_close(parts[i], n_parts[i]);
                }
        }
        return r < 0 ? r : 0;
}

int ingest_read(Ingest *in, bool *drained) {
        bool d1 = true, d2 = true;
        unsigned room;
        int r;

        room = in->config->batch_max > in->open.n_events ? (unsigned)(in->config->batch_max - in->open.n_events) : 0;
        /* The reliable path first: its clients wait on every event. */
        if (in->router && room) {
                if ((r = read_socket(in, in->router, true, room, &d2)) < 0)
                        return r;
        }
        room = in->config->batch_max > in->open.n_events ? (unsigned)(in->config->batch_max - in->open.n_events) : 0;
        if (in->sub && room) {
                if ((r = read_socket(in, in->sub, false, room, &d1)) < 0)
                        return r;
        }
        *drained = d1 && d2;
        return 0;
}

/* Settles the batch the writer finished: counts, acks and alert
 * evaluation on success; on failure it is dropped, and so is the open
 * batch when it counted duplicates against it. */
static void finish(Ingest *in, int r) {
        Slot *f = &in->flight;
        Batch *b = stage_batch(f->stage);

        /* The next dedup lookup must see what was just committed before the
         * batch's ids leave memory. */
        rtxn_release(in);
        writer_times(in->writer, &in->stats->writer_busy_ns, &in->stats->writer_commit_ns);
        if (r) {
                in->stats->failed += f->n_events;
                log_failure(in, r, f->n_events);
                if (in->open.leans)
                        slot_fail(in, &in->open, r);
        } else {
                in->stats->batches++;
                in->stats->applied += f->n_applied;
                in->stats->duplicate += f->n_duplicate;
                /* Durable now: the acks may go. */
                for (size_t i = 0; i < batch_n_acks(b); i++) {
                        const Ack *a = batch_ack(b, i);
                        send_ack(in, a->routing, a->routing_len, a->delimiter, a->status == ACK_OK ? "ok" : "duplicate",
                                 (Slice){a->id, a->id_len}, 0);
                }
                if (in->on_commit) {
                        CommitInfo info;
                        info.scopes = batch_touched(b, &info.n_scopes);
                        info.breaches = batch_breaches(b, &info.n_breaches);
                        in->on_commit(in->on_commit_data, &info);
                }
        }
        in->open.leans = false;
        stage_reset(f->stage);
        in->spare = f->stage;
        *f = (Slot){0};
}

void ingest_reap(Ingest *in) {
        int r;

        if (writer_take(in->writer, false, &r))
                finish(in, r);
}

static void submit(Ingest *in) {
        in->flight = in->open;
        in->open = (Slot){.stage = in->spare};
        in->spare = NULL;
        writer_submit(in->writer, in->flight.stage, in->flight.sweep_ms);
}

int ingest_commit(Ingest *in) {
        if (!pending(&in->open))
                return 0;
        /* While the writer is busy the open batch stays open: it keeps
         * growing up to batch_max, then the sockets wait (their queues
         * take the back-pressure) and it goes when the writer is done. The
         * loop never blocks on the disk here. */
        if (writer_busy(in->writer))
                return 0;
        submit(in);
        return 0;
}

void ingest_sync(Ingest *in) {
        int r;

        if (writer_take(in->writer, true, &r))
                finish(in, r);
        if (!pending(&in->open))
                return;
        submit(in);
        if (writer_take(in->writer, true, &r))
                finish(in, r);
}

uint64_t ingest_pruned(Ingest *in) {
        return writer_pruned(in->writer);
}

void ingest_on_commit(Ingest *in, IngestCommitFn fn, void *userdata) {
        in->on_commit = fn;
        in->on_commit_data = userdata;
}

int ingest_sweep(Ingest *in, int64_t now) {
        MDB_txn *rtxn;
        bool due;
        int r;

        /* Peek in a read transaction first: most ticks have nothing due,
         * and an empty write commit would still cost an fsync. The writer
         * sweeps against the data committed before its own transaction, so
         * a deadline is never counted twice. */
        if ((r = store_begin(in->store, MDB_RDONLY, &rtxn)))
                return r;
        due = deadline_first_due(rtxn, in->store->deadlines, now) || deadline_first_due(rtxn, in->store->unhandled, now);
        mdb_txn_abort(rtxn);
        if (!due)
                return 0;
        if (!pending(&in->open))
                in->open.started = mono_ms();
        in->open.sweep_ms = now;
        return 0;
}
