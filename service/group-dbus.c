/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.passthru1.Group: one object per IOMMU group at /org/passthru1/group/N, served from
 * the model through a fallback vtable. Never touches sysfs.
 */
#include <stdio.h>

#include "bus-paths.h"
#include "handoff.h"
#include "log.h"
#include "util.h"

const char *group_object_path(unsigned number, char buf[static OBJECT_PATH_MAX]) {
        snprintf(buf, OBJECT_PATH_MAX, GROUP_PATH_PREFIX "/%u", number);
        return buf;
}

IommuGroup *group_from_path(Machine *m, const char *path) {
        const char *e = startswith(path, GROUP_PATH_PREFIX "/");
        char canonical[OBJECT_PATH_MAX];
        unsigned n;

        if (!e || safe_atou(e, &n) < 0)
                return NULL;
        /* "/group/016" is not group 16's path. */
        if (!streq(group_object_path(n, canonical), path))
                return NULL;
        return machine_find_group(m, n);
}

static int group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        Manager *m = userdata;

        if (!group_from_path(m->machine, path))
                return 0;
        *found = m;
        return 1;
}

static int group_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l;

        l = calloc(m->machine->n_groups + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->machine->n_groups; i++) {
                char p[OBJECT_PATH_MAX];
                l[i] = strdup(group_object_path(m->machine->groups[i]->number, p));
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *nodes = l;
        return 1;
}

#define GROUP_OR_FAIL(userdata, path, error)                                                          \
        ({                                                                                            \
                IommuGroup *_g = group_from_path(((Manager *) (userdata))->machine, (path));          \
                if (!_g)                                                                              \
                        return sd_bus_error_setf((error), SD_BUS_ERROR_UNKNOWN_OBJECT,                \
                                                 "The IOMMU group %s is gone.", (path));              \
                _g;                                                                                   \
        })

static int property_get_number(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", GROUP_OR_FAIL(userdata, path, error)->number);
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        IommuGroup *g = GROUP_OR_FAIL(userdata, path, error);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_devices; i++) {
                char p[OBJECT_PATH_MAX];
                r = sd_bus_message_append(reply, "o", device_object_path(&g->devices[i]->address, p));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_viable(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", GROUP_OR_FAIL(userdata, path, error)->viable);
}

static int property_get_blockers(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        IommuGroup *g = GROUP_OR_FAIL(userdata, path, error);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_blockers; i++) {
                r = sd_bus_message_append(reply, "(ss)", g->blockers[i].address, g->blockers[i].reason);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_owner(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_group_owner(userdata, GROUP_OR_FAIL(userdata, path, error)));
}

static int property_get_domain(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s",
                                     manager_group_domain(userdata, GROUP_OR_FAIL(userdata, path, error)->number));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        IommuGroup *g = GROUP_OR_FAIL(userdata, path, error);
        return sd_bus_message_append(reply, "s", manager_group_state(userdata, g->number));
}

static int method_assign(sd_bus_message *message, Operation op, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        /* Looked up again on every run: polkit's answer may come after the group changed. */
        IommuGroup *g = GROUP_OR_FAIL(m, sd_bus_message_get_path(message), error);
        return bus_method_assign(message, m, op, g, NULL, error);
}

static int method_detach(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_assign(message, OPERATION_DETACH, userdata, error);
}

static int method_reattach(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_assign(message, OPERATION_REATTACH, userdata, error);
}

static const sd_bus_vtable group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Number", "u", property_get_number, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Viable", "b", property_get_viable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Blockers", "a(ss)", property_get_blockers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "s", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Domain", "s", property_get_domain, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Unprivileged for sd-bus: polkit decides, inside the method. */
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ss)", steps),
                                method_detach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reattach", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ss)", steps),
                                method_reattach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", step, "s", description), 0),
        SD_BUS_VTABLE_END,
};

int group_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, GROUP_PATH_PREFIX, GROUP_INTERFACE, group_vtable, group_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the Group interface: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, GROUP_PATH_PREFIX, group_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the group enumerator: %m");
        return 0;
}
