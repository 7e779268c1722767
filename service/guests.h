/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's side of libvirt: the connection (virt.c) held while a handed-off GPU names a
 * domain (its "watch") or while a call needs it, the domains known to run (lifecycle events,
 * and a look at each watched domain after a (re)connection), the automatic Return of a GPU
 * whose domain stopped, and what a Handoff asks of a domain (it exists, it lists the GPU,
 * which other PCI devices it passes through, start it). Never talks to libvirt on behalf
 * of libvirt's own hook (PrepareGuest/ReleaseGuest): libvirt waits for the hook then.
 */
#pragma once

#include "handoff.h"
#include "manager.h"
#include "virt.h"

/* Sets up the event bridge and the (closed) connection; after the start-up undo, watches the
 * domains the records name. */
int manager_guests_start(Manager *m);
/* The daemon is about to exit: calls waiting for libvirt get Busy. */
void manager_guests_stop(Manager *m);
void manager_guests_free(Manager *m);

/* Holds the connection while a record names a domain, lets it go when none does. */
void manager_guests_update_watch(Manager *m);

/* Is a Return of that GPU under way (a call's, the hook's or the daemon's own)? */
bool manager_gpu_return_running(Manager *m, const PciAddress *gpu);

/* The first handoff record naming the domain (NULL: none), and the domains the records name
 * (each once, in record order; NULL when none). */
const Journal *manager_guest_record(Manager *m, const char *domain);
int manager_guest_domains(Manager *m, char ***ret);

/* Is the domain (libvirt's name) known to run? */
bool manager_guest_running(Manager *m, const char *domain);
void manager_guest_set_running(Manager *m, const char *domain, bool running);

/* A transient need of the connection for one call (balanced by manager_guests_release()):
 * 0 when open; -EINPROGRESS while it opens (the need counted: queue the call with
 * manager_guests_wait()); or -errno with error set (Failed naming the URI, the need
 * released). */
int manager_guests_need(Manager *m, sd_bus_error *error);
/* Answers the Handoff or StartGuest call (message) once the connection opened (then it
 * continues as gpu_handoff_to_domain_connected() with the same arguments; gpu NULL: the one the
 * domain lists), or with Failed if it could not. 1, or -ENOMEM. */
int manager_guests_wait(Manager *m, sd_bus_message *message, const PciDevice *gpu, const char *domain, bool start,
                        bool stop_dm, bool dry_run);
void manager_guests_release(Manager *m);

/* A domain as a Handoff needs it. */
typedef struct GuestDomain {
        char *name; /* libvirt's name (the argument may have been the UUID) */
        bool active;
        VirtHostdev *hostdevs; /* its PCI hostdevs, from its persistent definition */
        size_t n_hostdevs;
} GuestDomain;
void guest_domain_done(GuestDomain *d);

/* Looks the domain up (connection needed): NoSuchDomain, or Failed with libvirt's message. */
int manager_guest_lookup(Manager *m, const char *name_or_uuid, GuestDomain *ret, sd_bus_error *error);

/* Fills *ret (borrowing from the machine and hostdevs) for a Handoff of gpu to the domain
 * with those hostdevs: NotViable when the GPU is not among them (naming those listed) or
 * when one is unknown or a bridge, or when the group of another one has members it does not
 * list on host drivers. *ret_extra and *ret_managed are the caller's to free. */
int guest_handoff_setup(Manager *m, PciDevice *gpu, const char *domain, const VirtHostdev *hostdevs, size_t n,
                        HandoffGuest *ret, PciDevice ***ret_extra, PciAddress **ret_managed, sd_bus_error *error);

/* The first display-class function among the hostdevs that the machine has (NULL: none). */
PciDevice *guest_find_gpu(Manager *m, const VirtHostdev *hostdevs, size_t n);

typedef struct GuestStart GuestStart;
/* result 0: the domain runs; else -errno and what went wrong, with libvirt's message. */
typedef void (*GuestStartHandler)(int result, const char *message, void *userdata);

/* Starts the domain (the step "start-domain") from a helper process (virt-start.h), so that
 * the daemon answers libvirt's hook meanwhile; handler is called once, from the event loop,
 * after the daemon saw the domain run. -errno with *ret_message when it cannot begin. */
int manager_guest_start_domain(Manager *m, const char *name, GuestStartHandler handler, void *userdata,
                               GuestStart **ret, char **ret_message);
/* Forgets the handler (the helper is left to finish). */
GuestStart *guest_start_free(GuestStart *s);
/* The domain whose start is under way (not to be prepared again by the hook). */
const char *guest_start_domain(const GuestStart *s) _pure_;

/* GuestRunning (error set) when the domain runs, as libvirt says now (or, libvirt out of
 * reach, as the events said). */
int manager_guest_check_stopped(Manager *m, const char *domain, sd_bus_error *error);

/* The state of a watched domain for GetGuests, as libvirt's events told it: "running",
 * "paused", "shut off", or "unknown" while libvirt cannot be reached. */
const char *manager_guest_state(Manager *m, const char *domain);
