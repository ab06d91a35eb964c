/* clients/watch/warn.h: rater-watch's rate-limited warnings. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct {
        bool armed;
        int64_t last_ms;
        uint64_t suppressed;
} RateLimit;

int64_t mono_ms(void);

/* At most one line a second per limiter; the next one says how many were
 * swallowed. Malformed input must not be able to flood the terminal. */
__attribute__((format(printf, 2, 3))) void warn_limited(RateLimit *rl, const char *fmt, ...);
