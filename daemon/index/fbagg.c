/* daemon/index/fbagg.c: satisfaction sums and the formulas over them. */
#include "index/fbagg.h"

double fbagg_norm(uint32_t x, uint32_t scale) {
        return 100.0 * (double)(x - 1) / (double)(scale - 1);
}

void fbagg_add(FbAgg *a, const Event *ev) {
        a->n++;
        a->score_sum += fbagg_norm(ev->score, ev->scale);
        /* "Top two points of its scale": scale-1 and scale. */
        if (ev->score + 1 >= ev->scale)
                a->csat_top++;
        if (ev->has_nps) {
                a->nps_n++;
                if (ev->nps >= 9)
                        a->nps_promoters++;
                else if (ev->nps <= 6)
                        a->nps_detractors++;
        }
        if (ev->rater_mask)
                a->rater_events++;
        for (int d = 0; d < _RATER_DIM_MAX; d++)
                if (ev->rater_mask & (1u << d)) {
                        a->rater_n[d]++;
                        a->rater_sum[d] += fbagg_norm(ev->rater[d], ev->scale);
                }
}

void fbagg_merge(FbAgg *into, const FbAgg *from) {
        into->n += from->n;
        into->csat_top += from->csat_top;
        into->nps_n += from->nps_n;
        into->nps_promoters += from->nps_promoters;
        into->nps_detractors += from->nps_detractors;
        into->rater_events += from->rater_events;
        into->score_sum += from->score_sum;
        for (int d = 0; d < _RATER_DIM_MAX; d++) {
                into->rater_n[d] += from->rater_n[d];
                into->rater_sum[d] += from->rater_sum[d];
        }
}

bool fbagg_value(const FbAgg *a, IndexId id, const double *weights, double *value, uint64_t *samples) {
        switch (id) {
        case IDX_FEEDBACK_COUNT:
                /* A count is never null: zero events is a value. */
                *samples = a->n;
                *value = (double)a->n;
                return true;
        case IDX_SATISFACTION:
                *samples = a->n;
                *value = a->n ? a->score_sum / (double)a->n : 0;
                return a->n > 0;
        case IDX_CSAT:
                *samples = a->n;
                *value = a->n ? 100.0 * (double)a->csat_top / (double)a->n : 0;
                return a->n > 0;
        case IDX_NPS:
                *samples = a->nps_n;
                *value = a->nps_n ? 100.0 * ((double)a->nps_promoters - (double)a->nps_detractors) / (double)a->nps_n
                                  : 0;
                return a->nps_n > 0;
        case IDX_RATER_RELIABILITY:
        case IDX_RATER_ASSURANCE:
        case IDX_RATER_TANGIBLES:
        case IDX_RATER_EMPATHY:
        case IDX_RATER_RESPONSIVENESS: {
                int d = id - IDX_RATER_RELIABILITY;
                *samples = a->rater_n[d];
                *value = a->rater_n[d] ? a->rater_sum[d] / (double)a->rater_n[d] : 0;
                return a->rater_n[d] > 0;
        }
        case IDX_RATER_INDEX: {
                /* Weights renormalised over the dimensions that have samples. */
                double num = 0, den = 0;
                for (int d = 0; d < _RATER_DIM_MAX; d++)
                        if (a->rater_n[d] && weights[d] > 0) {
                                num += weights[d] * a->rater_sum[d] / (double)a->rater_n[d];
                                den += weights[d];
                        }
                *samples = a->rater_events;
                *value = den > 0 ? num / den : 0;
                return den > 0;
        }
        default:
                *samples = 0;
                *value = 0;
                return false;
        }
}
