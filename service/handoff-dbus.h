/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The methods and signal of org.passthru1.Gpu (a second vtable of the interface, next to
 * the properties in device-dbus.c).
 */
#pragma once

#include <systemd/sd-bus.h>

extern const sd_bus_vtable gpu_methods_vtable[];
