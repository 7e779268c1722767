/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IOMMU groups and the host's IOMMU: viability and blockers of a group from its members'
 * drivers (pure), and the IOMMU setup read from /sys/kernel/iommu_groups, /sys/class/iommu,
 * /proc/interrupts (interrupt remapping shows as "IR-" irq chips) and /proc/cmdline.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "iommu.h"
#include "log.h"
#include "sysfs.h"
#include "util.h"

static const char *const group_owner_table[_GROUP_OWNER_MAX] = {
        [GROUP_OWNER_HOST] = "host",
        [GROUP_OWNER_VFIO] = "vfio",
        [GROUP_OWNER_MIXED] = "mixed",
        [GROUP_OWNER_GUEST] = "guest",
};

const char *group_owner_to_string(GroupOwner o) {
        if (o < 0 || o >= _GROUP_OWNER_MAX)
                return NULL;
        return group_owner_table[o];
}

GroupOwner group_owner_from_string(const char *s) {
        for (GroupOwner o = 0; o < _GROUP_OWNER_MAX; o++)
                if (streq_ptr(s, group_owner_table[o]))
                        return o;
        return _GROUP_OWNER_INVALID;
}

static void blockers_free(Blocker *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(b[i].reason);
        free(b);
}

IommuGroup *iommu_group_new(unsigned number) {
        IommuGroup *g = calloc(1, sizeof(IommuGroup));
        if (!g)
                return NULL;
        g->number = number;
        g->viable = true;
        g->owner = GROUP_OWNER_HOST;
        return g;
}

IommuGroup *iommu_group_free(IommuGroup *g) {
        if (!g)
                return NULL;
        free(g->devices);
        blockers_free(g->blockers, g->n_blockers);
        free(g);
        return NULL;
}

int iommu_group_add_device(IommuGroup *g, PciDevice *d) {
        PciDevice **l;
        size_t i;

        l = realloc(g->devices, sizeof(PciDevice *) * (g->n_devices + 1));
        if (!l)
                return -ENOMEM;
        g->devices = l;
        for (i = g->n_devices; i > 0 && pci_address_compare(&l[i - 1]->address, &d->address) > 0; i--)
                l[i] = l[i - 1];
        l[i] = d;
        g->n_devices++;
        return 0;
}

void iommu_group_remove_device(IommuGroup *g, const PciDevice *d) {
        for (size_t i = 0; i < g->n_devices; i++)
                if (g->devices[i] == d) {
                        memmove(g->devices + i, g->devices + i + 1, (g->n_devices - i - 1) * sizeof(PciDevice *));
                        g->n_devices--;
                        return;
                }
}

static bool blockers_equal(const Blocker *a, size_t na, const Blocker *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!streq(a[i].address, b[i].address) || !streq(a[i].reason, b[i].reason))
                        return false;
        return true;
}

int iommu_group_evaluate(IommuGroup *g, unsigned *ret_changed) {
        Blocker *blockers = NULL;
        size_t n_blockers = 0, n_vfio = 0, n_host = 0;
        unsigned changed = 0;
        GroupOwner owner;

        if (g->n_devices > 0) {
                blockers = calloc(g->n_devices, sizeof(Blocker));
                if (!blockers)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < g->n_devices; i++) {
                const PciDevice *d = g->devices[i];

                /* Bridges are never assigned; vfio does not need them released. */
                if (pci_device_is_bridge(d) || !d->driver)
                        continue;
                if (pci_device_on_vfio(d)) {
                        n_vfio++;
                        continue;
                }
                n_host++;
                strcpy(blockers[n_blockers].address, d->name);
                if (asprintf(&blockers[n_blockers].reason, "bound to %s", d->driver) < 0) {
                        blockers_free(blockers, n_blockers);
                        return -ENOMEM;
                }
                n_blockers++;
        }

        owner = n_vfio == 0 ? GROUP_OWNER_HOST : n_host == 0 ? GROUP_OWNER_VFIO : GROUP_OWNER_MIXED;
        /* A guest's claim (set by the handoff) outlives driver changes inside the group. */
        if (g->owner == GROUP_OWNER_GUEST)
                owner = GROUP_OWNER_GUEST;

        if (g->viable != (n_blockers == 0))
                changed |= GROUP_FIELD_VIABLE;
        if (!blockers_equal(g->blockers, g->n_blockers, blockers, n_blockers))
                changed |= GROUP_FIELD_BLOCKERS;
        if (g->owner != owner)
                changed |= GROUP_FIELD_OWNER;

        blockers_free(g->blockers, g->n_blockers);
        g->blockers = blockers;
        g->n_blockers = n_blockers;
        g->viable = n_blockers == 0;
        g->owner = owner;

        if (ret_changed)
                *ret_changed = changed;
        return 0;
}

void iommu_state_done(IommuState *s) {
        free(s->driver);
        free(s->cmdline);
        *s = (IommuState) { .interrupt_remapping = -1 };
}

static int count_groups(unsigned *ret) {
        _cleanup_close_ int fd = -EBADF;
        struct dirent *de;
        unsigned n = 0;
        DIR *d;

        fd = sysfs_open_dir(SYSFS_IOMMU_GROUPS);
        if (fd == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (fd < 0)
                return fd;
        d = fdopendir(TAKE_FD(fd));
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        *ret = n;
        return 0;
}

static int read_iommu_driver(char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *first = NULL;
        struct dirent *de;
        DIR *d;

        *ret = NULL;
        fd = sysfs_open_dir(SYSFS_CLASS_IOMMU);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        d = fdopendir(TAKE_FD(fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                static const char *const kinds[] = { "intel-iommu", "amd-iommu" };

                if (de->d_name[0] == '.')
                        continue;
                /* Each unit carries a subdirectory named after its driver. */
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                        char p[512];
                        snprintf(p, sizeof(p), "%s/%s", de->d_name, kinds[i]);
                        if (faccessat(dirfd(d), p, F_OK, 0) >= 0) {
                                closedir(d);
                                *ret = strdup(kinds[i]);
                                return *ret ? 0 : -ENOMEM;
                        }
                }
                if (!first)
                        first = strdup(de->d_name);
        }
        closedir(d);
        if (first) {
                /* Another kind (virtio-iommu, arm-smmu …): name it after the unit, without its index. */
                first[strcspn(first, "0123456789.")] = '\0';
                *ret = isempty(first) ? strdup("iommu") : TAKE_PTR(first);
                return *ret ? 0 : -ENOMEM;
        }
        return 0;
}

static int read_interrupt_remapping(void) {
        _cleanup_free_ char *s = NULL;

        /* With remapping on, the kernel's irq chips are named IR-IO-APIC, IR-PCI-MSI…
         * for Intel and AMD alike. */
        if (sysfs_read_file(PROC_INTERRUPTS, &s) < 0)
                return -1;
        return strstr(s, " IR-") || strstr(s, "\tIR-") ? 1 : 0;
}

int iommu_state_read(IommuState *ret) {
        IommuState s = { .interrupt_remapping = -1 };
        int r;

        r = count_groups(&s.n_groups);
        if (r < 0)
                return log_debug_errno(r, "Failed to list IOMMU groups: %m");
        s.enabled = s.n_groups > 0;

        r = read_iommu_driver(&s.driver);
        if (r < 0)
                log_debug_errno(r, "Failed to read /sys/class/iommu, ignoring: %m");

        s.interrupt_remapping = read_interrupt_remapping();

        r = sysfs_read_file(PROC_CMDLINE, &s.cmdline);
        if (r < 0) {
                log_debug_errno(r, "Failed to read /proc/cmdline, ignoring: %m");
                s.cmdline = strdup("");
                if (!s.cmdline) {
                        iommu_state_done(&s);
                        return -ENOMEM;
                }
        }
        s.cmdline[strcspn(s.cmdline, "\n")] = '\0';

        *ret = s;
        return 0;
}

char *cmdline_get(const char *cmdline, const char *key) {
        _cleanup_strv_free_ char **words = NULL;
        char *found = NULL;
        size_t k = strlen(key);

        words = strv_split(cmdline, " \t\n");
        if (!words)
                return NULL;
        for (char **w = words; *w; w++) {
                /* The kernel treats '-' and '_' in option names alike. */
                size_t i;
                for (i = 0; i < k && (*w)[i]; i++) {
                        char a = (*w)[i] == '-' ? '_' : (*w)[i], b = key[i] == '-' ? '_' : key[i];
                        if (a != b)
                                break;
                }
                if (i != k || ((*w)[k] != '\0' && (*w)[k] != '='))
                        continue;
                free(found);
                found = strdup((*w)[k] == '=' ? *w + k + 1 : "");
        }
        return found;
}
