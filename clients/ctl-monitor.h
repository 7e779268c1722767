/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl monitor": follows passthrud's InterfacesAdded, InterfacesRemoved and
 * PropertiesChanged signals and prints one line (or one JSON object) per change.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-util.h"

/* Runs until SIGINT or SIGTERM (returns 0) or until the bus connection goes (logs,
 * returns a negative errno). */
int run_monitor(sd_bus *bus, bool json);
