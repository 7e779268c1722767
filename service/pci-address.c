/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parser and formatter of PCI addresses. Input is never trusted: it is scanned field by
 * field into numbers, range-checked, then the canonical text is rebuilt from the numbers
 * and compared with the input, so only what we understood gets through. Touches no files.
 */
#include <stdio.h>
#include <strings.h>

#include "pci-address.h"

/* Reads between min and max hex digits followed by 'end' (or NUL when end is 0). */
static int scan_hex(const char **p, size_t min, size_t max, char end, uint32_t *ret) {
        const char *s = *p;
        uint32_t v = 0;
        size_t n = 0;

        while (unhexchar(s[n]) >= 0) {
                if (n >= max)
                        return -EINVAL;
                v = v * 16 + (uint32_t) unhexchar(s[n]);
                n++;
        }
        if (n < min || s[n] != end)
                return -EINVAL;
        *p = s + n + (end ? 1 : 0);
        *ret = v;
        return 0;
}

int pci_address_parse(const char *s, PciAddress *ret, const char **ret_reason) {
        char canonical[PCI_ADDRESS_STRING_MAX], given[PCI_ADDRESS_STRING_MAX];
        uint32_t domain = 0, bus, slot, function;
        const char *reason = NULL, *p;
        bool nodedev = false;
        size_t len;
        PciAddress a;
        int r = -EINVAL;

        if (!s || s[0] == '\0') {
                reason = "the address is empty";
                goto fail;
        }
        len = strnlen(s, PCI_ADDRESS_INPUT_MAX + 1);
        if (len > PCI_ADDRESS_INPUT_MAX || len >= sizeof(given)) {
                reason = "the address is too long";
                goto fail;
        }
        for (p = s; *p; p++)
                if (unhexchar(*p) < 0 && !strchr(":._pci", *p)) {
                        reason = "the address may only hold hex digits, ':' and '.'";
                        goto fail;
                }

        p = s;
        if (strneq(p, "pci_", 4)) {
                nodedev = true;
                p += 4;
                if (scan_hex(&p, 4, 8, '_', &domain) < 0 || scan_hex(&p, 2, 2, '_', &bus) < 0 ||
                    scan_hex(&p, 2, 2, '_', &slot) < 0 || scan_hex(&p, 1, 1, 0, &function) < 0) {
                        reason = "expected pci_DDDD_BB_SS_F";
                        goto fail;
                }
        } else {
                const char *q = p;
                unsigned colons = 0;

                for (; *q; q++)
                        colons += *q == ':';
                if ((colons == 2 && scan_hex(&p, 4, 8, ':', &domain) < 0) || colons < 1 || colons > 2 ||
                    scan_hex(&p, 2, 2, ':', &bus) < 0 || scan_hex(&p, 2, 2, '.', &slot) < 0 ||
                    scan_hex(&p, 1, 1, 0, &function) < 0) {
                        reason = "expected DDDD:BB:SS.F (e.g. 0000:26:00.0), BB:SS.F or pci_DDDD_BB_SS_F";
                        goto fail;
                }
        }

        if (slot > 0x1f) {
                reason = "the slot must be 00 to 1f";
                r = -ERANGE;
                goto fail;
        }
        if (function > 7) {
                reason = "the function must be 0 to 7";
                r = -ERANGE;
                goto fail;
        }

        a = (PciAddress) { .domain = domain, .bus = (uint8_t) bus, .slot = (uint8_t) slot,
                           .function = (uint8_t) function };

        /* Rebuild from the numbers and compare: "00000:…" or "0x…" style leftovers never pass. */
        if (nodedev)
                pci_address_format_nodedev(&a, canonical);
        else if (strchr(s, ':') != strrchr(s, ':'))
                pci_address_format(&a, canonical);
        else
                snprintf(canonical, sizeof(canonical), "%02x:%02x.%u", a.bus, a.slot, a.function);
        if (strcasecmp(canonical, s) != 0) {
                reason = "the domain must be written as 4 hex digits (more only when above ffff)";
                goto fail;
        }

        if (ret)
                *ret = a;
        if (ret_reason)
                *ret_reason = NULL;
        return 0;

fail:
        if (ret_reason)
                *ret_reason = reason;
        return r;
}

const char *pci_address_format(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]) {
        snprintf(buf, PCI_ADDRESS_STRING_MAX, "%04x:%02x:%02x.%u", a->domain, a->bus, a->slot, a->function);
        return buf;
}

const char *pci_address_format_nodedev(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]) {
        snprintf(buf, PCI_ADDRESS_STRING_MAX, "pci_%04x_%02x_%02x_%u", a->domain, a->bus, a->slot, a->function);
        return buf;
}

const char *pci_address_format_short(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]) {
        if (a->domain != 0)
                return pci_address_format(a, buf);
        snprintf(buf, PCI_ADDRESS_STRING_MAX, "%02x:%02x.%u", a->bus, a->slot, a->function);
        return buf;
}

int pci_address_compare(const PciAddress *a, const PciAddress *b) {
        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        if (a->function != b->function)
                return a->function < b->function ? -1 : 1;
        return 0;
}
