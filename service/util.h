/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * String vectors, escaping and small readers of kernel attribute files relative to an
 * open directory (callers pass the directory; this file builds no sysfs path itself).
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
bool strv_equal(char *const *a, char *const *b);
int strv_push(char ***l, char *value); /* takes ownership of value, also on failure; NULL: -ENOMEM */
bool strv_contains(char *const *l, const char *s);
/* Appends a copy of s unless l has it already. */
int strv_extend_unique(char ***l, const char *s);
int strv_extend(char ***l, const char *s);
/* Removes (and frees) every entry equal to s. */
void strv_remove(char **l, const char *s);
/* The entries joined with separator; NULL only when out of memory. */
char *strv_join(char *const *l, const char *separator);
char **strv_split(const char *s, const char *separators);

/* C-style escaping of anything that is not printable ASCII; at most max_in input bytes,
 * with "…" appended when cut. For echoing untrusted input in messages. */
char *cescape_trunc(const char *s, size_t max_in);

/* Attribute readers: the first line of dirfd/name without the trailing newline. */
int read_line_at(int dirfd, const char *name, char **ret);
int read_hex_at(int dirfd, const char *name, unsigned long *ret);
int read_bool_at(int dirfd, const char *name, bool *ret);
/* The last path component of the symlink dirfd/name (e.g. the driver's name). */
int readlink_basename_at(int dirfd, const char *name, char **ret);
/* Read a whole (small) file. */
int read_full_at(int dirfd, const char *name, size_t max_size, char **ret, size_t *ret_size);

int safe_atou(const char *s, unsigned *ret);

DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose);

/* Replaces dirfd/name by content atomically: a temporary file, fsync, rename, fsync of the
 * directory. Readers see the old or the new content, never a part. */
int write_file_atomic_at(int dirfd, const char *name, const char *content);
/* The same with the file's mode set whatever the umask (MODE_INVALID: 0644 less the umask). */
#define MODE_INVALID ((mode_t) -1)
int write_file_atomic_mode_at(int dirfd, const char *name, const char *content, mode_t mode);
