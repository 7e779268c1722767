/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl reserve", "unreserve" and "reservations": the functions passthrud gives to
 * vfio-pci early at every boot (Manager.Reserve, Manager.Unreserve, the Reservations
 * property). A reservation changes nothing now: passthrud-reservations.service applies it
 * at the next boot, detach does it now.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-util.h"

typedef struct ReserveOptions {
        bool override;          /* reserve: sent as "override": true */
        bool ask_password;      /* allow interactive authorization, start pkttyagent on a tty */
        bool json, json_pretty;
} ReserveOptions;

/* Each runs the whole verb and prints its outcome; an error reply is printed as
 * "passthructl: MESSAGE (ERROR_NAME)" on standard error. Return 0 or a negative errno
 * (everything logged). address is passed to the daemon as it was given. */
int run_reserve(sd_bus *bus, const char *address, const ReserveOptions *o);
int run_unreserve(sd_bus *bus, const char *address, const ReserveOptions *o);
int run_reservations(sd_bus *bus, const ReserveOptions *o);

