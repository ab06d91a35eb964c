/* proto/duration.h: the duration syntax of CONTRACT.md section 3
 * (`500ms`, `30s`, `15m`, `1h`, `24h`, `7d`), shared by config and clients. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Parses "<digits><unit>" with unit ms|s|m|h|d into milliseconds. No sign,
 * no spaces, no bare numbers, no overflow. Returns 0, or -EINVAL. */
int duration_parse(const char *s, int64_t *out_ms);

/* Formats ms in the largest unit that divides it exactly ("90s", "1h",
 * "500ms"). Returns buf. */
char *duration_format(int64_t ms, char *buf, size_t size);
