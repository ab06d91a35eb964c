/* clients/watch/warn.c: rater-watch's rate-limited warnings (see warn.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "watch/warn.h"

int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void warn_limited(RateLimit *rl, const char *fmt, ...) {
        int64_t now = mono_ms();
        va_list ap;

        if (rl->armed && now - rl->last_ms < 1000) {
                rl->suppressed++;
                return;
        }
        fputs("rater-watch: warning: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        if (rl->suppressed)
                fprintf(stderr, " (%" PRIu64 " similar warnings suppressed)", rl->suppressed);
        fputc('\n', stderr);
        rl->armed = true;
        rl->last_ms = now;
        rl->suppressed = 0;
}
