/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Manager.StartGuest, GetGuests, PrepareGuest, ReleaseGuest (registered as another vtable of
 * the Manager interface).
 */
#pragma once

#include <systemd/sd-bus.h>

extern const sd_bus_vtable guests_vtable[];
