/* daemon/store/deadlines.h: the key of a deadline index (databases
 * `deadlines` for SLA first responses and `unhandled` for complaints):
 * deadline (u64 Unix ms, big endian, so a cursor walks deadlines in time
 * order) followed by the ticket or complaint id; the value is empty. */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/event.h"

#define DEADLINE_KEY_MAX (8 + PROTO_ID_MAX)

/* Encodes (deadline, id) into buf (DEADLINE_KEY_MAX bytes); returns the
 * length. Negative deadlines are stored as 0. */
size_t deadline_key(int64_t deadline, const char *id, size_t len, uint8_t *buf);

/* Splits a key; false when it is too short to be one. */
bool deadline_key_parse(const MDB_val *k, int64_t *deadline, const char **id, size_t *len);

/* Whether the first deadline of the database is <= now (in txn). */
bool deadline_first_due(MDB_txn *txn, MDB_dbi dbi, int64_t now);

/* Handles one due entry (id, deadline). Returns 0 when it is handled (the
 * entry is then deleted) or an error, which stops the sweep. */
typedef int (*DeadlineDueFn)(void *userdata, const char *id, size_t len, int64_t deadline);

/* Walks the database's entries in deadline order while they are <= now,
 * at most max of them: calls fn for each and deletes it (a malformed key is
 * deleted unseen). Sets *swept to how many were deleted. Returns 0, fn's
 * error, or a store error. */
int deadline_sweep(MDB_txn *txn, MDB_dbi dbi, int64_t now, unsigned max, DeadlineDueFn fn, void *userdata,
                   unsigned *swept);
