/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * machine.h: the simulated machine: PCI devices, drivers, modules, IOMMU
 * groups, the /sys tree that shows them and the kernel semantics of writes
 * to it (bind, unbind, driver_override, drivers_probe, remove, rescan,
 * sriov_numvfs, new_id, module load/unload, faults), the class devices bound
 * drivers create (drm, net, block, sound, graphics), the vtconsoles, and the
 * files in the namespace's /dev (module nodes, /dev/fbN, /dev/vfio, /dev/dri,
 * /dev/snd), whose open files pin modules, and how long operations take
 * (latency, stats).
 * All entry points take the machine lock; they are called from FUSE worker
 * threads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "kmodfake.h"
#include "listing.h"
#include "uevent.h"

typedef struct Machine Machine;

/* Takes ownership of the listing. */
int machine_new(Machine **ret, Listing *listing);
Machine *machine_free(Machine *m);

/* Takes ownership; events are sent once set. */
void machine_set_uevent(Machine *m, Uevent *u);

/* The modules the fake /lib/modules tree must contain. Valid while m lives. */
int machine_fake_modules(Machine *m, FakeModule **ret, size_t *ret_n);

/* Takes ownership of directory fds of the namespace's /dev, /dev/vfio, /dev/dri and /dev/snd (any
 * may be -1): creates /dev/vfio/vfio, /dev/vfio/N for each group with a function bound to
 * vfio-pci, /dev/dri/NODE, /dev/snd/NODE and /dev/fbN for each present drm, sound and graphics
 * node and /dev/NODE for each "# module_nodes" node of a loaded module; from then on binds,
 * unbinds and module loads keep them in step. */
void machine_set_devfs(Machine *m, int dev_fd, int vfio_fd, int dri_fd, int snd_fd);

/* stat()s each "# block" PATH (call it in the namespace, once the mounts COMMAND sees are in
 * place): its file system's st_dev becomes the node's MAJ:MIN, and the nodes of bound functions
 * appear. Major 0, a failing stat() or two nodes on one MAJ:MIN → negative errno and
 * *ret_error = "FILE:LINE: …". */
int machine_resolve_block(Machine *m, char **ret_error);

char *machine_proc_cmdline(Machine *m);
char *machine_proc_interrupts(Machine *m);

/* The kernel side of the module syscalls, for the seccomp supervisor (modsyscall.c). NAME is the
 * module's own name (.modinfo "name=" for a load, the delete_module(2) argument for an unload).
 * Each consumes a matching "load"/"unload" fault first; after a hang fault is released,
 * still_valid(userdata) (may be NULL) is asked whether the caller still waits: false → nothing
 * is done, -ECANCELED. Once machine_shutdown() was called (also during a hang) → -ENOSYS.
 * insert: 0, -ENOEXEC (not a simulated module), -EEXIST (loaded), -ENOENT (a dependency is not
 *         loaded: "unknown symbol"), or the fault's errno. Dependencies are not loaded.
 * delete: 0, -ENOENT (not loaded, unknown, built in), -EWOULDBLOCK (other loaded modules depend
 *         on it, or a process has one of its /dev nodes open), or the fault's errno. Bound
 *         devices do not pin the module: they are unbound. */
typedef bool (*machine_valid_t)(void *userdata);
int machine_module_insert(Machine *m, const char *name, machine_valid_t still_valid, void *userdata);
int machine_module_delete(Machine *m, const char *name, machine_valid_t still_valid, void *userdata);

/* Releases hanging writes and makes new hangs fail: called when the simulator exits. */
void machine_shutdown(Machine *m);

/* FUSE-facing operations, paths relative to the mount ("/bus/pci/devices"). */
typedef int (*machine_fill_t)(void *userdata, const char *name, const struct stat *st);

int machine_getattr(Machine *m, const char *path, struct stat *ret);
int machine_readlink(Machine *m, const char *path, char *buf, size_t size);
int machine_readdir(Machine *m, const char *path, machine_fill_t fill, void *userdata);
int machine_open(Machine *m, const char *path, int flags);
int machine_read(Machine *m, const char *path, char **ret_data, size_t *ret_size);
ssize_t machine_write(Machine *m, const char *path, const char *buf, size_t size);
int machine_truncate(Machine *m, const char *path);
