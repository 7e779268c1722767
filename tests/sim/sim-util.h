/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim-util.h: the few systemd-style helpers (cleanup attributes, string and
 * errno helpers) shared by the pcisim sources. The simulator is a test tool
 * and deliberately does not link against the daemon's own helper code.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _fallthrough_ __attribute__((fallthrough))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void *take_ptr_impl(void **p) {
        void *t = *p;
        *p = NULL;
        return t;
}
#define TAKE_PTR(p) ((__typeof__(p)) take_ptr_impl((void **) &(p)))

static inline int take_fd_impl(int *fd) {
        int t = *fd;
        *fd = -1;
        return t;
}
#define TAKE_FD(fd) take_fd_impl(&(fd))

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#include <stdarg.h>

/* Like asprintf() but returns the string or NULL. */
static inline _printf_(1, 2) char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}
