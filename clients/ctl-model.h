/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * passthructl's snapshot of passthrud's objects: the reply of one
 * org.freedesktop.DBus.ObjectManager.GetManagedObjects() call on /org/passthru1 parsed into
 * the Manager, Group and Device records below, plus the Diagnose() findings. Devices are
 * kept sorted by object path and by address, groups by number and by path, so every
 * lookup is a binary search. Unknown interfaces and properties, and properties of an
 * unexpected type, are skipped, so a newer daemon keeps working with an older client.
 * Owns everything it points to.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-util.h"

typedef struct Group Group;

/* All strings point into the GetManagedObjects() reply the Model keeps referenced (or into
 * its pool of copies); lists are NULL-terminated arrays owned by the Model. */

typedef struct Blocker {
        const char *address;
        const char *reason;
} Blocker;

typedef struct Device {
        const char *path;
        const char *address;
        uint16_t vendor_id, product_id, subsystem_vendor_id, subsystem_id;
        uint32_t class;
        uint8_t revision;
        const char *vendor_name, *product_name, *class_name;
        const char *driver, *host_driver;
        const char *group_path;
        bool boot_vga, is_bridge;
        const char **reset_methods;
        const char *power_state;
        const char **slot;              /* object paths */

        /* org.passthru1.Gpu */
        bool is_gpu;
        const char *gpu_state, *gpu_domain, *gpu_step;
        const char **companions;        /* object paths */
        bool primary;

        Group *group;                   /* resolved from group_path; NULL: no (known) group */
} Device;

struct Group {
        const char *path;
        uint32_t number;
        const char **devices;           /* object paths */
        bool viable;
        Blocker *blockers;
        size_t n_blockers;
        const char *owner, *domain;
};

/* One function reserved for vfio-pci at boot (Manager.Reservations). */
typedef struct Reservation {
        const char *address;            /* canonical, "0000:26:00.0" */
        const char *ids;                /* "vendor:device" when it was reserved, "10de:1f82" */
        const char *description;        /* what it was, may be "" */
} Reservation;

typedef struct Manager {
        bool present;
        const char *version;
        bool iommu_enabled;
        const char *iommu_driver;
        const char **groups, **devices, **gpus;
        Reservation *reservations;      /* sorted by address, as the daemon sends them */
        size_t n_reservations;
} Manager;

typedef struct Model {
        sd_bus_message *reply;          /* the strings live here */
        sd_bus_message *manager_reply;  /* …and the Manager's here */
        char **pool;                    /* strings made by us: printable copies, derived addresses */
        size_t n_pool, allocated_pool;

        Manager manager;

        Device *devices;                /* sorted by path */
        size_t n_devices;
        Device **devices_by_address;

        Group *groups;                  /* sorted by number */
        size_t n_groups;
        Group **groups_by_path;
} Model;

typedef struct Finding {
        const char *severity, *id, *advice;
} Finding;

typedef struct Findings {
        sd_bus_message *reply;
        char **pool;
        size_t n_pool, allocated_pool;

        Finding *items;
        size_t n;
} Findings;

size_t strlist_length(const char * const *l) _pure_;

void model_done(Model *m);
void findings_done(Findings *f);

/* Parses a GetManagedObjects() reply (a{oa{sa{sv}}}) into *ret, which takes a reference
 * on reply. */
int model_parse(sd_bus_message *reply, Model *ret);

/* Adds the Manager's properties from a Properties.GetAll() reply (a{sv}): the object
 * manager at /org/passthru1 reports the objects below it, not itself. Takes a reference. */
int model_parse_manager(sd_bus_message *reply, Model *m);

/* GetManagedObjects() and GetAll() of the Manager, parsed (and made printable unless
 * for_json). Logs on failure. */
int model_acquire(sd_bus *bus, bool for_json, Model *ret);

/* Parses a Diagnose() reply (a(sss)); *ret takes a reference on reply. */
int findings_parse(sd_bus_message *reply, Findings *ret);

/* For human output: replaces every string that holds control characters by a copy with
 * them shown as \xNN, so names and messages from the daemon cannot drive the terminal. */
int model_make_printable(Model *m);
int findings_make_printable(Findings *f);

Device *model_device_by_path(const Model *m, const char *path);
/* The device whose Address is address (canonical form), NULL when there is none. */
Device *model_device_by_address(const Model *m, const char *address);
/* The reservation of address (canonical form), NULL when there is none. */
const Reservation *model_reservation_by_address(const Model *m, const char *address);
Group *model_group_by_path(const Model *m, const char *path);
Group *model_group_by_number(const Model *m, uint32_t number);

/* The address of the device at path: from the snapshot when the object is known, else
 * derived from the path's pci_DDDD_BB_SS_F name, else the path itself. buf is scratch
 * space for the derived form. */
const char *model_address_of(const Model *m, const char *path, char buf[static 13]);
