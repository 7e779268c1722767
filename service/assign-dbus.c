/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Group/Device Detach and Reattach on the bus: options, polkit, Busy/Stuck, interlocks,
 * then a transaction whose progress is signalled (Progress, PropertiesChanged of State and
 * of what the kernel was verified to do) and whose outcome is the reply. Also the start-up
 * undo of journals left behind, before the bus name is taken. Never touches sysfs.
 */
#include <stdio.h>

#include "assign.h"
#include "bus-options.h"
#include "bus-paths.h"
#include "errors.h"
#include "guests.h"
#include "handoff.h"
#include "holders.h"
#include "units.h"
#include "log.h"
#include "util.h"

#define ACTION_ASSIGN "org.passthru1.device.assign"
#define ACTION_OVERRIDE "org.passthru1.override"

typedef struct AssignOptions {
        bool dry_run;
        bool override;
} AssignOptions;

static int parse_options(sd_bus_message *message, AssignOptions *ret, sd_bus_error *error) {
        AssignOptions o = {};
        const BoolOption options[] = {
                { "dry-run", &o.dry_run },
                { "override", &o.override },
                {},
        };
        int r;

        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

static int append_steps(sd_bus_message *reply, const Plan *p, char *const *consumers) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_steps; i++) {
                _cleanup_free_ char *desc = step_describe(&p->steps[i]);
                if (!desc)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(ss)", step_kind_to_string(p->steps[i].kind), desc);
                if (r < 0)
                        return r;
        }
        for (char *const *c = consumers; c && *c; c++) {
                r = sd_bus_message_append(reply, "(ss)", "consumer", *c);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int bus_reply_steps(sd_bus_message *message, const Plan *p, char *const *consumers) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = append_steps(reply, p, consumers);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Gpu.State and StateChanged of a GPU, when it changed: the state is computed from what is
 * verified (records, transactions, libvirt's events), so it is never early. */
void bus_emit_gpu_state(Manager *m, PciDevice *d) {
        GpuStateMemo *memo = NULL;
        char path[OBJECT_PATH_MAX];
        const char *state;

        if (!d || !pci_device_is_display(d))
                return;
        state = manager_gpu_state(m, d);
        for (size_t k = 0; k < m->n_gpu_states; k++)
                if (pci_address_equal(&m->gpu_states[k].address, &d->address))
                        memo = &m->gpu_states[k];
        if (!memo) {
                GpuStateMemo *n = reallocarray(m->gpu_states, m->n_gpu_states + 1, sizeof(GpuStateMemo));
                if (!n)
                        return;
                m->gpu_states = n;
                memo = &m->gpu_states[m->n_gpu_states++];
                *memo = (GpuStateMemo) { .address = d->address };
                /* What clients saw before: the state as the model had it. */
                snprintf(memo->state, sizeof memo->state, "%s", pci_device_on_vfio(d) ? "detached" : "host");
        }
        device_object_path(&d->address, path);
        (void) sd_bus_emit_properties_changed(m->bus, path, GPU_INTERFACE, "Step", NULL);
        if (streq(memo->state, state))
                return;
        snprintf(memo->state, sizeof memo->state, "%s", state);
        (void) sd_bus_emit_properties_changed(m->bus, path, GPU_INTERFACE, "State", "Domain", NULL);
        (void) sd_bus_emit_signal(m->bus, path, GPU_INTERFACE, "StateChanged", "ss", state, manager_gpu_domain(m, d));
}

static void emit_gpu_states(Manager *m, Assignment *a) {
        for (size_t i = 0; i < a->transaction->journal.n_origins; i++)
                bus_emit_gpu_state(m, machine_find_device(m->machine, &a->transaction->journal.origins[i].address));
}

void bus_emit_group_owners(Manager *m, const Journal *j) {
        for (size_t i = 0; i < j->n_origins; i++) {
                char path[OBJECT_PATH_MAX];
                bool seen = false;

                if (j->origins[i].group < 0)
                        continue;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = j->origins[k].group == j->origins[i].group;
                if (!seen)
                        (void) sd_bus_emit_properties_changed(m->bus, group_object_path((unsigned) j->origins[i].group, path),
                                                              GROUP_INTERFACE, "Owner", "Domain", NULL);
        }
}

static void emit_states(Manager *m, Assignment *a) {
        char path[OBJECT_PATH_MAX];

        (void) sd_bus_emit_properties_changed(m->bus, group_object_path(a->group, path), GROUP_INTERFACE, "State",
                                              NULL);
        for (size_t i = 0; i < a->transaction->journal.n_origins; i++)
                (void) sd_bus_emit_properties_changed(
                        m->bus, device_object_path(&a->transaction->journal.origins[i].address, path),
                        DEVICE_INTERFACE, "State", NULL);
        if (a->transaction->journal.has_gpu)
                bus_emit_group_owners(m, &a->transaction->journal);
        emit_gpu_states(m, a);
}

static void on_progress(Transaction *t, const Step *s, bool undoing, void *userdata) {
        Assignment *a = userdata;
        _cleanup_free_ char *desc = step_describe(s);
        char path[OBJECT_PATH_MAX];

        log_info("Group %u: %s%s", a->group, undoing ? "undo: " : "", strempty(desc));
        (void) sd_bus_emit_signal(a->manager->bus, group_object_path(a->group, path), GROUP_INTERFACE, "Progress",
                                  "ss", undoing ? "rollback" : step_kind_to_string(s->kind), strempty(desc));
        if (t->journal.has_gpu)
                (void) sd_bus_emit_properties_changed(a->manager->bus, device_object_path(&t->journal.gpu, path),
                                                      GPU_INTERFACE, "Step", NULL);
}

static void on_verified(Transaction *t, const Step *s, void *userdata) {
        Assignment *a = userdata;
        Manager *m = a->manager;
        char name[PCI_ADDRESS_STRING_MAX];
        MachineChange change;
        int r;

        if (s->kind == STEP_LOAD_MODULE || s->kind == STEP_UNLOAD_MODULE || s->kind == STEP_UNCHANGED)
                return;
        /* The properties follow what was verified, without waiting for the uevent. */
        r = machine_apply_uevent(m->machine, "change", pci_address_format(&s->address, name), &change);
        if (r >= 0)
                (void) bus_emit_machine_change(m, &change);
}

static void on_committed(Transaction *t, void *userdata) {
        Assignment *a = userdata;
        Manager *m = a->manager;
        int r;

        r = manager_record_host_drivers(m, t, true);
        if (r < 0)
                log_error_errno(r, "Failed to update the record of host drivers in %s: %m", m->runtime_dir);
        r = manager_handoff_committed(m, t);
        if (r < 0)
                log_error_errno(r, "Failed to update the handoff record in %s: %m", m->runtime_dir);
        manager_guests_update_watch(m);
        for (size_t i = 0; i < t->journal.n_origins; i++) {
                char path[OBJECT_PATH_MAX];
                (void) sd_bus_emit_properties_changed(m->bus, device_object_path(&t->journal.origins[i].address, path),
                                                      DEVICE_INTERFACE, "HostDriver", NULL);
        }
}

void bus_assignment_started(Manager *m, Assignment *a) {
        emit_states(m, a);
}

void assignment_free(Assignment *a) {
        Manager *m = a->manager;

        for (Assignment **p = &m->assignments; *p; p = &(*p)->next)
                if (*p == a) {
                        *p = a->next;
                        break;
                }
        unit_job_free(a->unit_job);
        guest_start_free(a->guest_start);
        if (a->holds_virt)
                manager_guests_release(m);
        transaction_free(a->transaction);
        sd_bus_message_unref(a->request);
        free(a);
}

static void request_name_when_reconciled(Manager *m) {
        int r;

        if (m->reconciling > 0 || m->name_requested || !m->bus)
                return;
        m->name_requested = true;
        r = sd_bus_request_name(m->bus, PASSTHRU_BUS_NAME, 0);
        if (r < 0) {
                log_error_errno(r, "Failed to acquire the bus name %s: %m", PASSTHRU_BUS_NAME);
                (void) sd_event_exit(m->event, EXIT_FAILURE);
        }
}

/* The end of a failed transaction's message when its undo restored everything: where that
 * leaves the caller. NULL: out of memory. */
static char *undone_sentence(const Transaction *t) {
        char a[PCI_ADDRESS_STRING_MAX];
        char *s;

        if (t->journal.operation != OPERATION_RETURN)
                return strdup("Everything done before was undone: the host is as it was.");
        pci_address_format(&t->journal.gpu, a);
        if (asprintf(&s,
                     "Everything the Return did was undone: %s is still handed off, on vfio-pci. Once the "
                     "cause is dealt with, 'passthructl return %s' tries again.",
                     a, a) < 0)
                return NULL;
        return s;
}

static int reply_outcome(Assignment *a) {
        Transaction *t = a->transaction;
        const char *op = operation_to_string(t->journal.operation);
        _cleanup_free_ char *undone = NULL;

        switch (t->outcome) {
        case TRANSACTION_SUCCEEDED:
                log_info("Group %u: %s done (%zu steps).", a->group, op, t->done.n_steps);
                return bus_reply_steps(a->request, &t->done, NULL);
        case TRANSACTION_FAILED:
                undone = undone_sentence(t);
                if (!undone)
                        return -ENOMEM;
                if (t->failure_kind == STEP_CHECK_CONSUMERS)
                        return sd_bus_reply_method_errorf(
                                a->request, PASSTHRU_ERROR_IN_USE,
                                "The host still uses the GPU once the display manager stopped: %s. %s",
                                strempty(t->failure),
                                t->undo_problems ? "The undo did not restore everything; see the daemon's journal."
                                                 : "The display manager was started again: nothing else was changed.");
                if (t->failure_kind == STEP_UNLOAD_MODULE &&
                    (t->failure_errno == -EWOULDBLOCK || t->failure_errno == -EBUSY || t->failure_errno == -EAGAIN))
                        return sd_bus_reply_method_errorf(
                                a->request, PASSTHRU_ERROR_IN_USE,
                                "Module %s is still in use: %s. %s 'passthructl consumers' lists the processes "
                                "holding the GPU's nodes.",
                                strempty(t->failure_argument), strempty(t->failure),
                                t->undo_problems ? "The undo did not restore everything; see the daemon's journal."
                                                 : undone);
                if (t->undo_problems)
                        return sd_bus_reply_method_errorf(
                                a->request, PASSTHRU_ERROR_FAILED,
                                "%s. The undo did not restore everything: %s. 'passthructl show group %u' shows "
                                "where each function is now; the daemon's journal has details.",
                                strempty(t->failure), t->undo_problems, a->group);
                return sd_bus_reply_method_errorf(a->request, PASSTHRU_ERROR_FAILED, "%s. %s",
                                                  strempty(t->failure), undone);
        case TRANSACTION_STUCK:
                return sd_bus_reply_method_errorf(
                        a->request, PASSTHRU_ERROR_STUCK,
                        "%s: the kernel is stuck in it (a driver that does not let go of the device, or hardware "
                        "that does not answer). Group %u refuses operations until the kernel returns, then the "
                        "daemon undoes the %s. If it never returns, reboot to recover.",
                        strempty(t->failure), a->group, op);
        default:
                return 0;
        }
}

/* A GPU whose Handoff or Return failed with an incomplete undo, or whose Return resumed at
 * start failed (nobody got an error for it), shows "failed" until one succeeds. */
static void note_gpu_outcome(Manager *m, const Assignment *a) {
        const Transaction *t = a->transaction;
        bool failed = t->outcome == TRANSACTION_FAILED && (t->undo_problems || a->resumed || a->automatic);
        size_t i;

        if (!t->journal.has_gpu || t->outcome == TRANSACTION_RUNNING || t->outcome == TRANSACTION_STUCK)
                return;
        for (i = 0; i < m->n_failed_gpus; i++)
                if (pci_address_equal(&m->failed_gpus[i], &t->journal.gpu))
                        break;
        if (!failed && i < m->n_failed_gpus && t->outcome == TRANSACTION_SUCCEEDED)
                m->failed_gpus[i] = m->failed_gpus[--m->n_failed_gpus];
        else if (failed && i == m->n_failed_gpus) {
                PciAddress *n = reallocarray(m->failed_gpus, m->n_failed_gpus + 1, sizeof(PciAddress));
                if (n) {
                        m->failed_gpus = n;
                        m->failed_gpus[m->n_failed_gpus++] = t->journal.gpu;
                }
        }
}

/* A resumed Return has no caller: its outcome goes to the log. */
static void log_resumed_outcome(Assignment *a) {
        Transaction *t = a->transaction;
        _cleanup_free_ char *undone = NULL;
        char gpu[PCI_ADDRESS_STRING_MAX];
        const char *why = a->automatic ? "started when its domain stopped" : "interrupted when the daemon ended";

        pci_address_format(&t->journal.gpu, gpu);
        switch (t->outcome) {
        case TRANSACTION_SUCCEEDED:
                log_notice("GPU %s is back on the host: its Return, %s, is done.", gpu, why);
                break;
        case TRANSACTION_FAILED:
                if (t->undo_problems) {
                        log_error("The Return of GPU %s, %s, could not be finished: %s. The undo did not restore "
                                  "everything: %s",
                                  gpu, why, strempty(t->failure), t->undo_problems);
                        break;
                }
                undone = undone_sentence(t);
                log_error("The Return of GPU %s, %s, could not be finished: %s. %s", gpu, why, strempty(t->failure), strempty(undone));
                break;
        case TRANSACTION_STUCK:
                log_error("The Return of GPU %s, %s, is stuck: %s. Group %u "
                          "refuses operations until the kernel returns; if it never does, reboot to "
                          "recover.",
                          gpu, why, strempty(t->failure), a->group);
                break;
        default:
                break;
        }
}

static void on_settled(Transaction *t, void *userdata) {
        Assignment *a = userdata;
        Manager *m = a->manager;
        int r;

        note_gpu_outcome(m, a);
        if ((a->resumed && !a->counted) || (a->automatic && t->outcome != TRANSACTION_RUNNING))
                log_resumed_outcome(a);
        if (a->request && !a->replied) {
                a->replied = true;
                r = reply_outcome(a);
                if (r < 0)
                        log_warning_errno(r, "Failed to answer the %s of group %u: %m",
                                          operation_to_string(t->journal.operation), a->group);
        }
        if (!a->request && !a->counted && !a->automatic) {
                /* A start-up undo: the bus name waits for it, unless it is stuck. */
                a->counted = true;
                m->reconciling--;
        }
        emit_states(m, a);
        if (t->finished)
                assignment_free(a);
        request_name_when_reconciled(m);
        manager_exit_when_idle(m);
}

/* A display manager's stop can take as long as systemd gives it (TimeoutStopSec=, 90 s by default). */
#define UNIT_JOB_TIMEOUT_USEC (120 * USEC_PER_SEC)

static void on_unit_job_done(UnitJob *job, int result, const char *what, void *userdata) {
        Assignment *a = userdata;
        _cleanup_free_ char *copy = what ? strdup(what) : NULL;

        a->unit_job = unit_job_free(a->unit_job);
        transaction_step_done(a->transaction, result, copy); /* may free a */
}

static void on_guest_started(int result, const char *message, void *userdata) {
        Assignment *a = userdata;
        _cleanup_free_ char *copy = message ? strdup(message) : NULL;

        a->guest_start = guest_start_free(a->guest_start);
        transaction_step_done(a->transaction, result, copy); /* may free a */
}

static int on_run_step(Transaction *t, const Step *s, void *userdata) {
        Assignment *a = userdata;
        Manager *m = a->manager;
        _cleanup_free_ char *who = NULL;
        Holder *h = NULL;
        size_t n = 0;
        PciAddress addr;
        PciDevice *gpu;
        int r;

        switch (s->kind) {
        case STEP_STOP_UNIT:
        case STEP_START_UNIT:
                if (!m->bus)
                        return -ENOTCONN;
                return unit_job_new(m->bus, m->event, s->argument, s->kind == STEP_STOP_UNIT ? UNIT_STOP : UNIT_START,
                                    UNIT_JOB_TIMEOUT_USEC, on_unit_job_done, a, &a->unit_job);
        case STEP_START_DOMAIN: {
                _cleanup_free_ char *msg = NULL;

                r = manager_guest_start_domain(m, s->argument, on_guest_started, a, &a->guest_start, &msg);
                if (r < 0)
                        transaction_step_done(t, r, msg); /* may free a */
                return 0;
        }
        case STEP_CHECK_CONSUMERS:
                if (pci_address_parse(s->argument, &addr, NULL) < 0 || !(gpu = machine_find_device(m->machine, &addr)))
                        return -ENODEV;
                r = gpu_consumers(m, gpu, &h, &n);
                if (r < 0)
                        return r;
                who = holders_describe(h, n);
                holders_free(h, n);
                transaction_step_done(t, n > 0 ? -EBUSY : 0, who); /* may free a */
                return 0;
        default:
                return -EINVAL;
        }
}

static const TransactionHooks hooks = {
        .run_step = on_run_step,
        .progress = on_progress,
        .verified = on_verified,
        .committed = on_committed,
        .settled = on_settled,
};

int assignment_new(Manager *m, unsigned group, sd_bus_message *request, Journal *j, Plan *p, Assignment **ret) {
        Assignment *a;
        int r;

        a = calloc(1, sizeof(Assignment));
        if (!a)
                return -ENOMEM;
        a->manager = m;
        a->group = group;
        a->request = sd_bus_message_ref(request);
        r = transaction_new(j, p, m->event, m->machine->kmod, m->runtime_fd,
                            (uint64_t) m->config.step_timeout_sec * 1000000, &hooks, a, &a->transaction);
        if (r < 0) {
                sd_bus_message_unref(a->request);
                free(a);
                return r;
        }
        a->next = m->assignments;
        m->assignments = a;
        *ret = a;
        return 0;
}

int assignment_check_no_guest(const unsigned *groups, size_t n_groups, sd_bus_error *error) {
        _cleanup_free_ char *who = NULL;
        Holder *h = NULL;
        size_t nh = 0;
        unsigned group;
        int r;

        if (n_groups == 0)
                return 0;
        r = vfio_group_holders(groups, n_groups, &h, &nh);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to check who uses /dev/vfio/%u%s (%s); nothing was changed.", groups[0],
                                         n_groups > 1 ? " and the other groups' nodes" : "", strerror(ERRNO_VALUE(r)));
        if (nh == 0)
                return 0;
        /* The group named is the first holder's (its path is /dev/vfio/GROUP). */
        if (sscanf(strempty(h[0].path), "/dev/vfio/%u", &group) != 1)
                group = groups[0];
        who = holders_describe(h, nh);
        holders_free(h, nh);
        return sd_bus_error_setf(error, PASSTHRU_ERROR_GUEST_RUNNING,
                                 "A guest uses IOMMU group %u: %s. Shut the guest down first.", group, strempty(who));
}

int assignment_check_idle(Manager *m, unsigned group, sd_bus_error *error) {
        Assignment *a;

        if (m->exit_requested)
                return sd_bus_error_set(error, PASSTHRU_ERROR_BUSY,
                                        "passthrud is shutting down; try again once it is back.");
        a = manager_find_assignment(m, group);
        if (!a)
                return 0;
        if (a->transaction->stuck)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_STUCK,
                                         "IOMMU group %u is stuck: %s and the kernel has not returned. The group "
                                         "refuses operations until it does; if it never does, reboot to recover.",
                                         group, strempty(a->transaction->failure));
        return sd_bus_error_setf(error, PASSTHRU_ERROR_BUSY,
                                 "IOMMU group %u is busy: a %s is in progress. Try again when it is over "
                                 "(the group's State property says \"idle\").",
                                 group, operation_to_string(a->transaction->journal.operation));
}

int bus_method_assign(sd_bus_message *message, Manager *m, Operation op, IommuGroup *g, PciDevice *only,
                      sd_bus_error *error) {
        _cleanup_(journal_done) Journal j = {};
        _cleanup_(plan_done) Plan p = {};
        _cleanup_free_ char *problem = NULL, *reason = NULL, *group_text = NULL;
        _cleanup_free_ PciDevice **devices = NULL;
        const char *actions[3] = { ACTION_ASSIGN };
        AssignOptions o = {};
        Assignment *a;
        size_t n = 0;
        int r;

        /* 1. parse */
        r = parse_options(message, &o, error);
        if (r < 0)
                return r;

        /* 2. validate */
        if (only && pci_device_is_bridge(only))
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "%s is a bridge (class %06x): bridges stay with the host and never block "
                                         "a group. Detach the endpoints behind it, or the whole group.",
                                         only->name, only->class);
        if (!g)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "%s is in no IOMMU group (the IOMMU is off), and vfio-pci needs one. "
                                         "'passthructl diagnose' says how to turn the IOMMU on.",
                                         only ? only->name : "The function");
        devices = calloc(g->n_devices + 1, sizeof(PciDevice *));
        if (!devices)
                return -ENOMEM;
        if (only)
                devices[n++] = only;
        else
                for (size_t i = 0; i < g->n_devices; i++)
                        if (!pci_device_is_bridge(g->devices[i]))
                                devices[n++] = g->devices[i];
        if (n == 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "IOMMU group %u holds only bridges, which stay with the host.", g->number);

        /* 3. authorize: forcing an interlock is an action of its own */
        if (o.override && op == OPERATION_DETACH)
                actions[1] = ACTION_OVERRIDE; /* Reattach has no interlock to force */
        if (asprintf(&group_text, "%u", g->number) < 0)
                return -ENOMEM;
        const char *details[] = { "group", group_text, only ? "device" : NULL, only ? only->name : NULL, NULL };
        r = polkit_check_actions(message, actions, details, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit was asked; this runs again with its answer */

        /* 4. one operation per group (none while shutting down) */
        r = assignment_check_idle(m, g->number, error);
        if (r < 0)
                return r;

        /* 5. interlocks */
        if (op == OPERATION_DETACH) {
                r = interlock_check(m->machine, devices, n, &reason);
                if (r < 0)
                        return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                                 "Failed to check what the host uses the functions for (%s); nothing "
                                                 "was changed.",
                                                 strerror(ERRNO_VALUE(r)));
                if (reason && !o.override)
                        return sd_bus_error_set(error, PASSTHRU_ERROR_HOST_CRITICAL, reason);
                if (reason)
                        log_notice("Overriding an interlock as authorized: %s", reason);
        } else {
                r = assignment_check_no_guest(&g->number, 1, error);
                if (r < 0)
                        return r;
        }

        /* 6. plan */
        r = assign_plan(m, op, g->number, devices, n, &j, &p, &problem);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, PASSTHRU_ERROR_NOT_SUPPORTED, problem);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to read where the functions of group %u are (%s); nothing was "
                                         "changed.",
                                         g->number, strerror(ERRNO_VALUE(r)));
        if (o.dry_run)
                return bus_reply_steps(message, &p, NULL);

        /* 7. act; the reply comes when the transaction settles */
        r = assignment_new(m, g->number, message, &j, &p, &a);
        if (r < 0)
                return r;
        log_info("%s of group %u%s%s requested by %s.", operation_to_string(op), g->number, only ? ", function " : "",
                 only ? only->name : "", strempty(sd_bus_message_get_sender(message)));
        emit_states(m, a);
        (void) transaction_start(a->transaction); /* may settle (and free a) at once */
        return 1;
}

int manager_load_records(Manager *m) {
        int r;

        r = records_load(m->runtime_fd, &m->records, &m->n_records);
        if (r < 0)
                return log_error_errno(r, "Failed to read the record of host drivers in %s: %m", m->runtime_dir);
        return 0;
}

/* A Return the dead daemon left unfinished is finished, not undone: the GPU was on its way
 * back to the host, whoever asked for it is gone with the daemon, and a host left with its
 * console and desktop on vfio-pci after a crash is the outcome a Return is there to prevent.
 * Its record is still there (a committed Return removes it), so the Return is planned again
 * from it against what sysfs shows now: what was done already plans as nothing, or as an
 * override written again. The journal stays as it was (origins: the functions on vfio-pci;
 * the modules loaded and the consoles and frame buffer bound so far), so that a step failing
 * now is undone back to the handed-off state like any failed Return, the GPU then "failed".
 * Undoing first and running the Return again would move every function twice for the same
 * end. */
static int resume_return(Manager *m, Journal *j) {
        _cleanup_(plan_done) Plan p = {};
        _cleanup_free_ char *problems = NULL;
        char gpu[PCI_ADDRESS_STRING_MAX];
        Assignment *a;
        int r;

        pci_address_format(&j->gpu, gpu);
        r = return_plan_resumed(m, j, &p, &problems);
        if (r == -ENOENT) {
                log_notice("The Return of GPU %s was done before the daemon ended (its handoff record is "
                           "gone); removing its journal.",
                           gpu);
                r = journal_remove(m->runtime_fd, j->group);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the journal of group %u: %m", j->group);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to plan the rest of the Return of GPU %s: %m", gpu);
        if (problems)
                log_warning("Return of %s: %s", gpu, problems);
        log_notice("Found the journal of an unfinished return of GPU %s (group %u, step %zu: %s); "
                   "finishing it.",
                   gpu, j->group, j->step, strempty(j->step_text));
        r = assignment_new(m, j->group, NULL, j, &p, &a);
        if (r < 0)
                return log_oom();
        a->resumed = true;
        m->reconciling++;
        emit_states(m, a);
        (void) transaction_start(a->transaction); /* may settle (and free a) at once */
        return 0;
}

int manager_reconcile(Manager *m) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = journal_list(m->runtime_fd, &names);
        if (r < 0)
                return log_error_errno(r, "Failed to list the journals in %s: %m", m->runtime_dir);
        for (char **name = names; name && *name; name++) {
                _cleanup_(journal_done) Journal j = {};
                Assignment *a;

                r = journal_read(m->runtime_fd, *name, &j);
                if (r < 0) {
                        log_error_errno(r, "Ignoring the unreadable journal %s/%s: %m", m->runtime_dir, *name);
                        continue;
                }
                if (j.operation == OPERATION_RETURN && j.has_gpu) {
                        r = resume_return(m, &j);
                        if (r < 0)
                                return r;
                        continue;
                }
                log_notice("Found the journal of an unfinished %s of group %u (step %zu: %s); returning its "
                           "functions to where they were.",
                           operation_to_string(j.operation), j.group, j.step, strempty(j.step_text));
                r = assignment_new(m, j.group, NULL, &j, NULL, &a);
                if (r < 0)
                        return log_oom();
                m->reconciling++;
                emit_states(m, a);
                (void) transaction_start_undo(a->transaction);
        }
        request_name_when_reconciled(m);
        return 0;
}
