/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reads PCI functions from /sys/bus/pci/devices/DDDD:BB:SS.F: ids, class, revision,
 * the driver / iommu_group / physfn links, boot_vga,
 * reset_method, power_state. Writes nothing.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

#include "log.h"
#include "pci.h"
#include "sysfs.h"
#include "util.h"

PciDevice *pci_device_free(PciDevice *d) {
        if (!d)
                return NULL;
        free(d->driver);
        free(d->power_state);
        strv_free(d->reset_methods);
        free(d->vendor_name);
        free(d->product_name);
        free(d->class_name);
        free(d->module_match);
        free(d);
        return NULL;
}

static int read_u16_at(int dfd, const char *name, uint16_t *ret) {
        unsigned long v;
        int r;

        r = read_hex_at(dfd, name, &v);
        if (r < 0)
                return r;
        if (v > UINT16_MAX)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

/* Optional attributes: missing means "not known", anything else is an error. */
static int read_optional_line_at(int dfd, const char *name, char **ret) {
        int r = read_line_at(dfd, name, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

static int read_group(int dfd, int64_t *ret) {
        _cleanup_free_ char *b = NULL;
        unsigned n;
        int r;

        r = readlink_basename_at(dfd, "iommu_group", &b);
        if (r == -ENOENT) {
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        r = safe_atou(b, &n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

static int read_state(PciDevice *d, int dfd, unsigned *ret_changed) {
        _cleanup_free_ char *driver = NULL, *power = NULL, *reset = NULL;
        _cleanup_strv_free_ char **methods = NULL;
        unsigned changed = 0;
        bool boot_vga = false;
        int64_t group;
        int r;

        r = readlink_basename_at(dfd, "driver", &driver);
        if (r < 0 && r != -ENOENT)
                return r;

        /* Not driver_override: reading it takes the device lock, which an unbind stuck in a
         * driver holds forever; the model must never wait for that. vfio.c reads it in the
         * one place that needs it. */
        r = read_optional_line_at(dfd, "power_state", &power);
        if (r < 0)
                return r;

        /* reset_method exists since Linux 5.15; older kernels: unknown, so empty. */
        r = read_optional_line_at(dfd, "reset_method", &reset);
        if (r < 0 && r != -EINVAL)
                return r;
        methods = strv_split(strempty(reset), " ");
        if (!methods)
                return -ENOMEM;

        r = read_group(dfd, &group);
        if (r < 0)
                return r;

        if (pci_device_is_display(d)) {
                r = read_bool_at(dfd, "boot_vga", &boot_vga);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        if (!streq_ptr(d->driver, driver)) {
                free(d->driver);
                d->driver = TAKE_PTR(driver);
                changed |= PCI_FIELD_DRIVER;
        }
        if (!streq_ptr(d->power_state, power)) {
                free(d->power_state);
                d->power_state = TAKE_PTR(power);
                changed |= PCI_FIELD_POWER_STATE;
        }
        if (!d->reset_methods || !strv_equal(d->reset_methods, methods)) {
                strv_free(d->reset_methods);
                d->reset_methods = TAKE_PTR(methods);
                changed |= PCI_FIELD_RESET_METHODS;
        }
        if (d->group != group) {
                d->group = group;
                changed |= PCI_FIELD_GROUP;
        }
        if (d->boot_vga != boot_vga) {
                d->boot_vga = boot_vga;
                changed |= PCI_FIELD_BOOT_VGA;
        }

        if (ret_changed)
                *ret_changed = changed;
        return 0;
}

int pci_device_read(int devices_fd, const PciAddress *a, PciDevice **ret) {
        _cleanup_(pci_device_freep) PciDevice *d = NULL;
        _cleanup_free_ char *physfn = NULL;
        _cleanup_close_ int dfd = -EBADF;
        unsigned long v;
        int r;

        dfd = sysfs_open_pci_device(devices_fd, a);
        if (dfd < 0)
                return dfd;

        d = calloc(1, sizeof(PciDevice));
        if (!d)
                return -ENOMEM;
        d->address = *a;
        d->group = -1;
        pci_address_format(a, d->name);

        r = read_u16_at(dfd, "vendor", &d->vendor_id);
        if (r < 0)
                return r;
        r = read_u16_at(dfd, "device", &d->product_id);
        if (r < 0)
                return r;
        r = read_u16_at(dfd, "subsystem_vendor", &d->subsystem_vendor_id);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_u16_at(dfd, "subsystem_device", &d->subsystem_id);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_hex_at(dfd, "class", &v);
        if (r < 0)
                return r;
        d->class = (uint32_t) (v & 0xffffff);
        r = read_hex_at(dfd, "revision", &v);
        if (r >= 0)
                d->revision = (uint8_t) v;
        else if (r != -ENOENT)
                return r;

        r = readlink_basename_at(dfd, "physfn", &physfn);
        if (r >= 0)
                d->is_virtfn = pci_address_parse(physfn, &d->physfn, NULL) >= 0;
        else if (r != -ENOENT)
                return r;

        r = read_state(d, dfd, NULL);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

int pci_device_refresh(PciDevice *d, int devices_fd, unsigned *ret_changed) {
        _cleanup_close_ int dfd = -EBADF;

        dfd = sysfs_open_pci_device(devices_fd, &d->address);
        if (dfd < 0)
                return dfd;
        return read_state(d, dfd, ret_changed);
}

static int address_compare(const void *a, const void *b) {
        return pci_address_compare(a, b);
}

int pci_enumerate(PciAddress **ret, size_t *ret_n) {
        _cleanup_free_ PciAddress *list = NULL;
        _cleanup_close_ int dfd = -EBADF;
        size_t n = 0, allocated = 0;
        DIR *dir;
        struct dirent *de;

        dfd = sysfs_open_dir(SYSFS_PCI_DEVICES);
        if (dfd < 0)
                return dfd;
        dir = fdopendir(TAKE_FD(dfd));
        if (!dir)
                return -errno;

        while ((errno = 0, de = readdir(dir))) {
                PciAddress a;

                if (de->d_name[0] == '.')
                        continue;
                /* The kernel names them DDDD:BB:SS.F; anything else is not a PCI function. */
                if (pci_address_parse(de->d_name, &a, NULL) < 0 || !strchr(de->d_name, ':') ||
                    strchr(de->d_name, ':') == strrchr(de->d_name, ':')) {
                        log_debug("Ignoring unexpected entry '%s' in /sys/bus/pci/devices.", de->d_name);
                        continue;
                }
                if (n >= allocated) {
                        PciAddress *l;
                        allocated = allocated ? allocated * 2 : 64;
                        l = realloc(list, allocated * sizeof(PciAddress));
                        if (!l) {
                                closedir(dir);
                                return -ENOMEM;
                        }
                        list = l;
                }
                list[n++] = a;
        }
        if (errno != 0) {
                int r = -errno;
                closedir(dir);
                return r;
        }
        closedir(dir);

        if (n > 0)
                qsort(list, n, sizeof(PciAddress), address_compare);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

const char *pci_device_host_driver(const PciDevice *d) {
        if (d->driver && !pci_device_on_vfio(d))
                return d->driver;
        return d->module_match;
}


const char *pci_device_modalias(const PciDevice *d, char buf[static PCI_MODALIAS_MAX]) {
        snprintf(buf, PCI_MODALIAS_MAX, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", d->vendor_id,
                 d->product_id, d->subsystem_vendor_id, d->subsystem_id, (d->class >> 16) & 0xff,
                 (d->class >> 8) & 0xff, d->class & 0xff);
        return buf;
}
