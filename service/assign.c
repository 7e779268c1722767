/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Planning Detach and Reattach (see assign.h): where each function is (sysfs), where it
 * goes (vfio-pci, or the driver recorded when it left), and whether vfio-pci exists at all
 * (libkmod); the record of host drivers, and the states (Device.State, Group.State) that
 * follow from the operations in progress. Reads /sys/bus/pci and /sys/module through vfio.c
 * and sysfs.c; writes the record through journal.c. No sd-bus.
 */
#include <stdio.h>
#include <sys/utsname.h>

#include "assign.h"
#include "kmod.h"
#include "log.h"
#include "sysfs.h"

#define VFIO_PCI_MODULE "vfio_pci"

int assign_vfio_module_needed(Manager *m, char **ret_module, char **ret_problem) {
        ModuleStatus status;
        struct utsname u;
        int r;

        *ret_module = NULL;
        if (sysfs_pci_driver_registered(PCI_DRIVER_VFIO))
                return 0;
        r = m->machine->kmod ? kmod_module_status(m->machine->kmod, VFIO_PCI_MODULE, &status) : -ENOENT;
        if (r < 0 || status == MODULE_MISSING) {
                (void) uname(&u);
                if (asprintf(ret_problem,
                             "The vfio-pci driver is not available: it is neither built into the kernel nor in "
                             "/lib/modules/%s. Install the kernel's modules package (on Debian: linux-image-%s).",
                             u.release, u.release) < 0)
                        return -ENOMEM;
                return -EOPNOTSUPP;
        }
        *ret_module = strdup(VFIO_PCI_MODULE);
        return *ret_module ? 0 : -ENOMEM;
}

/* Reattach of a function passthru did not detach (bound to vfio-pci at boot, by hand):
 * back to whatever driver its modalias matches. */
static int plan_return_unrecorded(Plan *p, const FunctionState *from, PciDevice *d) {
        size_t before = p->n_steps;
        int r;

        if (from->override) {
                r = plan_add(p, STEP_CLEAR_OVERRIDE, &from->address, NULL, -1);
                if (r < 0)
                        return r;
        }
        if (from->driver && !streq(from->driver, PCI_DRIVER_VFIO))
                return p->n_steps == before ? plan_add(p, STEP_UNCHANGED, &from->address, from->driver, -1) : 0;
        if (from->driver) {
                r = plan_add(p, STEP_UNBIND, &from->address, from->driver, -1);
                if (r < 0)
                        return r;
        }
        if (d->module_match) {
                if (!module_loaded(d->module_match) && !plan_has_module_step(p, STEP_LOAD_MODULE, d->module_match)) {
                        r = plan_add(p, STEP_LOAD_MODULE, NULL, d->module_match, -1);
                        if (r < 0)
                                return r;
                }
                /* The driver's name is known only once its module is there: any host driver will do. */
                r = plan_add(p, STEP_PROBE, &from->address, NULL, -1);
                if (r < 0)
                        return r;
        }
        if (p->n_steps == before)
                return plan_add(p, STEP_UNCHANGED, &from->address, from->driver, -1);
        return 0;
}

int assign_plan(Manager *m, Operation op, unsigned group, PciDevice *const *devices, size_t n,
                Journal *ret_journal, Plan *ret_plan, char **ret_problem) {
        _cleanup_(journal_done) Journal j = { .operation = op, .group = group };
        _cleanup_(plan_done) Plan p = {};
        _cleanup_free_ char *vfio_module = NULL;
        int r;

        *ret_problem = NULL;
        if (op == OPERATION_DETACH) {
                r = assign_vfio_module_needed(m, &vfio_module, ret_problem);
                if (r < 0)
                        return r;
        }

        j.origins = calloc(n, sizeof(FunctionState));
        if (n > 0 && !j.origins)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = function_state_read(&devices[i]->address, (int64_t) group, true, &j.origins[i]);
                if (r < 0)
                        return r;
                j.n_origins++;
        }

        for (size_t i = 0; i < n; i++) {
                const FunctionState *from = &j.origins[i];
                FunctionState to = { .address = from->address, .group = from->group };
                const FunctionState *rec;

                if (op == OPERATION_DETACH) {
                        to.driver = (char *) PCI_DRIVER_VFIO;
                        to.override = (char *) PCI_DRIVER_VFIO;
                        to.module = vfio_module;
                        r = plan_move(&p, from, &to, true);
                } else if ((rec = manager_find_record(m, &from->address))) {
                        to.driver = rec->driver;
                        to.module = rec->driver && !sysfs_pci_driver_registered(rec->driver) ? rec->module : NULL;
                        r = plan_move(&p, from, &to, false);
                } else
                        r = plan_return_unrecorded(&p, from, devices[i]);
                if (r < 0)
                        return r;
        }

        *ret_journal = j;
        j = (Journal) {};
        *ret_plan = p;
        p = (Plan) {};
        return 0;
}

Assignment *manager_find_assignment(Manager *m, unsigned group) {
        for (Assignment *a = m->assignments; a; a = a->next) {
                if (a->group == group)
                        return a;
                /* a handoff also takes the groups of the GPU's slot siblings */
                for (size_t i = 0; i < a->transaction->journal.n_origins; i++)
                        if (a->transaction->journal.origins[i].group == (int64_t) group)
                                return a;
        }
        return NULL;
}

const FunctionState *manager_find_record(Manager *m, const PciAddress *a) {
        for (size_t i = 0; i < m->n_records; i++)
                if (pci_address_equal(&m->records[i].address, a))
                        return &m->records[i];
        return NULL;
}

const char *manager_host_driver(Manager *m, const PciDevice *d) {
        const FunctionState *rec = manager_find_record(m, &d->address);
        if (rec)
                return rec->driver;
        return pci_device_host_driver(d);
}

const char *manager_device_state(Manager *m, const PciDevice *d) {
        for (Assignment *a = m->assignments; a; a = a->next) {
                Transaction *t = a->transaction;
                /* finished: signalled once more before it is freed, with the state it left */
                if (t->finished || !transaction_has_function(t, &d->address))
                        continue;
                if (t->stuck && (!t->stuck_on_function || pci_address_equal(&t->stuck_address, &d->address)))
                        return "stuck";
                return "changing";
        }
        return pci_device_on_vfio(d) ? "vfio" : "host";
}

const char *manager_group_state(Manager *m, unsigned group) {
        Assignment *a = manager_find_assignment(m, group);
        if (!a || a->transaction->finished)
                return "idle";
        return a->transaction->stuck ? "stuck" : "busy";
}

int manager_record_host_drivers(Manager *m, const Transaction *t, bool record_driverless) {
        for (size_t i = 0; i < t->journal.n_origins; i++) {
                const FunctionState *o = &t->journal.origins[i];
                FunctionState *rec = (FunctionState *) manager_find_record(m, &o->address);

                if (t->journal.operation == OPERATION_REATTACH || t->journal.operation == OPERATION_RETURN) {
                        if (!rec)
                                continue;
                        function_state_done(rec);
                        *rec = m->records[--m->n_records];
                        continue;
                }
                /* Detach: remember where it came from, unless it was on vfio-pci already. */
                if (streq_ptr(o->driver, PCI_DRIVER_VFIO) || rec || (!o->driver && !record_driverless))
                        continue;
                FunctionState *n = reallocarray(m->records, m->n_records + 1, sizeof(FunctionState));
                if (!n)
                        return -ENOMEM;
                m->records = n;
                if (function_state_copy(&m->records[m->n_records], o) < 0)
                        return -ENOMEM;
                m->records[m->n_records].override = mfree(m->records[m->n_records].override);
                m->n_records++;
        }
        return records_save(m->runtime_fd, m->records, m->n_records);
}
