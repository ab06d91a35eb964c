/* tests/unit/check.h: the few assertion macros the unit tests share. Each
 * failure prints where and what, and the test exits non-zero at the end. */
#pragma once

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond, ...)                                                                                               \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        check_failures++;                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                      \
                        fprintf(stderr, __VA_ARGS__);                                                                  \
                        fputc('\n', stderr);                                                                           \
                }                                                                                                      \
        } while (0)

#define CHECK_NEAR(a, b, eps, what)                                                                                    \
        CHECK(fabs((double)(a) - (double)(b)) <= (eps), "%s: got %.12g, want %.12g", (what), (double)(a), (double)(b))

#define CHECK_DONE()                                                                                                   \
        do {                                                                                                           \
                if (check_failures)                                                                                    \
                        fprintf(stderr, "%d check(s) failed\n", check_failures);                                       \
                return check_failures ? 1 : 0;                                                                         \
        } while (0)
