/* daemon/ingest/complaints.c: complaint state machine, unhandled deadlines,
 * repeat detection, the complaints_open gauge. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ingest/complaints.h"
#include "store/deadlines.h"

#define CUSTOMER_HEADER 16

static_assert(sizeof(ComplaintState) == 40 + sizeof(ScopeSet) + 2, "ComplaintState must have no padding");

/* The value of database `customers` (layout in complaints.h); stored
 * without the unused tail of `complaint`. */
typedef struct {
        uint8_t version;
        uint8_t len;
        uint8_t reserved[6];
        int64_t opened_ts;
        char complaint[PROTO_ID_MAX];
} CustomerRecord;

static_assert(offsetof(CustomerRecord, complaint) == CUSTOMER_HEADER, "customer record header");

/* The stored head of version 2: every field before the scopes. */
#define HEAD offsetof(ComplaintState, scopes)
static_assert(HEAD == 40, "ComplaintState head");

static_assert(COMPLAINT_STATE_V1 == SCOPESET_RECORD_V1 && COMPLAINT_STATE_V2 == SCOPESET_RECORD_V2, "versions");

static bool state_read(const MDB_val *v, ComplaintState *out) {
        return scopeset_record_read(v->mv_data, v->mv_size, out, sizeof(*out), HEAD);
}

int complaints_get(Store *st, MDB_txn *txn, const char *id, size_t len, ComplaintState *out) {
        MDB_val k = {len, (void *)id}, v;
        int rc = mdb_get(txn, st->complaints, &k, &v);

        if (rc)
                return store_err(rc);
        return state_read(&v, out) ? 0 : STORE_E_FORMAT;
}

static int put_state(Store *st, MDB_txn *txn, const char *id, size_t len, const ComplaintState *s) {
        uint8_t buf[HEAD + SCOPESET_ENCODED_MAX];
        MDB_val k = {len, (void *)id}, v = {scopeset_record_write(s, HEAD, buf), buf};
        return store_err(mdb_put(txn, st->complaints, &k, &v, 0));
}

/* Zeroed with memset, not an initialiser: the whole struct, padding-free
 * but with unused name bytes, goes to disk. */
static void state_init(ComplaintState *s) {
        memset(s, 0, sizeof(*s));
        s->version = COMPLAINT_STATE_V1;
        s->severity = SEVERITY_MEDIUM;
        s->outcome = CP_OUTCOME_NONE;
}

static bool customer_read(const MDB_val *v, CustomerRecord *out) {
        const uint8_t *p = v->mv_data;

        if (v->mv_size < CUSTOMER_HEADER || p[0] != CUSTOMER_RECORD_V1 || v->mv_size != CUSTOMER_HEADER + (size_t)p[1])
                return false;
        memcpy(out, p, v->mv_size);
        return true;
}

/* Unhandled points count in the minute the complaint passed its deadline,
 * whoever notices it (the sweep, or a resolution that came too late). */
static int score_unhandled(Batch *b, ComplaintState *s, const Config *c) {
        int r = batch_add_cp(b, &s->scopes, s->deadline_ts, &(CpAgg){.unhandled = 1, .scored = 1, .points = c->points[POINTS_UNHANDLED]});

        if (!r)
                s->flags |= CP_F_UNHANDLED;
        return r;
}

static int put_deadline(Store *st, MDB_txn *txn, const ComplaintState *s, const char *id, size_t len) {
        uint8_t key[DEADLINE_KEY_MAX];
        MDB_val k = {deadline_key(s->deadline_ts, id, len, key), key}, v = {0, NULL};

        return store_err(mdb_put(txn, st->unhandled, &k, &v, 0));
}

static int del_deadline(Store *st, MDB_txn *txn, const ComplaintState *s, const char *id, size_t len) {
        uint8_t key[DEADLINE_KEY_MAX];
        MDB_val k = {deadline_key(s->deadline_ts, id, len, key), key};
        int rc = mdb_del(txn, st->unhandled, &k, NULL);

        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* Repeat detection against the customer's latest recorded opening, which
 * this opening then replaces unless it is older (see complaints.h). */
static int note_customer(Store *st, MDB_txn *txn, Batch *b, const ComplaintState *s, const Event *ev, const char *id,
                         size_t len) {
        MDB_val k = {ev->customer.len, (void *)ev->customer.ptr}, v;
        CustomerRecord rec;
        bool known;
        int rc, r;

        if (ev->customer.len > PROTO_ID_MAX)
                return -EINVAL;
        rc = mdb_get(txn, st->customers, &k, &v);
        if (rc && rc != MDB_NOTFOUND)
                return store_err(rc);
        known = rc == 0 && customer_read(&v, &rec);
        if (known && rec.opened_ts > ev->ts)
                return 0;
        if (known && rec.opened_ts >= ev->ts - COMPLAINT_REPEAT_MS &&
            (rec.len != len || memcmp(rec.complaint, id, len) != 0)) {
                if ((r = batch_add_cp(b, &s->scopes, ev->ts, &(CpAgg){.repeat = 1})))
                        return r;
        }
        memset(&rec, 0, sizeof(rec));
        rec.version = CUSTOMER_RECORD_V1;
        rec.len = (uint8_t)len;
        rec.opened_ts = ev->ts;
        memcpy(rec.complaint, id, len);
        v = (MDB_val){CUSTOMER_HEADER + len, &rec};
        return store_err(mdb_put(txn, st->customers, &k, &v, 0));
}

static int apply_opened(Store *st, MDB_txn *txn, Batch *b, const Config *c, ComplaintState *s, const Event *ev,
                        const char *id, size_t len) {
        int r;

        if ((r = batch_add_cp(b, &s->scopes, ev->ts, &(CpAgg){.opened = 1})))
                return r;
        if (s->flags & CP_F_OPENED)
                return 0; /* a second `opened` (new event id) counts, changes nothing else */
        s->flags |= CP_F_OPENED;
        s->opened_ts = ev->ts;
        s->severity = (uint8_t)ev->severity;
        s->deadline_ts = ev->ts > INT64_MAX - c->unhandled_after_ms ? INT64_MAX : ev->ts + c->unhandled_after_ms;
        if (ev->customer.len && (r = note_customer(st, txn, b, s, ev, id, len)))
                return r;
        if (s->flags & CP_F_RESOLVED) {
                /* Resolved first: never open, and unhandled exactly when
                 * the in-order arrival would have made it so. */
                if (s->resolved_ts >= s->deadline_ts && !(s->flags & CP_F_UNHANDLED))
                        return score_unhandled(b, s, c);
                return 0;
        }
        s->flags |= CP_F_OPEN;
        if ((r = batch_add_gauges(b, &s->scopes, true, &(Gauges){.complaints_open = 1})))
                return r;
        return put_deadline(st, txn, s, id, len);
}

static int apply_resolved(Store *st, MDB_txn *txn, Batch *b, const Config *c, ComplaintState *s, const Event *ev,
                          const char *id, size_t len) {
        int r;

        if ((r = batch_add_cp(b, &s->scopes, ev->ts, &(CpAgg){.resolved = 1})))
                return r;
        if (s->flags & CP_F_RESOLVED)
                return 0; /* a second `resolved` (new event id) counts, is not scored again */
        s->flags |= CP_F_RESOLVED;
        s->resolved_ts = ev->ts;
        if (s->flags & CP_F_OPENED) {
                /* Resolved too late, before the sweep got to it: the same
                 * score the sweep would have given. */
                if (ev->ts >= s->deadline_ts && !(s->flags & CP_F_UNHANDLED) && (r = score_unhandled(b, s, c)))
                        return r;
                if ((r = del_deadline(st, txn, s, id, len)))
                        return r;
        }
        if (s->flags & CP_F_OPEN) {
                s->flags &= (uint8_t)~CP_F_OPEN;
                if ((r = batch_add_gauges(b, &s->scopes, true, &(Gauges){.complaints_open = -1})))
                        return r;
        }
        if (ev->outcome < 0 || ev->outcome >= _OUTCOME_MAX)
                return 0; /* the decoder requires an outcome; nothing to score without one */
        s->flags |= CP_F_SCORED;
        s->outcome = (uint8_t)ev->outcome;
        return batch_add_cp(b, &s->scopes, ev->ts, &(CpAgg){.scored = 1, .points = c->points[1 + ev->outcome]});
}

int complaints_apply(Store *st, MDB_txn *txn, Batch *b, const Config *c, const Event *ev) {
        const char *id = ev->complaint.ptr;
        size_t len = ev->complaint.len;
        ComplaintState s;
        ScopeSet added;
        int r;

        if (len == 0 || len > PROTO_ID_MAX)
                return -EINVAL;
        r = complaints_get(st, txn, id, len, &s);
        if (r == STORE_E_NOTFOUND || r == STORE_E_FORMAT)
                state_init(&s);
        else if (r)
                return r;

        /* A scope learnt now starts counting an open complaint from now on. */
        added = scopeset_fill(&s.scopes, ev);
        if ((s.flags & CP_F_OPEN) && (r = batch_add_gauges(b, &added, false, &(Gauges){.complaints_open = 1})))
                return r;
        if (ev->ts > s.last_ts)
                s.last_ts = ev->ts;

        switch (ev->complaint_status) {
        case COMPLAINT_OPENED:
                r = apply_opened(st, txn, b, c, &s, ev, id, len);
                break;
        case COMPLAINT_RESOLVED:
                r = apply_resolved(st, txn, b, c, &s, ev, id, len);
                break;
        default:
                r = -EINVAL;
        }
        if (r)
                return r;
        return put_state(st, txn, id, len, &s);
}

typedef struct {
        Store *st;
        MDB_txn *txn;
        Batch *b;
        const Config *c;
} SweepCtx;

static int sweep_one(void *userdata, const char *id, size_t len, int64_t deadline) {
        SweepCtx *x = userdata;
        ComplaintState s;
        int r = complaints_get(x->st, x->txn, id, len, &s);

        if (r == STORE_E_NOTFOUND || r == STORE_E_FORMAT)
                return 0;
        if (r)
                return r;
        if (!(s.flags & CP_F_OPENED) || (s.flags & (CP_F_RESOLVED | CP_F_UNHANDLED)))
                return 0;
        /* Counted when the deadline passes, no event needed; the complaint
         * stays open in the gauge. */
        if ((r = score_unhandled(x->b, &s, x->c)))
                return r;
        return put_state(x->st, x->txn, id, len, &s);
}

int complaints_sweep(Store *st, MDB_txn *txn, Batch *b, const Config *c, int64_t now_ms, unsigned max,
                     unsigned *swept) {
        SweepCtx x = {st, txn, b, c};

        return deadline_sweep(txn, st->unhandled, now_ms, max, sweep_one, &x, swept);
}

/* One database's share of a prune step: its keys after the resume key,
 * at most scan of them. Sets *end to the last key looked at and *end_len,
 * or *end_len to 0 when the database was walked to its end. */
typedef bool (*PruneDueFn)(const MDB_val *v, int64_t now_ms, int64_t retention_ms);

static int prune_db(MDB_txn *txn, MDB_dbi dbi, PruneDueFn due, int64_t now_ms, int64_t retention_ms, unsigned scan,
                    const uint8_t *resume, size_t resume_len, uint8_t *end, size_t *end_len, unsigned *deleted) {
        MDB_cursor *cur;
        MDB_val k, v;
        unsigned seen = 0;
        int rc;

        *end_len = resume_len; /* scan 0: no progress */
        memcpy(end, resume, resume_len);
        if ((rc = mdb_cursor_open(txn, dbi, &cur)))
                return store_err(rc);
        if (resume_len) {
                /* Strictly after the resume key, which may itself be gone. */
                k = (MDB_val){resume_len, (void *)resume};
                rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                if (rc == 0 && k.mv_size == resume_len && memcmp(k.mv_data, resume, resume_len) == 0)
                        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        } else {
                rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        }
        while (rc == 0 && seen++ < scan) {
                /* Saved before a delete invalidates k; ids are at most
                 * PROTO_ID_MAX bytes. */
                *end_len = k.mv_size < PROTO_ID_MAX ? k.mv_size : PROTO_ID_MAX;
                memcpy(end, k.mv_data, *end_len);
                if (due(&v, now_ms, retention_ms)) {
                        if ((rc = mdb_cursor_del(cur, 0)))
                                break;
                        (*deleted)++;
                }
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND) {
                *end_len = 0;
                return 0;
        }
        return store_err(rc);
}

/* Unreadable values (another record version) are never pruned: they are
 * refused, not ours to drop. */
static bool complaint_due(const MDB_val *v, int64_t now_ms, int64_t retention_ms) {
        ComplaintState s;

        return state_read(v, &s) && (s.flags & CP_F_RESOLVED) && s.last_ts < now_ms - retention_ms;
}

static bool customer_due(const MDB_val *v, int64_t now_ms, int64_t retention_ms) {
        CustomerRecord rec;

        return customer_read(v, &rec) && rec.opened_ts < now_ms - COMPLAINT_REPEAT_MS;
}

int complaints_prune(Store *st, MDB_txn *txn, int64_t now_ms, int64_t retention_ms, unsigned scan, uint8_t *resume,
                     size_t *resume_len, unsigned *deleted) {
        uint8_t ends[2][PROTO_ID_MAX];
        size_t lens[2];
        MDB_val a, b;
        int r;

        *deleted = 0;
        if (*resume_len > PROTO_ID_MAX)
                *resume_len = 0;
        if ((r = prune_db(txn, st->complaints, complaint_due, now_ms, retention_ms, scan, resume, *resume_len, ends[0],
                          &lens[0], deleted)) ||
            (r = prune_db(txn, st->customers, customer_due, now_ms, retention_ms, scan, resume, *resume_len, ends[1],
                          &lens[1], deleted)))
                return r;
        /* Resume from the key neither database has passed yet; length 0
         * stands for the end here, not the start. */
        a = (MDB_val){lens[0], ends[0]};
        b = (MDB_val){lens[1], ends[1]};
        if (!lens[0] || (lens[1] && mdb_cmp(txn, st->complaints, &b, &a) < 0))
                a = b;
        memcpy(resume, a.mv_data, a.mv_size);
        *resume_len = a.mv_size;
        return 0;
}
