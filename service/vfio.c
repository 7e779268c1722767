/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Moving PCI functions between drivers the way the kernel wants it (see vfio.h):
 * driver_override, the current driver's unbind, drivers_probe, libkmod for modules, and
 * a check of the driver link (the only truth: drivers_probe succeeds when nothing binds).
 * Touches /sys/bus/pci/devices/ADDR/{driver,driver_override}, /sys/bus/pci/drivers/DRV/
 * {unbind,module}, /sys/bus/pci/drivers_probe, /sys/module/M and /dev/vfio/N.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

#include "pci.h"
#include "release.h"
#include "sysfs.h"
#include "util.h"
#include "vfio.h"

static const char *const step_kind_table[_STEP_KIND_MAX] = {
        [STEP_LOAD_MODULE] = "load-module",
        [STEP_UNLOAD_MODULE] = "unload-module",
        [STEP_SET_OVERRIDE] = "set-override",
        [STEP_CLEAR_OVERRIDE] = "clear-override",
        [STEP_UNBIND] = "unbind",
        [STEP_PROBE] = "probe",
        [STEP_UNCHANGED] = "unchanged",
        [STEP_UNBIND_CONSOLE] = "unbind-console",
        [STEP_BIND_CONSOLE] = "bind-console",
        [STEP_UNBIND_FRAMEBUFFER] = "unbind-framebuffer",
        [STEP_BIND_FRAMEBUFFER] = "bind-framebuffer",
        [STEP_STOP_UNIT] = "stop-unit",
        [STEP_START_UNIT] = "start-unit",
        [STEP_CHECK_CONSUMERS] = "check-consumers",
        [STEP_START_DOMAIN] = "start-domain",
};

bool step_kind_is_inline(StepKind k) {
        return k == STEP_STOP_UNIT || k == STEP_START_UNIT || k == STEP_CHECK_CONSUMERS || k == STEP_START_DOMAIN;
}

bool step_kind_is_function(StepKind k) {
        return k == STEP_SET_OVERRIDE || k == STEP_CLEAR_OVERRIDE || k == STEP_UNBIND || k == STEP_PROBE ||
               k == STEP_UNCHANGED;
}

const char *step_kind_to_string(StepKind k) {
        if (k < 0 || k >= _STEP_KIND_MAX)
                return NULL;
        return step_kind_table[k];
}

StepKind step_kind_from_string(const char *s) {
        if (!s)
                return _STEP_KIND_INVALID;
        for (StepKind k = 0; k < _STEP_KIND_MAX; k++)
                if (streq(step_kind_table[k], s))
                        return k;
        return _STEP_KIND_INVALID;
}

void plan_done(Plan *p) {
        for (size_t i = 0; i < p->n_steps; i++)
                free(p->steps[i].argument);
        p->steps = mfree(p->steps);
        p->n_steps = 0;
}

int plan_add(Plan *p, StepKind kind, const PciAddress *a, const char *argument, int64_t group) {
        _cleanup_free_ char *arg = NULL;
        Step *n;

        if (argument) {
                arg = strdup(argument);
                if (!arg)
                        return -ENOMEM;
        }
        n = reallocarray(p->steps, p->n_steps + 1, sizeof(Step));
        if (!n)
                return -ENOMEM;
        p->steps = n;
        p->steps[p->n_steps++] = (Step) {
                .kind = kind,
                .address = a ? *a : (PciAddress) {},
                .argument = TAKE_PTR(arg),
                .group = group,
        };
        return 0;
}

bool plan_has_module_step(const Plan *p, StepKind kind, const char *module) {
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].kind == kind && streq_ptr(p->steps[i].argument, module))
                        return true;
        return false;
}

void function_state_done(FunctionState *s) {
        s->driver = mfree(s->driver);
        s->module = mfree(s->module);
        s->override = mfree(s->override);
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int function_state_copy(FunctionState *dst, const FunctionState *src) {
        FunctionState t = { .address = src->address, .group = src->group };

        if (strdup_or_null(src->driver, &t.driver) < 0 || strdup_or_null(src->module, &t.module) < 0 ||
            strdup_or_null(src->override, &t.override) < 0) {
                function_state_done(&t);
                return -ENOMEM;
        }
        *dst = t;
        return 0;
}

static int read_driver_module(const char *driver, char **ret) {
        _cleanup_close_ int dfd = -EBADF;
        int r;

        *ret = NULL;
        dfd = sysfs_open_pci_driver(driver);
        if (dfd < 0)
                return dfd;
        /* No "module" link: the driver is built in. */
        r = readlink_basename_at(dfd, "module", ret);
        return r == -ENOENT ? 0 : r;
}

static int read_override(int dfd, char **ret) {
        _cleanup_free_ char *v = NULL;
        int r;

        r = read_line_at(dfd, "driver_override", &v);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        /* The kernel shows an unset override as "(null)". */
        *ret = isempty(v) || streq(v, "(null)") ? NULL : TAKE_PTR(v);
        return 0;
}

static int read_driver(int dfd, char **ret) {
        int r = readlink_basename_at(dfd, "driver", ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

int function_state_read(const PciAddress *a, int64_t group, bool with_override, FunctionState *ret) {
        _cleanup_close_ int dfd = -EBADF;
        FunctionState s = { .address = *a, .group = group };
        int r;

        dfd = sysfs_open_pci_device(-1, a);
        if (dfd < 0)
                return dfd;
        r = read_driver(dfd, &s.driver);
        if (r >= 0 && with_override)
                r = read_override(dfd, &s.override);
        if (r >= 0 && s.driver)
                r = read_driver_module(s.driver, &s.module);
        if (r < 0) {
                function_state_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int plan_move(Plan *p, const FunctionState *from, const FunctionState *to, bool load_module_first) {
        bool moving = !streq_ptr(from->driver, to->driver);
        size_t before = p->n_steps;
        int r;

        if (load_module_first && to->module && moving && !plan_has_module_step(p, STEP_LOAD_MODULE, to->module)) {
                r = plan_add(p, STEP_LOAD_MODULE, NULL, to->module, -1);
                if (r < 0)
                        return r;
                before = p->n_steps; /* shared by the group: not this function's own step */
        }
        if (!streq_ptr(from->override, to->override)) {
                r = to->override ? plan_add(p, STEP_SET_OVERRIDE, &from->address, to->override, -1)
                                 : plan_add(p, STEP_CLEAR_OVERRIDE, &from->address, NULL, -1);
                if (r < 0)
                        return r;
        }
        if (moving && from->driver) {
                r = plan_add(p, STEP_UNBIND, &from->address, from->driver, -1);
                if (r < 0)
                        return r;
        }
        if (!load_module_first && to->module && moving && !plan_has_module_step(p, STEP_LOAD_MODULE, to->module)) {
                r = plan_add(p, STEP_LOAD_MODULE, NULL, to->module, -1);
                if (r < 0)
                        return r;
        }
        if (moving && to->driver) {
                r = plan_add(p, STEP_PROBE, &from->address, to->driver,
                             streq(to->driver, PCI_DRIVER_VFIO) ? from->group : -1);
                if (r < 0)
                        return r;
        }
        if (p->n_steps == before)
                return plan_add(p, STEP_UNCHANGED, &from->address, from->driver, -1);
        return 0;
}

char *step_describe(const Step *s) {
        char a[PCI_ADDRESS_STRING_MAX];
        char *t = NULL;
        int r = -1;

        pci_address_format(&s->address, a);
        switch (s->kind) {
        case STEP_LOAD_MODULE:
                r = asprintf(&t, "load module %s", s->argument);
                break;
        case STEP_UNLOAD_MODULE:
                r = asprintf(&t, "unload module %s", s->argument);
                break;
        case STEP_SET_OVERRIDE:
                r = asprintf(&t, "%s: driver_override = %s", a, s->argument);
                break;
        case STEP_CLEAR_OVERRIDE:
                r = asprintf(&t, "%s: clear driver_override", a);
                break;
        case STEP_UNBIND:
                r = asprintf(&t, "%s: unbind from %s", a, s->argument);
                break;
        case STEP_PROBE:
                if (!s->argument)
                        r = asprintf(&t, "%s: probe drivers, expect a host driver", a);
                else if (s->group >= 0)
                        r = asprintf(&t, "%s: probe drivers, expect %s and /dev/vfio/%" PRIi64, a, s->argument,
                                     s->group);
                else
                        r = asprintf(&t, "%s: probe drivers, expect %s", a, s->argument);
                break;
        case STEP_UNCHANGED:
                if (s->argument)
                        r = asprintf(&t, "%s: already on %s", a, s->argument);
                else
                        r = asprintf(&t, "%s: already without a driver", a);
                break;
        case STEP_UNBIND_CONSOLE:
                r = asprintf(&t, "unbind virtual console %s from the frame buffer", s->argument);
                break;
        case STEP_BIND_CONSOLE:
                r = asprintf(&t, "bind virtual console %s to the frame buffer", s->argument);
                break;
        case STEP_UNBIND_FRAMEBUFFER:
                r = asprintf(&t, "unbind the firmware frame buffer %s", s->argument);
                break;
        case STEP_BIND_FRAMEBUFFER:
                r = asprintf(&t, "bind the firmware frame buffer %s", s->argument);
                break;
        case STEP_STOP_UNIT:
                r = asprintf(&t, "stop %s and wait for the job to end", s->argument);
                break;
        case STEP_START_UNIT:
                r = asprintf(&t, "start %s and wait for the job to end", s->argument);
                break;
        case STEP_CHECK_CONSUMERS:
                r = asprintf(&t, "check that no process holds the nodes of %s", s->argument);
                break;
        case STEP_START_DOMAIN:
                r = asprintf(&t, "start the libvirt domain %s", s->argument);
                break;
        default:
                break;
        }
        return r < 0 ? NULL : t;
}

static int module_execute(const Step *s, struct kmod_ctx *kmod) {
        struct kmod_module *mod = NULL;
        int r;

        if (!kmod)
                return -EOPNOTSUPP;
        r = kmod_module_new_from_name(kmod, s->argument, &mod);
        if (r < 0)
                return r;
        if (s->kind == STEP_LOAD_MODULE) {
                r = kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
                /* > 0: refused by configuration (blacklist, install command) */
                if (r > 0)
                        r = -EPERM;
        } else
                r = kmod_module_remove_module(mod, 0);
        kmod_module_unref(mod);
        return r;
}

int step_execute(const Step *s, struct kmod_ctx *kmod) {
        char a[PCI_ADDRESS_STRING_MAX];

        pci_address_format(&s->address, a);
        switch (s->kind) {
        case STEP_LOAD_MODULE:
        case STEP_UNLOAD_MODULE:
                return module_execute(s, kmod);
        case STEP_SET_OVERRIDE:
                return sysfs_write_pci_attribute(&s->address, "driver_override", s->argument);
        case STEP_CLEAR_OVERRIDE:
                return sysfs_write_pci_attribute(&s->address, "driver_override", "\n");
        case STEP_UNBIND:
                return sysfs_write_pci_driver_attribute(s->argument, "unbind", a);
        case STEP_PROBE:
                return sysfs_write_file(SYSFS_PCI_DRIVERS_PROBE, a);
        case STEP_UNCHANGED:
                return 0;
        case STEP_UNBIND_CONSOLE:
        case STEP_BIND_CONSOLE:
        case STEP_UNBIND_FRAMEBUFFER:
        case STEP_BIND_FRAMEBUFFER:
                return release_step_execute(s);
        default:
                return -EINVAL;
        }
}

static int module_present(const char *module) {
        _cleanup_close_ int fd = -EBADF;

        if (!driver_name_is_valid(module))
                return -EINVAL;
        fd = sysfs_open_dir(SYSFS_MODULES);
        if (fd < 0)
                return fd;
        if (faccessat(fd, module, F_OK, 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

static int vfio_node_present(int64_t group) {
        _cleanup_close_ int fd = -EBADF;
        char name[24];

        fd = sysfs_open_dir(DEV_VFIO);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        snprintf(name, sizeof(name), "%" PRIi64, group);
        if (faccessat(fd, name, F_OK, 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

int step_verify(const Step *s, char **ret_what) {
        _cleanup_free_ char *driver = NULL, *override = NULL;
        _cleanup_close_ int dfd = -EBADF;
        char a[PCI_ADDRESS_STRING_MAX];
        int r;

        *ret_what = NULL;
        pci_address_format(&s->address, a);

        if (s->kind == STEP_LOAD_MODULE || s->kind == STEP_UNLOAD_MODULE) {
                r = module_present(s->argument);
                if (r < 0)
                        return r;
                if (s->kind == STEP_LOAD_MODULE && r == 0) {
                        if (asprintf(ret_what, "module %s is not loaded after loading it succeeded", s->argument) < 0)
                                return -ENOMEM;
                        return -ENOENT;
                }
                if (s->kind == STEP_UNLOAD_MODULE && r > 0) {
                        if (asprintf(ret_what, "module %s is still loaded after unloading it succeeded", s->argument) < 0)
                                return -ENOMEM;
                        return -EBUSY;
                }
                return 0;
        }
        if (s->kind == STEP_UNCHANGED)
                return 0;
        if (step_kind_is_inline(s->kind))
                return 0; /* checked by whoever ran it (the unit's ActiveState, /proc) */
        if (!step_kind_is_function(s->kind))
                return release_step_verify(s, ret_what);

        dfd = sysfs_open_pci_device(-1, &s->address);
        if (dfd == -ENOENT) {
                if (asprintf(ret_what, "%s disappeared", a) < 0)
                        return -ENOMEM;
                return -ENODEV;
        }
        if (dfd < 0)
                return dfd;

        switch (s->kind) {
        case STEP_SET_OVERRIDE:
        case STEP_CLEAR_OVERRIDE:
                r = read_override(dfd, &override);
                if (r < 0)
                        return r;
                if (!streq_ptr(override, s->kind == STEP_SET_OVERRIDE ? s->argument : NULL)) {
                        if (asprintf(ret_what, "%s: driver_override reads \"%s\" after the write", a,
                                     override ?: "(null)") < 0)
                                return -ENOMEM;
                        return -EIO;
                }
                return 0;
        case STEP_UNBIND:
                r = read_driver(dfd, &driver);
                if (r < 0)
                        return r;
                if (streq_ptr(driver, s->argument)) {
                        if (asprintf(ret_what, "%s is still bound to %s after the unbind", a, driver) < 0)
                                return -ENOMEM;
                        return -EBUSY;
                }
                return 0;
        case STEP_PROBE:
                r = read_driver(dfd, &driver);
                if (r < 0)
                        return r;
                if (!s->argument) {
                        /* any host driver (the modalias match of a function without a record) */
                        if (!driver || streq(driver, PCI_DRIVER_VFIO)) {
                                if (asprintf(ret_what, "the kernel accepted drivers_probe but %s is on %s", a,
                                             driver ?: "no driver") < 0)
                                        return -ENOMEM;
                                return -ENXIO;
                        }
                        return 0;
                }
                if (!streq_ptr(driver, s->argument)) {
                        if (asprintf(ret_what, "the kernel accepted drivers_probe but %s is on %s, not %s", a,
                                     driver ?: "no driver", s->argument) < 0)
                                return -ENOMEM;
                        return -ENXIO;
                }
                if (s->group >= 0) {
                        r = vfio_node_present(s->group);
                        if (r < 0)
                                return r;
                        if (r == 0) {
                                if (asprintf(ret_what, "%s is on %s but /dev/vfio/%" PRIi64 " did not appear", a,
                                             driver, s->group) < 0)
                                        return -ENOMEM;
                                return -ENXIO;
                        }
                }
                return 0;
        default:
                return -EINVAL;
        }
}

/* Depth first over "depends on", post-order: dependencies before the modules needing them
 * (the load order). */
static int collect_unloaded(struct kmod_module *mod, char ***visited, char ***l, unsigned depth) {
        const char *name = kmod_module_get_name(mod);
        struct kmod_list *deps, *i;
        int r = 0;

        if (depth > 16)
                return -ELOOP;
        if (strv_contains(*visited, name))
                return 0;
        r = strv_extend_unique(visited, name);
        if (r < 0)
                return r;
        deps = kmod_module_get_dependencies(mod);
        kmod_list_foreach(i, deps) {
                struct kmod_module *d = kmod_module_get_module(i);
                r = collect_unloaded(d, visited, l, depth + 1);
                kmod_module_unref(d);
                if (r < 0)
                        break;
        }
        kmod_module_unref_list(deps);
        if (r < 0)
                return r;
        /* Soft dependencies are loaded along (vfio pulls in vfio_iommu_type1 that way). */
        struct kmod_list *pre = NULL, *post = NULL;
        if (kmod_module_get_softdeps(mod, &pre, &post) >= 0) {
                struct kmod_list *lists[2] = { pre, post };
                for (size_t k = 0; k < 2 && r >= 0; k++)
                        kmod_list_foreach(i, lists[k]) {
                                struct kmod_module *d = kmod_module_get_module(i);
                                r = collect_unloaded(d, visited, l, depth + 1);
                                kmod_module_unref(d);
                                if (r < 0)
                                        break;
                        }
                kmod_module_unref_list(pre);
                kmod_module_unref_list(post);
                if (r < 0)
                        return r;
        }
        /* -ENOENT: not loaded (a built-in module reports KMOD_MODULE_BUILTIN). */
        if (kmod_module_get_initstate(mod) == -ENOENT)
                r = strv_extend_unique(l, name);
        return r;
}

int modules_to_be_loaded(struct kmod_ctx *kmod, const char *module, char ***ret) {
        _cleanup_strv_free_ char **l = NULL, **visited = NULL;
        struct kmod_module *mod = NULL;
        size_t n;
        int r;

        r = kmod_module_new_from_name(kmod, module, &mod);
        if (r < 0)
                return r;
        r = collect_unloaded(mod, &visited, &l, 0);
        kmod_module_unref(mod);
        if (r < 0)
                return r;
        /* Unload order: the modules needing others first. */
        n = strv_length(l);
        for (size_t i = 0; i < n / 2; i++) {
                char *t = l[i];
                l[i] = l[n - 1 - i];
                l[n - 1 - i] = t;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int driver_has_functions(const char *driver) {
        _cleanup_close_ int dfd = -EBADF;
        struct dirent *de;
        DIR *d;
        int found = 0;

        dfd = sysfs_open_pci_driver(driver);
        if (dfd == -ENOENT || dfd == -EINVAL)
                return 0;
        if (dfd < 0)
                return dfd;
        d = fdopendir(TAKE_FD(dfd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                const char *reason;
                PciAddress a;
                if (pci_address_parse(de->d_name, &a, &reason) >= 0) {
                        found = 1;
                        break;
                }
        }
        closedir(d);
        return found;
}

int module_in_use(const char *module) {
        _cleanup_close_ int modules_fd = -EBADF, mfd = -EBADF, drv = -EBADF;
        _cleanup_free_ char *refcnt = NULL;
        struct dirent *de;
        unsigned n;
        DIR *d;
        int r = 0;

        if (!driver_name_is_valid(module))
                return -EINVAL;
        modules_fd = sysfs_open_dir(SYSFS_MODULES);
        if (modules_fd < 0)
                return modules_fd;
        mfd = openat(modules_fd, module, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (read_line_at(mfd, "refcnt", &refcnt) >= 0 && safe_atou(refcnt, &n) >= 0 && n > 0)
                return 1;
        drv = openat(mfd, "drivers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (drv < 0)
                return 0;
        d = fdopendir(TAKE_FD(drv));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                const char *name = startswith(de->d_name, "pci:");
                if (!name)
                        continue;
                r = driver_has_functions(name);
                if (r != 0)
                        break;
        }
        closedir(d);
        return r;
}

bool module_loaded(const char *module) {
        return module_present(module) > 0;
}
