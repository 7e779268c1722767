/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.passthru1.Manager at /org/passthru1 (with the ObjectManager), its methods, and the
 * signals that follow each model update. Never touches sysfs.
 */
#include <stdio.h>

#include "bus-options.h"
#include "bus-paths.h"
#include "config.h"
#include "diagnose.h"
#include "errors.h"
#include "log.h"
#include "guests-dbus.h"
#include "reservations-dbus.h"
#include "util.h"

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_iommu_enabled(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", m->machine->iommu.enabled);
}

static int property_get_iommu_driver(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->machine->iommu.enabled ? strempty(m->machine->iommu.driver) : "");
}

static int property_get_groups(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->machine->n_groups; i++) {
                char p[OBJECT_PATH_MAX];
                r = sd_bus_message_append(reply, "o", group_object_path(m->machine->groups[i]->number, p));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        bool gpus_only = streq(property, "Gpus");
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->machine->n_devices; i++) {
                PciDevice *d = m->machine->devices[i];
                char p[OBJECT_PATH_MAX];

                if (gpus_only && !pci_device_is_display(d))
                        continue;
                r = sd_bus_message_append(reply, "o", device_object_path(&d->address, p));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_get_device(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        char path[OBJECT_PATH_MAX];
        PciAddress a;
        int r;

        r = bus_read_pci_address(message, &a, error);
        if (r < 0)
                return r;
        if (!machine_find_device(m->machine, &a))
                return bus_error_no_such_device(error, &a);
        return sd_bus_reply_method_return(message, "o", device_object_path(&a, path));
}

static int method_get_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        char path[OBJECT_PATH_MAX];
        uint32_t number;
        int r;

        r = sd_bus_message_read(message, "u", &number);
        if (r < 0)
                return r;
        if (!machine_find_group(m->machine, number))
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NO_SUCH_GROUP,
                                         "There is no IOMMU group %" PRIu32 " on this machine%s; "
                                         "'passthructl list' shows those there are.",
                                         number, m->machine->iommu.enabled ? "" : " (the IOMMU is off)");
        return sd_bus_reply_method_return(message, "o", group_object_path(number, path));
}

static int method_diagnose(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(diagnosis_done) Diagnosis d = {};
        Manager *m = userdata;
        int r;

        r = diagnose(m->machine, &d);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to examine the host: reading /sys/kernel/iommu_groups, "
                                         "/sys/class/iommu or /proc failed (%s). The daemon's journal has details.",
                                         strerror(-r));

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < d.n_findings; i++) {
                r = sd_bus_message_append(reply, "(sss)", severity_to_string(d.findings[i].severity),
                                          d.findings[i].id, d.findings[i].advice);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_rescan(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ PciAddress *added = NULL;
        Manager *m = userdata;
        size_t n;
        int r;

        r = polkit_check(message, "org.passthru1.device.assign", NULL, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* handled: polkit was asked, this runs again with its answer */

        r = machine_rescan(m->machine);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "The kernel refused to rescan the PCI buses (%s); nothing was changed. "
                                         "The kernel log may say why.",
                                         strerror(-r));
        /* What the kernel did is read back, not assumed. */
        r = machine_list_unknown(m->machine, &added, &n);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "The PCI buses were rescanned, but reading /sys/bus/pci/devices failed (%s); "
                                         "'passthructl list' shows what is there once the kernel's events arrive.",
                                         strerror(-r));
        log_info("PCI rescan requested by %s: %zu function(s) appeared.",
                 strempty(sd_bus_message_get_sender(message)), n);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char a[PCI_ADDRESS_STRING_MAX];
                r = sd_bus_message_append(reply, "s", pci_address_format(&added[i], a));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        /* The new objects are announced when their "add" uevents arrive. */
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuEnabled", "b", property_get_iommu_enabled, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IommuDriver", "s", property_get_iommu_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Groups", "ao", property_get_groups, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Gpus", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetDevice", SD_BUS_ARGS("s", address), SD_BUS_RESULT("o", device),
                                method_get_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetGroup", SD_BUS_ARGS("u", number), SD_BUS_RESULT("o", group),
                                method_get_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Diagnose", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", findings), method_diagnose,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Rescan", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", added), method_rescan,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int manager_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, PASSTHRU_PATH, MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Manager interface: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, PASSTHRU_PATH, MANAGER_INTERFACE, reservations_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Manager's reservations: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, PASSTHRU_PATH, MANAGER_INTERFACE, guests_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Manager's guest methods: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, PASSTHRU_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");
        r = sd_bus_error_add_map(passthru_error_map);
        if (r < 0)
                return log_error_errno(r, "Failed to register the error map: %m");
        return 0;
}

static int emit_group_change(Manager *m, const GroupChange *g) {
        char path[OBJECT_PATH_MAX];
        const char *names[5];
        size_t n = 0;

        if (g->number < 0 || g->kind == OBJECT_UNCHANGED)
                return 0;
        group_object_path((unsigned) g->number, path);
        switch (g->kind) {
        case OBJECT_ADDED:
                return sd_bus_emit_object_added(m->bus, path);
        case OBJECT_REMOVED:
                return sd_bus_emit_interfaces_removed(m->bus, path, GROUP_INTERFACE, NULL);
        default:
                break;
        }
        if (g->fields & GROUP_FIELD_DEVICES)
                names[n++] = "Devices";
        if (g->fields & GROUP_FIELD_VIABLE)
                names[n++] = "Viable";
        if (g->fields & GROUP_FIELD_BLOCKERS)
                names[n++] = "Blockers";
        if (g->fields & GROUP_FIELD_OWNER)
                names[n++] = "Owner";
        names[n] = NULL;
        if (n == 0)
                return 0;
        return sd_bus_emit_properties_changed_strv(m->bus, path, GROUP_INTERFACE, (char **) names);
}

/* A function came or went: its slot siblings' Slot (and their GPUs' Companions) changed. */
static int emit_slot_change(Manager *m, const PciAddress *a) {
        for (size_t i = 0; i < m->machine->n_devices; i++) {
                PciDevice *s = m->machine->devices[i];
                char path[OBJECT_PATH_MAX];
                int r;

                if (!pci_address_same_slot(&s->address, a) || pci_address_equal(&s->address, a))
                        continue;
                device_object_path(&s->address, path);
                r = sd_bus_emit_properties_changed(m->bus, path, DEVICE_INTERFACE, "Slot", NULL);
                if (r >= 0 && pci_device_is_display(s))
                        r = sd_bus_emit_properties_changed(m->bus, path, GPU_INTERFACE, "Companions", NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bus_emit_machine_change(Manager *m, const MachineChange *c) {
        char path[OBJECT_PATH_MAX];
        int r;

        if (c->kind == OBJECT_UNCHANGED && c->groups[0].kind == OBJECT_UNCHANGED &&
            c->groups[1].kind == OBJECT_UNCHANGED)
                return 0;

        device_object_path(&c->address, path);
        switch (c->kind) {
        case OBJECT_ADDED:
                /* The group first, so that a client finds the device's group when it sees the device. */
                r = emit_group_change(m, &c->groups[1]);
                if (r >= 0)
                        r = sd_bus_emit_object_added(m->bus, path);
                if (r >= 0)
                        r = emit_slot_change(m, &c->address);
                break;
        case OBJECT_REMOVED:
                r = c->is_display ? sd_bus_emit_interfaces_removed(m->bus, path, DEVICE_INTERFACE, GPU_INTERFACE, NULL)
                                  : sd_bus_emit_interfaces_removed(m->bus, path, DEVICE_INTERFACE, NULL);
                if (r >= 0)
                        r = emit_group_change(m, &c->groups[0]);
                if (r >= 0)
                        r = emit_slot_change(m, &c->address);
                break;
        default: {
                const char *names[8];
                size_t n = 0;

                if (c->fields & PCI_FIELD_DRIVER) {
                        names[n++] = "Driver";
                        names[n++] = "HostDriver";
                }
                if (c->fields & PCI_FIELD_POWER_STATE)
                        names[n++] = "PowerState";
                if (c->fields & PCI_FIELD_RESET_METHODS)
                        names[n++] = "ResetMethods";
                if (c->fields & PCI_FIELD_GROUP)
                        names[n++] = "Group";
                if (c->fields & PCI_FIELD_BOOT_VGA)
                        names[n++] = "BootVga";
                names[n] = NULL;

                r = n > 0 ? sd_bus_emit_properties_changed_strv(m->bus, path, DEVICE_INTERFACE, (char **) names) : 0;
                if (r >= 0 && c->is_display && (c->fields & (PCI_FIELD_DRIVER | PCI_FIELD_BOOT_VGA)))
                        r = sd_bus_emit_properties_changed(m->bus, path, GPU_INTERFACE, "State", "Primary", NULL);
                if (r >= 0 && (c->fields & PCI_FIELD_GROUP)) {
                        r = emit_group_change(m, &c->groups[0]);
                        if (r >= 0)
                                r = emit_group_change(m, &c->groups[1]);
                } else if (r >= 0)
                        r = emit_group_change(m, &c->groups[1]);
                break;
        }
        }
        if (r < 0)
                return r;

        if (c->kind == OBJECT_ADDED || c->kind == OBJECT_REMOVED) {
                const char *names[4] = { "Devices" };
                size_t n = 1;

                if (c->is_display)
                        names[n++] = "Gpus";
                if (c->groups[0].kind == OBJECT_REMOVED || c->groups[1].kind == OBJECT_ADDED ||
                    (c->fields & PCI_FIELD_GROUP))
                        names[n++] = "Groups";
                names[n] = NULL;
                r = sd_bus_emit_properties_changed_strv(m->bus, PASSTHRU_PATH, MANAGER_INTERFACE, (char **) names);
                if (r < 0)
                        return r;
        } else if (c->groups[0].kind == OBJECT_REMOVED || c->groups[1].kind == OBJECT_ADDED) {
                r = sd_bus_emit_properties_changed(m->bus, PASSTHRU_PATH, MANAGER_INTERFACE, "Groups", NULL);
                if (r < 0)
                        return r;
        }

        if (c->iommu_changed)
                return sd_bus_emit_properties_changed(m->bus, PASSTHRU_PATH, MANAGER_INTERFACE, "IommuEnabled",
                                                      "IommuDriver", NULL);
        return 0;
}
