/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which processes hold which device nodes open, read from /proc/PID/fd, and what the host
 * needs a PCI function for (the interlocks: the boot VGA of a graphical session, the
 * controller of a mounted file system, the NIC of the default route). No sd-bus.
 */
#pragma once

#include <sys/types.h>

#include "machine.h"

typedef struct Holder {
        pid_t pid;
        char *command; /* /proc/PID/comm */
        char *path;    /* the node it holds, e.g. "/dev/vfio/16" */
} Holder;

void holders_free(Holder *h, size_t n);

/* The processes that have one of `paths` (absolute, e.g. "/dev/dri/card0") open. */
int holders_find(char *const *paths, Holder **ret, size_t *ret_n);

/* "qemu-system-x86 (pid 4242) holds /dev/vfio/16" */
char *holder_describe(const Holder *h);
/* "qemu-system-x86 (pid 4242) holds /dev/vfio/16, …"; NULL when n == 0. */
char *holders_describe(const Holder *h, size_t n);

/* Why the host still needs one of the functions (a sentence), *ret = NULL when it does not. */
int interlock_check(Machine *m, PciDevice *const *devices, size_t n, char **ret);

/* The processes holding /dev/vfio/GROUP of any of the groups (a guest using one), in one scan of
 * /proc. */
int vfio_group_holders(const unsigned *groups, size_t n_groups, Holder **ret, size_t *ret_n);
