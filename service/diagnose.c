/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Builds the diagnosis from the IOMMU state (iommu.c), the kernel command line, the
 * vfio-pci module (kmod.c), the boot framebuffer (the platform framebuffer drivers)
 * and the GPUs' groups in the registry.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>

#include "diagnose.h"
#include "kmod.h"
#include "sysfs.h"
#include "util.h"

static const char *const severity_table[_SEVERITY_MAX] = {
        [SEVERITY_ERROR] = "error",
        [SEVERITY_WARNING] = "warning",
        [SEVERITY_INFO] = "info",
};

const char *severity_to_string(Severity s) {
        if (s < 0 || s >= _SEVERITY_MAX)
                return NULL;
        return severity_table[s];
}

void diagnosis_done(Diagnosis *d) {
        for (size_t i = 0; i < d->n_findings; i++)
                free(d->findings[i].advice);
        free(d->findings);
        *d = (Diagnosis) {};
}

_printf_(4, 5) static int add(Diagnosis *d, Severity severity, const char *id, const char *fmt, ...) {
        Finding *l;
        char *advice;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&advice, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        l = realloc(d->findings, sizeof(Finding) * (d->n_findings + 1));
        if (!l) {
                free(advice);
                return -ENOMEM;
        }
        d->findings = l;
        l[d->n_findings++] = (Finding) { .severity = severity, .id = id, .advice = advice };
        return 0;
}

/* Intel or AMD, told by the host bridge at 0000:00:00.0 (or any host bridge) when the IOMMU is off. */
static uint16_t platform_vendor(Machine *m) {
        for (size_t i = 0; i < m->n_devices; i++)
                if ((m->devices[i]->class >> 8) == 0x0600)
                        return m->devices[i]->vendor_id;
        return 0;
}

static const char *boot_framebuffer(void) {
        static const char *const fbs[] = {
                "efi-framebuffer/efi-framebuffer.0",
                "simple-framebuffer/simple-framebuffer.0",
                "vesa-framebuffer/vesa-framebuffer.0",
        };
        _cleanup_close_ int fd = sysfs_open_dir(SYSFS_PLATFORM_DRIVERS);

        if (fd < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(fbs); i++)
                if (faccessat(fd, fbs[i], F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                        return strchr(fbs[i], '/') + 1;
        return NULL;
}

static const char *display_name(const PciDevice *d) {
        return isempty(d->product_name) ? "unknown model" : d->product_name;
}

static int diagnose_iommu(Machine *m, const IommuState *s, Diagnosis *d) {
        _cleanup_free_ char *intel = cmdline_get(s->cmdline, "intel_iommu"),
                            *amd = cmdline_get(s->cmdline, "amd_iommu"),
                            *iommu = cmdline_get(s->cmdline, "iommu"),
                            *acs = cmdline_get(s->cmdline, "pcie_acs_override");
        int r;

        if (!s->enabled) {
                bool is_amd = platform_vendor(m) == 0x1022;

                if (streq_ptr(intel, "off") || streq_ptr(amd, "off") || streq_ptr(iommu, "off"))
                        r = add(d, SEVERITY_ERROR, "iommu-disabled",
                                "The kernel command line turns the IOMMU off (%s=off): remove that option and reboot.",
                                streq_ptr(iommu, "off") ? "iommu" : is_amd ? "amd_iommu" : "intel_iommu");
                else if (is_amd)
                        r = add(d, SEVERITY_ERROR, "iommu-disabled",
                                "No IOMMU groups: enable \"IOMMU\"/\"AMD-Vi\" (and SVM) in the firmware setup, then reboot.");
                else
                        r = add(d, SEVERITY_ERROR, "iommu-disabled",
                                "No IOMMU groups: enable VT-d in the firmware setup and boot with intel_iommu=on.");
                if (r < 0)
                        return r;
        } else {
                r = add(d, SEVERITY_INFO, "iommu-enabled", "The IOMMU is on (%s) with %u groups.",
                        s->driver ?: "unknown driver", s->n_groups);
                if (r < 0)
                        return r;
                if (streq_ptr(iommu, "pt")) {
                        r = add(d, SEVERITY_INFO, "iommu-passthrough-mode",
                                "iommu=pt: host devices skip DMA translation (faster); devices given to guests stay isolated.");
                        if (r < 0)
                                return r;
                }
                if (s->interrupt_remapping == 1)
                        r = add(d, SEVERITY_INFO, "interrupt-remapping", "Interrupt remapping is on.");
                else if (s->interrupt_remapping == 0)
                        r = add(d, SEVERITY_WARNING, "no-interrupt-remapping",
                                "Interrupt remapping is off: vfio refuses devices unless "
                                "vfio_iommu_type1.allow_unsafe_interrupts=1, which lets a guest forge interrupts; "
                                "enable interrupt remapping (x2APIC) in the firmware setup.");
                if (r < 0)
                        return r;
        }

        if (acs) {
                r = add(d, SEVERITY_WARNING, "acs-override",
                        "pcie_acs_override=%s is on the kernel command line: the groups shown are not the "
                        "hardware's isolation, devices in different groups may still reach each other's memory.",
                        acs);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int diagnose_vfio(Machine *m, Diagnosis *d) {
        ModuleStatus st;
        int r;

        r = kmod_module_status(m->kmod, "vfio_pci", &st);
        if (r < 0)
                st = MODULE_MISSING;
        switch (st) {
        case MODULE_MISSING:
                return add(d, SEVERITY_ERROR, "vfio-pci-missing",
                           "The running kernel has no vfio-pci module: install a kernel built with CONFIG_VFIO_PCI "
                           "(Debian's linux-image-amd64 has it).");
        case MODULE_AVAILABLE:
                return add(d, SEVERITY_INFO, "vfio-pci-available",
                           "vfio-pci is not loaded yet; it is loaded when a device is detached.");
        default:
                return add(d, SEVERITY_INFO, "vfio-pci-loaded", "vfio-pci is %s.",
                           st == MODULE_BUILTIN ? "built into the kernel" : "loaded");
        }
}

static int diagnose_gpus(Machine *m, Diagnosis *d) {
        const char *fb = boot_framebuffer();
        int r;

        if (fb) {
                r = add(d, SEVERITY_INFO, "framebuffer",
                        "The boot console uses %s (the firmware's framebuffer on the boot GPU); handing that GPU "
                        "to a guest unbinds it.",
                        fb);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->n_devices; i++) {
                const PciDevice *gpu = m->devices[i];
                char a[PCI_ADDRESS_STRING_MAX];
                IommuGroup *g;
                _cleanup_free_ char *others = NULL, *companions = NULL;

                if (!pci_device_is_display(gpu))
                        continue;
                pci_address_format_short(&gpu->address, a);

                if (gpu->boot_vga && !pci_device_on_vfio(gpu)) {
                        r = add(d, SEVERITY_INFO, "boot-gpu",
                                "%s (%s) is the boot VGA and drives the host's display: passing it through is a "
                                "single-GPU handoff, the host has no display until the guest stops.",
                                a, display_name(gpu));
                        if (r < 0)
                                return r;
                }

                g = machine_device_group(m, gpu);
                if (!g)
                        continue;
                for (size_t k = 0; k < g->n_devices; k++) {
                        const PciDevice *o = g->devices[k];
                        char b[PCI_ADDRESS_STRING_MAX];
                        char **list;
                        char *n;

                        if (o == gpu || pci_device_is_bridge(o))
                                continue;
                        list = pci_address_same_slot(&o->address, &gpu->address) ? &companions : &others;
                        if (asprintf(&n, "%s%s%s%s%s%s", strempty(*list), *list ? ", " : "",
                                     pci_address_format_short(&o->address, b), o->driver ? " (" : "",
                                     strempty(o->driver), o->driver ? ")" : "") < 0)
                                return -ENOMEM;
                        free(*list);
                        *list = n;
                }
                if (others)
                        r = add(d, SEVERITY_WARNING, "gpu-group-shared",
                                "GPU %s shares IOMMU group %u with %s: all of them would have to go to the guest "
                                "together; try another PCIe slot or the firmware's ACS setting.",
                                a, g->number, others);
                else
                        r = add(d, SEVERITY_INFO, "gpu-group-isolated",
                                "GPU %s is alone in IOMMU group %u%s%s: it can be passed through.", a, g->number,
                                companions ? " with its companion functions " : "", strempty(companions));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int finding_compare(const void *a, const void *b) {
        const Finding *x = a, *y = b;
        return (int) x->severity - (int) y->severity;
}

int diagnose(Machine *m, Diagnosis *ret) {
        _cleanup_(diagnosis_done) Diagnosis d = {};
        _cleanup_(iommu_state_done) IommuState s = {};
        int r;

        /* Fresh: the command line and /proc/interrupts are not followed by uevents. */
        r = iommu_state_read(&s);
        if (r < 0)
                return r;

        r = diagnose_iommu(m, &s, &d);
        if (r < 0)
                return r;
        r = diagnose_vfio(m, &d);
        if (r < 0)
                return r;
        r = diagnose_gpus(m, &d);
        if (r < 0)
                return r;

        /* qsort is not stable; keep the order of discovery within a severity. */
        for (size_t i = 1; i < d.n_findings; i++)
                for (size_t k = i; k > 0 && finding_compare(&d.findings[k - 1], &d.findings[k]) > 0; k--) {
                        Finding t = d.findings[k];
                        d.findings[k] = d.findings[k - 1];
                        d.findings[k - 1] = t;
                }

        *ret = d;
        d = (Diagnosis) {};
        return 0;
}
