/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The methods and signal of org.passthru1.Gpu (a second vtable of the interface, next to
 * the properties in device-dbus.c).
 */
#pragma once

#include <systemd/sd-bus.h>

#include "handoff.h"

/* The polkit action of Gpu.Handoff, Return and the Manager's guest methods. */
#define ACTION_HANDOFF "org.passthru1.gpu.handoff"

extern const sd_bus_vtable gpu_methods_vtable[];

/* Starts the Return of gpu: message the call to answer (NULL: the daemon's own, after its
 * domain stopped); ask_libvirt: GuestRunning when its domain runs (never from libvirt's hook).
 * 1 started (or answered, dry-run), -errno with error set. */
int gpu_return_start(Manager *m, sd_bus_message *message, PciDevice *gpu, bool dry_run, bool ask_libvirt,
                     sd_bus_error *error);

/* Starts a Handoff of gpu (the caller authorized it): guest NULL for none. 1 started (or
 * answered), -errno with error set. */
int gpu_handoff_start(Manager *m, sd_bus_message *message, PciDevice *gpu, const HandoffGuest *guest,
                      bool stop_display_manager, bool dry_run, sd_bus_error *error);

/* A Handoff to a libvirt domain (the caller authorized it): looks the domain up, takes its
 * other hostdevs along, starts it last when start is set. gpu NULL: the first GPU the domain
 * lists (NotViable when none). 1 started (or answered), -errno with error set. */
int gpu_handoff_to_domain(Manager *m, sd_bus_message *message, PciDevice *gpu, const char *domain, bool start,
                          bool stop_display_manager, bool dry_run, sd_bus_error *error);
/* The same once libvirt's connection is open (its need counted by the caller). */
int gpu_handoff_to_domain_connected(Manager *m, sd_bus_message *message, PciDevice *gpu, const char *domain, bool start,
                          bool stop_display_manager, bool dry_run, sd_bus_error *error);

/* InvalidArgs (error set) for a domain name that is too long or has control characters. */
int check_domain_name(const char *domain, sd_bus_error *error);
/* Busy or Stuck (error set) when an operation runs on a group of gpu or its companions. */
int check_groups_idle(Manager *m, PciDevice *gpu, sd_bus_error *error);
