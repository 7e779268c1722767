/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers without knowledge of where anything lives: string vectors, escaping, and
 * readers of attribute files relative to a directory fd handed in by the caller.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

bool strv_equal(char *const *a, char *const *b) {
        if (strv_length(a) != strv_length(b))
                return false;
        for (size_t i = 0; a && a[i]; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c;

        if (!value) /* what a failed strdup() or asprintf() hands over */
                return -ENOMEM;
        c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

bool strv_contains(char *const *l, const char *s) {
        for (char *const *i = l; i && *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

int strv_extend_unique(char ***l, const char *s) {
        char *c;

        if (strv_contains(*l, s))
                return 0;
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        return strv_push(l, c);
}

int strv_extend(char ***l, const char *s) {
        char *c = strdup(s);

        if (!c)
                return -ENOMEM;
        return strv_push(l, c);
}

void strv_remove(char **l, const char *s) {
        char **w = l;

        if (!l)
                return;
        for (char **r = l; *r; r++) {
                if (streq(*r, s)) {
                        free(*r);
                        continue;
                }
                *w++ = *r;
        }
        *w = NULL;
}

char *strv_join(char *const *l, const char *separator) {
        size_t n = 0, k = strlen(separator);
        char *s, *p;

        for (char *const *i = l; i && *i; i++)
                n += strlen(*i) + k;
        s = malloc(n + 1);
        if (!s)
                return NULL;
        p = s;
        for (char *const *i = l; i && *i; i++) {
                if (i != l)
                        p = stpcpy(p, separator);
                p = stpcpy(p, *i);
        }
        *p = '\0';
        return s;
}

char **strv_split(const char *s, const char *separators) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = s;

        l = calloc(1, sizeof(char *));
        if (!l)
                return NULL;
        for (;;) {
                size_t n;

                p += strspn(p, separators);
                if (*p == '\0')
                        break;
                n = strcspn(p, separators);
                if (strv_push(&l, strndup(p, n)) < 0 || !l[strv_length(l) - 1])
                        return NULL;
                p += n;
        }
        return TAKE_PTR(l);
}

char *cescape_trunc(const char *s, size_t max_in) {
        size_t n = strnlen(s, max_in + 1), k = 0;
        bool cut = n > max_in;
        char *r;

        if (cut)
                n = max_in;
        r = malloc(n * 4 + 4);
        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];

                if (c == '\\') {
                        r[k++] = '\\';
                        r[k++] = '\\';
                } else if (c == '\n') {
                        r[k++] = '\\';
                        r[k++] = 'n';
                } else if (c == '\t') {
                        r[k++] = '\\';
                        r[k++] = 't';
                } else if (c < 0x20 || c >= 0x7f) {
                        k += sprintf(r + k, "\\x%02x", c);
                } else
                        r[k++] = c;
        }
        if (cut)
                k += sprintf(r + k, "…");
        r[k] = '\0';
        return r;
}

int read_full_at(int dirfd, const char *name, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(max_size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t l = read(fd, buf + n, max_size - n);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (l == 0)
                        break;
                n += l;
                if (n >= max_size)
                        return -EFBIG;
        }
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int read_line_at(int dirfd, const char *name, char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        /* sysfs attributes are at most a page. */
        r = read_full_at(dirfd, name, 4096, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = '\0';
        *ret = TAKE_PTR(s);
        return 0;
}

int read_hex_at(int dirfd, const char *name, unsigned long *ret) {
        _cleanup_free_ char *s = NULL;
        unsigned long v;
        char *end;
        int r;

        r = read_line_at(dirfd, name, &s);
        if (r < 0)
                return r;
        errno = 0;
        v = strtoul(s, &end, 16);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int read_bool_at(int dirfd, const char *name, bool *ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_line_at(dirfd, name, &s);
        if (r < 0)
                return r;
        if (streq(s, "1"))
                *ret = true;
        else if (streq(s, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

int readlink_basename_at(int dirfd, const char *name, char **ret) {
        char buf[PATH_MAX];
        const char *b;
        ssize_t n;

        n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        b = strrchr(buf, '/');
        b = b ? b + 1 : buf;
        if (isempty(b))
                return -EINVAL;
        *ret = strdup(b);
        return *ret ? 0 : -ENOMEM;
}

int safe_atou(const char *s, unsigned *ret) {
        unsigned long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end != '\0')
                return -EINVAL;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const char *content) {
        return write_file_atomic_mode_at(dirfd, name, content, MODE_INVALID);
}

int write_file_atomic_mode_at(int dirfd, const char *name, const char *content, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(content), done = 0;

        if (asprintf(&tmp, ".%s.tmp", name) < 0)
                return -ENOMEM;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        while (done < n) {
                ssize_t k = write(fd, content + done, n - done);
                if (k < 0) {
                        int r = -errno;
                        (void) unlinkat(dirfd, tmp, 0);
                        return r;
                }
                done += (size_t) k;
        }
        /* fchmod(), unlike the mode of open(), is not cut by the umask. */
        if ((mode != MODE_INVALID && fchmod(fd, mode) < 0) || fsync(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
                int r = -errno;
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        (void) fsync(dirfd);
        return 0;
}
