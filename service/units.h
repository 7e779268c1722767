/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stopping and starting a systemd unit (the display manager) through systemd's D-Bus API
 * on the system bus, asynchronously: the job systemd queues is followed to its end by the
 * Manager's JobRemoved signal, never by sleeping or polling, then the unit's ActiveState is
 * checked. Touches no files.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct UnitJob UnitJob;

typedef enum UnitAction {
        UNIT_STOP,
        UNIT_START,
} UnitAction;

/* "stop", "start" */
const char *unit_action_to_string(UnitAction a) _const_;

/* Called once, from the event loop: result 0 when the job ended with result "done" and the
 * unit is then where the action should have put it (stop: ActiveState "inactive" or
 * "failed", or the unit unloaded; start: "active" or "reloading"); else a negative errno
 * with *what (may be NULL, valid during the call only) saying in a sentence what happened:
 *   -ETIME       timeout_usec passed before the job ended (the job is left to systemd);
 *   -ECANCELED   the job ended with result "canceled";
 *   -ETIMEDOUT   the job ended with result "timeout" (systemd's own timeout);
 *   -EIO         any other result ("failed", "dependency", "skipped", …), or a start that
 *                left the unit not active;
 *   -EBUSY       a stop that ended "done" with the unit active again;
 *   -ENOENT      StopUnit/StartUnit answered org.freedesktop.systemd1.NoSuchUnit;
 *   other        the errno of the D-Bus error StopUnit/StartUnit answered (-EACCES for
 *                AccessDenied, …), with *what its message.
 * The handler may free the job. */
typedef void (*unit_job_handler_t)(UnitJob *job, int result, const char *what, void *userdata);

/* Asks systemd for a stop or start job of unit, mode "replace". In this order on the
 * connection, so that no signal is missed: a match for the Manager's JobRemoved,
 * Manager.Subscribe (an "already subscribed" answer is fine), StopUnit/StartUnit. The job path
 * of the reply is looked up among the JobRemoved signals seen (one may arrive before the
 * reply) and then waited for. The bus must be attached to event. timeout_usec bounds the
 * whole (UINT64_MAX: no bound). Returns 0 with *ret owned by the caller, or a negative errno
 * when nothing could be sent (then the handler is never called). */
int unit_job_new(sd_bus *bus, sd_event *event, const char *unit, UnitAction action, uint64_t timeout_usec,
                 unit_job_handler_t handler, void *userdata, UnitJob **ret);

/* Cancels: the handler is not called after (a job already queued in systemd runs on; the
 * subscription is left to systemd, which drops it when the connection closes). */
UnitJob *unit_job_free(UnitJob *job);
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitJob *, unit_job_free);

/* Synchronous (for planning): the unit's ActiveState ("active", "inactive", "failed",
 * "activating", …) and its Id, its primary name (for an alias such as
 * display-manager.service: the unit it stands for, e.g. "gdm.service"; else the name
 * itself). -ENOENT when systemd has no such unit loaded (GetUnit answered NoSuchUnit).
 * Either of ret_state and ret_id may be NULL. */
int unit_get_active_state(sd_bus *bus, const char *unit, char **ret_state, char **ret_id);
