/* daemon/store/store.h: Store, raterd's LMDB environment and its databases.
 *
 * Storage format, version 1 (STORE_FORMAT). The store is an API: its layout
 * is written down here and in the headers of the modules that own each
 * database, and every stored value starts with a version byte.
 *
 *   meta       "format" -> uint32 STORE_FORMAT (host byte order)
 *   dedup      kind(u8) id(bytes)          -> see store/dedup.h
 *   buckets    scope key + minute          -> see store/buckets.h
 *   hbuckets   scope key + hour            -> see store/buckets.h
 *   sketches   scope key + minute + which  -> see store/buckets.h
 *   hsketches  scope key + hour + which    -> see store/buckets.h
 *   gauges     scope key                   -> see store/gauges.h
 *   tickets    ticket id                   -> see ingest/tickets.h
 *   deadlines  deadline(u64 BE) + ticket id -> see ingest/tickets.h
 *   complaints complaint id                -> see ingest/complaints.h
 *   unhandled  deadline(u64 BE) + complaint id -> see ingest/complaints.h
 *   customers  customer id                 -> see ingest/complaints.h
 *   alert_states   rule + scope            -> see alerts/states.h
 *   alert_history  ts(u64 BE) + notice id  -> see alerts/history.h
 *   alert_silences silence id(u64 BE)      -> see alerts/silences.h
 *
 * Compatibility rules: a raterd opens a store whose format is equal to its
 * own, and initialises an empty one. A store of another format is refused
 * with a clear message, never rewritten in place. Within a format, a record
 * version may grow: readers accept every older record version (missing
 * fields read as zero) and refuse newer ones. The files are in host byte
 * order, like LMDB's own pages: they are not portable across architectures.
 */
#pragma once

#include <lmdb.h>
#include <stdint.h>

#define STORE_FORMAT 1

enum {
        STORE_E_NOTFOUND = 1, /* no such key */
        STORE_E_FULL,         /* the map (max_storage) is full */
        STORE_E_FORMAT,       /* a stored value or the store has a format we do not read */
        STORE_E_CORRUPT,      /* LMDB found the files damaged */
};

typedef struct {
        MDB_env *env;
        MDB_dbi meta, dedup, buckets, hbuckets, sketches, hsketches, gauges;
        MDB_dbi tickets, deadlines, complaints, unhandled, customers;
        MDB_dbi alert_states, alert_history, alert_silences;
        char *path;
} Store;

/* Opens (creating when missing) the store in directory dir with a map of
 * map_size bytes. Returns 0, a STORE_E_* condition with a reason in err, or
 * a negative errno. */
int store_open(Store **out, const char *dir, uint64_t map_size, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
Store *store_free(Store *s);

/* Maps an LMDB return code to the error model: 0, STORE_E_*, or -errno. */
int store_err(int mdb_rc);

/* Bytes used by the data file (last page in use * page size). */
uint64_t store_used_bytes(Store *s);

/* Keys in one database (0 when it cannot be read). */
uint64_t store_entries(Store *s, MDB_dbi dbi);

/* Begins a write (flags 0) or read (MDB_RDONLY) transaction. */
int store_begin(Store *s, unsigned flags, MDB_txn **txn);

/* Commits durably: when this returns 0 the data is on disk (fsync). */
int store_commit(MDB_txn *txn);

static inline void store_freep(Store **s) {
        store_free(*s);
}
