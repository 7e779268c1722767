/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The a{sv} options of our methods: every key known, every value of its type.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct BoolOption {
        const char *name;
        bool *value;
} BoolOption;

/* Reads a{sv} where each key is one of options (NULL-name terminated) with a boolean value;
 * an unknown key or another type → InvalidArgs naming the known ones. */
int bus_read_bool_options(sd_bus_message *message, const BoolOption *options, sd_bus_error *error);
