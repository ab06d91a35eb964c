/* daemon/alerts/states.h: AlertStates, the alerts that are not ok (pending
 * or firing), per (rule, scope), in memory and in the store's database
 * `alert_states`.
 *
 * Only non-ok alerts have an entry: an absent entry is ok. So memory and
 * storage grow with the alerts that are pending or firing, never with the
 * number of scopes times rules.
 *
 * Database `alert_states`:
 *   key:   rule_len(u8) rule(bytes) scope_kind(u8) scope_len(u8) scope_name
 *   value: version(u8 = ALERT_STATE_RECORD_V1), then the rest of
 *          AlertStateRecord (states.c) in host byte order: state, op,
 *          severity, has_value, the index name (NUL-padded, 32 bytes),
 *          window, since, pending_since, published (ms), threshold, clear,
 *          value (float64), samples (u64). A reader accepts a longer record
 *          of the same version (fields appended later) and refuses a newer
 *          version (skipped with a warning, never rewritten).
 * A record is written in the same transaction as the history entry of its
 * transition, and committed before the notification is published.
 * The rule's definition is stored with the state so that an alert whose
 * rule was removed from the configuration while raterd was down can still
 * be resolved and published with its index, window and thresholds.
 */
#pragma once

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>

#include "alerts/machine.h"
#include "alerts/rule.h"
#include "index/scope.h"
#include "store/store.h"

#define ALERT_STATE_RECORD_V1 1

typedef struct AlertEntry {
        struct AlertEntry *next; /* hash chain */
        char rule[RULE_NAME_MAX + 1];
        Scope scope;
        AlertDef def; /* the rule as of the last transition */
        AlertState st;
        long slot; /* the engine's index of its rule, -1: none (not stored) */
} AlertEntry;

typedef struct {
        AlertEntry **slots;
        size_t n_slots; /* a power of two (0 before the first insert) */
        size_t n;       /* entries */
        size_t n_firing;
} AlertStates;

typedef struct {
        size_t slot;
        AlertEntry *next;
} AlertStatesIter;

void alert_states_init(AlertStates *t);
void alert_states_deinit(AlertStates *t);

/* The entry of (rule, s), or NULL when that alert is ok. */
AlertEntry *alert_states_get(const AlertStates *t, const char *rule, const Scope *s);

/* Makes (rule, s) hold def and st: adds, updates, or removes the entry when
 * st->state is ALERT_OK. Returns 0 or -ENOMEM (then nothing changed). */
int alert_states_set(AlertStates *t, const char *rule, const Scope *s, const AlertDef *def, const AlertState *st);

/* Iteration; the table must not change meanwhile.
 *   for (e = alert_states_first(t, &it); e; e = alert_states_next(t, &it)) */
AlertEntry *alert_states_first(const AlertStates *t, AlertStatesIter *it);
AlertEntry *alert_states_next(const AlertStates *t, AlertStatesIter *it);

/* Writes the state of (rule, s) inside the write transaction txn, or
 * deletes it when st->state is ALERT_OK. Returns 0 or a store error. */
int alert_states_save(Store *store, MDB_txn *txn, const char *rule, const Scope *s, const AlertDef *def,
                      const AlertState *st);

/* Loads every stored state into t (which should be empty). Records it
 * cannot read are skipped and counted in *skipped. Returns 0, -ENOMEM or a
 * store error. */
int alert_states_load(AlertStates *t, Store *store, MDB_txn *txn, unsigned *skipped);
