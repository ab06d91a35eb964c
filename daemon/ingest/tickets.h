/* daemon/ingest/tickets.h: the lifecycle of tickets, in LMDB, and the
 * responsiveness deltas it produces (first response, resolution, SLA,
 * FCR, backlog and overdue gauges).
 *
 * Database `tickets`. Key: ticket id (1-128 bytes). Value, first byte its
 * version:
 *   version 1: the whole TicketState (host order);
 *   version 2 (written now): TicketState up to `scopes` (host order, 64
 *     bytes), then the scopes in the stored form of scopeset_encode(), so
 *     a ticket takes about 100 bytes instead of 264.
 * Both are read; another version or size is refused (STORE_E_FORMAT).
 * Database `deadlines`. Key: first-response deadline (u64 Unix ms, big
 * endian, so a cursor walks deadlines in time order) + ticket id; empty
 * value. An entry exists while a known ticket's SLA is still undecided.
 *
 * Events for one ticket may arrive in any order: each fact is kept until
 * the facts it pairs with are known (a `responded` before its `opened` is
 * measured when the `opened` arrives). Lifecycle (open/closed for the
 * backlog) follows the event with the latest `ts`. A first response or
 * resolution already measured is not re-measured when an earlier one
 * arrives late.
 */
#pragma once

#include <lmdb.h>

#include "config/config.h"
#include "ingest/batch.h"
#include "proto/event.h"
#include "store/store.h"

#define TICKET_STATE_V1 1
#define TICKET_STATE_V2 2

enum {
        TK_F_OPENED = 1 << 0,     /* the `opened` event was seen */
        TK_F_RESPONDED = 1 << 1,  /* a `responded` event was seen */
        TK_F_RESOLVED = 1 << 2,   /* a `resolved` event was seen */
        TK_F_OPEN = 1 << 3,       /* counted in the backlog gauge now */
        TK_F_OVERDUE = 1 << 4,    /* counted in the overdue gauge now */
        TK_F_SLA_DONE = 1 << 5,   /* SLA outcome counted */
        TK_F_FRT_DONE = 1 << 6,   /* first response time measured */
        TK_F_RES_DONE = 1 << 7,   /* resolution time measured */
};

typedef struct {
        uint8_t version;
        uint8_t flags;
        uint8_t priority;
        uint8_t reserved;
        uint32_t responses; /* `responded` events before the first resolution */
        uint32_t reopens;
        uint32_t reserved2;
        int64_t opened_ts, first_response_ts, first_resolved_ts, deadline_ts;
        int64_t state_ts;   /* ts of the event that set the open/closed state */
        int64_t last_ts;    /* latest event ts, for pruning */
        ScopeSet scopes;
} TicketState;

/* Applies one new (not duplicate) ticket event inside txn, adding its
 * deltas to b. Returns 0 or an error. */
int tickets_apply(Store *st, MDB_txn *txn, Batch *b, const Config *c, const Event *ev);

/* Counts the SLA breach of every ticket whose deadline is <= now_ms and that
 * is still unanswered, at most max of them, and lists each in the batch's
 * breaches. Sets *swept to how many deadlines were processed. Returns 0 or
 * an error. */
int tickets_sweep(Store *st, MDB_txn *txn, Batch *b, int64_t now_ms, unsigned max, unsigned *swept);

/* Deletes the state of tickets that are closed (or were never opened) and
 * whose latest event is older than now_ms - retention_ms, looking at no
 * more than `scan` tickets from the resume key (updated; length 0 = from
 * the start). Sets *deleted. Returns 0 or an error. */
int tickets_prune(Store *st, MDB_txn *txn, int64_t now_ms, int64_t retention_ms, unsigned scan, uint8_t *resume,
                  size_t *resume_len, unsigned *deleted);

/* Reads a ticket's state (for tests and tools). Returns 0,
 * STORE_E_NOTFOUND or an error. */
int tickets_get(Store *st, MDB_txn *txn, const char *id, size_t len, TicketState *out);
