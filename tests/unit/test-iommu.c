/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Group viability, blockers and owner from the members' drivers; command line parsing. */
#include "iommu.h"
#include "tests.h"

static PciDevice *dev(uint8_t bus, uint8_t slot, uint8_t fn, uint32_t class, const char *driver) {
        PciDevice *d = calloc(1, sizeof(PciDevice));

        d->address = (PciAddress) { 0, bus, slot, fn };
        pci_address_format(&d->address, d->name);
        d->class = class;
        d->driver = driver ? strdup(driver) : NULL;
        d->group = 16;
        return d;
}

static void set_driver(PciDevice *d, const char *driver) {
        free(d->driver);
        d->driver = driver ? strdup(driver) : NULL;
}

static void test_gpu_and_audio_on_host_drivers_block(void) {
        PciDevice *gpu = dev(0x26, 0, 0, 0x030000, "nvidia"), *audio = dev(0x26, 0, 1, 0x040300, "snd_hda_intel");
        IommuGroup *g = iommu_group_new(16);

        /* Added out of order: the group keeps them sorted. */
        CHECK_INTEQ(iommu_group_add_device(g, audio), 0);
        CHECK_INTEQ(iommu_group_add_device(g, gpu), 0);
        CHECK(g->devices[0] == gpu);
        CHECK_INTEQ(iommu_group_evaluate(g, NULL), 0);

        CHECK(!g->viable);
        CHECK_INTEQ(g->n_blockers, 2);
        CHECK_STREQ(g->blockers[0].address, "0000:26:00.0");
        CHECK_STREQ(g->blockers[0].reason, "bound to nvidia");
        CHECK_STREQ(g->blockers[1].address, "0000:26:00.1");
        CHECK_STREQ(g->blockers[1].reason, "bound to snd_hda_intel");
        CHECK_STREQ(group_owner_to_string(g->owner), "host");

        iommu_group_free(g);
        pci_device_free(gpu);
        pci_device_free(audio);
}

static void test_all_on_vfio_is_viable_and_owned_by_vfio(void) {
        PciDevice *gpu = dev(0x26, 0, 0, 0x030000, "vfio-pci"), *audio = dev(0x26, 0, 1, 0x040300, "vfio-pci");
        IommuGroup *g = iommu_group_new(16);

        iommu_group_add_device(g, gpu);
        iommu_group_add_device(g, audio);
        CHECK_INTEQ(iommu_group_evaluate(g, NULL), 0);
        CHECK(g->viable);
        CHECK_INTEQ(g->n_blockers, 0);
        CHECK_STREQ(group_owner_to_string(g->owner), "vfio");

        iommu_group_free(g);
        pci_device_free(gpu);
        pci_device_free(audio);
}

static void test_half_detached_group_is_mixed(void) {
        PciDevice *gpu = dev(0x26, 0, 0, 0x030000, "vfio-pci"), *audio = dev(0x26, 0, 1, 0x040300, "snd_hda_intel");
        IommuGroup *g = iommu_group_new(16);

        iommu_group_add_device(g, gpu);
        iommu_group_add_device(g, audio);
        iommu_group_evaluate(g, NULL);
        CHECK(!g->viable);
        CHECK_INTEQ(g->n_blockers, 1);
        CHECK_STREQ(g->blockers[0].address, "0000:26:00.1");
        CHECK_STREQ(group_owner_to_string(g->owner), "mixed");

        iommu_group_free(g);
        pci_device_free(gpu);
        pci_device_free(audio);
}

static void test_bridges_never_block(void) {
        /* Like group 15 of the Matisse listing: chipset bridges on pcieport, a NIC on igc. */
        PciDevice *bridge = dev(0x03, 0, 2, 0x060400, "pcieport"), *port = dev(0x20, 0, 0, 0x060400, "pcieport"),
                  *host = dev(0x00, 0x18, 3, 0x060000, "k10temp"), *isa = dev(0x00, 0x14, 3, 0x060100, NULL),
                  *nic = dev(0x21, 0, 0, 0x020000, "igc");
        IommuGroup *g = iommu_group_new(15);

        iommu_group_add_device(g, bridge);
        iommu_group_add_device(g, port);
        iommu_group_add_device(g, host);
        iommu_group_add_device(g, isa);
        iommu_group_add_device(g, nic);
        iommu_group_evaluate(g, NULL);
        CHECK(!g->viable);
        CHECK_INTEQ(g->n_blockers, 1);
        CHECK_STREQ(g->blockers[0].address, "0000:21:00.0");

        iommu_group_remove_device(g, nic);
        iommu_group_evaluate(g, NULL);
        CHECK(g->viable);
        CHECK_INTEQ(g->n_blockers, 0);
        CHECK_STREQ(group_owner_to_string(g->owner), "host");

        iommu_group_free(g);
        pci_device_free(bridge);
        pci_device_free(port);
        pci_device_free(host);
        pci_device_free(isa);
        pci_device_free(nic);
}

static void test_driverless_endpoints_do_not_block(void) {
        PciDevice *a = dev(0x27, 0, 0, 0x130000, NULL);
        IommuGroup *g = iommu_group_new(17);

        iommu_group_add_device(g, a);
        iommu_group_evaluate(g, NULL);
        CHECK(g->viable);
        CHECK_STREQ(group_owner_to_string(g->owner), "host");

        iommu_group_free(g);
        pci_device_free(a);
}

static void test_evaluate_reports_what_changed(void) {
        PciDevice *gpu = dev(0x26, 0, 0, 0x030000, "nvidia");
        IommuGroup *g = iommu_group_new(16);
        unsigned changed;

        iommu_group_add_device(g, gpu);
        iommu_group_evaluate(g, &changed);
        CHECK_INTEQ(changed, GROUP_FIELD_VIABLE | GROUP_FIELD_BLOCKERS);
        iommu_group_evaluate(g, &changed);
        CHECK_INTEQ(changed, 0);

        set_driver(gpu, "vfio-pci");
        iommu_group_evaluate(g, &changed);
        CHECK_INTEQ(changed, GROUP_FIELD_VIABLE | GROUP_FIELD_BLOCKERS | GROUP_FIELD_OWNER);

        set_driver(gpu, "nouveau");
        iommu_group_evaluate(g, &changed);
        CHECK(changed & GROUP_FIELD_BLOCKERS);
        CHECK_STREQ(g->blockers[0].reason, "bound to nouveau");

        iommu_group_free(g);
        pci_device_free(gpu);
}

static void test_owner_strings_round_trip(void) {
        for (GroupOwner o = 0; o < _GROUP_OWNER_MAX; o++)
                CHECK_INTEQ(group_owner_from_string(group_owner_to_string(o)), o);
        CHECK_INTEQ(group_owner_from_string("nobody"), _GROUP_OWNER_INVALID);
        CHECK(group_owner_to_string(_GROUP_OWNER_MAX) == NULL);
}

static void test_cmdline_options(void) {
        const char *c = "BOOT_IMAGE=/vmlinuz ro quiet amd_iommu=on iommu=pt pcie-acs-override=downstream,multifunction iommu=off";
        char *v;

        v = cmdline_get(c, "amd_iommu");
        CHECK_STREQ(v, "on");
        free(v);
        v = cmdline_get(c, "iommu"); /* last one wins */
        CHECK_STREQ(v, "off");
        free(v);
        v = cmdline_get(c, "pcie_acs_override"); /* '-' and '_' alike */
        CHECK_STREQ(v, "downstream,multifunction");
        free(v);
        v = cmdline_get(c, "quiet");
        CHECK_STREQ(v, "");
        free(v);
        CHECK(cmdline_get(c, "intel_iommu") == NULL);
        CHECK(cmdline_get(c, "iommu_") == NULL);
}

int main(void) {
        RUN(test_gpu_and_audio_on_host_drivers_block);
        RUN(test_all_on_vfio_is_viable_and_owned_by_vfio);
        RUN(test_half_detached_group_is_mixed);
        RUN(test_bridges_never_block);
        RUN(test_driverless_endpoints_do_not_block);
        RUN(test_evaluate_reports_what_changed);
        RUN(test_owner_strings_round_trip);
        RUN(test_cmdline_options);
        return TESTS_DONE();
}
