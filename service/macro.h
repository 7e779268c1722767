/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small language helpers shared by the daemon and its tests: cleanup attributes,
 * pointer ownership transfer, array sizes, string comparisons. Touches no files.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((__const__))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _public_ __attribute__((visibility("default")))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define ASSERT_PTR(p)                                   \
        ({                                              \
                typeof(p) _p = (p);                     \
                if (!_p)                                \
                        abort();                        \
                _p;                                     \
        })

/* Hand the value over to the caller and leave NULL (or the given value) behind. */
#define TAKE_GENERIC(var, type, nullvalue)              \
        ({                                              \
                type *_pvar_ = &(var);                  \
                type _var_ = *_pvar_;                   \
                type _nullvalue_ = nullvalue;           \
                *_pvar_ = _nullvalue_;                  \
                _var_;                                  \
        })
#define TAKE_PTR(ptr) TAKE_GENERIC(ptr, typeof(ptr), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline int safe_close(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

/* "n/a" for NULL: a message from elsewhere that may be missing. */
static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline bool isempty(const char *s) {
        return !s || s[0] == '\0';
}

static inline const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static inline char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? (char *) s + l : NULL;
}

/* Replace *p by a copy of s (NULL allowed). Returns 1 if the value changed, 0 if not, -ENOMEM. */
static inline int free_and_strdup(char **p, const char *s) {
        char *t;

        if (streq_ptr(*p, s))
                return 0;
        if (s) {
                t = strdup(s);
                if (!t)
                        return -ENOMEM;
        } else
                t = NULL;
        free(*p);
        *p = t;
        return 1;
}

#define ERRNO_VALUE(r) (abs(r))
#define SYNTHETIC_ERRNO(e) (-(e))

#define PID_FMT "%" PRIi32

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

#define MAX(a, b)                               \
        ({                                      \
                typeof(a) _a = (a);             \
                typeof(b) _b = (b);             \
                _a > _b ? _a : _b;              \
        })
#define MIN(a, b)                               \
        ({                                      \
                typeof(a) _min_a = (a);         \
                typeof(b) _min_b = (b);         \
                _min_a < _min_b ? _min_a : _min_b; \
        })

/* CLOCK_MONOTONIC now. (Not sd_event_now(): that is when the loop last woke up, which may be
 * long ago if a call blocked it.) */
static inline uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}
