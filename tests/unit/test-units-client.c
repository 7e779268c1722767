/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Drives units.c against whatever owns org.freedesktop.systemd1 on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS: the tests' mock), for test-units.py:
 *
 *   test-units-client stop|start UNIT TIMEOUT_MS   a job, waited for; prints
 *                                                   "result=N NAME", "what=…", "elapsed_ms=N"
 *   test-units-client stop-start UNIT TIMEOUT_MS   a stop, then a start on the same connection
 *                                                   (Subscribe answered "already subscribed"):
 *                                                   the lines of each, "stop." or "start." first
 *   test-units-client state UNIT                   unit_get_active_state(); prints
 *                                                   "state=…", "id=…" or "result=N NAME"
 *   test-units-client cancel UNIT MS               a stop job freed after MS ms, the loop run
 *                                                   1 s more; prints "handler=called|not-called"
 *
 * Exit status: 0 on success, 1 when the operation failed, 2 on a usage or setup error.
 * Debug logging goes to stderr with PASSTHRU_LOG_LEVEL=debug.
 */
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "units.h"
#include "util.h"

typedef struct Run {
        UnitJob *job;
        bool called;
        bool quit; /* stop running the loop */
        int result;
        char *what;
} Run;

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static const char *errno_name(int r) {
        const char *n = r == 0 ? "0" : strerrorname_np(ERRNO_VALUE(r));
        return n ?: "?";
}

static void on_done(UnitJob *job, int result, const char *what, void *userdata) {
        Run *run = userdata;

        run->called = true;
        run->result = result;
        run->what = what ? strdup(what) : NULL;
        /* Freeing from the handler must be fine. */
        run->job = unit_job_free(run->job);
        run->quit = true;
}

static int on_cancel(sd_event_source *s, uint64_t usec, void *userdata) {
        Run *run = userdata;

        run->job = unit_job_free(run->job);
        return 0;
}

static int on_quit(sd_event_source *s, uint64_t usec, void *userdata) {
        Run *run = userdata;

        run->quit = true;
        return 0;
}

static int do_job(sd_bus *bus, sd_event *event, const char *verb, const char *prefix, const char *unit,
                  uint64_t ms) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *cancel = NULL, *quit = NULL;
        bool cancelling = streq(verb, "cancel");
        Run run = {};
        uint64_t start;
        int r;

        start = now_usec();
        r = unit_job_new(bus, event, unit, streq(verb, "start") ? UNIT_START : UNIT_STOP,
                         cancelling ? 10 * USEC_PER_SEC : ms * USEC_PER_MSEC, on_done, &run, &run.job);
        if (r < 0) {
                fprintf(stderr, "unit_job_new: %s\n", strerror(-r));
                return 2;
        }
        if (cancelling) {
                r = sd_event_add_time_relative(event, &cancel, CLOCK_MONOTONIC, ms * USEC_PER_MSEC, 0, on_cancel,
                                               &run);
                if (r >= 0)
                        r = sd_event_add_time_relative(event, &quit, CLOCK_MONOTONIC,
                                                       ms * USEC_PER_MSEC + USEC_PER_SEC, 0, on_quit, &run);
                if (r < 0) {
                        fprintf(stderr, "timers: %s\n", strerror(-r));
                        return 2;
                }
        }

        /* Not sd_event_loop(): the event loop serves the next job of stop-start too. */
        while (!run.quit) {
                r = sd_event_run(event, UINT64_MAX);
                if (r < 0) {
                        fprintf(stderr, "sd_event_run: %s\n", strerror(-r));
                        return 2;
                }
        }
        run.job = unit_job_free(run.job);

        if (cancelling) {
                printf("handler=%s\n", run.called ? "called" : "not-called");
                return run.called ? 1 : 0;
        }
        printf("%sresult=%d %s\n", prefix, run.result, errno_name(run.result));
        printf("%swhat=%s\n", prefix, strempty(run.what));
        printf("%selapsed_ms=%" PRIu64 "\n", prefix, (now_usec() - start) / USEC_PER_MSEC);
        free(run.what);
        return run.result < 0 ? 1 : 0;
}

static int do_state(sd_bus *bus, const char *unit) {
        _cleanup_free_ char *state = NULL, *id = NULL;
        int r;

        r = unit_get_active_state(bus, unit, &state, &id);
        if (r < 0) {
                printf("result=%d %s\n", r, errno_name(r));
                return 1;
        }
        printf("state=%s\nid=%s\n", state, id);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *e;
        unsigned ms = 0;
        int r;

        if (argc < 3 || (!streq(argv[1], "state") && (argc != 4 || safe_atou(argv[3], &ms) < 0)) ||
            (!streq(argv[1], "stop") && !streq(argv[1], "start") && !streq(argv[1], "state") &&
             !streq(argv[1], "cancel") && !streq(argv[1], "stop-start"))) {
                fprintf(stderr, "Usage: %s stop|start|stop-start|cancel UNIT MS | state UNIT\n", argv[0]);
                return 2;
        }

        e = getenv("PASSTHRU_LOG_LEVEL");
        if (e && log_level_from_string(e) >= 0)
                log_set_max_level(log_level_from_string(e));
        log_open();

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                fprintf(stderr, "Setting up the bus: %s\n", strerror(-r));
                return 2;
        }

        if (streq(argv[1], "state"))
                return do_state(bus, argv[2]);
        if (streq(argv[1], "stop-start")) {
                r = do_job(bus, event, "stop", "stop.", argv[2], ms);
                if (r != 0)
                        return r;
                return do_job(bus, event, "start", "start.", argv[2], ms);
        }
        return do_job(bus, event, argv[1], "", argv[2], ms);
}
