/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's context: event loop, bus connection, uevent monitor and the machine model.
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>

#include "daemon-config.h"
#include "machine.h"
#include "polkit.h"
#include "reservations.h"
#include "transaction.h"

typedef struct Assignment Assignment;
typedef struct GpuStateMemo {
        PciAddress address;
        char state[16];
} GpuStateMemo;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_device_monitor *monitor;
        Machine *machine;
        PolkitRegistry polkit;
        DaemonConfig config;
        char *config_dir;          /* $CONFIGURATION_DIRECTORY: the reservations */
        Reservations reservations; /* as the file said when last read */
        char *runtime_dir;
        int runtime_fd;
        FunctionState *records; /* host drivers of the functions sent to vfio-pci */
        size_t n_records;
        Assignment *assignments; /* Detach/Reattach/Handoff/Return (or start-up undo) in progress, one per group */
        Journal *handoffs;       /* the records of the GPUs handed off */
        size_t n_handoffs;
        PciAddress *failed_gpus; /* whose last Handoff or Return failed with an incomplete undo */
        size_t n_failed_gpus;
        struct GpuStateMemo *gpu_states; /* the Gpu.State last signalled, per GPU */
        size_t n_gpu_states;
        unsigned reconciling;    /* start-up undos not settled yet: the bus name waits for them */
        bool name_requested;
        bool exit_requested; /* SIGTERM while operations run: exit once they settle */
        uint64_t idle_exit_usec; /* 0: never exit on idle */
        uint64_t last_activity;  /* CLOCK_MONOTONIC of the last message received */
        sd_event_source *idle_timer;
        struct VirtConnection *virt; /* libvirt (guests.c); opened while needed */
        bool virt_watching;          /* a record names a domain: the connection is held */
        char **running_domains;      /* watched domains known to run */
        char **paused_domains;       /* … of which libvirt said they are suspended */
        struct GuestWaiter *guest_waiters; /* calls waiting for the connection to open */
        bool virt_resync_at_open;    /* the records of the last instance: resync once open */
        bool virt_unreachable_logged;
} Manager;

/* Exits the loop once no operation is running (stuck ones do not count: they may never end;
 * their journals are undone at the next start). */
void manager_exit_when_idle(Manager *m);

/* The host driver recorded for a function by a Detach, NULL when none. */
const FunctionState *manager_find_record(Manager *m, const PciAddress *a);
/* "host", "vfio", "changing" or "stuck", for Device.State. */
const char *manager_device_state(Manager *m, const PciDevice *d);
/* "idle", "busy" or "stuck", for Group.State. */
const char *manager_group_state(Manager *m, unsigned group);
/* The driver a Reattach returns the function to (HostDriver). */
const char *manager_host_driver(Manager *m, const PciDevice *d);

int manager_new(const char *config_path, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Starts following uevents, reads the machine, publishes the objects, takes the bus name. */
int manager_start(Manager *m);
int manager_run(Manager *m);
