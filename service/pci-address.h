/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PCI addresses: parsing untrusted text into numbers, and the canonical forms built back
 * from the numbers (sysfs name, libvirt node device name). Touches no files.
 */
#pragma once

#include <stdint.h>

#include "macro.h"

/* The value of a hex digit, -1 for another character. */
static inline int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

typedef struct PciAddress {
        uint32_t domain;
        uint8_t bus;
        uint8_t slot;     /* 0x00 … 0x1f */
        uint8_t function; /* 0 … 7 */
} PciAddress;

/* "ffffffff:ff:1f.7" and "pci_ffffffff_ff_1f_7" plus NUL */
#define PCI_ADDRESS_STRING_MAX 24
/* Longest input we look at; anything longer is refused without being parsed. */
#define PCI_ADDRESS_INPUT_MAX 64

/* Accepts DDDD:BB:SS.F, BB:SS.F (domain 0) and pci_DDDD_BB_SS_F, hex in either case.
 * Returns 0, or -EINVAL for text that is not an address and -ERANGE for a slot or function
 * out of range; *ret_reason (if given) then says what is wrong, for a message. */
int pci_address_parse(const char *s, PciAddress *ret, const char **ret_reason);

/* "0000:26:00.0", as the kernel names the device in sysfs. */
const char *pci_address_format(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]);
/* "pci_0000_26_00_0", as libvirt names node devices; used in object paths. */
const char *pci_address_format_nodedev(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]);
/* "26:00.0" when the domain is 0, else the full form. */
const char *pci_address_format_short(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]);

int pci_address_compare(const PciAddress *a, const PciAddress *b) _pure_;
static inline bool pci_address_equal(const PciAddress *a, const PciAddress *b) {
        return pci_address_compare(a, b) == 0;
}
static inline bool pci_address_same_slot(const PciAddress *a, const PciAddress *b) {
        return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot;
}
