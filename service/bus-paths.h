/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Object paths of the service and the registration of its objects on the bus.
 */
#pragma once

#include "journal.h"
#include "manager.h"

#define PASSTHRU_BUS_NAME "org.passthru1"
#define PASSTHRU_PATH "/org/passthru1"
#define DEVICE_PATH_PREFIX "/org/passthru1/device"
#define GROUP_PATH_PREFIX "/org/passthru1/group"

#define MANAGER_INTERFACE "org.passthru1.Manager"
#define GROUP_INTERFACE "org.passthru1.Group"
#define DEVICE_INTERFACE "org.passthru1.Device"
#define GPU_INTERFACE "org.passthru1.Gpu"

#define OBJECT_PATH_MAX 64

const char *device_object_path(const PciAddress *a, char buf[static OBJECT_PATH_MAX]);
const char *group_object_path(unsigned number, char buf[static OBJECT_PATH_MAX]);
/* Parses a path of ours back to the object; NULL when it names nothing (any more). */
PciDevice *device_from_path(Machine *m, const char *path);
IommuGroup *group_from_path(Machine *m, const char *path);

int manager_bus_register(Manager *m);
int group_bus_register(Manager *m);
int device_bus_register(Manager *m);

/* Signals what one model update changed: InterfacesAdded/Removed, PropertiesChanged. */
int bus_emit_machine_change(Manager *m, const MachineChange *c);

/* Group/Device Detach and Reattach (assign-dbus.c). g: the group acted on; only: the one
 * function (Device methods), NULL for the whole group. */
int bus_method_assign(sd_bus_message *message, Manager *m, Operation op, IommuGroup *g, PciDevice *only,
                      sd_bus_error *error);
