/* daemon/ingest/tickets.c: ticket state machine, SLA deadlines, gauges. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ingest/tickets.h"
#include "store/deadlines.h"

/* The stored head of version 2: every field before the scopes. */
#define HEAD offsetof(TicketState, scopes)
static_assert(HEAD == 64, "TicketState head has no padding");

static_assert(TICKET_STATE_V1 == SCOPESET_RECORD_V1 && TICKET_STATE_V2 == SCOPESET_RECORD_V2, "versions");

static bool state_read(const MDB_val *v, TicketState *out) {
        return scopeset_record_read(v->mv_data, v->mv_size, out, sizeof(*out), HEAD);
}

int tickets_get(Store *st, MDB_txn *txn, const char *id, size_t len, TicketState *out) {
        MDB_val k = {len, (void *)id}, v;
        int rc = mdb_get(txn, st->tickets, &k, &v);

        if (rc)
                return store_err(rc);
        return state_read(&v, out) ? 0 : STORE_E_FORMAT;
}

static int put_state(Store *st, MDB_txn *txn, const char *id, size_t len, const TicketState *t) {
        uint8_t buf[HEAD + SCOPESET_ENCODED_MAX];
        MDB_val k = {len, (void *)id}, v = {scopeset_record_write(t, HEAD, buf), buf};
        return store_err(mdb_put(txn, st->tickets, &k, &v, 0));
}

/* Records a duration (first response or resolution) in sums and sketch. */
static int measure(Batch *b, const TicketState *t, int64_t at, int64_t start, uint8_t which) {
        Scope scopes[4];
        int n = scopeset_list(&t->scopes, true, scopes), r;
        double s = at > start ? (double)(at - start) / 1000.0 : 0;

        TkAgg d = which == SKETCH_FRT ? (TkAgg){.frt_n = 1, .frt_sum = s} : (TkAgg){.res_n = 1, .res_sum = s};

        if ((r = batch_add_tk(b, &t->scopes, at, &d)))
                return r;
        for (int i = 0; i < n; i++)
                if ((r = batch_add_sample(b, &scopes[i], batch_minute(at), which, s)))
                        return r;
        return 0;
}

/* Once opened and responded are both known: first response time and the
 * SLA outcome (met at the response, or breached at the deadline). */
static int settle_response(Store *st, MDB_txn *txn, Batch *b, TicketState *t, const char *id, size_t len) {
        uint8_t key[DEADLINE_KEY_MAX];
        MDB_val k;
        int r, rc;

        if (!(t->flags & TK_F_OPENED) || !(t->flags & TK_F_RESPONDED))
                return 0;
        if (!(t->flags & TK_F_FRT_DONE)) {
                if ((r = measure(b, t, t->first_response_ts, t->opened_ts, SKETCH_FRT)))
                        return r;
                t->flags |= TK_F_FRT_DONE;
        }
        if (!(t->flags & TK_F_SLA_DONE)) {
                bool met = t->first_response_ts <= t->deadline_ts;
                r = batch_add_tk(b, &t->scopes, met ? t->first_response_ts : t->deadline_ts,
                                 met ? &(TkAgg){.sla_due = 1, .sla_met = 1} : &(TkAgg){.sla_due = 1, .sla_breaches = 1});
                if (r)
                        return r;
                t->flags |= TK_F_SLA_DONE;
                k = (MDB_val){deadline_key(t->deadline_ts, id, len, key), key};
                rc = mdb_del(txn, st->deadlines, &k, NULL);
                if (rc && rc != MDB_NOTFOUND)
                        return store_err(rc);
        }
        if (t->flags & TK_F_OVERDUE) {
                if ((r = batch_add_gauges(b, &t->scopes, true, &(Gauges){.overdue = -1})))
                        return r;
                t->flags &= (uint8_t)~TK_F_OVERDUE;
        }
        return 0;
}

static int settle_resolution(Batch *b, TicketState *t) {
        int r;

        if (!(t->flags & TK_F_OPENED) || !(t->flags & TK_F_RESOLVED) || (t->flags & TK_F_RES_DONE))
                return 0;
        if ((r = measure(b, t, t->first_resolved_ts, t->opened_ts, SKETCH_RESOLUTION)))
                return r;
        t->flags |= TK_F_RES_DONE;
        return 0;
}

/* Open/closed follows the event with the latest ts; an older event does not
 * reopen or close what a newer one decided. */
static int set_open(Batch *b, TicketState *t, bool open, int64_t ts) {
        int r;

        if (ts < t->state_ts)
                return 0;
        t->state_ts = ts;
        if (!(t->flags & TK_F_OPENED) || open == !!(t->flags & TK_F_OPEN))
                return 0;
        if (open) {
                t->flags |= TK_F_OPEN;
                return batch_add_gauges(b, &t->scopes, true, &(Gauges){.backlog = 1});
        }
        t->flags &= (uint8_t)~TK_F_OPEN;
        r = batch_add_gauges(b, &t->scopes, true,
                             &(Gauges){.backlog = -1, .overdue = (t->flags & TK_F_OVERDUE) ? -1 : 0});
        t->flags &= (uint8_t)~TK_F_OVERDUE;
        return r;
}

int tickets_apply(Store *st, MDB_txn *txn, Batch *b, const Config *c, const Event *ev) {
        const char *id = ev->ticket.ptr;
        size_t len = ev->ticket.len;
        uint8_t key[DEADLINE_KEY_MAX];
        TicketState t;
        ScopeSet added;
        MDB_val k, v;
        int r, rc;

        r = tickets_get(st, txn, id, len, &t);
        if (r == STORE_E_NOTFOUND || r == STORE_E_FORMAT)
                t = (TicketState){.version = TICKET_STATE_V1, .priority = PRIORITY_NORMAL};
        else if (r)
                return r;

        /* A scope learnt now starts counting an open ticket from now on. */
        added = scopeset_fill(&t.scopes, ev);
        if ((t.flags & TK_F_OPEN) &&
            (r = batch_add_gauges(b, &added, false, &(Gauges){.backlog = 1, .overdue = (t.flags & TK_F_OVERDUE) ? 1 : 0})))
                return r;
        if (ev->ts > t.last_ts)
                t.last_ts = ev->ts;

        switch (ev->ticket_status) {
        case TICKET_OPENED:
                if ((r = batch_add_tk(b, &t.scopes, ev->ts, &(TkAgg){.opened = 1})))
                        return r;
                if (t.flags & TK_F_OPENED)
                        break; /* a second `opened` (new event id) counts, changes nothing else */
                t.flags |= TK_F_OPENED;
                t.opened_ts = ev->ts;
                t.priority = (uint8_t)ev->priority;
                t.deadline_ts = ev->ts + c->first_response_ms[ev->priority];
                if ((r = set_open(b, &t, true, ev->ts)))
                        return r;
                if (!(t.flags & TK_F_RESPONDED)) {
                        k = (MDB_val){deadline_key(t.deadline_ts, id, len, key), key};
                        v = (MDB_val){0, NULL};
                        if ((rc = mdb_put(txn, st->deadlines, &k, &v, 0)))
                                return store_err(rc);
                }
                if ((r = settle_response(st, txn, b, &t, id, len)) || (r = settle_resolution(b, &t)))
                        return r;
                break;
        case TICKET_RESPONDED:
                if (!(t.flags & TK_F_RESPONDED) || (ev->ts < t.first_response_ts && !(t.flags & TK_F_FRT_DONE))) {
                        t.first_response_ts = ev->ts;
                        t.flags |= TK_F_RESPONDED;
                }
                if (!(t.flags & TK_F_RESOLVED) || ev->ts < t.first_resolved_ts)
                        t.responses++;
                if ((r = settle_response(st, txn, b, &t, id, len)))
                        return r;
                break;
        case TICKET_RESOLVED:
                /* FCR: at most one reply before this resolution and never
                 * reopened before it. */
                if ((r = batch_add_tk(b, &t.scopes, ev->ts,
                                      &(TkAgg){.resolved = 1, .fcr_n = 1, .fcr_ok = t.responses <= 1 && t.reopens == 0})))
                        return r;
                if (!(t.flags & TK_F_RESOLVED) || (ev->ts < t.first_resolved_ts && !(t.flags & TK_F_RES_DONE))) {
                        t.first_resolved_ts = ev->ts;
                        t.flags |= TK_F_RESOLVED;
                }
                if ((r = set_open(b, &t, false, ev->ts)) || (r = settle_resolution(b, &t)))
                        return r;
                break;
        case TICKET_REOPENED:
                t.reopens++;
                if ((r = batch_add_tk(b, &t.scopes, ev->ts, &(TkAgg){.reopened = 1})) || (r = set_open(b, &t, true, ev->ts)))
                        return r;
                break;
        }
        return put_state(st, txn, id, len, &t);
}

typedef struct {
        Store *st;
        MDB_txn *txn;
        Batch *b;
} SweepCtx;

static int sweep_one(void *userdata, const char *id, size_t len, int64_t deadline) {
        SweepCtx *x = userdata;
        TicketState t;
        Breach br;
        int r = tickets_get(x->st, x->txn, id, len, &t);

        if (r == STORE_E_NOTFOUND || r == STORE_E_FORMAT)
                return 0;
        if (r)
                return r;
        if (!(t.flags & TK_F_OPENED) || (t.flags & (TK_F_SLA_DONE | TK_F_RESPONDED)))
                return 0;
        /* Counted when the deadline passes, no event needed. */
        if ((r = batch_add_tk(x->b, &t.scopes, t.deadline_ts, &(TkAgg){.sla_due = 1, .sla_breaches = 1})))
                return r;
        t.flags |= TK_F_SLA_DONE;
        br = (Breach){.scopes = t.scopes, .deadline_ms = t.deadline_ts, .priority = t.priority};
        memcpy(br.ticket, id, len);
        br.ticket[len] = '\0';
        if ((r = batch_add_breach(x->b, &br)))
                return r;
        if (t.flags & TK_F_OPEN) {
                if ((r = batch_add_gauges(x->b, &t.scopes, true, &(Gauges){.overdue = 1})))
                        return r;
                t.flags |= TK_F_OVERDUE;
        }
        return put_state(x->st, x->txn, id, len, &t);
}

int tickets_sweep(Store *st, MDB_txn *txn, Batch *b, int64_t now_ms, unsigned max, unsigned *swept) {
        SweepCtx x = {st, txn, b};

        return deadline_sweep(txn, st->deadlines, now_ms, max, sweep_one, &x, swept);
}

int tickets_prune(Store *st, MDB_txn *txn, int64_t now_ms, int64_t retention_ms, unsigned scan, uint8_t *resume,
                  size_t *resume_len, unsigned *deleted) {
        MDB_cursor *cur;
        MDB_val k, v;
        unsigned seen = 0;
        int rc;

        *deleted = 0;
        rc = mdb_cursor_open(txn, st->tickets, &cur);
        if (rc)
                return store_err(rc);
        k = (MDB_val){*resume_len, resume};
        rc = *resume_len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (rc == 0 && seen++ < scan) {
                TicketState t;
                bool old = false;

                if (state_read(&v, &t)) {
                        /* An open ticket stays in the backlog, however old. */
                        old = !(t.flags & TK_F_OPEN) && t.last_ts < now_ms - retention_ms;
                }
                if (old) {
                        /* Its deadline entry, if any, goes with it. */
                        uint8_t key[DEADLINE_KEY_MAX];
                        MDB_val dk = {deadline_key(t.deadline_ts, k.mv_data, k.mv_size, key), key};
                        if (!(t.flags & TK_F_SLA_DONE) && (t.flags & TK_F_OPENED))
                                (void)mdb_del(txn, st->deadlines, &dk, NULL);
                        if ((rc = mdb_cursor_del(cur, 0)))
                                break;
                        (*deleted)++;
                }
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (rc == 0) {
                memcpy(resume, k.mv_data, k.mv_size);
                *resume_len = k.mv_size;
        } else if (rc == MDB_NOTFOUND) {
                *resume_len = 0;
                rc = 0;
        }
        mdb_cursor_close(cur);
        return store_err(rc);
}
