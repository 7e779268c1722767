/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Driving an sd-event loop from a test (the libvirt bridge's tests): run it for a while,
 * until a counter reaches a value, or until its pending defer sources ran; and the number of
 * threads of this process (the bridge must not start any).
 */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "macro.h"

static inline uint64_t now_usec(void) {
        return now_monotonic_usec();
}

static inline unsigned n_tasks(void) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        unsigned n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* Runs the loop for at least usec. */
static inline void loop_run_for(sd_event *e, uint64_t usec) {
        uint64_t end = now_usec() + usec;

        for (uint64_t t = now_usec(); t < end; t = now_usec())
                (void) sd_event_run(e, end - t);
}

/* Runs the loop until *counter reaches target or timeout_usec passed; true if it did. */
static inline bool loop_run_until(sd_event *e, const unsigned *counter, unsigned target, uint64_t timeout_usec) {
        uint64_t end = now_usec() + timeout_usec;

        for (uint64_t t = now_usec(); *counter < target && t < end; t = now_usec())
                (void) sd_event_run(e, MIN(end - t, 10 * USEC_PER_MSEC));
        return *counter >= target;
}

/* Lets pending defer sources (e.g. libvirt's free callbacks) run. */
static inline void loop_settle(sd_event *e) {
        for (unsigned i = 0; i < 5; i++)
                (void) sd_event_run(e, 0);
}
