/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Looks names up in the hwdb (hwdb.bin, through sd_hwdb) by the function's modalias, the
 * same keys udev uses: ID_VENDOR_FROM_DATABASE, ID_MODEL_FROM_DATABASE,
 * ID_PCI_SUBCLASS_FROM_DATABASE, ID_PCI_CLASS_FROM_DATABASE. Reads no sysfs itself.
 */
#include <stdio.h>

#include "names.h"
#include "util.h"

int names_lookup(sd_hwdb *hwdb, PciDevice *d) {
        const char *vendor = NULL, *model = NULL, *subclass = NULL, *class = NULL, *key, *value;
        char modalias[PCI_MODALIAS_MAX];
        int r;

        if (hwdb && sd_hwdb_seek(hwdb, pci_device_modalias(d, modalias)) >= 0)
                while ((r = sd_hwdb_enumerate(hwdb, &key, &value)) > 0) {
                        if (streq(key, "ID_VENDOR_FROM_DATABASE"))
                                vendor = value;
                        else if (streq(key, "ID_MODEL_FROM_DATABASE"))
                                model = value;
                        else if (streq(key, "ID_PCI_SUBCLASS_FROM_DATABASE"))
                                subclass = value;
                        else if (streq(key, "ID_PCI_CLASS_FROM_DATABASE"))
                                class = value;
                }

        if (free_and_strdup(&d->vendor_name, strempty(vendor)) < 0 ||
            free_and_strdup(&d->product_name, strempty(model)) < 0 ||
            free_and_strdup(&d->class_name, subclass ?: strempty(class)) < 0)
                return -ENOMEM;
        return 0;
}
