/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl handoff", "return", "consumers", "start" and "guests": the GPU handoff of
 * passthrud (org.passthru1.Gpu on the objects of display-class functions). handoff releases
 * the host's hold on a GPU and gives it with its companions to vfio-pci (Gpu.Handoff), for a
 * libvirt domain it then starts; return undoes exactly that (Gpu.Return), both showing the
 * group's Progress signals like detach; consumers lists the processes that hold the GPU's
 * device nodes (Gpu.GetConsumers). start does a handoff of the GPU a domain lists and starts
 * it (Manager.StartGuest); guests lists the domains holding handed-off devices
 * (Manager.GetGuests).
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-util.h"

typedef struct HandoffOptions {
        bool dry_run;                   /* handoff, return: sent as "dry-run": true */
        bool stop_display_manager;      /* handoff, start: sent as "stop-display-manager": true */
        bool no_start;                  /* handoff with a domain: sent as "start": false */
        bool ask_password;              /* allow interactive authorization, start pkttyagent on a tty */
        bool json, json_pretty;
} HandoffOptions;

/* Each runs the whole verb and prints its outcome. gpu is the address as given (resolved
 * with GetDevice(), which validates it); anything but a GPU is refused before any other
 * call. An error reply of Handoff/Return is printed as "passthructl: ERROR_NAME: MESSAGE",
 * other errors as "passthructl: MESSAGE (ERROR_NAME)". Return 0 or a negative errno
 * (everything logged). */
int run_handoff(sd_bus *bus, const char *gpu, const char *domain, const HandoffOptions *o);
int run_return(sd_bus *bus, const char *gpu, const HandoffOptions *o);
int run_consumers(sd_bus *bus, const char *gpu, const HandoffOptions *o);

/* Manager.StartGuest(domain): the domain's GPU handed off, then the domain started; printed as
 * handoff prints, with the Progress signals of every group (the daemon picks the GPU). An error
 * reply is printed as "passthructl: ERROR_NAME: MESSAGE". */
int run_start(sd_bus *bus, const char *domain, const HandoffOptions *o);

/* Manager.GetGuests(): a table DOMAIN, STATE, DEVICES (addresses), or with JSON an array of
 * {"domain", "state", "devices": [addresses]}. */
int run_guests(sd_bus *bus, const HandoffOptions *o);
