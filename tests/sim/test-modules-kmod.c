/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-modules-kmod: run under pcisim (on the amd-matisse-gtx1650 fixture) by test-modules.sh.
 * Loads and unloads modules with the libkmod calls the daemon makes
 * (kmod_module_probe_insert_module(), kmod_module_remove_module()) and with the raw syscalls,
 * and checks the kernel's answers and /sys. Prints "ok NAME" / "FAIL: NAME: …" lines; exits 1
 * if anything failed.
 */

#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

static int failed;

#define CHECK(name, cond, ...)                                                  \
        do {                                                                    \
                if (cond)                                                       \
                        printf("ok %s\n", name);                                \
                else {                                                          \
                        printf("FAIL: %s: ", name);                             \
                        printf(__VA_ARGS__);                                    \
                        printf("\n");                                           \
                        failed = 1;                                             \
                }                                                               \
        } while (0)

static int write_string(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, s, strlen(s));
        if (n < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        close(fd);
        return 0;
}

static const char *driver_of(const char *addr) {
        static char buf[4096];
        char path[256];
        ssize_t n;

        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", addr);
        n = readlink(path, buf, sizeof(buf) - 1);
        if (n < 0)
                return "";
        buf[n] = 0;
        return strrchr(buf, '/') + 1;
}

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

static long sys_delete_module(const char *name, unsigned flags) {
        return syscall(SYS_delete_module, name, flags) < 0 ? -errno : 0;
}

static long sys_init_module(const void *image, unsigned long len, const char *params) {
        return syscall(SYS_init_module, image, len, params) < 0 ? -errno : 0;
}

static long sys_finit_module(int fd, const char *params, int flags) {
        return syscall(SYS_finit_module, fd, params, flags) < 0 ? -errno : 0;
}

static int read_file(const char *path, char **ret, size_t *ret_size) {
        struct stat st;
        char *buf;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || st.st_size <= 0) {
                close(fd);
                return -EIO;
        }
        buf = malloc((size_t) st.st_size);
        if (!buf || read(fd, buf, (size_t) st.st_size) != st.st_size) {
                free(buf);
                close(fd);
                return -EIO;
        }
        close(fd);
        *ret = buf;
        *ret_size = (size_t) st.st_size;
        return 0;
}

int main(void) {
        struct kmod_ctx *ctx;
        struct kmod_module *vfio_pci = NULL, *vfio = NULL, *type1 = NULL;
        const char *path;
        char *image = NULL;
        size_t image_size = 0;
        int r, fd, p[2];

        ctx = kmod_new(NULL, NULL);
        if (!ctx || kmod_load_resources(ctx) < 0) {
                printf("FAIL: kmod context\n");
                return 1;
        }
        kmod_set_log_priority(ctx, LOG_CRIT); /* the expected failures need no libkmod errors */
        if (kmod_module_new_from_name(ctx, "vfio_pci", &vfio_pci) < 0 ||
            kmod_module_new_from_name(ctx, "vfio", &vfio) < 0 ||
            kmod_module_new_from_name(ctx, "vfio_iommu_type1", &type1) < 0) {
                printf("FAIL: kmod modules\n");
                return 1;
        }
        path = kmod_module_get_path(vfio_pci);
        CHECK("kmod-path", path && strstr(path, "/vfio_pci.ko"), "path %s", path ?: "(null)");

        /* finit_module() of a module whose dependency is not loaded: "unknown symbol" */
        r = kmod_module_insert_module(vfio_pci, 0, NULL);
        CHECK("insert-without-deps", r == -ENOENT, "r=%d", r);
        CHECK("insert-without-deps-nothing", !exists("/sys/module/vfio_pci"), "vfio_pci appeared");

        /* what the daemon does */
        r = kmod_module_probe_insert_module(vfio_pci, 0, NULL, NULL, NULL, NULL);
        CHECK("probe-insert", r == 0, "r=%d", r);
        CHECK("probe-insert-initstate", kmod_module_get_initstate(vfio_pci) == KMOD_MODULE_LIVE, "state %d",
              kmod_module_get_initstate(vfio_pci));
        CHECK("probe-insert-deps", kmod_module_get_initstate(vfio) == KMOD_MODULE_LIVE &&
              kmod_module_get_initstate(type1) == KMOD_MODULE_LIVE, "dependencies not live");
        CHECK("probe-insert-holder", exists("/sys/module/vfio/holders/vfio_pci") &&
              exists("/sys/module/vfio_iommu_type1/holders/vfio_pci"), "holder links missing");
        CHECK("probe-insert-driver", exists("/sys/bus/pci/drivers/vfio-pci"), "driver not registered");
        CHECK("probe-insert-refcnt", kmod_module_get_refcnt(vfio) == 1, "vfio refcnt %d",
              kmod_module_get_refcnt(vfio));

        r = kmod_module_probe_insert_module(vfio_pci, 0, NULL, NULL, NULL, NULL);
        CHECK("probe-insert-again", r == 0, "r=%d", r);
        r = kmod_module_insert_module(vfio_pci, 0, NULL);
        CHECK("finit-loaded-eexist", r == -EEXIST, "r=%d", r);

        if (path && read_file(path, &image, &image_size) >= 0) {
                r = (int) sys_init_module(image, image_size, "");
                CHECK("init-loaded-eexist", r == -EEXIST, "r=%d", r);
        } else
                CHECK("read-image", false, "cannot read %s", path ?: "(null)");

        /* the kernel refuses to unload a module others depend on: EWOULDBLOCK (libkmod passes
         * O_NONBLOCK), and nothing changes */
        r = kmod_module_remove_module(vfio, 0);
        CHECK("remove-in-use", r == -EWOULDBLOCK, "r=%d", r);
        CHECK("remove-in-use-nothing", kmod_module_get_initstate(vfio) == KMOD_MODULE_LIVE, "vfio gone");

        /* a device bound to vfio-pci does not pin the module: it is unbound */
        r = write_string("/sys/bus/pci/devices/0000:26:00.1/driver_override", "vfio-pci");
        if (r >= 0)
                r = write_string("/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:26:00.1");
        if (r >= 0)
                r = write_string("/sys/bus/pci/drivers_probe", "0000:26:00.1");
        CHECK("bind-vfio", r >= 0 && strcmp(driver_of("0000:26:00.1"), "vfio-pci") == 0, "r=%d driver '%s'", r,
              driver_of("0000:26:00.1"));
        CHECK("bound-refcnt-0", kmod_module_get_refcnt(vfio_pci) == 0, "refcnt %d",
              kmod_module_get_refcnt(vfio_pci));

        r = kmod_module_remove_module(vfio_pci, 0);
        CHECK("remove", r == 0, "r=%d", r);
        CHECK("remove-gone", !exists("/sys/module/vfio_pci") && !exists("/sys/bus/pci/drivers/vfio-pci"),
              "still there");
        CHECK("remove-unbound", strcmp(driver_of("0000:26:00.1"), "") == 0, "driver '%s'",
              driver_of("0000:26:00.1"));
        CHECK("remove-holder-gone", !exists("/sys/module/vfio/holders/vfio_pci"), "holder link left");
        r = kmod_module_remove_module(vfio_pci, 0);
        CHECK("remove-again-enoent", r == -ENOENT, "r=%d", r);

        /* init_module() with the image in memory, as libkmod does for compressed modules */
        if (image) {
                r = (int) sys_init_module(image, image_size, "");
                CHECK("init-module", r == 0 && kmod_module_get_initstate(vfio_pci) == KMOD_MODULE_LIVE, "r=%d", r);
                CHECK("init-module-autoprobe", strcmp(driver_of("0000:26:00.1"), "vfio-pci") == 0,
                      "driver '%s' (override is vfio-pci)", driver_of("0000:26:00.1"));
                r = (int) sys_delete_module("vfio_pci", O_NONBLOCK);
                CHECK("delete-module", r == 0 && !exists("/sys/module/vfio_pci"), "r=%d", r);
        }

        /* raw errors */
        r = (int) sys_delete_module("no_such_module", O_NONBLOCK);
        CHECK("delete-unknown", r == -ENOENT, "r=%d", r);
        r = (int) sys_delete_module("vfio-pci", O_NONBLOCK);
        CHECK("delete-dash-name", r == -ENOENT, "r=%d", r);
        r = (int) sys_delete_module("pcieport", O_NONBLOCK);
        CHECK("delete-builtin", r == -ENOENT, "r=%d", r);
        r = (int) sys_delete_module(NULL, O_NONBLOCK);
        CHECK("delete-efault", r == -EFAULT, "r=%d", r);
        r = (int) sys_init_module("not an ELF image, just some bytes that are long enough for a header.", 64, "");
        CHECK("init-garbage", r == -ENOEXEC, "r=%d", r);
        r = (int) sys_init_module(NULL, 4096, "");
        CHECK("init-efault", r == -EFAULT, "r=%d", r);
        r = (int) sys_finit_module(-1, "", 0);
        CHECK("finit-ebadf", r == -EBADF, "r=%d", r);
        fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        r = (int) sys_finit_module(fd, "", 0);
        CHECK("finit-not-module", r == -ENOEXEC, "r=%d", r);
        r = (int) sys_finit_module(fd, "", 0x100);
        CHECK("finit-bad-flags", r == -EINVAL, "r=%d", r);
        close(fd);
        if (pipe2(p, O_CLOEXEC) >= 0) {
                r = (int) sys_finit_module(p[0], "", 0);
                CHECK("finit-pipe", r == -EINVAL, "r=%d", r);
                close(p[0]);
                close(p[1]);
        }

        /* leave the machine as found */
        (void) kmod_module_remove_module(vfio, 0);
        (void) kmod_module_remove_module(type1, 0);
        (void) write_string("/sys/bus/pci/devices/0000:26:00.1/driver_override", "\n");
        (void) write_string("/sys/bus/pci/drivers_probe", "0000:26:00.1");
        CHECK("restored", !exists("/sys/module/vfio") && strcmp(driver_of("0000:26:00.1"), "snd_hda_intel") == 0,
              "vfio %s, 26:00.1 driver '%s'", exists("/sys/module/vfio") ? "loaded" : "gone",
              driver_of("0000:26:00.1"));

        free(image);
        kmod_module_unref(vfio_pci);
        kmod_module_unref(vfio);
        kmod_module_unref(type1);
        kmod_unref(ctx);
        return failed;
}
