/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * passthrud's entry point: command line, log level, then the manager's loop.
 */
#include <getopt.h>
#include <stdio.h>

#include "config.h"
#include "daemon-config.h"
#include "log.h"
#include "manager.h"
#include "reservations-apply.h"
#include "util.h"

static const char *arg_config = NULL;
static unsigned arg_idle_exit_sec = 0;
static bool arg_apply_reservations = false;

static void help(void) {
        printf("Usage: passthrud [OPTIONS]\n\n"
               "The passthru service: PCI devices, IOMMU groups and GPU handoff on the system bus\n"
               "as org.passthru1. Normally started by the bus or systemd, not by hand.\n\n"
               "Options:\n"
               "  -h --help              Show this help and exit\n"
               "     --version           Show the version and exit\n"
               "     --log-level=LEVEL   Log at most LEVEL (err, warning, notice, info, debug)\n"
               "     --config=FILE       Read FILE instead of " DAEMON_CONFIG_PATH "\n"
               "     --idle-exit=SEC     Exit after SEC seconds without a bus message when nothing is\n"
               "                         in progress (bus activation starts it again); 0: never (default)\n"
               "     --apply-reservations\n"
               "                         Give the reserved functions to vfio-pci and exit (early at boot,\n"
               "                         by passthrud-reservations.service); skipped when the kernel\n"
               "                         command line has passthru.disable=1\n\n"
               "Environment:\n"
               "  DBUS_SYSTEM_BUS_ADDRESS  The system bus to use\n"
               "  PASSTHRU_LOG_LEVEL       Like --log-level\n"
               "  RUNTIME_DIRECTORY        Where transaction journals are kept (/run/passthru1)\n"
               "  CONFIGURATION_DIRECTORY  Where the reservations are kept (/etc/passthru1)\n\n"
               "See passthrud(8).\n");
}

static int parse_log_level(const char *s) {
        int l = log_level_from_string(s);
        if (l < 0)
                return log_error_errno(l, "Unknown log level '%s': use err, warning, notice, info or debug.", s);
        log_set_max_level(l);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_LOG_LEVEL, ARG_CONFIG, ARG_IDLE_EXIT, ARG_APPLY_RESERVATIONS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "idle-exit", required_argument, NULL, ARG_IDLE_EXIT },
                { "apply-reservations", no_argument, NULL, ARG_APPLY_RESERVATIONS },
                {}
        };
        const char *e;
        int c, r;

        e = getenv("PASSTHRU_LOG_LEVEL");
        if (e) {
                r = parse_log_level(e);
                if (r < 0)
                        return r;
        }

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("passthrud %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_LOG_LEVEL:
                        r = parse_log_level(optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_IDLE_EXIT:
                        if (safe_atou(optarg, &arg_idle_exit_sec) < 0 || arg_idle_exit_sec > 86400)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "--idle-exit= takes seconds, 0…86400, not '%s'.", optarg);
                        break;
                case ARG_APPLY_RESERVATIONS:
                        arg_apply_reservations = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "passthrud takes no arguments.");
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        r = manager_new(arg_config, &m);
        if (r < 0)
                return EXIT_FAILURE;
        if (arg_apply_reservations)
                return reservations_apply(m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        m->idle_exit_usec = (uint64_t) arg_idle_exit_sec * USEC_PER_SEC;
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
