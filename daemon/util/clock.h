/* daemon/util/clock.h: wall-clock and monotonic milliseconds. */
#pragma once

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unix time in ms: event times and windows. */
static inline int64_t now_ms(void) {
        return clock_ms(CLOCK_REALTIME);
}

/* Monotonic ns: durations worth more than a millisecond's resolution. */
static inline int64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic ms: batch ages and timers. */
static inline int64_t mono_ms(void) {
        return clock_ms(CLOCK_MONOTONIC);
}
