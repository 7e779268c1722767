/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers of passthructl: cleanup attributes, string vectors, logging to stderr
 * in the "passthructl: message" form (log_*_errno() take a negative errno, set errno
 * for %m and return the negative errno), colour decisions and PCI address formatting.
 * Owns no state besides the colour decision; knows nothing about D-Bus.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

#define TAKE_PTR(p)                             \
        ({                                      \
                typeof(p) *_pp_ = &(p);         \
                typeof(p) _p_ = *_pp_;          \
                *_pp_ = NULL;                   \
                _p_;                            \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

#define IN_SET(x, ...)                                                  \
        ({                                                              \
                const typeof(x) _x_ = (x);                              \
                const typeof(x) _set_[] = { __VA_ARGS__ };              \
                bool _found_ = false;                                   \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_set_); _i_++)    \
                        if (_set_[_i_] == _x_) {                        \
                                _found_ = true;                         \
                                break;                                  \
                        }                                               \
                _found_;                                                \
        })

#define streq(a, b) (strcmp((a), (b)) == 0)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline bool isempty(const char *s) {
        return !s || s[0] == '\0';
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static inline const char *true_false(bool b) {
        return b ? "true" : "false";
}

static inline char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? (char *) s + l : NULL;
}

/* NULL-terminated string vectors. */
size_t strv_length(char * const *l) _pure_;
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Logging. The program name prefixes every message. */
int log_errno_internal(int error, const char *fmt, ...) _printf_(2, 3);
#define log_error_errno(error, ...) log_errno_internal((error), __VA_ARGS__)
#define log_error(...) ((void) log_errno_internal(0, __VA_ARGS__))
#define log_oom() log_errno_internal(-ENOMEM, "Out of memory.")
void log_set_debug(bool b);
bool log_get_debug(void);
#define log_debug(...)                                          \
        do {                                                    \
                if (log_get_debug())                            \
                        (void) log_errno_internal(0, __VA_ARGS__); \
        } while (false)

/* Colours: decided once from --color=, the terminal, $TERM and $NO_COLOR. */
typedef enum ColorMode {
        COLOR_AUTO,
        COLOR_ALWAYS,
        COLOR_NEVER,
} ColorMode;

int color_mode_from_string(const char *s);
void colors_setup(ColorMode mode);
bool colors_enabled(void);

#define ANSI_RED "\x1B[0;31m"
#define ANSI_GREEN "\x1B[0;32m"
#define ANSI_YELLOW "\x1B[0;33m"
#define ANSI_HIGHLIGHT "\x1B[0;1;39m"
#define ANSI_GREY "\x1B[0;38;5;245m"
#define ANSI_NORMAL "\x1B[0m"

/* Returns the escape sequence when colours are on, "" otherwise. */
const char *ansi(const char *seq);
static inline const char *ansi_normal(void) {
        return ansi(ANSI_NORMAL);
}

/* Display width of a UTF-8 string in terminal cells (one per code point, good enough for
 * the names of the PCI ids database). */
size_t utf8_width(const char *s) _pure_;

/* Copy of s for a terminal: control characters are shown as \xNN, so names coming from
 * the daemon cannot move the cursor or change colours. */
char *strdup_printable(const char *s);

/* Writes "26:00.0" for "0000:26:00.0" and the full address when the domain is not 0000.
 * Returns a pointer into addr (no allocation). */
const char *address_short(const char *addr) _pure_;

/* "/org/passthru1/device/pci_0000_26_00_0" → "0000:26:00.0" (into buf, which must hold
 * at least 13 bytes). Returns -EINVAL when the path is not a device path. */
int address_from_device_path(const char *path, char buf[static 13]);

/* The canonical form of an address as the user typed it, for looking it up among the
 * daemon's (canonical) ones: "26:00.0", "0000:26:00.0", "pci_0000_26_00_0" (any case) →
 * "0000:26:00.0". Does not validate (the daemon does): anything else comes back lower-cased.
 * Returns a new string, NULL on OOM. */
char *address_normalize(const char *s);

/* "/org/passthru1/group/16" → 16. Returns -EINVAL when the path is not a group path. */
int group_from_path(const char *path, uint32_t *ret);

/* Parses a decimal unsigned 32 bit number, nothing else allowed. */
int safe_atou32(const char *s, uint32_t *ret);

/* Writes a whole buffer to stdout and flushes; returns -errno on failure. */
int write_stdout(const char *buf, size_t len);
/* Flushes standard output, a failure (a closed pipe, a full disk) logged. */
int flush_stdout(void);
