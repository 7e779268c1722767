/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's hold on a GPU beyond its driver (see release.h). Touches
 * /sys/class/vtconsole/vtconN/{name,bind}, /sys/bus/platform/drivers/DRIVER/{bind,unbind,
 * DEVICE}, /sys/module/M/{holders,drivers}, /sys/bus/pci/drivers/D, /sys/bus/pci/devices/ADDR/
 * {drm,sound}, /sys/class/graphics and /dev (names only).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

#include "release.h"
#include "sysfs.h"
#include "util.h"

const char *const firmware_framebuffers[] = {
        "efi-framebuffer.0",
        "simple-framebuffer.0",
        "vesa-framebuffer.0",
        NULL,
};

static int strv_sort_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void strv_sort(char **l) {
        if (l)
                qsort(l, strv_length(l), sizeof(char *), strv_sort_cmp);
}

/* The entries of an open directory (not "." and ".."), optionally only those starting with prefix. */
static int list_dir(int dfd, const char *prefix, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *d;
        struct dirent *de;
        int fd;

        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (prefix && !startswith(de->d_name, prefix))
                        continue;
                if (strv_extend_unique(&l, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        strv_sort(l);
        *ret = TAKE_PTR(l);
        return 0;
}

static int open_subdir(SysfsLocation l, const char *name) {
        _cleanup_close_ int lfd = -EBADF;
        int fd;

        if (!driver_name_is_valid(name))
                return -EINVAL;
        lfd = sysfs_open_dir(l);
        if (lfd < 0)
                return lfd;
        fd = openat(lfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int console_bound(const char *vtcon) {
        _cleanup_close_ int dfd = open_subdir(SYSFS_CLASS_VTCONSOLE, vtcon);
        bool b;
        int r;

        if (dfd < 0)
                return dfd;
        r = read_bool_at(dfd, "bind", &b);
        return r < 0 ? r : b;
}

int consoles_on_framebuffer(char ***ret) {
        _cleanup_strv_free_ char **all = NULL, **out = NULL;
        _cleanup_close_ int cfd = -EBADF;
        int r;

        cfd = sysfs_open_dir(SYSFS_CLASS_VTCONSOLE);
        if (cfd == -ENOENT) { /* no CONFIG_VT */
                *ret = NULL;
                return 0;
        }
        if (cfd < 0)
                return cfd;
        r = list_dir(cfd, "vtcon", &all);
        if (r < 0)
                return r;
        for (char **c = all; c && *c; c++) {
                _cleanup_close_ int dfd = openat(cfd, *c, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ char *name = NULL;
                bool bound;

                if (dfd < 0)
                        continue;
                /* "(M) frame buffer device": fbcon; "(S) dummy device" is the system driver. */
                if (read_line_at(dfd, "name", &name) < 0 || !strstr(name, "frame buffer"))
                        continue;
                if (read_bool_at(dfd, "bind", &bound) < 0 || !bound)
                        continue;
                if (strv_extend_unique(&out, *c) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* "efi-framebuffer.0" → "efi-framebuffer": a platform device's driver is its name without the
 * instance number. */
static int framebuffer_driver(const char *device, char **ret) {
        const char *dot = strrchr(device, '.');

        if (!driver_name_is_valid(device) || !dot || dot == device)
                return -EINVAL;
        *ret = strndup(device, dot - device);
        return *ret ? 0 : -ENOMEM;
}

int framebuffer_bound(const char *device) {
        _cleanup_free_ char *driver = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        r = framebuffer_driver(device, &driver);
        if (r < 0)
                return r;
        dfd = open_subdir(SYSFS_PLATFORM_DRIVERS, driver);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return dfd;
        if (faccessat(dfd, device, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

static int module_holders(const char *module, char ***ret) {
        _cleanup_close_ int mfd = open_subdir(SYSFS_MODULES, module), hfd = -EBADF;

        *ret = NULL;
        if (mfd < 0)
                return mfd == -ENOENT ? 0 : mfd;
        hfd = openat(mfd, "holders", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (hfd < 0)
                return errno == ENOENT ? 0 : -errno;
        return list_dir(hfd, NULL, ret);
}

static int collect_holders(const char *module, char ***visited, char ***order, unsigned depth) {
        _cleanup_strv_free_ char **holders = NULL;
        int r;

        if (depth > 16)
                return -ELOOP;
        if (strv_contains(*visited, module))
                return 0;
        r = strv_extend_unique(visited, module);
        if (r < 0)
                return r;
        r = module_holders(module, &holders);
        if (r < 0)
                return r;
        for (char **h = holders; h && *h; h++) {
                r = collect_holders(*h, visited, order, depth + 1);
                if (r < 0)
                        return r;
        }
        /* post-order: every holder of a module before the module */
        return strv_extend_unique(order, module);
}

int module_unload_order(const char *module, char ***ret) {
        _cleanup_strv_free_ char **visited = NULL, **order = NULL;
        int r;

        if (!driver_name_is_valid(module))
                return -EINVAL;
        r = collect_holders(module, &visited, &order, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(order);
        return 0;
}

int module_drives_others(const char *module, const PciAddress *except, size_t n_except) {
        _cleanup_close_ int mfd = open_subdir(SYSFS_MODULES, module), dfd = -EBADF;
        _cleanup_strv_free_ char **drivers = NULL;
        int r;

        if (mfd < 0)
                return mfd == -ENOENT ? 0 : mfd;
        dfd = openat(mfd, "drivers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = list_dir(dfd, "pci:", &drivers);
        if (r < 0)
                return r;
        for (char **d = drivers; d && *d; d++) {
                _cleanup_strv_free_ char **bound = NULL;
                _cleanup_close_ int drvfd = sysfs_open_pci_driver(*d + strlen("pci:"));

                if (drvfd < 0)
                        continue;
                r = list_dir(drvfd, NULL, &bound);
                if (r < 0)
                        return r;
                for (char **b = bound; b && *b; b++) {
                        PciAddress a;
                        bool ours = false;

                        if (pci_address_parse(*b, &a, NULL) < 0)
                                continue; /* bind, unbind, new_id, module, … */
                        for (size_t i = 0; i < n_except; i++)
                                ours = ours || pci_address_equal(&a, &except[i]);
                        if (!ours)
                                return 1;
                }
        }
        return 0;
}

static int add_node(char ***paths, const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;

        if (!driver_name_is_valid(name))
                return 0;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return strv_extend_unique(paths, p);
}

int function_drm_nodes(const PciAddress *a, char ***paths) {
        _cleanup_close_ int dfd = sysfs_open_pci_device(-1, a), drm = -EBADF;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        drm = openat(dfd, "drm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (drm < 0)
                return errno == ENOENT ? 0 : -errno;
        r = list_dir(drm, NULL, &names);
        if (r < 0)
                return r;
        for (char **n = names; n && *n; n++)
                if (startswith(*n, "card") || startswith(*n, "renderD")) {
                        r = add_node(paths, "/dev/dri", *n);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* The DRM nodes and …/sound/cardN/NODE (those with a "dev"). */
static int function_nodes(const PciAddress *a, char ***paths) {
        _cleanup_close_ int dfd = -EBADF, sound = -EBADF;
        _cleanup_strv_free_ char **cards = NULL;
        int r;

        r = function_drm_nodes(a, paths);
        if (r < 0)
                return r;
        dfd = sysfs_open_pci_device(-1, a);
        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        sound = openat(dfd, "sound", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sound < 0)
                return 0;
        r = list_dir(sound, "card", &cards);
        if (r < 0)
                return r;
        for (char **c = cards; c && *c; c++) {
                _cleanup_strv_free_ char **nodes = NULL;
                _cleanup_close_ int cfd = openat(sound, *c, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (cfd < 0)
                        continue;
                r = list_dir(cfd, NULL, &nodes);
                if (r < 0)
                        return r;
                for (char **n = nodes; n && *n; n++) {
                        _cleanup_close_ int nfd = openat(cfd, *n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (nfd < 0 || faccessat(nfd, "dev", F_OK, 0) < 0)
                                continue;
                        r = add_node(paths, "/dev/snd", *n);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* /sys/class/graphics/fbN whose device is one of the functions or a firmware frame buffer. */
static int framebuffer_nodes(const PciAddress *functions, size_t n, bool with_platform_fb, char ***paths) {
        _cleanup_close_ int gfd = sysfs_open_dir(SYSFS_CLASS_GRAPHICS);
        _cleanup_strv_free_ char **fbs = NULL;
        int r;

        if (gfd < 0)
                return gfd == -ENOENT ? 0 : gfd;
        r = list_dir(gfd, "fb", &fbs);
        if (r < 0)
                return r;
        for (char **fb = fbs; fb && *fb; fb++) {
                _cleanup_close_ int ffd = openat(gfd, *fb, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ char *device = NULL;
                bool match = false;
                PciAddress a;

                if (ffd < 0 || readlink_basename_at(ffd, "device", &device) < 0)
                        continue;
                if (pci_address_parse(device, &a, NULL) >= 0) {
                        for (size_t i = 0; i < n; i++)
                                match = match || pci_address_equal(&a, &functions[i]);
                } else if (with_platform_fb)
                        match = strv_contains((char **) firmware_framebuffers, device);
                if (match) {
                        r = add_node(paths, "/dev", *fb);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int consumer_nodes(const PciAddress *functions, size_t n, bool with_platform_fb, bool with_nvidia, char ***ret) {
        _cleanup_strv_free_ char **paths = NULL;
        int r;

        for (size_t i = 0; i < n; i++) {
                r = function_nodes(&functions[i], &paths);
                if (r < 0)
                        return r;
        }
        r = framebuffer_nodes(functions, n, with_platform_fb, &paths);
        if (r < 0)
                return r;
        if (with_nvidia) {
                /* The nvidia driver's nodes have no class device tying them to a function:
                 * /dev/nvidia0, nvidiactl, nvidia-modeset, nvidia-uvm… all pin its modules. */
                _cleanup_close_ int dev = sysfs_open_dir(DEV);
                _cleanup_strv_free_ char **names = NULL;

                if (dev >= 0) {
                        r = list_dir(dev, "nvidia", &names);
                        if (r < 0)
                                return r;
                        for (char **nm = names; nm && *nm; nm++) {
                                r = add_node(&paths, "/dev", *nm);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        strv_sort(paths);
        *ret = TAKE_PTR(paths);
        return 0;
}

int release_step_execute(const Step *s) {
        _cleanup_free_ char *driver = NULL;
        int r;

        switch (s->kind) {
        case STEP_UNBIND_CONSOLE:
        case STEP_BIND_CONSOLE:
                return sysfs_write_location_attribute(SYSFS_CLASS_VTCONSOLE, s->argument, "bind",
                                                      s->kind == STEP_BIND_CONSOLE ? "1" : "0");
        case STEP_UNBIND_FRAMEBUFFER:
        case STEP_BIND_FRAMEBUFFER:
                r = framebuffer_driver(s->argument, &driver);
                if (r < 0)
                        return r;
                return sysfs_write_location_attribute(SYSFS_PLATFORM_DRIVERS, driver,
                                                      s->kind == STEP_BIND_FRAMEBUFFER ? "bind" : "unbind", s->argument);
        default:
                return -EINVAL;
        }
}

int release_step_verify(const Step *s, char **ret_what) {
        bool want_bound = s->kind == STEP_BIND_CONSOLE || s->kind == STEP_BIND_FRAMEBUFFER;
        bool console = s->kind == STEP_BIND_CONSOLE || s->kind == STEP_UNBIND_CONSOLE;
        int r;

        *ret_what = NULL;
        r = console ? console_bound(s->argument) : framebuffer_bound(s->argument);
        if (r < 0)
                return r;
        if (r == want_bound)
                return 0;
        /* The kernel accepts "0" for a console it cannot unbind (the system driver) and says
         * nothing: only reading bind back tells. */
        if (asprintf(ret_what, "%s is still %s after the write was accepted", s->argument,
                     want_bound ? "unbound" : "bound") < 0)
                return -ENOMEM;
        return -EBUSY;
}
