/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.passthru1.Device and org.passthru1.Gpu: one object per PCI function at
 * /org/passthru1/device/pci_DDDD_BB_SS_F, served from the model through a fallback vtable.
 * Never touches sysfs.
 */
#include <stdio.h>

#include "bus-paths.h"
#include "assign.h"
#include "handoff-dbus.h"
#include "handoff.h"
#include "log.h"
#include "util.h"

const char *device_object_path(const PciAddress *a, char buf[static OBJECT_PATH_MAX]) {
        char n[PCI_ADDRESS_STRING_MAX];

        snprintf(buf, OBJECT_PATH_MAX, DEVICE_PATH_PREFIX "/%s", pci_address_format_nodedev(a, n));
        return buf;
}

PciDevice *device_from_path(Machine *m, const char *path) {
        const char *e;
        PciAddress a;

        e = startswith(path, DEVICE_PATH_PREFIX "/");
        if (!e || !startswith(e, "pci_") || pci_address_parse(e, &a, NULL) < 0)
                return NULL;
        return machine_find_device(m, &a);
}

static int device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        Manager *m = userdata;

        if (!device_from_path(m->machine, path))
                return 0;
        *found = m;
        return 1;
}

static int gpu_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        Manager *m = userdata;
        PciDevice *d = device_from_path(m->machine, path);

        if (!d || !pci_device_is_display(d))
                return 0;
        *found = m;
        return 1;
}

static int device_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l;

        l = calloc(m->machine->n_devices + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->machine->n_devices; i++) {
                char p[OBJECT_PATH_MAX];
                l[i] = strdup(device_object_path(&m->machine->devices[i]->address, p));
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *nodes = l;
        return 1;
}

/* Property getters: the object is found again from the path on every call, so a getter
 * never holds on to a function that may have gone. */
#define DEVICE_OR_FAIL(userdata, path, error)                                                         \
        ({                                                                                            \
                PciDevice *_d = device_from_path(((Manager *) (userdata))->machine, (path));          \
                if (!_d)                                                                              \
                        return sd_bus_error_setf((error), SD_BUS_ERROR_UNKNOWN_OBJECT,                \
                                                 "The PCI function %s is gone.", (path));             \
                _d;                                                                                   \
        })

static int property_get_address(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", DEVICE_OR_FAIL(userdata, path, error)->name);
}

static int property_get_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        uint16_t v = streq(property, "VendorId")            ? d->vendor_id
                     : streq(property, "ProductId")         ? d->product_id
                     : streq(property, "SubsystemVendorId") ? d->subsystem_vendor_id
                                                            : d->subsystem_id;
        return sd_bus_message_append(reply, "q", v);
}

static int property_get_class(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", DEVICE_OR_FAIL(userdata, path, error)->class);
}

static int property_get_revision(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "y", DEVICE_OR_FAIL(userdata, path, error)->revision);
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        const char *v = streq(property, "VendorName")    ? d->vendor_name
                        : streq(property, "ProductName") ? d->product_name
                                                         : d->class_name;
        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_driver(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", strempty(DEVICE_OR_FAIL(userdata, path, error)->driver));
}

static int property_get_host_driver(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s",
                                     strempty(manager_host_driver(userdata, DEVICE_OR_FAIL(userdata, path, error))));
}

static int property_get_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        char p[OBJECT_PATH_MAX];

        return sd_bus_message_append(reply, "o", d->group < 0 ? "/" : group_object_path((unsigned) d->group, p));
}

static int property_get_boot_vga(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", DEVICE_OR_FAIL(userdata, path, error)->boot_vga);
}

static int property_get_is_bridge(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", pci_device_is_bridge(DEVICE_OR_FAIL(userdata, path, error)));
}

static int property_get_reset_methods(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        return sd_bus_message_append_strv(reply, DEVICE_OR_FAIL(userdata, path, error)->reset_methods);
}

static int property_get_power_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", strempty(DEVICE_OR_FAIL(userdata, path, error)->power_state));
}

/* Slot (all functions of the slot) and Companions (the GPU's non-bridge siblings). */
static int append_slot(sd_bus_message *reply, Machine *machine, PciDevice *d) {
        size_t first, n;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        n = machine_slot_range(machine, d, &first);
        for (size_t i = first; i < first + n; i++) {
                PciDevice *s = machine->devices[i];
                char p[OBJECT_PATH_MAX];

                r = sd_bus_message_append(reply, "o", device_object_path(&s->address, p));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_slot(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return append_slot(reply, m->machine, DEVICE_OR_FAIL(userdata, path, error));
}

static int property_get_companions(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ PciDevice **functions = NULL;
        size_t n;
        int r;

        r = gpu_functions(m->machine, DEVICE_OR_FAIL(userdata, path, error), &functions, &n);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 1; i < n; i++) { /* [0] is the GPU */
                char p[OBJECT_PATH_MAX];
                r = sd_bus_message_append(reply, "o", device_object_path(&functions[i]->address, p));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_gpu_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        return sd_bus_message_append(reply, "s", manager_gpu_state(userdata, d));
}

static int property_get_gpu_domain(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        return sd_bus_message_append(reply, "s", manager_gpu_domain(userdata, d));
}

static int property_get_gpu_step(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        PciDevice *d = DEVICE_OR_FAIL(m, path, error);
        _cleanup_free_ char *desc = NULL;

        for (Assignment *a = m->assignments; a; a = a->next)
                if (transaction_has_function(a->transaction, &d->address) && a->transaction->current &&
                    a->transaction->outcome == TRANSACTION_RUNNING) {
                        desc = step_describe(a->transaction->current);
                        break;
                }
        return sd_bus_message_append(reply, "s", strempty(desc));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        return sd_bus_message_append(reply, "s", manager_device_state(userdata, d));
}

static int property_get_reserved(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        PciDevice *d = DEVICE_OR_FAIL(m, path, error);
        return sd_bus_message_append(reply, "b", reservations_find(&m->reservations, &d->address) != NULL);
}

static int method_assign(sd_bus_message *message, Operation op, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        /* Looked up again on every run: polkit's answer may come after the function changed. */
        PciDevice *d = DEVICE_OR_FAIL(m, sd_bus_message_get_path(message), error);
        return bus_method_assign(message, m, op, machine_device_group(m->machine, d), d, error);
}

static int method_detach(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_assign(message, OPERATION_DETACH, userdata, error);
}

static int method_reattach(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_assign(message, OPERATION_REATTACH, userdata, error);
}

static int property_get_primary(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PciDevice *d = DEVICE_OR_FAIL(userdata, path, error);
        return sd_bus_message_append(reply, "b", gpu_is_primary(d));
}

static const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", property_get_address, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorId", "q", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProductId", "q", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemVendorId", "q", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemId", "q", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "u", property_get_class, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Revision", "y", property_get_revision, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorName", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProductName", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ClassName", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Driver", "s", property_get_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HostDriver", "s", property_get_host_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Group", "o", property_get_group, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BootVga", "b", property_get_boot_vga, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IsBridge", "b", property_get_is_bridge, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ResetMethods", "as", property_get_reset_methods, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PowerState", "s", property_get_power_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Slot", "ao", property_get_slot, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reserved", "b", property_get_reserved, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Unprivileged for sd-bus: polkit decides, inside the method. */
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ss)", steps),
                                method_detach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reattach", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ss)", steps),
                                method_reattach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable gpu_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("State", "s", property_get_gpu_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Domain", "s", property_get_gpu_domain, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Companions", "ao", property_get_companions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Primary", "b", property_get_primary, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Step", "s", property_get_gpu_step, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int device_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, DEVICE_PATH_PREFIX, DEVICE_INTERFACE, device_vtable,
                                       device_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Device interface: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, DEVICE_PATH_PREFIX, GPU_INTERFACE, gpu_vtable, gpu_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Gpu interface: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, DEVICE_PATH_PREFIX, GPU_INTERFACE, gpu_methods_vtable, gpu_find,
                                       m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Gpu methods: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, DEVICE_PATH_PREFIX, device_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the device enumerator: %m");
        return 0;
}
