/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Planning the GPU handoff and its return (see handoff.h). Reads sysfs through vfio.c,
 * release.c and holders.c; writes the records through journal.c. No sd-bus.
 */
#include <stdio.h>

#include "assign.h"
#include "guests.h"
#include "handoff.h"
#include "log.h"
#include "release.h"
#include "sysfs.h"
#include "util.h"

bool contains_device(PciDevice *const *l, size_t n, const PciDevice *d) {
        for (size_t i = 0; i < n; i++)
                if (l[i] == d)
                        return true;
        return false;
}

int gpu_functions(Machine *m, PciDevice *gpu, PciDevice ***ret, size_t *ret_n) {
        IommuGroup *g = machine_device_group(m, gpu);
        size_t first, n_slot, n = 0, max;
        _cleanup_free_ PciDevice **l = NULL;

        n_slot = machine_slot_range(m, gpu, &first);
        max = 1 + n_slot + (g ? g->n_devices : 0);
        l = calloc(max, sizeof(PciDevice *));
        if (!l)
                return -ENOMEM;
        l[n++] = gpu;
        /* m->devices is sorted by address, so walking it keeps the companions sorted. */
        for (size_t i = 0; i < m->n_devices; i++) {
                PciDevice *d = m->devices[i];
                bool in_slot = i >= first && i < first + n_slot;
                bool in_group = g && d->group == (int64_t) g->number;

                if (d == gpu || pci_device_is_bridge(d) || !(in_slot || in_group) || contains_device(l, n, d))
                        continue;
                l[n++] = d;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

bool gpu_is_primary(const PciDevice *gpu) {
        return gpu->boot_vga && !pci_device_on_vfio(gpu);
}

static int functions_addresses(PciDevice *const *l, size_t n, PciAddress **ret) {
        PciAddress *a = calloc(n ?: 1, sizeof(PciAddress));

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                a[i] = l[i]->address;
        *ret = a;
        return 0;
}

int gpu_consumers(Manager *m, PciDevice *gpu, Holder **ret, size_t *ret_n) {
        _cleanup_free_ PciDevice **functions = NULL;
        _cleanup_free_ PciAddress *addresses = NULL;
        _cleanup_strv_free_ char **nodes = NULL;
        size_t n;
        int r;

        r = gpu_functions(m->machine, gpu, &functions, &n);
        if (r < 0)
                return r;
        r = functions_addresses(functions, n, &addresses);
        if (r < 0)
                return r;
        r = consumer_nodes(addresses, n, gpu_is_primary(gpu), streq_ptr(gpu->driver, "nvidia"), &nodes);
        if (r < 0)
                return r;
        if (!nodes) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return holders_find(nodes, ret, ret_n);
}

static int strv_copy_into(char ***dst, char *const *src) {
        for (char *const *s = src; s && *s; s++) {
                int r = strv_extend_unique(dst, *s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool address_in(const PciAddress *l, size_t n, const PciAddress *a) {
        for (size_t i = 0; i < n; i++)
                if (pci_address_equal(&l[i], a))
                        return true;
        return false;
}

int handoff_plan(Manager *m, PciDevice *gpu, const HandoffGuest *guest, char *const *stop_units,
                 Journal *ret_journal, Plan *ret_plan, char **ret_problem) {
        _cleanup_(journal_done) Journal j = { .operation = OPERATION_HANDOFF };
        _cleanup_(plan_done) Plan p = {};
        _cleanup_free_ PciDevice **functions = NULL;
        _cleanup_free_ PciAddress *addresses = NULL;
        _cleanup_free_ char *vfio_module = NULL;
        _cleanup_strv_free_ char **consoles = NULL, **unload = NULL;
        const HandoffGuest none = {};
        bool primary = gpu_is_primary(gpu);
        const char *domain;
        size_t n;
        int r;

        *ret_problem = NULL;
        guest = guest ?: &none;
        domain = guest->domain;
        r = gpu_functions(m->machine, gpu, &functions, &n);
        if (r < 0)
                return r;
        /* The domain's other hostdevs travel in the same transaction, after the GPU's own. */
        if (guest->n_extra > 0) {
                PciDevice **l = reallocarray(functions, n + guest->n_extra, sizeof(PciDevice *));
                if (!l)
                        return -ENOMEM;
                functions = l;
                for (size_t i = 0; i < guest->n_extra; i++)
                        if (!contains_device(functions, n, guest->extra[i]))
                                functions[n++] = guest->extra[i];
        }
        for (size_t i = 0; i < n; i++)
                if (functions[i]->group < 0) {
                        if (asprintf(ret_problem,
                                     "%s is in no IOMMU group (the IOMMU is off), and vfio-pci needs one. "
                                     "'passthructl diagnose' says how to turn the IOMMU on.",
                                     functions[i]->name) < 0)
                                return -ENOMEM;
                        return -EOPNOTSUPP;
                }
        r = assign_vfio_module_needed(m, &vfio_module, ret_problem);
        if (r < 0)
                return r;
        r = functions_addresses(functions, n, &addresses);
        if (r < 0)
                return r;

        j.group = (unsigned) gpu->group;
        j.has_gpu = true;
        j.gpu = gpu->address;
        if (!isempty(domain)) {
                j.domain = strdup(domain);
                if (!j.domain)
                        return -ENOMEM;
        }
        j.origins = calloc(n, sizeof(FunctionState));
        if (!j.origins)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = function_state_read(&functions[i]->address, functions[i]->group, true, &j.origins[i]);
                if (r < 0)
                        return r;
                j.n_origins++;
        }

        /* 0. The units to stop (the display manager), then, since they held the GPU, a check
         * that nobody holds it any more: the undo starts them again, nothing else was done. */
        for (char *const *u = stop_units; u && *u; u++) {
                r = plan_add(&p, STEP_STOP_UNIT, NULL, *u, -1);
                if (r >= 0)
                        r = strv_extend_unique(&j.stopped_units, *u);
                if (r < 0)
                        return r;
        }
        if (stop_units && stop_units[0]) {
                r = plan_add(&p, STEP_CHECK_CONSUMERS, NULL, gpu->name, -1);
                for (size_t i = 0; r >= 0 && guest && i < guest->n_extra; i++)
                        if (pci_device_is_display(guest->extra[i]))
                                r = plan_add(&p, STEP_CHECK_CONSUMERS, NULL, guest->extra[i]->name, -1);
                if (r < 0)
                        return r;
        }

        /* 1. The consoles and the firmware frame buffer: only the primary GPU's. */
        if (primary) {
                r = consoles_on_framebuffer(&consoles);
                if (r < 0)
                        return r;
                for (char **c = consoles; c && *c; c++) {
                        r = plan_add(&p, STEP_UNBIND_CONSOLE, NULL, *c, -1);
                        if (r < 0)
                                return r;
                }
                r = strv_copy_into(&j.consoles, consoles);
                if (r < 0)
                        return r;
                for (const char *const *f = firmware_framebuffers; *f; f++) {
                        r = framebuffer_bound(*f);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        r = plan_add(&p, STEP_UNBIND_FRAMEBUFFER, NULL, *f, -1);
                        if (r >= 0)
                                r = strv_extend_unique(&j.framebuffers, *f);
                        if (r < 0)
                                return r;
                }
        }

        /* 2. The GPU driver's module and every module holding it, holders first, unless
         * its drivers have other functions bound (then the GPU is only unbound). The
         * override goes first, so that nothing takes the GPU once its driver is gone. */
        FunctionState gpu_from = {};
        r = function_state_copy(&gpu_from, &j.origins[0]);
        if (r < 0)
                return r;
        if (gpu_from.module && !streq_ptr(gpu_from.driver, PCI_DRIVER_VFIO)) {
                r = module_drives_others(gpu_from.module, addresses, n);
                if (r == 0) {
                        r = module_unload_order(gpu_from.module, &unload);
                        if (r >= 0 && !streq_ptr(gpu_from.override, PCI_DRIVER_VFIO))
                                r = plan_add(&p, STEP_SET_OVERRIDE, &gpu->address, PCI_DRIVER_VFIO, -1);
                        for (char **u = unload; r >= 0 && u && *u; u++)
                                r = plan_add(&p, STEP_UNLOAD_MODULE, NULL, *u, -1);
                        if (r >= 0)
                                r = strv_copy_into(&j.unloaded_modules, unload);
                        if (r >= 0) {
                                /* Unloading the module unbinds the GPU. */
                                gpu_from.driver = mfree(gpu_from.driver);
                                gpu_from.module = mfree(gpu_from.module);
                                r = free_and_strdup(&gpu_from.override, PCI_DRIVER_VFIO);
                        }
                } else if (r > 0)
                        log_info("Module %s drives other functions too: %s is only unbound from it.",
                                 gpu_from.module, gpu->name);
        }
        if (r < 0) {
                function_state_done(&gpu_from);
                return r;
        }

        /* 3. Everything to vfio-pci, as Detach does it; what libvirt manages is its own. */
        for (size_t i = 0; i < n; i++) {
                const FunctionState *from = i == 0 ? &gpu_from : &j.origins[i];
                if (address_in(guest->managed, guest->n_managed, &from->address))
                        continue;
                FunctionState to = {
                        .address = from->address,
                        .group = from->group,
                        .driver = (char *) PCI_DRIVER_VFIO,
                        .override = (char *) PCI_DRIVER_VFIO,
                        .module = vfio_module,
                };
                r = plan_move(&p, from, &to, true);
                if (r < 0)
                        break;
        }
        function_state_done(&gpu_from);
        if (r < 0)
                return r;

        /* 4. The guest, last: if libvirt cannot start it, all of the above is undone. */
        if (guest->start && !isempty(domain)) {
                r = plan_add(&p, STEP_START_DOMAIN, NULL, domain, -1);
                if (r < 0)
                        return r;
        }

        *ret_journal = j;
        j = (Journal) {};
        *ret_plan = p;
        p = (Plan) {};
        return 0;
}

int return_plan(Manager *m, const Journal *record, Journal *ret_journal, Plan *ret_plan, char **ret_problems) {
        _cleanup_(journal_done) Journal j = { .operation = OPERATION_RETURN, .group = record->group };
        _cleanup_(plan_done) Plan p = {};
        int r;

        *ret_problems = NULL;
        j.has_gpu = true;
        j.gpu = record->gpu;
        if (record->domain) {
                j.domain = strdup(record->domain);
                if (!j.domain)
                        return -ENOMEM;
        }
        /* The Return's own origins: where the functions are now; its undo goes back there. */
        j.origins = calloc(record->n_origins ?: 1, sizeof(FunctionState));
        if (!j.origins)
                return -ENOMEM;
        for (size_t i = 0; i < record->n_origins; i++) {
                r = function_state_read(&record->origins[i].address, record->origins[i].group, true, &j.origins[i]);
                if (r < 0)
                        return r;
                j.n_origins++;
        }
        /* The modules vfio-pci needs stay loaded, as after a Reattach. */
        r = plan_restore(record, false, &p, ret_problems);
        if (r < 0)
                return r;

        *ret_journal = j;
        j = (Journal) {};
        *ret_plan = p;
        p = (Plan) {};
        return 0;
}

int return_plan_resumed(Manager *m, const Journal *journal, Plan *ret_plan, char **ret_problems) {
        _cleanup_(plan_done) Plan p = {};
        const Journal *record;
        int r;

        *ret_problems = NULL;
        record = manager_find_handoff(m, &journal->gpu);
        if (!record)
                return -ENOENT;
        r = plan_restore(record, false, &p, ret_problems);
        if (r < 0)
                return r;
        *ret_plan = p;
        p = (Plan) {};
        return 0;
}

const Journal *manager_find_handoff(Manager *m, const PciAddress *gpu) {
        for (size_t i = 0; i < m->n_handoffs; i++)
                if (pci_address_equal(&m->handoffs[i].gpu, gpu))
                        return &m->handoffs[i];
        return NULL;
}

int manager_load_handoffs(Manager *m) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = handoff_record_list(m->runtime_fd, &names);
        if (r < 0)
                return log_error_errno(r, "Failed to list the handoff records in %s: %m", m->runtime_dir);
        for (char **name = names; name && *name; name++) {
                Journal j = {}, *n;

                r = journal_read(m->runtime_fd, *name, &j);
                if (r < 0 || !j.has_gpu || j.operation != OPERATION_HANDOFF) {
                        log_error_errno(r < 0 ? r : SYNTHETIC_ERRNO(EBADMSG),
                                        "Ignoring the unreadable handoff record %s/%s: %m", m->runtime_dir, *name);
                        journal_done(&j);
                        continue;
                }
                n = reallocarray(m->handoffs, m->n_handoffs + 1, sizeof(Journal));
                if (!n) {
                        journal_done(&j);
                        return log_oom();
                }
                m->handoffs = n;
                m->handoffs[m->n_handoffs++] = j;
        }
        return 0;
}

static int journal_copy(Journal *dst, const Journal *src) {
        *dst = (Journal) {
                .operation = OPERATION_HANDOFF,
                .group = src->group,
                .has_gpu = src->has_gpu,
                .gpu = src->gpu,
        };
        dst->origins = calloc(src->n_origins ?: 1, sizeof(FunctionState));
        if (!dst->origins)
                return -ENOMEM;
        for (size_t i = 0; i < src->n_origins; i++) {
                if (function_state_copy(&dst->origins[i], &src->origins[i]) < 0)
                        return -ENOMEM;
                dst->n_origins++;
        }
        if ((src->domain && !(dst->domain = strdup(src->domain))) ||
            strv_copy_into(&dst->loaded_modules, src->loaded_modules) < 0 ||
            strv_copy_into(&dst->consoles, src->consoles) < 0 ||
            strv_copy_into(&dst->framebuffers, src->framebuffers) < 0 ||
            strv_copy_into(&dst->unloaded_modules, src->unloaded_modules) < 0 ||
            strv_copy_into(&dst->stopped_units, src->stopped_units) < 0)
                return -ENOMEM;
        return 0;
}

int manager_handoff_committed(Manager *m, const Transaction *t) {
        char name[64];
        int r;

        if (!t->journal.has_gpu)
                return 0;
        handoff_record_name(&t->journal.gpu, name);
        if (t->journal.operation == OPERATION_RETURN) {
                for (size_t i = 0; i < m->n_handoffs; i++)
                        if (pci_address_equal(&m->handoffs[i].gpu, &t->journal.gpu)) {
                                journal_done(&m->handoffs[i]);
                                m->handoffs[i] = m->handoffs[--m->n_handoffs];
                                break;
                        }
                if (unlinkat(m->runtime_fd, name, 0) < 0 && errno != ENOENT)
                        return -errno;
                return 0;
        }
        if (t->journal.operation != OPERATION_HANDOFF)
                return 0;

        Journal rec = {}, *n;
        r = journal_copy(&rec, &t->journal);
        if (r >= 0)
                r = journal_write_named(m->runtime_fd, name, &rec);
        if (r < 0) {
                journal_done(&rec);
                return r;
        }
        n = reallocarray(m->handoffs, m->n_handoffs + 1, sizeof(Journal));
        if (!n) {
                journal_done(&rec);
                return -ENOMEM;
        }
        m->handoffs = n;
        m->handoffs[m->n_handoffs++] = rec;
        return 0;
}

const char *manager_gpu_state(Manager *m, const PciDevice *gpu) {
        for (Assignment *a = m->assignments; a; a = a->next) {
                Transaction *t = a->transaction;
                if (t->finished || !transaction_has_function(t, &gpu->address))
                        continue;
                if (t->stuck)
                        return "stuck";
                if (t->journal.operation == OPERATION_RETURN || t->journal.operation == OPERATION_REATTACH)
                        return "returning";
                return "releasing";
        }
        /* Before the record: a Return that failed keeps it. */
        for (size_t i = 0; i < m->n_failed_gpus; i++)
                if (pci_address_equal(&m->failed_gpus[i], &gpu->address))
                        return "failed";
        const Journal *rec = manager_find_handoff(m, &gpu->address);
        if (rec)
                return rec->domain && manager_guest_running(m, rec->domain) ? "guest" : "detached";
        return pci_device_on_vfio(gpu) ? "detached" : "host";
}

const char *manager_gpu_domain(Manager *m, const PciDevice *gpu) {
        const Journal *rec = manager_find_handoff(m, &gpu->address);

        for (Assignment *a = m->assignments; a; a = a->next)
                if (!a->transaction->finished && a->transaction->journal.has_gpu &&
                    pci_address_equal(&a->transaction->journal.gpu, &gpu->address))
                        return strempty(a->transaction->journal.domain);
        return rec ? strempty(rec->domain) : "";
}

static bool journal_holds_group(const Journal *j, unsigned group) {
        for (size_t i = 0; i < j->n_origins; i++)
                if (j->origins[i].group >= 0 && (unsigned) j->origins[i].group == group)
                        return true;
        return false;
}

const char *manager_group_domain(Manager *m, unsigned group) {
        for (Assignment *a = m->assignments; a; a = a->next)
                if (!a->transaction->finished && a->transaction->journal.has_gpu &&
                    journal_holds_group(&a->transaction->journal, group))
                        return strempty(a->transaction->journal.domain);
        for (size_t i = 0; i < m->n_handoffs; i++)
                if (journal_holds_group(&m->handoffs[i], group))
                        return strempty(m->handoffs[i].domain);
        return "";
}

const char *manager_group_owner(Manager *m, const IommuGroup *g) {
        const char *domain = manager_group_domain(m, g->number);

        if (manager_guest_running(m, domain))
                return group_owner_to_string(GROUP_OWNER_GUEST);
        return group_owner_to_string(g->owner);
}
