/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Detach and Reattach as the daemon runs them: planning from sysfs and the host-driver
 * record, the interlocks, one transaction per group, the start-up undo of journals left
 * behind, and the answer to the caller. The bus glue (options, polkit, errors, signals)
 * lives in assign-dbus.c.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

struct Assignment {
        Assignment *next;
        Manager *manager;
        Transaction *transaction;
        sd_bus_message *request; /* NULL: start-up undo */
        unsigned group;
        bool replied;
        bool counted; /* a start-up undo that has let the bus name go */
};

Assignment *manager_find_assignment(Manager *m, unsigned group);

/* Unlinks it from its manager and frees it with its transaction. */
void assignment_free(Assignment *a);

/* After a successful transaction: a Detach records where each function came from, a
 * Reattach forgets it; the record is saved atomically. */
int manager_record_host_drivers(Manager *m, const Transaction *t);

/* Undoes every journal left in the runtime directory; the bus name is requested once they
 * have settled. */
int manager_reconcile(Manager *m);

/* Reads the record of host drivers. */
int manager_load_records(Manager *m);

/* Is vfio-pci there or loadable? 0 with *ret_module the module to load (NULL: registered
 * already); -EOPNOTSUPP with *ret_problem saying what to install. */
int assign_vfio_module_needed(Manager *m, char **ret_module, char **ret_problem);

/* Plans a Detach or Reattach of the functions (all in one group) from what sysfs shows now
 * and the host-driver record: *ret_journal gets where each function is, *ret_plan the
 * steps. -EOPNOTSUPP with *ret_problem when the host cannot do it (no vfio-pci). */
int assign_plan(Manager *m, Operation op, unsigned group, PciDevice *const *devices, size_t n,
                Journal *ret_journal, Plan *ret_plan, char **ret_problem);
