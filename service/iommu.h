/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IOMMU groups (membership, viability, blockers, owner) and the host's IOMMU setup.
 */
#pragma once

#include "pci.h"

typedef enum GroupOwner {
        GROUP_OWNER_HOST,
        GROUP_OWNER_VFIO,
        GROUP_OWNER_MIXED,
        GROUP_OWNER_GUEST,
        _GROUP_OWNER_MAX,
        _GROUP_OWNER_INVALID = -EINVAL,
} GroupOwner;

const char *group_owner_to_string(GroupOwner o) _pure_;
GroupOwner group_owner_from_string(const char *s) _pure_;

typedef enum GroupField {
        GROUP_FIELD_DEVICES = 1u << 0,
        GROUP_FIELD_VIABLE = 1u << 1,
        GROUP_FIELD_BLOCKERS = 1u << 2,
        GROUP_FIELD_OWNER = 1u << 3,
} GroupField;

typedef struct Blocker {
        char address[PCI_ADDRESS_STRING_MAX];
        char *reason;
} Blocker;

typedef struct IommuGroup {
        unsigned number;
        PciDevice **devices; /* sorted by address; not owned */
        size_t n_devices;

        /* Derived by iommu_group_evaluate(). */
        bool viable;
        Blocker *blockers;
        size_t n_blockers;
        GroupOwner owner;
} IommuGroup;

IommuGroup *iommu_group_new(unsigned number);
IommuGroup *iommu_group_free(IommuGroup *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(IommuGroup *, iommu_group_free);

int iommu_group_add_device(IommuGroup *g, PciDevice *d);
void iommu_group_remove_device(IommuGroup *g, const PciDevice *d);

/* Recomputes viability, blockers and owner from the members' drivers: every member that is
 * not a bridge must be on vfio-pci or on no driver. *ret_changed gets GroupField bits. */
int iommu_group_evaluate(IommuGroup *g, unsigned *ret_changed);

typedef struct IommuState {
        bool enabled;            /* /sys/kernel/iommu_groups is not empty */
        unsigned n_groups;
        char *driver;            /* "intel-iommu", "amd-iommu", …; NULL: none */
        int interrupt_remapping; /* 1, 0, or -1 when unknown */
        char *cmdline;           /* the kernel command line */
} IommuState;

void iommu_state_done(IommuState *s);
int iommu_state_read(IommuState *ret);

/* The value of a kernel command line option ("pcie_acs_override"), the empty string for a
 * flag without value, NULL when absent. The last occurrence wins, as in the kernel. */
char *cmdline_get(const char *cmdline, const char *key);
