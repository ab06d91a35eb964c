/* daemon/util/log.h: logging to the journal (under systemd) or stderr.
 *
 * Under systemd (JOURNAL_STREAM set) messages go through sd_journal_send with
 * structured fields; otherwise one line per message on stderr. Operator
 * events carry a stable MESSAGE_ID (LOG_ID_*) so they can be searched.
 */
#pragma once

#include <stdint.h>
#include <syslog.h>

#define LOG_ID_STARTED "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e001"
#define LOG_ID_STOPPED "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e002"
#define LOG_ID_REJECTED "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e003"
#define LOG_ID_STORAGE_FULL "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e004"
#define LOG_ID_COMMIT_FAILED "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e005"
#define LOG_ID_ALERT "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e006"          /* an alert published or silenced */
#define LOG_ID_RULES_RELOADED "6c1e6c8f0e1c4c2fa9b5b3d0d1a4e007" /* SIGHUP / raterctl reload */

/* Chooses the sink once; call before the first message. */
void log_setup(void);

/* Logs at syslog priority prio; message_id may be NULL. */
void log_full(int prio, const char *message_id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_full(LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, NULL, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, NULL, __VA_ARGS__)

/* A token window for noisy paths: at most `burst` messages per `interval_ms`;
 * the first message after a suppressed stretch says how many were dropped. */
typedef struct {
        int64_t interval_ms;
        unsigned burst;
        int64_t begin;
        unsigned count;
        unsigned suppressed;
} RateLimit;

#define RATELIMIT_INIT(interval, n) {.interval_ms = (interval), .burst = (n)}

/* Returns the number of messages suppressed since the last allowed one plus
 * one (>= 1) when this message may be logged, 0 when it must be dropped. */
unsigned ratelimit_test(RateLimit *rl, int64_t now_ms);
