/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl detach" and "passthructl reattach": call Detach or Reattach on a Group or
 * Device object of passthrud, show the daemon's Progress signals while the call runs,
 * then the outcome (or the plan, with --dry-run), for people or as JSON. The call itself
 * (Progress followed, polkit agent, asynchronous call, error reply) is assign_call(),
 * which handoff and return (ctl-handoff.c) share.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl-steps.h"
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

/* One call of passthrud that changes the host and returns a(ss) steps. */
typedef struct AssignCall {
        const char *progress_path;      /* print the Progress signals of this group, or of
                                         * this device's group (its Group property); NULL:
                                         * none (JSON, dry runs) */
        bool progress_is_group;
        bool progress_any_group;        /* print the Progress signals of every group (the call
                                         * names no object: Manager.StartGuest); with
                                         * progress_path NULL */
        bool ask_password;              /* allow interactive authorization, start pkttyagent on a tty */
        size_t step_width;              /* padding of the step names; 0: STEP_WIDTH */
} AssignCall;

/* Makes the call m (arguments appended) as described above, waiting up to 10 minutes. On
 * success *ret_steps gets the reply's steps and *ret_shown the Progress signals printed,
 * in order (both owned by the caller, also when it fails). An error reply is printed as
 * "passthructl: ERROR_NAME: MESSAGE". Returns 0 or a negative errno (everything logged). */
int assign_call(sd_bus *bus, sd_bus_message *m, const AssignCall *call, Steps *ret_steps, Steps *ret_shown);

/* Prints the human line of every step of steps (step names padded to width), except those
 * found (and removed) in shown, which the Progress signals printed already; shown may be
 * NULL. Logs on failure. */
int assign_print_steps(const Steps *steps, Steps *shown, size_t width);
