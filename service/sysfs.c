/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resolves the kernel's well-known locations (/sys/bus/pci, /sys/kernel/iommu_groups,
 * /sys/class/iommu, /sys/bus/platform/drivers, /sys/module, /sys/bus/pci/rescan,
 * /proc/cmdline, /proc/interrupts, /sys/bus/pci/drivers_probe, /sys/dev/block, /sys/class/net,
 * /dev/vfio, /proc, /proc/1/mountinfo, /proc/net/{route,ipv6_route}, /sys/class/vtconsole,
 * /sys/class/graphics, /dev) against a root directory, "/" unless a unit test sets
 * another. The only writer of kernel files.
 */
#include <fcntl.h>
#include <stdio.h>

#include "sysfs.h"
#include "util.h"

static int root_fd = -EBADF;

static const char *const location_path[_SYSFS_LOCATION_MAX] = {
        [SYSFS_PCI_DEVICES] = "sys/bus/pci/devices",
        [SYSFS_PCI_DRIVERS] = "sys/bus/pci/drivers",
        [SYSFS_IOMMU_GROUPS] = "sys/kernel/iommu_groups",
        [SYSFS_CLASS_IOMMU] = "sys/class/iommu",
        [SYSFS_PLATFORM_DRIVERS] = "sys/bus/platform/drivers",
        [SYSFS_MODULES] = "sys/module",
        [SYSFS_PCI_RESCAN] = "sys/bus/pci/rescan",
        [PROC_CMDLINE] = "proc/cmdline",
        [PROC_INTERRUPTS] = "proc/interrupts",
        [SYSFS_PCI_DRIVERS_PROBE] = "sys/bus/pci/drivers_probe",
        [SYSFS_DEV_BLOCK] = "sys/dev/block",
        [SYSFS_CLASS_NET] = "sys/class/net",
        [DEV_VFIO] = "dev/vfio",
        [PROC] = "proc",
        [PROC_INIT_MOUNTINFO] = "proc/1/mountinfo",
        [PROC_NET_ROUTE] = "proc/net/route",
        [PROC_NET_IPV6_ROUTE] = "proc/net/ipv6_route",
        [SYSFS_CLASS_VTCONSOLE] = "sys/class/vtconsole",
        [SYSFS_CLASS_GRAPHICS] = "sys/class/graphics",
        [DEV] = "dev",
};

static const char *sysfs_location_path(SysfsLocation l) {
        if (l < 0 || l >= _SYSFS_LOCATION_MAX)
                return NULL;
        return location_path[l];
}

int sysfs_set_root(const char *root) {
        int fd;

        fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        safe_close(root_fd);
        root_fd = fd;
        return 0;
}

int sysfs_root_fd(void) {
        return root_fd;
}

static int get_root_fd(void) {
        if (root_fd < 0) {
                int r = sysfs_set_root("/");
                if (r < 0)
                        return r;
        }
        return root_fd;
}

static int open_location(SysfsLocation l, int flags) {
        int rfd, fd;

        rfd = get_root_fd();
        if (rfd < 0)
                return rfd;
        if (!sysfs_location_path(l))
                return -EINVAL;
        fd = openat(rfd, location_path[l], flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int sysfs_open_dir(SysfsLocation l) {
        return open_location(l, O_RDONLY | O_DIRECTORY);
}

int sysfs_read_file(SysfsLocation l, char **ret) {
        int rfd = get_root_fd();

        if (rfd < 0)
                return rfd;
        if (!sysfs_location_path(l))
                return -EINVAL;
        /* /proc/interrupts grows with CPUs and devices; 1 MiB is plenty. */
        return read_full_at(rfd, location_path[l], 1024 * 1024, ret, NULL);
}

int sysfs_write_file(SysfsLocation l, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);
        ssize_t k;

        fd = open_location(l, O_WRONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        /* A sysfs store sees exactly one buffer: never split it, and take a short write as
         * the kernel's refusal. */
        k = write(fd, value, n);
        if (k < 0)
                return -errno;
        if ((size_t) k != n)
                return -EIO;
        return 0;
}

static int write_at(int dirfd, const char *name, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);
        ssize_t k;

        fd = openat(dirfd, name, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        k = write(fd, value, n);
        if (k < 0)
                return -errno;
        if ((size_t) k != n)
                return -EIO;
        return 0;
}

bool driver_name_is_valid(const char *name) {
        return !isempty(name) && strlen(name) < 256 && !strchr(name, '/') && !streq(name, ".") && !streq(name, "..");
}

int sysfs_write_pci_attribute(const PciAddress *a, const char *attribute, const char *value) {
        _cleanup_close_ int dfd = -EBADF;

        dfd = sysfs_open_pci_device(-1, a);
        if (dfd < 0)
                return dfd;
        return write_at(dfd, attribute, value);
}

int sysfs_open_pci_driver(const char *driver) {
        _cleanup_close_ int drivers_fd = -EBADF;
        int fd;

        if (!driver_name_is_valid(driver))
                return -EINVAL;
        drivers_fd = sysfs_open_dir(SYSFS_PCI_DRIVERS);
        if (drivers_fd < 0)
                return drivers_fd;
        fd = openat(drivers_fd, driver, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int sysfs_write_location_attribute(SysfsLocation l, const char *name, const char *attribute, const char *value) {
        _cleanup_close_ int lfd = -EBADF, dfd = -EBADF;

        if (!driver_name_is_valid(name))
                return -EINVAL;
        lfd = sysfs_open_dir(l);
        if (lfd < 0)
                return lfd;
        dfd = openat(lfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return write_at(dfd, attribute, value);
}

int sysfs_write_pci_driver_attribute(const char *driver, const char *attribute, const char *value) {
        _cleanup_close_ int dfd = -EBADF;

        dfd = sysfs_open_pci_driver(driver);
        if (dfd < 0)
                return dfd;
        return write_at(dfd, attribute, value);
}

int sysfs_stat_path(const char *absolute, struct stat *ret) {
        int rfd;

        if (!absolute || absolute[0] != '/')
                return -EINVAL;
        rfd = get_root_fd();
        if (rfd < 0)
                return rfd;
        return fstatat(rfd, absolute + 1, ret, 0) < 0 ? -errno : 0;
}

bool sysfs_pci_driver_registered(const char *driver) {
        _cleanup_close_ int dfd = sysfs_open_pci_driver(driver);
        return dfd >= 0;
}

int sysfs_open_pci_device(int devices_fd, const PciAddress *a) {
        char name[PCI_ADDRESS_STRING_MAX];
        _cleanup_close_ int dfd = -EBADF;
        int fd;

        if (devices_fd < 0) {
                dfd = sysfs_open_dir(SYSFS_PCI_DEVICES);
                if (dfd < 0)
                        return dfd;
                devices_fd = dfd;
        }
        fd = openat(devices_fd, pci_address_format(a, name), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}
