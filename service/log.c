/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Log sink: stderr only. Reads $JOURNAL_STREAM (set by systemd when stderr is the journal)
 * to decide between "<N>message" and "passthrud: message". Touches no files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool to_journal = false;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        return -EINVAL;
}

void log_open(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        /* Only trust $JOURNAL_STREAM if it names the stderr we actually have. */
        to_journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0 &&
                     (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

int log_internal(int level, int error, const char *fmt, ...) {
        int saved_errno = errno;
        char buf[2048];
        va_list ap;

        /* %m formats the error we were given, not whatever errno happens to be. */
        errno = ERRNO_VALUE(error);
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (to_journal)
                fprintf(stderr, "<%i>%s\n", level, buf);
        else
                fprintf(stderr, "passthrud: %s\n", buf);

        errno = saved_errno;
        return -ERRNO_VALUE(error);
}
