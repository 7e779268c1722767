/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's context: event loop, bus connection, uevent monitor and the machine model.
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>

#include "machine.h"
#include "polkit.h"

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_device_monitor *monitor;
        Machine *machine;
        PolkitRegistry polkit;
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Starts following uevents, reads the machine, publishes the objects, takes the bus name. */
int manager_start(Manager *m);
int manager_run(Manager *m);
