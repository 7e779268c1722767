/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-listing.c: unit test of the pcisim listing parser (listing.c): the two
 * fixtures, the line forms users paste, and one error per malformed-line class.
 * Usage: test-listing FIXTURE_DIR
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "sim-util.h"

static unsigned n_failed, n_passed;

#define check(expr)                                                                     \
        do {                                                                            \
                if (expr)                                                               \
                        n_passed++;                                                     \
                else {                                                                  \
                        n_failed++;                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                }                                                                       \
        } while (0)

static const ListingDevice *find(const Listing *l, const char *addr) {
        unsigned d, b, s, f;
        int i;

        if (listing_parse_address(addr, &d, &b, &s, &f) < 0)
                return NULL;
        i = listing_find(l, d, b, s, f);
        return i < 0 ? NULL : l->devices + i;
}

static void test_fixture(const char *dir, const char *name, bool acs) {
        _cleanup_free_ char *path = strdup_printf("%s/%s", dir, name);
        _cleanup_free_ char *error = NULL;
        Listing *l = NULL;
        const ListingDevice *d;
        int r;

        r = listing_parse_file(path, &l, &error);
        if (r < 0)
                fprintf(stderr, "%s: %s\n", path, error ?: strerror(-r));
        check(r == 0);
        if (r < 0)
                return;

        check(l->n_devices == 38);
        check(l->iommu == LISTING_IOMMU_AMD);
        check(l->interrupt_remapping);
        /* cmdline/framebuffer sections may be added to the fixtures: only check what the machine implies */
        check(l->cmdline && strstr(l->cmdline, "amd_iommu=on"));

        d = find(l, "26:00.0");
        check(d && d->group == (acs ? 23 : 16));
        check(d && d->vendor == 0x10de && d->device == 0x1f82);
        check(d && d->subsystem_vendor == 0x10de && d->subsystem_device == 0x1f82);
        check(d && d->class == 0x030000);
        check(d && d->revision == 0xa1);
        check(d && streq(d->class_name, "VGA compatible controller"));
        check(d && streq(d->name, "NVIDIA Corporation TU117 [GeForce GTX 1650]"));
        check(d && streq_ptr(d->driver, "nvidia"));
        check(d && d->boot_vga);
        check(d && d->physfn == -1);

        d = find(l, "0000:26:00.1");
        check(d && d->group == (acs ? 24 : 16));
        check(d && streq_ptr(d->driver, "snd_hda_intel"));
        check(d && !d->boot_vga);

        d = find(l, "22:00.0");
        check(d && d->group == (acs ? 22 : 15) && d->vendor == 0x10ec && d->device == 0x8168 && d->revision == 0x15);
        check(d && streq_ptr(d->driver, "r8169"));

        d = find(l, "03:00.0");
        check(d && d->class == 0x0c0330 && streq_ptr(d->driver, "xhci_hcd"));
        d = find(l, "03:00.1");
        check(d && d->class == 0x010601 && streq_ptr(d->driver, "ahci"));
        d = find(l, "01:00.0");
        check(d && d->class == 0x010802 && d->group == 14 && streq(d->name, "Kingston Technology Company, Inc. Device"));

        d = find(l, "00:01.0");
        check(d && d->group == 0 && d->class == 0x060000 && d->revision == 0 && !d->driver);
        d = find(l, "00:18.4");
        check(d && d->group == 13 && d->device == 0x1444 &&
              streq(d->name, "Advanced Micro Devices, Inc. [AMD] Matisse/Vermeer Data Fabric: Device 18h; Function 4"));
        d = find(l, "00:07.1");
        check(d && streq(d->name, "Advanced Micro Devices, Inc. [AMD] Starship/Matisse Internal PCIe GPP Bridge 0 to bus[E:B]"));
        check(d && d->vendor == 0x1022 && d->device == 0x1484 && streq_ptr(d->driver, "pcieport"));

        d = find(l, "00:14.0");
        check(d && d->revision == (acs ? 0x01 : 0x61) && streq_ptr(d->driver, "piix4_smbus"));
        d = find(l, "28:00.4");
        check(d && d->group == (acs ? 29 : 21));
        check(!find(l, "29:00.0"));

        listing_free(l);
}

static Listing *parse_ok(const char *text) {
        _cleanup_free_ char *error = NULL;
        Listing *l = NULL;
        int r;

        r = listing_parse_string(text, "test.txt", &l, &error);
        if (r < 0)
                fprintf(stderr, "unexpected error: %s\n", error ?: strerror(-r));
        check(r == 0);
        return l;
}

/* Expects an error mentioning "test.txt:LINE:" and the given fragment. */
static void parse_fails(const char *text, unsigned line, const char *fragment) {
        _cleanup_free_ char *error = NULL, *prefix = strdup_printf("test.txt:%u: ", line);
        Listing *l = NULL;
        int r;

        r = listing_parse_string(text, "test.txt", &l, &error);
        check(r == -EINVAL);
        check(l == NULL);
        check(error && startswith(error, prefix));
        check(error && strstr(error, fragment));
        if (!error || !startswith(error, prefix) || !strstr(error, fragment))
                fprintf(stderr, "  got error: %s (wanted %s…%s)\n", error ?: "(none)", prefix, fragment);
        listing_free(l);
}

#define GOOD "IOMMU Group 16 26:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU117 [GeForce GTX 1650] [10de:1f82] (rev a1)\n"

static void test_forms(void) {
        Listing *l;

        /* Defaults */
        l = parse_ok(GOOD);
        if (l) {
                check(l->iommu == LISTING_IOMMU_INTEL); /* no host bridge at all: not AMD */
                check(l->interrupt_remapping);
                check(l->framebuffer == LISTING_FRAMEBUFFER_NONE);
                check(streq(l->cmdline, "BOOT_IMAGE=/boot/vmlinuz root=/dev/nvme0n1p2 ro quiet iommu=pt intel_iommu=on"));
                listing_free(l);
        }
        l = parse_ok("IOMMU Group 0 00:00.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]\n");
        if (l) {
                check(l->iommu == LISTING_IOMMU_AMD);
                check(streq(l->cmdline, "BOOT_IMAGE=/boot/vmlinuz root=/dev/nvme0n1p2 ro quiet iommu=pt amd_iommu=on"));
                listing_free(l);
        }

        /* Missing rev, domain form, no group prefix, name with several brackets */
        l = parse_ok("# a comment\n"
                     "IOMMU Group 3 0001:02:03.4 Ethernet controller [0200]: Intel Corporation Ethernet Controller X710 for 10GbE SFP+ [8086:1572]\n"
                     "05:00.0 USB controller [0c03]: Foo [Bar] Baz [x] [1b21:2142] (rev 0f)\n"
                     "IOMMU Group 7 06:00.0 Host bridge [0600]: Intel Corporation Device [8086:1234]\n");
        if (l) {
                const ListingDevice *d = find(l, "0001:02:03.4");

                check(l->n_devices == 3);
                check(d && d->domain == 1 && d->bus == 2 && d->slot == 3 && d->func == 4);
                check(d && d->group == 3 && d->revision == 0 && d->vendor == 0x8086 && d->device == 0x1572);
                check(d && streq(d->name, "Intel Corporation Ethernet Controller X710 for 10GbE SFP+"));
                check(!find(l, "02:03.4"));

                d = find(l, "05:00.0");
                check(d && d->group == -1 && d->revision == 0x0f && d->vendor == 0x1b21 && d->device == 0x2142);
                check(d && streq(d->name, "Foo [Bar] Baz [x]") && d->class == 0x0c0330);

                /* first host bridge is Intel, no 00:00.0: intel-iommu */
                check(l->iommu == LISTING_IOMMU_INTEL);
                check(streq(l->cmdline, "BOOT_IMAGE=/boot/vmlinuz root=/dev/nvme0n1p2 ro quiet iommu=pt intel_iommu=on"));
                listing_free(l);
        }

        /* All sections */
        l = parse_ok(GOOD
                     "IOMMU Group 17 26:00.1 Audio device [0403]: NVIDIA Corporation Device [10de:10fa] (rev a1)\n"
                     "IOMMU Group 18 41:00.0 Ethernet controller [0200]: Intel Corporation Ethernet Controller X710 for 10GbE SFP+ [8086:1572] (rev 02)\n"
                     "IOMMU Group 19 41:02.0 Ethernet controller [0200]: Intel Corporation Ethernet Virtual Function 700 Series [8086:154c] (rev 02)\n"
                     "\n"
                     "# drivers\n"
                     "26:00.0 vfio-pci\n"
                     "41:00.0 i40e\n"
                     "\n"
                     "# boot_vga\n"
                     "26:00.0\n"
                     "# sriov\n"
                     "41:02.0 41:00.0\n"
                     "# iommu\n"
                     "none\n"
                     "# interrupt_remapping\n"
                     "no\n"
                     "# cmdline\n"
                     "BOOT_IMAGE=/vmlinuz ro  quiet\n"
                     "# framebuffer\n"
                     "efi-framebuffer.0\n"
                     "# modules\n"
                     "nouveau pci:v000010DEd*sv*sd*bc03sc*i*\n"
                     "snd-hda-intel pci:v000010DEd000010FAsv*sd*bc*sc*i*\n");
        if (l) {
                const ListingDevice *vf = find(l, "41:02.0"), *pf = find(l, "41:00.0");

                check(l->iommu == LISTING_IOMMU_NONE);
                check(!l->interrupt_remapping);
                check(streq(l->cmdline, "BOOT_IMAGE=/vmlinuz ro  quiet"));
                check(l->framebuffer == LISTING_FRAMEBUFFER_EFI);
                check(l->n_modules == 2);
                check(l->n_modules == 2 && streq(l->modules[0].module, "nouveau") &&
                      streq(l->modules[0].pattern, "pci:v000010DEd*sv*sd*bc03sc*i*"));
                check(l->n_modules == 2 && streq(l->modules[1].module, "snd_hda_intel"));
                check(vf && pf && vf->physfn == (int) (pf - l->devices) && pf->physfn == -1);
                check(find(l, "26:00.0") && streq_ptr(find(l, "26:00.0")->driver, "vfio-pci"));
                check(find(l, "26:00.1") && !find(l, "26:00.1")->driver);
                listing_free(l);
        }

        {
                char *m = NULL;

                check(listing_driver_module("pcieport", &m) == 0 && m == NULL);
                check(listing_driver_module("xhci_hcd", &m) == 1 && streq(m, "xhci_pci"));
                free(m);
                check(listing_driver_module("vfio-pci", &m) == 1 && streq(m, "vfio_pci"));
                free(m);
                check(listing_driver_module("piix4_smbus", &m) == 1 && streq(m, "i2c_piix4"));
                free(m);
        }
}

static void test_errors(void) {
        parse_fails("IOMMU Group x 26:00.0 VGA compatible controller [0300]: NVIDIA [10de:1f82]\n", 1, "bad IOMMU group");
        parse_fails(GOOD "IOMMU Group -3 26:00.1 Audio device [0403]: NVIDIA [10de:10fa]\n", 2, "bad IOMMU group");
        parse_fails("# a comment\n" "IOMMU Group 1 26:0.0 VGA compatible controller [0300]: NVIDIA [10de:1f82]\n", 2, "bad PCI address");
        parse_fails("IOMMU Group 1 26:00.8 VGA compatible controller [0300]: NVIDIA [10de:1f82]\n", 1, "bad PCI address");
        parse_fails("IOMMU Group 1 zz:00.0 VGA compatible controller [0300]: NVIDIA [10de:1f82]\n", 1, "bad PCI address");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device [0403]: NVIDIA Corporation Device\n", 2, "missing '[vvvv:dddd]'");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device [0403]: NVIDIA TU117 [GeForce GTX 1650] (rev a1)\n", 2, "missing '[vvvv:dddd]'");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device [0403]: NVIDIA [10dg:10fa]\n", 2, "bad hex");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device [0403]: NVIDIA [10de:10f]\n", 2, "bad hex");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device [04g3]: NVIDIA [10de:10fa]\n", 2, "bad hex");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device [0403]: NVIDIA [10de:10fa] (rev zz)\n", 2, "bad hex");
        parse_fails(GOOD "IOMMU Group 1 26:00.1 Audio device: NVIDIA [10de:10fa]\n", 2, "class code");
        parse_fails(GOOD "\n# drivers\n26:00.0 nvidia\n# frobnicate\n26:00.0\n", 5, "unknown section 'frobnicate'");
        parse_fails(GOOD GOOD, 2, "duplicate address 0000:26:00.0, first listed on line 1");
        parse_fails(GOOD "IOMMU Group 16 0000:26:00.0 VGA compatible controller [0300]: NVIDIA [10de:1f82]\n", 2, "duplicate address");
        parse_fails(GOOD "# drivers\n26:00.1 nvidia\n", 3, "not in the listing");
        parse_fails(GOOD "# drivers\n26:00.0\n", 3, "expected 'ADDRESS DRIVER'");
        parse_fails(GOOD "# drivers\n26:00.0 nvidia\n26:00.0 nouveau\n", 4, "duplicate driver");
        parse_fails(GOOD "# sriov\n26:00.0\n", 3, "expected 'VF_ADDRESS PF_ADDRESS'");
        parse_fails(GOOD "# iommu\nsmmu\n", 3, "amd-iommu, intel-iommu, none");
        parse_fails(GOOD "# interrupt_remapping\nmaybe\n", 3, "'yes' or 'no'");
        parse_fails(GOOD "# framebuffer\nvesafb\n", 3, "efi-framebuffer.0");
        parse_fails(GOOD "# modules\nnouveau\n", 3, "expected 'MODULE PATTERN'");
        parse_fails(GOOD "# boot_vga\nfoo\n", 3, "bad PCI address");
        parse_fails("just some text\n", 1, "expected 'IOMMU Group N");
        parse_fails("# only a comment\n", 0, "no devices");
}

int main(int argc, char *argv[]) {
        const char *dir = argc > 1 ? argv[1] : "tests/fixtures";

        test_fixture(dir, "amd-matisse-gtx1650.txt", false);
        test_fixture(dir, "amd-matisse-gtx1650-acs-override.txt", true);
        test_forms();
        test_errors();

        printf("%u passed, %u failed\n", n_passed, n_failed);
        return n_failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
