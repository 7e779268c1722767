/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake file tree under a temporary directory, for tests that point sysfs_set_root() at
 * it: files with contents, directories, symbolic links, each created with its parents.
 * The including test defines `static char root[]` (made with mkdtemp()) before including.
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"

/* root/RELATIVE for the printf-style relative path. */
static inline void fake_path_v(char path[static 1024], const char *fmt, va_list ap) {
        char rel[512];

        vsnprintf(rel, sizeof(rel), fmt, ap);
        snprintf(path, 1024, "%s/%s", root, rel);
}

static inline void fake_mkdir_parents(char *path) {
        for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                mkdir(path, 0755);
                *p = '/';
        }
}

/* Writes content to root/PATH (creating the directories), or makes a directory when NULL. */
_printf_(2, 3) static inline void put(const char *content, const char *fmt, ...) {
        char path[1024];
        va_list ap;
        FILE *f;

        va_start(ap, fmt);
        fake_path_v(path, fmt, ap);
        va_end(ap);
        fake_mkdir_parents(path);
        if (!content) {
                mkdir(path, 0755);
                return;
        }
        f = fopen(path, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        fputs(content, f);
        fclose(f);
}

/* A symbolic link at root/PATH (its directory created, an old entry replaced); the target
 * need not exist. */
_printf_(2, 3) static inline void link_to(const char *target, const char *fmt, ...) {
        char path[1024];
        va_list ap;

        va_start(ap, fmt);
        fake_path_v(path, fmt, ap);
        va_end(ap);
        fake_mkdir_parents(path);
        unlink(path);
        CHECK(symlink(target, path) == 0);
}
