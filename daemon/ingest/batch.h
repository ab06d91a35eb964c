/* daemon/ingest/batch.h: Batch, the events of one write transaction.
 *
 * Aggregates are coalesced per (scope, minute) in memory while the batch is
 * open and written once per batch: a burst of 4096 events for one team
 * costs a handful of bucket writes, not 16384. Acks wait here until the
 * batch is durably committed. All storage is reused across batches: the hot
 * path allocates only when a batch is bigger than any before it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/event.h"
#include "store/buckets.h"
#include "store/gauges.h"

typedef enum { ACK_OK = 0, ACK_DUPLICATE } AckStatus;

/* A ticket whose first-response deadline passed unanswered (counted as an
 * SLA breach) in a batch. */
typedef struct {
        char ticket[PROTO_ID_MAX + 1]; /* NUL-terminated ticket id */
        ScopeSet scopes;               /* team/agent/channel known for it */
        int64_t deadline_ms;           /* the first-response deadline */
        uint8_t priority;              /* TicketPriority */
} Breach;

#define ACK_ROUTING_MAX 255

typedef struct {
        uint8_t routing[ACK_ROUTING_MAX];
        uint8_t routing_len;
        bool delimiter; /* a REQ client: reply behind an empty frame */
        uint8_t status;
        uint8_t id_len;
        char id[PROTO_ID_MAX];
} Ack;

typedef struct Batch Batch;

int batch_new(Batch **out);
Batch *batch_free(Batch *b);

/* Adds a feedback event's contribution to its scopes' buckets. Returns 0 or
 * -ENOMEM. */
int batch_add_feedback(Batch *b, const Event *ev);

/* The bucket keys of a feedback event (its scopes, minute and their
 * hashes) and its one-event sums, worked out once for prefetching and for
 * adding to up to four buckets: the sums' divisions are then done once an
 * event, not once a scope. */
typedef struct {
        Scope scopes[4];
        uint64_t hashes[4];
        int n;
        uint32_t minute;
        FbAgg delta;
} FeedbackKeys;

void batch_feedback_keys(const Event *ev, FeedbackKeys *k);
int batch_add_feedback_keys(Batch *b, const FeedbackKeys *k);

/* Asks the CPU to fetch what batch_add_feedback(b, ev) will touch. Ingest
 * calls it for a few events before adding them, so their cache misses (an
 * agent's entry is rarely cached) overlap instead of queueing: first for
 * the hash slots (entries false), then, once those are in, for the entries
 * they point to (entries true). */
void batch_prefetch_feedback(const Batch *b, const FeedbackKeys *k, bool entries);

/* The coalesced delta record of (scope, minute), created zeroed on first
 * use; NULL when out of memory. Valid until the next batch_* call. */
BucketRecord *batch_bucket(Batch *b, const Scope *s, uint32_t minute);

/* The coalesced gauge deltas of a scope; NULL when out of memory. Valid
 * until the next batch_* call. */
Gauges *batch_gauges(Batch *b, const Scope *s);

/* Adds a delta to the bucket (minute of ts) of `all` and of every known
 * scope of set. Returns 0 or -ENOMEM. */
int batch_add_tk(Batch *b, const ScopeSet *set, int64_t ts, const TkAgg *delta);
int batch_add_cp(Batch *b, const ScopeSet *set, int64_t ts, const CpAgg *delta);

/* Adds a delta to the gauges of every known scope of set, and of `all`
 * when with_all. Returns 0 or -ENOMEM. */
int batch_add_gauges(Batch *b, const ScopeSet *set, bool with_all, const Gauges *delta);

/* Queues one duration sample (seconds) for the sketch (scope, minute,
 * which). Returns 0 or -ENOMEM. */
int batch_add_sample(Batch *b, const Scope *s, uint32_t minute, uint8_t which, double seconds);

/* Minute bucket of a Unix ms time (0 for times before 1970). */
uint32_t batch_minute(int64_t ts_ms);

/* Queues an ack for after the commit. Returns 0 or -ENOMEM. */
int batch_add_ack(Batch *b, const void *routing, size_t routing_len, bool delimiter, AckStatus status, Slice id);

/* Writes every coalesced bucket, gauge and sketch sample inside txn. Returns 0 or a store error. */
int batch_flush(Batch *b, Store *st, void *txn);

size_t batch_n_acks(const Batch *b);

/* The distinct scopes batch_flush wrote (buckets or gauges), valid until
 * the next batch_flush/batch_free. */
const Scope *batch_touched(const Batch *b, size_t *n);

/* Breaches counted in this batch, for alerting after the commit. */
int batch_add_breach(Batch *b, const Breach *br);
const Breach *batch_breaches(const Batch *b, size_t *n);
const Ack *batch_ack(const Batch *b, size_t i);
size_t batch_n_buckets(const Batch *b);

/* Empties the batch, keeping its memory. */
void batch_reset(Batch *b);

static inline void batch_freep(Batch **b) {
        batch_free(*b);
}
