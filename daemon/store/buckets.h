/* daemon/store/buckets.h: minute buckets of aggregates per scope in LMDB.
 *
 * Key:   kind(u8) len(u8) name(len bytes) minute(u32, big-endian)
 *        so one scope's buckets are contiguous and in time order, and all
 *        scopes of one kind are contiguous (for `top`).
 * Value: version(u8), then
 *        version 1: 7 zero bytes, then the whole BucketRecord as laid out
 *          in memory (host byte order);
 *        version 2 (written now): mask(u8) 6 zero bytes, then only the
 *          sections whose bit is set, in order: bit 0 FbAgg, bit 1 TkAgg,
 *          bit 2 CpAgg, each as laid out in memory. A section left out is
 *          all zero: a feedback-only bucket takes 144 bytes, not 288.
 *        A reader accepts both, and refuses a newer version or a size that
 *        does not match; a record rewritten by a merge becomes version 2.
 * `minute` is the event time in whole minutes since the Unix epoch.
 *
 * Hour buckets (database `hbuckets`, and `hsketches` for their sketches)
 * have the same layout with the hour (minutes / 60) in place of the minute.
 * Every committed batch adds to both, so a window is read from either
 * resolution (index/compute.h); minute buckets are pruned after 48 h, hour
 * buckets after `retention`.
 *
 * Sketches (database `sketches`): key = bucket key + which(u8, SKETCH_FRT
 * or SKETCH_RESOLUTION); value = the sparse encoding of index/sketch.h,
 * which carries its own version byte. Merged by bin counts like records.
 */
#pragma once

#include <lmdb.h>
#include <stdint.h>

#include "index/cpagg.h"
#include "index/fbagg.h"
#include "index/sketch.h"
#include "index/tkagg.h"
#include "index/scope.h"
#include "store/store.h"

#define BUCKET_RECORD_V1 1
#define BUCKET_RECORD_V2 2

typedef struct {
        FbAgg fb;
        TkAgg tk;
        CpAgg cp;
} BucketRecord;

void bucket_record_merge(BucketRecord *into, const BucketRecord *from);

enum { SKETCH_FRT = 0, SKETCH_RESOLUTION = 1, _SKETCH_WHICH_MAX };

typedef enum { RES_MINUTE = 0, RES_HOUR } BucketRes;

#define BUCKET_KEY_MAX (2 + PROTO_NAME_MAX + 4)

/* Encodes a key; returns its length. */
size_t buckets_key(const Scope *s, uint32_t minute, uint8_t *buf);

/* Adds delta into the stored bucket (read, merge, write) inside the write
 * transaction txn. Returns 0, STORE_E_FULL, STORE_E_FORMAT or -errno. */
int buckets_add(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t minute, const BucketRecord *delta);

/* The same through a cursor on the records of res (buckets_cursor), for
 * many adds in key order: each finds its key from the last one's page. */
int buckets_cursor(Store *st, MDB_txn *txn, BucketRes res, MDB_cursor **c);
int buckets_add_at(MDB_cursor *c, const Scope *s, uint32_t minute, const BucketRecord *delta);

/* Merges the buckets of scope s with from <= minute <= to into *sum (which
 * the caller zeroes). Returns 0 or an error. */
int buckets_sum(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t from, uint32_t to, BucketRecord *sum);

/* Adds n samples (seconds) to the stored sketch (scope, minute, which)
 * inside txn; scratch is a caller-provided accumulator (sketch_init()ed
 * once: each call clears only the bins it used) and enc a buffer of
 * SKETCH_ENCODED_MAX bytes (both large: kept by the caller, not allocated
 * per call). Returns 0 or an error. */
int buckets_sketch_add(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t minute, uint8_t which,
                       const double *values, size_t n, Sketch *scratch, uint8_t *enc);

/* Merges the stored sketches (scope, from <= minute <= to, which) into acc.
 * Returns 0 or an error; unreadable sketches are skipped. */
int buckets_sketch_sum(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t from, uint32_t to, uint8_t which, Sketch *acc);

/* Calls cb once per scope of the given kind that has any bucket, with the
 * merge of its buckets in [from, to] (possibly empty). Returns 0, the first
 * non-zero cb return, or an error. */
typedef int (*BucketsScopeFn)(const Scope *s, const BucketRecord *sum, void *userdata);
int buckets_foreach_scope(Store *st, MDB_txn *txn, BucketRes res, ScopeKind kind, uint32_t from, uint32_t to,
                          BucketsScopeFn cb, void *userdata);

/* Where an incremental prune goes on (zeroed = from the start). */
typedef struct {
        uint8_t records[BUCKET_KEY_MAX + 1], sketches[BUCKET_KEY_MAX + 1];
        size_t records_len, sketches_len;
} BucketsPrune;

/* Deletes records and sketches of resolution res whose bucket number is
 * below `before`, looking at no more than `scan` keys of each database from
 * where the previous call stopped (so a full pass is spread over many small
 * transactions that never hold ingest up). Sets *deleted. Returns 0 or an
 * error. */
int buckets_prune(Store *st, MDB_txn *txn, BucketRes res, uint32_t before, unsigned scan, BucketsPrune *p,
                  unsigned *deleted);
