/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reads the daemon's configuration file (see daemon-config.h). Touches only that file.
 */
#include <fcntl.h>
#include <stdio.h>

#include "daemon-config.h"
#include "log.h"
#include "util.h"

void daemon_config_defaults(DaemonConfig *c) {
        *c = (DaemonConfig) {
                .step_timeout_sec = DEFAULT_STEP_TIMEOUT_SEC,
                .libvirt_answer_timeout_sec = DEFAULT_LIBVIRT_ANSWER_TIMEOUT_SEC,
        };
}

void daemon_config_done(DaemonConfig *c) {
        c->libvirt_uri = mfree(c->libvirt_uri);
}

/* A libvirt URI: printable ASCII, no blanks, "driver:…" (libvirt parses the rest). */
static bool uri_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 1024 || !strchr(s, ':'))
                return false;
        for (const char *p = s; *p; p++)
                if (*p <= ' ' || *p >= 0x7f)
                        return false;
        return true;
}

static char *strip(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

int daemon_config_load(DaemonConfig *c, const char *path) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        enum { SECTION_OTHER, SECTION_DAEMON, SECTION_LIBVIRT } section = SECTION_OTHER;
        unsigned n = 0;
        int r;

        daemon_config_defaults(c);
        r = read_full_at(AT_FDCWD, path, 64 * 1024, &text, NULL);
        if (r == -ENOENT) {
                log_debug("No %s, using the defaults.", path);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        lines = strv_split(text, "\n");
        if (!lines)
                return log_oom();
        for (char **l = lines; *l; l++) {
                char *line = strip(*l), *eq, *key, *value;

                n++;
                if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
                        continue;
                if (line[0] == '[') {
                        section = streq(line, "[Daemon]")    ? SECTION_DAEMON
                                  : streq(line, "[Libvirt]") ? SECTION_LIBVIRT
                                                             : SECTION_OTHER;
                        if (section == SECTION_OTHER)
                                log_warning("%s: unknown section %s, ignoring.", path, line);
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq && section == SECTION_OTHER)
                        continue; /* whatever an unknown section holds is ignored */
                if (!eq)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s:%u: expected KEY=VALUE.", path, n);
                *eq = '\0';
                key = strip(line);
                value = strip(eq + 1);
                if (section == SECTION_OTHER)
                        continue;
                if (section == SECTION_LIBVIRT && streq(key, "AnswerTimeoutSec")) {
                        unsigned v;
                        if (safe_atou(value, &v) < 0 || v < 1 || v > 3600)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "%s:%u: AnswerTimeoutSec must be 1…3600 seconds.", path, n);
                        c->libvirt_answer_timeout_sec = v;
                        continue;
                }
                if (section == SECTION_LIBVIRT) {
                        if (!streq(key, "URI")) {
                                log_warning("%s:%u: unknown key %s, ignoring.", path, n, key);
                                continue;
                        }
                        if (!uri_is_valid(value))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "%s:%u: URI must be a libvirt URI (e.g. qemu:///system).",
                                                       path, n);
                        r = free_and_strdup(&c->libvirt_uri, value);
                        if (r < 0)
                                return log_oom();
                        continue;
                }
                if (streq(key, "StepTimeoutSec")) {
                        unsigned v;
                        if (safe_atou(value, &v) < 0 || v < 1 || v > 3600)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "%s:%u: StepTimeoutSec must be 1…3600 seconds.", path, n);
                        c->step_timeout_sec = v;
                } else
                        log_warning("%s:%u: unknown key %s, ignoring.", path, n, key);
        }
        return 0;
}
