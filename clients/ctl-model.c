/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-model.h: turns passthrud's GetManagedObjects() and Diagnose()
 * replies into sorted arrays. Owns the Model and Findings it fills in.
 */
#include <assert.h>

#include "ctl-bus.h"
#include "ctl-model.h"

/* ---- property parsers ------------------------------------------------------------- */

/* A string pool: copies we make (printable versions, derived addresses), freed with the
 * Model or Findings. */
static int pool_add(char ***pool, size_t *n, size_t *allocated, char *s) {
        if (!s)
                return -ENOMEM;
        if (*n >= *allocated) {
                size_t a = MAX(*allocated * 2, (size_t) 16);
                char **p = realloc(*pool, a * sizeof(char *));

                if (!p) {
                        free(s);
                        return -ENOMEM;
                }
                *pool = p;
                *allocated = a;
        }
        (*pool)[(*n)++] = s;
        return 0;
}

static void pool_free(char **pool, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(pool[i]);
        free(pool);
}

size_t strlist_length(const char * const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

typedef int (*PropertyParser)(sd_bus_message *m, void *field);

typedef struct PropertyMap {
        const char *name;
        const char *signature;
        PropertyParser parse;
        size_t offset;
} PropertyMap;

/* 's' or 'o' (the map has checked which): a pointer into the message, no copy. */
static int parse_string(sd_bus_message *m, void *field) {
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, NULL);
        if (r < 0)
                return r;
        return sd_bus_message_read_basic(m, type, field);
}

static int parse_bool(sd_bus_message *m, void *field) {
        int b, r;

        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r < 0)
                return r;
        *(bool *) field = b;
        return 0;
}

static int parse_u8(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'y', field);
}

static int parse_u16(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'q', field);
}

static int parse_u32(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'u', field);
}

/* 'as' or 'ao' into a NULL-terminated array of pointers into the message. */
static int parse_strv(sd_bus_message *m, void *field) {
        _cleanup_free_ const char **l = NULL;
        const char ***p = field;
        size_t n = 0, allocated = 0;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != SD_BUS_TYPE_ARRAY || !contents || strlen(contents) != 1)
                return -EBADMSG;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, contents);
        if (r < 0)
                return r;

        for (;;) {
                const char *s;

                r = sd_bus_message_read_basic(m, contents[0], &s);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                if (n + 2 > allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 4);
                        const char **t = realloc(l, a * sizeof(char *));

                        if (!t)
                                return -ENOMEM;
                        l = t;
                        allocated = a;
                }
                l[n++] = s;
                l[n] = NULL;
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }

        free(*p);
        *p = TAKE_PTR(l);
        return 0;
}

/* Fills both Group.blockers and Group.n_blockers: its map entry has offset 0, so field
 * is the Group itself. */
static int parse_blockers(sd_bus_message *m, void *field) {
        _cleanup_free_ Blocker *b = NULL;
        Group *g = field;
        size_t n = 0, allocated = 0;
        const char *address, *reason;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "(ss)");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read(m, "(ss)", &address, &reason)) > 0) {
                if (n >= allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 4);
                        Blocker *t = realloc(b, a * sizeof(Blocker));

                        if (!t)
                                return -ENOMEM;
                        b = t;
                        allocated = a;
                }
                b[n++] = (Blocker) {
                        .address = address,
                        .reason = reason,
                };
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        free(g->blockers);
        g->blockers = TAKE_PTR(b);
        g->n_blockers = n;
        return 0;
}

/* Fills both Manager.reservations and Manager.n_reservations (offset 0, like Blockers). */
static int parse_reservations(sd_bus_message *m, void *field) {
        _cleanup_free_ Reservation *l = NULL;
        Manager *manager = field;
        size_t n = 0, allocated = 0;
        const char *address, *ids, *description;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "(sss)");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read(m, "(sss)", &address, &ids, &description)) > 0) {
                if (n >= allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 4);
                        Reservation *t = realloc(l, a * sizeof(Reservation));

                        if (!t)
                                return -ENOMEM;
                        l = t;
                        allocated = a;
                }
                l[n++] = (Reservation) {
                        .address = address,
                        .ids = ids,
                        .description = description,
                };
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        free(manager->reservations);
        manager->reservations = TAKE_PTR(l);
        manager->n_reservations = n;
        return 0;
}

#define FIELD(type, f) offsetof(type, f)

static const PropertyMap manager_map[] = {
        { "Version",            "s",      parse_string,       FIELD(Manager, version)       },
        { "IommuEnabled",       "b",      parse_bool,         FIELD(Manager, iommu_enabled) },
        { "IommuDriver",        "s",      parse_string,       FIELD(Manager, iommu_driver)  },
        { "Groups",             "ao",     parse_strv,         FIELD(Manager, groups)        },
        { "Devices",            "ao",     parse_strv,         FIELD(Manager, devices)       },
        { "Gpus",               "ao",     parse_strv,         FIELD(Manager, gpus)          },
        { "Reservations",       "a(sss)", parse_reservations, 0                             },
        {}
};

static const PropertyMap group_map[] = {
        { "Number",             "u",     parse_u32,      FIELD(Group, number)  },
        { "Devices",            "ao",    parse_strv,     FIELD(Group, devices) },
        { "Viable",             "b",     parse_bool,     FIELD(Group, viable)  },
        { "Blockers",           "a(ss)", parse_blockers, 0                     },
        { "Owner",              "s",     parse_string,   FIELD(Group, owner)   },
        { "Domain",             "s",     parse_string,   FIELD(Group, domain)  },
        {}
};

static const PropertyMap device_map[] = {
        { "Address",            "s",     parse_string, FIELD(Device, address)             },
        { "VendorId",           "q",     parse_u16,    FIELD(Device, vendor_id)           },
        { "ProductId",          "q",     parse_u16,    FIELD(Device, product_id)          },
        { "SubsystemVendorId",  "q",     parse_u16,    FIELD(Device, subsystem_vendor_id) },
        { "SubsystemId",        "q",     parse_u16,    FIELD(Device, subsystem_id)        },
        { "Class",              "u",     parse_u32,    FIELD(Device, class)               },
        { "Revision",           "y",     parse_u8,     FIELD(Device, revision)            },
        { "VendorName",         "s",     parse_string, FIELD(Device, vendor_name)         },
        { "ProductName",        "s",     parse_string, FIELD(Device, product_name)        },
        { "ClassName",          "s",     parse_string, FIELD(Device, class_name)          },
        { "Driver",             "s",     parse_string, FIELD(Device, driver)              },
        { "HostDriver",         "s",     parse_string, FIELD(Device, host_driver)         },
        { "Group",              "o",     parse_string, FIELD(Device, group_path)          },
        { "BootVga",            "b",     parse_bool,   FIELD(Device, boot_vga)            },
        { "IsBridge",           "b",     parse_bool,   FIELD(Device, is_bridge)           },
        { "ResetMethods",       "as",    parse_strv,   FIELD(Device, reset_methods)       },
        { "PowerState",         "s",     parse_string, FIELD(Device, power_state)         },
        { "Slot",               "ao",    parse_strv,   FIELD(Device, slot)                },
        {}
};

static const PropertyMap gpu_map[] = {
        { "State",              "s",     parse_string, FIELD(Device, gpu_state)  },
        { "Domain",             "s",     parse_string, FIELD(Device, gpu_domain) },
        { "Companions",         "ao",    parse_strv,   FIELD(Device, companions) },
        { "Primary",            "b",     parse_bool,   FIELD(Device, primary)    },
        { "Step",               "s",     parse_string, FIELD(Device, gpu_step)   },
        {}
};

/* Finds name in map, trying first the entry after the one matched last: daemons send the
 * properties of an interface in the same order every time, usually the map's order, so
 * the lookup is one comparison per property in the common case. */
static const PropertyMap *map_find(const PropertyMap *map, const char *name, size_t *hint) {
        size_t i = *hint;

        if (map[i].name && streq(map[i].name, name)) {
                *hint = i + 1;
                return map + i;
        }
        for (i = 0; map[i].name; i++)
                if (streq(map[i].name, name)) {
                        *hint = i + 1;
                        return map + i;
                }
        return NULL;
}

/* Reads an a{sv} of one interface into the record at base, skipping what the map does
 * not know or what has another type than expected. */
static int map_properties(sd_bus_message *m, const PropertyMap *map, void *base) {
        size_t hint = 0;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
                const PropertyMap *p;
                const char *name;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;

                p = map_find(map, name, &hint);

                /* Entering the variant with the expected signature fails with -ENXIO, and
                 * leaves the message where it was, when the value has another type. */
                r = p ? sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, p->signature) : -ENXIO;
                if (r == -ENXIO) {
                        if (p)
                                log_debug("Property %s does not have the expected type %s, ignoring.",
                                          name, p->signature);
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else if (r < 0)
                        return r;
                else {
                        r = p->parse(m, (uint8_t *) base + p->offset);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

/* ---- records ------------------------------------------------------------------------ */

static void device_done(Device *d) {
        free(d->reset_methods);
        free(d->slot);
        free(d->companions);
}

static void group_done(Group *g) {
        free(g->devices);
        free(g->blockers);
}

static void manager_done(Manager *m) {
        free(m->groups);
        free(m->devices);
        free(m->gpus);
        free(m->reservations);
}

void model_done(Model *m) {
        if (!m)
                return;

        manager_done(&m->manager);
        m->manager_reply = sd_bus_message_unref(m->manager_reply);
        for (size_t i = 0; i < m->n_devices; i++)
                device_done(m->devices + i);
        free(m->devices);
        free(m->devices_by_address);
        for (size_t i = 0; i < m->n_groups; i++)
                group_done(m->groups + i);
        free(m->groups);
        free(m->groups_by_path);
        pool_free(m->pool, m->n_pool);
        sd_bus_message_unref(m->reply);
        *m = (Model) {};
}

void findings_done(Findings *f) {
        if (!f)
                return;
        free(f->items);
        pool_free(f->pool, f->n_pool);
        sd_bus_message_unref(f->reply);
        *f = (Findings) {};
}

/* Grows *array (of size elements) so that index n is valid. */
static int grow(void **array, size_t *allocated, size_t n, size_t size) {
        size_t a;
        void *p;

        if (n < *allocated)
                return 0;

        a = MAX(*allocated * 2, (size_t) 64);
        p = realloc(*array, a * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = a;
        return 0;
}

static int device_cmp(const void *a, const void *b) {
        return strcmp(((const Device *) a)->path, ((const Device *) b)->path);
}

static int device_address_cmp(const void *a, const void *b) {
        const Device *x = *(Device * const *) a, *y = *(Device * const *) b;
        int c;

        c = strcmp(x->address, y->address);
        return c != 0 ? c : strcmp(x->path, y->path);
}

static int group_cmp(const void *a, const void *b) {
        const Group *x = a, *y = b;

        if (x->number != y->number)
                return x->number < y->number ? -1 : 1;
        return strcmp(x->path, y->path);
}

static int group_path_cmp(const void *a, const void *b) {
        return strcmp((*(Group * const *) a)->path, (*(Group * const *) b)->path);
}

/* Sorts, builds the indexes and resolves each device's group. */
static int model_index(Model *m) {
        if (m->n_devices > 0)
                qsort(m->devices, m->n_devices, sizeof(Device), device_cmp);
        if (m->n_groups > 0)
                qsort(m->groups, m->n_groups, sizeof(Group), group_cmp);

        m->devices_by_address = calloc(MAX(m->n_devices, (size_t) 1), sizeof(Device *));
        m->groups_by_path = calloc(MAX(m->n_groups, (size_t) 1), sizeof(Group *));
        if (!m->devices_by_address || !m->groups_by_path)
                return -ENOMEM;

        for (size_t i = 0; i < m->n_devices; i++) {
                Device *d = m->devices + i;
                char buf[13];

                /* A device without Address: derive it from the path (libvirt naming). */
                if (!d->address) {
                        if (address_from_device_path(d->path, buf) >= 0) {
                                char *a = strdup(buf);
                                int r;

                                r = pool_add(&m->pool, &m->n_pool, &m->allocated_pool, a);
                                if (r < 0)
                                        return r;
                                d->address = a;
                        } else
                                d->address = d->path;
                }
                m->devices_by_address[i] = d;
        }
        if (m->n_devices > 0)
                qsort(m->devices_by_address, m->n_devices, sizeof(Device *), device_address_cmp);

        for (size_t i = 0; i < m->n_groups; i++)
                m->groups_by_path[i] = m->groups + i;
        if (m->n_groups > 0)
                qsort(m->groups_by_path, m->n_groups, sizeof(Group *), group_path_cmp);

        for (size_t i = 0; i < m->n_devices; i++) {
                Device *d = m->devices + i;

                if (d->group_path && !streq(d->group_path, "/"))
                        d->group = model_group_by_path(m, d->group_path);
        }

        return 0;
}

int model_parse(sd_bus_message *reply, Model *ret) {
        _cleanup_(model_done) Model m = {
                .reply = sd_bus_message_ref(reply),
        };
        size_t allocated_devices = 0, allocated_groups = 0;
        const char *path;
        int r;

        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "{oa{sa{sv}}}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_DICT_ENTRY, "oa{sa{sv}}")) > 0) {
                ssize_t device = -1, group = -1;

                r = sd_bus_message_read_basic(reply, 'o', &path);
                if (r < 0)
                        return r;

                r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "{sa{sv}}");
                if (r < 0)
                        return r;

                while ((r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_DICT_ENTRY, "sa{sv}")) > 0) {
                        const char *interface;

                        r = sd_bus_message_read_basic(reply, 's', &interface);
                        if (r < 0)
                                return r;

                        if (streq(interface, "org.passthru1.Device") || streq(interface, "org.passthru1.Gpu")) {
                                if (device < 0) {
                                        r = grow((void **) &m.devices, &allocated_devices, m.n_devices, sizeof(Device));
                                        if (r < 0)
                                                return r;
                                        m.devices[m.n_devices] = (Device) {
                                                .path = path,
                                        };
                                        device = (ssize_t) m.n_devices++;
                                }

                                if (streq(interface, "org.passthru1.Gpu")) {
                                        m.devices[device].is_gpu = true;
                                        r = map_properties(reply, gpu_map, m.devices + device);
                                } else
                                        r = map_properties(reply, device_map, m.devices + device);

                        } else if (streq(interface, "org.passthru1.Group")) {
                                if (group < 0) {
                                        r = grow((void **) &m.groups, &allocated_groups, m.n_groups, sizeof(Group));
                                        if (r < 0)
                                                return r;
                                        m.groups[m.n_groups] = (Group) {
                                                .path = path,
                                        };
                                        group = (ssize_t) m.n_groups++;
                                }
                                r = map_properties(reply, group_map, m.groups + group);

                        } else if (streq(interface, "org.passthru1.Manager")) {
                                m.manager.present = true;
                                r = map_properties(reply, manager_map, &m.manager);
                        } else
                                r = sd_bus_message_skip(reply, "a{sv}");
                        if (r < 0)
                                return r;

                        r = sd_bus_message_exit_container(reply);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;

        r = model_index(&m);
        if (r < 0)
                return r;

        *ret = m;
        m = (Model) {};
        return 0;
}

int model_parse_manager(sd_bus_message *reply, Model *m) {
        int r;

        r = map_properties(reply, manager_map, &m->manager);
        if (r < 0)
                return r;
        m->manager_reply = sd_bus_message_ref(reply);
        m->manager.present = true;
        return 0;
}

int model_acquire(sd_bus *bus, bool for_json, Model *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *manager_reply = NULL;
        _cleanup_(model_done) Model m = {};
        int r;

        r = bus_call(bus, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &reply, NULL);
        if (r < 0)
                return r;

        r = model_parse(reply, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the reply of GetManagedObjects(): %m");

        r = bus_call(bus, "org.freedesktop.DBus.Properties", "GetAll", &manager_reply, "s",
                     PASSTHRU_MANAGER_INTERFACE);
        if (r < 0)
                return r;
        r = model_parse_manager(manager_reply, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the Manager's properties: %m");

        if (!for_json) {
                r = model_make_printable(&m);
                if (r < 0)
                        return log_oom();
        }

        *ret = m;
        m = (Model) {};
        return 0;
}

int findings_parse(sd_bus_message *reply, Findings *ret) {
        _cleanup_(findings_done) Findings f = {
                .reply = sd_bus_message_ref(reply),
        };
        size_t allocated = 0;
        const char *severity, *id, *advice;
        int r;

        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(sss)");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_read(reply, "(sss)", &severity, &id, &advice)) > 0) {
                Finding *x;

                r = grow((void **) &f.items, &allocated, f.n, sizeof(Finding));
                if (r < 0)
                        return r;

                x = f.items + f.n++;
                *x = (Finding) {
                        .severity = severity,
                        .id = id,
                        .advice = advice,
                };
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;

        *ret = f;
        f = (Findings) {};
        return 0;
}

/* Replaces *s by a printable copy from the pool when it holds control characters. */
static int make_printable(char ***pool, size_t *n_pool, size_t *allocated_pool, const char **s) {
        char *p;
        int r;

        if (!*s)
                return 0;
        for (const char *i = *s; *i; i++)
                if ((unsigned char) *i < 0x20 || *i == 0x7F)
                        goto escape;
        return 0;

escape:
        p = strdup_printable(*s);
        r = pool_add(pool, n_pool, allocated_pool, p);
        if (r < 0)
                return r;
        *s = p;
        return 0;
}

#define MODEL_PRINTABLE(m, s) make_printable(&(m)->pool, &(m)->n_pool, &(m)->allocated_pool, (s))

int model_make_printable(Model *m) {
        int r;

        r = MODEL_PRINTABLE(m, &m->manager.version);
        if (r < 0)
                return r;
        r = MODEL_PRINTABLE(m, &m->manager.iommu_driver);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->manager.n_reservations; i++) {
                Reservation *x = m->manager.reservations + i;

                r = MODEL_PRINTABLE(m, &x->address);
                if (r < 0)
                        return r;
                r = MODEL_PRINTABLE(m, &x->ids);
                if (r < 0)
                        return r;
                r = MODEL_PRINTABLE(m, &x->description);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->n_devices; i++) {
                Device *d = m->devices + i;
                const char **fields[10];
                size_t n = 0;

                /* Paths are lookup keys and valid object paths anyway. Address is sorted on,
                 * but escaping does not reorder well-formed ones (they have no control
                 * characters). */
                fields[n++] = &d->address;
                fields[n++] = &d->vendor_name;
                fields[n++] = &d->product_name;
                fields[n++] = &d->class_name;
                fields[n++] = &d->driver;
                fields[n++] = &d->host_driver;
                fields[n++] = &d->power_state;
                fields[n++] = &d->gpu_state;
                fields[n++] = &d->gpu_domain;
                fields[n++] = &d->gpu_step;
                assert(n == ELEMENTSOF(fields));

                for (size_t j = 0; j < n; j++) {
                        r = MODEL_PRINTABLE(m, fields[j]);
                        if (r < 0)
                                return r;
                }
                for (size_t j = 0; d->reset_methods && d->reset_methods[j]; j++) {
                        r = MODEL_PRINTABLE(m, d->reset_methods + j);
                        if (r < 0)
                                return r;
                }
        }

        for (size_t i = 0; i < m->n_groups; i++) {
                Group *g = m->groups + i;

                r = MODEL_PRINTABLE(m, &g->owner);
                if (r < 0)
                        return r;
                r = MODEL_PRINTABLE(m, &g->domain);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < g->n_blockers; j++) {
                        r = MODEL_PRINTABLE(m, &g->blockers[j].address);
                        if (r < 0)
                                return r;
                        r = MODEL_PRINTABLE(m, &g->blockers[j].reason);
                        if (r < 0)
                                return r;
                }
        }

        return 0;
}

int findings_make_printable(Findings *f) {
        int r;

        for (size_t i = 0; i < f->n; i++) {
                r = MODEL_PRINTABLE(f, &f->items[i].severity);
                if (r < 0)
                        return r;
                r = MODEL_PRINTABLE(f, &f->items[i].id);
                if (r < 0)
                        return r;
                r = MODEL_PRINTABLE(f, &f->items[i].advice);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int device_path_search(const void *key, const void *elem) {
        return strcmp(key, ((const Device *) elem)->path);
}

static int device_address_search(const void *key, const void *elem) {
        return strcmp(key, (*(Device * const *) elem)->address);
}

static int group_path_search(const void *key, const void *elem) {
        return strcmp(key, (*(Group * const *) elem)->path);
}

static int group_number_search(const void *key, const void *elem) {
        uint32_t k = *(const uint32_t *) key, n = ((const Group *) elem)->number;

        return k < n ? -1 : k > n ? 1 : 0;
}

Device *model_device_by_path(const Model *m, const char *path) {
        if (m->n_devices == 0)
                return NULL;
        return bsearch(path, m->devices, m->n_devices, sizeof(Device), device_path_search);
}

Device *model_device_by_address(const Model *m, const char *address) {
        Device **d;

        if (m->n_devices == 0)
                return NULL;
        /* devices_by_address is sorted by address, then path: any of equal ones will do
         * (the daemon has one object per address). */
        d = bsearch(address, m->devices_by_address, m->n_devices, sizeof(Device *), device_address_search);
        return d ? *d : NULL;
}

const Reservation *model_reservation_by_address(const Model *m, const char *address) {
        for (size_t i = 0; i < m->manager.n_reservations; i++)
                if (streq(m->manager.reservations[i].address, address))
                        return m->manager.reservations + i;
        return NULL;
}

Group *model_group_by_path(const Model *m, const char *path) {
        Group **g;

        if (m->n_groups == 0)
                return NULL;
        g = bsearch(path, m->groups_by_path, m->n_groups, sizeof(Group *), group_path_search);
        return g ? *g : NULL;
}

Group *model_group_by_number(const Model *m, uint32_t number) {
        if (m->n_groups == 0)
                return NULL;
        return bsearch(&number, m->groups, m->n_groups, sizeof(Group), group_number_search);
}

const char *model_address_of(const Model *m, const char *path, char buf[static 13]) {
        Device *d;

        d = model_device_by_path(m, path);
        if (d)
                return d->address;
        if (address_from_device_path(path, buf) >= 0)
                return buf;
        return path;
}
