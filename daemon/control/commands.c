/* daemon/control/commands.c: status, get and top.
 *
 * Windows: the current minute bucket plus the ceil(W / 1 min) - 1 before
 * it, so a window covers between W - 1 min and W of event time; `from` in
 * the answer is the start of its oldest bucket, `to` is now.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/commands.h"
#include "index/compute.h"
#include "index/indices.h"
#include "index/scope.h"
#include "proto/duration.h"
#include "store/buckets.h"
#include "util/clock.h"
#include "util/error.h"

#define CMD_E_BAD_REQUEST 1

static int bad(char *err, size_t errlen, const char *fmt, const char *arg) {
        snprintf(err, errlen, fmt, arg);
        return CMD_E_BAD_REQUEST;
}

static const char *get_string(json_object *req, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int64_t get_int(json_object *req, const char *key, int64_t dflt) {
        json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_int))
                return dflt;
        return json_object_get_int64(v);
}

static json_object *scope_json(const Scope *s) {
        char buf[SCOPE_TEXT_MAX];
        size_t n = scope_format(s, buf);

        return json_object_new_string_len(buf, (int)n);
}

static int parse_window(const CommandContext *ctx, json_object *req, WindowSpan *w, char *err, size_t errlen) {
        const char *s = get_string(req, "window");
        int64_t ms;

        if (!s)
                s = "1h";
        if (duration_parse(s, &ms) < 0 || ms <= 0)
                return bad(err, errlen, "invalid window '%s' (expected e.g. 5m, 1h, 24h, 7d)", s);
        if (ms > ctx->config->retention_ms)
                return bad(err, errlen, "window '%s' is longer than the retention", s);
        window_span(ms, now_ms(), w);
        return 0;
}

/* The window as the operator wrote it (`24h` stays `24h`). */
static json_object *window_name(json_object *req) {
        const char *s = get_string(req, "window");

        return json_object_new_string(s ? s : "1h");
}

/* Counts print as integers, `grade` as its word, everything else as a
 * number; null when the index has no samples. */
static json_object *value_json(IndexId id, bool has, double value) {
        if (!has)
                return NULL; /* json null */
        if (id == IDX_GRADE)
                return json_object_new_string(index_grade(value));
        if (index_info(id)->count)
                return json_object_new_int64((int64_t)value);
        return json_object_new_double(value);
}

static int index_parse(const char *name, char *err, size_t errlen) {
        int id = index_lookup(name);

        if (id < 0)
                return -bad(err, errlen, "unknown index '%s'", name);
        return id;
}

static int cmd_get(const CommandContext *ctx, json_object *req, json_object **result, char *err, size_t errlen) {
        json_object *list, *out, *indices;
        const char *s = get_string(req, "scope");
        int ids[_IDX_MAX], n = 0, r;
        unsigned need = 0;
        Scope scope;
        WindowSpan w;
        MDB_txn *txn;
        _cleanup_(freep) ScopeWindow *sw = NULL;

        if (!s)
                return bad(err, errlen, "%s", "missing scope");
        if (scope_parse(s, &scope) < 0)
                return bad(err, errlen, "invalid scope '%s' (expected all, team:NAME, agent:NAME or channel:NAME)", s);
        if ((r = parse_window(ctx, req, &w, err, errlen)))
                return r;
        if (json_object_object_get_ex(req, "indices", &list) && json_object_is_type(list, json_type_array) &&
            json_object_array_length(list) > 0) {
                for (size_t i = 0; i < json_object_array_length(list) && n < _IDX_MAX; i++) {
                        json_object *e = json_object_array_get_idx(list, i);
                        int id;
                        if (!json_object_is_type(e, json_type_string))
                                return bad(err, errlen, "%s", "indices must be strings");
                        if ((id = index_parse(json_object_get_string(e), err, errlen)) < 0)
                                return -id;
                        ids[n++] = id;
                }
        } else {
                for (int i = 0; i < _IDX_MAX; i++)
                        ids[n++] = i;
        }
        for (int i = 0; i < n; i++)
                need |= compute_needs((IndexId)ids[i]);

        sw = malloc(sizeof(*sw));
        if (!sw)
                return -ENOMEM;
        if ((r = store_begin(ctx->store, MDB_RDONLY, &txn)))
                return r;
        r = compute_load(ctx->store, txn, &scope, &w, need, sw);
        mdb_txn_abort(txn);
        if (r)
                return r;

        out = json_object_new_object();
        indices = json_object_new_object();
        json_object_object_add(out, "scope", json_object_new_string(s));
        json_object_object_add(out, "window", window_name(req));
        json_object_object_add(out, "from", json_object_new_int64(w.from_ms));
        json_object_object_add(out, "to", json_object_new_int64(w.now_ms));
        for (int i = 0; i < n; i++) {
                double v;
                uint64_t samples;
                bool has = compute_value(sw, (IndexId)ids[i], ctx->config, &v, &samples);
                json_object_object_add(indices, index_info((IndexId)ids[i])->name, value_json((IndexId)ids[i], has, v));
        }
        json_object_object_add(out, "indices", indices);
        *result = out;
        return 0;
}

typedef struct {
        Scope scope;
        double value;
        uint64_t samples;
} Row;

typedef struct {
        const CommandContext *ctx;
        MDB_txn *txn;
        const WindowSpan *w;
        IndexId id;
        unsigned need;
        uint64_t min_samples;
        ScopeWindow *sw;
        Row *rows;
        size_t n, cap;
} TopState;

static int top_collect(const Scope *s, const BucketRecord *sum, void *userdata) {
        TopState *t = userdata;
        double v;
        uint64_t samples;
        int r;

        /* The sums came with the scan; gauges and sketches are read per
         * scope only for the indices (and hourly windows) that need them. */
        if (t->need || t->w->hourly) {
                if ((r = compute_load(t->ctx->store, t->txn, s, t->w, t->need, t->sw)))
                        return r;
        } else {
                t->sw->sum = *sum;
                t->sw->loaded = 0;
        }
        if (!compute_value(t->sw, t->id, t->ctx->config, &v, &samples) || samples < t->min_samples)
                return 0;
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 64;
                Row *n = realloc(t->rows, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                t->rows = n;
                t->cap = cap;
        }
        t->rows[t->n++] = (Row){*s, v, samples};
        return 0;
}

static int row_cmp_asc(const void *x, const void *y) {
        const Row *a = x, *b = y;
        return a->value < b->value ? -1 : a->value > b->value ? 1 : (a->samples > b->samples) - (a->samples < b->samples);
}

static int row_cmp_desc(const void *x, const void *y) {
        return row_cmp_asc(y, x);
}

static int cmd_top(const CommandContext *ctx, json_object *req, json_object **result, char *err, size_t errlen) {
        const char *index = get_string(req, "index"), *by = get_string(req, "by"), *order = get_string(req, "order");
        TopState t = {.ctx = ctx};
        json_object *out, *rows;
        bool worst, ascending;
        int64_t n = get_int(req, "n", 10), min_samples = get_int(req, "min_samples", 1);
        int kind, id, r;
        WindowSpan w;
        MDB_txn *txn;

        if (!index)
                return bad(err, errlen, "%s", "missing index");
        if ((id = index_parse(index, err, errlen)) < 0)
                return -id;
        if (!by || (kind = scope_kind_parse(by)) < 0)
                return bad(err, errlen, "invalid 'by' '%s' (expected team, agent or channel)", by ? by : "");
        if (order && strcmp(order, "worst") != 0 && strcmp(order, "best") != 0)
                return bad(err, errlen, "invalid order '%s' (expected worst or best)", order);
        if (n < 1 || min_samples < 0)
                return bad(err, errlen, "%s", "n must be at least 1 and min_samples not negative");
        if ((r = parse_window(ctx, req, &w, err, errlen)))
                return r;
        worst = !order || strcmp(order, "worst") == 0;
        t.id = (IndexId)id;
        t.w = &w;
        t.need = compute_needs(t.id);
        t.min_samples = (uint64_t)min_samples;
        t.sw = malloc(sizeof(*t.sw));
        if (!t.sw)
                return -ENOMEM;

        if ((r = store_begin(ctx->store, MDB_RDONLY, &txn))) {
                free(t.sw);
                return r;
        }
        t.txn = txn;
        r = buckets_foreach_scope(ctx->store, txn, w.hourly ? RES_HOUR : RES_MINUTE, (ScopeKind)kind, w.from, w.to,
                                  top_collect, &t);
        mdb_txn_abort(txn);
        free(t.sw);
        if (r) {
                free(t.rows);
                return r;
        }
        /* Worst of a higher-is-better index is the lowest value. */
        ascending = worst == index_info(t.id)->higher_is_better;
        if (t.n)
                qsort(t.rows, t.n, sizeof(Row), ascending ? row_cmp_asc : row_cmp_desc);

        out = json_object_new_object();
        rows = json_object_new_array();
        json_object_object_add(out, "index", json_object_new_string(index));
        json_object_object_add(out, "window", window_name(req));
        for (size_t i = 0; i < t.n && i < (size_t)n; i++) {
                json_object *row = json_object_new_object();
                json_object_object_add(row, "scope", scope_json(&t.rows[i].scope));
                json_object_object_add(row, "value", value_json(t.id, true, t.rows[i].value));
                json_object_object_add(row, "samples", json_object_new_int64((int64_t)t.rows[i].samples));
                json_object_array_add(rows, row);
        }
        json_object_object_add(out, "rows", rows);
        free(t.rows);
        *result = out;
        return 0;
}

static int cmd_status(const CommandContext *ctx, json_object **result) {
        const Stats *s = ctx->stats;
        json_object *out = json_object_new_object(), *ev = json_object_new_object(), *rej = json_object_new_object(),
                    *storage = json_object_new_object();

        json_object_object_add(out, "version", json_object_new_string(RATERD_VERSION));
        json_object_object_add(out, "uptime_s", json_object_new_int64((now_ms() - s->started_ms) / 1000));
        json_object_object_add(ev, "received", json_object_new_int64((int64_t)s->received));
        json_object_object_add(ev, "applied", json_object_new_int64((int64_t)s->applied));
        json_object_object_add(ev, "duplicate", json_object_new_int64((int64_t)s->duplicate));
        json_object_object_add(ev, "rejected", json_object_new_int64((int64_t)s->rejected));
        json_object_object_add(ev, "failed", json_object_new_int64((int64_t)s->failed));
        json_object_object_add(out, "events", ev);
        for (int i = PROTO_E_MALFORMED; i < _PROTO_E_MAX; i++)
                json_object_object_add(rej, proto_reason_name(i), json_object_new_int64((int64_t)s->rejected_by[i]));
        json_object_object_add(out, "rejected", rej);
        json_object_object_add(out, "batches", json_object_new_int64((int64_t)s->batches));
        {
                json_object *w = json_object_new_object();
                json_object_object_add(w, "busy_ms", json_object_new_int64((int64_t)(s->writer_busy_ns / 1000000)));
                json_object_object_add(w, "commit_ms", json_object_new_int64((int64_t)(s->writer_commit_ns / 1000000)));
                json_object_object_add(out, "writer", w);
        }
        json_object_object_add(storage, "path", json_object_new_string(ctx->store->path));
        json_object_object_add(storage, "bytes", json_object_new_int64((int64_t)store_used_bytes(ctx->store)));
        {
                const struct {
                        const char *name;
                        MDB_dbi dbi;
                } dbs[] = {
                        {"minute_buckets", ctx->store->buckets}, {"hour_buckets", ctx->store->hbuckets},
                        {"tickets", ctx->store->tickets},        {"complaints", ctx->store->complaints},
                        {"dedup", ctx->store->dedup},
                };
                for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
                        json_object_object_add(storage, dbs[i].name,
                                               json_object_new_int64((int64_t)store_entries(ctx->store, dbs[i].dbi)));
                json_object_object_add(storage, "pruned", json_object_new_int64((int64_t)s->pruned));
        }
        json_object_object_add(out, "storage", storage);
        json_object_object_add(out, "alerts_firing",
                               json_object_new_int64(ctx->alerts ? (int64_t)alerts_firing(ctx->alerts) : 0));
        *result = out;
        return 0;
}

int command_run(const CommandContext *ctx, json_object *req, json_object **result, char *err, size_t errlen) {
        const char *cmd = get_string(req, "cmd");
        int r;

        if (!cmd)
                return bad(err, errlen, "%s", "request has no \"cmd\"");
        if (strcmp(cmd, "status") == 0) {
                r = cmd_status(ctx, result);
                goto done;
        }
        if (ctx->settle)
                ctx->settle(ctx->settle_data);
        if (strcmp(cmd, "get") == 0)
                r = cmd_get(ctx, req, result, err, errlen);
        else if (strcmp(cmd, "top") == 0)
                r = cmd_top(ctx, req, result, err, errlen);
        else if (!ctx->alerts || /* alerts, silence_*, rules, reload: alerts/requests.c */
                 (r = alerts_command(ctx->alerts, cmd, req, result, err, errlen)) == ALERTS_E_UNKNOWN_COMMAND)
                return bad(err, errlen, "unknown or unsupported command '%s'", cmd);
done:
        if (r && !*err)
                snprintf(err, errlen, "storage error: %s", r < 0 ? strerror(-r) : "unreadable data");
        return r;
}
