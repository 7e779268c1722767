/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "passthructl libvirt-hook GUEST OPERATION SUB-OPERATION EXTRA": libvirt's qemu hook
 * (https://libvirt.org/hooks.html), installed as $sysconfdir/libvirt/hooks/qemu.d/passthru, a
 * script that runs it. libvirtd runs it as root, waits for it, and refuses to start the guest
 * when "prepare begin" fails, showing what the hook wrote on standard error. So:
 *   prepare begin  the domain XML on standard input (at most HOOK_XML_MAX bytes) gives the
 *                  domain's PCI <hostdev>s; none: nothing to do, the bus is not touched;
 *                  else Manager.PrepareGuest(GUEST, [(address, managed)…], {}), which hands
 *                  the GPU among them off (or does nothing when there is none);
 *   release end    Manager.ReleaseGuest(GUEST, {}), standard input drained;
 *   anything else  nothing: no bus, standard input not read (libvirt ignores EPIPE).
 * Calls never allow interactive authorization and no polkit agent is started. Messages go to
 * standard error as "passthru: MESSAGE" (a failing call: the daemon's message); standard output
 * stays empty (libvirt reads a changed XML from it for some operations). The guest's name is only
 * passed over the bus, never used in a path or a command, and is checked first: valid UTF-8,
 * no control characters, at most HOOK_GUEST_NAME_MAX characters.
 */
#pragma once

#include <stddef.h>

#define HOOK_XML_MAX (16U * 1024U * 1024U)
#define HOOK_GUEST_NAME_MAX 256

/* args: what follows "libvirt-hook" on the command line, verbatim (not parsed as options: a
 * guest's name may begin with '-'); further arguments past EXTRA are ignored, as libvirt may
 * add some. Returns the exit status: 0 success (or nothing to do), 1 failure, 2 fewer than
 * three arguments. */
int run_libvirt_hook(char **args, size_t n_args);
