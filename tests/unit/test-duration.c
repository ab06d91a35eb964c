/* tests/unit/test-duration.c: table-driven tests of duration_parse and
 * duration_format (CONTRACT.md section 3: `500ms`, `30s`, `15m`, `1h`, `24h`,
 * `7d`; section 5 uses the same syntax for configuration). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

#define SENTINEL INT64_C(-777)

typedef struct {
        const char *clause;
        const char *in;
        int want;      /* 0 or -EINVAL */
        int64_t ms;    /* when want == 0 */
} ParseRow;

static const ParseRow parse_rows[] = {
        {"3 durations", "500ms", 0, 500},
        {"3 durations", "30s", 0, 30000},
        {"3 durations", "15m", 0, 900000},
        {"3 durations", "1h", 0, 3600000},
        {"3 durations", "24h", 0, 86400000},
        {"3 durations", "7d", 0, 604800000},
        {"3 durations", "35d", 0, INT64_C(3024000000)},
        {"3 durations", "0s", 0, 0},
        {"3 durations", "0ms", 0, 0},
        {"3 durations", "1ms", 0, 1},
        {"3 durations: m is minutes, ms is milliseconds", "1m", 0, 60000},
        {"3 durations: leading zeros are digits", "007s", 0, 7000},
        {"3 durations: largest value", "9223372036854775807ms", 0, INT64_MAX},
        {"3 durations: largest whole days", "106751991167d", 0, INT64_C(106751991167) * 86400000},
        {"3 durations: largest whole hours", "2562047788015h", 0, INT64_C(2562047788015) * 3600000},
        {"3 durations: empty", "", -EINVAL, 0},
        {"3 durations: bare number", "5", -EINVAL, 0},
        {"3 durations: bare unit", "h", -EINVAL, 0},
        {"3 durations: bare unit ms", "ms", -EINVAL, 0},
        {"3 durations: negative", "-1h", -EINVAL, 0},
        {"3 durations: explicit plus", "+1h", -EINVAL, 0},
        {"3 durations: fraction", "1.5h", -EINVAL, 0},
        {"3 durations: inner space", "1 h", -EINVAL, 0},
        {"3 durations: leading space", " 1h", -EINVAL, 0},
        {"3 durations: trailing space", "1h ", -EINVAL, 0},
        {"3 durations: trailing newline", "1h\n", -EINVAL, 0},
        {"3 durations: doubled unit", "1hh", -EINVAL, 0},
        {"3 durations: weeks are not a unit", "1w", -EINVAL, 0},
        {"3 durations: years are not a unit", "1y", -EINVAL, 0},
        {"3 durations: units are lower case", "1H", -EINVAL, 0},
        {"3 durations: units are lower case", "5MS", -EINVAL, 0},
        {"3 durations: no compound values", "1h30m", -EINVAL, 0},
        {"3 durations: digits after the unit", "1ms5", -EINVAL, 0},
        {"3 durations: hex", "0x10s", -EINVAL, 0},
        {"3 durations: overflow in the digits", "99999999999999999999d", -EINVAL, 0},
        {"3 durations: overflow in the digits, ms", "9223372036854775808ms", -EINVAL, 0},
        {"3 durations: overflow by the unit, d", "106751991168d", -EINVAL, 0},
        {"3 durations: overflow by the unit, h", "2562047788016h", -EINVAL, 0},
        {"3 durations: overflow by the unit, s", "9223372036854776s", -EINVAL, 0},
};

typedef struct {
        int64_t ms;
        const char *want;
} FormatRow;

static const FormatRow format_rows[] = {
        {500, "500ms"},
        {1, "1ms"},
        {1500, "1500ms"},
        {30000, "30s"},
        {90000, "90s"},
        {900000, "15m"},
        {5400000, "90m"},
        {3600000, "1h"},
        {86400000, "1d"},
        {90000000, "25h"},
        {604800000, "7d"},
        {INT64_C(3024000000), "35d"},
        {0, "0ms"},
        {INT64_MAX, "9223372036854775807ms"},
};

static int run_parse(void) {
        size_t n = sizeof(parse_rows) / sizeof(parse_rows[0]);
        int failed = 0;

        for (size_t i = 0; i < n; i++) {
                const ParseRow *r = &parse_rows[i];
                int64_t ms = SENTINEL;
                int got = duration_parse(r->in, &ms);

                if (got != r->want || (got == 0 && ms != r->ms) || (got != 0 && ms != SENTINEL)) {
                        printf("FAIL [%s] duration_parse(\"%s\"): got %d, %" PRId64 "; want %d, %" PRId64
                               " (output untouched on error)\n",
                               r->clause, r->in, got, ms, r->want, r->want ? SENTINEL : r->ms);
                        failed++;
                }
        }

        {
                int64_t ms = SENTINEL;
                n++;
                if (duration_parse(NULL, &ms) != -EINVAL || ms != SENTINEL) {
                        printf("FAIL [3 durations] duration_parse(NULL) should be -EINVAL\n");
                        failed++;
                }
        }
        printf("parse rows: %zu, failed: %d\n", n, failed);
        return failed;
}

static int run_format(void) {
        size_t n = sizeof(format_rows) / sizeof(format_rows[0]);
        int failed = 0;

        for (size_t i = 0; i < n; i++) {
                const FormatRow *r = &format_rows[i];
                char buf[32];
                int64_t back = SENTINEL;
                char *got = duration_format(r->ms, buf, sizeof(buf));

                if (got != buf || strcmp(buf, r->want) != 0) {
                        printf("FAIL [3 durations] duration_format(%" PRId64 "): got \"%s\", want \"%s\"\n", r->ms,
                               buf, r->want);
                        failed++;
                } else if (duration_parse(buf, &back) != 0 || back != r->ms) {
                        printf("FAIL [3 durations] duration_parse(duration_format(%" PRId64 ")) = %" PRId64 "\n",
                               r->ms, back);
                        failed++;
                }
        }

        /* A short buffer is truncated and still terminated. */
        {
                char buf[4] = "xxx";
                n++;
                duration_format(500, buf, 3);
                if (strcmp(buf, "50") != 0) {
                        printf("FAIL [3 durations] duration_format into 3 bytes: got \"%s\", want \"50\"\n", buf);
                        failed++;
                }
        }
        printf("format rows: %zu, failed: %d\n", n, failed);
        return failed;
}

/* Every accepted spelling formats to a canonical one that parses back to the
 * same value. */
static int run_round_trips(void) {
        size_t n = 0;
        int failed = 0;

        for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
                const ParseRow *r = &parse_rows[i];
                int64_t ms, back = SENTINEL;
                char buf[32], again[32];

                if (r->want != 0 || duration_parse(r->in, &ms) != 0)
                        continue;
                n++;
                duration_format(ms, buf, sizeof(buf));
                if (duration_parse(buf, &back) != 0 || back != ms ||
                    strcmp(duration_format(back, again, sizeof(again)), buf) != 0) {
                        printf("FAIL [3 durations] round trip \"%s\" -> %" PRId64 " -> \"%s\" -> %" PRId64 "\n", r->in,
                               ms, buf, back);
                        failed++;
                }
        }
        printf("round trips: %zu, failed: %d\n", n, failed);
        return failed;
}

int main(void) {
        int failed = run_parse() + run_format() + run_round_trips();
        return failed ? 1 : 0;
}
