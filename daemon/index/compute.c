/* daemon/index/compute.c: every contract index from a scope's window sums. */
#include <string.h>

#include "index/compute.h"
#include "index/cpagg.h"
#include "index/fbagg.h"
#include "index/tkagg.h"

void window_span(int64_t window_ms, int64_t now_ms, WindowSpan *w) {
        int64_t unit = window_ms > MINUTE_WINDOW_MAX_MS ? 3600000 : 60000;
        int64_t k = (window_ms + unit - 1) / unit, to = now_ms / unit;

        w->window_ms = window_ms;
        w->now_ms = now_ms;
        w->hourly = unit != 60000;
        w->to = (uint32_t)to;
        w->from = k > to ? 0 : (uint32_t)(to - k + 1);
        w->from_ms = (int64_t)w->from * unit;
}

unsigned compute_needs(IndexId id) {
        switch (id) {
        case IDX_BACKLOG:
        case IDX_OVERDUE:
        case IDX_COMPLAINTS_OPEN:
                return NEED_GAUGES;
        case IDX_FRT_P50:
        case IDX_FRT_P90:
        case IDX_FRT_P99:
                return NEED_FRT_SKETCH;
        case IDX_RESOLUTION_P50:
        case IDX_RESOLUTION_P90:
                return NEED_RES_SKETCH;
        default:
                return 0;
        }
}

/* Sums one resolution's buckets [from, to] of s into sw. */
static int load_range(Store *st, MDB_txn *txn, BucketRes res, const Scope *s, uint32_t from, uint32_t to, unsigned need,
                      ScopeWindow *sw) {
        int r;

        if (from > to)
                return 0;
        if ((r = buckets_sum(st, txn, res, s, from, to, &sw->sum)))
                return r;
        if ((need & NEED_FRT_SKETCH) && (r = buckets_sketch_sum(st, txn, res, s, from, to, SKETCH_FRT, &sw->frt)))
                return r;
        if ((need & NEED_RES_SKETCH) &&
            (r = buckets_sketch_sum(st, txn, res, s, from, to, SKETCH_RESOLUTION, &sw->res)))
                return r;
        return 0;
}

int compute_load(Store *st, MDB_txn *txn, const Scope *s, const WindowSpan *w, unsigned need, ScopeWindow *sw) {
        int r;

        memset(&sw->sum, 0, sizeof(sw->sum));
        memset(&sw->gauges, 0, sizeof(sw->gauges));
        if (need & NEED_FRT_SKETCH)
                sketch_init(&sw->frt);
        if (need & NEED_RES_SKETCH)
                sketch_init(&sw->res);
        sw->loaded = 0;
        if (w->hourly) {
                /* Whole hours from the hour buckets, the current hour from
                 * its minutes up to now: the window ends exactly at now. */
                uint32_t now_minute = (uint32_t)(w->now_ms / 60000);
                if ((r = load_range(st, txn, RES_HOUR, s, w->from, w->to - 1, need, sw)) ||
                    (r = load_range(st, txn, RES_MINUTE, s, w->to * 60, now_minute, need, sw)))
                        return r;
        } else if ((r = load_range(st, txn, RES_MINUTE, s, w->from, w->to, need, sw))) {
                return r;
        }
        if ((need & NEED_GAUGES) && (r = gauges_get(st, txn, s, &sw->gauges)))
                return r;
        sw->loaded = need & (NEED_GAUGES | NEED_FRT_SKETCH | NEED_RES_SKETCH);
        return 0;
}

static bool quantile(const ScopeWindow *sw, unsigned part, const Sketch *sk, double q, double *value,
                     uint64_t *samples) {
        *value = 0;
        *samples = 0;
        if (!(sw->loaded & part))
                return false;
        *samples = sketch_count(sk);
        return sketch_quantile(sk, q, value);
}

static bool gauge(const ScopeWindow *sw, int64_t g, double *value, uint64_t *samples) {
        bool loaded = sw->loaded & NEED_GAUGES;

        /* A gauge cannot go below zero; a negative sum would mean events of
         * a ticket counted in a scope before its opening was known. */
        *value = loaded && g > 0 ? (double)g : 0;
        *samples = loaded && g > 0 ? (uint64_t)g : 0;
        return loaded;
}

/* service_index: weighted mean of the parts that have samples. */
static bool service_index(const ScopeWindow *sw, const Config *c, double *value, uint64_t *samples) {
        double parts[3], weights[3] = {c->si_satisfaction, c->si_sla, c->si_complaints}, sum = 0, wsum = 0;
        uint64_t n[3];
        bool has[3];

        has[0] = fbagg_value(&sw->sum.fb, IDX_RATER_INDEX, c->weights, &parts[0], &n[0]);
        if (!has[0])
                has[0] = fbagg_value(&sw->sum.fb, IDX_SATISFACTION, c->weights, &parts[0], &n[0]);
        has[1] = tkagg_value(&sw->sum.tk, IDX_SLA_COMPLIANCE, &parts[1], &n[1]);
        has[2] = cpagg_value(&sw->sum.cp, IDX_COMPLAINT_HANDLING, &parts[2], &n[2]);
        *samples = 0;
        for (int i = 0; i < 3; i++) {
                if (!has[i] || weights[i] <= 0)
                        continue;
                sum += weights[i] * parts[i];
                wsum += weights[i];
                *samples += n[i];
        }
        *value = wsum > 0 ? sum / wsum : 0;
        return wsum > 0;
}

bool compute_value(const ScopeWindow *sw, IndexId id, const Config *c, double *value, uint64_t *samples) {
        const BucketRecord *r = &sw->sum;

        if (id <= IDX_RATER_INDEX)
                return fbagg_value(&r->fb, id, c->weights, value, samples);
        switch (id) {
        case IDX_FRT_P50:
                return quantile(sw, NEED_FRT_SKETCH, &sw->frt, 0.50, value, samples);
        case IDX_FRT_P90:
                return quantile(sw, NEED_FRT_SKETCH, &sw->frt, 0.90, value, samples);
        case IDX_FRT_P99:
                return quantile(sw, NEED_FRT_SKETCH, &sw->frt, 0.99, value, samples);
        case IDX_RESOLUTION_P50:
                return quantile(sw, NEED_RES_SKETCH, &sw->res, 0.50, value, samples);
        case IDX_RESOLUTION_P90:
                return quantile(sw, NEED_RES_SKETCH, &sw->res, 0.90, value, samples);
        case IDX_BACKLOG:
                return gauge(sw, sw->gauges.backlog, value, samples);
        case IDX_OVERDUE:
                return gauge(sw, sw->gauges.overdue, value, samples);
        case IDX_COMPLAINTS_OPEN:
                return gauge(sw, sw->gauges.complaints_open, value, samples);
        case IDX_COMPLAINT_RATE:
                /* complaints opened per 100 tickets opened */
                *samples = r->tk.opened;
                *value = r->tk.opened ? 100.0 * (double)r->cp.opened / (double)r->tk.opened : 0;
                return r->tk.opened > 0;
        case IDX_COMPLAINTS_OPENED:
        case IDX_COMPLAINTS_RESOLVED:
        case IDX_COMPLAINT_POINTS:
        case IDX_COMPLAINT_HANDLING:
        case IDX_REPEAT_COMPLAINT_RATE:
                return cpagg_value(&r->cp, id, value, samples);
        case IDX_SERVICE_INDEX:
        case IDX_GRADE:
                return service_index(sw, c, value, samples);
        default:
                return tkagg_value(&r->tk, id, value, samples);
        }
}
