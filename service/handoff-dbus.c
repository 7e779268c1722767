/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Gpu.Handoff, Gpu.Return and Gpu.GetConsumers on the bus: options, polkit, Busy/Stuck,
 * consumers, then a transaction run by the assignment machinery (assign-dbus.c), whose
 * hooks signal Progress, Step, State and StateChanged and reply. Never touches sysfs.
 */
#include <stdio.h>

#include "assign.h"
#include "bus-options.h"
#include "bus-paths.h"
#include "errors.h"
#include "guests.h"
#include "handoff.h"
#include "handoff-dbus.h"
#include "log.h"
#include "units.h"
#include "util.h"

#define DOMAIN_NAME_MAX 256
#define DISPLAY_MANAGER_UNIT "display-manager.service"
#define STR_IN_SET_ACTIVE(s) (streq_ptr(s, "active") || streq_ptr(s, "activating") || streq_ptr(s, "reloading"))

static int append_consumers(sd_bus_message *reply, const Holder *h, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(uss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "(uss)", (uint32_t) h[i].pid, strempty(h[i].command),
                                          strempty(h[i].path));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_get_consumers(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        PciDevice *d = device_from_path(m->machine, sd_bus_message_get_path(message));
        Holder *h = NULL;
        size_t n = 0;
        int r;

        if (!d)
                return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "The GPU is gone.");
        r = gpu_consumers(m, d, &h, &n);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED, "Failed to read who holds the GPU's nodes (%s).",
                                         strerror(ERRNO_VALUE(r)));
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = append_consumers(reply, h, n);
        holders_free(h, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* A domain name is text for people and libvirt: printable, no control characters; it is
 * never used in a path or a shell. */
/* The rule passthructl's libvirt hook applies too: at most DOMAIN_NAME_MAX characters, no C0,
 * DEL or C1 control character. (sd-bus has checked that it is valid UTF-8.) */
static bool domain_name_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n = 0;

        for (; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        return false;
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* U+0080…U+009F */
                        return false;
                if ((*p & 0xc0) != 0x80 && ++n > DOMAIN_NAME_MAX) /* a character's first byte */
                        return false;
        }
        return true;
}

int check_domain_name(const char *domain, sd_bus_error *error) {
        _cleanup_free_ char *shown = NULL;

        if (domain_name_is_valid(domain))
                return 0;
        shown = cescape_trunc(domain, 64);
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Invalid domain name \"%s\": at most %d characters, no control characters.",
                                 strempty(shown), DOMAIN_NAME_MAX);
}


int check_groups_idle(Manager *m, PciDevice *gpu, sd_bus_error *error) {
        _cleanup_free_ PciDevice **functions = NULL;
        size_t n;
        int r;

        r = gpu_functions(m->machine, gpu, &functions, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (functions[i]->group < 0)
                        continue;
                r = assignment_check_idle(m, (unsigned) functions[i]->group, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int start(Manager *m, sd_bus_message *message, PciDevice *gpu, Journal *j, Plan *p) {
        Assignment *a;
        int r;

        r = assignment_new(m, (unsigned) gpu->group, message, j, p, &a);
        if (r < 0)
                return r;
        if (!message)
                a->automatic = true;
        log_info("%s of GPU %s%s%s %s %s.", operation_to_string(a->transaction->journal.operation), gpu->name,
                 a->transaction->journal.domain ? " for domain " : "", strempty(a->transaction->journal.domain),
                 message ? "requested by" : "started by", message ? strempty(sd_bus_message_get_sender(message)) : "the daemon");
        bus_assignment_started(m, a);
        (void) transaction_start(a->transaction); /* may settle (and free a) at once */
        return 1;
}

/* InUse (error set) when a process holds a node of the GPU or its companions; with
 * ret_consumers (a dry-run) they are listed instead. extra: a GPU the domain passes through
 * besides the one handed off. */
static int check_gpu_unused(Manager *m, PciDevice *gpu, bool extra, char ***ret_consumers, sd_bus_error *error) {
        _cleanup_free_ char *who = NULL;
        Holder *h = NULL;
        size_t nh = 0;
        int r;

        r = gpu_consumers(m, gpu, &h, &nh);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to read who holds the nodes of %s (%s); nothing was changed.",
                                         gpu->name, strerror(ERRNO_VALUE(r)));
        for (size_t i = 0; ret_consumers && i < nh && r >= 0; i++)
                r = strv_push(ret_consumers, holder_describe(&h[i]));
        who = holders_describe(h, nh);
        holders_free(h, nh);
        if (r < 0 || (nh > 0 && !who))
                return -ENOMEM;
        if (nh > 0 && !ret_consumers)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_IN_USE,
                                         "The host still uses %s%s: %s. Close them%s, then try again; nothing was "
                                         "changed.",
                                         gpu->name, extra ? ", which the domain passes through too" : "", who,
                                         gpu_is_primary(gpu) ? " (or stop the display manager)" : "");
        return 0;
}

int gpu_handoff_start(Manager *m, sd_bus_message *message, PciDevice *gpu, const HandoffGuest *guest,
                      bool stop_dm, bool dry_run, sd_bus_error *error) {
        _cleanup_(journal_done) Journal j = {};
        _cleanup_(plan_done) Plan p = {};
        _cleanup_free_ char *problem = NULL;
        _cleanup_strv_free_ char **consumers = NULL;
        char *stop_units[2] = {};
        int r;

        /* one operation per group; once only */
        r = check_groups_idle(m, gpu, error);
        if (r < 0)
                return r;
        for (size_t i = 0; guest && i < guest->n_extra; i++)
                if (guest->extra[i]->group >= 0) {
                        r = assignment_check_idle(m, (unsigned) guest->extra[i]->group, error);
                        if (r < 0)
                                return r;
                }
        if (manager_find_handoff(m, &gpu->address))
                return sd_bus_error_setf(error, PASSTHRU_ERROR_BUSY,
                                         "%s is handed off already; 'passthructl return %s' gives it back.", gpu->name,
                                         gpu->name);
        /* the display manager: only for the primary GPU, only when asked, only when it runs */
        if (stop_dm && gpu_is_primary(gpu)) {
                _cleanup_free_ char *state = NULL, *id = NULL;

                r = unit_get_active_state(m->bus, DISPLAY_MANAGER_UNIT, &state, &id);
                if (r == -ENOENT)
                        log_info("No %s on this system: nothing to stop.", DISPLAY_MANAGER_UNIT);
                else if (r < 0)
                        return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                                 "Failed to ask systemd about %s (%s); nothing was changed.",
                                                 DISPLAY_MANAGER_UNIT, strerror(ERRNO_VALUE(r)));
                else if (STR_IN_SET_ACTIVE(state)) {
                        log_info("%s (%s) is %s: the handoff stops it first.", DISPLAY_MANAGER_UNIT, strempty(id), state);
                        stop_units[0] = (char *) DISPLAY_MANAGER_UNIT;
                }
        }

        /* consumers. When the display manager is stopped first, the plan checks them after
         * the stop (a step), and nothing here would use them but a dry-run's reply: no scan of
         * /proc then, which costs milliseconds on a desktop. */
        if (!stop_units[0] || dry_run) {
                r = check_gpu_unused(m, gpu, false, dry_run ? &consumers : NULL, error);
                if (r < 0)
                        return r;
        }
        /* Another GPU the domain lists moves as a hostdev (no console of the host is on it):
         * the kernel's unbind would wait for whoever holds its nodes, so nobody may (after the
         * display manager's stop: a step of the plan). */
        for (size_t i = 0; guest && (!stop_units[0] || dry_run) && i < guest->n_extra; i++) {
                PciDevice *other = guest->extra[i];

                if (!pci_device_is_display(other))
                        continue;
                r = check_gpu_unused(m, other, true, dry_run ? &consumers : NULL, error);
                if (r < 0)
                        return r;
        }

        /* plan */
        r = handoff_plan(m, gpu, guest, stop_units, &j, &p, &problem);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, PASSTHRU_ERROR_NOT_SUPPORTED, problem);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to read what holds %s (%s); nothing was changed.", gpu->name,
                                         strerror(ERRNO_VALUE(r)));
        if (dry_run) {
                r = bus_reply_steps(message, &p, consumers);
                return r < 0 ? r : 1;
        }

        /* act */
        return start(m, message, gpu, &j, &p);
}

static int method_handoff(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *group_text = NULL;
        Manager *m = userdata;
        bool dry_run = false, stop_dm = false, start_domain = true;
        const BoolOption options[] = {
                { "dry-run", &dry_run }, { "stop-display-manager", &stop_dm }, { "start", &start_domain }, {}
        };
        const char *domain;
        PciDevice *gpu;
        int r;

        /* 1. parse */
        gpu = device_from_path(m->machine, sd_bus_message_get_path(message));
        if (!gpu)
                return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "The GPU is gone.");
        r = sd_bus_message_read(message, "s", &domain);
        if (r < 0)
                return r;
        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;

        /* 2. validate */
        r = check_domain_name(domain, error);
        if (r < 0)
                return r;
        if (gpu->group < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "%s is in no IOMMU group (the IOMMU is off), and vfio-pci needs one. "
                                         "'passthructl diagnose' says how to turn the IOMMU on.",
                                         gpu->name);

        /* 3. authorize */
        if (asprintf(&group_text, "%" PRIi64, gpu->group) < 0)
                return -ENOMEM;
        const char *details[] = { "device", gpu->name, "group", group_text, "domain", domain, NULL };
        r = polkit_check(message, ACTION_HANDOFF, details, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit was asked; this runs again with its answer */

        if (isempty(domain))
                return gpu_handoff_start(m, message, gpu, NULL, stop_dm, dry_run, error);

        /* 4. the domain, as libvirt has it */
        return gpu_handoff_to_domain(m, message, gpu, domain, start_domain, stop_dm, dry_run, error);
}

int gpu_handoff_to_domain(Manager *m, sd_bus_message *message, PciDevice *gpu, const char *domain, bool start,
                          bool stop_dm, bool dry_run, sd_bus_error *error) {
        int r;

        r = manager_guests_need(m, error);
        if (r == -EINPROGRESS) {
                r = manager_guests_wait(m, message, gpu, domain, start, stop_dm, dry_run);
                if (r < 0)
                        manager_guests_release(m);
                return r;
        }
        if (r < 0)
                return r;
        return gpu_handoff_to_domain_connected(m, message, gpu, domain, start, stop_dm, dry_run, error);
}

int gpu_handoff_to_domain_connected(Manager *m, sd_bus_message *message, PciDevice *gpu, const char *domain,
                                    bool start, bool stop_dm, bool dry_run, sd_bus_error *error) {
        _cleanup_(guest_domain_done) GuestDomain dom = {};
        _cleanup_free_ PciDevice **extra = NULL;
        _cleanup_free_ PciAddress *managed = NULL;
        HandoffGuest guest = {};
        Assignment *a = NULL;
        int r;

        r = manager_guest_lookup(m, domain, &dom, error);
        if (r >= 0 && dom.active)
                r = sd_bus_error_setf(error, PASSTHRU_ERROR_GUEST_RUNNING,
                                      "Domain %s is running already; shut it down first, then hand its GPU to it.",
                                      dom.name);
        if (r >= 0 && !gpu && !(gpu = guest_find_gpu(m, dom.hostdevs, dom.n_hostdevs)))
                r = sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_VIABLE,
                                      "Domain %s passes no GPU of this machine through, so there is nothing to hand "
                                      "over: start it with 'virsh start %s'.",
                                      dom.name, dom.name);
        if (r >= 0)
                r = guest_handoff_setup(m, gpu, dom.name, dom.hostdevs, dom.n_hostdevs, &guest, &extra, &managed,
                                        error);
        if (r >= 0) {
                guest.start = start;
                r = gpu_handoff_start(m, message, gpu, &guest, stop_dm, dry_run, error);
        }
        /* A transaction that runs holds the connection (its start-domain step needs it) until it
         * is freed; otherwise this call's need ends here. */
        if (r > 0 && !dry_run && gpu->group >= 0)
                a = manager_find_assignment(m, (unsigned) gpu->group);
        if (a)
                a->holds_virt = true;
        else
                manager_guests_release(m);
        return r;
}

int gpu_return_start(Manager *m, sd_bus_message *message, PciDevice *gpu, bool dry_run, bool ask_libvirt,
                     sd_bus_error *error) {
        _cleanup_(journal_done) Journal j = {};
        _cleanup_(plan_done) Plan p = {};
        _cleanup_free_ char *problems = NULL;
        _cleanup_free_ unsigned *groups = NULL;
        size_t n_groups = 0;
        const Journal *rec;
        int r;

        r = check_groups_idle(m, gpu, error);
        if (r < 0)
                return r;
        rec = manager_find_handoff(m, &gpu->address);
        if (!rec)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "%s was not handed off, so there is nothing to return. A function detached "
                                         "with 'passthructl detach' goes back with 'passthructl reattach'.",
                                         gpu->name);
        if (ask_libvirt && rec->domain) {
                r = manager_guest_check_stopped(m, rec->domain, error);
                if (r < 0)
                        return r;
        }

        /* A guest holding a group's vfio node: one scan of /proc for the groups of all functions */
        groups = calloc(rec->n_origins ?: 1, sizeof(unsigned));
        if (!groups)
                return -ENOMEM;
        for (size_t i = 0; i < rec->n_origins; i++)
                if (rec->origins[i].group >= 0)
                        groups[n_groups++] = (unsigned) rec->origins[i].group;
        r = assignment_check_no_guest(groups, n_groups, error);
        if (r < 0)
                return r;

        r = return_plan(m, rec, &j, &p, &problems);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to read where the GPU's functions are (%s); nothing was changed.",
                                         strerror(ERRNO_VALUE(r)));
        if (problems)
                log_warning("Return of %s: %s", gpu->name, problems);
        if (dry_run) {
                r = bus_reply_steps(message, &p, NULL);
                return r < 0 ? r : 1;
        }
        return start(m, message, gpu, &j, &p);
}

static int method_return(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *group_text = NULL;
        Manager *m = userdata;
        bool dry_run = false;
        const BoolOption options[] = { { "dry-run", &dry_run }, {} };
        const Journal *rec;
        PciDevice *gpu;
        int r;

        gpu = device_from_path(m->machine, sd_bus_message_get_path(message));
        if (!gpu)
                return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "The GPU is gone.");
        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;

        if (asprintf(&group_text, "%" PRIi64, gpu->group) < 0)
                return -ENOMEM;
        rec = manager_find_handoff(m, &gpu->address);
        const char *details[] = { "device", gpu->name, "group", group_text, "domain",
                                  rec ? strempty(rec->domain) : "", NULL };
        r = polkit_check(message, ACTION_HANDOFF, details, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;
        return gpu_return_start(m, message, gpu, dry_run, true, error);
}

const sd_bus_vtable gpu_methods_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Handoff", SD_BUS_ARGS("s", domain, "a{sv}", options), SD_BUS_RESULT("a(ss)", steps),
                                method_handoff, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Return", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ss)", steps),
                                method_return, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetConsumers", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(uss)", consumers),
                                method_get_consumers, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("StateChanged", SD_BUS_ARGS("s", state, "s", domain), 0),
        SD_BUS_VTABLE_END,
};
