/* daemon/index/cpagg.c: complaint sums and the formulas over them. */
#include "index/cpagg.h"

/* Points per scored complaint lie in [-5, +5] with the default points; the
 * handling index maps that range linearly onto 0-100 and clamps, so custom
 * points outside it still give a 0-100 index. */
#define POINTS_MIN (-5.0)
#define POINTS_MAX 5.0
#define NO_COMPLAINT_POINTS 10.0

void cpagg_merge(CpAgg *into, const CpAgg *from) {
        into->opened += from->opened;
        into->resolved += from->resolved;
        into->repeat += from->repeat;
        into->unhandled += from->unhandled;
        into->scored += from->scored;
        into->points += from->points;
}

bool cpagg_value(const CpAgg *a, IndexId id, double *value, uint64_t *samples) {
        switch (id) {
        case IDX_COMPLAINTS_OPENED:
                *samples = a->opened;
                *value = (double)a->opened;
                return true;
        case IDX_COMPLAINTS_RESOLVED:
                *samples = a->resolved;
                *value = (double)a->resolved;
                return true;
        case IDX_COMPLAINT_POINTS:
                /* "+10 when the window has no complaint at all": nothing
                 * opened, resolved or left unhandled in it. */
                *samples = a->scored;
                *value = a->opened + a->resolved + a->unhandled ? a->points : NO_COMPLAINT_POINTS;
                return true;
        case IDX_COMPLAINT_HANDLING: {
                double mean, v;
                *samples = a->scored;
                if (!a->scored) {
                        *value = 0;
                        return false;
                }
                mean = a->points / (double)a->scored;
                v = 100.0 * (mean - POINTS_MIN) / (POINTS_MAX - POINTS_MIN);
                *value = v < 0 ? 0 : v > 100 ? 100 : v;
                return true;
        }
        case IDX_REPEAT_COMPLAINT_RATE:
                *samples = a->opened;
                *value = a->opened ? 100.0 * (double)a->repeat / (double)a->opened : 0;
                return a->opened > 0;
        default:
                *samples = 0;
                *value = 0;
                return false;
        }
}
