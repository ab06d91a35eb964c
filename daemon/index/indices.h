/* daemon/index/indices.h: the registry of index names (CONTRACT.md section 3).
 *
 * Every contract index has an id here so rules and queries can name it.
 */
#pragma once

#include <stdbool.h>

typedef enum {
        IDX_FEEDBACK_COUNT = 0,
        IDX_SATISFACTION,
        IDX_CSAT,
        IDX_NPS,
        IDX_RATER_RELIABILITY, /* + RaterDim, in RaterDim order */
        IDX_RATER_ASSURANCE,
        IDX_RATER_TANGIBLES,
        IDX_RATER_EMPATHY,
        IDX_RATER_RESPONSIVENESS,
        IDX_RATER_INDEX,
        IDX_TICKETS_OPENED,
        IDX_TICKETS_RESOLVED,
        IDX_TICKETS_REOPENED,
        IDX_FRT_P50,
        IDX_FRT_P90,
        IDX_FRT_P99,
        IDX_FRT_MEAN,
        IDX_RESOLUTION_P50,
        IDX_RESOLUTION_P90,
        IDX_RESOLUTION_MEAN,
        IDX_SLA_COMPLIANCE,
        IDX_SLA_BREACHES,
        IDX_FCR,
        IDX_REOPEN_RATE,
        IDX_BACKLOG,
        IDX_OVERDUE,
        IDX_COMPLAINTS_OPENED,
        IDX_COMPLAINTS_RESOLVED,
        IDX_COMPLAINT_RATE,
        IDX_COMPLAINT_POINTS,
        IDX_COMPLAINT_HANDLING,
        IDX_REPEAT_COMPLAINT_RATE,
        IDX_COMPLAINTS_OPEN,
        IDX_SERVICE_INDEX,
        IDX_GRADE,
        _IDX_MAX,
} IndexId;

typedef struct {
        const char *name;
        bool higher_is_better; /* decides what `top --worst` means */
        bool count;            /* a whole number (printed as an integer) */
} IndexInfo;

/* Returns the id of a contract index name, or -1. */
int index_lookup(const char *name);
const IndexInfo *index_info(IndexId id);

/* Grade of a 0-100 index: "excellent" >= 90, "acceptable" >= 70, else
 * "failing". */
const char *index_grade(double value);
