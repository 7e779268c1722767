/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Manager.Reserve, Manager.Unreserve and the Reservations property: the boot-time
 * reservations kept in the configuration directory (reservations.h). A reservation changes
 * nothing now; it takes effect at the next boot (Detach does it now). Never touches sysfs.
 */
#include <stdio.h>

#include "assign.h"
#include "bus-options.h"
#include "bus-paths.h"
#include "errors.h"
#include "holders.h"
#include "log.h"
#include "reservations-dbus.h"
#include "util.h"

#define ACTION_CONFIGURE "org.passthru1.configure"
#define ACTION_OVERRIDE "org.passthru1.override"

int manager_load_reservations(Manager *m) {
        _cleanup_(reservations_done) Reservations fresh = {};
        int r;

        if (!m->config_dir) {
                r = configuration_dir_path(&m->config_dir);
                if (r < 0)
                        return log_error_errno(r, "Invalid $CONFIGURATION_DIRECTORY: an absolute path is needed.");
        }
        r = reservations_load(m->config_dir, &fresh);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s/" RESERVATIONS_FILE ": %m", m->config_dir);
        reservations_done(&m->reservations);
        m->reservations = fresh;
        fresh = (Reservations) {};
        return 0;
}

static int property_get_reservations(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->reservations.n; i++) {
                const Reservation *rv = &m->reservations.items[i];
                char a[PCI_ADDRESS_STRING_MAX], ids[10];

                (void) snprintf(ids, sizeof ids, "%04x:%04x", rv->vendor_id, rv->product_id);
                r = sd_bus_message_append(reply, "(sss)", pci_address_format(&rv->address, a), ids,
                                          strempty(rv->description));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static void emit_reservation_changed(Manager *m, const PciAddress *a) {
        char path[OBJECT_PATH_MAX];

        (void) sd_bus_emit_properties_changed(m->bus, PASSTHRU_PATH, MANAGER_INTERFACE, "Reservations", NULL);
        if (machine_find_device(m->machine, a))
                (void) sd_bus_emit_properties_changed(m->bus, device_object_path(a, path), DEVICE_INTERFACE,
                                                      "Reserved", NULL);
}

/* Re-reads the file (an administrator may have edited it), applies the change, saves. */
static int update_file(Manager *m, const PciAddress *a, const PciDevice *d, bool add, bool *ret_was_there,
                       sd_bus_error *error) {
        int r;

        r = manager_load_reservations(m);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to read %s/" RESERVATIONS_FILE " (%s); nothing was changed. Fix or "
                                         "remove the file.",
                                         m->config_dir, strerror(ERRNO_VALUE(r)));
        *ret_was_there = reservations_find(&m->reservations, a) != NULL;
        if (add) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "%s%s%s", strempty(d->vendor_name), d->vendor_name && d->product_name ? " " : "",
                             strempty(d->product_name)) < 0)
                        return -ENOMEM;
                r = reservations_add(&m->reservations, a, d->vendor_id, d->product_id, what);
                if (r < 0)
                        return r;
        } else if (!reservations_remove(&m->reservations, a))
                return 0;
        r = reservations_save(m->config_dir, &m->reservations);
        if (r < 0) {
                int k = ERRNO_VALUE(r);
                (void) manager_load_reservations(m); /* back to what the file says */
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to write %s/" RESERVATIONS_FILE " (%s); nothing was changed.",
                                         m->config_dir, strerror(k));
        }
        return 0;
}

static int method_reserve(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *problem = NULL, *module = NULL, *reason = NULL;
        const char *actions[3] = { ACTION_CONFIGURE };
        Manager *m = userdata;
        bool override = false, was_there;
        const BoolOption options[] = { { "override", &override }, {} };
        PciDevice *d;
        PciAddress a;
        int r;

        /* 1. parse */
        r = bus_read_pci_address(message, &a, error);
        if (r < 0)
                return r;
        r = bus_read_bool_options(message, options, error);
        if (r < 0)
                return r;

        /* 2. validate: only what vfio-pci can take now could be taken at boot */
        d = machine_find_device(m->machine, &a);
        if (!d)
                return bus_error_no_such_device(error, &a);
        if (pci_device_is_bridge(d))
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "%s is a bridge (class %06x): bridges stay with the host. Reserve the "
                                         "endpoints behind it.",
                                         d->name, d->class);
        if (d->group < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_SUPPORTED,
                                         "%s is in no IOMMU group (the IOMMU is off), and vfio-pci needs one. "
                                         "'passthructl diagnose' says how to turn the IOMMU on.",
                                         d->name);
        r = assign_vfio_module_needed(m, &module, &problem);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, PASSTHRU_ERROR_NOT_SUPPORTED, problem);
        if (r < 0)
                return r;

        /* 3. authorize */
        if (override)
                actions[1] = ACTION_OVERRIDE;
        const char *details[] = { "device", d->name, NULL };
        r = polkit_check_actions(message, actions, details, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit was asked; this runs again with its answer */

        /* 4. what the host runs on now, it will run on at boot */
        r = interlock_check(m->machine, &d, 1, &reason);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to check what the host uses %s for (%s); nothing was changed.",
                                         d->name, strerror(ERRNO_VALUE(r)));
        if (reason && !override)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_HOST_CRITICAL,
                                         "%s Reserved, it would be taken from the host at every boot.", reason);
        if (reason)
                log_notice("Reserving %s although: %s (override authorized). At boot it stays with the host while "
                           "the host still needs it.",
                           d->name, reason);

        /* 5. act */
        r = update_file(m, &a, d, true, &was_there, error);
        if (r < 0)
                return r;
        log_info("%s %s (%04x:%04x) for vfio-pci at boot, as %s asked.", was_there ? "Re-reserved" : "Reserved",
                 d->name, d->vendor_id, d->product_id, strempty(sd_bus_message_get_sender(message)));

        /* 6. emit, 7. reply */
        emit_reservation_changed(m, &a);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_unreserve(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        char name[PCI_ADDRESS_STRING_MAX];
        Manager *m = userdata;
        bool was_there;
        PciAddress a;
        int r;

        r = bus_read_pci_address(message, &a, error);
        if (r < 0)
                return r;
        pci_address_format(&a, name);

        /* A function no longer present may still be reserved (a card taken out): no check
         * that it exists. */
        const char *details[] = { "device", name, NULL };
        r = polkit_check(message, ACTION_CONFIGURE, details, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        r = update_file(m, &a, NULL, false, &was_there, error);
        if (r < 0)
                return r;
        if (!was_there)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_RESERVED,
                                         "%s is not reserved; 'passthructl reservations' lists what is.", name);
        log_info("Unreserved %s, as %s asked.", name, strempty(sd_bus_message_get_sender(message)));
        emit_reservation_changed(m, &a);
        return sd_bus_reply_method_return(message, NULL);
}

const sd_bus_vtable reservations_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Reservations", "a(sss)", property_get_reservations, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Reserve", SD_BUS_ARGS("s", address, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_reserve, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unreserve", SD_BUS_ARGS("s", address), SD_BUS_NO_RESULT, method_unreserve,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
