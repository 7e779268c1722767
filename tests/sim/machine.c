/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * machine.c: the simulated machine (see machine.h). Owns the device, driver,
 * module and group state, builds the /sys node tree from it, formats every
 * attribute the way the kernel does and implements the kernel semantics of
 * writes synchronously, emitting udev-format uevents for each change. Also
 * keeps the files in the namespace's /dev (module nodes, fbN), /dev/vfio,
 * /dev/dri and /dev/snd in step with the bindings and module loads (the
 * directories are handed over by pcisim.c), the vtconsoles, and which open
 * files pin which module (found through /proc/PID/fd). Models how long
 * operations take (/sys/kernel/pcisim/latency) and accounts the time spent in
 * them (/sys/kernel/pcisim/stats).
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "machine.h"
#include "sim-util.h"
#include "simfs.h"

#define PCI_ANY_ID 0xffffffffU
#define LATENCY_MAX_MS 60000UL
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)

typedef struct SimDevice SimDevice;
typedef struct SimDriver SimDriver;
typedef struct SimModule SimModule;

typedef enum AttrKind {
        ATTR_TEXT = 0,                  /* node->text */

        ATTR_DEV_VENDOR,
        ATTR_DEV_DEVICE,
        ATTR_DEV_SUBSYSTEM_VENDOR,
        ATTR_DEV_SUBSYSTEM_DEVICE,
        ATTR_DEV_CLASS,
        ATTR_DEV_REVISION,
        ATTR_DEV_CONFIG,
        ATTR_DEV_MODALIAS,
        ATTR_DEV_UEVENT,
        ATTR_DEV_BOOT_VGA,
        ATTR_DEV_RESET_METHOD,
        ATTR_DEV_RESET,
        ATTR_DEV_POWER_STATE,
        ATTR_DEV_DRIVER_OVERRIDE,
        ATTR_DEV_ENABLE,
        ATTR_DEV_IRQ,
        ATTR_DEV_NUMA_NODE,
        ATTR_DEV_LOCAL_CPUS,
        ATTR_DEV_LOCAL_CPULIST,
        ATTR_DEV_RESOURCE,
        ATTR_DEV_REMOVE,
        ATTR_DEV_RESCAN,
        ATTR_DEV_SRIOV_TOTALVFS,
        ATTR_DEV_SRIOV_NUMVFS,
        ATTR_DEV_SRIOV_OFFSET,
        ATTR_DEV_SRIOV_STRIDE,
        ATTR_DEV_SRIOV_VF_DEVICE,
        ATTR_DEV_SRIOV_AUTOPROBE,

        ATTR_DRV_BIND,
        ATTR_DRV_UNBIND,
        ATTR_DRV_NEW_ID,
        ATTR_DRV_REMOVE_ID,
        ATTR_DRV_UEVENT,

        ATTR_BUS_DRIVERS_PROBE,
        ATTR_BUS_RESCAN,
        ATTR_BUS_AUTOPROBE,
        ATTR_BUS_UEVENT,

        ATTR_MOD_REFCNT,

        ATTR_SIM_FAULTS,
        ATTR_SIM_RELEASE,
        ATTR_SIM_SEQNUM,
        ATTR_SIM_LOAD_MODULE,
        ATTR_SIM_UNLOAD_MODULE,
        ATTR_SIM_STATE,
        ATTR_SIM_LATENCY,
        ATTR_SIM_STATS,

        ATTR_PLAT_BIND,
        ATTR_PLAT_UNBIND,
        ATTR_PLAT_UEVENT,

        ATTR_VTCON_BIND,
} AttrKind;

typedef struct DynId {
        uint32_t vendor, device, subvendor, subdevice, class, class_mask;
} DynId;

struct SimModule {
        char *name;
        bool builtin;
        bool loaded;
        char **aliases;
        size_t n_aliases;
        const char *const *depends;
        char *const *nodes;     /* "# module_nodes": names under /dev while loaded, NULL terminated */
        SimDriver **drivers;
        size_t n_drivers;
};

struct SimDriver {
        char *name;
        SimModule *module;
        bool registered;
        DynId *dynids;
        size_t n_dynids;
        Node *dir;
};

typedef struct SimGroup {
        int number;
        size_t n_present;
        size_t n_vfio;          /* functions bound to vfio-pci: /dev/vfio/N exists while > 0 */
        Node *devices_dir;
} SimGroup;

struct SimDevice {
        const ListingDevice *ld;
        char addr[16];
        char root[16];          /* "pci0000:00" */
        char *devpath;          /* "/devices/pci0000:00/0000:26:00.0", also its tree path */
        char modalias[80];
        bool present;
        bool vf_disabled;       /* VF whose PF has SR-IOV disabled: not re-added by rescan */
        bool multifunction;
        bool bridge;
        bool enabled;
        SimDriver *driver;
        char *driver_override;
        int numa_node;
        unsigned irq;
        SimGroup *group;

        SimDevice *pf;
        size_t vf_index;
        SimDevice **vfs;
        size_t n_vfs;
        size_t num_vfs;         /* PF: VFs currently enabled */
        bool sriov_autoprobe;
};

/* A "# drm", "# net", "# block", "# sound" or "# graphics" item: a class device the function's
 * listed driver creates (or, for graphics, the platform framebuffer's driver). */
typedef struct SimNode {
        const ListingNode *ln;
        SimDevice *device;      /* NULL: graphics of the platform framebuffer */
        unsigned major, minor;
        bool resolved;          /* major:minor known (block: once machine_resolve_block() ran) */
        bool present;
} SimNode;

/* What a write or module call is, for /sys/kernel/pcisim/stats; the first ones (up to
 * _OP_LATENCY_MAX) are also what /sys/kernel/pcisim/latency can give a duration. */
typedef enum SimOp {
        OP_BIND,
        OP_UNBIND,
        OP_LOAD,
        OP_UNLOAD,
        OP_VTCON_BIND,
        OP_FRAMEBUFFER_BIND,
        OP_FRAMEBUFFER_UNBIND,
        _OP_LATENCY_MAX,
        OP_DRIVER_OVERRIDE = _OP_LATENCY_MAX,
        OP_DRIVERS_PROBE,
        OP_REMOVE,
        OP_RESCAN,
        OP_SRIOV_NUMVFS,
        OP_NEW_ID,
        OP_REMOVE_ID,
        OP_OTHER,               /* any other write to a kernel attribute (enable, reset, uevent, …) */
        _OP_MAX,
        _OP_INVALID = -EINVAL,
} SimOp;

/* "OP TARGET MS" of the latency file: each OP on TARGET (NULL: "-", any) takes ns more. */
typedef struct Latency {
        SimOp op;
        char *target;
        uint64_t ns;
        struct Latency *next;
} Latency;

typedef struct OpStats {
        uint64_t count;
        uint64_t ns;            /* from the call's start to its answer */
        uint64_t latency_ns;    /* of which modelled (slept) */
} OpStats;

typedef struct Fault {
        char *op;
        char *target;           /* "0000:26:00.0", or a module name for load/unload */
        int error;              /* 0: hang */
        struct Fault *next;
} Fault;

/* A file pcisim made in the namespace's /dev whose open files hold a reference on a module: the
 * kernel takes one for the owner of a char device's file operations on each open. Kept after
 * the file is removed, as long as pcisim runs: an open file still holds the module then. */
typedef struct DevFile {
        dev_t dev;
        ino_t ino;
        char *path;             /* "/dev/nvidia0", what /proc/PID/fd/N of a holder reads */
        SimModule *module;
} DevFile;

typedef struct SimVtcon {
        const ListingVtcon *lv;
        char name[16];          /* "vtcon1" */
        bool bound;             /* modular (fb) consoles; the system driver's state follows from theirs */
} SimVtcon;

typedef struct Platform {
        const char *device;     /* "efi-framebuffer.0" */
        const char *driver;     /* "efi-framebuffer" */
        bool bound;
        Node *driver_dir;
} Platform;

struct Machine {
        pthread_mutex_t lock;
        pthread_cond_t cond;

        Listing *listing;
        Tree *tree;

        SimDevice *devices;
        size_t n_devices;

        SimDriver **drivers;
        size_t n_drivers;

        SimModule **modules;
        size_t n_modules;

        SimGroup **groups;      /* indexed by group number */
        size_t n_groups;

        SimNode *nodes;
        size_t n_nodes;

        int dev_fd, vfio_fd, dri_fd, snd_fd;    /* the namespace's /dev, /dev/vfio, /dev/dri, /dev/snd; -1 until set */
        DevFile *dev_files;
        size_t n_dev_files;

        SimVtcon *vtcons;
        size_t n_vtcons;

        Fault *faults;
        unsigned release_generation;
        Latency *latencies;
        OpStats stats[_OP_MAX];
        uint64_t requests;      /* FUSE requests served (machine_getattr() … machine_truncate()) */
        bool exiting;

        uint64_t seqnum;        /* last one sent */
        bool autoprobe;

        Uevent *uevent;

        Platform platform;
        bool has_platform;

        unsigned ncpus;
        FakeModule *fake_modules;
};

static void latency_add(Machine *m, SimOp op, const char *target);

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static const char *group_type(Machine *m) {
        /* "iommu=pt" on the command line makes default domains identity mapped */
        const char *c = m->listing->cmdline;

        for (const char *p = c; (p = strstr(p, "iommu=pt")); p++)
                if ((p == c || p[-1] == ' ') && (p[8] == 0 || p[8] == ' '))
                        return "identity\n";
        return "DMA\n";
}

static SimDevice *find_device(Machine *m, const char *addr) {
        unsigned domain, bus, slot, func;
        int i;

        /* The kernel's bus_find_device_by_name() wants the full name. */
        if (strlen(addr) != 12 || listing_parse_address(addr, &domain, &bus, &slot, &func) < 0)
                return NULL;
        i = listing_find(m->listing, domain, bus, slot, func);
        if (i < 0)
                return NULL;
        return m->devices + i;
}

static SimDevice *find_present_device(Machine *m, const char *addr) {
        SimDevice *d = find_device(m, addr);

        return d && d->present ? d : NULL;
}

static SimDriver *find_driver(Machine *m, const char *name) {
        for (size_t i = 0; i < m->n_drivers; i++)
                if (streq(m->drivers[i]->name, name))
                        return m->drivers[i];
        return NULL;
}

static SimModule *find_module(Machine *m, const char *name) {
        for (size_t i = 0; i < m->n_modules; i++)
                if (streq(m->modules[i]->name, name))
                        return m->modules[i];
        return NULL;
}

/* Copies a written buffer into a NUL terminated string, dropping one trailing newline, like
 * sysfs_streq() compares. */
static char *written_string(const char *buf, size_t size) {
        char *s = strndup(buf, size);
        size_t l;

        if (!s)
                return NULL;
        l = strlen(s);
        if (l > 0 && s[l - 1] == '\n')
                s[l - 1] = 0;
        return s;
}

/* kstrtoul(buf, 0, ...) with the trailing newline sysfs allows. */
static int parse_ulong(const char *buf, size_t size, unsigned long *ret) {
        _cleanup_free_ char *s = written_string(buf, size);
        char *end;
        unsigned long v;

        if (!s)
                return -ENOMEM;
        if (!*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* kstrtobool() */
static int parse_bool(const char *buf, size_t size, bool *ret) {
        if (size < 1)
                return -EINVAL;
        switch (buf[0]) {
        case 'y': case 'Y': case '1':
                *ret = true;
                return 0;
        case 'n': case 'N': case '0':
                *ret = false;
                return 0;
        case 'o': case 'O':
                if (size >= 2 && (buf[1] == 'n' || buf[1] == 'N')) {
                        *ret = true;
                        return 0;
                }
                if (size >= 2 && (buf[1] == 'f' || buf[1] == 'F')) {
                        *ret = false;
                        return 0;
                }
                return -EINVAL;
        default:
                return -EINVAL;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* uevents */

static void emit(Machine *m, const char *action, const char *devpath, const char *subsystem,
                 const char *driver, char *const *props) {
        m->seqnum++;
        (void) uevent_send(m->uevent, m->seqnum, action, devpath, subsystem, driver, props);
}

static void device_props(SimDevice *d, char props[5][96]) {
        const ListingDevice *ld = d->ld;

        snprintf(props[0], 96, "PCI_CLASS=%X", ld->class);
        snprintf(props[1], 96, "PCI_ID=%04X:%04X", ld->vendor, ld->device);
        snprintf(props[2], 96, "PCI_SUBSYS_ID=%04X:%04X", ld->subsystem_vendor, ld->subsystem_device);
        snprintf(props[3], 96, "PCI_SLOT_NAME=%s", d->addr);
        snprintf(props[4], 96, "MODALIAS=%s", d->modalias);
}

static void emit_device(Machine *m, SimDevice *d, const char *action, const char *driver) {
        char props[5][96];
        char *p[6];

        device_props(d, props);
        for (size_t i = 0; i < 5; i++)
                p[i] = props[i];
        p[5] = NULL;
        emit(m, action, d->devpath, "pci", driver, p);
}

/* ------------------------------------------------------------------------------------------ */
/* tree building */

static Node *add_file(Machine *m, Node *dir, const char *name, mode_t mode, AttrKind kind, void *obj) {
        return tree_add_file(m->tree, dir, name, mode, (int) kind, obj);
}

static void group_ref(Machine *m, SimGroup *g) {
        if (!g)
                return;
        if (g->n_present++ == 0) {
                _cleanup_free_ char *p = strdup_printf("/kernel/iommu_groups/%d", g->number);
                Node *dir;

                if (!p)
                        return;
                dir = tree_mkdir_p(m->tree, p);
                if (!dir)
                        return;
                g->devices_dir = tree_add_dir(m->tree, dir, "devices");
                tree_add_text(m->tree, dir, "type", 0644, group_type(m));
                tree_add_text(m->tree, dir, "reserved_regions", 0444, "");
        }
}

static void group_unref(Machine *m, SimGroup *g) {
        if (!g || g->n_present == 0)
                return;
        if (--g->n_present == 0) {
                _cleanup_free_ char *p = strdup_printf("/kernel/iommu_groups/%d", g->number);

                if (p)
                        tree_remove(m->tree, tree_lookup(m->tree, p));
                g->devices_dir = NULL;
        }
}

static Node *device_dir(Machine *m, SimDevice *d) {
        return tree_lookup(m->tree, d->devpath);
}

static Node *driver_dir(Machine *m, SimDriver *drv) {
        (void) m;
        return drv->registered ? drv->dir : NULL;
}

static void add_virtfn_link(Machine *m, SimDevice *vf) {
        Node *pfdir;
        char name[32];

        if (!vf->pf || !vf->pf->present)
                return;
        pfdir = device_dir(m, vf->pf);
        if (!pfdir)
                return;
        snprintf(name, sizeof(name), "virtfn%zu", vf->vf_index);
        tree_add_linkf(m->tree, pfdir, name, "../%s", vf->addr);
}

static void remove_virtfn_link(Machine *m, SimDevice *vf) {
        Node *pfdir;
        char name[32];

        if (!vf->pf)
                return;
        pfdir = device_dir(m, vf->pf);
        if (!pfdir)
                return;
        snprintf(name, sizeof(name), "virtfn%zu", vf->vf_index);
        tree_remove(m->tree, tree_child(m->tree, pfdir, name));
}

static void add_driver_links(Machine *m, SimDevice *d) {
        Node *dir = device_dir(m, d), *ddir = driver_dir(m, d->driver);

        if (dir)
                tree_add_linkf(m->tree, dir, "driver", "../../../bus/pci/drivers/%s", d->driver->name);
        if (ddir)
                tree_add_linkf(m->tree, ddir, d->addr, "../../../../devices/%s/%s", d->root, d->addr);
}

static void remove_driver_links(Machine *m, SimDevice *d) {
        Node *dir = device_dir(m, d), *ddir = d->driver ? driver_dir(m, d->driver) : NULL;

        if (dir)
                tree_remove(m->tree, tree_child(m->tree, dir, "driver"));
        if (ddir)
                tree_remove(m->tree, tree_child(m->tree, ddir, d->addr));
}

static int device_add_nodes(Machine *m, SimDevice *d) {
        _cleanup_free_ char *rootpath = strdup_printf("/devices/%s", d->root);
        Node *root, *dir, *busdevs;
        const ListingDevice *ld = d->ld;

        if (!rootpath)
                return -ENOMEM;
        root = tree_lookup(m->tree, rootpath);
        if (!root) {
                root = tree_mkdir_p(m->tree, rootpath);
                if (!root)
                        return -errno;
                tree_add_text(m->tree, root, "uevent", 0644, "");
        }

        dir = tree_add_dir(m->tree, root, d->addr);
        if (!dir)
                return -errno;

        add_file(m, dir, "vendor", 0444, ATTR_DEV_VENDOR, d);
        add_file(m, dir, "device", 0444, ATTR_DEV_DEVICE, d);
        add_file(m, dir, "subsystem_vendor", 0444, ATTR_DEV_SUBSYSTEM_VENDOR, d);
        add_file(m, dir, "subsystem_device", 0444, ATTR_DEV_SUBSYSTEM_DEVICE, d);
        add_file(m, dir, "class", 0444, ATTR_DEV_CLASS, d);
        add_file(m, dir, "revision", 0444, ATTR_DEV_REVISION, d);
        {
                Node *c = add_file(m, dir, "config", 0644, ATTR_DEV_CONFIG, d);
                if (c)
                        c->size = 256;
        }
        add_file(m, dir, "modalias", 0444, ATTR_DEV_MODALIAS, d);
        add_file(m, dir, "uevent", 0644, ATTR_DEV_UEVENT, d);
        if ((ld->class >> 16) == 0x03)
                add_file(m, dir, "boot_vga", 0444, ATTR_DEV_BOOT_VGA, d);
        if (!d->bridge) {
                add_file(m, dir, "reset_method", 0644, ATTR_DEV_RESET_METHOD, d);
                add_file(m, dir, "reset", 0200, ATTR_DEV_RESET, d);
        }
        add_file(m, dir, "power_state", 0444, ATTR_DEV_POWER_STATE, d);
        add_file(m, dir, "driver_override", 0644, ATTR_DEV_DRIVER_OVERRIDE, d);
        add_file(m, dir, "enable", 0644, ATTR_DEV_ENABLE, d);
        add_file(m, dir, "irq", 0444, ATTR_DEV_IRQ, d);
        add_file(m, dir, "numa_node", 0644, ATTR_DEV_NUMA_NODE, d);
        add_file(m, dir, "local_cpus", 0444, ATTR_DEV_LOCAL_CPUS, d);
        add_file(m, dir, "local_cpulist", 0444, ATTR_DEV_LOCAL_CPULIST, d);
        add_file(m, dir, "resource", 0444, ATTR_DEV_RESOURCE, d);
        add_file(m, dir, "remove", 0200, ATTR_DEV_REMOVE, d);
        add_file(m, dir, "rescan", 0200, ATTR_DEV_RESCAN, d);
        tree_add_text(m->tree, dir, "dma_mask_bits", 0444, "64\n");
        tree_add_text(m->tree, dir, "consistent_dma_mask_bits", 0444, "64\n");
        tree_add_text(m->tree, dir, "msi_bus", 0644, "1\n");
        tree_add_text(m->tree, dir, "d3cold_allowed", 0644, "1\n");
        tree_add_link(m->tree, dir, "subsystem", "../../../bus/pci");

        if (d->n_vfs > 0) {
                add_file(m, dir, "sriov_totalvfs", 0444, ATTR_DEV_SRIOV_TOTALVFS, d);
                add_file(m, dir, "sriov_numvfs", 0644, ATTR_DEV_SRIOV_NUMVFS, d);
                add_file(m, dir, "sriov_offset", 0444, ATTR_DEV_SRIOV_OFFSET, d);
                add_file(m, dir, "sriov_stride", 0444, ATTR_DEV_SRIOV_STRIDE, d);
                add_file(m, dir, "sriov_vf_device", 0444, ATTR_DEV_SRIOV_VF_DEVICE, d);
                add_file(m, dir, "sriov_drivers_autoprobe", 0644, ATTR_DEV_SRIOV_AUTOPROBE, d);
                for (size_t i = 0; i < d->n_vfs; i++)
                        if (d->vfs[i]->present)
                                add_virtfn_link(m, d->vfs[i]);
        }
        if (d->pf) {
                if (d->pf->present)
                        tree_add_linkf(m->tree, dir, "physfn", "../%s", d->pf->addr);
                add_virtfn_link(m, d);
        }

        if (d->group) {
                tree_add_linkf(m->tree, dir, "iommu_group", "../../../kernel/iommu_groups/%d", d->group->number);
                group_ref(m, d->group);
                if (d->group->devices_dir)
                        tree_add_linkf(m->tree, d->group->devices_dir, d->addr, "../../../../devices/%s/%s", d->root, d->addr);
        }

        busdevs = tree_lookup(m->tree, "/bus/pci/devices");
        if (busdevs)
                tree_add_linkf(m->tree, busdevs, d->addr, "../../../devices/%s/%s", d->root, d->addr);

        if (d->driver)
                add_driver_links(m, d);

        return 0;
}

static void device_remove_nodes(Machine *m, SimDevice *d) {
        Node *busdevs = tree_lookup(m->tree, "/bus/pci/devices");

        if (d->driver)
                remove_driver_links(m, d);
        if (busdevs)
                tree_remove(m->tree, tree_child(m->tree, busdevs, d->addr));
        if (d->group) {
                if (d->group->devices_dir)
                        tree_remove(m->tree, tree_child(m->tree, d->group->devices_dir, d->addr));
                group_unref(m, d->group);
        }
        if (d->pf)
                remove_virtfn_link(m, d);
        for (size_t i = 0; i < d->n_vfs; i++) {
                Node *vfdir = d->vfs[i]->present ? device_dir(m, d->vfs[i]) : NULL;
                if (vfdir)
                        tree_remove(m->tree, tree_child(m->tree, vfdir, "physfn"));
        }
        tree_remove(m->tree, device_dir(m, d));
}

/* ------------------------------------------------------------------------------------------ */
/* /dev and the class devices drivers create (drm, net, block, sound, graphics) */

static const char *dev_dir_path(Machine *m, int dir_fd) {
        if (dir_fd == m->vfio_fd)
                return "/dev/vfio";
        if (dir_fd == m->dri_fd)
                return "/dev/dri";
        if (dir_fd == m->snd_fd)
                return "/dev/snd";
        return "/dev";
}

/* Notes a file whose open files pin owner (see DevFile). */
static void dev_file_note(Machine *m, int dir_fd, const char *name, int fd, SimModule *owner) {
        struct stat st;
        DevFile *n;
        char *path;

        if (!owner || fstat(fd, &st) < 0)
                return;
        path = strdup_printf("%s/%s", dev_dir_path(m, dir_fd), name);
        if (!path)
                return;
        /* an inode number tmpfs gave a file that is gone for good */
        for (size_t i = 0; i < m->n_dev_files; i++)
                if (m->dev_files[i].dev == st.st_dev && m->dev_files[i].ino == st.st_ino) {
                        free(m->dev_files[i].path);
                        m->dev_files[i].path = path;
                        m->dev_files[i].module = owner;
                        return;
                }
        n = realloc(m->dev_files, (m->n_dev_files + 1) * sizeof(DevFile));
        if (!n) {
                free(path);
                return;
        }
        m->dev_files = n;
        m->dev_files[m->n_dev_files++] = (DevFile) {
                .dev = st.st_dev,
                .ino = st.st_ino,
                .path = path,
                .module = owner,
        };
}

/* A regular file standing in for a device node; an existing one is left alone. Open files of it
 * pin owner (may be NULL). */
static void devfs_create(Machine *m, int dir_fd, const char *name, mode_t mode, SimModule *owner) {
        _cleanup_close_ int fd = -1;

        if (dir_fd < 0)
                return;
        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return;
        (void) fchmod(fd, mode); /* whatever the umask */
        dev_file_note(m, dir_fd, name, fd, owner);
}

static void devfs_remove(int dir_fd, const char *name) {
        if (dir_fd >= 0)
                (void) unlinkat(dir_fd, name, 0);
}

/* The open files of the namespace's /dev files that hold a reference on mod, at this moment:
 * every /proc/PID/fd/N whose link reads the path of one of mod's DevFiles (also with
 * " (deleted)") and whose file is that one (device and inode: a host process's real /dev/fb0
 * reads the same). Each open file counts once, as the kernel takes one reference per open(): fds
 * sharing a file (dup(), fork()) are told apart with kcmp(KCMP_FILE) where the kernel has it. */
static size_t module_open_files(Machine *m, SimModule *mod) {
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ int *fds = NULL;
        size_t n = 0, allocated = 0, count = 0;
        bool any = false;
        DIR *proc;
        struct dirent *de;

        for (size_t i = 0; i < m->n_dev_files; i++)
                if (m->dev_files[i].module == mod)
                        any = true;
        if (!any)
                return 0;

        proc = opendir("/proc");
        if (!proc)
                return 0;
        while ((de = readdir(proc))) {
                char fddir[64];
                DIR *fdd;
                struct dirent *fe;
                char *end;
                long pid;

                errno = 0;
                pid = strtol(de->d_name, &end, 10);
                if (errno != 0 || *end || pid <= 0)
                        continue;
                snprintf(fddir, sizeof(fddir), "/proc/%ld/fd", pid);
                fdd = opendir(fddir);
                if (!fdd)
                        continue;
                while ((fe = readdir(fdd))) {
                        char link[PATH_MAX + 16], fdpath[96];
                        struct stat st;
                        ssize_t l;
                        long fd;

                        errno = 0;
                        fd = strtol(fe->d_name, &end, 10);
                        if (errno != 0 || *end || fd < 0)
                                continue;
                        snprintf(fdpath, sizeof(fdpath), "%s/%ld", fddir, fd);
                        /* readlink only: it does not touch the file system, unlike stat() of a
                         * /sys file, which would need the FUSE thread blocked on our lock */
                        l = readlinkat(AT_FDCWD, fdpath, link, sizeof(link) - 1);
                        if (l <= 0)
                                continue;
                        link[l] = 0;
                        if (!startswith(link, "/dev/"))
                                continue;
                        if (l > 10 && streq(link + l - 10, " (deleted)"))
                                link[l - 10] = 0;

                        for (size_t i = 0; i < m->n_dev_files; i++) {
                                const DevFile *f = m->dev_files + i;

                                if (f->module != mod || !streq(f->path, link))
                                        continue;
                                if (stat(fdpath, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino)
                                        continue;
                                if (n == allocated) {
                                        size_t a = allocated ? allocated * 2 : 16;
                                        pid_t *np = realloc(pids, a * sizeof(pid_t));
                                        int *nf;

                                        if (np)
                                                pids = np;
                                        nf = np ? realloc(fds, a * sizeof(int)) : NULL;
                                        if (!nf)
                                                break;
                                        fds = nf;
                                        allocated = a;
                                }
                                pids[n] = (pid_t) pid;
                                fds[n++] = (int) fd;
                                break;
                        }
                }
                closedir(fdd);
        }
        closedir(proc);

        /* One per open file description */
        for (size_t i = 0; i < n; i++) {
                bool seen = false;

                for (size_t k = 0; k < i && !seen; k++)
                        /* KCMP_FILE is 0 */
                        seen = syscall(SYS_kcmp, pids[i], pids[k], 0, fds[i], fds[k]) == 0;
                if (!seen)
                        count++;
        }
        return count;
}

static bool is_vfio_pci(const SimDriver *drv) {
        return drv && streq(drv->name, "vfio-pci");
}

/* vfio_group_register_device(): the first function of a group bound to vfio-pci makes
 * /dev/vfio/N, the last one to leave removes it. */
static void vfio_group_get(Machine *m, SimGroup *g) {
        char name[16];

        if (!g || g->n_vfio++ > 0)
                return;
        snprintf(name, sizeof(name), "%d", g->number);
        devfs_create(m, m->vfio_fd, name, 0600, NULL);
}

static void vfio_group_put(Machine *m, SimGroup *g) {
        char name[16];

        if (!g || g->n_vfio == 0 || --g->n_vfio > 0)
                return;
        snprintf(name, sizeof(name), "%d", g->number);
        devfs_remove(m->vfio_fd, name);
}

/* The files "# module_nodes" gives a module, made when it is loaded. */
static void module_nodes_create(Machine *m, SimModule *mod) {
        for (char *const *n = mod->nodes; n && *n; n++)
                devfs_create(m, m->dev_fd, *n, 0666, mod);
}

static void module_nodes_remove(Machine *m, SimModule *mod) {
        for (char *const *n = mod->nodes; n && *n; n++)
                devfs_remove(m->dev_fd, *n);
}

static const char *node_subsystem(const SimNode *n) {
        return listing_node_kind_to_string(n->ln->kind);
}

static bool node_has_devt(const SimNode *n) {
        return n->ln->kind != LISTING_NODE_NET && !n->ln->sound_card;
}

/* The device the node's directory sits below: "/devices/pci0000:00/0000:26:00.0" or
 * "/devices/platform/efi-framebuffer.0" */
static char *node_parent_devpath(Machine *m, const SimNode *n) {
        if (n->device)
                return strdup(n->device->devpath);
        return strdup_printf("/devices/platform/%s", m->platform.device);
}

/* "/devices/pci0000:00/0000:26:00.0/drm/card0", ".../0000:26:00.1/sound/card1/controlC1", also
 * its tree path */
static char *node_devpath(Machine *m, const SimNode *n) {
        _cleanup_free_ char *parent = node_parent_devpath(m, n);

        if (!parent)
                return NULL;
        if (n->ln->kind == LISTING_NODE_SOUND && !n->ln->sound_card)
                return strdup_printf("%s/sound/card%u/%s", parent, n->ln->card, n->ln->name);
        return strdup_printf("%s/%s/%s", parent, node_subsystem(n), n->ln->name);
}

/* The properties its uevent file lists and its events carry; returns how many. */
static size_t node_props(const SimNode *n, char props[4][64]) {
        const char *devname_prefix = "";

        switch (n->ln->kind) {
        case LISTING_NODE_NET:
                snprintf(props[0], 64, "INTERFACE=%s", n->ln->name);
                return 1;
        case LISTING_NODE_SOUND:
                if (n->ln->sound_card)
                        return 0;
                devname_prefix = "snd/";
                break;
        case LISTING_NODE_DRM:
                devname_prefix = "dri/";
                break;
        default:
                break;
        }
        snprintf(props[0], 64, "MAJOR=%u", n->major);
        snprintf(props[1], 64, "MINOR=%u", n->minor);
        snprintf(props[2], 64, "DEVNAME=%s%s", devname_prefix, n->ln->name);
        if (n->ln->kind == LISTING_NODE_DRM || n->ln->kind == LISTING_NODE_BLOCK) {
                snprintf(props[3], 64, "DEVTYPE=%s", n->ln->kind == LISTING_NODE_DRM ? "drm_minor" : "disk");
                return 4;
        }
        return 3;
}

/* Links to the node's directory from elsewhere in /sys: (dir, name) pairs; returns how many. */
static size_t node_links(const SimNode *n, char paths[3][96], char names[3][64]) {
        size_t k = 0;

        snprintf(paths[k], 96, "/class/%s", node_subsystem(n));
        snprintf(names[k++], 64, "%s", n->ln->name);
        if (n->ln->kind == LISTING_NODE_BLOCK) {
                snprintf(paths[k], 96, "/dev/block");
                snprintf(names[k++], 64, "%u:%u", n->major, n->minor);
                snprintf(paths[k], 96, "/block");
                snprintf(names[k++], 64, "%s", n->ln->name);
        } else if (node_has_devt(n)) {
                snprintf(paths[k], 96, "/dev/char");
                snprintf(names[k++], 64, "%u:%u", n->major, n->minor);
        }
        return k;
}

/* The file in the namespace's /dev a node has, if any: its directory fd. */
static int node_dev_dir(Machine *m, const SimNode *n) {
        switch (n->ln->kind) {
        case LISTING_NODE_DRM:
                return m->dri_fd;
        case LISTING_NODE_SOUND:
                return n->ln->sound_card ? -1 : m->snd_fd;
        case LISTING_NODE_GRAPHICS:
                return m->dev_fd;
        default:
                return -1;
        }
}

/* The module whose file operations the node's /dev file has: the bound driver's (none for the
 * platform framebuffer and built-in drivers). */
static SimModule *node_owner(const SimNode *n) {
        const SimDevice *d = n->device;

        if (!d || !d->driver || !d->driver->module || d->driver->module->builtin)
                return NULL;
        return d->driver->module;
}

/* What the driver's probe does for one node: the directory below the function (or the sound
 * card), the links to it, the /dev file; an "add" uevent unless booting. */
static void node_add(Machine *m, SimNode *n, bool events) {
        _cleanup_free_ char *devpath = node_devpath(m, n), *parent = node_parent_devpath(m, n), *classdir = NULL;
        const char *subsystem = node_subsystem(n);
        Node *devdir, *sub, *dir;
        char props[4][64], paths[3][96], names[3][64], *p[5], uevent[4 * 65 + 1] = "";
        size_t k, l;

        if (!devpath || !parent)
                return;
        devdir = tree_lookup(m->tree, parent);
        if (!devdir)
                return;
        if (n->ln->kind == LISTING_NODE_SOUND && !n->ln->sound_card) {
                char card[16];

                snprintf(card, sizeof(card), "card%u", n->ln->card);
                sub = tree_child(m->tree, tree_child(m->tree, devdir, "sound"), card);
        } else
                sub = tree_child(m->tree, devdir, subsystem) ?: tree_add_dir(m->tree, devdir, subsystem);
        dir = sub ? tree_add_dir(m->tree, sub, n->ln->name) : NULL;
        if (!dir)
                return;

        k = node_props(n, props);
        for (size_t i = 0; i < k; i++) {
                p[i] = props[i];
                strcat(uevent, props[i]);
                strcat(uevent, "\n");
        }
        p[k] = NULL;
        tree_add_text(m->tree, dir, "uevent", 0644, uevent);
        if (n->ln->kind == LISTING_NODE_NET)
                tree_add_text(m->tree, dir, "address", 0444, "00:00:00:00:00:00\n");
        else if (n->ln->sound_card) {
                char number[16];

                snprintf(number, sizeof(number), "%u\n", n->ln->card);
                tree_add_text(m->tree, dir, "number", 0444, number);
        } else {
                char dev[32];

                snprintf(dev, sizeof(dev), "%u:%u\n", n->major, n->minor);
                tree_add_text(m->tree, dir, "dev", 0444, dev);
        }
        /* a sound card's nodes belong to the card, everything else to the function or platform device */
        tree_add_link_to(m->tree, dir, "device", n->ln->kind == LISTING_NODE_SOUND && !n->ln->sound_card ? sub->path : parent);
        classdir = strdup_printf("/class/%s", subsystem);
        if (classdir)
                tree_add_link_to(m->tree, dir, "subsystem", classdir);

        l = node_links(n, paths, names);
        for (size_t i = 0; i < l; i++) {
                Node *at = tree_lookup(m->tree, paths[i]);

                if (at)
                        tree_add_link_to(m->tree, at, names[i], devpath);
        }

        if (node_dev_dir(m, n) >= 0)
                devfs_create(m, node_dev_dir(m, n), n->ln->name, 0666, node_owner(n));
        n->present = true;
        if (events)
                emit(m, "add", devpath, subsystem, NULL, p);
}

/* What the driver's remove() does for one node. */
static void node_remove(Machine *m, SimNode *n, bool events) {
        _cleanup_free_ char *devpath = node_devpath(m, n);
        const char *subsystem = node_subsystem(n);
        char props[4][64], paths[3][96], names[3][64], *p[5];
        Node *dir, *sub;
        size_t k, l;

        l = node_links(n, paths, names);
        for (size_t i = 0; i < l; i++) {
                Node *at = tree_lookup(m->tree, paths[i]);

                if (at)
                        tree_remove(m->tree, tree_child(m->tree, at, names[i]));
        }
        dir = devpath ? tree_lookup(m->tree, devpath) : NULL;
        if (dir) {
                sub = dir->parent;
                tree_remove(m->tree, dir);
                /* the per-subsystem directory below the device goes with its last node */
                if (sub && streq(sub->name, subsystem) && sub->n_children == 0)
                        tree_remove(m->tree, sub);
        }
        if (node_dev_dir(m, n) >= 0)
                devfs_remove(node_dev_dir(m, n), n->ln->name);
        n->present = false;

        if (events && devpath) {
                k = node_props(n, props);
                for (size_t i = 0; i < k; i++)
                        p[i] = props[i];
                p[k] = NULL;
                emit(m, "remove", devpath, subsystem, NULL, p);
        }
}

/* A node exists while its function is bound to the driver the listing gives it, or, for the
 * platform framebuffer's, while that is bound. */
static bool node_wanted(Machine *m, const SimNode *n) {
        const SimDevice *d = n->device;

        if (!d)
                return m->has_platform && m->platform.bound;
        return n->resolved && d->present && d->driver && streq_ptr(d->driver->name, d->ld->driver);
}

/* Adds or removes the nodes of a function (d), or of the platform framebuffer (d NULL), to match
 * its binding: removals first, a sound card after its nodes; additions in listing order, which
 * has a card before its nodes. */
static void sync_nodes(Machine *m, SimDevice *d, bool events) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < m->n_nodes; i++) {
                        SimNode *n = m->nodes + i;

                        if (n->device != d || n->ln->sound_card != (pass == 1))
                                continue;
                        if (n->present && !node_wanted(m, n))
                                node_remove(m, n, events);
                }
        for (size_t i = 0; i < m->n_nodes; i++) {
                SimNode *n = m->nodes + i;

                if (n->device == d && !n->present && node_wanted(m, n))
                        node_add(m, n, events);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* drivers and modules */

static int strv_push_unique(char ***l, size_t *n, const char *s) {
        char **nl, *c;

        for (size_t i = 0; i < *n; i++)
                if (streq((*l)[i], s))
                        return 0;
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        nl = realloc(*l, (*n + 1) * sizeof(char *));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[(*n)++] = c;
        *l = nl;
        return 1;
}

static SimModule *module_get(Machine *m, const char *name, bool builtin) {
        SimModule *mod = find_module(m, name), **nm;

        if (mod)
                return mod;
        mod = calloc(1, sizeof(SimModule));
        if (!mod)
                return NULL;
        mod->name = strdup(name);
        mod->builtin = builtin;
        nm = realloc(m->modules, (m->n_modules + 1) * sizeof(SimModule *));
        if (!mod->name || !nm) {
                free(mod->name);
                free(mod);
                return NULL;
        }
        m->modules = nm;
        m->modules[m->n_modules++] = mod;
        return mod;
}

static SimDriver *driver_get(Machine *m, const char *name, SimModule *mod) {
        SimDriver *drv = find_driver(m, name), **nd;

        if (drv)
                return drv;
        drv = calloc(1, sizeof(SimDriver));
        if (!drv)
                return NULL;
        drv->name = strdup(name);
        drv->module = mod;
        nd = realloc(m->drivers, (m->n_drivers + 1) * sizeof(SimDriver *));
        if (!drv->name || !nd) {
                free(drv->name);
                free(drv);
                return NULL;
        }
        m->drivers = nd;
        m->drivers[m->n_drivers++] = drv;

        nd = realloc(mod->drivers, (mod->n_drivers + 1) * sizeof(SimDriver *));
        if (!nd)
                return NULL;
        mod->drivers = nd;
        mod->drivers[mod->n_drivers++] = drv;
        return drv;
}

static bool dynid_matches(const DynId *id, const SimDevice *d) {
        const ListingDevice *ld = d->ld;

        return (id->vendor == PCI_ANY_ID || id->vendor == ld->vendor) &&
               (id->device == PCI_ANY_ID || id->device == ld->device) &&
               (id->subvendor == PCI_ANY_ID || id->subvendor == ld->subsystem_vendor) &&
               (id->subdevice == PCI_ANY_ID || id->subdevice == ld->subsystem_device) &&
               ((ld->class ^ id->class) & id->class_mask) == 0;
}

static bool static_ids_match(const SimDriver *drv, const char *modalias) {
        if (!drv->module)
                return false;
        for (size_t i = 0; i < drv->module->n_aliases; i++)
                if (fnmatch(drv->module->aliases[i], modalias, 0) == 0)
                        return true;
        return false;
}

/* pci_match_device() */
static bool driver_matches(const SimDriver *drv, const SimDevice *d) {
        if (d->driver_override)
                return streq(d->driver_override, drv->name);
        for (size_t i = 0; i < drv->n_dynids; i++)
                if (dynid_matches(drv->dynids + i, d))
                        return true;
        return static_ids_match(drv, d->modalias);
}

/* pci_device_can_probe() */
static bool device_can_probe(const SimDevice *d) {
        return !d->pf || d->pf->sriov_autoprobe;
}

static void sriov_disable(Machine *m, SimDevice *pf);

static void device_unbind(Machine *m, SimDevice *d) {
        SimDriver *drv = d->driver;

        if (!drv)
                return;

        /* The PF driver's remove() disables SR-IOV: its VFs go away first. */
        if (d->num_vfs > 0)
                sriov_disable(m, d);

        latency_add(m, OP_UNBIND, drv->name);
        remove_driver_links(m, d);
        d->driver = NULL;
        d->enabled = false;
        /* remove() takes its class devices and, for vfio-pci, the group's reference */
        sync_nodes(m, d, true);
        if (is_vfio_pci(drv))
                vfio_group_put(m, d->group);
        emit_device(m, d, "unbind", drv->name);
}

/* really_probe(): returns 0 when bound, negative errno when the driver's probe fails. */
static int device_bind(Machine *m, SimDevice *d, SimDriver *drv) {
        if (d->driver)
                return -EBUSY;
        /* vfio-pci only takes normal (type 0 header) devices */
        if (streq(drv->name, "vfio-pci") && d->bridge)
                return -EINVAL;

        latency_add(m, OP_BIND, drv->name);
        d->driver = drv;
        d->enabled = !streq(drv->name, "vfio-pci");
        add_driver_links(m, d);
        /* probe() made its class devices or /dev/vfio/N before the bind event */
        if (is_vfio_pci(drv))
                vfio_group_get(m, d->group);
        sync_nodes(m, d, true);
        emit_device(m, d, "bind", drv->name);
        return 0;
}

/* device_attach(): first registered driver that matches and probes successfully. */
static void device_probe(Machine *m, SimDevice *d) {
        if (!d->present || d->driver || !device_can_probe(d))
                return;
        for (size_t i = 0; i < m->n_drivers; i++) {
                SimDriver *drv = m->drivers[i];

                if (!drv->registered || !driver_matches(drv, d))
                        continue;
                if (device_bind(m, d, drv) >= 0)
                        return;
        }
}

/* driver_attach(): binds every unbound device the driver matches. */
static void driver_attach(Machine *m, SimDriver *drv) {
        for (size_t i = 0; i < m->n_devices; i++) {
                SimDevice *d = m->devices + i;

                if (!d->present || d->driver || !device_can_probe(d) || !driver_matches(drv, d))
                        continue;
                (void) device_bind(m, d, drv);
        }
}

static void device_add(Machine *m, SimDevice *d) {
        if (d->present)
                return;
        d->present = true;
        d->vf_disabled = false;
        d->driver_override = NULL;
        (void) device_add_nodes(m, d);
        emit_device(m, d, "add", NULL);
        if (m->autoprobe)
                device_probe(m, d);
}

static void device_remove(Machine *m, SimDevice *d) {
        if (!d->present)
                return;
        device_unbind(m, d);
        if (d->num_vfs > 0)
                sriov_disable(m, d); /* PF without a driver: its VFs go with it */
        device_remove_nodes(m, d);
        d->present = false;
        free(d->driver_override);
        d->driver_override = NULL;
        emit_device(m, d, "remove", NULL);
}

static void sriov_disable(Machine *m, SimDevice *pf) {
        for (size_t i = 0; i < pf->n_vfs; i++) {
                SimDevice *vf = pf->vfs[i];

                device_remove(m, vf);
                vf->vf_disabled = true;
        }
        pf->num_vfs = 0;
}

static void sriov_enable(Machine *m, SimDevice *pf, size_t n) {
        pf->num_vfs = n;
        for (size_t i = 0; i < n && i < pf->n_vfs; i++) {
                SimDevice *vf = pf->vfs[i];

                vf->vf_disabled = false;
                device_add(m, vf);
        }
}

static int driver_register(Machine *m, SimDriver *drv) {
        Node *drivers, *dir;

        if (drv->registered)
                return 0;
        drivers = tree_lookup(m->tree, "/bus/pci/drivers");
        if (!drivers)
                return -ENOENT;
        dir = tree_add_dir(m->tree, drivers, drv->name);
        if (!dir)
                return -errno;
        add_file(m, dir, "bind", 0200, ATTR_DRV_BIND, drv);
        add_file(m, dir, "unbind", 0200, ATTR_DRV_UNBIND, drv);
        add_file(m, dir, "new_id", 0200, ATTR_DRV_NEW_ID, drv);
        add_file(m, dir, "remove_id", 0200, ATTR_DRV_REMOVE_ID, drv);
        add_file(m, dir, "uevent", 0200, ATTR_DRV_UEVENT, drv);
        if (drv->module && !drv->module->builtin)
                tree_add_linkf(m->tree, dir, "module", "../../../../module/%s", drv->module->name);
        drv->dir = dir;
        drv->registered = true;
        return 0;
}

static void driver_unregister(Machine *m, SimDriver *drv) {
        if (!drv->registered)
                return;
        for (size_t i = 0; i < m->n_devices; i++)
                if (m->devices[i].driver == drv)
                        device_unbind(m, m->devices + i);
        tree_remove(m->tree, drv->dir);
        drv->dir = NULL;
        drv->registered = false;
        free(drv->dynids);
        drv->dynids = NULL;
        drv->n_dynids = 0;
}

static Node *module_dir(Machine *m, SimModule *mod) {
        _cleanup_free_ char *p = strdup_printf("/module/%s", mod->name);

        return p ? tree_lookup(m->tree, p) : NULL;
}

static int fault_check(Machine *m, const char *op, const char *target);

/* What the kernel's load_module() does for one module, the part finit_module(2) and
 * init_module(2) share: EEXIST when loaded, ENOENT (unknown symbols) while a dependency is not
 * loaded; then /sys/module/NAME, the holder links in its dependencies, the drivers registered
 * and (autoprobe) bound. boot: no uevents, no probing. */
static int module_insert(Machine *m, SimModule *mod, bool boot) {
        Node *modroot, *dir, *drivers, *holders;
        int r;

        if (mod->loaded)
                return -EEXIST;

        for (const char *const *dep = mod->depends; dep && *dep; dep++) {
                SimModule *dm = find_module(m, *dep);

                if (!dm || !dm->loaded)
                        return -ENOENT;
        }

        mod->loaded = true;
        if (!boot)
                latency_add(m, OP_LOAD, mod->name);
        /* the module's init made its /dev nodes before the syscall returns */
        module_nodes_create(m, mod);

        if (!mod->builtin) {
                modroot = tree_lookup(m->tree, "/module");
                if (!modroot)
                        return -ENOENT;
                dir = tree_add_dir(m->tree, modroot, mod->name);
                if (!dir)
                        return -errno;
                add_file(m, dir, "refcnt", 0444, ATTR_MOD_REFCNT, mod);
                tree_add_text(m->tree, dir, "initstate", 0444, "live\n");
                tree_add_text(m->tree, dir, "coresize", 0444, "16384\n");
                tree_add_text(m->tree, dir, "taint", 0444, "\n");
                tree_add_text(m->tree, dir, "uevent", 0200, "");
                tree_add_dir(m->tree, dir, "holders");
                tree_add_dir(m->tree, dir, "parameters");
                drivers = tree_add_dir(m->tree, dir, "drivers");
                for (size_t i = 0; drivers && i < mod->n_drivers; i++) {
                        char name[256];

                        snprintf(name, sizeof(name), "pci:%s", mod->drivers[i]->name);
                        tree_add_linkf(m->tree, drivers, name, "../../../bus/pci/drivers/%s", mod->drivers[i]->name);
                }

                for (const char *const *dep = mod->depends; dep && *dep; dep++) {
                        SimModule *dm = find_module(m, *dep);
                        Node *ddir = dm ? module_dir(m, dm) : NULL;

                        holders = ddir ? tree_child(m->tree, ddir, "holders") : NULL;
                        if (holders)
                                tree_add_linkf(m->tree, holders, mod->name, "../../%s", mod->name);
                }

                if (!boot) {
                        _cleanup_free_ char *devpath = strdup_printf("/module/%s", mod->name);

                        if (devpath)
                                emit(m, "add", devpath, "module", NULL, NULL);
                }
        }

        for (size_t i = 0; i < mod->n_drivers; i++) {
                SimDriver *drv = mod->drivers[i];

                r = driver_register(m, drv);
                if (r < 0)
                        return r;
                if (!boot) {
                        _cleanup_free_ char *devpath = strdup_printf("/bus/pci/drivers/%s", drv->name);

                        if (devpath)
                                emit(m, "add", devpath, "drivers", NULL, NULL);
                        if (m->autoprobe)
                                driver_attach(m, drv);
                }
        }
        return 0;
}

/* Loads a module and its dependencies first, like modprobe (the load_module control file and
 * boot). Loaded already: nothing to do. Not boot: each module not yet loaded consumes its "load"
 * fault first. May drop the lock (hang fault). */
static int module_load(Machine *m, SimModule *mod, bool boot) {
        int r;

        if (mod->loaded)
                return 0;

        for (const char *const *dep = mod->depends; dep && *dep; dep++) {
                SimModule *dm = find_module(m, *dep);

                if (!dm)
                        return -ENOENT;
                r = module_load(m, dm, boot);
                if (r < 0)
                        return r;
        }

        if (!boot) {
                r = fault_check(m, "load", mod->name);
                if (r < 0)
                        return r;
                if (mod->loaded) /* loaded by someone else while a hang fault held us */
                        return 0;
        }

        return module_insert(m, mod, boot);
}

static size_t module_holders(Machine *m, SimModule *mod) {
        size_t n = 0;

        for (size_t i = 0; i < m->n_modules; i++) {
                SimModule *o = m->modules[i];

                if (!o->loaded)
                        continue;
                for (const char *const *dep = o->depends; dep && *dep; dep++)
                        if (streq(*dep, mod->name))
                                n++;
        }
        return n;
}

static int module_unload(Machine *m, SimModule *mod) {
        _cleanup_free_ char *devpath = NULL;

        if (mod->builtin)
                return -EPERM;
        if (!mod->loaded)
                return -ENOENT;
        if (module_holders(m, mod) > 0 || module_open_files(m, mod) > 0)
                return -EBUSY;

        latency_add(m, OP_UNLOAD, mod->name);

        for (size_t i = 0; i < mod->n_drivers; i++) {
                SimDriver *drv = mod->drivers[i];
                bool was = drv->registered;

                driver_unregister(m, drv);
                if (was) {
                        _cleanup_free_ char *p = strdup_printf("/bus/pci/drivers/%s", drv->name);

                        if (p)
                                emit(m, "remove", p, "drivers", NULL, NULL);
                }
        }

        for (const char *const *dep = mod->depends; dep && *dep; dep++) {
                SimModule *dm = find_module(m, *dep);
                Node *ddir = dm ? module_dir(m, dm) : NULL;
                Node *holders = ddir ? tree_child(m->tree, ddir, "holders") : NULL;

                if (holders)
                        tree_remove(m->tree, tree_child(m->tree, holders, mod->name));
        }

        module_nodes_remove(m, mod);
        tree_remove(m->tree, module_dir(m, mod));
        mod->loaded = false;

        devpath = strdup_printf("/module/%s", mod->name);
        if (devpath)
                emit(m, "remove", devpath, "module", NULL, NULL);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* faults */

static const struct {
        const char *name;
        int error;
} errno_table[] = {
        { "EPERM", EPERM },     { "ENOENT", ENOENT },   { "ESRCH", ESRCH },     { "EINTR", EINTR },
        { "EIO", EIO },         { "ENXIO", ENXIO },     { "E2BIG", E2BIG },     { "ENOEXEC", ENOEXEC },
        { "EBADF", EBADF },     { "EAGAIN", EAGAIN },   { "ENOMEM", ENOMEM },   { "EACCES", EACCES },
        { "EFAULT", EFAULT },   { "EBUSY", EBUSY },     { "EEXIST", EEXIST },   { "ENODEV", ENODEV },
        { "EINVAL", EINVAL },   { "ENOSPC", ENOSPC },   { "EROFS", EROFS },     { "ERANGE", ERANGE },
        { "EDEADLK", EDEADLK }, { "ENOSYS", ENOSYS },   { "ENODATA", ENODATA }, { "ETIMEDOUT", ETIMEDOUT },
        { "EOPNOTSUPP", EOPNOTSUPP }, { "ENOTSUP", ENOTSUP }, { "ECANCELED", ECANCELED },
        { "EPROBE_DEFER", 517 }, { "EWOULDBLOCK", EWOULDBLOCK }, { "ENOTTY", ENOTTY },
        { "ENOLCK", ENOLCK },   { "EALREADY", EALREADY }, { "EINPROGRESS", EINPROGRESS },
};

static int errno_from_name(const char *s) {
        char *end;
        long v;

        for (size_t i = 0; i < ELEMENTSOF(errno_table); i++)
                if (streq(errno_table[i].name, s))
                        return errno_table[i].error;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == 0 && *end == 0 && v > 0 && v < 4096)
                return (int) v;
        return -EINVAL;
}

static const char *errno_to_name(int e) {
        for (size_t i = 0; i < ELEMENTSOF(errno_table); i++)
                if (errno_table[i].error == e)
                        return errno_table[i].name;
        return NULL;
}

static bool fault_op_valid(const char *op) {
        static const char *const ops[] = { "bind", "unbind", "driver_override", "drivers_probe", "remove",
                                           "sriov_numvfs", "new_id", "rescan" };

        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (streq(ops[i], op))
                        return true;
        return false;
}

/* Operations whose target is a module name rather than a device address. */
static bool fault_op_is_module(const char *op) {
        return streq(op, "load") || streq(op, "unload");
}

/* "vtcon_bind vtconN …": the target is a console ("vtcon" and a decimal number). */
static char *vtcon_name_normalize(const char *s) {
        const char *n = startswith(s, "vtcon");

        if (!n || !*n || strlen(n) > 2 || strspn(n, "0123456789") != strlen(n) || (n[0] == '0' && n[1]))
                return NULL;
        return strdup(s);
}

/* "fb_bind"/"fb_unbind": the write of the platform framebuffer's name to its driver's bind or
 * unbind file (/sys/bus/platform/drivers/efi-framebuffer/{bind,unbind}). */
static bool fault_op_is_platform(const char *op) {
        return streq(op, "fb_bind") || streq(op, "fb_unbind");
}

/* The target of an fb_* fault: the listing's platform framebuffer, nothing else (a name that
 * could never be written successfully is a mistake in the test). */
static char *platform_name_normalize(Machine *m, const char *s) {
        if (!m->has_platform || !streq(s, m->platform.device))
                return NULL;
        return strdup(s);
}

/* A module name as the kernel keeps it (MODULE_NAME_LEN 56, '-' written as '_'), or NULL. */
static char *module_name_normalize(const char *s) {
        size_t l = strlen(s);
        char *n;

        if (l == 0 || l >= 56 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != l)
                return NULL;
        n = strdup(s);
        if (!n)
                return NULL;
        for (char *c = n; *c; c++)
                if (*c == '-')
                        *c = '_';
        return n;
}

static Fault *fault_free(Fault *f) {
        Fault *next = f->next;

        free(f->op);
        free(f->target);
        free(f);
        return next;
}

static void faults_clear(Machine *m) {
        while (m->faults)
                m->faults = fault_free(m->faults);
}

/* Parses and appends "OP ADDRESS errno NAME" / "OP ADDRESS hang" lines (for load/unload:
 * "OP MODULE …", vtcon_bind: "OP vtconN …", fb_bind/fb_unbind: "OP efi-framebuffer.0 …"), or
 * "clear". All or nothing. */
static int faults_write(Machine *m, const char *buf, size_t size) {
        _cleanup_free_ char *text = strndup(buf, size);
        Fault *new_head = NULL, **tail = &new_head;
        char *line, *saveptr = NULL;
        bool clear = false;

        if (!text)
                return -ENOMEM;

        for (line = strtok_r(text, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *w[5];
                size_t n = 0;
                char *s = line, *tok, *sp = NULL;
                unsigned domain, bus, slot, func;
                Fault *f;

                for (tok = strtok_r(s, " \t", &sp); tok; tok = strtok_r(NULL, " \t", &sp)) {
                        if (n == ELEMENTSOF(w))
                                goto invalid;
                        w[n++] = tok;
                }
                if (n == 0)
                        continue;
                if (n == 1 && streq(w[0], "clear")) {
                        clear = true;
                        continue;
                }
                if (!(n == 3 && streq(w[2], "hang")) && !(n == 4 && streq(w[2], "errno")))
                        goto invalid;
                f = calloc(1, sizeof(Fault));
                if (!f)
                        goto invalid;
                f->op = strdup(w[0]);
                if (fault_op_is_module(w[0]))
                        f->target = module_name_normalize(w[1]);
                else if (streq(w[0], "vtcon_bind"))
                        f->target = vtcon_name_normalize(w[1]);
                else if (fault_op_is_platform(w[0]))
                        f->target = platform_name_normalize(m, w[1]);
                else if (streq(w[0], "rescan") && streq(w[1], "bus"))
                        f->target = strdup("bus"); /* /sys/bus/pci/rescan, not a device's */
                else if (fault_op_valid(w[0]) && listing_parse_address(w[1], &domain, &bus, &slot, &func) >= 0)
                        f->target = strdup_printf("%04x:%02x:%02x.%x", domain, bus, slot, func);
                if (n == 4)
                        f->error = errno_from_name(w[3]);
                /* FUSE cannot return errnos from 512 on (the kernel's ERESTART*, EPROBE_DEFER, …):
                 * the write would never be answered. Module calls answer through seccomp. */
                if (f->error >= 512 && !fault_op_is_module(w[0]))
                        f->error = -EINVAL;
                if (!f->op || !f->target || f->error < 0) {
                        fault_free(f);
                        goto invalid;
                }
                *tail = f;
                tail = &f->next;
        }

        if (clear)
                faults_clear(m);
        {
                Fault **t = &m->faults;
                while (*t)
                        t = &(*t)->next;
                *t = new_head;
        }
        return (int) size;

invalid:
        while (new_head)
                new_head = fault_free(new_head);
        return -EINVAL;
}

static char *faults_read(Machine *m) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (Fault *x = m->faults; x; x = x->next) {
                if (x->error == 0)
                        fprintf(f, "%s %s hang\n", x->op, x->target);
                else {
                        const char *n = errno_to_name(x->error);
                        if (n)
                                fprintf(f, "%s %s errno %s\n", x->op, x->target, n);
                        else
                                fprintf(f, "%s %s errno %d\n", x->op, x->target, x->error);
                }
        }
        if (fclose(f) != 0)
                return NULL;
        return text;
}

/* Consumes the first fault matching op/target. Returns 0 to go on (no fault, or released hang),
 * or a negative errno to fail the write with. Called with the lock held; a hang waits with the
 * lock dropped, so callers must not keep tree node pointers across this call. */
static int fault_check(Machine *m, const char *op, const char *target) {
        for (Fault **p = &m->faults; *p; p = &(*p)->next) {
                Fault *f = *p;
                int error;

                if (!streq(f->op, op) || !streq(f->target, target))
                        continue;

                error = f->error;
                *p = fault_free(f);

                if (error > 0)
                        return -error;

                /* hang */
                {
                        unsigned gen = m->release_generation;

                        while (m->release_generation == gen && !m->exiting)
                                pthread_cond_wait(&m->cond, &m->lock);
                        return m->exiting ? -EINTR : 0;
                }
        }
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* latency (/sys/kernel/pcisim/latency) and accounting (/sys/kernel/pcisim/stats) */

static const char *const op_table[_OP_MAX] = {
        [OP_BIND] = "bind",
        [OP_UNBIND] = "unbind",
        [OP_LOAD] = "load",
        [OP_UNLOAD] = "unload",
        [OP_VTCON_BIND] = "vtcon_bind",
        [OP_FRAMEBUFFER_BIND] = "framebuffer_bind",
        [OP_FRAMEBUFFER_UNBIND] = "framebuffer_unbind",
        [OP_DRIVER_OVERRIDE] = "driver_override",
        [OP_DRIVERS_PROBE] = "drivers_probe",
        [OP_REMOVE] = "remove",
        [OP_RESCAN] = "rescan",
        [OP_SRIOV_NUMVFS] = "sriov_numvfs",
        [OP_NEW_ID] = "new_id",
        [OP_REMOVE_ID] = "remove_id",
        [OP_OTHER] = "other",
};

static SimOp latency_op_from_string(const char *s) {
        for (SimOp op = 0; op < _OP_LATENCY_MAX; op++)
                if (streq(op_table[op], s))
                        return op;
        return _OP_INVALID;
}

/* The modelled time the current call owes: each bind, unbind, module load or unload, console or
 * framebuffer (un)bind it does adds its latency; the entry point (machine_write(),
 * machine_module_insert(), machine_module_delete()) sleeps it off once the change is made. Per
 * thread: each FUSE request and each module call runs in one thread, and a hang fault drops the
 * machine lock in the middle of a call, so the machine cannot hold it. */
static _Thread_local uint64_t latency_owed_ns;

static void latency_add(Machine *m, SimOp op, const char *target) {
        const Latency *any = NULL;

        for (const Latency *l = m->latencies; l; l = l->next) {
                if (l->op != op)
                        continue;
                if (!l->target)
                        any = l;
                else if (streq(l->target, target)) {
                        latency_owed_ns += l->ns;
                        return;
                }
        }
        if (any)
                latency_owed_ns += any->ns;
}

static Latency *latency_free(Latency *l) {
        Latency *next = l->next;

        free(l->target);
        free(l);
        return next;
}

static void latencies_clear(Machine *m) {
        while (m->latencies)
                m->latencies = latency_free(m->latencies);
}

/* The target of a latency line as the machine names it, NULL when the machine has none such:
 * a driver (bind, unbind), a loadable module (load, unload; '-' in names as '_'), a console
 * (vtcon_bind), the platform framebuffer device (framebuffer_*). */
static char *latency_target(Machine *m, SimOp op, const char *s) {
        _cleanup_free_ char *name = NULL;
        SimModule *mod;

        switch (op) {
        case OP_BIND:
        case OP_UNBIND:
                return find_driver(m, s) ? strdup(s) : NULL;
        case OP_LOAD:
        case OP_UNLOAD:
                name = module_name_normalize(s);
                mod = name ? find_module(m, name) : NULL;
                return mod && !mod->builtin ? TAKE_PTR(name) : NULL;
        case OP_VTCON_BIND:
                for (size_t i = 0; i < m->n_vtcons; i++)
                        if (streq(m->vtcons[i].name, s))
                                return strdup(s);
                return NULL;
        case OP_FRAMEBUFFER_BIND:
        case OP_FRAMEBUFFER_UNBIND:
                return m->has_platform && streq(m->platform.device, s) ? strdup(s) : NULL;
        default:
                return NULL;
        }
}

/* Parses "OP TARGET MS" lines (TARGET "-": any) and "clear"; a line for an OP and TARGET already
 * set replaces it. All or nothing. */
static int latency_write(Machine *m, const char *buf, size_t size) {
        _cleanup_free_ char *text = strndup(buf, size);
        Latency *new_head = NULL, **tail = &new_head;
        char *line, *saveptr = NULL;
        bool clear = false;

        if (!text)
                return -ENOMEM;

        for (line = strtok_r(text, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *w[4], *tok, *sp = NULL, *end;
                size_t n = 0;
                unsigned long ms;
                Latency *l;

                for (tok = strtok_r(line, " \t", &sp); tok; tok = strtok_r(NULL, " \t", &sp)) {
                        if (n == ELEMENTSOF(w))
                                goto invalid;
                        w[n++] = tok;
                }
                if (n == 0)
                        continue;
                if (n == 1 && streq(w[0], "clear")) {
                        clear = true;
                        continue;
                }
                if (n != 3 || !isdigit((unsigned char) w[2][0]))
                        goto invalid;
                errno = 0;
                ms = strtoul(w[2], &end, 10);
                if (errno != 0 || *end != 0 || ms > LATENCY_MAX_MS)
                        goto invalid;

                l = calloc(1, sizeof(Latency));
                if (!l)
                        goto invalid;
                *tail = l;
                tail = &l->next;
                l->op = latency_op_from_string(w[0]);
                l->ns = (uint64_t) ms * NSEC_PER_MSEC;
                if (l->op < 0)
                        goto invalid;
                if (!streq(w[1], "-")) {
                        l->target = latency_target(m, l->op, w[1]);
                        if (!l->target)
                                goto invalid;
                }
        }

        if (clear)
                latencies_clear(m);
        /* Replace what the new lines set again, then append them. */
        for (Latency *l = new_head; l; l = l->next)
                for (Latency **p = &m->latencies; *p;)
                        if ((*p)->op == l->op && streq_ptr((*p)->target, l->target))
                                *p = latency_free(*p);
                        else
                                p = &(*p)->next;
        {
                Latency **t = &m->latencies;
                while (*t)
                        t = &(*t)->next;
                *t = new_head;
        }
        return (int) size;

invalid:
        while (new_head)
                new_head = latency_free(new_head);
        return -EINVAL;
}

static char *latency_read(Machine *m) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (const Latency *l = m->latencies; l; l = l->next)
                fprintf(f, "%s %s %" PRIu64 "\n", op_table[l->op], l->target ?: "-", l->ns / NSEC_PER_MSEC);
        if (fclose(f) != 0)
                return NULL;
        return text;
}

static char *stats_read(Machine *m) {
        OpStats total = {};
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (SimOp op = 0; op < _OP_MAX; op++) {
                const OpStats *s = m->stats + op;

                if (s->count == 0)
                        continue;
                fprintf(f, "%s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", op_table[op], s->count, s->ns, s->latency_ns);
                total.count += s->count;
                total.ns += s->ns;
                total.latency_ns += s->latency_ns;
        }
        fprintf(f, "total %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", total.count, total.ns, total.latency_ns);
        fprintf(f, "requests %" PRIu64 "\n", m->requests);
        if (fclose(f) != 0)
                return NULL;
        return text;
}

static int stats_write(Machine *m, const char *buf, size_t size) {
        _cleanup_free_ char *s = written_string(buf, size);

        if (!s)
                return -ENOMEM;
        if (!streq(s, "reset"))
                return -EINVAL;
        memset(m->stats, 0, sizeof(m->stats));
        m->requests = 0;
        return (int) size;
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

/* The end of a call to a simulated operation, with the lock held: sleeps off the latency it owes
 * (the lock dropped meanwhile, so other calls go on; cut short when the simulator exits), then
 * accounts the call, from start (now_ns() when it was made) to now. */
static void op_finish(Machine *m, SimOp op, uint64_t start) {
        uint64_t owed = latency_owed_ns, deadline = now_ns() + owed;
        struct timespec ts = {
                .tv_sec = (time_t) (deadline / NSEC_PER_SEC),
                .tv_nsec = (long) (deadline % NSEC_PER_SEC),
        };

        latency_owed_ns = 0;
        while (owed > 0 && !m->exiting && now_ns() < deadline)
                (void) pthread_cond_timedwait(&m->cond, &m->lock, &ts);

        if (op < 0 || op >= _OP_MAX)
                return;
        m->stats[op].count++;
        m->stats[op].ns += now_ns() - start;
        m->stats[op].latency_ns += owed;
}

/* ------------------------------------------------------------------------------------------ */
/* /sys/kernel/pcisim/state */

static int device_ptr_compare(const void *a, const void *b) {
        return strcmp((*(SimDevice *const *) a)->addr, (*(SimDevice *const *) b)->addr);
}

static int module_ptr_compare(const void *a, const void *b) {
        return strcmp((*(SimModule *const *) a)->name, (*(SimModule *const *) b)->name);
}

static int node_ptr_compare(const void *a, const void *b) {
        return strcmp((*(SimNode *const *) a)->ln->name, (*(SimNode *const *) b)->ln->name);
}

static int vtcon_ptr_compare(const void *a, const void *b) {
        return strcmp((*(SimVtcon *const *) a)->name, (*(SimVtcon *const *) b)->name);
}

/* con_is_bound(): a modular console as written to its bind file; the system driver holds the
 * consoles no modular one has, i.e. is bound while none is. */
static bool vtcon_bound(Machine *m, const SimVtcon *v) {
        if (v->lv->kind == LISTING_VTCON_FB)
                return v->bound;
        for (size_t i = 0; i < m->n_vtcons; i++)
                if (m->vtcons[i].lv->kind == LISTING_VTCON_FB && m->vtcons[i].bound)
                        return false;
        return true;
}

/* One line per present function, loaded module, framebuffer, vtconsole, /dev/vfio/N and node,
 * sorted within each kind (addresses and names as strings, group numbers as numbers). */
static char *state_read(Machine *m) {
        _cleanup_free_ SimDevice **devices = calloc(m->n_devices ?: 1, sizeof(SimDevice *));
        _cleanup_free_ SimModule **modules = calloc(m->n_modules ?: 1, sizeof(SimModule *));
        _cleanup_free_ SimNode **nodes = calloc(m->n_nodes ?: 1, sizeof(SimNode *));
        _cleanup_free_ SimVtcon **vtcons = calloc(m->n_vtcons ?: 1, sizeof(SimVtcon *));
        static const ListingNodeKind kinds[] = { LISTING_NODE_DRM, LISTING_NODE_NET, LISTING_NODE_BLOCK,
                                                 LISTING_NODE_SOUND, LISTING_NODE_GRAPHICS };
        char *text = NULL;
        size_t size = 0, n = 0;
        FILE *f;

        if (!devices || !modules || !nodes || !vtcons)
                return NULL;
        f = open_memstream(&text, &size);
        if (!f)
                return NULL;

        for (size_t i = 0; i < m->n_devices; i++)
                if (m->devices[i].present)
                        devices[n++] = m->devices + i;
        qsort(devices, n, sizeof(SimDevice *), device_ptr_compare);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "device %s driver=%s override=%s\n", devices[i]->addr,
                        devices[i]->driver ? devices[i]->driver->name : "-", devices[i]->driver_override ?: "-");

        n = 0;
        for (size_t i = 0; i < m->n_modules; i++)
                if (m->modules[i]->loaded && !m->modules[i]->builtin)
                        modules[n++] = m->modules[i];
        qsort(modules, n, sizeof(SimModule *), module_ptr_compare);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "module %s refcnt=%zu\n", modules[i]->name, module_holders(m, modules[i]));

        if (m->has_platform)
                fprintf(f, "framebuffer %s bound=%d\n", m->platform.device, m->platform.bound);

        n = 0;
        for (size_t i = 0; i < m->n_vtcons; i++)
                vtcons[n++] = m->vtcons + i;
        qsort(vtcons, n, sizeof(SimVtcon *), vtcon_ptr_compare);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "vtcon %s bind=%d\n", vtcons[i]->name, vtcon_bound(m, vtcons[i]));

        for (size_t i = 0; i < m->n_groups; i++)
                if (m->groups[i] && m->groups[i]->n_vfio > 0)
                        fprintf(f, "vfio %d\n", m->groups[i]->number);

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                n = 0;
                for (size_t i = 0; i < m->n_nodes; i++)
                        if (m->nodes[i].present && m->nodes[i].ln->kind == kinds[k])
                                nodes[n++] = m->nodes + i;
                qsort(nodes, n, sizeof(SimNode *), node_ptr_compare);
                for (size_t i = 0; i < n; i++)
                        fprintf(f, "%s %s\n", listing_node_kind_to_string(kinds[k]), nodes[i]->ln->name);
        }

        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

/* ------------------------------------------------------------------------------------------ */
/* attribute contents */

static void config_space(SimDevice *d, uint8_t c[256]) {
        const ListingDevice *ld = d->ld;
        uint16_t command = d->enabled ? 0x0006 : 0x0000;

        memset(c, 0, 256);
        c[0x00] = ld->vendor & 0xff;
        c[0x01] = ld->vendor >> 8;
        c[0x02] = ld->device & 0xff;
        c[0x03] = ld->device >> 8;
        c[0x04] = command & 0xff;
        c[0x05] = command >> 8;
        c[0x08] = ld->revision;
        c[0x09] = ld->class & 0xff;
        c[0x0a] = (ld->class >> 8) & 0xff;
        c[0x0b] = (ld->class >> 16) & 0xff;
        c[0x0e] = (d->bridge ? 0x01 : 0x00) | (d->multifunction ? 0x80 : 0x00);
        if (d->bridge) {
                c[0x18] = (uint8_t) ld->bus;
        } else {
                c[0x2c] = ld->subsystem_vendor & 0xff;
                c[0x2d] = ld->subsystem_vendor >> 8;
                c[0x2e] = ld->subsystem_device & 0xff;
                c[0x2f] = ld->subsystem_device >> 8;
        }
}

static char *cpumask_string(unsigned ncpus) {
        /* "%*pb": hex, most significant first, comma every 32 bits */
        size_t words = (ncpus + 31) / 32, l = 0;
        char *s = calloc(words * 9 + 2, 1);

        if (!s)
                return NULL;
        for (size_t w = words; w-- > 0;) {
                unsigned bits = ncpus - (unsigned) w * 32 >= 32 ? 32 : ncpus - (unsigned) w * 32;
                uint32_t v = bits == 32 ? 0xffffffffU : ((1U << bits) - 1);

                if (w == words - 1) {
                        unsigned digits = (bits + 3) / 4;
                        l += (size_t) sprintf(s + l, "%0*x", (int) digits, v);
                } else
                        l += (size_t) sprintf(s + l, ",%08x", v);
        }
        s[l++] = '\n';
        return s;
}

static char *resource_string(SimDevice *d) {
        size_t n = d->bridge ? 17 : 7, l = 0;
        const char *line = "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
        size_t ll = strlen(line);
        char *s = malloc(n * ll + 1);

        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++, l += ll)
                memcpy(s + l, line, ll);
        s[l] = 0;
        return s;
}

static char *device_uevent_string(SimDevice *d) {
        const ListingDevice *ld = d->ld;
        _cleanup_free_ char *drv = d->driver ? strdup_printf("DRIVER=%s\n", d->driver->name) : strdup("");

        if (!drv)
                return NULL;
        return strdup_printf("%sPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\nMODALIAS=%s\n",
                             drv, ld->class, ld->vendor, ld->device, ld->subsystem_vendor, ld->subsystem_device,
                             d->addr, d->modalias);
}

static int attr_read(Machine *m, Node *n, char **ret, size_t *ret_size) {
        SimDevice *d = n->obj;
        char *s = NULL;

        switch ((AttrKind) n->kind) {
        case ATTR_TEXT:
                s = strdup(n->text ?: "");
                break;
        case ATTR_DEV_VENDOR:
                s = strdup_printf("0x%04x\n", d->ld->vendor);
                break;
        case ATTR_DEV_DEVICE:
                s = strdup_printf("0x%04x\n", d->ld->device);
                break;
        case ATTR_DEV_SUBSYSTEM_VENDOR:
                s = strdup_printf("0x%04x\n", d->ld->subsystem_vendor);
                break;
        case ATTR_DEV_SUBSYSTEM_DEVICE:
                s = strdup_printf("0x%04x\n", d->ld->subsystem_device);
                break;
        case ATTR_DEV_CLASS:
                s = strdup_printf("0x%06x\n", d->ld->class);
                break;
        case ATTR_DEV_REVISION:
                s = strdup_printf("0x%02x\n", d->ld->revision);
                break;
        case ATTR_DEV_CONFIG: {
                uint8_t *c = malloc(256);
                if (!c)
                        return -ENOMEM;
                config_space(d, c);
                *ret = (char *) c;
                *ret_size = 256;
                return 0;
        }
        case ATTR_DEV_MODALIAS:
                s = strdup_printf("%s\n", d->modalias);
                break;
        case ATTR_DEV_UEVENT:
                s = device_uevent_string(d);
                break;
        case ATTR_DEV_BOOT_VGA:
                s = strdup(d->ld->boot_vga ? "1\n" : "0\n");
                break;
        case ATTR_DEV_RESET_METHOD:
                s = strdup(d->ld->bus == 0 ? "bus\n" : "flr bus\n");
                break;
        case ATTR_DEV_POWER_STATE:
                s = strdup("D0\n");
                break;
        case ATTR_DEV_DRIVER_OVERRIDE:
                s = strdup_printf("%s\n", d->driver_override ?: "(null)");
                break;
        case ATTR_DEV_ENABLE:
                s = strdup(d->enabled ? "1\n" : "0\n");
                break;
        case ATTR_DEV_IRQ:
                s = strdup_printf("%u\n", d->irq);
                break;
        case ATTR_DEV_NUMA_NODE:
                s = strdup_printf("%d\n", d->numa_node);
                break;
        case ATTR_DEV_LOCAL_CPUS:
                s = cpumask_string(m->ncpus);
                break;
        case ATTR_DEV_LOCAL_CPULIST:
                s = m->ncpus > 1 ? strdup_printf("0-%u\n", m->ncpus - 1) : strdup("0\n");
                break;
        case ATTR_DEV_RESOURCE:
                s = resource_string(d);
                break;
        case ATTR_DEV_SRIOV_TOTALVFS:
                s = strdup_printf("%zu\n", d->n_vfs);
                break;
        case ATTR_DEV_SRIOV_NUMVFS:
                s = strdup_printf("%zu\n", d->num_vfs);
                break;
        case ATTR_DEV_SRIOV_OFFSET: {
                unsigned devfn = d->ld->slot << 3 | d->ld->func, vfdevfn;
                const ListingDevice *v = d->vfs[0]->ld;

                vfdevfn = (v->bus - d->ld->bus) * 256 + (v->slot << 3 | v->func);
                s = strdup_printf("%u\n", vfdevfn - devfn);
                break;
        }
        case ATTR_DEV_SRIOV_STRIDE:
                s = strdup("1\n");
                break;
        case ATTR_DEV_SRIOV_VF_DEVICE:
                s = strdup_printf("%x\n", d->vfs[0]->ld->device);
                break;
        case ATTR_DEV_SRIOV_AUTOPROBE:
                s = strdup(d->sriov_autoprobe ? "1\n" : "0\n");
                break;
        case ATTR_BUS_AUTOPROBE:
                s = strdup(m->autoprobe ? "1\n" : "0\n");
                break;
        case ATTR_MOD_REFCNT:
                /* the kernel's module refcount: modules using it and open files of its nodes */
                s = strdup_printf("%zu\n", module_holders(m, n->obj) + module_open_files(m, n->obj));
                break;
        case ATTR_SIM_FAULTS:
                s = faults_read(m);
                break;
        case ATTR_SIM_LATENCY:
                s = latency_read(m);
                break;
        case ATTR_SIM_STATS:
                s = stats_read(m);
                break;
        case ATTR_SIM_SEQNUM:
                s = strdup_printf("%" PRIu64 "\n", m->seqnum);
                break;
        case ATTR_SIM_STATE:
                s = state_read(m);
                break;
        case ATTR_VTCON_BIND:
                s = strdup(vtcon_bound(m, n->obj) ? "1\n" : "0\n");
                break;
        case ATTR_PLAT_UEVENT:
                s = strdup_printf("%sMODALIAS=platform:%s\n",
                                  m->platform.bound ? (streq(m->platform.driver, "efi-framebuffer") ?
                                                       "DRIVER=efi-framebuffer\n" : "DRIVER=simple-framebuffer\n") : "",
                                  m->platform.driver);
                break;
        default:
                return -EACCES;
        }

        if (!s)
                return -ENOMEM;
        *ret = s;
        *ret_size = strlen(s);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* writes */

static ssize_t write_driver_override(Machine *m, SimDevice *d, const char *buf, size_t size) {
        size_t len;
        const char *cp;
        char *new = NULL;
        int r;

        r = fault_check(m, "driver_override", d->addr);
        if (r < 0)
                return r;
        if (!d->present)
                return -ENODEV;

        /* driver_set_override() */
        if (size >= 4096 - 1)
                return -EINVAL;
        len = strnlen(buf, size);
        if (len > 0) {
                cp = memchr(buf, '\n', len);
                if (cp)
                        len = (size_t) (cp - buf);
                if (len > 0) {
                        new = strndup(buf, len);
                        if (!new)
                                return -ENOMEM;
                }
        }
        free(d->driver_override);
        d->driver_override = new;
        return (ssize_t) size;
}

static ssize_t write_bind(Machine *m, SimDriver *drv, const char *buf, size_t size) {
        _cleanup_free_ char *addr = written_string(buf, size);
        SimDevice *d;
        int r;

        if (!addr)
                return -ENOMEM;
        r = fault_check(m, "bind", addr);
        if (r < 0)
                return r;
        if (!drv->registered)
                return -ENODEV;

        d = find_present_device(m, addr);
        if (!d || !driver_matches(drv, d))
                return -ENODEV;
        r = device_bind(m, d, drv);
        if (r < 0)
                return r;
        return (ssize_t) size;
}

static ssize_t write_unbind(Machine *m, SimDriver *drv, const char *buf, size_t size) {
        _cleanup_free_ char *addr = written_string(buf, size);
        SimDevice *d;
        int r;

        if (!addr)
                return -ENOMEM;
        r = fault_check(m, "unbind", addr);
        if (r < 0)
                return r;

        d = find_present_device(m, addr);
        if (!d || d->driver != drv)
                return -ENODEV;
        device_unbind(m, d);
        return (ssize_t) size;
}

static int parse_id_fields(const char *buf, size_t size, DynId *id, size_t *ret_fields) {
        _cleanup_free_ char *s = strndup(buf, size);
        unsigned v[6] = { 0, 0, PCI_ANY_ID, PCI_ANY_ID, 0, 0 };
        unsigned long data = 0;
        int n;

        if (!s)
                return -ENOMEM;
        n = sscanf(s, "%x %x %x %x %x %x %lx", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &data);
        if (n < 2)
                return -EINVAL;
        *id = (DynId) {
                .vendor = v[0], .device = v[1], .subvendor = v[2], .subdevice = v[3],
                .class = v[4], .class_mask = v[5],
        };
        *ret_fields = (size_t) n;
        return 0;
}

static ssize_t write_new_id(Machine *m, SimDriver *drv, const char *buf, size_t size) {
        DynId id, *nd;
        size_t fields;
        int r;

        r = parse_id_fields(buf, size, &id, &fields);
        if (r < 0)
                return r;

        /* Like the kernel: an id the static table already matches is refused. */
        if (fields != 7) {
                char alias[80];

                snprintf(alias, sizeof(alias), "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
                         id.vendor, id.device, id.subvendor, id.subdevice,
                         (id.class >> 16) & 0xff, (id.class >> 8) & 0xff, id.class & 0xff);
                if (static_ids_match(drv, alias))
                        return -EEXIST;
        }

        nd = realloc(drv->dynids, (drv->n_dynids + 1) * sizeof(DynId));
        if (!nd)
                return -ENOMEM;
        drv->dynids = nd;
        drv->dynids[drv->n_dynids++] = id;

        driver_attach(m, drv);
        return (ssize_t) size;
}

static ssize_t write_remove_id(Machine *m, SimDriver *drv, const char *buf, size_t size) {
        DynId id;
        size_t fields;
        int r;

        r = parse_id_fields(buf, size, &id, &fields);
        if (r < 0)
                return r;

        for (size_t i = 0; i < drv->n_dynids; i++) {
                DynId *x = drv->dynids + i;

                if (x->vendor == id.vendor && x->device == id.device &&
                    x->subvendor == id.subvendor && x->subdevice == id.subdevice &&
                    x->class == id.class && x->class_mask == id.class_mask) {
                        memmove(x, x + 1, (drv->n_dynids - i - 1) * sizeof(DynId));
                        drv->n_dynids--;
                        return (ssize_t) size;
                }
        }
        return -ENODEV;
}

static ssize_t write_drivers_probe(Machine *m, const char *buf, size_t size) {
        _cleanup_free_ char *addr = written_string(buf, size);
        SimDevice *d;
        int r;

        if (!addr)
                return -ENOMEM;
        r = fault_check(m, "drivers_probe", addr);
        if (r < 0)
                return r;

        d = find_present_device(m, addr);
        if (!d)
                return -ENODEV;
        device_probe(m, d);
        return (ssize_t) size; /* also when nothing bound, like the kernel */
}

static ssize_t write_remove(Machine *m, SimDevice *d, const char *buf, size_t size) {
        unsigned long v;
        int r;

        r = parse_ulong(buf, size, &v);
        if (r < 0)
                return r;
        r = fault_check(m, "remove", d->addr);
        if (r < 0)
                return r;
        if (v && d->present)
                device_remove(m, d);
        return (ssize_t) size;
}

/* Re-adds removed devices (all, or those on one domain/bus). VFs come back only while their
 * PF is present and has SR-IOV enabled, as a bus scan does not find disabled VFs. */
static void rescan(Machine *m, int domain, int bus) {
        for (size_t i = 0; i < m->n_devices; i++) {
                SimDevice *d = m->devices + i;

                if (d->present)
                        continue;
                if (domain >= 0 && ((int) d->ld->domain != domain || (int) d->ld->bus != bus))
                        continue;
                if (d->pf && (d->vf_disabled || !d->pf->present))
                        continue;
                device_add(m, d);
        }
}

static ssize_t write_rescan(Machine *m, SimDevice *d, const char *buf, size_t size) {
        unsigned long v;
        int r;

        r = parse_ulong(buf, size, &v);
        if (r < 0)
                return r;
        r = fault_check(m, "rescan", d ? d->addr : "bus");
        if (r < 0)
                return r;
        if (v) {
                if (d)
                        rescan(m, (int) d->ld->domain, (int) d->ld->bus);
                else
                        rescan(m, -1, -1);
        }
        return (ssize_t) size;
}

static ssize_t write_sriov_numvfs(Machine *m, SimDevice *d, const char *buf, size_t size) {
        unsigned long v;
        int r;

        r = parse_ulong(buf, size, &v);
        if (r < 0 || v > 0xffff)
                return -EINVAL;
        r = fault_check(m, "sriov_numvfs", d->addr);
        if (r < 0)
                return r;
        if (!d->present)
                return -ENODEV;
        if (v > d->n_vfs)
                return -ERANGE;
        if (v == d->num_vfs)
                return (ssize_t) size;
        if (!d->driver)
                return -ENOENT;
        if (v == 0) {
                sriov_disable(m, d);
                return (ssize_t) size;
        }
        if (d->num_vfs > 0)
                return -EBUSY;
        sriov_enable(m, d, v);
        return (ssize_t) size;
}

static ssize_t write_uevent(Machine *m, SimDevice *d, const char *buf, size_t size) {
        static const char *const actions[] = { "add", "remove", "change", "move", "online", "offline", "bind", "unbind" };
        _cleanup_free_ char *s = written_string(buf, size);
        char *sp;

        if (!s)
                return -ENOMEM;
        sp = s + strcspn(s, " \t");
        *sp = 0;
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(s, actions[i])) {
                        if (d)
                                emit_device(m, d, s, d->driver ? d->driver->name : NULL);
                        return (ssize_t) size;
                }
        return -EINVAL;
}

static ssize_t write_module(Machine *m, bool load, const char *buf, size_t size) {
        _cleanup_free_ char *name = written_string(buf, size);
        SimModule *mod;
        int r;

        if (!name)
                return -ENOMEM;
        for (char *c = name; *c; c++)
                if (*c == '-')
                        *c = '_';
        mod = find_module(m, name);
        if (!mod || mod->builtin)
                return -ENOENT;
        if (load)
                r = module_load(m, mod, false);
        else {
                r = fault_check(m, "unload", mod->name);
                if (r >= 0)
                        r = module_unload(m, mod);
        }
        if (r < 0)
                return r;
        return (ssize_t) size;
}

static void platform_bind_links(Machine *m, bool bind) {
        _cleanup_free_ char *devdir = strdup_printf("/devices/platform/%s", m->platform.device);
        Node *dir = devdir ? tree_lookup(m->tree, devdir) : NULL;

        if (bind) {
                if (dir)
                        tree_add_linkf(m->tree, dir, "driver", "../../../bus/platform/drivers/%s", m->platform.driver);
                tree_add_linkf(m->tree, m->platform.driver_dir, m->platform.device, "../../../../devices/platform/%s",
                               m->platform.device);
        } else {
                if (dir)
                        tree_remove(m->tree, tree_child(m->tree, dir, "driver"));
                tree_remove(m->tree, tree_child(m->tree, m->platform.driver_dir, m->platform.device));
        }
        latency_add(m, bind ? OP_FRAMEBUFFER_BIND : OP_FRAMEBUFFER_UNBIND, m->platform.device);
        m->platform.bound = bind;
        /* its fbN came with the driver's probe / goes with its remove, before the event */
        sync_nodes(m, NULL, true);

        {
                _cleanup_free_ char *devpath = strdup_printf("/devices/platform/%s", m->platform.device);
                _cleanup_free_ char *alias = strdup_printf("MODALIAS=platform:%s", m->platform.driver);
                char *props[] = { alias, NULL };

                if (devpath && alias)
                        emit(m, bind ? "bind" : "unbind", devpath, "platform", m->platform.driver, props);
        }
}

static ssize_t write_platform(Machine *m, bool bind, const char *buf, size_t size) {
        _cleanup_free_ char *name = written_string(buf, size);
        int r;

        if (!name)
                return -ENOMEM;
        /* Before the checks, like the PCI bind/unbind faults: the driver core takes the
         * device lock first. The hang drops the machine lock; m->platform stays valid. */
        r = fault_check(m, bind ? "fb_bind" : "fb_unbind", name);
        if (r < 0)
                return r;
        if (!streq(name, m->platform.device))
                return -ENODEV;
        if (bind && m->platform.bound)
                return -EBUSY;
        if (!bind && !m->platform.bound)
                return -ENODEV;
        platform_bind_links(m, bind);
        return (ssize_t) size;
}

/* store_bind() of drivers/tty/vt/vt.c: a modular console driver (fbcon) is bound to or unbound
 * from the consoles; the system driver cannot be (vt_bind()/vt_unbind() refuse it and store_bind()
 * ignores that): the write succeeds and changes nothing. The kernel parses with simple_strtoul()
 * and never fails; anything but a number is refused here (EINVAL). */
static ssize_t write_vtcon_bind(Machine *m, SimVtcon *v, const char *buf, size_t size) {
        unsigned long value;
        int r;

        r = parse_ulong(buf, size, &value);
        if (r < 0)
                return r;
        r = fault_check(m, "vtcon_bind", v->name);
        if (r < 0)
                return r;
        if (v->lv->kind == LISTING_VTCON_FB && v->bound != (value != 0)) {
                latency_add(m, OP_VTCON_BIND, v->name);
                v->bound = value != 0;
        }
        return (ssize_t) size;
}

/* What a write to an attribute is, for the stats; _OP_INVALID for the simulator's own files
 * (faults, release, latency, stats: not kernel operations). */
static SimOp attr_op(AttrKind kind) {
        switch (kind) {
        case ATTR_DRV_BIND:
                return OP_BIND;
        case ATTR_DRV_UNBIND:
                return OP_UNBIND;
        case ATTR_SIM_LOAD_MODULE:
                return OP_LOAD;
        case ATTR_SIM_UNLOAD_MODULE:
                return OP_UNLOAD;
        case ATTR_VTCON_BIND:
                return OP_VTCON_BIND;
        case ATTR_PLAT_BIND:
                return OP_FRAMEBUFFER_BIND;
        case ATTR_PLAT_UNBIND:
                return OP_FRAMEBUFFER_UNBIND;
        case ATTR_DEV_DRIVER_OVERRIDE:
                return OP_DRIVER_OVERRIDE;
        case ATTR_BUS_DRIVERS_PROBE:
                return OP_DRIVERS_PROBE;
        case ATTR_DEV_REMOVE:
                return OP_REMOVE;
        case ATTR_DEV_RESCAN:
        case ATTR_BUS_RESCAN:
                return OP_RESCAN;
        case ATTR_DEV_SRIOV_NUMVFS:
                return OP_SRIOV_NUMVFS;
        case ATTR_DRV_NEW_ID:
                return OP_NEW_ID;
        case ATTR_DRV_REMOVE_ID:
                return OP_REMOVE_ID;
        case ATTR_SIM_FAULTS:
        case ATTR_SIM_RELEASE:
        case ATTR_SIM_LATENCY:
        case ATTR_SIM_STATS:
                return _OP_INVALID;
        default:
                return OP_OTHER;
        }
}

static ssize_t attr_write(Machine *m, AttrKind kind, void *obj, const char *buf, size_t size) {
        SimDevice *d = obj;
        unsigned long v;
        bool b;
        int r;

        switch (kind) {
        case ATTR_DEV_DRIVER_OVERRIDE:
                return write_driver_override(m, d, buf, size);
        case ATTR_DEV_REMOVE:
                return write_remove(m, d, buf, size);
        case ATTR_DEV_RESCAN:
                return write_rescan(m, d, buf, size);
        case ATTR_DEV_UEVENT:
                return write_uevent(m, d, buf, size);
        case ATTR_DEV_ENABLE:
                r = parse_bool(buf, size, &b);
                if (r < 0)
                        return r;
                d->enabled = b;
                return (ssize_t) size;
        case ATTR_DEV_RESET:
                r = parse_ulong(buf, size, &v);
                if (r < 0)
                        return r;
                return (ssize_t) size;
        case ATTR_DEV_RESET_METHOD:
        case ATTR_DEV_CONFIG:
                return (ssize_t) size; /* accepted, no effect */
        case ATTR_DEV_NUMA_NODE: {
                _cleanup_free_ char *s = written_string(buf, size);
                char *end;
                long n;

                if (!s)
                        return -ENOMEM;
                errno = 0;
                n = strtol(s, &end, 0);
                if (errno != 0 || *end != 0 || end == s || n < -1 || n > 1023)
                        return -EINVAL;
                d->numa_node = (int) n;
                return (ssize_t) size;
        }
        case ATTR_DEV_SRIOV_NUMVFS:
                return write_sriov_numvfs(m, d, buf, size);
        case ATTR_DEV_SRIOV_AUTOPROBE:
                r = parse_bool(buf, size, &b);
                if (r < 0)
                        return r;
                d->sriov_autoprobe = b;
                return (ssize_t) size;

        case ATTR_DRV_BIND:
                return write_bind(m, obj, buf, size);
        case ATTR_DRV_UNBIND:
                return write_unbind(m, obj, buf, size);
        case ATTR_DRV_NEW_ID:
                return write_new_id(m, obj, buf, size);
        case ATTR_DRV_REMOVE_ID:
                return write_remove_id(m, obj, buf, size);
        case ATTR_DRV_UEVENT:
        case ATTR_BUS_UEVENT:
                return write_uevent(m, NULL, buf, size);

        case ATTR_BUS_DRIVERS_PROBE:
                return write_drivers_probe(m, buf, size);
        case ATTR_BUS_RESCAN:
                return write_rescan(m, NULL, buf, size);
        case ATTR_BUS_AUTOPROBE:
                r = parse_bool(buf, size, &b);
                if (r < 0)
                        return r;
                m->autoprobe = b;
                return (ssize_t) size;

        case ATTR_SIM_FAULTS:
                return faults_write(m, buf, size);
        case ATTR_SIM_LATENCY:
                return latency_write(m, buf, size);
        case ATTR_SIM_STATS:
                return stats_write(m, buf, size);
        case ATTR_SIM_RELEASE:
                m->release_generation++;
                pthread_cond_broadcast(&m->cond);
                return (ssize_t) size;
        case ATTR_SIM_LOAD_MODULE:
                return write_module(m, true, buf, size);
        case ATTR_SIM_UNLOAD_MODULE:
                return write_module(m, false, buf, size);

        case ATTR_PLAT_BIND:
                return write_platform(m, true, buf, size);
        case ATTR_PLAT_UNBIND:
                return write_platform(m, false, buf, size);

        case ATTR_VTCON_BIND:
                return write_vtcon_bind(m, obj, buf, size);

        default:
                return -EACCES;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* construction */

static int build_static_tree(Machine *m) {
        Tree *t = m->tree;
        Node *pci, *kernel, *sim;

        pci = tree_mkdir_p(t, "/bus/pci");
        if (!pci)
                return -errno;
        tree_add_dir(t, pci, "devices");
        tree_add_dir(t, pci, "drivers");
        tree_add_dir(t, pci, "slots");
        add_file(m, pci, "drivers_probe", 0200, ATTR_BUS_DRIVERS_PROBE, NULL);
        add_file(m, pci, "rescan", 0200, ATTR_BUS_RESCAN, NULL);
        add_file(m, pci, "drivers_autoprobe", 0644, ATTR_BUS_AUTOPROBE, NULL);
        add_file(m, pci, "uevent", 0200, ATTR_BUS_UEVENT, NULL);
        tree_add_text(t, pci, "resource_alignment", 0644, "\n");

        if (!tree_mkdir_p(t, "/devices/system/cpu") ||
            !tree_mkdir_p(t, "/devices/virtual") ||
            !tree_mkdir_p(t, "/module") ||
            !tree_mkdir_p(t, "/class/iommu") ||
            !tree_mkdir_p(t, "/class/drm") ||
            !tree_mkdir_p(t, "/class/net") ||
            !tree_mkdir_p(t, "/class/block") ||
            !tree_mkdir_p(t, "/class/sound") ||
            !tree_mkdir_p(t, "/class/graphics") ||
            !tree_mkdir_p(t, "/class/vtconsole") ||
            !tree_mkdir_p(t, "/kernel/iommu_groups") ||
            !tree_mkdir_p(t, "/firmware") ||
            !tree_mkdir_p(t, "/fs") ||
            !tree_mkdir_p(t, "/power") ||
            !tree_mkdir_p(t, "/dev/char") ||
            !tree_mkdir_p(t, "/dev/block") ||
            !tree_mkdir_p(t, "/block"))
                return -errno;

        kernel = tree_lookup(t, "/kernel");
        add_file(m, kernel, "uevent_seqnum", 0444, ATTR_SIM_SEQNUM, NULL);

        sim = tree_add_dir(t, kernel, "pcisim");
        if (!sim)
                return -errno;
        add_file(m, sim, "faults", 0644, ATTR_SIM_FAULTS, NULL);
        add_file(m, sim, "release", 0200, ATTR_SIM_RELEASE, NULL);
        add_file(m, sim, "seqnum", 0444, ATTR_SIM_SEQNUM, NULL);
        add_file(m, sim, "load_module", 0200, ATTR_SIM_LOAD_MODULE, NULL);
        add_file(m, sim, "unload_module", 0200, ATTR_SIM_UNLOAD_MODULE, NULL);
        add_file(m, sim, "state", 0444, ATTR_SIM_STATE, NULL);
        add_file(m, sim, "latency", 0644, ATTR_SIM_LATENCY, NULL);
        add_file(m, sim, "stats", 0644, ATTR_SIM_STATS, NULL);

        /* IOMMU */
        if (m->listing->iommu == LISTING_IOMMU_AMD) {
                Node *d = tree_mkdir_p(t, "/devices/virtual/iommu/ivhd0/amd-iommu");

                if (!d)
                        return -errno;
                tree_add_text(t, d, "cap", 0444, "0x190b3\n");
                tree_add_text(t, d, "features", 0444, "58f77ef22294a5a\n");
                tree_add_text(t, d->parent, "uevent", 0644, "");
                tree_add_link(t, tree_lookup(t, "/class/iommu"), "ivhd0", "../../devices/virtual/iommu/ivhd0");
        } else if (m->listing->iommu == LISTING_IOMMU_INTEL) {
                Node *d = tree_mkdir_p(t, "/devices/virtual/iommu/dmar0/intel-iommu");

                if (!d)
                        return -errno;
                tree_add_text(t, d, "cap", 0444, "d2008c40660462\n");
                tree_add_text(t, d, "ecap", 0444, m->listing->interrupt_remapping ? "f050da\n" : "f050d2\n");
                tree_add_text(t, d, "version", 0444, "1:0\n");
                tree_add_text(t, d, "address", 0444, "fed90000\n");
                tree_add_text(t, d->parent, "uevent", 0644, "");
                tree_add_link(t, tree_lookup(t, "/class/iommu"), "dmar0", "../../devices/virtual/iommu/dmar0");
        }

        /* Firmware framebuffer */
        if (m->listing->framebuffer != LISTING_FRAMEBUFFER_NONE) {
                bool efi = m->listing->framebuffer == LISTING_FRAMEBUFFER_EFI;
                Node *dev, *drv, *bdevs;

                m->has_platform = true;
                m->platform.device = efi ? "efi-framebuffer.0" : "simple-framebuffer.0";
                m->platform.driver = efi ? "efi-framebuffer" : "simple-framebuffer";

                dev = tree_mkdir_p(t, efi ? "/devices/platform/efi-framebuffer.0" : "/devices/platform/simple-framebuffer.0");
                bdevs = tree_mkdir_p(t, "/bus/platform/devices");
                drv = tree_mkdir_p(t, efi ? "/bus/platform/drivers/efi-framebuffer" : "/bus/platform/drivers/simple-framebuffer");
                if (!dev || !bdevs || !drv)
                        return -errno;
                add_file(m, dev, "uevent", 0644, ATTR_PLAT_UEVENT, NULL);
                {
                        _cleanup_free_ char *alias = strdup_printf("platform:%s\n", m->platform.driver);
                        if (!alias)
                                return -ENOMEM;
                        tree_add_text(t, dev, "modalias", 0444, alias);
                }
                tree_add_text(t, dev, "driver_override", 0644, "(null)\n");
                tree_add_link(t, dev, "subsystem", "../../../bus/platform");
                tree_add_linkf(t, bdevs, m->platform.device, "../../../devices/platform/%s", m->platform.device);
                add_file(m, drv, "bind", 0200, ATTR_PLAT_BIND, NULL);
                add_file(m, drv, "unbind", 0200, ATTR_PLAT_UNBIND, NULL);
                tree_add_text(t, drv, "uevent", 0200, "");
                m->platform.driver_dir = drv;

                tree_add_linkf(t, dev, "driver", "../../../bus/platform/drivers/%s", m->platform.driver);
                tree_add_linkf(t, drv, m->platform.device, "../../../../devices/platform/%s", m->platform.device);
                m->platform.bound = true;
        }

        /* Console drivers (register_con_driver(): vtconN below /devices/virtual/vtconsole) */
        for (size_t i = 0; i < m->n_vtcons; i++) {
                SimVtcon *v = m->vtcons + i;
                _cleanup_free_ char *path = strdup_printf("/devices/virtual/vtconsole/%s", v->name);
                bool fb = v->lv->kind == LISTING_VTCON_FB;
                Node *d = path ? tree_mkdir_p(t, path) : NULL;

                if (!d)
                        return path ? -errno : -ENOMEM;
                tree_add_text(t, d, "name", 0444, fb ? "(M) frame buffer device\n" : "(S) dummy device\n");
                add_file(m, d, "bind", 0644, ATTR_VTCON_BIND, v);
                tree_add_text(t, d, "uevent", 0644, "");
                tree_add_link_to(t, d, "subsystem", "/class/vtconsole");
                tree_add_link_to(t, tree_lookup(t, "/class/vtconsole"), v->name, path);
        }

        return 0;
}

static int setup_modules(Machine *m) {
        static const char *const vfio_pci_deps[] = { "vfio", "vfio_iommu_type1", NULL };
        SimModule *mod;
        int r;

        /* Drivers from the listing, each with one alias per vendor:device it drives */
        for (size_t i = 0; i < m->n_devices; i++) {
                const ListingDevice *ld = m->devices[i].ld;
                _cleanup_free_ char *modname = NULL;
                char alias[64];

                if (!ld->driver)
                        continue;
                r = listing_driver_module(ld->driver, &modname);
                if (r < 0)
                        return r;
                mod = module_get(m, modname ?: ld->driver, !modname);
                if (!mod || !driver_get(m, ld->driver, mod))
                        return -ENOMEM;
                if (streq(ld->driver, "vfio-pci"))
                        continue; /* vfio-pci matches through driver_override only */
                snprintf(alias, sizeof(alias), "pci:v%08Xd%08Xsv*sd*bc*sc*i*", ld->vendor, ld->device);
                if (strv_push_unique(&mod->aliases, &mod->n_aliases, alias) < 0)
                        return -ENOMEM;
        }

        /* vfio-pci and what it depends on, present as modules in any case */
        mod = module_get(m, "vfio_pci", false);
        if (!mod || !driver_get(m, "vfio-pci", mod))
                return -ENOMEM;
        mod->depends = vfio_pci_deps;
        if (strv_push_unique(&mod->aliases, &mod->n_aliases, "vfio_pci:v*d*sv*sd*bc*sc*i*") < 0)
                return -ENOMEM;
        if (!module_get(m, "vfio", false) || !module_get(m, "vfio_iommu_type1", false))
                return -ENOMEM;

        /* "# modules" extras */
        for (size_t i = 0; i < m->listing->n_modules; i++) {
                const ListingModuleAlias *a = m->listing->modules + i;

                mod = module_get(m, a->module, false);
                if (!mod)
                        return -ENOMEM;
                if (mod->n_drivers == 0 && !driver_get(m, a->module, mod))
                        return -ENOMEM;
                if (strv_push_unique(&mod->aliases, &mod->n_aliases, a->pattern) < 0)
                        return -ENOMEM;
        }

        /* "# module_deps": what each module depends on; a dependency nothing else names is a
         * module driving nothing */
        for (size_t i = 0; i < m->listing->n_module_deps; i++) {
                const ListingModuleItems *d = m->listing->module_deps + i;

                mod = module_get(m, d->module, false);
                if (!mod)
                        return -ENOMEM;
                mod->depends = (const char *const *) d->items;
                for (size_t k = 0; k < d->n_items; k++)
                        if (!module_get(m, d->items[k], false))
                                return -ENOMEM;
        }

        /* "# module_nodes" */
        for (size_t i = 0; i < m->listing->n_module_nodes; i++) {
                const ListingModuleItems *d = m->listing->module_nodes + i;

                mod = find_module(m, d->module);
                if (!mod)
                        return -ENOENT; /* the parser checks that it is one */
                mod->nodes = d->items;
        }

        /* Loaded at boot: whatever drives a device, and the modules "# module_deps" describes */
        for (size_t i = 0; i < m->n_devices; i++) {
                const ListingDevice *ld = m->devices[i].ld;
                SimDriver *drv;

                if (!ld->driver)
                        continue;
                drv = find_driver(m, ld->driver);
                r = module_load(m, drv->module, true);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < m->listing->n_module_deps; i++) {
                r = module_load(m, find_module(m, m->listing->module_deps[i].module), true);
                if (r < 0)
                        return r;
        }
        return 0;
}

int machine_new(Machine **ret, Listing *listing) {
        Machine *m;
        long ncpus;
        int max_group = -1, r;

        m = calloc(1, sizeof(Machine));
        if (!m) {
                listing_free(listing);
                return -ENOMEM;
        }
        pthread_mutex_init(&m->lock, NULL);
        {
                /* latency sleeps wait on it with a deadline on the monotonic clock */
                pthread_condattr_t attr;

                pthread_condattr_init(&attr);
                pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                pthread_cond_init(&m->cond, &attr);
                pthread_condattr_destroy(&attr);
        }
        m->listing = listing;
        m->dev_fd = m->vfio_fd = m->dri_fd = m->snd_fd = -1;
        m->autoprobe = true;
        m->seqnum = 999;
        ncpus = sysconf(_SC_NPROCESSORS_CONF);
        m->ncpus = ncpus > 0 ? (unsigned) ncpus : 1;

        r = tree_new(&m->tree);
        if (r < 0)
                goto fail;

        m->n_devices = listing->n_devices;
        m->devices = calloc(m->n_devices, sizeof(SimDevice));
        if (!m->devices) {
                r = -ENOMEM;
                goto fail;
        }

        for (size_t i = 0; i < m->n_devices; i++) {
                SimDevice *d = m->devices + i;
                const ListingDevice *ld = listing->devices + i;

                d->ld = ld;
                snprintf(d->addr, sizeof(d->addr), "%04x:%02x:%02x.%x", ld->domain, ld->bus, ld->slot, ld->func);
                snprintf(d->root, sizeof(d->root), "pci%04x:00", ld->domain);
                d->devpath = strdup_printf("/devices/%s/%s", d->root, d->addr);
                if (!d->devpath) {
                        r = -ENOMEM;
                        goto fail;
                }
                snprintf(d->modalias, sizeof(d->modalias), "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
                         ld->vendor, ld->device, ld->subsystem_vendor, ld->subsystem_device,
                         (ld->class >> 16) & 0xff, (ld->class >> 8) & 0xff, ld->class & 0xff);
                d->bridge = (ld->class >> 8) == 0x0604;
                d->numa_node = -1;
                d->irq = d->bridge ? 0 : 24 + (unsigned) (i % 200);
                d->sriov_autoprobe = true;
                d->present = true;
                if (ld->group > max_group)
                        max_group = ld->group;

                /* multi-function: another function in the same slot */
                for (unsigned f = 0; f < 8 && !d->multifunction; f++)
                        if (f != ld->func && listing_find(listing, ld->domain, ld->bus, ld->slot, f) >= 0)
                                d->multifunction = true;
        }

        /* SR-IOV relations */
        for (size_t i = 0; i < m->n_devices; i++) {
                SimDevice *d = m->devices + i, *pf, **nv;

                if (d->ld->physfn < 0)
                        continue;
                pf = m->devices + d->ld->physfn;
                nv = realloc(pf->vfs, (pf->n_vfs + 1) * sizeof(SimDevice *));
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                pf->vfs = nv;
                d->pf = pf;
                d->vf_index = pf->n_vfs;
                pf->vfs[pf->n_vfs++] = d;
                pf->num_vfs = pf->n_vfs;
        }

        /* Groups */
        if (listing->iommu != LISTING_IOMMU_NONE && max_group >= 0) {
                m->n_groups = (size_t) max_group + 1;
                m->groups = calloc(m->n_groups, sizeof(SimGroup *));
                if (!m->groups) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < m->n_devices; i++) {
                        int g = listing->devices[i].group;

                        if (g < 0)
                                continue;
                        if (!m->groups[g]) {
                                m->groups[g] = calloc(1, sizeof(SimGroup));
                                if (!m->groups[g]) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                                m->groups[g]->number = g;
                        }
                        m->devices[i].group = m->groups[g];
                }
        }

        /* Class devices: drm minors are known now, block devices once machine_resolve_block() ran */
        if (listing->n_nodes > 0) {
                m->nodes = calloc(listing->n_nodes, sizeof(SimNode));
                if (!m->nodes) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->n_nodes = listing->n_nodes;
                for (size_t i = 0; i < m->n_nodes; i++) {
                        const ListingNode *ln = listing->nodes + i;

                        m->nodes[i] = (SimNode) {
                                .ln = ln,
                                .device = ln->device >= 0 ? m->devices + ln->device : NULL,
                                .major = ln->kind == LISTING_NODE_DRM ? 226 :
                                         ln->kind == LISTING_NODE_SOUND ? 116 :
                                         ln->kind == LISTING_NODE_GRAPHICS ? 29 : 0,
                                .minor = ln->minor,
                                .resolved = ln->kind != LISTING_NODE_BLOCK,
                        };
                }
        }

        /* Console drivers: fbcon bound to the consoles at boot */
        if (listing->n_vtcons > 0) {
                m->vtcons = calloc(listing->n_vtcons, sizeof(SimVtcon));
                if (!m->vtcons) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->n_vtcons = listing->n_vtcons;
                for (size_t i = 0; i < m->n_vtcons; i++) {
                        m->vtcons[i].lv = listing->vtcons + i;
                        m->vtcons[i].bound = listing->vtcons[i].kind == LISTING_VTCON_FB;
                        snprintf(m->vtcons[i].name, sizeof(m->vtcons[i].name), "vtcon%u", listing->vtcons[i].number);
                }
        }

        r = build_static_tree(m);
        if (r < 0)
                goto fail;

        r = setup_modules(m);
        if (r < 0)
                goto fail;

        /* Boot state: bound as the listing says. */
        for (size_t i = 0; i < m->n_devices; i++) {
                SimDevice *d = m->devices + i;

                if (d->ld->driver) {
                        d->driver = find_driver(m, d->ld->driver);
                        d->enabled = !streq(d->ld->driver, "vfio-pci");
                        if (is_vfio_pci(d->driver))
                                vfio_group_get(m, d->group); /* the file comes with machine_set_devfs() */
                }
                r = device_add_nodes(m, d);
                if (r < 0)
                        goto fail;
                sync_nodes(m, d, false);
        }
        sync_nodes(m, NULL, false); /* the platform framebuffer's fbN */

        *ret = m;
        return 0;

fail:
        machine_free(m);
        return r;
}

Machine *machine_free(Machine *m) {
        if (!m)
                return NULL;

        faults_clear(m);
        latencies_clear(m);
        for (size_t i = 0; i < m->n_devices; i++) {
                free(m->devices[i].devpath);
                free(m->devices[i].driver_override);
                free(m->devices[i].vfs);
        }
        free(m->devices);
        for (size_t i = 0; i < m->n_drivers; i++) {
                free(m->drivers[i]->name);
                free(m->drivers[i]->dynids);
                free(m->drivers[i]);
        }
        free(m->drivers);
        for (size_t i = 0; i < m->n_modules; i++) {
                for (size_t k = 0; k < m->modules[i]->n_aliases; k++)
                        free(m->modules[i]->aliases[k]);
                free(m->modules[i]->aliases);
                free(m->modules[i]->drivers);
                free(m->modules[i]->name);
                free(m->modules[i]);
        }
        free(m->modules);
        for (size_t i = 0; i < m->n_groups; i++)
                free(m->groups[i]);
        free(m->groups);
        free(m->nodes);
        free(m->vtcons);
        for (size_t i = 0; i < m->n_dev_files; i++)
                free(m->dev_files[i].path);
        free(m->dev_files);
        closep(&m->dev_fd);
        closep(&m->vfio_fd);
        closep(&m->dri_fd);
        closep(&m->snd_fd);
        free(m->fake_modules);
        tree_free(m->tree);
        uevent_free(m->uevent);
        listing_free(m->listing);
        pthread_mutex_destroy(&m->lock);
        pthread_cond_destroy(&m->cond);
        free(m);
        return NULL;
}

void machine_set_uevent(Machine *m, Uevent *u) {
        pthread_mutex_lock(&m->lock);
        uevent_free(m->uevent);
        m->uevent = u;
        pthread_mutex_unlock(&m->lock);
}

int machine_fake_modules(Machine *m, FakeModule **ret, size_t *ret_n) {
        size_t n = 0;

        free(m->fake_modules);
        m->fake_modules = calloc(m->n_modules, sizeof(FakeModule));
        if (!m->fake_modules)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_modules; i++) {
                SimModule *mod = m->modules[i];

                if (mod->builtin)
                        continue;
                m->fake_modules[n++] = (FakeModule) {
                        .name = mod->name,
                        .aliases = mod->aliases,
                        .n_aliases = mod->n_aliases,
                        .depends = mod->depends,
                };
        }
        *ret = m->fake_modules;
        *ret_n = n;
        return 0;
}

void machine_set_devfs(Machine *m, int dev_fd, int vfio_fd, int dri_fd, int snd_fd) {
        char name[16];

        pthread_mutex_lock(&m->lock);
        closep(&m->dev_fd);
        closep(&m->vfio_fd);
        closep(&m->dri_fd);
        closep(&m->snd_fd);
        m->dev_fd = dev_fd;
        m->vfio_fd = vfio_fd;
        m->dri_fd = dri_fd;
        m->snd_fd = snd_fd;

        devfs_create(m, m->vfio_fd, "vfio", 0666, NULL);
        for (size_t i = 0; i < m->n_groups; i++)
                if (m->groups[i] && m->groups[i]->n_vfio > 0) {
                        snprintf(name, sizeof(name), "%d", m->groups[i]->number);
                        devfs_create(m, m->vfio_fd, name, 0600, NULL);
                }
        for (size_t i = 0; i < m->n_nodes; i++)
                if (m->nodes[i].present && node_dev_dir(m, m->nodes + i) >= 0)
                        devfs_create(m, node_dev_dir(m, m->nodes + i), m->nodes[i].ln->name, 0666, node_owner(m->nodes + i));
        for (size_t i = 0; i < m->n_modules; i++)
                if (m->modules[i]->loaded)
                        module_nodes_create(m, m->modules[i]);
        pthread_mutex_unlock(&m->lock);
}

static int resolve_block(Machine *m, char **ret_error) {
        const char *file = m->listing->filename;

        for (size_t i = 0; i < m->n_nodes; i++) {
                SimNode *n = m->nodes + i;
                struct stat st;

                if (n->ln->kind != LISTING_NODE_BLOCK || n->resolved)
                        continue;
                if (stat(n->ln->path, &st) < 0) {
                        int r = -errno;

                        *ret_error = strdup_printf("%s:%u: Failed to stat %s in section 'block': %s", file, n->ln->line,
                                                   n->ln->path, strerror(-r));
                        return r;
                }
                if (major(st.st_dev) == 0) {
                        *ret_error = strdup_printf("%s:%u: %s in section 'block' is not on a block device (its file system "
                                                   "is on %u:%u, like tmpfs, overlay or btrfs)", file, n->ln->line,
                                                   n->ln->path, major(st.st_dev), minor(st.st_dev));
                        return -EINVAL;
                }
                for (size_t k = 0; k < i; k++) {
                        const SimNode *o = m->nodes + k;

                        if (o->ln->kind == LISTING_NODE_BLOCK && o->major == major(st.st_dev) &&
                            o->minor == minor(st.st_dev)) {
                                *ret_error = strdup_printf("%s:%u: %s in section 'block' is on %u:%u like %s (%s) on line %u",
                                                           file, n->ln->line, n->ln->path, o->major, o->minor,
                                                           o->ln->path, o->ln->name, o->ln->line);
                                return -EINVAL;
                        }
                }
                n->major = major(st.st_dev);
                n->minor = minor(st.st_dev);
                n->resolved = true;
        }

        for (size_t i = 0; i < m->n_nodes; i++)
                if (m->nodes[i].ln->kind == LISTING_NODE_BLOCK)
                        sync_nodes(m, m->nodes[i].device, false);
        return 0;
}

int machine_resolve_block(Machine *m, char **ret_error) {
        int r;

        pthread_mutex_lock(&m->lock);
        r = resolve_block(m, ret_error);
        pthread_mutex_unlock(&m->lock);
        return r;
}

char *machine_proc_cmdline(Machine *m) {
        return strdup_printf("%s\n", m->listing->cmdline);
}

char *machine_proc_interrupts(Machine *m) {
        bool ir = m->listing->interrupt_remapping && m->listing->iommu != LISTING_IOMMU_NONE;
        const char *ioapic = ir ? "IR-IO-APIC" : "IO-APIC";
        const char *msi = ir ? "IR-PCI-MSI" : "PCI-MSI";
        unsigned ncpus = m->ncpus > 8 ? 8 : m->ncpus;
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return NULL;

        fprintf(f, "    ");
        for (unsigned c = 0; c < ncpus; c++)
                fprintf(f, "       CPU%-3u", c);
        fprintf(f, "\n");

#define LINE(irq, chip, hw, name)                                               \
        do {                                                                    \
                fprintf(f, "%4s: ", irq);                                       \
                for (unsigned c = 0; c < ncpus; c++)                            \
                        fprintf(f, "%10u ", c == 0 ? 17u : 0u);                 \
                fprintf(f, " %-18s %-11s %s\n", chip, hw, name);                \
        } while (0)

        LINE("0", ioapic, "2-edge", "timer");
        LINE("1", ioapic, "1-edge", "i8042");
        LINE("8", ioapic, "8-edge", "rtc0");
        LINE("9", ioapic, "9-fasteoi", "acpi");

        if (m->listing->iommu == LISTING_IOMMU_AMD)
                LINE("23", "PCI-MSI-0000:00:00.2", "0-edge", "AMD-Vi");
        else if (m->listing->iommu == LISTING_IOMMU_INTEL)
                LINE("23", "DMAR-MSI", "0-edge", "dmar0");

        for (size_t i = 0; i < m->n_devices; i++) {
                SimDevice *d = m->devices + i;
                char irq[16], chip[64];

                if (!d->driver || streq(d->driver->name, "vfio-pci"))
                        continue;
                snprintf(irq, sizeof(irq), "%zu", 24 + i);
                snprintf(chip, sizeof(chip), "%s-%s", msi, d->addr);
                LINE(irq, chip, "0-edge", d->bridge ? "PCIe PME" : d->driver->name);
        }
#undef LINE

        fprintf(f, " NMI: ");
        for (unsigned c = 0; c < ncpus; c++)
                fprintf(f, "%10u ", 0u);
        fprintf(f, "  Non-maskable interrupts\n");
        fprintf(f, " LOC: ");
        for (unsigned c = 0; c < ncpus; c++)
                fprintf(f, "%10u ", 12345u);
        fprintf(f, "  Local timer interrupts\n");
        fprintf(f, " ERR:          0\n MIS:          0\n");

        if (fclose(f) != 0)
                return NULL;
        return text;
}

int machine_module_insert(Machine *m, const char *name, machine_valid_t still_valid, void *userdata) {
        uint64_t start = now_ns();
        SimModule *mod;
        int r;

        latency_owed_ns = 0;
        pthread_mutex_lock(&m->lock);
        mod = find_module(m, name);
        if (m->exiting)
                r = -ENOSYS; /* what callers get once the listener is closed */
        else if (!mod || mod->builtin)
                r = -ENOEXEC; /* not one of the simulated modules: the kernel could not load it either */
        else {
                r = fault_check(m, "load", mod->name);
                if (r == -EINTR && m->exiting)
                        r = -ENOSYS;
                else if (r >= 0 && still_valid && !still_valid(userdata))
                        r = -ECANCELED;
                else if (r >= 0)
                        r = module_insert(m, mod, false);
        }
        op_finish(m, OP_LOAD, start);
        pthread_mutex_unlock(&m->lock);
        return r;
}

int machine_module_delete(Machine *m, const char *name, machine_valid_t still_valid, void *userdata) {
        uint64_t start = now_ns();
        SimModule *mod;
        int r;

        latency_owed_ns = 0;
        pthread_mutex_lock(&m->lock);
        mod = find_module(m, name);
        if (m->exiting)
                r = -ENOSYS; /* what callers get once the listener is closed */
        else if (!mod || mod->builtin)
                r = -ENOENT; /* built-in modules are not in the kernel's module list */
        else {
                r = fault_check(m, "unload", mod->name);
                if (r == -EINTR && m->exiting)
                        r = -ENOSYS;
                else if (r >= 0 && still_valid && !still_valid(userdata))
                        r = -ECANCELED;
                else if (r >= 0 && !mod->loaded)
                        r = -ENOENT;
                else if (r >= 0 && module_holders(m, mod) > 0)
                        r = -EWOULDBLOCK; /* delete_module(): "other modules depend on us" */
                else if (r >= 0 && module_open_files(m, mod) > 0)
                        r = -EWOULDBLOCK; /* try_stop_module(): references held (open files) */
                else if (r >= 0)
                        r = module_unload(m, mod);
        }
        op_finish(m, OP_UNLOAD, start);
        pthread_mutex_unlock(&m->lock);
        return r;
}

void machine_shutdown(Machine *m) {
        pthread_mutex_lock(&m->lock);
        m->exiting = true;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* FUSE-facing */

static void fill_stat(const Node *n, struct stat *st) {
        *st = (struct stat) {
                .st_ino = n->ino,
                .st_nlink = n->type == NODE_DIR ? 2 : 1,
                .st_uid = 0,
                .st_gid = 0,
                .st_blksize = 4096,
        };
        switch (n->type) {
        case NODE_DIR:
                st->st_mode = S_IFDIR | 0755;
                break;
        case NODE_LINK:
                st->st_mode = S_IFLNK | 0777;
                st->st_size = (off_t) strlen(n->target);
                break;
        case NODE_FILE:
                st->st_mode = S_IFREG | n->mode;
                st->st_size = n->size;
                break;
        }
}

int machine_getattr(Machine *m, const char *path, struct stat *ret) {
        Node *n;
        int r = 0;

        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (n)
                fill_stat(n, ret);
        else
                r = -ENOENT;
        pthread_mutex_unlock(&m->lock);
        return r;
}

int machine_readlink(Machine *m, const char *path, char *buf, size_t size) {
        Node *n;
        int r = 0;

        if (size == 0)
                return -EINVAL;

        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (!n)
                r = -ENOENT;
        else if (n->type != NODE_LINK)
                r = -EINVAL;
        else {
                strncpy(buf, n->target, size - 1);
                buf[size - 1] = 0;
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

int machine_readdir(Machine *m, const char *path, machine_fill_t fill, void *userdata) {
        Node *n;
        int r = 0;

        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (!n)
                r = -ENOENT;
        else if (n->type != NODE_DIR)
                r = -ENOTDIR;
        else {
                struct stat st;

                fill_stat(n, &st);
                fill(userdata, ".", &st);
                if (n->parent)
                        fill_stat(n->parent, &st);
                fill(userdata, "..", &st);
                for (Node *c = n->first_child; c; c = c->next_sibling) {
                        fill_stat(c, &st);
                        if (fill(userdata, c->name, &st) != 0)
                                break;
                }
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

int machine_open(Machine *m, const char *path, int flags) {
        int acc = flags & O_ACCMODE;
        Node *n;
        int r = 0;

        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (!n)
                r = -ENOENT;
        else if (n->type == NODE_DIR)
                r = acc == O_RDONLY ? 0 : -EISDIR;
        else if (n->type != NODE_FILE)
                r = -ELOOP;
        else if ((acc == O_RDONLY || acc == O_RDWR) && !(n->mode & 0444))
                r = -EACCES;
        else if ((acc == O_WRONLY || acc == O_RDWR) && !(n->mode & 0222))
                r = -EACCES;
        pthread_mutex_unlock(&m->lock);
        return r;
}

int machine_read(Machine *m, const char *path, char **ret_data, size_t *ret_size) {
        Node *n;
        int r;

        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (!n)
                r = -ENODEV; /* the kernel's answer for an attribute of a removed device */
        else if (n->type != NODE_FILE)
                r = -EISDIR;
        else if (!(n->mode & 0444))
                r = -EACCES;
        else
                r = attr_read(m, n, ret_data, ret_size);
        pthread_mutex_unlock(&m->lock);
        return r;
}

ssize_t machine_write(Machine *m, const char *path, const char *buf, size_t size) {
        uint64_t start = now_ns();
        SimOp op = _OP_INVALID;
        AttrKind kind;
        void *obj;
        Node *n;
        ssize_t r;

        latency_owed_ns = 0;
        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (!n)
                r = -ENODEV;
        else if (n->type != NODE_FILE)
                r = -EISDIR;
        else if (!(n->mode & 0222))
                r = -EACCES;
        else if (n->kind == ATTR_TEXT)
                r = (ssize_t) size; /* writable constant (e.g. resource_alignment): accepted, no effect */
        else {
                kind = (AttrKind) n->kind;
                obj = n->obj;
                n = NULL; /* may be freed by what follows */
                op = attr_op(kind);
                r = attr_write(m, kind, obj, buf, size);
        }
        if (op >= 0)
                op_finish(m, op, start);
        pthread_mutex_unlock(&m->lock);
        return r;
}

int machine_truncate(Machine *m, const char *path) {
        Node *n;
        int r = 0;

        /* sysfs ignores O_TRUNC on attributes */
        pthread_mutex_lock(&m->lock);
        m->requests++;
        n = tree_lookup(m->tree, path);
        if (!n)
                r = -ENOENT;
        else if (n->type != NODE_FILE)
                r = -EISDIR;
        else if (!(n->mode & 0222))
                r = -EACCES;
        pthread_mutex_unlock(&m->lock);
        return r;
}
