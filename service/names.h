/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Vendor, product and class names of PCI functions from the udev hardware database.
 */
#pragma once

#include <systemd/sd-hwdb.h>

#include "pci.h"

/* Fills d->vendor_name, d->product_name, d->class_name ("" when unknown).
 * hwdb may be NULL (no database installed): then every name is "". */
int names_lookup(sd_hwdb *hwdb, PciDevice *d);
