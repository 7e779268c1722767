/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl detach" and "passthructl reattach": call Detach or Reattach on a Group or
 * Device object of passthrud, show the daemon's Progress signals while the call runs,
 * then the outcome (or the plan, with --dry-run), for people or as JSON.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-util.h"

typedef enum AssignAction {
        ASSIGN_DETACH,
        ASSIGN_REATTACH,
} AssignAction;

typedef struct AssignTarget {
        const char *path;       /* the org.passthru1.Group or org.passthru1.Device object */
        bool is_group;
        const char *name;       /* for people: "group 16", "0000:26:00.0" (printable) */
} AssignTarget;

typedef struct AssignOptions {
        bool dry_run;           /* sent as "dry-run": true */
        bool override;          /* sent as "override": true */
        bool ask_password;      /* allow interactive authorization, start pkttyagent on a tty */
        bool json, json_pretty;
} AssignOptions;

/* Runs the whole operation and prints its outcome. An error reply is printed as
 * "passthructl: ERROR_NAME: MESSAGE" on standard error. Returns 0 or a negative errno
 * (everything logged). */
int run_assign(sd_bus *bus, AssignAction action, const AssignTarget *target, const AssignOptions *o);
