/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keeps the model of PCI functions and IOMMU groups in step with the kernel. It reads
 * sysfs only through pci.c and iommu.c, names through names.c, modules through kmod.c.
 */
#include "log.h"
#include "machine.h"
#include "names.h"
#include "kmod.h"
#include "sysfs.h"
#include "util.h"

int machine_new(Machine **ret) {
        _cleanup_(machine_freep) Machine *m = NULL;
        int r;

        m = calloc(1, sizeof(Machine));
        if (!m)
                return -ENOMEM;
        m->iommu.interrupt_remapping = -1;

        r = sd_hwdb_new(&m->hwdb);
        if (r < 0) {
                log_warning_errno(r, "Failed to open the hardware database, devices will have no names: %m");
                m->hwdb = NULL;
        }

        r = kmod_setup(&m->kmod);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libkmod: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

Machine *machine_free(Machine *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_groups; i++)
                iommu_group_free(m->groups[i]);
        free(m->groups);
        for (size_t i = 0; i < m->n_devices; i++)
                pci_device_free(m->devices[i]);
        free(m->devices);
        iommu_state_done(&m->iommu);
        sd_hwdb_unref(m->hwdb);
        kmod_unref(m->kmod);
        free(m);
        return NULL;
}

static ssize_t device_index(Machine *m, const PciAddress *a) {
        size_t lo = 0, hi = m->n_devices;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = pci_address_compare(&m->devices[mid]->address, a);
                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -(ssize_t) lo - 1; /* where it would go, encoded */
}

static ssize_t group_index(Machine *m, unsigned number) {
        size_t lo = 0, hi = m->n_groups;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (m->groups[mid]->number == number)
                        return (ssize_t) mid;
                if (m->groups[mid]->number < number)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -(ssize_t) lo - 1;
}

PciDevice *machine_find_device(Machine *m, const PciAddress *a) {
        ssize_t i = device_index(m, a);
        return i >= 0 ? m->devices[i] : NULL;
}

IommuGroup *machine_find_group(Machine *m, unsigned number) {
        ssize_t i = group_index(m, number);
        return i >= 0 ? m->groups[i] : NULL;
}

IommuGroup *machine_device_group(Machine *m, const PciDevice *d) {
        return d->group < 0 ? NULL : machine_find_group(m, (unsigned) d->group);
}

size_t machine_slot_range(Machine *m, const PciDevice *d, size_t *ret_first) {
        ssize_t i = device_index(m, &d->address);
        size_t first, last;

        if (i < 0) {
                *ret_first = 0;
                return 0;
        }
        first = last = (size_t) i;
        while (first > 0 && pci_address_same_slot(&m->devices[first - 1]->address, &d->address))
                first--;
        while (last + 1 < m->n_devices && pci_address_same_slot(&m->devices[last + 1]->address, &d->address))
                last++;
        *ret_first = first;
        return last - first + 1;
}

/* HostDriver needs the modalias match only while the function has no host driver bound. */
static void lookup_module(Machine *m, PciDevice *d) {
        char modalias[PCI_MODALIAS_MAX];
        int r;

        if (d->module_looked_up || (d->driver && !pci_device_on_vfio(d)))
                return;
        r = kmod_module_for_modalias(m->kmod, pci_device_modalias(d, modalias), &d->module_match);
        if (r < 0)
                log_debug_errno(r, "Failed to look up the module for %s, ignoring: %m", d->name);
        d->module_looked_up = true;
}

static int group_attach(Machine *m, PciDevice *d, GroupChange *change) {
        _cleanup_(iommu_group_freep) IommuGroup *new_group = NULL;
        IommuGroup *g;
        ssize_t i;
        int r;

        *change = (GroupChange) { .number = d->group };
        if (d->group < 0)
                return 0;

        i = group_index(m, (unsigned) d->group);
        if (i >= 0) {
                g = m->groups[i];
                change->kind = OBJECT_UPDATED;
                change->fields = GROUP_FIELD_DEVICES;
        } else {
                IommuGroup **l;

                new_group = iommu_group_new((unsigned) d->group);
                if (!new_group)
                        return -ENOMEM;
                l = realloc(m->groups, sizeof(IommuGroup *) * (m->n_groups + 1));
                if (!l)
                        return -ENOMEM;
                m->groups = l;
                i = -i - 1;
                memmove(l + i + 1, l + i, (m->n_groups - (size_t) i) * sizeof(IommuGroup *));
                l[i] = g = TAKE_PTR(new_group);
                m->n_groups++;
                change->kind = OBJECT_ADDED;
        }

        r = iommu_group_add_device(g, d);
        if (r < 0)
                return r;
        unsigned fields = 0;
        r = iommu_group_evaluate(g, &fields);
        if (r < 0)
                return r;
        change->fields |= fields;
        return 0;
}

static int group_detach(Machine *m, PciDevice *d, int64_t number, GroupChange *change) {
        ssize_t i;
        IommuGroup *g;
        unsigned fields = 0;
        int r;

        *change = (GroupChange) { .number = number };
        if (number < 0)
                return 0;
        i = group_index(m, (unsigned) number);
        if (i < 0)
                return 0;
        g = m->groups[i];
        iommu_group_remove_device(g, d);
        if (g->n_devices == 0) {
                iommu_group_free(g);
                memmove(m->groups + i, m->groups + i + 1, (m->n_groups - (size_t) i - 1) * sizeof(IommuGroup *));
                m->n_groups--;
                change->kind = OBJECT_REMOVED;
                return 0;
        }
        r = iommu_group_evaluate(g, &fields);
        if (r < 0)
                return r;
        change->kind = OBJECT_UPDATED;
        change->fields = GROUP_FIELD_DEVICES | fields;
        return 0;
}

static int refresh_iommu(Machine *m, bool *ret_changed) {
        IommuState s;
        int r;

        r = iommu_state_read(&s);
        if (r < 0)
                return r;
        *ret_changed = m->iommu.enabled != s.enabled || !streq_ptr(m->iommu.driver, s.driver);
        iommu_state_done(&m->iommu);
        m->iommu = s;
        return 0;
}

int machine_add_device(Machine *m, PciDevice *d, MachineChange *change) {
        PciDevice **l;
        ssize_t i;
        int r;

        i = device_index(m, &d->address);
        if (i >= 0)
                return -EEXIST;
        i = -i - 1;

        r = names_lookup(m->hwdb, d);
        if (r < 0)
                return r;
        lookup_module(m, d);

        l = realloc(m->devices, sizeof(PciDevice *) * (m->n_devices + 1));
        if (!l)
                return -ENOMEM;
        m->devices = l;
        memmove(l + i + 1, l + i, (m->n_devices - (size_t) i) * sizeof(PciDevice *));
        l[i] = d;
        m->n_devices++;

        *change = (MachineChange) {
                .address = d->address,
                .kind = OBJECT_ADDED,
                .is_display = pci_device_is_display(d),
                .groups[0] = { .number = -1 },
        };
        return group_attach(m, d, &change->groups[1]);
}

static int remove_device(Machine *m, PciDevice *d, MachineChange *change) {
        ssize_t i = device_index(m, &d->address);
        int r;

        *change = (MachineChange) {
                .address = d->address,
                .kind = OBJECT_REMOVED,
                .is_display = pci_device_is_display(d),
                .groups[1] = { .number = -1 },
        };
        r = group_detach(m, d, d->group, &change->groups[0]);
        if (r < 0)
                return r;
        memmove(m->devices + i, m->devices + i + 1, (m->n_devices - (size_t) i - 1) * sizeof(PciDevice *));
        m->n_devices--;
        pci_device_free(d);
        return 0;
}

static int update_device(Machine *m, PciDevice *d, MachineChange *change) {
        int64_t old_group = d->group;
        unsigned fields = 0;
        int r;

        r = pci_device_refresh(d, -1, &fields);
        if (r == -ENOENT)
                return remove_device(m, d, change);
        if (r < 0)
                return r;

        *change = (MachineChange) {
                .address = d->address,
                .kind = fields ? OBJECT_UPDATED : OBJECT_UNCHANGED,
                .fields = fields,
                .is_display = pci_device_is_display(d),
                .groups[0] = { .number = old_group },
                .groups[1] = { .number = d->group },
        };

        if (fields & PCI_FIELD_DRIVER)
                lookup_module(m, d);

        if (fields & PCI_FIELD_GROUP) {
                r = group_detach(m, d, old_group, &change->groups[0]);
                if (r < 0)
                        return r;
                return group_attach(m, d, &change->groups[1]);
        }

        if (fields & PCI_FIELD_DRIVER) {
                IommuGroup *g = machine_device_group(m, d);
                if (g) {
                        r = iommu_group_evaluate(g, &change->groups[1].fields);
                        if (r < 0)
                                return r;
                        if (change->groups[1].fields)
                                change->groups[1].kind = OBJECT_UPDATED;
                }
        }
        return 0;
}

int machine_apply_uevent(Machine *m, const char *action, const char *sysname, MachineChange *ret) {
        PciAddress a;
        PciDevice *d;
        int r;

        *ret = (MachineChange) { .kind = OBJECT_UNCHANGED, .groups = { { .number = -1 }, { .number = -1 } } };

        /* Names come from the kernel, but are parsed like any input. */
        if (pci_address_parse(sysname, &a, NULL) < 0)
                return 0;

        d = machine_find_device(m, &a);
        if (streq(action, "remove"))
                r = d ? remove_device(m, d, ret) : 0;
        else if (d)
                r = update_device(m, d, ret);
        else {
                _cleanup_(pci_device_freep) PciDevice *n = NULL;

                r = pci_device_read(-1, &a, &n);
                if (r == -ENOENT)
                        return 0; /* gone again before we looked */
                if (r < 0)
                        return r; /* the caller logs */
                r = machine_add_device(m, n, ret);
                if (r >= 0)
                        TAKE_PTR(n);
        }
        if (r < 0)
                return r;

        if (ret->groups[0].kind == OBJECT_ADDED || ret->groups[0].kind == OBJECT_REMOVED ||
            ret->groups[1].kind == OBJECT_ADDED || ret->groups[1].kind == OBJECT_REMOVED) {
                r = refresh_iommu(m, &ret->iommu_changed);
                if (r < 0)
                        log_debug_errno(r, "Failed to re-read the IOMMU state, ignoring: %m");
        }
        return 0;
}

int machine_load(Machine *m) {
        _cleanup_free_ PciAddress *list = NULL;
        _cleanup_close_ int devices_fd = -EBADF;
        bool unused;
        size_t n;
        int r;

        r = refresh_iommu(m, &unused);
        if (r < 0)
                return log_error_errno(r, "Failed to read the IOMMU state: %m");

        devices_fd = sysfs_open_dir(SYSFS_PCI_DEVICES);
        if (devices_fd < 0)
                return log_error_errno(devices_fd, "Failed to open /sys/bus/pci/devices: %m");

        r = pci_enumerate(&list, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list PCI functions: %m");

        for (size_t i = 0; i < n; i++) {
                _cleanup_(pci_device_freep) PciDevice *d = NULL;
                MachineChange change;

                if (machine_find_device(m, &list[i]))
                        continue;
                r = pci_device_read(devices_fd, &list[i], &d);
                if (r == -ENOENT)
                        continue; /* removed while we looked; its uevent follows */
                if (r < 0) {
                        char buf[PCI_ADDRESS_STRING_MAX];
                        return log_error_errno(r, "Failed to read PCI function %s: %m",
                                               pci_address_format(&list[i], buf));
                }
                r = machine_add_device(m, d, &change);
                if (r < 0)
                        return log_error_errno(r, "Failed to register PCI function: %m");
                TAKE_PTR(d);
        }

        log_debug("Found %zu PCI functions in %zu IOMMU groups.", m->n_devices, m->n_groups);
        return 0;
}

int machine_rescan(Machine *m) {
        /* The store is synchronous: when it returns, the kernel has added what it found. */
        return sysfs_write_file(SYSFS_PCI_RESCAN, "1");
}

int machine_list_unknown(Machine *m, PciAddress **ret, size_t *ret_n) {
        _cleanup_free_ PciAddress *list = NULL;
        size_t n, k = 0;
        int r;

        r = pci_enumerate(&list, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (!machine_find_device(m, &list[i]))
                        list[k++] = list[i];

        *ret = TAKE_PTR(list);
        *ret_n = k;
        return 0;
}
