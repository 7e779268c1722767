/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot-time reservations: the PCI functions given to vfio-pci early at boot, by address,
 * kept in $CONFIGURATION_DIRECTORY/reservations (/etc/passthru1/reservations), one line per
 * function, readable by people:
 *
 *   0000:26:00.0 10de:1f82 NVIDIA Corporation TU117 [GeForce GTX 1650]
 *
 * The vendor:device pair is what the function was when it was reserved: at boot a function
 * found at that address with other ids (a card moved or replaced) is left alone, so a
 * reservation never grabs a device nobody chose. Lines starting with '#' are comments. The
 * daemon rewrites the file atomically. No sd-bus, no sysfs.
 */
#pragma once

#include <stdint.h>

#include "pci-address.h"

#define RESERVATIONS_FILE "reservations"
#define CONFIGURATION_DIR_DEFAULT "/etc/passthru1"
/* The kernel command line option that skips applying reservations (a rescue boot). */
#define RESERVATIONS_DISABLE_OPTION "passthru.disable"

typedef struct Reservation {
        PciAddress address;
        uint16_t vendor_id, product_id;
        char *description; /* what it was, for people; NULL: none */
} Reservation;

typedef struct Reservations {
        Reservation *items; /* sorted by address, no duplicates */
        size_t n;
} Reservations;

void reservations_done(Reservations *r);

/* Parses the file's text. Malformed lines are skipped with a warning naming origin:LINE
 * (one bad line must not cost the others, least of all at boot); a later line for the same
 * address replaces an earlier one. */
int reservations_parse(const char *text, const char *origin, Reservations *ret);
/* Reads dir/reservations; a missing file or directory is no reservation. */
int reservations_load(const char *dir, Reservations *ret);
/* The file's text (a header saying what it is, then one line per reservation). */
char *reservations_format(const Reservations *r);
/* Writes dir/reservations atomically (mode 0644), creating dir (0755) if needed. */
int reservations_save(const char *dir, const Reservations *r);

const Reservation *reservations_find(const Reservations *r, const PciAddress *a);
/* Adds or replaces the reservation of a; control characters of the description become
 * spaces. */
int reservations_add(Reservations *r, const PciAddress *a, uint16_t vendor_id, uint16_t product_id,
                     const char *description);
/* false when a was not reserved. */
bool reservations_remove(Reservations *r, const PciAddress *a);

/* $CONFIGURATION_DIRECTORY (systemd's ConfigurationDirectory=; the first entry) or
 * /etc/passthru1; -EINVAL when it is set but not absolute. */
int configuration_dir_path(char **ret);

/* Does the kernel command line turn reservations off (passthru.disable, =1, =yes, =true, =on)? */
bool reservations_disabled_by_cmdline(const char *cmdline);
