/* daemon/ingest/complaints.h: the lifecycle of complaints, in LMDB, and the
 * complaint deltas it produces (opened, resolved, repeat, unhandled,
 * outcome points, the complaints_open gauge).
 *
 * Database `complaints`. Key: complaint id (1-128 bytes). Value, first
 * byte its version:
 *   version 1: the whole ComplaintState (host order; no padding, see the
 *     static_assert, reserved bytes zero);
 *   version 2 (written now): ComplaintState up to `scopes` (40 bytes), then
 *     the scopes in the stored form of scopeset_encode().
 * A value of another size or version is refused (STORE_E_FORMAT): an event
 * then starts a fresh state over it, as tickets do, and pruning leaves it
 * alone.
 * Database `unhandled`. Key: unhandled deadline (u64 Unix ms, big endian,
 * so a cursor walks deadlines in time order) + complaint id; empty value.
 * An entry exists while a complaint is open and not yet scored unhandled.
 * Database `customers`. Key: customer id (1-128 bytes). Value:
 * version(u8 = CUSTOMER_RECORD_V1) len(u8) 6 zero bytes, opened_ts (int64
 * Unix ms, host order), then the complaint id (len bytes): the customer's
 * latest complaint opening, for repeat detection.
 *
 * Events for one complaint may arrive in any order, and every arrival
 * order gives the same sums:
 *   - a complaint is open (counted in complaints_open) from its `opened`
 *     until its first `resolved`, whichever arrives first; a `resolved`
 *     before the `opened` means it is never counted open;
 *   - it is unhandled from opened_ts + unhandled_after (inclusive): the
 *     sweep scores it when that time passes, and a `resolved` whose ts is
 *     at or past it scores it first if the sweep has not yet. A complaint
 *     scored unhandled and resolved later also gets its outcome points, so
 *     it is scored twice (unhandled, then its outcome);
 *   - the first `resolved` to arrive is scored; a later one (new event id)
 *     counts in `resolved` only. A later `opened` (new event id) counts in
 *     `opened` only. Severity comes from the first `opened`.
 * Repeat: an `opened` that carries `customer` is a repeat when that
 * customer's latest recorded opening is of another complaint, at most 30
 * days before and not after it. Only the latest opening is kept, so an
 * opening that arrives after a later one of the same customer is compared
 * with nothing and is not a repeat, and the later one is not recounted.
 * A customer record is pruned 30 days (by the clock) after the opening it
 * holds, so an opening that arrives late (within allowed_lateness) may
 * miss one that was just pruned.
 */
#pragma once

#include <lmdb.h>

#include "config/config.h"
#include "ingest/batch.h"
#include "proto/event.h"
#include "store/store.h"

#define COMPLAINT_STATE_V1 1
#define COMPLAINT_STATE_V2 2
#define CUSTOMER_RECORD_V1 1

/* Repeat horizon of CONTRACT.md section 3, and how long customers keep
 * their latest opening. */
#define COMPLAINT_REPEAT_MS (30LL * 24 * 3600 * 1000)

enum {
        CP_F_OPENED = 1 << 0,    /* the `opened` event was seen */
        CP_F_RESOLVED = 1 << 1,  /* a `resolved` event was seen */
        CP_F_OPEN = 1 << 2,      /* counted in the complaints_open gauge now */
        CP_F_UNHANDLED = 1 << 3, /* unhandled points scored */
        CP_F_SCORED = 1 << 4,    /* outcome points scored */
};

#define CP_OUTCOME_NONE 0xff

typedef struct {
        uint8_t version;
        uint8_t flags;
        uint8_t severity;    /* ComplaintSeverity of the first `opened` */
        uint8_t outcome;     /* ComplaintOutcome scored, or CP_OUTCOME_NONE */
        uint32_t reserved;
        int64_t opened_ts;   /* of the first `opened` */
        int64_t resolved_ts; /* of the scored `resolved` */
        int64_t deadline_ts; /* unhandled deadline: opened_ts + unhandled_after */
        int64_t last_ts;     /* latest event ts, for pruning */
        ScopeSet scopes;
        uint8_t reserved2[2];
} ComplaintState;

/* Applies one new (not duplicate) complaint event inside txn, adding its
 * deltas to b. Returns 0 or an error. */
int complaints_apply(Store *st, MDB_txn *txn, Batch *b, const Config *c, const Event *ev);

/* Scores every complaint that passed [complaints] unhandled_after
 * unresolved by now_ms (deadline <= now_ms), at most max of them, in the
 * minute of its deadline. Sets *swept to how many deadlines were processed.
 * Returns 0 or an error. */
int complaints_sweep(Store *st, MDB_txn *txn, Batch *b, const Config *c, int64_t now_ms, unsigned max,
                     unsigned *swept);

/* Deletes, inside txn, the state of resolved complaints whose latest event
 * is older than now_ms - retention_ms, and customer records whose latest
 * opening is older than now_ms - COMPLAINT_REPEAT_MS. Open complaints are
 * kept, however old: they still hold the complaints_open gauge.
 * Looks at no more than `scan` keys of each of the two databases, starting
 * after the key in resume (a buffer of PROTO_ID_MAX bytes; *resume_len 0 =
 * from the start). Both databases are keyed by ids and walked side by side
 * past the same resume key, which becomes the smaller of the two keys
 * reached (a few keys of the other database are looked at again next time),
 * so one id-sized key resumes both; it returns to length 0 when both are
 * done and the next pass starts over. Sets *deleted. Returns 0 or an error. */
int complaints_prune(Store *st, MDB_txn *txn, int64_t now_ms, int64_t retention_ms, unsigned scan, uint8_t *resume,
                     size_t *resume_len, unsigned *deleted);

/* Reads a complaint's state (for tests and tools). Returns 0,
 * STORE_E_NOTFOUND or an error. */
int complaints_get(Store *st, MDB_txn *txn, const char *id, size_t len, ComplaintState *out);
