/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one place that knows where the kernel's files live. Everything else opens them
 * through these functions, by well-known location or by a parsed PCI address, never by
 * a path string that came from outside.
 */
#pragma once

#include <sys/stat.h>

#include "macro.h"
#include "pci-address.h"

typedef enum SysfsLocation {
        SYSFS_PCI_DEVICES,       /* /sys/bus/pci/devices */
        SYSFS_PCI_DRIVERS,       /* /sys/bus/pci/drivers */
        SYSFS_IOMMU_GROUPS,      /* /sys/kernel/iommu_groups */
        SYSFS_CLASS_IOMMU,       /* /sys/class/iommu */
        SYSFS_PLATFORM_DRIVERS,  /* /sys/bus/platform/drivers */
        SYSFS_MODULES,           /* /sys/module */
        SYSFS_PCI_RESCAN,        /* /sys/bus/pci/rescan */
        PROC_CMDLINE,            /* /proc/cmdline */
        PROC_INTERRUPTS,         /* /proc/interrupts */
        SYSFS_PCI_DRIVERS_PROBE, /* /sys/bus/pci/drivers_probe */
        SYSFS_DEV_BLOCK,         /* /sys/dev/block */
        SYSFS_CLASS_NET,         /* /sys/class/net */
        DEV_VFIO,                /* /dev/vfio */
        PROC,                    /* /proc (processes and their open files) */
        PROC_INIT_MOUNTINFO,     /* /proc/1/mountinfo: the host's mounts, not our sandbox's */
        PROC_NET_ROUTE,          /* /proc/net/route */
        PROC_NET_IPV6_ROUTE,     /* /proc/net/ipv6_route */
        SYSFS_CLASS_VTCONSOLE,   /* /sys/class/vtconsole */
        SYSFS_CLASS_GRAPHICS,    /* /sys/class/graphics (fbN) */
        DEV,                     /* /dev (nodes of modules without a class device: /dev/nvidia*) */
        _SYSFS_LOCATION_MAX,
        _SYSFS_LOCATION_INVALID = -EINVAL,
} SysfsLocation;

/* Unit tests point this at a directory tree; the daemon always uses "/". */
int sysfs_set_root(const char *root);

/* The open root directory, or -EBADF when nothing was opened yet (helpers keep it open). */
int sysfs_root_fd(void);

/* Open a location as a directory. Returns fd or -errno. */
int sysfs_open_dir(SysfsLocation l);
/* Read a whole location file (e.g. /proc/cmdline). */
int sysfs_read_file(SysfsLocation l, char **ret);

/* Writes value to a location file in one write(2), as the kernel's attributes want.
 * Returns 0 or the kernel's -errno. */
int sysfs_write_file(SysfsLocation l, const char *value);

/* A kernel driver's name as sysfs shows it: not empty, no "/", not "." or "..". */
bool driver_name_is_valid(const char *name);

/* Writes value to /sys/bus/pci/devices/ADDRESS/attribute in one write(2). */
int sysfs_write_pci_attribute(const PciAddress *a, const char *attribute, const char *value);

/* Writes value to LOCATION/name/attribute in one write(2) (a vtconsole's bind, a platform
 * driver's unbind); name is one path component. */
int sysfs_write_location_attribute(SysfsLocation l, const char *name, const char *attribute, const char *value);

/* Writes value to /sys/bus/pci/drivers/DRIVER/attribute ("bind", "unbind") in one write(2). */
int sysfs_write_pci_driver_attribute(const char *driver, const char *attribute, const char *value);

/* /sys/bus/pci/drivers/DRIVER as a directory (-EINVAL for a name that is not a driver's). */
int sysfs_open_pci_driver(const char *driver);

/* stat() of an absolute path (a /dev node, a mount's source) against the same root as
 * every other location, following links. */
int sysfs_stat_path(const char *absolute, struct stat *ret);

/* Does /sys/bus/pci/drivers/DRIVER exist (the driver is registered: module loaded or built in)? */
bool sysfs_pci_driver_registered(const char *driver);

/* /sys/bus/pci/devices/DDDD:BB:SS.F as a directory; the name is rebuilt from numbers.
 * devices_fd: an open SYSFS_PCI_DEVICES, or -1 to open it here. */
int sysfs_open_pci_device(int devices_fd, const PciAddress *a);
