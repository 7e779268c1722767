/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting a libvirt domain without blocking the daemon. virDomainCreate returns only once
 * libvirt has started the domain, and during that call libvirt runs its qemu hook, whose
 * "prepare begin" asks this daemon over D-Bus (Manager.PrepareGuest): made on the daemon's only
 * thread, the call would wait for a hook that waits for the daemon. So the start is made by a
 * helper process (worker.h) with a connection of its own, while the daemon goes on answering.
 * The same helper probes libvirt before the daemon opens its connection: virConnectOpen has
 * no deadline of its own, and a libvirtd that accepts but does not answer would hold the
 * daemon forever. Touches no files.
 */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct VirtDomainStart VirtDomainStart;

/* result: 0 when libvirt started the domain (or, for a probe, answered); else -errno with
 * libvirt's message (or what went wrong before it was asked). A probe past its deadline is
 * -ETIME; a domain start past it is only warned about and waited for, since libvirt may still
 * start the domain. */
typedef void (*VirtDomainStartHandler)(VirtDomainStart *s, int result, const char *message, void *userdata);

/* Forks the helper: it opens uri, looks up the domain by its name and calls virDomainCreate;
 * name NULL: only opens uri (a probe: does libvirt answer before the deadline?).
 * The daemon asks libvirt nothing here (libvirt may not answer until the start is over).
 * handler is called once, from event. */
int virt_domain_start_async(sd_event *event, const char *uri, const char *name, uint64_t timeout_usec,
                            VirtDomainStartHandler handler, void *userdata, VirtDomainStart **ret);

/* Forgets the handler; a helper still running is left to finish and reaped. */
VirtDomainStart *virt_domain_start_free(VirtDomainStart *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtDomainStart *, virt_domain_start_free);
