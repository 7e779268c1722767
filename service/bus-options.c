/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading the a{sv} options of method calls (see bus-options.h). Never touches sysfs.
 */
#include <stdio.h>

#include "bus-options.h"
#include "errors.h"
#include "util.h"

static char *known_options(const BoolOption *options) {
        _cleanup_free_ char *text = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t size = 0;

        f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        for (const BoolOption *o = options; o->name; o++)
                fprintf(f, "%s%s (b)", o == options ? "" : ", ", o->name);
        if (options->name == NULL)
                fputs("none", f);
        if (fflush(f) != 0 || ferror(f))
                return NULL;
        fclose(TAKE_PTR(f));
        return TAKE_PTR(text);
}

int bus_read_pci_address(sd_bus_message *message, PciAddress *ret, sd_bus_error *error) {
        const char *address, *reason = NULL;
        int r;

        r = sd_bus_message_read(message, "s", &address);
        if (r < 0)
                return r;
        r = pci_address_parse(address, ret, &reason);
        if (r < 0) {
                _cleanup_free_ char *shown = cescape_trunc(address, 32);
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid PCI address \"%s\": %s. Expected DDDD:BB:SS.F "
                                         "(e.g. 0000:26:00.0), BB:SS.F or pci_DDDD_BB_SS_F.",
                                         strempty(shown), reason);
        }
        return 0;
}

int bus_error_no_such_device(sd_bus_error *error, const PciAddress *a) {
        char name[PCI_ADDRESS_STRING_MAX];

        return sd_bus_error_setf(error, PASSTHRU_ERROR_NO_SUCH_DEVICE,
                                 "There is no PCI function %s on this machine; 'passthructl list' shows those there "
                                 "are.",
                                 pci_address_format(a, name));
}

int bus_read_bool_options(sd_bus_message *message, const BoolOption *options, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
                const BoolOption *o;
                const char *key, *contents;
                char type;
                int b;

                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;
                for (o = options; o->name && !streq(o->name, key); o++)
                        ;
                if (!o->name) {
                        _cleanup_free_ char *shown = cescape_trunc(key, 32), *known = known_options(options);
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option \"%s\". Known options: %s.",
                                                 strempty(shown), strempty(known));
                }
                r = sd_bus_message_peek_type(message, &type, &contents);
                if (r < 0)
                        return r;
                if (type != 'v' || !streq_ptr(contents, "b"))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option %s takes a boolean (variant of type b), not a value of "
                                                 "type %s.",
                                                 key, strempty(contents));
                r = sd_bus_message_read(message, "v", "b", &b);
                if (r < 0)
                        return r;
                *o->value = b;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}
