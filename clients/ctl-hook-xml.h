/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PCI hostdevs a libvirt domain's XML lists, for passthructl's libvirt hook: the daemon's
 * own parser (service/virt-xml.c, libxml2 only) behind plain types, since its headers and
 * ctl-util.h cannot meet in one file. Touches no files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* "ffffffff:ff:1f.7" and NUL fit (service/pci-address.h's PCI_ADDRESS_STRING_MAX). */
#define HOOK_ADDRESS_MAX 24

typedef struct HookHostdev {
        char address[HOOK_ADDRESS_MAX]; /* canonical: "0000:26:00.0" */
        bool managed;                   /* managed='yes' */
} HookHostdev;

/* The <hostdev type='pci'> of /domain/devices, in document order, as virt_xml_parse_pci_hostdevs()
 * reads them; <interface type='hostdev'> (network functions, libvirt's business) are left out.
 * Returns 0 with *ret (free(), NULL when none) and *ret_n; -EINVAL when the XML is not a domain
 * or a hostdev's address is malformed (*ret_reason then says what, a static sentence); -ENOMEM. */
int hook_xml_pci_hostdevs(const char *xml, HookHostdev **ret, size_t *ret_n, const char **ret_reason);
