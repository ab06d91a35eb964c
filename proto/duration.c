/* proto/duration.c: strict duration parsing and canonical formatting. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

static const struct {
        const char *unit;
        int64_t ms;
} units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

int duration_parse(const char *s, int64_t *out_ms) {
        int64_t n = 0;
        const char *p = s;

        if (!s || *p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > (INT64_MAX - (*p - '0')) / 10)
                        return -EINVAL;
                n = n * 10 + (*p - '0');
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (strcmp(p, units[i].unit) != 0)
                        continue;
                if (n > INT64_MAX / units[i].ms)
                        return -EINVAL;
                *out_ms = n * units[i].ms;
                return 0;
        }
        return -EINVAL;
}

char *duration_format(int64_t ms, char *buf, size_t size) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (ms != 0 && ms % units[i].ms == 0) {
                        snprintf(buf, size, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
                        return buf;
                }
        }
        snprintf(buf, size, "%" PRId64 "ms", ms);
        return buf;
}
