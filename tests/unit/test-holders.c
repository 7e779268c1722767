/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Holders of device nodes, found in the real /proc with a file the test itself holds open,
 * and the interlocks (mounted file system, default route, graphical session on the boot
 * VGA) against a fake root built in a temporary directory.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "holders.h"
#include "sysfs.h"
#include "tests.h"
#include "util.h"

static char root[] = "/tmp/test-holders-XXXXXX";

#include "fake-root.h"

/* ---- holders_find() in the real /proc ---- */

static void own_comm(char buf[static 64]) {
        FILE *f = fopen("/proc/self/comm", "re");

        buf[0] = '\0';
        if (!f)
                return;
        if (fgets(buf, 64, f))
                buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
}

/* A temporary file, opened; *ret_path gets its canonical path (as /proc/PID/fd shows it). */
static int open_temp_file(char **ret_path) {
        char template[] = "/tmp/test-holders-file-XXXXXX";
        int fd;

        fd = mkostemp(template, O_CLOEXEC);
        CHECK(fd >= 0);
        *ret_path = realpath(template, NULL);
        CHECK(*ret_path != NULL);
        return fd;
}

static void test_holders_find_names_the_process_holding_a_file(void) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char comm[64];
        char *paths[2] = {};
        Holder *h = NULL;
        size_t n = 0;

        fd = open_temp_file(&path);
        if (!path)
                return;
        paths[0] = path;
        own_comm(comm);

        CHECK_INTEQ(holders_find(paths, &h, &n), 0);
        CHECK_INTEQ(n, 1);
        if (n == 1) {
                CHECK_INTEQ(h[0].pid, getpid());
                CHECK_STREQ(h[0].command, comm);
                CHECK_STREQ(h[0].path, path);
        }
        holders_free(h, n);
        (void) unlink(path);
}

static void test_holders_find_lists_a_process_once_however_many_descriptors(void) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF, fd3 = -EBADF;
        char *paths[2] = {};
        Holder *h = NULL;
        size_t n = 0;

        fd = open_temp_file(&path);
        if (!path)
                return;
        paths[0] = path;
        fd2 = open(path, O_RDONLY | O_CLOEXEC);
        fd3 = dup(fd);
        CHECK(fd2 >= 0 && fd3 >= 0);

        CHECK_INTEQ(holders_find(paths, &h, &n), 0);
        CHECK_INTEQ(n, 1);
        holders_free(h, n);
        (void) unlink(path);
}

static void test_holders_find_finds_nothing_for_a_path_nobody_holds(void) {
        _cleanup_free_ char *path = NULL;
        char *paths[2] = {};
        Holder *h = NULL;
        size_t n = 1;
        int fd;

        fd = open_temp_file(&path);
        if (!path)
                return;
        paths[0] = path;
        safe_close(fd);

        CHECK_INTEQ(holders_find(paths, &h, &n), 0);
        CHECK_INTEQ(n, 0);
        CHECK(h == NULL);
        (void) unlink(path);
}

static void test_holders_find_of_no_paths_finds_nothing(void) {
        char *none[] = { NULL };
        Holder *h = NULL;
        size_t n = 1;

        CHECK_INTEQ(holders_find(NULL, &h, &n), 0);
        CHECK_INTEQ(n, 0);
        n = 1;
        CHECK_INTEQ(holders_find(none, &h, &n), 0);
        CHECK_INTEQ(n, 0);
        CHECK(h == NULL);
}

static void test_holders_describe_lists_command_pid_and_node(void) {
        Holder h[] = {
                { .pid = 4242, .command = (char *) "qemu-system-x86", .path = (char *) "/dev/vfio/16" },
                { .pid = 7, .command = (char *) "Xorg", .path = (char *) "/dev/dri/card0" },
        };
        _cleanup_free_ char *one = NULL, *two = NULL;

        one = holders_describe(h, 1);
        CHECK_STREQ(one, "qemu-system-x86 (pid 4242) holds /dev/vfio/16");
        two = holders_describe(h, 2);
        CHECK_STREQ(two, "qemu-system-x86 (pid 4242) holds /dev/vfio/16, Xorg (pid 7) holds /dev/dri/card0");
        CHECK(holders_describe(h, 0) == NULL);
}

/* ---- interlock_check() against a fake root ---- */

static void build_tree(void) {
        /* / on an NVMe namespace behind 0000:01:00.0; /srv on device-mapper over one behind
         * 0000:02:00.0; /run on tmpfs (no block device). */
        put("22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1 rw\n"
            "25 22 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,mode=755\n"
            "40 22 253:0 / /srv rw,relatime shared:30 - xfs /dev/mapper/vg-srv rw\n"
            "41 22 253:2 / /home rw,relatime shared:31 - ext4 /dev/mapper/vg-home rw\n",
            "proc/1/mountinfo");
        /* /home: LVM (dm-2) on LUKS (dm-1) on a partition behind 0000:03:00.0: slaves of slaves. */
        put(NULL, "sys/devices/virtual/block/dm-2/slaves");
        put(NULL, "sys/devices/virtual/block/dm-1/slaves");
        link_to("../../devices/virtual/block/dm-2", "sys/dev/block/253:2");
        link_to("../../dm-1", "sys/devices/virtual/block/dm-2/slaves/dm-1");
        link_to("../../../../pci0000:00/0000:00:01.3/0000:03:00.0/nvme/nvme2/nvme2n1/nvme2n1p3",
                "sys/devices/virtual/block/dm-1/slaves/nvme2n1p3");
        link_to("../../devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1", "sys/dev/block/259:2");
        put(NULL, "sys/devices/virtual/block/dm-0/slaves");
        link_to("../../devices/virtual/block/dm-0", "sys/dev/block/253:0");
        link_to("../../../../pci0000:00/0000:00:01.2/0000:02:00.0/nvme/nvme1/nvme1n1",
                "sys/devices/virtual/block/dm-0/slaves/nvme1n1");

        /* The default route on enp34s0 (0000:22:00.0); a LAN route on enp35s0 (0000:23:00.0). */
        put("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
            "enp34s0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
            "enp34s0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
            "enp35s0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
            "proc/net/route");
        link_to("../../../0000:22:00.0", "sys/class/net/enp34s0/device");
        link_to("../../../0000:23:00.0", "sys/class/net/enp35s0/device");

        /* The boot VGA 0000:26:00.0 with a DRM card that process 4242 holds. */
        put(NULL, "sys/bus/pci/devices/0000:26:00.0/drm/card0");
        put(NULL, "sys/bus/pci/devices/0000:26:00.0/drm/renderD128");
        put("Xorg\n", "proc/4242/comm");
        /* Holders are found by the identity of the open file, not the link's text: the fake
         * node exists in the fake root, and the fake fd links to it. */
        put("", "dev/dri/card0");
        char node[sizeof(root) + 32];
        snprintf(node, sizeof(node), "%s/dev/dri/card0", root);
        link_to(node, "proc/4242/fd/7");
        link_to("/dev/null", "proc/4242/fd/0");
}

static PciDevice device(uint8_t bus, uint8_t slot, uint8_t fn, const char *driver, bool boot_vga) {
        PciDevice d = { .address = { 0, bus, slot, fn }, .group = -1, .driver = (char *) driver, .boot_vga = boot_vga };

        pci_address_format(&d.address, d.name);
        return d;
}

/* interlock_check() of the devices; the reason, or NULL. */
static char *reason_for(PciDevice *d, size_t n) {
        PciDevice *devices[8];
        char *reason = (char *) "unset";

        for (size_t i = 0; i < n && i < ELEMENTSOF(devices); i++)
                devices[i] = &d[i];
        CHECK_INTEQ(interlock_check(NULL, devices, n, &reason), 0);
        return reason;
}

static void test_controller_of_a_mounted_file_system_is_needed(void) {
        PciDevice nvme = device(0x01, 0, 0, "nvme", false);
        _cleanup_free_ char *reason = reason_for(&nvme, 1);

        CHECK_STREQ(reason,
                    "0000:01:00.0 controls nvme0n1, which holds the mounted file system /. Unmount it first, "
                    "or pass the option override (polkit action org.passthru1.override).");
}

static void test_controller_under_device_mapper_is_needed(void) {
        PciDevice nvme = device(0x02, 0, 0, "nvme", false);
        _cleanup_free_ char *reason = reason_for(&nvme, 1);

        CHECK(reason != NULL);
        CHECK(reason && strstr(reason, "0000:02:00.0 controls nvme1n1, which holds the mounted file system /srv."));
}

static void test_controller_under_stacked_device_mapper_is_needed(void) {
        PciDevice nvme = device(0x03, 0, 0, "nvme", false);
        _cleanup_free_ char *reason = reason_for(&nvme, 1);

        CHECK(reason && strstr(reason, "0000:03:00.0 controls nvme2n1p3, which holds the mounted file system /home."));
}

static void test_nic_of_the_default_route_is_needed(void) {
        PciDevice nic = device(0x22, 0, 0, "r8169", false);
        _cleanup_free_ char *reason = reason_for(&nic, 1);

        CHECK_STREQ(reason,
                    "0000:22:00.0 is the network interface enp34s0, which carries the default route. Move the "
                    "route to another interface first, or pass the option override (polkit action "
                    "org.passthru1.override).");
}

static void test_nic_without_the_default_route_is_not_needed(void) {
        PciDevice nic = device(0x23, 0, 0, "igb", false);
        _cleanup_free_ char *reason = reason_for(&nic, 1);

        CHECK(reason == NULL);
}

static void test_device_in_neither_is_not_needed(void) {
        PciDevice d[] = {
                device(0x26, 0, 1, "snd_hda_intel", false),
                device(0x28, 0, 3, "xhci_hcd", false),
        };
        _cleanup_free_ char *reason = reason_for(d, ELEMENTSOF(d));

        CHECK(reason == NULL);
}

static void test_reason_names_the_needed_one_among_several(void) {
        PciDevice d[] = {
                device(0x21, 0, 0, NULL, false),
                device(0x22, 0, 0, "r8169", false),
        };
        _cleanup_free_ char *reason = reason_for(d, ELEMENTSOF(d));

        CHECK(reason && startswith(reason, "0000:22:00.0 is the network interface enp34s0"));
}

static void test_boot_vga_held_by_a_graphical_session_is_needed(void) {
        PciDevice gpu = device(0x26, 0, 0, "nvidia", true);
        _cleanup_free_ char *reason = reason_for(&gpu, 1);

        CHECK(reason && startswith(reason, "0000:26:00.0 is the boot VGA and a graphical session uses it "
                                           "(Xorg (pid 4242) holds /dev/dri/card0)."));
}

static void test_boot_vga_on_vfio_is_not_needed(void) {
        PciDevice gpu = device(0x26, 0, 0, "vfio-pci", true);
        _cleanup_free_ char *reason = reason_for(&gpu, 1);

        CHECK(reason == NULL);
}

static void test_gpu_that_is_not_boot_vga_is_not_needed(void) {
        PciDevice gpu = device(0x26, 0, 0, "nvidia", false);
        _cleanup_free_ char *reason = reason_for(&gpu, 1);

        CHECK(reason == NULL);
}

int main(void) {
        int r;

        /* The real /proc first. */
        if (sysfs_set_root("/") < 0)
                return EXIT_FAILURE;
        RUN(test_holders_find_names_the_process_holding_a_file);
        RUN(test_holders_find_lists_a_process_once_however_many_descriptors);
        RUN(test_holders_find_finds_nothing_for_a_path_nobody_holds);
        RUN(test_holders_find_of_no_paths_finds_nothing);
        RUN(test_holders_describe_lists_command_pid_and_node);

        if (!mkdtemp(root))
                return EXIT_FAILURE;
        build_tree();
        if (sysfs_set_root(root) < 0)
                return EXIT_FAILURE;
        RUN(test_controller_of_a_mounted_file_system_is_needed);
        RUN(test_controller_under_device_mapper_is_needed);
        RUN(test_controller_under_stacked_device_mapper_is_needed);
        RUN(test_nic_of_the_default_route_is_needed);
        RUN(test_nic_without_the_default_route_is_not_needed);
        RUN(test_device_in_neither_is_not_needed);
        RUN(test_reason_names_the_needed_one_among_several);
        RUN(test_boot_vga_held_by_a_graphical_session_is_needed);
        RUN(test_boot_vga_on_vfio_is_not_needed);
        RUN(test_gpu_that_is_not_boot_vga_is_not_needed);

        r = TESTS_DONE();
        {
                char cmd[256];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                if (system(cmd) != 0)
                        fprintf(stderr, "Failed to remove %s\n", root);
        }
        return r;
}
