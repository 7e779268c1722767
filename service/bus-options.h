/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The arguments of our methods as they come off the bus: a{sv} options (every key known,
 * every value of its type) and PCI addresses (parsed; the canonical form is rebuilt later).
 */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"
#include "pci-address.h"

typedef struct BoolOption {
        const char *name;
        bool *value;
} BoolOption;

/* Reads a{sv} where each key is one of options (NULL-name terminated) with a boolean value;
 * an unknown key or another type → InvalidArgs naming the known ones. */
int bus_read_bool_options(sd_bus_message *message, const BoolOption *options, sd_bus_error *error);

/* Reads an "s" argument and parses it as a PCI address; text that is not one → InvalidArgs
 * saying what is wrong and which forms are accepted. */
int bus_read_pci_address(sd_bus_message *message, PciAddress *ret, sd_bus_error *error);

/* NoSuchDevice for a well-formed address of a function this machine does not have. */
int bus_error_no_such_device(sd_bus_error *error, const PciAddress *a);
