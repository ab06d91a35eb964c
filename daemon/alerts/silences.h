/* daemon/alerts/silences.h: Silences, the operator's silences (`raterctl
 * silence add RULE [--scope S] --for W [--comment C]`), in memory and in
 * the store's database `alert_silences`.
 *
 * A silence matches the notices of one rule (`sla-breach` for SLA breach
 * notices), in every scope or in the scopes of one pattern (all, KIND:* or
 * one scope), until it expires. A silenced alert still changes state and
 * is recorded in the history; it is only not published.
 *
 * Database `alert_silences`:
 *   key:   id(u64 big-endian); ids start at 1 and are never reused: the
 *          key 0 holds the next id.
 *   value: version(u8 = SILENCE_RECORD_V1), then the rest of SilenceRecord
 *          (silences.c) in host byte order: the lengths of rule, scope
 *          pattern text and comment, created and until (Unix ms); then the
 *          rule, the scope pattern text ("" for every scope) and the
 *          comment bytes. Key 0: version(u8 = 1), 7 zero bytes, next id
 *          (u64). A reader skips records of a newer version.
 */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "alerts/rule.h"
#include "store/store.h"

#define SILENCE_RECORD_V1 1
#define SILENCE_COMMENT_MAX 256

typedef struct {
        uint64_t id;
        char rule[RULE_NAME_MAX + 1];
        bool has_pattern; /* false: every scope */
        ScopePattern pattern;
        int64_t created_ms, until_ms;
        char comment[SILENCE_COMMENT_MAX + 1];
} Silence;

typedef struct {
        Silence *v; /* in id order */
        size_t n, cap;
} Silences;

void silences_init(Silences *ss);
void silences_deinit(Silences *ss);

/* Reads every stored silence into ss (which should be empty). Returns 0,
 * -ENOMEM or a store error. */
int silences_load(Silences *ss, Store *store, MDB_txn *txn);

/* Gives s the next id and writes it inside the write transaction txn; the
 * caller inserts it with silences_insert once txn is committed. Returns 0
 * or a store error. */
int silences_store_add(Store *store, MDB_txn *txn, Silence *s);
/* Deletes the stored silence id inside txn. Returns 0, STORE_E_NOTFOUND or
 * a store error. */
int silences_store_del(Store *store, MDB_txn *txn, uint64_t id);

/* Memory only: adds a copy of s (returns 0 or -ENOMEM), removes id
 * (returns whether it was there). */
int silences_insert(Silences *ss, const Silence *s);
bool silences_remove(Silences *ss, uint64_t id);

const Silence *silences_get(const Silences *ss, uint64_t id);

/* The first silence in force at now for (rule, scope), or NULL. */
const Silence *silences_match(const Silences *ss, const char *rule, const Scope *scope, int64_t now);

/* The id of a silence that has expired at now, or 0 when none has. */
uint64_t silences_expired(const Silences *ss, int64_t now);
