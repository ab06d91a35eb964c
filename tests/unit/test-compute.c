/* tests/unit/test-compute.c: index/compute.c: window spans at the minute
 * and hour resolutions, and the composite and cross-part formulas
 * (service_index with default and configured [service_index] weights,
 * complaint_rate, gauges, grade) against values computed by hand. */
#include "check.h"
#include "index/compute.h"
#include "util/error.h"

#define M 60000LL
#define H 3600000LL

static ScopeWindow sw_with(double rater_reliability_norm, uint64_t sla_due, uint64_t sla_met, uint64_t scored,
                           double points) {
        ScopeWindow sw = {0};
        if (rater_reliability_norm >= 0) {
                sw.sum.fb.n = 1;
                sw.sum.fb.score_sum = 50;
                sw.sum.fb.rater_events = 1;
                sw.sum.fb.rater_n[RATER_RELIABILITY] = 1;
                sw.sum.fb.rater_sum[RATER_RELIABILITY] = rater_reliability_norm;
        }
        sw.sum.tk.sla_due = sla_due;
        sw.sum.tk.sla_met = sla_met;
        sw.sum.cp.scored = scored;
        sw.sum.cp.points = points;
        return sw;
}

int main(void) {
        _cleanup_(config_deinitp) Config c;
        WindowSpan w;
        double v;
        uint64_t n;
        char err[256] = "";

        CHECK(config_init(&c) == 0, "config");

        /* Spans: 5m at 12:34:56.789 covers minutes 12:30..12:34. */
        int64_t now = 1700000000000LL + 56789;
        window_span(5 * M, now, &w);
        CHECK(!w.hourly && w.to == (uint32_t)(now / M) && w.from == w.to - 4, "5m span %u..%u", w.from, w.to);
        CHECK(w.from_ms == (int64_t)w.from * M, "5m from");
        window_span(48 * H, now, &w);
        CHECK(!w.hourly && w.to - w.from == 48 * 60 - 1, "48h is still minutes");
        window_span(48 * H + 1, now, &w);
        CHECK(w.hourly && w.to == (uint32_t)(now / H) && w.to - w.from == 48, "48h+1ms: 49 hours, got %u",
              w.to - w.from);
        window_span(7 * 24 * H, now, &w);
        CHECK(w.hourly && w.to - w.from == 7 * 24 - 1 && w.from_ms % H == 0, "7d span");
        CHECK(w.now_ms - w.from_ms <= 7 * 24 * H && w.now_ms - w.from_ms > 7 * 24 * H - H, "7d covers W-1h..W");

        /* service_index: 0.5 * rater 75 + 0.3 * sla 60 + 0.2 * handling 70 = 67.5 */
        {
                ScopeWindow sw = sw_with(75, 5, 3, 5, 10); /* mean 2 points -> (2+5)*10 = 70 */
                CHECK(compute_value(&sw, IDX_SERVICE_INDEX, &c, &v, &n), "service_index has samples");
                CHECK_NEAR(v, 0.5 * 75 + 0.3 * 60 + 0.2 * 70, 1e-9, "service_index default weights");
                CHECK(compute_value(&sw, IDX_GRADE, &c, &v, &n) && strcmp(index_grade(v), "failing") == 0,
                      "grade of 67.5");
                /* Parts without samples drop out and the weights renormalise. */
                sw = sw_with(-1, 5, 3, 0, 0);
                CHECK(compute_value(&sw, IDX_SERVICE_INDEX, &c, &v, &n), "sla only");
                CHECK_NEAR(v, 60, 1e-9, "service_index of sla alone");
                /* No RATER samples: satisfaction stands in (score_sum 50 / 1). */
                sw = sw_with(75, 0, 0, 0, 0);
                sw.sum.fb.rater_events = 0;
                sw.sum.fb.rater_n[RATER_RELIABILITY] = 0;
                CHECK(compute_value(&sw, IDX_SERVICE_INDEX, &c, &v, &n), "satisfaction part");
                CHECK_NEAR(v, 50, 1e-9, "satisfaction stands in for rater_index");
                sw = sw_with(-1, 0, 0, 0, 0);
                CHECK(!compute_value(&sw, IDX_SERVICE_INDEX, &c, &v, &n), "no parts: null");
                CHECK(!compute_value(&sw, IDX_GRADE, &c, &v, &n), "no parts: grade null");
        }
        /* Configured weights. */
        CHECK(config_load_string(&c, "test.conf", "[service_index]\nsatisfaction = 0.2\nsla = 0.2\ncomplaints = 0.6\n",
                                 err, sizeof(err)) == 0,
              "weights: %s", err);
        {
                ScopeWindow sw = sw_with(75, 5, 3, 5, 10);
                CHECK(compute_value(&sw, IDX_SERVICE_INDEX, &c, &v, &n), "weighted");
                CHECK_NEAR(v, 0.2 * 75 + 0.2 * 60 + 0.6 * 70, 1e-9, "service_index configured weights");
                CHECK(compute_value(&sw, IDX_GRADE, &c, &v, &n) && strcmp(index_grade(v), "failing") == 0,
                      "grade 69");
                sw = sw_with(100, 5, 5, 5, 25); /* handling 100 */
                CHECK(compute_value(&sw, IDX_GRADE, &c, &v, &n) && strcmp(index_grade(v), "excellent") == 0,
                      "grade 100");
        }

        /* complaint_rate: complaints opened per 100 tickets opened. */
        {
                ScopeWindow sw = {0};
                CHECK(!compute_value(&sw, IDX_COMPLAINT_RATE, &c, &v, &n), "no tickets: null");
                sw.sum.tk.opened = 8;
                sw.sum.cp.opened = 2;
                CHECK(compute_value(&sw, IDX_COMPLAINT_RATE, &c, &v, &n) && n == 8, "rate");
                CHECK_NEAR(v, 25, 1e-9, "complaint_rate");
        }
        /* Gauges: null unless loaded, never negative. */
        {
                ScopeWindow sw = {0};
                sw.gauges.backlog = 3;
                CHECK(!compute_value(&sw, IDX_BACKLOG, &c, &v, &n), "gauges not loaded: null");
                sw.loaded = NEED_GAUGES;
                CHECK(compute_value(&sw, IDX_BACKLOG, &c, &v, &n) && v == 3, "backlog 3");
                sw.gauges.overdue = -1;
                CHECK(compute_value(&sw, IDX_OVERDUE, &c, &v, &n) && v == 0, "overdue clamps at 0");
        }
        CHECK(compute_needs(IDX_FRT_P90) == NEED_FRT_SKETCH && compute_needs(IDX_RESOLUTION_P50) == NEED_RES_SKETCH &&
                      compute_needs(IDX_COMPLAINTS_OPEN) == NEED_GAUGES && compute_needs(IDX_CSAT) == 0,
              "needs");
        CHECK_DONE();
}
