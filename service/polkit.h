/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Asynchronous polkit authorization of method calls.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct PolkitQuery PolkitQuery;

typedef struct PolkitRegistry {
        PolkitQuery *queries; /* one per method call waiting for (or holding) polkit's answer */
} PolkitRegistry;

void polkit_registry_done(PolkitRegistry *r);

/* Is the caller of message allowed the action? details: NULL or key, value, …, NULL
 * (passed to polkit for rules). Returns 1 when allowed; 0 when polkit was asked: the
 * handler must then return 1 (handled, no reply yet; returning 0 would make sd-bus answer
 * "unknown method") and is called again with the same message once the answer is in (the
 * message is re-queued); or a negative errno with error set: AccessDenied,
 * InteractiveAuthorizationRequired. Root is allowed without asking. Anything that goes wrong
 * on the way (no polkit, a malformed answer) denies. */
/* The same for several actions, all of which must be allowed (asked one after the other). */
int polkit_check_actions(sd_bus_message *message, const char *const *actions, const char *const *details,
                         PolkitRegistry *registry, sd_bus_error *error);

int polkit_check(sd_bus_message *message, const char *action, const char *const *details,
                 PolkitRegistry *registry, sd_bus_error *error);
