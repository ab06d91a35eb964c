/* daemon/alerts/alerts.h: Alerts, the alert engine (CONTRACT.md section 4):
 * the rules, the state of every (rule, scope), silences, history, and the
 * alert PUB socket.
 *
 * Evaluation runs
 *   - after each committed batch, for the scopes it touched only
 *     (alerts_on_commit, registered with ingest_on_commit): its cost grows
 *     with the touched scopes, never with all scopes;
 *   - once a second for every scope (alerts_tick), because windows slide
 *     and `for`/`repeat` deadlines pass without events. Rules are grouped
 *     by window; per group and scope kind one ordered cursor scan of the
 *     buckets (buckets_foreach_scope) yields each scope's window sums, and
 *     every rule of the group matching the scope is evaluated from them.
 *     A window's value changes only through commits (evaluated above) or
 *     when it slides past a bucket boundary, so a group is scanned again
 *     only then (once a minute, once an hour past 48 h); in between, the
 *     pass steps the pending and repeating alerts with their last value,
 *     at a cost that grows with the alerts that are not ok.
 *
 * The durability sequence of every pass: evaluate from a read transaction
 * into a list of changes; write all state records and history entries of
 * the pass in one write transaction and commit it (fsync); only then apply
 * the changes in memory and publish. So a kill -9 never causes a firing
 * notification to be published twice (the restarted daemon reads `firing`
 * and stays quiet), and a resolution is never lost while the daemon holds
 * `firing` (the restarted daemon resolves it when the value recovers). A
 * failed commit changes nothing: the next pass tries again.
 *
 * LMDB has one writer: a pass's write transaction waits while ingest's
 * writer thread commits a batch (ingest/writer.h). The main thread never
 * holds a write transaction across the loop, so this cannot deadlock.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/notice.h"
#include "config/config.h"
#include "ingest/ingest.h"
#include "store/store.h"

typedef struct Alerts Alerts;

enum {
        ALERTS_E_UNKNOWN_COMMAND = 1, /* alerts_command: not an alert command */
        ALERTS_E_BAD_REQUEST,         /* alerts_command: refused, reason in err */
        ALERTS_E_CONFIG,              /* alerts_reload: the file was refused, reason in err */
};

/* Creates the engine for the rules of c: binds the PUB socket on zctx
 * (`[alerts] bind`; zctx NULL: no socket, for tests), loads the stored
 * states and silences. c and store must outlive the engine; the rules are
 * copied. Stored alerts of rules that are no longer configured are resolved
 * by the first alerts_tick. Returns 0, or an error with a reason in err. */
int alerts_new(Alerts **out, void *zctx, const Config *c, Store *store, char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
Alerts *alerts_free(Alerts *a);

/* Called for every notice that is published (after the socket send). */
typedef void (*AlertsSinkFn)(void *userdata, const AlertNotice *n);
void alerts_set_sink(Alerts *a, AlertsSinkFn fn, void *userdata);

/* An IngestCommitFn (userdata: the Alerts): evaluates the touched scopes
 * and publishes the batch's SLA breaches. */
void alerts_on_commit(void *userdata, const CommitInfo *info);

/* The same at an explicit time (tests). Returns 0 or the error of the
 * failed pass (logged). */
int alerts_evaluate(Alerts *a, const Scope *scopes, size_t n_scopes, const Breach *breaches, size_t n_breaches,
                    int64_t now);

/* The full pass: every rule in every scope it matches, due resolutions of
 * removed rules, expired silences, history pruning. Call at least once a
 * second. Returns 0 or the error of the failed pass (logged). */
int alerts_tick(Alerts *a, int64_t now);

/* Replaces the rules (copied) and `[sla] breach_alert`, keeping every
 * state; alerts of removed rules are resolved (published) at once.
 * Returns 0, -EINVAL with a reason in err (nothing changed), or the error
 * of the pass that resolves. */
int alerts_set_rules(Alerts *a, const Rule *rules, size_t n_rules, AlertSeverity breach_alert, int64_t now,
                     char *err, size_t errlen);

/* Re-reads the configuration file raterd was started with and applies its
 * rules (SIGHUP, `raterctl reload`). Returns 0; ALERTS_E_CONFIG with
 * "FILE:LINE: reason" in err when the file is refused (the old rules stay);
 * or an error. */
int alerts_reload(Alerts *a, char *err, size_t errlen);

/* Alerts firing now. */
size_t alerts_firing(const Alerts *a);

/* Answers the control requests alerts, silence_add, silence_list,
 * silence_rm, rules and reload (proto/PROTOCOL.md). Returns 0 with
 * *result set (the caller owns it), ALERTS_E_UNKNOWN_COMMAND for another
 * cmd, ALERTS_E_BAD_REQUEST or ALERTS_E_CONFIG with a reason in err, or an
 * error. */
int alerts_command(Alerts *a, const char *cmd, json_object *req, json_object **result, char *err, size_t errlen);

static inline void alerts_freep(Alerts **a) {
        alerts_free(*a);
}
