/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's connection to libvirt (qemu:///system by default): opened while something
 * needs it and closed when nothing does, reopened with backoff on an sd-event timer when
 * libvirtd goes away, with domain lifecycle events delivered through the sd-event bridge
 * (virt-event.h, which must be registered first). And what the handoff asks of a domain:
 * look it up by name or UUID, is it running, start it, which PCI devices it passes through.
 * No sd-bus; talks to libvirt only through its API (no virsh). Touches no files.
 *
 * Errors: functions return a negative errno and, through ret_message (may be NULL), a copy of
 * libvirt's message for the person (free(); NULL on success). From libvirt's error code:
 * VIR_ERR_NO_DOMAIN -ENOENT, VIR_ERR_INVALID_ARG -EINVAL, VIR_ERR_OPERATION_INVALID -EBUSY
 * (the domain's state forbids it), authentication and access errors -EACCES, unsupported
 * operations -EOPNOTSUPP, VIR_ERR_OPERATION_TIMEOUT -ETIMEDOUT, VIR_ERR_NO_CONNECT -ENOTCONN,
 * a system error its errno (e.g. -ECONNREFUSED, -ENOENT for a missing socket), all else -EIO.
 * -ENOTCONN also when the connection is not open (not needed, or lost and not back yet).
 */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "virt-xml.h"

#define VIRT_DEFAULT_URI "qemu:///system"
/* Reconnection attempts after a loss: the first after the minimum, then doubling up to the
 * maximum, until one succeeds or nothing needs the connection any more. */
#define VIRT_RECONNECT_MIN_USEC (USEC_PER_SEC / 2)
#define VIRT_RECONNECT_MAX_USEC (30 * USEC_PER_SEC)

typedef struct VirtConnection VirtConnection;

typedef struct VirtHandlers {
        /* A domain's lifecycle event: event is a virDomainEventType (VIR_DOMAIN_EVENT_STARTED, …),
         * detail the matching virDomainEvent*DetailType. name and uuid (canonical, lower case)
         * are valid during the call. */
        void (*lifecycle)(VirtConnection *c, const char *name, const char *uuid, int event, int detail,
                          void *userdata);
        /* An open connection was lost (libvirtd stopped or restarted, the socket broke, keepalive
         * timed out); reason is a virConnectCloseReason. Reconnection follows while needed. */
        void (*disconnected)(VirtConnection *c, int reason, void *userdata);
        /* A connection came up that no virt_connection_need() call reported: after the loss of
         * one, or after a need() whose open failed. Events may have been missed: re-read. */
        void (*resync)(VirtConnection *c, void *userdata);
        /* With a probe timeout: an attempt to open ended, result 0 (open) or -errno with what
         * went wrong (-ETIME: libvirt did not answer the probe in time). Attempts go on in the
         * background while the connection is needed. */
        void (*opened)(VirtConnection *c, int result, const char *message, void *userdata);
} VirtHandlers;

/* Nothing is opened yet. uri NULL means VIRT_DEFAULT_URI; handlers (each may be NULL) are
 * copied. All handlers run from event, never from inside a call of this API, and must not
 * free the connection. */
int virt_connection_new(sd_event *event, const char *uri, const VirtHandlers *handlers, void *userdata,
                        VirtConnection **ret);
/* Closes the connection at once; no handler is called after. Domains the caller still holds
 * keep libvirt's connection object alive until they are freed. */
VirtConnection *virt_connection_free(VirtConnection *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtConnection *, virt_connection_free);

/* Opens only once a helper process (virt-start.h) opened a connection of its own within usec:
 * need() then returns -EINPROGRESS when not connected and the "opened" handler tells the
 * outcome, and the daemon never waits on a libvirtd that accepts but does not answer. 0 (the
 * default): need() opens in the call. */
void virt_connection_set_probe_timeout(VirtConnection *c, uint64_t usec);

/* For tests: the reconnection backoff (0 keeps the current value). */
void virt_connection_set_backoff(VirtConnection *c, uint64_t min_usec, uint64_t max_usec);

/* Counts one more need of the connection and, when it is not open, opens it now (virConnectOpen
 * blocks until libvirt answers) or, with a probe timeout, starts opening it and returns
 * -EINPROGRESS (the "opened" handler follows). Returns 0 when open, else the open's error
 * (-ENOTCONN, with no attempt, while a lost connection waits to be closed from the loop). The need is counted
 * either way, and while it is held, attempts go on in the background (resync when one
 * succeeds). Balance each call with virt_connection_release(). */
int virt_connection_need(VirtConnection *c, char **ret_message);
/* Drops one need; with the last, retries stop and the connection is closed from the event loop
 * (a need() before that keeps it). */
void virt_connection_release(VirtConnection *c);

bool virt_connection_is_connected(const VirtConnection *c) _pure_;
unsigned virt_connection_needs(const VirtConnection *c) _pure_;
const char *virt_connection_uri(const VirtConnection *c) _pure_;

DEFINE_TRIVIAL_CLEANUP_FUNC(virDomainPtr, virDomainFree);

/* By UUID when the text is one (8-4-4-4-12 hex digits), by name when it is not or when no
 * domain has that UUID. -ENOENT when there is no such domain. */
int virt_domain_lookup(VirtConnection *c, const char *name_or_uuid, virDomainPtr *ret, char **ret_message);
/* 1 running (or paused), 0 shut off. */
int virt_domain_is_active(virDomainPtr d, char **ret_message);
/* virDomainCreate: boots a defined, shut off domain; blocks until libvirt has started it. */
int virt_domain_start(virDomainPtr d, char **ret_message);
/* The PCI devices the domain passes through (virt-xml.h), from its live XML or, with inactive,
 * the persistent definition. -EINVAL (with the parser's reason as the message) if libvirt's
 * XML holds a malformed one. */
int virt_domain_get_pci_hostdevs(virDomainPtr d, bool inactive, VirtHostdev **ret, size_t *ret_n,
                                 char **ret_message);

/* The negative errno of this thread's last libvirt error (the mapping above; -EIO if none),
 * with a copy of its message. */
int virt_last_error(char **ret_message);

/* "defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown",
 * "pmsuspended", "crashed"; NULL for another value. */
const char *virt_lifecycle_event_to_string(int event) _const_;
/* "error", "eof", "keepalive", "client"; NULL for another value. */
const char *virt_close_reason_to_string(int reason) _const_;
