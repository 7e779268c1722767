/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs one blocking kernel operation in a helper process with a deadline, so that a write
 * that never returns (unbind with open handles, a driver's probe, a module's init) hangs
 * the helper, not the daemon. Touches no files itself.
 */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Worker Worker;

/* result: 0 or the operation's -errno; -ETIME when the deadline passed first (the helper is
 * left to finish: `finally` is called when it does, with its result). */
typedef void (*WorkerCallback)(Worker *w, int result, void *userdata);

/* Forks a helper that runs fn(arg) and exits with its result. `done` is called once, with
 * the result or -ETIME at the deadline; after -ETIME, `finally` is called once the helper
 * exits (possibly never: a write stuck in the kernel). Both run from the event loop. */
int worker_start(sd_event *event, uint64_t timeout_usec, int (*fn)(void *arg), void *arg, WorkerCallback done,
                 WorkerCallback finally, void *userdata, Worker **ret);

/* Forgets the callbacks; a helper still running is left to exit on its own and reaped. */
Worker *worker_free(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free);

pid_t worker_pid(const Worker *w);
