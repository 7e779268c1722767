/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modsyscall.h: simulated module syscalls. COMMAND and its descendants run under a seccomp
 * filter that turns init_module(2), finit_module(2) and delete_module(2) into user
 * notifications; a supervisor thread in pcisim answers them from the simulated machine
 * (machine_module_insert()/machine_module_delete()), so libkmod, modprobe and rmmod load and
 * unload the fake modules as on a real kernel. Every other syscall goes to the kernel.
 */
#pragma once

#include "machine.h"

/* Child side, after fork() and before exec(): installs the filter with a new listener and sends
 * the listener over SOCK (SCM_RIGHTS). Only syscalls, no allocation. Returns 0 or -errno. */
int modsyscall_install(int sock);

/* Parent side: receives the listener the child sent over SOCK. -EIO when the child sent
 * nothing (it failed and said why, or died). */
int modsyscall_receive(int sock, int *ret_listener);

typedef struct ModSupervisor ModSupervisor;

/* Starts the supervisor thread answering notifications from LISTENER (taken over, also on
 * failure). The machine must outlive the supervisor. */
int modsyscall_start(Machine *m, int listener, ModSupervisor **ret);

/* Stops the thread, waits (up to 2 s) for calls being answered (call machine_shutdown() first,
 * so that hanging ones return), then closes the listener: calls still pending in the kernel
 * fail with ENOSYS in their callers. NULL is fine. */
void modsyscall_stop(ModSupervisor *s);
