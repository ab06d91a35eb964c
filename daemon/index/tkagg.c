/* daemon/index/tkagg.c: ticket sums and the formulas over them. */
#include "index/tkagg.h"

void tkagg_merge(TkAgg *into, const TkAgg *from) {
        into->opened += from->opened;
        into->resolved += from->resolved;
        into->reopened += from->reopened;
        into->frt_n += from->frt_n;
        into->res_n += from->res_n;
        into->frt_sum += from->frt_sum;
        into->res_sum += from->res_sum;
        into->sla_due += from->sla_due;
        into->sla_met += from->sla_met;
        into->sla_breaches += from->sla_breaches;
        into->fcr_n += from->fcr_n;
        into->fcr_ok += from->fcr_ok;
}

static bool ratio(uint64_t num, uint64_t den, double *value, uint64_t *samples) {
        *samples = den;
        *value = den ? 100.0 * (double)num / (double)den : 0;
        return den > 0;
}

static bool count(uint64_t n, double *value, uint64_t *samples) {
        *samples = n;
        *value = (double)n;
        return true;
}

bool tkagg_value(const TkAgg *a, IndexId id, double *value, uint64_t *samples) {
        switch (id) {
        case IDX_TICKETS_OPENED:
                return count(a->opened, value, samples);
        case IDX_TICKETS_RESOLVED:
                return count(a->resolved, value, samples);
        case IDX_TICKETS_REOPENED:
                return count(a->reopened, value, samples);
        case IDX_SLA_BREACHES:
                return count(a->sla_breaches, value, samples);
        case IDX_FRT_MEAN:
                *samples = a->frt_n;
                *value = a->frt_n ? a->frt_sum / (double)a->frt_n : 0;
                return a->frt_n > 0;
        case IDX_RESOLUTION_MEAN:
                *samples = a->res_n;
                *value = a->res_n ? a->res_sum / (double)a->res_n : 0;
                return a->res_n > 0;
        case IDX_SLA_COMPLIANCE:
                return ratio(a->sla_met, a->sla_due, value, samples);
        case IDX_FCR:
                return ratio(a->fcr_ok, a->fcr_n, value, samples);
        case IDX_REOPEN_RATE:
                return ratio(a->reopened, a->resolved, value, samples);
        default:
                *samples = 0;
                *value = 0;
                return false;
        }
}
