/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * passthrud --apply-reservations: early at boot (passthrud-reservations.service, before the
 * display manager and libvirt, normally before udev's coldplug loads the host drivers), gives
 * each reserved function to vfio-pci through the same journaled, verified, hang-proof
 * transactions as Detach, one per IOMMU group. Never by vendor ID: each function by its
 * address, and only while it still has the ids it was reserved with. A failure returns the
 * group's functions to where they were, so the host keeps working (its display, say); the
 * exit status tells the unit it failed. No bus: D-Bus is not up yet.
 */
#include <signal.h>
#include <stdio.h>

#include "assign.h"
#include "holders.h"
#include "log.h"
#include "reservations.h"
#include "reservations-apply.h"
#include "util.h"

typedef struct ApplyRun {
        Manager *manager;
        unsigned running;
        unsigned failed;
} ApplyRun;

typedef struct ApplyGroup {
        ApplyRun *run;
        unsigned group;
        Transaction *own;         /* freed at the end unless stuck */
        Transaction *transaction; /* NULL once its outcome is counted */
        bool transaction_stuck;
} ApplyGroup;

static void on_progress(Transaction *t, const Step *s, bool undoing, void *userdata) {
        ApplyGroup *g = userdata;
        _cleanup_free_ char *desc = step_describe(s);

        log_info("Group %u: %s%s", g->group, undoing ? "undo: " : "", strempty(desc));
}

static void on_committed(Transaction *t, void *userdata) {
        ApplyGroup *g = userdata;
        Manager *m = g->run->manager;
        int r;

        /* Remember the host driver of functions the initramfs had bound already, so that a
         * Reattach returns them there; a function that had none (the usual case, before
         * coldplug) is returned to whatever driver matches it, as if never recorded. */
        r = manager_record_host_drivers(m, t, false);
        if (r < 0)
                log_warning_errno(r, "Failed to record the host drivers of group %u in %s, ignoring: %m", g->group,
                                  m->runtime_dir);
}

static void on_settled(Transaction *t, void *userdata) {
        ApplyGroup *g = userdata;
        ApplyRun *run = g->run;

        if (!g->transaction)
                return; /* already counted (stuck, then finished) */
        switch (t->outcome) {
        case TRANSACTION_SUCCEEDED:
                log_info("Group %u: the reserved functions are on vfio-pci.", g->group);
                break;
        case TRANSACTION_FAILED:
                run->failed++;
                log_error("Group %u: %s; %s", g->group, strempty(t->failure),
                          t->undo_problems ? t->undo_problems
                                           : "everything done before was undone: the functions stay with the host.");
                break;
        case TRANSACTION_STUCK:
                /* Boot must go on: leave the helper in the kernel; the daemon undoes the journal
                 * at its next start. */
                run->failed++;
                g->transaction_stuck = true;
                log_error("Group %u: %s, and the kernel is stuck in it. Boot goes on; passthrud undoes it once the "
                          "kernel returns. Reboot with " RESERVATIONS_DISABLE_OPTION "=1 if this repeats.",
                          g->group, strempty(t->failure));
                break;
        default:
                return;
        }
        g->transaction = NULL; /* counted; freed by reservations_apply() */
        if (--run->running == 0)
                (void) sd_event_exit(run->manager->event, 0);
}

static const TransactionHooks apply_hooks = {
        .progress = on_progress,
        .committed = on_committed,
        .settled = on_settled,
};

/* Which reserved functions may go now: present, with the ids they were reserved with, not a
 * bridge, in an IOMMU group, and nothing the host runs on. Returns the number refused for a
 * reason that is an error (the others are notices: a card removed is not a failure). */
static unsigned select_functions(Manager *m, const Reservations *res, PciDevice ***ret, size_t *ret_n) {
        _cleanup_free_ PciDevice **devices = calloc(res->n + 1, sizeof(PciDevice *));
        unsigned refused = 0;
        size_t n = 0;

        if (!devices) {
                log_oom();
                *ret = NULL;
                *ret_n = 0;
                return 1;
        }
        for (size_t i = 0; i < res->n; i++) {
                const Reservation *rv = &res->items[i];
                char a[PCI_ADDRESS_STRING_MAX];
                _cleanup_free_ char *reason = NULL;
                PciDevice *d;
                int r;

                pci_address_format(&rv->address, a);
                d = machine_find_device(m->machine, &rv->address);
                if (!d) {
                        log_notice("Reserved %s (%04x:%04x) is not present; skipping it.", a, rv->vendor_id,
                                   rv->product_id);
                        continue;
                }
                if (d->vendor_id != rv->vendor_id || d->product_id != rv->product_id) {
                        log_warning("%s is %04x:%04x now, not the %04x:%04x that was reserved (a card moved or "
                                    "replaced?); leaving it to the host. 'passthructl reserve %s' reserves what is "
                                    "there now.",
                                    a, d->vendor_id, d->product_id, rv->vendor_id, rv->product_id, a);
                        continue;
                }
                if (pci_device_is_bridge(d)) {
                        log_warning("%s is a bridge, which stays with the host; skipping it.", a);
                        continue;
                }
                if (d->group < 0) {
                        log_error("%s is in no IOMMU group (the IOMMU is off), so vfio-pci cannot take it. "
                                  "'passthructl diagnose' says how to turn the IOMMU on.",
                                  a);
                        refused++;
                        continue;
                }
                r = interlock_check(m->machine, &d, 1, &reason);
                if (r < 0) {
                        log_error_errno(r, "Failed to check what the host uses %s for, leaving it: %m", a);
                        refused++;
                        continue;
                }
                if (reason) {
                        /* At boot even an authorized override does not take what the host runs on. */
                        log_error("Leaving reserved %s to the host: %s", a, reason);
                        refused++;
                        continue;
                }
                devices[n++] = d;
        }
        *ret = TAKE_PTR(devices);
        *ret_n = n;
        return refused;
}

int reservations_apply(Manager *m) {
        _cleanup_(reservations_done) Reservations res = {};
        _cleanup_free_ PciDevice **devices = NULL;
        _cleanup_free_ ApplyGroup *groups = NULL;
        _cleanup_free_ char *dir = NULL;
        ApplyRun run = { .manager = m };
        size_t n = 0, n_groups = 0;
        sigset_t ss;
        int r;

        r = configuration_dir_path(&dir);
        if (r < 0)
                return log_error_errno(r, "Invalid $CONFIGURATION_DIRECTORY: an absolute path is needed.");
        r = reservations_load(dir, &res);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s/" RESERVATIONS_FILE ": %m", dir);
        if (res.n == 0) {
                log_info("No reservations in %s/" RESERVATIONS_FILE ".", dir);
                return 0;
        }

        r = machine_load(m->machine);
        if (r < 0)
                return r;
        if (reservations_disabled_by_cmdline(m->machine->iommu.cmdline)) {
                log_notice("The kernel command line has " RESERVATIONS_DISABLE_OPTION ": leaving the %zu reserved "
                           "function(s) to the host.",
                           res.n);
                return 0;
        }
        r = manager_load_records(m);
        if (r < 0)
                return r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD); /* helpers' ends arrive through sd-event */
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(-errno, "Failed to block SIGCHLD: %m");

        run.failed = select_functions(m, &res, &devices, &n);
        groups = calloc(n + 1, sizeof(ApplyGroup));
        if (!groups)
                return log_oom();

        /* One transaction per group, with the reserved functions of that group. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ PciDevice **members = calloc(n, sizeof(PciDevice *));
                _cleanup_(journal_done) Journal j = {};
                _cleanup_(plan_done) Plan p = {};
                _cleanup_free_ char *problem = NULL;
                unsigned group = (unsigned) devices[i]->group;
                size_t k = 0;
                bool seen = false;

                if (!members)
                        return log_oom();
                for (size_t g = 0; g < n_groups; g++)
                        seen = seen || groups[g].group == group;
                if (seen)
                        continue;
                for (size_t l = i; l < n; l++)
                        if (devices[l]->group == devices[i]->group)
                                members[k++] = devices[l];

                r = assign_plan(m, OPERATION_DETACH, group, members, k, &j, &p, &problem);
                if (r < 0) {
                        if (problem)
                                log_error("Group %u: %s", group, problem);
                        else
                                log_error_errno(r, "Group %u: failed to read where its functions are: %m", group);
                        run.failed++;
                        continue;
                }
                groups[n_groups] = (ApplyGroup) { .run = &run, .group = group };
                r = transaction_new(&j, &p, m->event, m->machine->kmod, m->runtime_fd,
                                    (uint64_t) m->config.step_timeout_sec * USEC_PER_SEC, &apply_hooks,
                                    &groups[n_groups], &groups[n_groups].own);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the transaction of group %u: %m", group);
                groups[n_groups].transaction = groups[n_groups].own;
                n_groups++;
        }

        /* Started only once the array no longer moves (the hooks point into it); the groups
         * run side by side, as the daemon's do. */
        run.running = n_groups;
        for (size_t g = 0; g < n_groups; g++) {
                log_info("Giving the reserved function(s) of group %u to vfio-pci.", groups[g].group);
                (void) transaction_start(groups[g].transaction); /* may settle at once */
        }
        if (run.running > 0) {
                r = sd_event_loop(m->event);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
        }
        for (size_t g = 0; g < n_groups; g++)
                /* A stuck one is left as it is: its helper stays in the kernel, its journal
                 * stays for the daemon. */
                if (!groups[g].transaction_stuck)
                        transaction_free(groups[g].own);

        if (run.failed > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO),
                                       "%u reserved function(s) or group(s) stay with the host; see above.", run.failed);
        log_info("Reservations applied.");
        return 0;
}
