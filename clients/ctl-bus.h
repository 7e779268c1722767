/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * passthructl's D-Bus plumbing: the names of passthrud's API, connecting to the system
 * bus, turning bus errors into the messages users see, and converting any D-Bus value
 * into JSON (for monitor). Owns nothing beyond the calls' results.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-json.h"
#include "ctl-util.h"

#define PASSTHRU_SERVICE "org.passthru1"
#define PASSTHRU_PATH "/org/passthru1"
#define PASSTHRU_MANAGER_INTERFACE "org.passthru1.Manager"
#define PASSTHRU_GROUP_INTERFACE "org.passthru1.Group"
#define PASSTHRU_DEVICE_INTERFACE "org.passthru1.Device"
#define PASSTHRU_GPU_INTERFACE "org.passthru1.Gpu"
#define PASSTHRU_DEVICE_PATH_PREFIX "/org/passthru1/device/"
#define PASSTHRU_GROUP_PATH_PREFIX "/org/passthru1/group/"

/* sd-bus.h and sd-event.h provide the cleanup helpers sd_bus_flush_close_unrefp(),
 * sd_bus_message_unrefp(), sd_bus_slot_unrefp(), sd_event_unrefp(). */

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS is honoured). Logs on failure. */
int bus_connect_system(sd_bus **ret);

/* Logs the failure of a call and returns a negative errno:
 *   passthrud not on the bus        → "passthrud is not running …"
 *   a D-Bus error from the daemon   → "<message> (<error name>)"
 *   anything else                   → "<what>: <strerror>" */
int log_bus_error(const sd_bus_error *error, int r, const char *what);

/* Calls interface.method on /org/passthru1 of org.passthru1 with the arguments described
 * by types (sd_bus_message_append() syntax, may be NULL); logs on failure. */
int bus_call(sd_bus *bus, const char *interface, const char *method, sd_bus_message **ret_reply, const char *types, ...);

/* Manager.GetDevice(address): the object path and (ret_name not NULL) the canonical address,
 * printable, as the object's name spells it. The daemon parses and validates the address; it
 * is passed on verbatim. Logs on failure. */
int bus_get_device(sd_bus *bus, const char *address, char **ret_path, char **ret_name);

/* Calls the prepared method call m (timeout_usec 0: sd-bus's default); with ask_password the
 * call allows interactive authorization and a polkit agent runs on our terminal meanwhile
 * (see ctl-agent.h). Logs on failure, as bus_call(). */
int bus_call_message(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, bool ask_password,
                     sd_bus_message **ret_reply);

/* Reads the next complete value of m (whatever its type) and writes it as JSON:
 * integers as numbers, b as true/false, s/o/g as strings, arrays and structs as arrays,
 * dictionaries as objects (keys converted to strings), variants as their content.
 * max_array > 0 cuts arrays after that many elements, adding a "(N more)" string. */
int bus_message_value_to_json(sd_bus_message *m, JsonWriter *w, size_t max_array);
