/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-listing.c: unit test of the pcisim listing parser (listing.c): the
 * fixtures, the line forms users paste, the drm/net/block/sound/graphics/
 * vtconsole/module_deps/module_nodes sections, and one error per
 * malformed-line class.
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

        /* drm, net, block, sound, graphics sections added for the simulation */
        check(l->n_nodes == 15);
        check(l->filename && streq(l->filename, path));
        if (l->n_nodes == 15) {
                const ListingNode *n = l->nodes;

                check(n[0].kind == LISTING_NODE_DRM && streq(n[0].name, "card0") && n[0].minor == 0);
                check(n[0].device == (int) (find(l, "26:00.0") - l->devices));
                check(n[1].kind == LISTING_NODE_DRM && streq(n[1].name, "renderD128") && n[1].minor == 128);
                check(n[1].line == n[0].line);
                check(n[2].kind == LISTING_NODE_NET && streq(n[2].name, "enp33s0"));
                check(n[2].device == (int) (find(l, "21:00.0") - l->devices));
                check(n[3].kind == LISTING_NODE_NET && streq(n[3].name, "enp34s0") && n[3].line == n[2].line + 1);
                check(n[4].kind == LISTING_NODE_BLOCK && streq(n[4].name, "nvme0n1") && streq_ptr(n[4].path, "/"));
                check(n[4].device == (int) (find(l, "01:00.0") - l->devices));

                /* 26:00.1 card1 controlC1 hwC1D0 pcmC1D3p: the card first, static minors 32 + … */
                check(n[5].kind == LISTING_NODE_SOUND && streq(n[5].name, "card1") && n[5].sound_card && n[5].card == 1);
                check(n[5].device == (int) (find(l, "26:00.1") - l->devices));
                check(n[6].kind == LISTING_NODE_SOUND && streq(n[6].name, "controlC1") && !n[6].sound_card && n[6].minor == 32);
                check(streq(n[7].name, "hwC1D0") && n[7].minor == 36 && n[7].card == 1);
                check(streq(n[8].name, "pcmC1D3p") && n[8].minor == 51);
                /* 28:00.4 card0 controlC0 hwC0D0 pcmC0D0p pcmC0D0c */
                check(streq(n[9].name, "card0") && n[9].sound_card && n[9].card == 0);
                check(n[9].device == (int) (find(l, "28:00.4") - l->devices));
                check(streq(n[10].name, "controlC0") && n[10].minor == 0);
                check(streq(n[11].name, "hwC0D0") && n[11].minor == 4);
                check(streq(n[12].name, "pcmC0D0p") && n[12].minor == 16);
                check(streq(n[13].name, "pcmC0D0c") && n[13].minor == 24);
                /* efi-framebuffer.0 fb0 */
                check(n[14].kind == LISTING_NODE_GRAPHICS && streq(n[14].name, "fb0") && n[14].minor == 0);
                check(n[14].device == -1 && n[14].platform == LISTING_FRAMEBUFFER_EFI);
        }
        check(l->framebuffer == LISTING_FRAMEBUFFER_EFI);

        check(l->n_vtcons == 2);
        if (l->n_vtcons == 2) {
                check(l->vtcons[0].number == 0 && l->vtcons[0].kind == LISTING_VTCON_DUMMY);
                check(l->vtcons[1].number == 1 && l->vtcons[1].kind == LISTING_VTCON_FB);
        }

        /* the stock listing leaves out the nvidia modules on top of nvidia (see its header) */
        check(l->n_module_deps == (acs ? 3 : 0));
        check(l->n_module_nodes == (acs ? 3 : 1));
        if (l->n_module_nodes >= 1) {
                const ListingModuleItems *m = l->module_nodes;

                check(streq(m[0].module, "nvidia") && m[0].n_items == 2);
                check(m[0].n_items == 2 && streq(m[0].items[0], "nvidia0") && streq(m[0].items[1], "nvidiactl") && !m[0].items[2]);
        }
        if (acs && l->n_module_deps == 3 && l->n_module_nodes == 3) {
                const ListingModuleItems *drm = listing_module_deps(l, "nvidia_drm");

                check(streq(l->module_deps[0].module, "nvidia_modeset") && l->module_deps[0].n_items == 1 &&
                      streq(l->module_deps[0].items[0], "nvidia"));
                check(drm && drm->n_items == 2 && streq(drm->items[0], "nvidia_modeset") && streq(drm->items[1], "nvidia") &&
                      !drm->items[2]);
                check(listing_module_deps(l, "nvidia_uvm") && !listing_module_deps(l, "nvidia"));
                check(streq(l->module_nodes[1].module, "nvidia_modeset") && streq(l->module_nodes[1].items[0], "nvidia-modeset"));
                check(streq(l->module_nodes[2].module, "nvidia_uvm") && l->module_nodes[2].n_items == 2 &&
                      streq(l->module_nodes[2].items[1], "nvidia-uvm-tools"));
        }

        listing_free(l);
}

/* The Skylake with the host on its iGPU: i915's fbdev, no firmware framebuffer. */
static void test_skylake(const char *dir) {
        _cleanup_free_ char *path = strdup_printf("%s/intel-skylake-gtx1050ti.txt", dir);
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

        check(l->n_devices == 11);
        check(l->iommu == LISTING_IOMMU_INTEL && l->interrupt_remapping);
        check(l->framebuffer == LISTING_FRAMEBUFFER_NONE);
        d = find(l, "00:02.0");
        check(d && d->boot_vga && streq_ptr(d->driver, "i915") && d->group == 2);
        d = find(l, "02:00.0");
        check(d && !d->boot_vga && streq_ptr(d->driver, "nouveau") && d->group == 1 && d->device == 0x1c82);
        d = find(l, "00:01.0");
        check(d && d->group == 1 && d->class == 0x060400 && streq_ptr(d->driver, "pcieport"));
        d = find(l, "02:00.1");
        check(d && d->group == 1 && d->device == 0x0fb9 && streq_ptr(d->driver, "snd_hda_intel"));

        for (size_t i = 0; i < l->n_nodes; i++) {
                const ListingNode *n = l->nodes + i;

                if (n->kind == LISTING_NODE_GRAPHICS)
                        check(streq(n->name, "fb0") && n->device == (int) (find(l, "00:02.0") - l->devices));
                if (n->kind == LISTING_NODE_DRM && streq(n->name, "renderD129"))
                        check(n->device == (int) (find(l, "02:00.0") - l->devices) && n->minor == 129);
                if (n->kind == LISTING_NODE_SOUND && streq(n->name, "hwC0D2"))
                        check(n->minor == 6 && n->card == 0 && n->device == (int) (find(l, "00:1f.3") - l->devices));
                if (n->kind == LISTING_NODE_SOUND && streq(n->name, "pcmC0D3p"))
                        check(n->minor == 19);
                if (n->kind == LISTING_NODE_BLOCK)
                        check(streq(n->name, "sda") && n->device == (int) (find(l, "00:17.0") - l->devices));
        }
        check(l->n_nodes == 18);
        check(l->n_vtcons == 2);
        check(l->n_module_deps == 0 && l->n_module_nodes == 0);
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
                check(l->n_nodes == 0);
                check(streq(l->filename, "test.txt"));
                listing_free(l);
        }

        /* drm, net, block: several nodes on a line, a domain address, a path with spaces */
        l = parse_ok(GOOD
                     "IOMMU Group 18 0001:41:00.0 Ethernet controller [0200]: Intel Corporation Ethernet Controller X710 for 10GbE SFP+ [8086:1572] (rev 02)\n"
                     "IOMMU Group 19 02:00.0 Non-Volatile memory controller [0108]: Samsung [144d:a808]\n"
                     "# drm\n"
                     "26:00.0 card1   renderD129\n"
                     "# drivers\n"
                     "26:00.0 nvidia\n"
                     "0001:41:00.0 i40e\n"
                     "02:00.0 nvme\n"
                     "# net\n"
                     "0001:41:00.0 enp65s0f0.a-b_\n"
                     "# block\n"
                     "02:00.0 nvme1n1   /srv/my data  \n"
                     "# drm\n"
                     "26:00.0 card0\n");
        if (l) {
                check(l->n_nodes == 5);
                if (l->n_nodes == 5) {
                        check(streq(l->nodes[0].name, "card1") && l->nodes[0].minor == 1 && l->nodes[0].line == 5);
                        check(streq(l->nodes[1].name, "renderD129") && l->nodes[1].minor == 129);
                        check(l->nodes[2].kind == LISTING_NODE_NET && streq(l->nodes[2].name, "enp65s0f0.a-b_"));
                        check(l->nodes[2].device == (int) (find(l, "0001:41:00.0") - l->devices));
                        check(l->nodes[3].kind == LISTING_NODE_BLOCK && streq(l->nodes[3].name, "nvme1n1"));
                        check(streq_ptr(l->nodes[3].path, "/srv/my data") && l->nodes[3].line == 13);
                        check(l->nodes[4].kind == LISTING_NODE_DRM && streq(l->nodes[4].name, "card0") && l->nodes[4].minor == 0);
                }
                check(streq(listing_node_kind_to_string(LISTING_NODE_DRM), "drm"));
                check(streq(listing_node_kind_to_string(LISTING_NODE_NET), "net"));
                check(streq(listing_node_kind_to_string(LISTING_NODE_BLOCK), "block"));
                listing_free(l);
        }

        /* sound, graphics, vtconsole, module_deps, module_nodes */
        l = parse_ok(GOOD
                     "IOMMU Group 16 26:00.1 Audio device [0403]: NVIDIA Corporation Device [10de:10fa] (rev a1)\n"
                     "# drivers\n"
                     "26:00.0 nvidia\n"
                     "26:00.1 snd_hda_intel\n"
                     "# sound\n"
                     "26:00.1 card7 controlC7 hwC7D3 midiC7D7 pcmC7D7c\n"
                     "26:00.1 card7   pcmC7D0p\n"
                     "# graphics\n"
                     "simple-framebuffer.0 fb31\n"
                     "26:00.0 fb1\n"
                     "# framebuffer\n"
                     "simple-framebuffer.0\n"
                     "# vtconsole\n"
                     "vtcon15 fb\n"
                     "vtcon0 dummy\n"
                     "vtcon2 fb\n"
                     "# module_deps\n"
                     "nvidia-drm nvidia_modeset nvidia\n"
                     "nvidia_modeset  nvidia\n"
                     "# module_nodes\n"
                     "nvidia-drm nvidia-caps.x_1\n"
                     "nvidia_modeset nvidia-modeset\n");
        if (l) {
                const ListingNode *n = l->nodes;
                const ListingModuleItems *d;

                check(l->n_nodes == 8);
                if (l->n_nodes == 8) {
                        check(n[0].kind == LISTING_NODE_SOUND && n[0].sound_card && n[0].card == 7 && streq(n[0].name, "card7"));
                        check(streq(n[1].name, "controlC7") && n[1].minor == 224);
                        check(streq(n[2].name, "hwC7D3") && n[2].minor == 224 + 7);
                        check(streq(n[3].name, "midiC7D7") && n[3].minor == 224 + 15);
                        check(streq(n[4].name, "pcmC7D7c") && n[4].minor == 255);
                        /* the card again on another line: no second card node */
                        check(streq(n[5].name, "pcmC7D0p") && n[5].minor == 224 + 16 && !n[5].sound_card && n[5].line == 8);
                        check(n[6].kind == LISTING_NODE_GRAPHICS && n[6].device == -1 && n[6].platform == LISTING_FRAMEBUFFER_SIMPLE);
                        check(streq(n[6].name, "fb31") && n[6].minor == 31);
                        check(n[7].kind == LISTING_NODE_GRAPHICS && n[7].device == (int) (find(l, "26:00.0") - l->devices));
                        check(streq(n[7].name, "fb1") && n[7].minor == 1);
                }
                check(l->n_vtcons == 3);
                if (l->n_vtcons == 3) {
                        check(l->vtcons[0].number == 15 && l->vtcons[0].kind == LISTING_VTCON_FB && l->vtcons[0].line == 15);
                        check(l->vtcons[1].number == 0 && l->vtcons[1].kind == LISTING_VTCON_DUMMY);
                        check(l->vtcons[2].number == 2 && l->vtcons[2].kind == LISTING_VTCON_FB);
                }
                check(streq(listing_vtcon_kind_to_string(LISTING_VTCON_DUMMY), "dummy"));
                check(streq(listing_vtcon_kind_to_string(LISTING_VTCON_FB), "fb"));
                check(l->n_module_deps == 2);
                d = listing_module_deps(l, "nvidia_drm");
                check(d && d->line == 19 && d->n_items == 2 && streq(d->items[0], "nvidia_modeset") && streq(d->items[1], "nvidia"));
                check(!listing_module_deps(l, "nvidia-drm")); /* names as the kernel keeps them */
                d = listing_module_deps(l, "nvidia_modeset");
                check(d && d->n_items == 1 && streq(d->items[0], "nvidia"));
                check(l->n_module_nodes == 2);
                if (l->n_module_nodes == 2) {
                        check(streq(l->module_nodes[0].module, "nvidia_drm"));
                        check(streq(l->module_nodes[0].items[0], "nvidia-caps.x_1")); /* node names as written */
                }
                check(streq(listing_node_kind_to_string(LISTING_NODE_SOUND), "sound"));
                check(streq(listing_node_kind_to_string(LISTING_NODE_GRAPHICS), "graphics"));
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

#define DRV GOOD "# drivers\n26:00.0 nvidia\n"
        parse_fails(DRV "# drm\n27:00.0 card0\n", 5, "address '27:00.0' in section 'drm' is not in the listing");
        parse_fails(DRV "# drm\n26:00.0\n", 5, "expected 'ADDRESS NODE [NODE...]'");
        parse_fails(DRV "# drm\n26:00.0 card0 fb0\n", 5, "bad node name 'fb0' in section 'drm'");
        parse_fails(DRV "# drm\n26:00.0 card\n", 5, "bad node name 'card'");
        parse_fails(DRV "# drm\n26:00.0 card01\n", 5, "bad node name 'card01'");
        parse_fails(DRV "# drm\n26:00.0 renderd128\n", 5, "bad node name 'renderd128'");
        parse_fails(DRV "# drm\n26:00.0 card0x\n", 5, "bad node name");
        parse_fails(DRV "# drm\n26:00.0 card0\n\n26:00.0 card0\n", 7, "duplicate node 'card0' in section 'drm', first listed on line 5");
        parse_fails(DRV "# drm\n26:00.0 card128 renderD128\n", 5, "minor 128 like 'card128' on line 5");
        parse_fails(GOOD "# drm\n26:00.0 card0\n", 3, "0000:26:00.0 in section 'drm' has no driver in section 'drivers'");
        parse_fails(GOOD "# drm\n26:00.0 card0\n# drivers\n26:00.0 vfio-pci\n", 3, "bound to vfio-pci");
        parse_fails(DRV "# net\n27:00.0 eth0\n", 5, "address '27:00.0' in section 'net' is not in the listing");
        parse_fails(DRV "# net\n26:00.0\n", 5, "expected 'ADDRESS IFNAME'");
        parse_fails(DRV "# net\n26:00.0 eth0 eth1\n", 5, "expected 'ADDRESS IFNAME'");
        parse_fails(DRV "# net\n26:00.0 abcdefghijklmnop\n", 5, "bad interface name 'abcdefghijklmnop'");
        parse_fails(DRV "# net\n26:00.0 eth:0\n", 5, "bad interface name");
        parse_fails(DRV "# net\n26:00.0 ..\n", 5, "bad interface name");
        parse_fails(DRV "# net\n26:00.0 eth0\n26:00.0 eth0\n", 6, "duplicate interface 'eth0'");
        parse_fails(DRV "# block\n27:00.0 nvme0n1 /\n", 5, "address '27:00.0' in section 'block' is not in the listing");
        parse_fails(DRV "# block\n26:00.0 nvme0n1\n", 5, "expected 'ADDRESS NAME PATH'");
        parse_fails(DRV "# block\n26:00.0 nvme0n1 home\n", 5, "path 'home' in section 'block' is not absolute");
        parse_fails(DRV "# block\n26:00.0 nvme/0 /\n", 5, "bad block device name");
        parse_fails(DRV "# block\n26:00.0 sda /\n26:00.0 sda /home\n", 6, "duplicate node 'sda' in section 'block'");
        parse_fails(GOOD "# block\n26:00.0 sda /\n", 3, "has no driver in section 'drivers'");
        parse_fails(DRV "# blocks\n", 4, "unknown section 'blocks', expected one of drivers, boot_vga, sriov, iommu, "
                    "interrupt_remapping, cmdline, framebuffer, modules, drm, net, block, sound, graphics, vtconsole, "
                    "module_deps, module_nodes");

        /* sound */
        parse_fails(DRV "# sound\n26:00.0 card0\n", 5, "expected 'ADDRESS cardN NODE [NODE...]'");
        parse_fails(DRV "# sound\n27:00.0 card0 controlC0\n", 5, "address '27:00.0' in section 'sound' is not in the listing");
        parse_fails(DRV "# sound\n26:00.0 card8 controlC8\n", 5, "bad card 'card8' in section 'sound', expected card0 to card7");
        parse_fails(DRV "# sound\n26:00.0 card01 controlC1\n", 5, "bad card 'card01'");
        parse_fails(DRV "# sound\n26:00.0 controlC0 card0\n", 5, "bad card 'controlC0'");
        parse_fails(DRV "# sound\n26:00.0 card1 controlC0\n", 5, "node 'controlC0' in section 'sound' is not one of card1's");
        parse_fails(DRV "# sound\n26:00.0 card1 pcmC1D0\n", 5, "bad node name 'pcmC1D0' in section 'sound'");
        parse_fails(DRV "# sound\n26:00.0 card1 pcmC1D8p\n", 5, "bad node name 'pcmC1D8p'");
        parse_fails(DRV "# sound\n26:00.0 card1 hwC1D4\n", 5, "bad node name 'hwC1D4'");
        parse_fails(DRV "# sound\n26:00.0 card1 seq\n", 5, "bad node name 'seq'");
        parse_fails(DRV "# sound\n26:00.0 card1 controlC1 controlC1\n", 5, "duplicate node 'controlC1' in section 'sound', first listed on line 5");
        parse_fails(GOOD "IOMMU Group 16 26:00.1 Audio device [0403]: NVIDIA [10de:10fa]\n"
                    "# drivers\n26:00.0 nvidia\n26:00.1 snd_hda_intel\n"
                    "# sound\n26:00.1 card1 controlC1\n26:00.0 card1 hwC1D0\n", 8,
                    "card1 in section 'sound' belongs to 0000:26:00.1 on line 7");
        parse_fails(GOOD "# sound\n26:00.0 card0 controlC0\n", 3, "0000:26:00.0 in section 'sound' has no driver in section 'drivers'");

        /* graphics */
        parse_fails(DRV "# graphics\n26:00.0\n", 5, "expected 'ADDRESS fbN', 'efi-framebuffer.0 fbN' or 'simple-framebuffer.0 fbN'");
        parse_fails(DRV "# graphics\n26:00.0 fb0 fb1\n", 5, "expected 'ADDRESS fbN'");
        parse_fails(DRV "# graphics\nvesa-framebuffer.0 fb0\n", 5, "bad PCI address 'vesa-framebuffer.0' in section 'graphics'");
        parse_fails(DRV "# graphics\n26:00.0 fb32\n", 5, "bad node name 'fb32' in section 'graphics', expected fb0 to fb31");
        parse_fails(DRV "# graphics\n26:00.0 card0\n", 5, "bad node name 'card0'");
        parse_fails(DRV "# graphics\n26:00.0 fb0\n# framebuffer\nefi-framebuffer.0\n# graphics\nefi-framebuffer.0 fb0\n", 9,
                    "duplicate node 'fb0' in section 'graphics', first listed on line 5");
        parse_fails(DRV "# graphics\n26:00.0 fb0\n26:00.0 fb1\n", 6, "26:00.0 has fb0 already in section 'graphics' (line 5)");
        parse_fails(DRV "# graphics\nefi-framebuffer.0 fb0\n", 5,
                    "efi-framebuffer.0 in section 'graphics' is not the platform framebuffer of section 'framebuffer' (none)");
        parse_fails(DRV "# framebuffer\nefi-framebuffer.0\n# graphics\nsimple-framebuffer.0 fb0\n", 7,
                    "simple-framebuffer.0 in section 'graphics' is not the platform framebuffer of section 'framebuffer' (efi-framebuffer.0)");
        parse_fails(GOOD "# graphics\n26:00.0 fb0\n# drivers\n26:00.0 vfio-pci\n", 3, "bound to vfio-pci");

        /* vtconsole */
        parse_fails(DRV "# vtconsole\nvtcon0\n", 5, "expected 'vtconN dummy' or 'vtconN fb'");
        parse_fails(DRV "# vtconsole\nvtcon16 fb\n", 5, "bad console 'vtcon16' in section 'vtconsole', expected vtcon0 to vtcon15");
        parse_fails(DRV "# vtconsole\nvtcon01 fb\n", 5, "bad console 'vtcon01'");
        parse_fails(DRV "# vtconsole\nvtcon fb\n", 5, "bad console 'vtcon'");
        parse_fails(DRV "# vtconsole\nvtcon0 vga\n", 5, "bad console driver 'vga' in section 'vtconsole', expected dummy or fb");
        parse_fails(DRV "# vtconsole\nvtcon1 fb\nvtcon1 dummy\n", 6, "duplicate console 'vtcon1' in section 'vtconsole', first listed on line 5");
        parse_fails(DRV "# vtconsole\nvtcon0 dummy\nvtcon1 dummy\n", 6, "a second system console driver 'vtcon1'");

        /* module_deps */
        parse_fails(DRV "# module_deps\nnvidia_drm\n", 5, "expected 'MODULE DEP [DEP...]' in section 'module_deps'");
        parse_fails(DRV "# module_deps\nnvidia/drm nvidia\n", 5, "bad module name 'nvidia/drm' in section 'module_deps'");
        parse_fails(DRV "# module_deps\nnvidia_drm nvidia.ko\n", 5, "bad module name 'nvidia.ko' in section 'module_deps'");
        parse_fails(DRV "# module_deps\nnvidia-drm nvidia_drm\n", 5, "module 'nvidia_drm' depends on itself in section 'module_deps'");
        parse_fails(DRV "# module_deps\nnvidia_drm nvidia nvidia\n", 5, "'nvidia' twice on one line in section 'module_deps'");
        parse_fails(DRV "# module_deps\nnvidia_drm nvidia\nnvidia-drm nvidia_modeset\n", 6,
                    "duplicate module 'nvidia_drm' in section 'module_deps', first listed on line 5");
        parse_fails(DRV "# module_deps\nvfio-pci vfio\n", 5, "the dependencies of vfio_pci are pcisim's own");
        parse_fails(DRV "# module_deps\npcieport nvidia\n", 5, "pcieport in section 'module_deps' is built into the kernel");
        parse_fails(DRV "# module_deps\nnvidia pcieport\n", 5, "pcieport in section 'module_deps' is built into the kernel");
        parse_fails(DRV "# module_deps\na b\nb c\nc a\n", 5, "module 'a' in section 'module_deps' depends on itself through its dependencies");

        /* module_nodes */
        parse_fails(DRV "# module_nodes\nnvidia\n", 5, "expected 'MODULE NODE [NODE...]' in section 'module_nodes'");
        parse_fails(DRV "# module_nodes\nnvidia nvidia/0\n", 5, "bad node name 'nvidia/0' in section 'module_nodes'");
        parse_fails(DRV "# module_nodes\nnvidia ..\n", 5, "bad node name '..'");
        parse_fails(DRV "# module_nodes\nnvidia null\n", 5, "node name 'null' in section 'module_nodes' is reserved");
        parse_fails(DRV "# module_nodes\nnvidia dri\n", 5, "node name 'dri' in section 'module_nodes' is reserved");
        parse_fails(DRV "# module_nodes\nnvidia fb0\n", 5, "node name 'fb0' in section 'module_nodes' is reserved");
        parse_fails(DRV "# module_nodes\nnvidia nvidia0 nvidia0\n", 5, "'nvidia0' twice on one line in section 'module_nodes'");
        parse_fails(DRV "# module_nodes\nnvidia nvidia0\nnvidia nvidiactl\n", 6,
                    "duplicate module 'nvidia' in section 'module_nodes', first listed on line 5");
        parse_fails(DRV "# module_deps\nnvidia_uvm nvidia\n# module_nodes\nnvidia nvidia0\nnvidia-uvm nvidia0\n", 8,
                    "duplicate node 'nvidia0' in section 'module_nodes', first listed on line 7");
        parse_fails(DRV "# module_nodes\nnvidia nvidia0\nnvidia_uvm nvidia-uvm\n", 6,
                    "module 'nvidia_uvm' in section 'module_nodes' is no module of the listing");
#undef DRV
        parse_fails("# only a comment\n", 0, "no devices");
}

int main(int argc, char *argv[]) {
        const char *dir = argc > 1 ? argv[1] : "tests/fixtures";

        test_fixture(dir, "amd-matisse-gtx1650.txt", false);
        test_fixture(dir, "amd-matisse-gtx1650-acs-override.txt", true);
        test_skylake(dir);
        test_forms();
        test_errors();

        printf("%u passed, %u failed\n", n_passed, n_failed);
        return n_failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
