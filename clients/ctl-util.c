/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-util.h: logging, colours, string vectors and address helpers of
 * passthructl. The colour decision and the debug flag are the only state here.
 */
#include <ctype.h>
#include <stdarg.h>
#include <unistd.h>

#include "ctl-util.h"

static bool debug_enabled = false;
static bool use_colors = false;

size_t strv_length(char * const *l) {
        size_t n = 0;

        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        return mfree(l);
}

void log_set_debug(bool b) {
        debug_enabled = b;
}

bool log_get_debug(void) {
        return debug_enabled;
}

int log_errno_internal(int error, const char *fmt, ...) {
        va_list ap;

        /* Make %m refer to the error we were given. */
        if (error != 0)
                errno = abs(error);

        fflush(stdout);
        fputs(program_invocation_short_name, stderr);
        fputs(": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);

        return -abs(error);
}

int color_mode_from_string(const char *s) {
        if (!s || streq(s, "auto"))
                return COLOR_AUTO;
        if (streq(s, "always") || streq(s, "yes"))
                return COLOR_ALWAYS;
        if (streq(s, "never") || streq(s, "no"))
                return COLOR_NEVER;
        return -EINVAL;
}

void colors_setup(ColorMode mode) {
        const char *term;

        switch (mode) {
        case COLOR_ALWAYS:
                use_colors = true;
                return;
        case COLOR_NEVER:
                use_colors = false;
                return;
        case COLOR_AUTO:
                break;
        }

        /* https://no-color.org/: NO_COLOR present and not empty turns colours off. */
        if (!isempty(getenv("NO_COLOR"))) {
                use_colors = false;
                return;
        }
        term = getenv("TERM");
        if (!term || streq(term, "dumb")) {
                use_colors = false;
                return;
        }
        use_colors = isatty(STDOUT_FILENO) > 0;
}

bool colors_enabled(void) {
        return use_colors;
}

const char *ansi(const char *seq) {
        return use_colors ? seq : "";
}

size_t utf8_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

char *strdup_printable(const char *s) {
        size_t n = 0;
        char *r, *p;

        for (const char *i = s; *i; i++)
                n += ((unsigned char) *i < 0x20 || *i == 0x7F) ? 4 : 1;

        r = malloc(n + 1);
        if (!r)
                return NULL;

        p = r;
        for (const char *i = s; *i; i++) {
                unsigned char c = (unsigned char) *i;

                if (c < 0x20 || c == 0x7F)
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = (char) c;
        }
        *p = '\0';
        return r;
}

const char *address_short(const char *addr) {
        const char *p;

        p = startswith(addr, "0000:");
        /* Only strip the domain off a well-formed DDDD:BB:SS.F. */
        if (p && strlen(p) == 7)
                return p;
        return addr;
}

int address_from_device_path(const char *path, char buf[static 13]) {
        const char *p;

        p = startswith(path, "/org/passthru1/device/pci_");
        if (!p || strlen(p) != 12 || p[4] != '_' || p[7] != '_' || p[10] != '_')
                return -EINVAL;
        for (size_t i = 0; i < 12; i++)
                if (i != 4 && i != 7 && i != 10 && !isxdigit((unsigned char) p[i]))
                        return -EINVAL;

        /* DDDD_BB_SS_F → DDDD:BB:SS.F */
        memcpy(buf, p, 12);
        buf[4] = ':';
        buf[7] = ':';
        buf[10] = '.';
        buf[12] = '\0';
        for (size_t i = 0; i < 12; i++)
                buf[i] = (char) tolower((unsigned char) buf[i]);
        return 0;
}

char *address_normalize(const char *s) {
        const char *p;
        size_t colons = 0;
        char *r, *last;

        p = startswith(s, "pci_");
        if (p) {
                /* pci_DDDD_BB_SS_F: the last '_' separates the function, the others are ':'. */
                r = strdup(p);
                if (!r)
                        return NULL;
                last = strrchr(r, '_');
                for (char *i = r; *i; i++)
                        if (*i == '_')
                                *i = i == last ? '.' : ':';
        } else {
                for (const char *i = s; *i; i++)
                        colons += *i == ':';
                /* BB:SS.F: domain 0000 */
                if (asprintf(&r, "%s%s", colons == 1 ? "0000:" : "", s) < 0)
                        return NULL;
        }

        for (char *i = r; *i; i++)
                *i = (char) tolower((unsigned char) *i);
        return r;
}

int safe_atou32(const char *s, uint32_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end != '\0')
                return -EINVAL;
        if (v > UINT32_MAX)
                return -ERANGE;

        *ret = (uint32_t) v;
        return 0;
}

int group_from_path(const char *path, uint32_t *ret) {
        const char *p;

        p = startswith(path, "/org/passthru1/group/");
        if (!p)
                return -EINVAL;
        return safe_atou32(p, ret);
}

int write_stdout(const char *buf, size_t len) {
        if (len > 0 && fwrite(buf, 1, len, stdout) != len)
                return errno > 0 ? -errno : -EIO;
        if (fflush(stdout) != 0)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

int flush_stdout(void) {
        int r;

        r = write_stdout(NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write to standard output: %m");
        return 0;
}
