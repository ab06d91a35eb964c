/* daemon/util/log.c: journal or stderr sink, and rate limiting. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "util/log.h"

static bool use_journal;

void log_setup(void) {
        use_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_full(int prio, const char *message_id, const char *fmt, ...) {
        static const char *const names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (use_journal) {
                if (message_id)
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", prio, "MESSAGE_ID=%s", message_id,
                                        "SYSLOG_IDENTIFIER=raterd", NULL);
                else
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=raterd", NULL);
                return;
        }
        fprintf(stderr, "raterd: %s: %s\n", names[prio & 7], buf);
}

unsigned ratelimit_test(RateLimit *rl, int64_t now_ms) {
        unsigned r;

        if (now_ms - rl->begin >= rl->interval_ms) {
                rl->begin = now_ms;
                rl->count = 0;
        }
        if (rl->count >= rl->burst) {
                rl->suppressed++;
                return 0;
        }
        rl->count++;
        r = rl->suppressed + 1;
        rl->suppressed = 0;
        return r;
}
