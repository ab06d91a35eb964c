/* daemon/index/indices.c: index names, orientation and grades. */
#include <string.h>

#include "index/indices.h"

static const IndexInfo infos[_IDX_MAX] = {
        [IDX_FEEDBACK_COUNT] = {"feedback_count", true, true},
        [IDX_SATISFACTION] = {"satisfaction", true, false},
        [IDX_CSAT] = {"csat", true, false},
        [IDX_NPS] = {"nps", true, false},
        [IDX_RATER_RELIABILITY] = {"rater.reliability", true, false},
        [IDX_RATER_ASSURANCE] = {"rater.assurance", true, false},
        [IDX_RATER_TANGIBLES] = {"rater.tangibles", true, false},
        [IDX_RATER_EMPATHY] = {"rater.empathy", true, false},
        [IDX_RATER_RESPONSIVENESS] = {"rater.responsiveness", true, false},
        [IDX_RATER_INDEX] = {"rater_index", true, false},
        [IDX_TICKETS_OPENED] = {"tickets_opened", false, true},
        [IDX_TICKETS_RESOLVED] = {"tickets_resolved", true, true},
        [IDX_TICKETS_REOPENED] = {"tickets_reopened", false, true},
        [IDX_FRT_P50] = {"frt_p50", false, false},
        [IDX_FRT_P90] = {"frt_p90", false, false},
        [IDX_FRT_P99] = {"frt_p99", false, false},
        [IDX_FRT_MEAN] = {"frt_mean", false, false},
        [IDX_RESOLUTION_P50] = {"resolution_p50", false, false},
        [IDX_RESOLUTION_P90] = {"resolution_p90", false, false},
        [IDX_RESOLUTION_MEAN] = {"resolution_mean", false, false},
        [IDX_SLA_COMPLIANCE] = {"sla_compliance", true, false},
        [IDX_SLA_BREACHES] = {"sla_breaches", false, true},
        [IDX_FCR] = {"fcr", true, false},
        [IDX_REOPEN_RATE] = {"reopen_rate", false, false},
        [IDX_BACKLOG] = {"backlog", false, true},
        [IDX_OVERDUE] = {"overdue", false, true},
        [IDX_COMPLAINTS_OPENED] = {"complaints_opened", false, true},
        [IDX_COMPLAINTS_RESOLVED] = {"complaints_resolved", true, true},
        [IDX_COMPLAINT_RATE] = {"complaint_rate", false, false},
        [IDX_COMPLAINT_POINTS] = {"complaint_points", true, false},
        [IDX_COMPLAINT_HANDLING] = {"complaint_handling", true, false},
        [IDX_REPEAT_COMPLAINT_RATE] = {"repeat_complaint_rate", false, false},
        [IDX_COMPLAINTS_OPEN] = {"complaints_open", false, true},
        [IDX_SERVICE_INDEX] = {"service_index", true, false},
        [IDX_GRADE] = {"grade", true, false},
};

int index_lookup(const char *name) {
        for (int i = 0; i < _IDX_MAX; i++)
                if (strcmp(infos[i].name, name) == 0)
                        return i;
        return -1;
}

const IndexInfo *index_info(IndexId id) {
        return &infos[id];
}

const char *index_grade(double value) {
        return value >= 90 ? "excellent" : value >= 70 ? "acceptable" : "failing";
}
