/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-hook-xml.h: virt_xml_parse_pci_hostdevs(), then the <hostdev>
 * entries copied with their addresses formatted. Touches no files.
 */
#include "ctl-hook-xml.h"
#include "virt-xml.h"

_Static_assert(HOOK_ADDRESS_MAX >= PCI_ADDRESS_STRING_MAX, "HOOK_ADDRESS_MAX too small");

int hook_xml_pci_hostdevs(const char *xml, HookHostdev **ret, size_t *ret_n, const char **ret_reason) {
        _cleanup_free_ VirtHostdev *parsed = NULL;
        _cleanup_free_ HookHostdev *list = NULL;
        size_t n_parsed = 0, n = 0;
        int r;

        r = virt_xml_parse_pci_hostdevs(xml, &parsed, &n_parsed, ret_reason);
        if (r < 0)
                return r;

        if (n_parsed > 0) {
                list = calloc(n_parsed, sizeof(HookHostdev));
                if (!list)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n_parsed; i++) {
                if (parsed[i].interface)
                        continue;
                pci_address_format(&parsed[i].address, list[n].address);
                list[n].managed = parsed[i].managed;
                n++;
        }

        *ret = n > 0 ? TAKE_PTR(list) : NULL;
        *ret_n = n;
        return 0;
}
