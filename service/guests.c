/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt as the daemon uses it (see guests.h): talks to libvirt only through virt.c,
 * reads the machine model; the automatic Return goes through handoff-dbus.c like a call.
 */
#include <stdio.h>

#include "assign.h"
#include "errors.h"
#include "guests.h"
#include "handoff-dbus.h"
#include "log.h"
#include "util.h"
#include "virt-event.h"
#include "virt-start.h"

static bool record_names_domain(const Journal *rec, const char *domain) {
        return rec->domain && streq(rec->domain, domain);
}

bool manager_guest_running(Manager *m, const char *domain) {
        return domain && strv_contains(m->running_domains, domain);
}

void manager_guest_set_running(Manager *m, const char *domain, bool running) {
        if (running) {
                if (strv_extend_unique(&m->running_domains, domain) < 0)
                        log_oom();
                return;
        }
        strv_remove(m->running_domains, domain);
}

/* The Gpu.State of the GPUs handed to the domain changed (guest ↔ detached), and with it
 * the Owner of their groups. */
static void emit_domain_gpus(Manager *m, const char *domain) {
        for (size_t i = 0; i < m->n_handoffs; i++) {
                PciDevice *gpu;

                if (!record_names_domain(&m->handoffs[i], domain))
                        continue;
                bus_emit_group_owners(m, &m->handoffs[i]);
                gpu = machine_find_device(m->machine, &m->handoffs[i].gpu);
                if (gpu)
                        bus_emit_gpu_state(m, gpu);
        }
}

bool manager_gpu_return_running(Manager *m, const PciAddress *gpu) {
        for (Assignment *a = m->assignments; a; a = a->next)
                if (a->transaction->journal.operation == OPERATION_RETURN && a->transaction->journal.has_gpu &&
                    pci_address_equal(&a->transaction->journal.gpu, gpu))
                        return true;
        return false;
}

/* The domain stopped: each GPU handed to it comes back, as a Return would bring it (no
 * question to libvirt: the domain is known to be stopped). */
static void return_domain_gpus(Manager *m, const char *domain, const char *why) {
        _cleanup_free_ PciAddress *gpus = NULL;
        size_t n = 0;

        /* The GPUs first: a Return that settles at once removes its record from m->handoffs. */
        gpus = calloc(m->n_handoffs ?: 1, sizeof(PciAddress));
        if (!gpus) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < m->n_handoffs; i++)
                if (record_names_domain(&m->handoffs[i], domain))
                        gpus[n++] = m->handoffs[i].gpu;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                PciDevice *gpu = machine_find_device(m->machine, &gpus[i]);
                int r;

                if (!gpu || manager_gpu_return_running(m, &gpu->address))
                        continue; /* (the hook's ReleaseGuest, or a call, was first) */
                log_notice("Domain %s %s: returning GPU %s to the host.", domain, why, gpu->name);
                r = gpu_return_start(m, NULL, gpu, false, false, &error);
                if (r < 0)
                        log_error("Failed to return GPU %s after domain %s %s: %s", gpu->name, domain, why,
                                  error.message ?: strerror(ERRNO_VALUE(r)));
                /* One transaction per GPU: a second GPU of the domain in another group goes on;
                 * in the same group it is Busy now and comes back with the next event or call. */
        }
}

const Journal *manager_guest_record(Manager *m, const char *domain) {
        for (size_t i = 0; i < m->n_handoffs; i++)
                if (record_names_domain(&m->handoffs[i], domain))
                        return &m->handoffs[i];
        return NULL;
}

int manager_guest_domains(Manager *m, char ***ret) {
        _cleanup_strv_free_ char **domains = NULL;

        for (size_t i = 0; i < m->n_handoffs; i++)
                if (m->handoffs[i].domain && strv_extend_unique(&domains, m->handoffs[i].domain) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(domains);
        return 0;
}

static bool watched(Manager *m, const char *domain) {
        return manager_guest_record(m, domain);
}

static void on_lifecycle(VirtConnection *c, const char *name, const char *uuid, int event, int detail,
                         void *userdata) {
        Manager *m = userdata;

        log_debug("libvirt: domain %s %s (detail %d).", name, strna(virt_lifecycle_event_to_string(event)), detail);
        switch (event) {
        case VIR_DOMAIN_EVENT_SUSPENDED:
                if (watched(m, name) && strv_extend_unique(&m->paused_domains, name) < 0)
                        log_oom();
                return;
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
                strv_remove(m->paused_domains, name);
                if (!watched(m, name) || manager_guest_running(m, name))
                        return;
                manager_guest_set_running(m, name, true);
                emit_domain_gpus(m, name);
                return;
        case VIR_DOMAIN_EVENT_STOPPED:
        case VIR_DOMAIN_EVENT_CRASHED:
                strv_remove(m->paused_domains, name);
                manager_guest_set_running(m, name, false);
                if (!watched(m, name))
                        return;
                emit_domain_gpus(m, name);
                return_domain_gpus(m, name, event == VIR_DOMAIN_EVENT_CRASHED ? "crashed" : "stopped");
                return;
        default:
                return;
        }
}

/* After a (re)connection: what happened while nobody listened. A watched domain that runs
 * keeps its GPU ("guest"); one that does not run any more gets it back. */
static void resync(Manager *m) {
        _cleanup_strv_free_ char **domains = NULL;

        if (manager_guest_domains(m, &domains) < 0) {
                log_oom();
                return;
        }
        for (char **d = domains; d && *d; d++) {
                _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
                _cleanup_free_ char *msg = NULL;
                int r;

                r = virt_domain_lookup(m->virt, *d, &dom, &msg);
                if (r >= 0)
                        r = virt_domain_is_active(dom, &msg);
                if (r == -ENOENT)
                        r = 0; /* undefined meanwhile: it does not run */
                if (r < 0) {
                        log_warning("Failed to ask libvirt about domain %s: %s. Its GPU stays as it is.", *d,
                                    strna(msg));
                        continue;
                }
                if (r > 0) {
                        log_info("Domain %s runs: its GPU stays with it.", *d);
                        manager_guest_set_running(m, *d, true);
                        emit_domain_gpus(m, *d);
                        continue;
                }
                manager_guest_set_running(m, *d, false);
                emit_domain_gpus(m, *d);
                return_domain_gpus(m, *d, "is not running");
        }
}

static void on_resync(VirtConnection *c, void *userdata) {
        log_info("Connected to libvirt (%s) again: looking at the domains holding GPUs.", virt_connection_uri(c));
        resync(userdata);
}

static void on_disconnected(VirtConnection *c, int reason, void *userdata) {
        log_warning("Lost the connection to libvirt (%s, %s); reconnecting while a GPU is handed to a domain.",
                    virt_connection_uri(c), strna(virt_close_reason_to_string(reason)));
}

static int guests_setup(Manager *m);

void manager_guests_update_watch(Manager *m) {
        bool want = false;

        for (size_t i = 0; i < m->n_handoffs; i++)
                if (m->handoffs[i].domain)
                        want = true;
        if (want == m->virt_watching || (want && guests_setup(m) < 0))
                return;
        m->virt_watching = want;
        if (!want) {
                virt_connection_release(m->virt);
                return;
        }
        /* Only the connection (and its event registration): no question about a domain here,
         * since this may run while libvirt waits for its hook (PrepareGuest), holding the
         * domain. What happens to the domain from now on comes as events. */
        _cleanup_free_ char *msg = NULL;
        int r = virt_connection_need(m->virt, &msg);
        if (r < 0 && r != -EINPROGRESS)
                /* Attempts go on in the background; the resync handler runs when one succeeds. */
                log_warning("Cannot reach libvirt at %s (%s); trying again in the background.",
                            virt_connection_uri(m->virt), strna(msg));
}

/* A Handoff or StartGuest call waiting for the connection to open. */
typedef struct GuestWaiter {
        struct GuestWaiter *next;
        sd_bus_message *message;
        bool has_gpu;
        PciAddress gpu;
        char *domain;
        bool start, stop_dm, dry_run;
} GuestWaiter;

static GuestWaiter *guest_waiter_free(GuestWaiter *w) {
        if (!w)
                return NULL;
        sd_bus_message_unref(w->message);
        free(w->domain);
        return mfree(w);
}

int manager_guests_wait(Manager *m, sd_bus_message *message, const PciDevice *gpu, const char *domain, bool start,
                        bool stop_dm, bool dry_run) {
        GuestWaiter *w, **tail;

        w = calloc(1, sizeof(GuestWaiter));
        if (!w)
                return -ENOMEM;
        *w = (GuestWaiter) {
                .message = sd_bus_message_ref(message),
                .has_gpu = !!gpu,
                .gpu = gpu ? gpu->address : (PciAddress) {},
                .domain = strdup(domain),
                .start = start,
                .stop_dm = stop_dm,
                .dry_run = dry_run,
        };
        if (!w->domain) {
                guest_waiter_free(w);
                return -ENOMEM;
        }
        /* in order of arrival */
        for (tail = &m->guest_waiters; *tail; tail = &(*tail)->next)
                ;
        *tail = w;
        log_debug("Waiting for libvirt (%s) to answer before handing a GPU to domain %s.",
                  virt_connection_uri(m->virt), domain);
        return 1;
}

static void answer_waiter(Manager *m, GuestWaiter *w, int result, const char *message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        PciDevice *gpu = NULL;
        int r;

        if (result < 0) {
                /* Its need goes; retries go on while others need the connection. */
                manager_guests_release(m);
                r = sd_bus_error_setf(&error, PASSTHRU_ERROR_FAILED,
                                      "Cannot reach libvirt at %s: %s. Is libvirtd running? Nothing was changed.",
                                      virt_connection_uri(m->virt), strna(message));
        } else if (w->has_gpu && !(gpu = machine_find_device(m->machine, &w->gpu))) {
                manager_guests_release(m);
                r = sd_bus_error_set(&error, PASSTHRU_ERROR_FAILED,
                                     "The GPU went away while libvirt was being reached; nothing was changed.");
        } else
                /* (It keeps or releases the need, as a call that found the connection open.) */
                r = gpu_handoff_to_domain_connected(m, w->message, gpu, w->domain, w->start, w->stop_dm, w->dry_run,
                                                    &error);
        if (r >= 0)
                return;
        if (sd_bus_error_is_set(&error))
                r = sd_bus_reply_method_error(w->message, &error);
        else
                r = sd_bus_reply_method_errno(w->message, r, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to answer a Handoff to domain %s: %m", w->domain);
}

static void on_opened(VirtConnection *c, int result, const char *message, void *userdata) {
        Manager *m = userdata;
        GuestWaiter *waiters = TAKE_PTR(m->guest_waiters);

        if (result < 0) {
                if (m->virt_watching && !m->virt_unreachable_logged)
                        log_warning("Cannot reach libvirt at %s (%s); trying again in the background.",
                                    virt_connection_uri(c), strna(message));
                m->virt_unreachable_logged = true;
        } else {
                m->virt_unreachable_logged = false;
                log_debug("Connected to libvirt (%s).", virt_connection_uri(c));
        }
        while (waiters) {
                GuestWaiter *w = waiters;

                waiters = w->next;
                answer_waiter(m, w, result, message);
                guest_waiter_free(w);
        }
        /* The records the last instance left: what became of their domains meanwhile. */
        if (result >= 0 && m->virt_resync_at_open) {
                m->virt_resync_at_open = false;
                if (m->virt_watching)
                        resync(m);
        }
}

/* libvirt is initialized only once something needs it: a daemon that never hands a GPU to a
 * domain does not carry libvirt's drivers in memory (about 12 MiB). */
static int guests_setup(Manager *m) {
        static const VirtHandlers handlers = {
                .lifecycle = on_lifecycle,
                .disconnected = on_disconnected,
                .resync = on_resync,
                .opened = on_opened,
        };
        int r;

        if (m->virt)
                return 0;
        r = virt_event_register(m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to bridge libvirt's event loop: %m");
        r = virt_connection_new(m->event, m->config.libvirt_uri, &handlers, m, &m->virt);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the libvirt connection: %m");
        /* Each open waits for a helper that reached libvirt: the daemon never waits on a
         * libvirtd that accepts connections but does not answer. */
        virt_connection_set_probe_timeout(m->virt, (uint64_t) m->config.libvirt_answer_timeout_sec * USEC_PER_SEC);
        return 0;
}

int manager_guests_start(Manager *m) {
        manager_guests_update_watch(m);
        if (!m->virt_watching)
                return 0;
        /* The records left by the last instance: what became of their domains meanwhile, once
         * the connection is open (on_opened). Only then: a later open may come while libvirt
         * runs a hook that waits for this daemon, and must not ask libvirt about domains. */
        if (virt_connection_is_connected(m->virt))
                resync(m);
        else
                m->virt_resync_at_open = true;
        return 0;
}

/* answer: Busy to each (the daemon stops); otherwise they are only freed (the bus is gone). */
static void drop_waiters(Manager *m, bool answer) {
        while (m->guest_waiters) {
                GuestWaiter *w = m->guest_waiters;

                m->guest_waiters = w->next;
                if (answer) {
                        (void) sd_bus_reply_method_errorf(w->message, PASSTHRU_ERROR_BUSY,
                                                          "passthrud is shutting down; try again once it is back. "
                                                          "Nothing was changed.");
                        manager_guests_release(m);
                }
                guest_waiter_free(w);
        }
}

void manager_guests_stop(Manager *m) {
        drop_waiters(m, true);
}

void manager_guests_free(Manager *m) {
        drop_waiters(m, false);
        if (m->virt) {
                m->virt = virt_connection_free(m->virt);
                virt_event_unregister(); /* (its reference to the event loop) */
        }
        m->running_domains = strv_free(m->running_domains);
        m->paused_domains = strv_free(m->paused_domains);
}

int manager_guests_need(Manager *m, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (guests_setup(m) < 0)
                return sd_bus_error_set(error, PASSTHRU_ERROR_FAILED,
                                        "libvirt could not be set up in the daemon (see its journal); nothing was "
                                        "changed.");
        r = virt_connection_need(m->virt, &msg);
        if (r == -EINPROGRESS)
                return r;
        if (r < 0) {
                virt_connection_release(m->virt);
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Cannot reach libvirt at %s: %s. Is libvirtd running? Nothing was changed.",
                                         virt_connection_uri(m->virt), strna(msg));
        }
        return 0;
}

void manager_guests_release(Manager *m) {
        if (m->virt)
                virt_connection_release(m->virt);
}

void guest_domain_done(GuestDomain *d) {
        free(d->name);
        free(d->hostdevs);
        *d = (GuestDomain) {};
}

int manager_guest_lookup(Manager *m, const char *name_or_uuid, GuestDomain *ret, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(guest_domain_done) GuestDomain d = {};
        _cleanup_free_ char *msg = NULL;
        const char *name;
        int r;

        r = virt_domain_lookup(m->virt, name_or_uuid, &dom, &msg);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NO_SUCH_DOMAIN,
                                         "libvirt (%s) has no domain \"%s\". 'virsh list --all' lists them; nothing "
                                         "was changed.",
                                         virt_connection_uri(m->virt), name_or_uuid);
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to look up domain \"%s\" in libvirt: %s. Nothing was changed.",
                                         name_or_uuid, strna(msg));
        name = virDomainGetName(dom);
        d.name = strdup(strempty(name));
        if (!d.name)
                return -ENOMEM;
        r = virt_domain_is_active(dom, &msg);
        if (r >= 0) {
                d.active = r > 0;
                r = virt_domain_get_pci_hostdevs(dom, true, &d.hostdevs, &d.n_hostdevs, &msg);
        }
        if (r < 0)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_FAILED,
                                         "Failed to read domain %s from libvirt: %s. Nothing was changed.", d.name,
                                         strna(msg));
        *ret = d;
        d = (GuestDomain) {};
        return 0;
}

PciDevice *guest_find_gpu(Manager *m, const VirtHostdev *hostdevs, size_t n) {
        PciDevice *first = NULL;

        for (size_t i = 0; i < n; i++) {
                PciDevice *d;

                if (hostdevs[i].interface)
                        continue;
                d = machine_find_device(m->machine, &hostdevs[i].address);
                if (!d || !pci_device_is_display(d))
                        continue;
                /* The host's primary GPU is the one whose hold (consoles, frame buffer) must
                 * be released: it is "the" GPU; another one travels as a hostdev. */
                if (gpu_is_primary(d))
                        return d;
                if (!first)
                        first = d;
        }
        return first;
}

static char *hostdevs_list(const VirtHostdev *hostdevs, size_t n) {
        _cleanup_strv_free_ char **l = NULL;
        char a[PCI_ADDRESS_STRING_MAX];

        for (size_t i = 0; i < n; i++)
                if (!hostdevs[i].interface && strv_extend(&l, pci_address_format(&hostdevs[i].address, a)) < 0)
                        return NULL;
        return l ? strv_join(l, ", ") : strdup("none");
}

int guest_handoff_setup(Manager *m, PciDevice *gpu, const char *domain, const VirtHostdev *hostdevs, size_t n,
                        HandoffGuest *ret, PciDevice ***ret_extra, PciAddress **ret_managed, sd_bus_error *error) {
        _cleanup_free_ PciDevice **functions = NULL, **extra = NULL;
        _cleanup_free_ PciAddress *managed = NULL;
        _cleanup_free_ char *listed = NULL;
        size_t n_functions, n_extra = 0, n_managed = 0;
        bool found = false;
        int r;

        r = gpu_functions(m->machine, gpu, &functions, &n_functions);
        if (r < 0)
                return r;
        extra = calloc(n ?: 1, sizeof(PciDevice *));
        managed = calloc(n ?: 1, sizeof(PciAddress));
        listed = hostdevs_list(hostdevs, n);
        if (!extra || !managed || !listed)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                char a[PCI_ADDRESS_STRING_MAX];
                PciDevice *d;

                if (hostdevs[i].interface)
                        continue; /* an SR-IOV network function: libvirt's own business */
                pci_address_format(&hostdevs[i].address, a);
                d = machine_find_device(m->machine, &hostdevs[i].address);
                if (!d)
                        return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_VIABLE,
                                                 "Domain %s passes through %s, which this machine does not have; "
                                                 "nothing was changed.",
                                                 domain, a);
                if (pci_device_is_bridge(d))
                        return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_VIABLE,
                                                 "Domain %s passes through %s, a PCI bridge, which stays with the "
                                                 "host; nothing was changed.",
                                                 domain, a);
                if (d == gpu)
                        found = true;
                else if (pci_device_is_display(d) && gpu_is_primary(d))
                        /* Its consoles and frame buffer would be torn from under the host. */
                        return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_VIABLE,
                                                 "Domain %s also passes through %s, the host's primary GPU, whose "
                                                 "consoles and frame buffer only a handoff of that GPU releases: "
                                                 "'passthructl start %s' hands over that one first; nothing was "
                                                 "changed.",
                                                 domain, d->name, domain);
                if (hostdevs[i].managed)
                        managed[n_managed++] = d->address;
                if (!contains_device(functions, n_functions, d))
                        extra[n_extra++] = d;
        }
        if (!found)
                return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_VIABLE,
                                         "Domain %s does not pass %s through: its PCI hostdevs are %s. Add it (and "
                                         "its companions) to the domain with 'virsh edit %s'; nothing was changed.",
                                         domain, gpu->name, listed, domain);

        /* Another hostdev's group must be viable once it moves: its other endpoints on
         * vfio-pci, without a driver, or moving too. */
        for (size_t i = 0; i < n_extra; i++) {
                IommuGroup *g = machine_device_group(m->machine, extra[i]);

                if (!g)
                        continue; /* no IOMMU at all: handoff_plan refuses it (NotSupported) */
                for (size_t k = 0; k < g->n_devices; k++) {
                        PciDevice *o = g->devices[k];
                        bool moving = o == gpu || contains_device(extra, n_extra, o) ||
                                      contains_device(functions, n_functions, o);

                        if (moving || pci_device_is_bridge(o) || !o->driver || pci_device_on_vfio(o))
                                continue;
                        return sd_bus_error_setf(error, PASSTHRU_ERROR_NOT_VIABLE,
                                                 "Domain %s passes through %s, but %s in the same IOMMU group %u is "
                                                 "on %s and the domain does not list it: the group cannot go to a "
                                                 "guest. Add it to the domain or leave %s out; nothing was changed.",
                                                 domain, extra[i]->name, o->name, g->number, o->driver,
                                                 extra[i]->name);
                }
        }

        *ret = (HandoffGuest) {
                .domain = domain,
                .extra = extra,
                .n_extra = n_extra,
                .managed = managed,
                .n_managed = n_managed,
        };
        *ret_extra = TAKE_PTR(extra);
        *ret_managed = TAKE_PTR(managed);
        return 0;
}

/* libvirt may take long to start a domain with PCI devices (it waits for QEMU's monitor, which
 * grows with the guest's memory); past this a warning is logged, and libvirt's answer is still
 * waited for: an undo while libvirt may start the domain would pull the devices from under it. */
#define DOMAIN_START_TIMEOUT_USEC (300 * USEC_PER_SEC)

struct GuestStart {
        Manager *manager;
        char *name;
        VirtDomainStart *start;
        GuestStartHandler handler;
        void *userdata;
};

GuestStart *guest_start_free(GuestStart *s) {
        if (!s)
                return NULL;
        virt_domain_start_free(s->start);
        free(s->name);
        free(s);
        return NULL;
}

const char *guest_start_domain(const GuestStart *s) {
        return s ? s->name : NULL;
}

static void on_domain_started(VirtDomainStart *vs, int result, const char *message, void *userdata) {
        GuestStart *s = userdata;
        Manager *m = s->manager;
        _cleanup_free_ char *text = NULL;

        if (result >= 0 && m->virt && virt_connection_is_connected(m->virt)) {
                /* Its lifecycle events came before the record names it: see whether it still
                 * runs (a guest that failed at once stopped already). */
                _cleanup_(virDomainFreep) virDomainPtr dom = NULL;

                if (virt_domain_lookup(m->virt, s->name, &dom, NULL) >= 0 && virt_domain_is_active(dom, NULL) == 0) {
                        result = -ESRCH;
                        message = "it stopped again at once; see libvirt's log of the domain";
                }
        }
        if (result < 0) {
                if (asprintf(&text, "libvirt did not start domain %s: %s", s->name, message ?: strerror(ERRNO_VALUE(result))) < 0)
                        text = NULL;
        } else {
                log_info("Started domain %s.", s->name);
                manager_guest_set_running(m, s->name, true);
        }
        s->start = virt_domain_start_free(s->start); /* (message pointed into it) */
        s->handler(result, text, s->userdata);
}

int manager_guest_start_domain(Manager *m, const char *name, GuestStartHandler handler, void *userdata,
                               GuestStart **ret, char **ret_message) {
        GuestStart *s;
        int r;

        *ret_message = NULL;
        if (!m->virt) /* (the helper opens a connection of its own: ours need not be up) */
                return -ENOTCONN;
        s = calloc(1, sizeof(GuestStart));
        if (!s)
                return -ENOMEM;
        *s = (GuestStart) { .manager = m, .name = strdup(name), .handler = handler, .userdata = userdata };
        if (!s->name) {
                free(s);
                return -ENOMEM;
        }
        /* No lookup here: until the start is over, libvirt may answer nothing (it waits for its
         * hook, which asks this daemon). */
        r = virt_domain_start_async(m->event, virt_connection_uri(m->virt), name, DOMAIN_START_TIMEOUT_USEC,
                                    on_domain_started, s, &s->start);
        if (r < 0) {
                guest_start_free(s);
                if (asprintf(ret_message, "the helper process that starts domain %s could not be made: %s", name,
                             strerror(ERRNO_VALUE(r))) < 0)
                        *ret_message = NULL;
                return r;
        }
        *ret = s;
        return 0;
}

int manager_guest_check_stopped(Manager *m, const char *domain, sd_bus_error *error) {
        bool running = manager_guest_running(m, domain);

        if (m->virt && virt_connection_is_connected(m->virt)) {
                _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
                _cleanup_free_ char *msg = NULL;
                int r;

                r = virt_domain_lookup(m->virt, domain, &dom, &msg);
                if (r >= 0)
                        r = virt_domain_is_active(dom, &msg);
                if (r >= 0)
                        running = r > 0;
                else if (r == -ENOENT)
                        running = false;
        }
        if (!running)
                return 0;
        return sd_bus_error_setf(error, PASSTHRU_ERROR_GUEST_RUNNING,
                                 "Domain %s is running with the GPU. Shut it down ('virsh shutdown %s'): its GPU "
                                 "then comes back to the host by itself.",
                                 domain, domain);
}

const char *manager_guest_state(Manager *m, const char *domain) {
        /* From libvirt's events and the resyncs, not a question to libvirt: GetGuests may come
         * while libvirt runs a hook of that domain (which waits for this daemon) holding it. */
        if (manager_guest_running(m, domain))
                return strv_contains(m->paused_domains, domain) ? "paused" : "running";
        return m->virt && virt_connection_is_connected(m->virt) ? "shut off" : "unknown";
}
