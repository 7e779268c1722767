/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's configuration file (/etc/passthru1/passthrud.conf, ini style):
 *   [Daemon]
 *   StepTimeoutSec=10    deadline of each kernel step (1…3600)
 *   [Libvirt]
 *   URI=qemu:///system   the libvirt connection of the GPU handoff to a domain
 *   AnswerTimeoutSec=30  how long libvirt may take to answer a new connection (1…3600)
 * A missing file means the defaults. No sd-bus.
 */
#pragma once

#include <stdint.h>

#include "macro.h"

#define DAEMON_CONFIG_PATH "/etc/passthru1/passthrud.conf"
#define DEFAULT_STEP_TIMEOUT_SEC 10U
/* A libvirtd started by socket activation probes its hypervisors before it answers. */
#define DEFAULT_LIBVIRT_ANSWER_TIMEOUT_SEC 30U

typedef struct DaemonConfig {
        unsigned step_timeout_sec;
        char *libvirt_uri; /* NULL: qemu:///system */
        unsigned libvirt_answer_timeout_sec;
} DaemonConfig;

void daemon_config_defaults(DaemonConfig *c);
void daemon_config_done(DaemonConfig *c);
/* Unknown keys and sections are warned about and ignored; a bad value is an error. */
int daemon_config_load(DaemonConfig *c, const char *path);
