/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry against a small sysfs tree built in a temporary directory: loading, slot
 * siblings, and what each uevent changes (unbind, remove of a member, remove of a group).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "machine.h"
#include "sysfs.h"
#include "tests.h"
#include "util.h"

static char root[] = "/tmp/test-machine-XXXXXX";

#include "fake-root.h"

static void unlink_at(const char *rel) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        CHECK(unlink(path) == 0);
}

static void add_function(const char *name, const char *vendor, const char *device, const char *class,
                         const char *driver, int group) {
        char target[256];

        put(vendor, "sys/devices/pci0000:00/%s/vendor", name);
        put(device, "sys/devices/pci0000:00/%s/device", name);
        put(vendor, "sys/devices/pci0000:00/%s/subsystem_vendor", name);
        put(device, "sys/devices/pci0000:00/%s/subsystem_device", name);
        put(class, "sys/devices/pci0000:00/%s/class", name);
        put("0xa1\n", "sys/devices/pci0000:00/%s/revision", name);
        put("D0\n", "sys/devices/pci0000:00/%s/power_state", name);
        put("flr bus\n", "sys/devices/pci0000:00/%s/reset_method", name);
        put("(null)\n", "sys/devices/pci0000:00/%s/driver_override", name);
        if (strncmp(class, "0x03", 4) == 0)
                put(strcmp(name, "0000:26:00.0") == 0 ? "1\n" : "0\n", "sys/devices/pci0000:00/%s/boot_vga", name);
        put(NULL, "sys/bus/pci/devices");
        snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", name);
        link_to(target, "sys/bus/pci/devices/%s", name);
        if (driver) {
                put(NULL, "sys/bus/pci/drivers/%s", driver);
                snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
                link_to(target, "sys/devices/pci0000:00/%s/driver", name);
        }
        if (group >= 0) {
                put(NULL, "sys/kernel/iommu_groups/%d/devices", group);
                snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%d", group);
                link_to(target, "sys/devices/pci0000:00/%s/iommu_group", name);
                snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", name);
                link_to(target, "sys/kernel/iommu_groups/%d/devices/%s", group, name);
        }
}

static Machine *m;

static void test_load_reads_functions_and_groups(void) {
        PciDevice *gpu;
        IommuGroup *g;
        PciAddress a = { 0, 0x26, 0, 0 };

        CHECK_INTEQ(machine_load(m), 0);
        CHECK_INTEQ(m->n_devices, 4);
        CHECK_INTEQ(m->n_groups, 3);
        CHECK(m->iommu.enabled);
        CHECK_STREQ(m->iommu.driver, "amd-iommu");
        CHECK_INTEQ(m->iommu.interrupt_remapping, 1);

        gpu = machine_find_device(m, &a);
        CHECK(gpu != NULL);
        if (!gpu)
                return;
        CHECK_INTEQ(gpu->vendor_id, 0x10de);
        CHECK_INTEQ(gpu->product_id, 0x1f82);
        CHECK_INTEQ(gpu->class, 0x030000);
        CHECK_INTEQ(gpu->revision, 0xa1);
        CHECK_STREQ(gpu->driver, "nvidia");
        CHECK(gpu->boot_vga);
        CHECK_STREQ(gpu->power_state, "D0");
        CHECK_INTEQ(strv_length(gpu->reset_methods), 2);
        CHECK_INTEQ(gpu->group, 16);

        g = machine_find_group(m, 16);
        CHECK(g && g->n_devices == 2 && !g->viable && g->n_blockers == 2);
        g = machine_find_group(m, 15);
        CHECK(g && g->n_devices == 1 && g->viable);
}

static void test_slot_range_finds_siblings(void) {
        PciAddress a = { 0, 0x26, 0, 1 };
        size_t first, n;

        n = machine_slot_range(m, machine_find_device(m, &a), &first);
        CHECK_INTEQ(n, 2);
        CHECK_STREQ(m->devices[first]->name, "0000:26:00.0");
}

static void test_unbind_updates_driver_and_blockers(void) {
        MachineChange c;

        unlink_at("sys/devices/pci0000:00/0000:26:00.1/driver");
        CHECK_INTEQ(machine_apply_uevent(m, "unbind", "0000:26:00.1", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_UPDATED);
        CHECK_INTEQ(c.fields, PCI_FIELD_DRIVER);
        CHECK(!c.is_display);
        CHECK_INTEQ(c.groups[1].number, 16);
        CHECK_INTEQ(c.groups[1].kind, OBJECT_UPDATED);
        CHECK_INTEQ(c.groups[1].fields, GROUP_FIELD_BLOCKERS);
        CHECK_INTEQ(machine_find_group(m, 16)->n_blockers, 1);

        /* The same event again changes nothing. */
        CHECK_INTEQ(machine_apply_uevent(m, "change", "0000:26:00.1", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_UNCHANGED);
}

static void test_remove_drops_member_then_group(void) {
        MachineChange c;

        CHECK_INTEQ(machine_apply_uevent(m, "remove", "0000:26:00.1", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_REMOVED);
        CHECK_INTEQ(c.groups[0].kind, OBJECT_UPDATED);
        CHECK(c.groups[0].fields & GROUP_FIELD_DEVICES);
        CHECK_INTEQ(m->n_devices, 3);

        CHECK_INTEQ(machine_apply_uevent(m, "remove", "0000:26:00.0", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_REMOVED);
        CHECK(c.is_display);
        CHECK_INTEQ(c.groups[0].kind, OBJECT_REMOVED);
        CHECK(machine_find_group(m, 16) == NULL);
        CHECK_INTEQ(m->n_groups, 2);
}

static void test_add_of_new_function_creates_group(void) {
        MachineChange c;

        add_function("0000:28:00.3", "0x1022\n", "0x149c\n", "0x0c0330\n", "xhci_hcd", 20);
        CHECK_INTEQ(machine_apply_uevent(m, "add", "0000:28:00.3", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_ADDED);
        CHECK_INTEQ(c.groups[1].kind, OBJECT_ADDED);
        CHECK_INTEQ(c.groups[1].number, 20);
        CHECK_INTEQ(m->n_devices, 3);
}

static void test_unknown_and_bad_names_are_ignored(void) {
        MachineChange c;

        CHECK_INTEQ(machine_apply_uevent(m, "add", "0000:99:00.0", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_UNCHANGED);
        CHECK_INTEQ(machine_apply_uevent(m, "add", "../../etc", &c), 0);
        CHECK_INTEQ(c.kind, OBJECT_UNCHANGED);
        CHECK_INTEQ(machine_apply_uevent(m, "remove", "0000:99:00.0", &c), 0);
        CHECK_INTEQ(m->n_devices, 3);
}

int main(void) {
        int r;

        if (!mkdtemp(root))
                return EXIT_FAILURE;
        add_function("0000:26:00.0", "0x10de\n", "0x1f82\n", "0x030000\n", "nvidia", 16);
        add_function("0000:26:00.1", "0x10de\n", "0x10fa\n", "0x040300\n", "snd_hda_intel", 16);
        add_function("0000:00:01.0", "0x1022\n", "0x1482\n", "0x060000\n", NULL, 0);
        add_function("0000:21:00.0", "0x8086\n", "0x15f3\n", "0x020000\n", NULL, 15);
        put(NULL, "sys/class/iommu/ivhd0/amd-iommu");
        put("BOOT_IMAGE=/vmlinuz ro amd_iommu=on\n", "proc/cmdline");
        put("  24:  1  0  IR-IO-APIC  5-edge  ACPI:Ged\n", "proc/interrupts");

        CHECK(sysfs_set_root(root) == 0);
        if (machine_new(&m) < 0)
                return EXIT_FAILURE;

        RUN(test_load_reads_functions_and_groups);
        RUN(test_slot_range_finds_siblings);
        RUN(test_unbind_updates_driver_and_blockers);
        RUN(test_remove_drops_member_then_group);
        RUN(test_add_of_new_function_creates_group);
        RUN(test_unknown_and_bad_names_are_ignored);

        machine_free(m);
        r = TESTS_DONE();
        {
                char cmd[256];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                if (system(cmd) != 0)
                        fprintf(stderr, "Failed to remove %s\n", root);
        }
        return r;
}
