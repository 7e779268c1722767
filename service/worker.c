/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helper processes with a deadline (see worker.h). The helper is a fork of the daemon that
 * makes one call and _exit()s with its errno; it never touches the bus connection it
 * inherited. The daemon learns of its end through sd-event's child source (pidfd), and of
 * the deadline through a monotonic timer. Touches no files.
 */
#include <linux/close_range.h>
#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "sysfs.h"
#include "worker.h"

static void close_fds_except(int keep) {
        if (keep < 3) {
                (void) close_range(3, ~0U, 0);
                return;
        }
        if (keep > 3)
                (void) close_range(3, (unsigned) keep - 1, 0);
        (void) close_range((unsigned) keep + 1, ~0U, 0);
}

struct Worker {
        pid_t pid;
        sd_event_source *child;
        sd_event_source *timer;
        WorkerCallback done, finally;
        void *userdata;
        bool timed_out;
        bool orphaned; /* freed while the helper runs: reap it silently */
};

pid_t worker_pid(const Worker *w) {
        return w ? w->pid : 0;
}

static void worker_destroy(Worker *w) {
        sd_event_source_disable_unref(w->child);
        sd_event_source_disable_unref(w->timer);
        free(w);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Worker *w = userdata;
        int result;

        if (si->si_code == CLD_EXITED)
                result = si->si_status == 0 ? 0 : -si->si_status;
        else
                result = -EINTR; /* killed */
        w->pid = 0;
        w->timer = sd_event_source_disable_unref(w->timer);

        if (w->orphaned) {
                worker_destroy(w);
                return 0;
        }
        if (w->timed_out) {
                if (w->finally)
                        w->finally(w, result, w->userdata);
        } else if (w->done)
                w->done(w, result, w->userdata);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        siginfo_t si = {};

        /* Ended already, its child source not dispatched yet (the loop was busy elsewhere past
         * the deadline): that is its result, not a timeout. */
        if (waitid(P_PID, (id_t) w->pid, &si, WEXITED | WNOHANG | WNOWAIT) >= 0 && si.si_pid == w->pid) {
                w->timer = sd_event_source_disable_unref(w->timer);
                return 0;
        }
        w->timed_out = true;
        w->timer = sd_event_source_disable_unref(w->timer);
        log_warning("Helper process " PID_FMT " did not finish before its deadline; it is left to finish on its own.",
                    w->pid);
        if (w->done)
                w->done(w, -ETIME, w->userdata);
        return 0;
}

int worker_start(sd_event *event, uint64_t timeout_usec, int (*fn)(void *arg), void *arg, WorkerCallback done,
                 WorkerCallback finally, void *userdata, Worker **ret) {
        Worker *w;
        pid_t pid;
        int r;

        w = calloc(1, sizeof(Worker));
        if (!w)
                return -ENOMEM;
        w->done = done;
        w->finally = finally;
        w->userdata = userdata;

        pid = fork();
        if (pid < 0) {
                free(w);
                return -errno;
        }
        if (pid == 0) {
                sigset_t ss;

                /* The daemon blocks the signals it handles through signalfd; a helper takes the
                 * default actions, so that it can be killed. */
                sigemptyset(&ss);
                (void) sigprocmask(SIG_SETMASK, &ss, NULL);
                /* A helper stuck in the kernel outlives a killed daemon: it must not keep the
                 * daemon's bus connection (and so its bus name) or anything else alive. */
                close_fds_except(sysfs_root_fd());
                r = fn(arg);
                _exit(r < 0 ? (ERRNO_VALUE(r) > 255 ? EIO : ERRNO_VALUE(r)) : 0);
        }
        w->pid = pid;

        r = sd_event_add_child(event, &w->child, pid, WEXITED, on_child, w);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                free(w);
                return r;
        }
        /* From now, not from sd_event_now() (when the loop last woke up, possibly long ago if
         * a call blocked it): the helper gets its whole time. */
        r = sd_event_add_time(event, &w->timer, CLOCK_MONOTONIC, now_monotonic_usec() + timeout_usec, 0, on_deadline,
                              w);
        if (r < 0) {
                /* Without a deadline the helper must not run at all. */
                (void) kill(pid, SIGKILL);
                w->orphaned = true;
                return r;
        }
        *ret = w;
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        if (w->pid > 0) {
                /* Still running (stuck in the kernel): keep the child source to reap it. */
                w->orphaned = true;
                w->timer = sd_event_source_disable_unref(w->timer);
                return NULL;
        }
        worker_destroy(w);
        return NULL;
}
