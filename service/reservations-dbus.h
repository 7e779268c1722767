/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reservations on the bus: Manager.Reserve/Unreserve and the Reservations property
 * (registered as a second vtable of the Manager interface).
 */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

extern const sd_bus_vtable reservations_vtable[];

/* (Re-)reads the configuration directory's reservations into m->reservations. */
int manager_load_reservations(Manager *m);
