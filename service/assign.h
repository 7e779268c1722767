/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Detach and Reattach as the daemon runs them: planning from sysfs and the host-driver
 * record, the interlocks, one transaction per group, the start-up undo of journals left
 * behind, and the answer to the caller. The bus glue (options, polkit, errors, signals)
 * lives in assign-dbus.c.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "guests.h"
#include "manager.h"
#include "units.h"

struct Assignment {
        Assignment *next;
        Manager *manager;
        Transaction *transaction;
        sd_bus_message *request; /* NULL: start-up undo */
        unsigned group;
        bool replied;
        bool counted; /* a start-up undo that has let the bus name go */
        bool resumed; /* a Return the daemon finishes at start: nobody waits for its outcome */
        bool automatic; /* a Return the daemon started itself (its domain stopped): no caller either */
        bool holds_virt; /* holds a need of the libvirt connection (a Handoff that starts a domain) */
        UnitJob *unit_job; /* a stop-unit/start-unit step waiting for systemd's job */
        GuestStart *guest_start; /* a start-domain step waiting for libvirt */
};

Assignment *manager_find_assignment(Manager *m, unsigned group);

/* Creates the assignment of a transaction (taking j and p; request NULL: a start-up undo)
 * with the daemon's hooks: Progress, PropertiesChanged, records, the reply. */
int assignment_new(Manager *m, unsigned group, sd_bus_message *request, Journal *j, Plan *p, Assignment **ret);
/* Busy or Stuck (error set, -errno) when an operation on the group runs or the daemon shuts
 * down; 0 when idle. */
int assignment_check_idle(Manager *m, unsigned group, sd_bus_error *error);
/* GuestRunning (error set, -errno) when a process holds /dev/vfio/GROUP of one of the groups; 0
 * when none does. One scan of /proc for all of them. */
int assignment_check_no_guest(const unsigned *groups, size_t n_groups, sd_bus_error *error);
/* Gpu.State and StateChanged of one GPU, when it changed since last signalled. */
void bus_emit_gpu_state(Manager *m, PciDevice *gpu);
/* PropertiesChanged of Group.Owner and Group.Domain for the groups of a handoff's functions
 * (their domain came or went, started or stopped). */
void bus_emit_group_owners(Manager *m, const Journal *j);
/* Signals the states of a transaction that just started (Group/Device State, Gpu State). */
void bus_assignment_started(Manager *m, Assignment *a);
/* Replies a(ss): (step, description) of each step, then ("consumer", description) of each of
 * consumers (a Handoff dry-run; NULL: none). */
int bus_reply_steps(sd_bus_message *message, const Plan *p, char *const *consumers);

/* Unlinks it from its manager and frees it with its transaction. */
void assignment_free(Assignment *a);

/* After a successful transaction: a Detach (or Handoff) records where each function came
 * from, a Reattach (or Return) forgets it; the record is saved atomically. record_driverless:
 * also record "no driver" (a Reattach then leaves the function driverless, as it was);
 * otherwise such a function returns to whatever driver matches it. */
int manager_record_host_drivers(Manager *m, const Transaction *t, bool record_driverless);

/* Undoes every journal left in the runtime directory, except a Return's, which it finishes;
 * the bus name is requested once they have settled. */
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
