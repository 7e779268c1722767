/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wires the daemon together: the sd-event loop, SIGTERM/SIGINT, the uevent monitor of the
 * pci subsystem (sd-device; udev's netlink group), the machine model and the bus.
 */
#include <signal.h>

#include "assign.h"
#include "guests.h"
#include "handoff.h"
#include "bus-paths.h"
#include "log.h"
#include "manager.h"
#include "reservations-dbus.h"

#define RUNTIME_DIR_DEFAULT "/run/passthru1"

/* systemd sets $RUNTIME_DIRECTORY from RuntimeDirectory= (a colon-separated list; ours is one). */
static int runtime_dir_path(char **ret) {
        const char *e = getenv("RUNTIME_DIRECTORY");
        size_t n;

        if (isempty(e)) {
                *ret = strdup(RUNTIME_DIR_DEFAULT);
                return *ret ? 0 : -ENOMEM;
        }
        n = strcspn(e, ":");
        if (e[0] != '/')
                return -EINVAL;
        *ret = strndup(e, n);
        return *ret ? 0 : -ENOMEM;
}

int manager_new(const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->runtime_fd = -EBADF;

        r = daemon_config_load(&m->config, config_path ?: DAEMON_CONFIG_PATH);
        if (r < 0)
                return r;

        r = runtime_dir_path(&m->runtime_dir);
        if (r < 0)
                return log_error_errno(r, "Invalid $RUNTIME_DIRECTORY: an absolute path is needed.");
        m->runtime_fd = runtime_dir_open(m->runtime_dir);
        if (m->runtime_fd < 0)
                return log_error_errno(m->runtime_fd, "Failed to open the runtime directory %s: %m", m->runtime_dir);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");

        r = machine_new(&m->machine);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        sd_device_monitor_unref(m->monitor);
        sd_event_source_disable_unref(m->idle_timer);
        while (m->assignments)
                assignment_free(m->assignments);
        manager_guests_free(m);
        for (size_t i = 0; i < m->n_records; i++)
                function_state_done(&m->records[i]);
        free(m->records);
        for (size_t i = 0; i < m->n_handoffs; i++)
                journal_done(&m->handoffs[i]);
        free(m->handoffs);
        free(m->failed_gpus);
        free(m->gpu_states);
        safe_close(m->runtime_fd);
        free(m->runtime_dir);
        free(m->config_dir);
        reservations_done(&m->reservations);
        daemon_config_done(&m->config);
        polkit_registry_done(&m->polkit);
        sd_bus_flush_close_unref(m->bus);
        machine_free(m->machine);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static int on_uevent(sd_device_monitor *monitor, sd_device *device, void *userdata) {
        Manager *m = userdata;
        const char *action = NULL, *sysname = NULL;
        MachineChange change;
        int r;

        if (sd_device_get_property_value(device, "ACTION", &action) < 0 ||
            sd_device_get_sysname(device, &sysname) < 0)
                return 0;

        log_debug("uevent: %s %s", action, sysname);
        r = machine_apply_uevent(m->machine, action, sysname, &change);
        if (r < 0) {
                /* Keep serving: the next event for this function re-reads it. */
                log_warning_errno(r, "Failed to follow the %s event of %s, ignoring: %m", action, sysname);
                return 0;
        }
        r = bus_emit_machine_change(m, &change);
        if (r < 0)
                log_warning_errno(r, "Failed to signal the %s event of %s, ignoring: %m", action, sysname);
        return 0;
}

void manager_exit_when_idle(Manager *m) {
        unsigned running = 0;

        if (!m->exit_requested)
                return;
        for (Assignment *a = m->assignments; a; a = a->next)
                if (!a->transaction->stuck)
                        running++;
        if (running > 0) {
                log_info("Exiting once %u operation(s) in progress are over.", running);
                return;
        }
        manager_guests_stop(m); /* (the bus is flushed and closed as the loop exits) */
        (void) sd_event_exit(m->event, 0);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_debug("Received SIG%s, exiting.", sigabbrev_np(si->ssi_signo));
        /* Leaving in the middle of a transaction would leave its undo to the next start. */
        m->exit_requested = true;
        manager_exit_when_idle(m);
        return 0;
}

static int start_monitor(Manager *m) {
        int r;

        r = sd_device_monitor_new(&m->monitor);
        if (r < 0)
                return log_error_errno(r, "Failed to create the uevent monitor: %m");
        r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "pci", NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to filter uevents: %m");
        r = sd_device_monitor_attach_event(m->monitor, m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the uevent monitor: %m");
        r = sd_device_monitor_start(m->monitor, on_uevent, m);
        if (r < 0)
                return log_error_errno(r, "Failed to start the uevent monitor: %m");
        return 0;
}

static int on_bus_message(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &m->last_activity);
        return 0; /* a filter: let it through */
}

/* Idle: no message for the idle time, and nothing the daemon must stay for: no operation
 * (stuck ones included: their undo waits for the kernel), no polkit question in flight, the
 * start-up undo done, no GPU handed to a domain (its stop must be seen). What it knows otherwise is read again from the kernel and the runtime
 * directory at the next start. */
static bool manager_is_idle(Manager *m, uint64_t now) {
        return m->name_requested && m->reconciling == 0 && !m->assignments && !m->polkit.queries &&
               !m->virt_watching && !m->guest_waiters && now >= m->last_activity + m->idle_exit_usec;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now;
        int r;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (!manager_is_idle(m, now)) {
                uint64_t next = MAX(m->last_activity + m->idle_exit_usec, now + USEC_PER_SEC);
                r = sd_event_source_set_time(s, next);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                if (r < 0)
                        log_warning_errno(r, "Failed to re-arm the idle timer, staying: %m");
                return 0;
        }
        log_info("No client for %" PRIu64 " s and nothing in progress: exiting; the bus starts the "
                 "daemon again when it is needed.",
                 m->idle_exit_usec / USEC_PER_SEC);
        /* Give the name up first: a call from now on starts a new instance instead of being lost;
         * what is queued already is answered before the loop ends. */
        r = sd_bus_release_name(m->bus, PASSTHRU_BUS_NAME);
        if (r < 0)
                log_warning_errno(r, "Failed to release %s: %m", PASSTHRU_BUS_NAME);
        while (sd_bus_process(m->bus, NULL) > 0)
                ;
        (void) sd_bus_flush(m->bus);
        return sd_event_exit(m->event, 0);
}

static int start_idle_timer(Manager *m) {
        int r;

        if (m->idle_exit_usec == 0)
                return 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &m->last_activity);
        r = sd_bus_add_filter(m->bus, NULL, on_bus_message, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch bus activity: %m");
        r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->idle_exit_usec, USEC_PER_SEC / 10,
                                       on_idle_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the idle timer: %m");
        return 0;
}

static int connect_bus(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        r = manager_bus_register(m);
        if (r < 0)
                return r;
        r = group_bus_register(m);
        if (r < 0)
                return r;
        r = device_bus_register(m);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit on disconnect: %m");

        /* The name is taken once the journals left behind are undone (manager_reconcile): once
         * we own it, callers may rely on every object being there and no function half-moved. */
        return 0;
}

int manager_start(Manager *m) {
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGCHLD); /* helpers' ends arrive through sd-event */
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");

        /* Listen before reading, so that no change between the two is lost; the events that
         * queue up meanwhile are replayed harmlessly (a re-read is idempotent). */
        r = start_monitor(m);
        if (r < 0)
                return r;

        r = machine_load(m->machine);
        if (r < 0)
                return r;
        r = manager_load_records(m);
        if (r < 0)
                return r;
        r = manager_load_handoffs(m);
        if (r < 0)
                return r;
        /* An unreadable file must not cost the service: Reserve reads it again and says so. */
        (void) manager_load_reservations(m);

        r = connect_bus(m);
        if (r < 0)
                return r;
        r = start_idle_timer(m);
        if (r < 0)
                return r;
        r = manager_reconcile(m);
        if (r < 0)
                return r;
        /* Without libvirt the rest of the service works: a handoff to a domain says so. */
        (void) manager_guests_start(m);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        log_info("Serving %zu PCI functions in %zu IOMMU groups.", m->machine->n_devices, m->machine->n_groups);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r; /* the exit code: non-zero when the bus name could not be taken */
}
