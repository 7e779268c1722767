/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The model of one PCI function as sysfs shows it, and its refresh after a uevent.
 */
#pragma once

#include <stdint.h>

#include "pci-address.h"

typedef enum PciField {
        PCI_FIELD_DRIVER = 1u << 0,
        PCI_FIELD_POWER_STATE = 1u << 2,
        PCI_FIELD_RESET_METHODS = 1u << 3,
        PCI_FIELD_GROUP = 1u << 4,
        PCI_FIELD_BOOT_VGA = 1u << 5,
} PciField;

#define PCI_DRIVER_VFIO "vfio-pci"

typedef struct PciDevice {
        PciAddress address;
        char name[PCI_ADDRESS_STRING_MAX]; /* "0000:26:00.0" */

        /* Fixed for the life of the function. */
        uint16_t vendor_id, product_id, subsystem_vendor_id, subsystem_id;
        uint32_t class;
        uint8_t revision;
        bool is_virtfn;
        PciAddress physfn;

        /* Follow the kernel; refreshed on uevents. */
        char *driver;          /* NULL: no driver */
        char *power_state;     /* NULL: unknown */
        char **reset_methods;  /* never NULL */
        int64_t group;         /* -1: not in an IOMMU group */
        bool boot_vga;

        /* Filled in by the owner (names from the hwdb, module from libkmod). */
        char *vendor_name, *product_name, *class_name;
        char *module_match; /* kernel module whose alias matches the modalias; NULL: none */
        bool module_looked_up;
} PciDevice;

PciDevice *pci_device_free(PciDevice *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(PciDevice *, pci_device_free);

/* Reads the function at address a. devices_fd: an open /sys/bus/pci/devices or -1.
 * -ENOENT when the function does not exist (any more). */
int pci_device_read(int devices_fd, const PciAddress *a, PciDevice **ret);

/* Re-reads what can change; *ret_changed gets the PciField bits that changed. */
int pci_device_refresh(PciDevice *d, int devices_fd, unsigned *ret_changed);

/* Every function the kernel lists under /sys/bus/pci/devices, sorted. */
int pci_enumerate(PciAddress **ret, size_t *ret_n);

static inline bool pci_class_is_bridge(uint32_t class) {
        return (class >> 16) == 0x06;
}
static inline bool pci_class_is_display(uint32_t class) {
        return (class >> 16) == 0x03;
}
static inline bool pci_device_is_bridge(const PciDevice *d) {
        return pci_class_is_bridge(d->class);
}
static inline bool pci_device_is_display(const PciDevice *d) {
        return pci_class_is_display(d->class);
}
static inline bool pci_device_on_vfio(const PciDevice *d) {
        return streq_ptr(d->driver, PCI_DRIVER_VFIO);
}

/* The driver to give the function back to: its host driver, else the modalias match. */
const char *pci_device_host_driver(const PciDevice *d);

#define PCI_MODALIAS_MAX 64
/* "pci:v000010DEd00001F82sv…bc03sc00i00", the kernel's format, built from the ids. */
const char *pci_device_modalias(const PciDevice *d, char buf[static PCI_MODALIAS_MAX]);
