/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry of what the kernel shows: every PCI function and IOMMU group, kept sorted,
 * loaded at start and updated from uevents, with a record of what each update changed so
 * that the bus layer can signal exactly that. No sd-bus here.
 */
#pragma once

#include <libkmod.h>
#include <systemd/sd-hwdb.h>

#include "iommu.h"
#include "pci.h"

typedef enum ObjectChangeKind {
        OBJECT_UNCHANGED,
        OBJECT_ADDED,
        OBJECT_REMOVED,
        OBJECT_UPDATED,
} ObjectChangeKind;

typedef struct GroupChange {
        int64_t number; /* -1: none */
        ObjectChangeKind kind;
        unsigned fields; /* GroupField */
} GroupChange;

typedef struct MachineChange {
        PciAddress address;
        ObjectChangeKind kind;
        unsigned fields;        /* PciField, for OBJECT_UPDATED */
        bool is_display;        /* the function carries (or carried) a Gpu interface */
        GroupChange groups[2];  /* the group it left and the group it is in */
        bool iommu_changed;     /* IommuEnabled or IommuDriver changed */
} MachineChange;

typedef struct Machine {
        PciDevice **devices; /* sorted by address, owned */
        size_t n_devices;
        IommuGroup **groups; /* sorted by number, owned */
        size_t n_groups;
        IommuState iommu;

        sd_hwdb *hwdb;          /* NULL when no hardware database is installed */
        struct kmod_ctx *kmod;
} Machine;

int machine_new(Machine **ret);
Machine *machine_free(Machine *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Machine *, machine_free);

/* Reads every PCI function and group. */
int machine_load(Machine *m);

PciDevice *machine_find_device(Machine *m, const PciAddress *a);
IommuGroup *machine_find_group(Machine *m, unsigned number);
IommuGroup *machine_device_group(Machine *m, const PciDevice *d);

/* The functions of d's slot (d included): *ret_first is the index of the first one in
 * m->devices, the return value their number (they are adjacent, the array being sorted). */
size_t machine_slot_range(Machine *m, const PciDevice *d, size_t *ret_first);

/* Follows one uevent of the pci subsystem: re-reads the function named sysname
 * ("0000:26:00.0"). A "remove" drops it. Unknown names are ignored. */
int machine_apply_uevent(Machine *m, const char *action, const char *sysname, MachineChange *ret);

/* Asks the kernel to rescan every PCI bus (-errno: the kernel refused, nothing happened). */
int machine_rescan(Machine *m);
/* The functions the kernel lists that are not in the registry yet (after a rescan: those
 * that appeared; their "add" uevents follow and register them). */
int machine_list_unknown(Machine *m, PciAddress **ret, size_t *ret_n);

/* Adds a function read from sysfs (or, in unit tests, built by hand) to the registry. */
int machine_add_device(Machine *m, PciDevice *d, MachineChange *change);
