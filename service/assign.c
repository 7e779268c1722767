/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Planning Detach and Reattach (see assign.h): where each function is (sysfs), where it
 * goes (vfio-pci, or the driver recorded when it left), and whether vfio-pci exists at all
 * (libkmod). Reads /sys/bus/pci and /sys/module through vfio.c and sysfs.c. No sd-bus.
 */
#include <stdio.h>
#include <sys/utsname.h>

#include "assign.h"
#include "kmod.h"
#include "log.h"
#include "sysfs.h"

#define VFIO_PCI_MODULE "vfio_pci"

static int vfio_module_needed(Manager *m, char **ret_module, char **ret_problem) {
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
                r = vfio_module_needed(m, &vfio_module, ret_problem);
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
