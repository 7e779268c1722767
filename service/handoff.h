/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The GPU handoff as the daemon plans it: the functions that travel with a GPU, whether it
 * is the host's primary GPU, who consumes it, the steps that release the host's hold and
 * give everything to vfio-pci (Handoff), and the reverse from the record (Return); the
 * records of handed-off GPUs in the runtime directory and the Gpu.State that follows. The
 * bus glue lives in handoff-dbus.c. No sd-bus.
 */
#pragma once

#include "holders.h"
#include "manager.h"

/* The GPU first, then every other non-bridge function of its IOMMU group and of its slot,
 * sorted (*ret is owned by the caller, the devices by the machine). */
int gpu_functions(Machine *m, PciDevice *gpu, PciDevice ***ret, size_t *ret_n);

/* The boot VGA, not on vfio-pci: it drives the host's console or desktop. */
bool gpu_is_primary(const PciDevice *gpu) _pure_;
/* Is d among the n devices of l? */
bool contains_device(PciDevice *const *l, size_t n, const PciDevice *d) _pure_;

/* The processes holding the nodes of the GPU and its companions (see Gpu.Handoff). */
int gpu_consumers(Manager *m, PciDevice *gpu, Holder **ret, size_t *ret_n);

/* What a Handoff to a libvirt domain adds (guests.c reads it from libvirt, or the hook gives it). */
typedef struct HandoffGuest {
        const char *domain;       /* libvirt's name of the domain; NULL or "": "detach only" */
        PciDevice **extra;        /* the domain's other PCI hostdevs: to vfio-pci in the same transaction */
        size_t n_extra;
        const PciAddress *managed; /* hostdevs with managed='yes': libvirt binds them, they are not moved */
        size_t n_managed;
        bool start;               /* the last step starts the domain */
} HandoffGuest;

/* Plans a Handoff from what sysfs shows now (stop_units: units to stop first, the display
 * manager; NULL: none; guest: NULL for none): *ret_journal records the origins and the host's
 * hold, *ret_plan the steps. -EOPNOTSUPP with *ret_problem when the host cannot do it. */
int handoff_plan(Manager *m, PciDevice *gpu, const HandoffGuest *guest, char *const *stop_units,
                 Journal *ret_journal, Plan *ret_plan, char **ret_problem);

/* Plans a Return from the GPU's record: the journal of the Return (origins: where the
 * functions are now, on vfio-pci) and the steps back to the record's origins. */
int return_plan(Manager *m, const Journal *record, Journal *ret_journal, Plan *ret_plan, char **ret_problems);

/* Plans the rest of a Return a dead daemon left unfinished (its journal): the steps from the
 * GPU's record to the host, planned against what sysfs shows now, so that what was done
 * already is not done again. -ENOENT when the record is gone: that Return had committed. */
int return_plan_resumed(Manager *m, const Journal *journal, Plan *ret_plan, char **ret_problems);

/* The record of a handed-off GPU, NULL when it is not handed off. */
const Journal *manager_find_handoff(Manager *m, const PciAddress *gpu);
/* Reads every record in the runtime directory (at start). */
int manager_load_handoffs(Manager *m);
/* A Handoff committed: record it; a Return committed: forget the record. */
int manager_handoff_committed(Manager *m, const Transaction *t);

/* Gpu.State: "host", "releasing", "detached", "returning", "failed" or "stuck". */
const char *manager_gpu_state(Manager *m, const PciDevice *gpu);
/* Gpu.Domain: "" when none. */
const char *manager_gpu_domain(Manager *m, const PciDevice *gpu);
/* Group.Domain: the domain a function of the group is handed to (or being handed to or
 * returned from), "" when none. */
const char *manager_group_domain(Manager *m, unsigned group);
/* Group.Owner: "guest" while that domain runs, else the group's owner as sysfs shows it. */
const char *manager_group_owner(Manager *m, const IommuGroup *g);
