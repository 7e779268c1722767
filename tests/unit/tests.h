/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Minimal test harness: each TEST() is a function run by main() in order; a failed check
 * prints where and what, and the program exits non-zero after running all tests.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tests_failed, tests_run, test_current_failed;

#define CHECK(cond)                                                                            \
        do {                                                                                   \
                if (!(cond)) {                                                                 \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        test_current_failed = 1;                                               \
                }                                                                              \
        } while (0)

#define CHECK_STREQ(a, b)                                                                          \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, \
                                __LINE__, #a, #b, _a ?: "(null)", _b ?: "(null)");                  \
                        test_current_failed = 1;                                                   \
                }                                                                                  \
        } while (0)

#define CHECK_INTEQ(a, b)                                                                          \
        do {                                                                                       \
                long long _a = (long long) (a), _b = (long long) (b);                              \
                if (_a != _b) {                                                                    \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (%lld vs %lld)\n", __FILE__, \
                                __LINE__, #a, #b, _a, _b);                                         \
                        test_current_failed = 1;                                                   \
                }                                                                                  \
        } while (0)

#define RUN(test)                                                                        \
        do {                                                                             \
                test_current_failed = 0;                                                 \
                test();                                                                  \
                tests_run++;                                                             \
                printf("%s - %s\n", test_current_failed ? "not ok" : "ok", #test);      \
                tests_failed += test_current_failed;                                     \
        } while (0)

#define TESTS_DONE()                                                                          \
        ({                                                                                    \
                printf("%d passed, %d failed\n", tests_run - tests_failed, tests_failed);     \
                tests_failed ? EXIT_FAILURE : EXIT_SUCCESS;                                   \
        })
