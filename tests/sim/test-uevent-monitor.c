/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-uevent-monitor.c: listens with libsystemd's sd_device_monitor (filter:
 * subsystem pci) and prints "ACTION SYSNAME" per event, so tests can prove the
 * simulator's uevents reach real udev clients. Prints "ready" once listening.
 *
 *   test-uevent-monitor [--count N] [--timeout SECONDS]
 *
 * Exits 0 after N events (default: run until the timeout, default 30 s), 1 on
 * error or when the timeout expires before N events.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>
#include <time.h>

typedef struct Context {
        unsigned seen, want;
} Context;

static int on_device(sd_device_monitor *monitor, sd_device *device, void *userdata) {
        Context *c = userdata;
        const char *sysname = NULL;
        sd_device_action_t action;
        int r;

        r = sd_device_get_action(device, &action);
        if (r < 0)
                return 0;
        r = sd_device_get_sysname(device, &sysname);
        if (r < 0)
                return 0;

        printf("%s %s\n", action == SD_DEVICE_ADD ? "add" :
                          action == SD_DEVICE_REMOVE ? "remove" :
                          action == SD_DEVICE_CHANGE ? "change" :
                          action == SD_DEVICE_MOVE ? "move" :
                          action == SD_DEVICE_ONLINE ? "online" :
                          action == SD_DEVICE_OFFLINE ? "offline" :
                          action == SD_DEVICE_BIND ? "bind" :
                          action == SD_DEVICE_UNBIND ? "unbind" : "unknown",
               sysname);
        fflush(stdout);

        if (c->want > 0 && ++c->seen >= c->want)
                return sd_event_exit(sd_device_monitor_get_event(monitor), 0);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Context *c = userdata;

        fprintf(stderr, "test-uevent-monitor: timeout after %u events\n", c->seen);
        return sd_event_exit(sd_event_source_get_event(s), c->want > 0 ? 1 : 0);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "count",   required_argument, NULL, 'c' },
                { "timeout", required_argument, NULL, 't' },
                {}
        };
        Context c = {};
        unsigned timeout = 30;
        sd_device_monitor *monitor = NULL;
        sd_event *event = NULL;
        uint64_t now;
        int opt, r, ret = 1;

        while ((opt = getopt_long(argc, argv, "c:t:", options, NULL)) >= 0)
                switch (opt) {
                case 'c':
                        c.want = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        timeout = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }

        r = sd_event_default(&event);
        if (r < 0)
                goto fail;
        r = sd_device_monitor_new(&monitor);
        if (r < 0)
                goto fail;
        r = sd_device_monitor_filter_add_match_subsystem_devtype(monitor, "pci", NULL);
        if (r < 0)
                goto fail;
        r = sd_device_monitor_attach_event(monitor, event);
        if (r < 0)
                goto fail;
        r = sd_device_monitor_start(monitor, on_device, &c);
        if (r < 0)
                goto fail;
        r = sd_event_now(event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                goto fail;
        r = sd_event_add_time(event, NULL, CLOCK_MONOTONIC, now + (uint64_t) timeout * 1000000ULL, 0, on_timeout, &c);
        if (r < 0)
                goto fail;

        printf("ready\n");
        fflush(stdout);

        ret = sd_event_loop(event);
        if (ret < 0) {
                r = ret;
                goto fail;
        }
        sd_device_monitor_unref(monitor);
        sd_event_unref(event);
        return ret;

fail:
        fprintf(stderr, "test-uevent-monitor: %s\n", strerror(-r));
        sd_device_monitor_unref(monitor);
        sd_event_unref(event);
        return 1;
}
