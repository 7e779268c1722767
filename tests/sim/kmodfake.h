/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmodfake.h: writes a fake /lib/modules/$(uname -r) tree (one minimal ELF64
 * relocatable .ko per module carrying a .modinfo section, symbol tables that
 * make depmod compute the wanted dependencies) and runs depmod on it, so that
 * libkmod/modprobe inside pcisim resolve aliases to the listing's drivers.
 */
#pragma once

#include <stddef.h>

typedef struct FakeModule {
        const char *name;               /* "vfio_pci" */
        char **aliases;                 /* fnmatch patterns, "pci:v000010DEd00001F82sv*sd*bc*sc*i*" */
        size_t n_aliases;
        const char *const *depends;     /* module names, NULL terminated, may be NULL */
} FakeModule;

/* Writes DIR/RELEASE/kernel/drivers/pcisim/NAME.ko for each module plus modules.order and
 * modules.builtin{,.modinfo}, then runs "depmod -b DEPMOD_ROOT RELEASE". On failure, *ret_error
 * may describe what went wrong (depmod's output). */
int kmodfake_generate(const char *dir, const char *depmod_root, const char *release,
                      const FakeModule *modules, size_t n_modules, char **ret_error);

/* The module name from an ELF64 module image's .modinfo "name=" entry (what the kernel uses for
 * a module since 5.x, and what every .ko written above carries). -ENOEXEC when the image is not
 * a well-formed ELF64 object with such an entry (the kernel's answer for a non-module). */
int kmodfake_modinfo_name(const void *image, size_t size, char **ret_name);
