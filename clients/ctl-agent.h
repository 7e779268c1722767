/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A text polkit agent for the calls that may ask for a password, as systemd's tools start
 * one: pkttyagent --notify-fd FD --fallback, found in $PATH, run while the call is
 * pending. Owns the agent process between polkit_agent_open() and polkit_agent_close().
 */
#pragma once

#include <sys/types.h>

#include "ctl-util.h"

/* Starts pkttyagent when standard input is a terminal and we are not root (polkit does
 * not ask root), and waits until it has registered with polkit (it closes FD then). With
 * "--fallback" it steps aside for an agent the session already has. Returns 1 with
 * *ret_pid set when an agent runs, 0 when none was started: not a terminal, root,
 * pkttyagent not in $PATH, or it could not be started (a note is logged; the call goes on
 * without an agent, polkit then asks the session's agent or refuses). */
int polkit_agent_open(pid_t *ret_pid);

/* Terminates the agent (SIGTERM) and reaps it; does nothing when *pid <= 0. Resets *pid. */
void polkit_agent_close(pid_t *pid);
static inline void polkit_agent_closep(pid_t *pid) {
        polkit_agent_close(pid);
}
