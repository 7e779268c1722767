/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a libvirt domain's XML says about the PCI devices it passes through: a pure function of
 * the XML text (libxml2, no libvirt call), so that it is tested without libvirt. Touches no files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "pci-address.h"

typedef struct VirtHostdev {
        PciAddress address;
        bool managed;   /* managed='yes': libvirt detaches/reattaches the device itself */
        bool interface; /* from <interface type='hostdev'> (a network function), else <hostdev> */
} VirtHostdev;

/* The PCI devices of /domain/devices, in document order: each <hostdev type='pci'> of mode
 * 'subsystem' (or no mode: libvirt's default) and each <interface type='hostdev'>; other
 * hostdevs (usb, scsi, scsi_host, mdev, mode 'capabilities') are not PCI passthrough and are
 * left out. Their <source><address domain= bus= slot= function=/> is read strictly as libvirt
 * writes it: "0x" and hex digits (either case), at most 8 for the domain, 2 for bus and slot,
 * 1 for the function, slot at most 0x1f and function at most 7; the address may carry
 * type='pci', no other type. managed is "yes", "no" or absent (no).
 *
 * Returns 0 with *ret an array of *ret_n entries (NULL and 0 when there are none; free()),
 * -EINVAL when the text is not XML, its root is not <domain>, or a PCI hostdev has no address
 * or a malformed one (then *ret_reason, if given, is a static sentence saying what), -ENOMEM.
 * No external entity or DTD is loaded. */
int virt_xml_parse_pci_hostdevs(const char *xml, VirtHostdev **ret, size_t *ret_n, const char **ret_reason);
