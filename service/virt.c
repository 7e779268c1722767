/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt connection and domain queries (see virt.h). The connection goes through:
 *
 *   closed --need()--> open: virConnectOpen, close callback, lifecycle events, keepalive;
 *   open --libvirt's close callback--> lost: only a flag and a defer source, as libvirt calls
 *       it with its own lock held and possibly from inside one of our calls into it;
 *   lost --defer source--> closed (deregistered, virConnectClose), "disconnected" handler,
 *       and while needed a retry timer: attempts with doubling backoff, "resync" on success;
 *   open --last release()--> closed from the defer source, so that a release from inside a
 *       lifecycle handler does not close the connection under libvirt's event dispatch.
 *
 * Handlers are called last in the event source that calls them, one per dispatch.
 * Touches no files.
 */
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "virt-start.h"
#include "virt.h"

/* libvirt's client pings an idle connection every interval seconds and gives up after count
 * unanswered pings: a hung libvirtd is seen as a loss (VIR_CONNECT_CLOSE_REASON_KEEPALIVE). */
#define KEEPALIVE_INTERVAL_SEC 5
#define KEEPALIVE_COUNT 5


struct VirtConnection {
        sd_event *event;
        char *uri;
        VirtHandlers handlers;
        void *userdata;

        virConnectPtr conn;
        int lifecycle_id; /* -1: not registered */

        unsigned n_needed;
        bool lost;           /* libvirt's close callback came; the defer source closes */
        int lost_reason;     /* virConnectCloseReason */
        bool resync_pending; /* lost or failed while needed: resync when open again */
        bool resync_due;     /* open again, not reported by need(): call resync */

        uint64_t backoff_min_usec, backoff_max_usec, backoff_usec;
        sd_event_source *retry_timer;
        sd_event_source *defer;

        uint64_t probe_timeout_usec; /* 0: open in the caller's call (blocking) */
        VirtDomainStart *probe;      /* the helper asking libvirt before an open */
};

static void ignore_libvirt_error(void *userdata, virErrorPtr error) {
        /* libvirt's default prints every error on stderr; callers report what matters. */
}

static int error_to_errno(const virError *e) {
        if (!e)
                return -EIO;
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
                return -ENOENT;
        case VIR_ERR_INVALID_ARG:
                return -EINVAL;
        case VIR_ERR_OPERATION_INVALID:
                return -EBUSY;
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_AUTH_UNAVAILABLE:
        case VIR_ERR_ACCESS_DENIED:
        case VIR_ERR_OPERATION_DENIED:
                return -EACCES;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_OPERATION_TIMEOUT:
                return -ETIMEDOUT;
        case VIR_ERR_NO_CONNECT:
                return -ENOTCONN;
        case VIR_ERR_SYSTEM_ERROR:
                /* virReportSystemError() keeps the errno in int1. */
                return e->int1 > 0 ? -e->int1 : -EIO;
        default:
                return -EIO;
        }
}

static int fail_with(int r, const char *message, char **ret_message) {
        if (ret_message)
                *ret_message = message ? strdup(message) : NULL;
        return r;
}

int virt_last_error(char **ret_message) {
        const virError *e = virGetLastError();

        return fail_with(error_to_errno(e), e && e->message ? e->message : "Unknown libvirt error",
                         ret_message);
}

static int not_connected(const VirtConnection *c, char **ret_message) {
        _cleanup_free_ char *m = NULL;

        if (ret_message && asprintf(&m, "Not connected to libvirt (%s)", c->uri) < 0)
                m = NULL;
        return fail_with(-ENOTCONN, m, ret_message);
}

static void succeed(char **ret_message) {
        if (ret_message)
                *ret_message = NULL;
}

const char *virt_lifecycle_event_to_string(int event) {
        static const char *const table[] = {
                [VIR_DOMAIN_EVENT_DEFINED] = "defined",       [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
                [VIR_DOMAIN_EVENT_STARTED] = "started",       [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
                [VIR_DOMAIN_EVENT_RESUMED] = "resumed",       [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
                [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown",     [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
                [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
        };

        return event >= 0 && (size_t) event < ELEMENTSOF(table) ? table[event] : NULL;
}

const char *virt_close_reason_to_string(int reason) {
        static const char *const table[] = {
                [VIR_CONNECT_CLOSE_REASON_ERROR] = "error",
                [VIR_CONNECT_CLOSE_REASON_EOF] = "eof",
                [VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive",
                [VIR_CONNECT_CLOSE_REASON_CLIENT] = "client",
        };

        return reason >= 0 && (size_t) reason < ELEMENTSOF(table) ? table[reason] : NULL;
}

static void arm_defer(VirtConnection *c) {
        int r = sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);

        if (r < 0)
                log_debug_errno(r, "libvirt connection %s: cannot arm the defer source: %m", c->uri);
}

/* From libvirt, with its close-callback lock held and maybe from inside one of our calls into
 * libvirt: no libvirt call here. */
static void on_libvirt_close(virConnectPtr conn, int reason, void *opaque) {
        VirtConnection *c = ASSERT_PTR(opaque);

        if (conn != c->conn || c->lost)
                return;
        c->lost = true;
        c->lost_reason = reason;
        arm_defer(c);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        VirtConnection *c = ASSERT_PTR(opaque);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        const char *name;

        if (conn != c->conn || c->lost || !c->handlers.lifecycle)
                return 0;
        name = virDomainGetName(dom);
        if (virDomainGetUUIDString(dom, uuid) < 0)
                uuid[0] = '\0';
        c->handlers.lifecycle(c, strempty(name), uuid, event, detail, c->userdata);
        return 0;
}

static void connection_close(VirtConnection *c) {
        if (!c->conn)
                return;
        /* On a lost connection these fail (nothing to tell the server): ignored. */
        if (c->lifecycle_id >= 0)
                (void) virConnectDomainEventDeregisterAny(c->conn, c->lifecycle_id);
        (void) virConnectUnregisterCloseCallback(c->conn, on_libvirt_close);
        (void) virConnectClose(c->conn);
        c->conn = NULL;
        c->lifecycle_id = -1;
        c->lost = false;
        virResetLastError();
}

static int connection_open(VirtConnection *c, char **ret_message) {
        virConnectPtr conn;
        int r, id = -1;

        conn = virConnectOpen(c->uri);
        if (!conn)
                return virt_last_error(ret_message);

        /* Drivers without a persistent connection (test:///, …) accept this and never call it. */
        if (virConnectRegisterCloseCallback(conn, on_libvirt_close, c, NULL) < 0)
                goto fail;
        if (c->handlers.lifecycle) {
                id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                      VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
                if (id < 0)
                        goto fail;
        }
        /* Only remote connections have keepalive; local drivers refuse it. */
        if (virConnectSetKeepAlive(conn, KEEPALIVE_INTERVAL_SEC, KEEPALIVE_COUNT) < 0)
                log_debug("libvirt connection %s: no keepalive: %s", c->uri, virGetLastErrorMessage());

        c->conn = conn;
        c->lifecycle_id = id;
        c->lost = false;
        c->backoff_usec = c->backoff_min_usec;
        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        virResetLastError();
        log_debug("libvirt connection %s: open", c->uri);
        return 0;

fail:
        r = virt_last_error(ret_message);
        if (id >= 0)
                (void) virConnectDomainEventDeregisterAny(conn, id);
        (void) virConnectUnregisterCloseCallback(conn, on_libvirt_close);
        (void) virConnectClose(conn);
        return r;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);
static void probe_start(VirtConnection *c);

static bool retry_armed(const VirtConnection *c) {
        int enabled = SD_EVENT_OFF;

        return c->retry_timer && sd_event_source_get_enabled(c->retry_timer, &enabled) >= 0 &&
               enabled != SD_EVENT_OFF;
}

/* The backoff counts from now, not from sd_event_now() (when the loop last woke up): the
 * failed open before may have blocked for longer than the backoff. */
static int schedule_retry_internal(VirtConnection *c) {
        uint64_t when = now_monotonic_usec() + c->backoff_usec;
        int r;

        if (!c->retry_timer) {
                r = sd_event_add_time(c->event, &c->retry_timer, CLOCK_MONOTONIC, when, 0, on_retry, c);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(c->retry_timer, "libvirt-reconnect");
                return 0;
        }
        r = sd_event_source_set_time(c->retry_timer, when);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->retry_timer, SD_EVENT_ONESHOT);
}

static void schedule_retry(VirtConnection *c) {
        int r = schedule_retry_internal(c);

        if (r < 0)
                log_debug_errno(r, "libvirt connection %s: cannot schedule a retry: %m", c->uri);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        VirtConnection *c = ASSERT_PTR(userdata);
        _cleanup_free_ char *message = NULL;
        int r;

        if (c->n_needed == 0 || c->conn || c->probe)
                return 0;
        if (c->probe_timeout_usec > 0) {
                probe_start(c);
                return 0;
        }

        r = connection_open(c, &message);
        if (r < 0) {
                c->backoff_usec = MIN(c->backoff_usec * 2, c->backoff_max_usec);
                log_debug_errno(r, "libvirt connection %s: reconnecting failed (%s), again in %" PRIu64 " ms",
                                c->uri, strempty(message), c->backoff_usec / 1000);
                schedule_retry(c);
                return 0;
        }

        c->resync_pending = false;
        c->resync_due = false;
        if (c->handlers.resync)
                c->handlers.resync(c, c->userdata);
        return 0;
}

/* The probe's helper ended: libvirt answered it (open ours now: quick), or not. */
static void on_probed(VirtDomainStart *p, int result, const char *message, void *userdata) {
        VirtConnection *c = ASSERT_PTR(userdata);
        _cleanup_free_ char *copy = message ? strdup(message) : NULL, *open_message = NULL;
        int r = result;

        c->probe = virt_domain_start_free(c->probe);
        if (c->n_needed == 0 || c->conn)
                return;
        if (r >= 0) {
                r = connection_open(c, &open_message);
                if (r < 0) {
                        free(copy);
                        copy = TAKE_PTR(open_message);
                }
        }
        if (r < 0) {
                log_debug("libvirt connection %s: opening failed (%s), again in %" PRIu64 " ms", c->uri,
                          strempty(copy), c->backoff_usec / 1000);
                c->resync_pending = true;
                schedule_retry(c);
                c->backoff_usec = MIN(c->backoff_usec * 2, c->backoff_max_usec);
                if (c->handlers.opened)
                        c->handlers.opened(c, r, copy ?: "libvirt did not answer", c->userdata);
                return;
        }
        if (c->handlers.opened)
                c->handlers.opened(c, 0, NULL, c->userdata);
        if (c->resync_pending && virt_connection_is_connected(c)) {
                c->resync_pending = false;
                c->resync_due = false;
                if (c->handlers.resync)
                        c->handlers.resync(c, c->userdata);
        }
}

static void probe_start(VirtConnection *c) {
        int r;

        if (c->probe)
                return;
        r = virt_domain_start_async(c->event, c->uri, NULL, c->probe_timeout_usec, on_probed, c, &c->probe);
        if (r < 0) {
                log_debug_errno(r, "libvirt connection %s: cannot start the probe: %m", c->uri);
                c->resync_pending = true;
                schedule_retry(c);
        }
}

static int on_defer(sd_event_source *s, void *userdata) {
        VirtConnection *c = ASSERT_PTR(userdata);

        if (c->lost) {
                int reason = c->lost_reason;

                log_debug("libvirt connection %s: lost (%s)", c->uri,
                          strempty(virt_close_reason_to_string(reason)));
                connection_close(c);
                c->resync_due = false;
                if (c->n_needed > 0) {
                        c->resync_pending = true;
                        c->backoff_usec = c->backoff_min_usec;
                        schedule_retry(c);
                }
                if (c->handlers.disconnected)
                        c->handlers.disconnected(c, reason, c->userdata);
                return 0;
        }

        if (c->n_needed == 0) {
                if (c->conn)
                        log_debug("libvirt connection %s: closed, not needed any more", c->uri);
                connection_close(c);
                return 0;
        }

        if (c->resync_due && c->conn) {
                c->resync_due = false;
                if (c->handlers.resync)
                        c->handlers.resync(c, c->userdata);
        }
        return 0;
}

int virt_connection_new(sd_event *event, const char *uri, const VirtHandlers *handlers, void *userdata,
                        VirtConnection **ret) {
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        static bool quiet = false;
        int r;

        if (!event || !ret)
                return -EINVAL;

        c = calloc(1, sizeof(VirtConnection));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->lifecycle_id = -1;
        c->backoff_min_usec = c->backoff_usec = VIRT_RECONNECT_MIN_USEC;
        c->backoff_max_usec = VIRT_RECONNECT_MAX_USEC;
        c->userdata = userdata;
        if (handlers)
                c->handlers = *handlers;
        c->uri = strdup(uri ?: VIRT_DEFAULT_URI);
        if (!c->uri)
                return -ENOMEM;

        r = sd_event_add_defer(event, &c->defer, on_defer, c);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->defer, "libvirt-connection");

        if (!quiet) {
                virSetErrorFunc(NULL, ignore_libvirt_error);
                quiet = true;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

VirtConnection *virt_connection_free(VirtConnection *c) {
        if (!c)
                return NULL;
        connection_close(c);
        virt_domain_start_free(c->probe);
        sd_event_source_disable_unref(c->retry_timer);
        sd_event_source_disable_unref(c->defer);
        sd_event_unref(c->event);
        free(c->uri);
        return mfree(c);
}

void virt_connection_set_probe_timeout(VirtConnection *c, uint64_t usec) {
        c->probe_timeout_usec = usec;
}

void virt_connection_set_backoff(VirtConnection *c, uint64_t min_usec, uint64_t max_usec) {
        if (min_usec > 0)
                c->backoff_min_usec = min_usec;
        if (max_usec > 0)
                c->backoff_max_usec = MAX(max_usec, c->backoff_min_usec);
        c->backoff_usec = MIN(MAX(c->backoff_usec, c->backoff_min_usec), c->backoff_max_usec);
}

int virt_connection_need(VirtConnection *c, char **ret_message) {
        int r;

        c->n_needed++;
        if (c->conn && !c->lost) {
                succeed(ret_message);
                return 0;
        }
        if (c->lost)
                /* The defer source closes it and schedules the reconnection. */
                return not_connected(c, ret_message);
        if (c->probe_timeout_usec > 0) {
                probe_start(c);
                succeed(ret_message);
                return -EINPROGRESS;
        }

        r = connection_open(c, ret_message);
        if (r < 0) {
                c->resync_pending = true;
                if (!retry_armed(c))
                        schedule_retry(c);
                return r;
        }
        if (c->resync_pending) {
                /* Other holders saw the failure or the loss: tell them, from the loop. */
                c->resync_pending = false;
                c->resync_due = true;
                arm_defer(c);
        }
        succeed(ret_message);
        return 0;
}

void virt_connection_release(VirtConnection *c) {
        if (!c || c->n_needed == 0)
                return;
        if (--c->n_needed > 0)
                return;
        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        c->resync_pending = c->resync_due = false;
        c->backoff_usec = c->backoff_min_usec;
        if (c->conn)
                arm_defer(c);
}

bool virt_connection_is_connected(const VirtConnection *c) {
        return c && c->conn && !c->lost;
}

unsigned virt_connection_needs(const VirtConnection *c) {
        return c ? c->n_needed : 0;
}

const char *virt_connection_uri(const VirtConnection *c) {
        return c ? c->uri : NULL;
}

/* 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        }
        return true;
}

int virt_domain_lookup(VirtConnection *c, const char *name_or_uuid, virDomainPtr *ret, char **ret_message) {
        virDomainPtr d = NULL;

        if (!c || !ret)
                return -EINVAL;
        if (isempty(name_or_uuid))
                return fail_with(-EINVAL, "No domain name or UUID given", ret_message);
        if (!virt_connection_is_connected(c))
                return not_connected(c, ret_message);

        if (is_uuid(name_or_uuid)) {
                d = virDomainLookupByUUIDString(c->conn, name_or_uuid);
                if (!d && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
                        return virt_last_error(ret_message);
        }
        if (!d)
                d = virDomainLookupByName(c->conn, name_or_uuid);
        if (!d)
                return virt_last_error(ret_message);

        *ret = d;
        succeed(ret_message);
        return 0;
}

int virt_domain_is_active(virDomainPtr d, char **ret_message) {
        int r;

        if (!d)
                return -EINVAL;
        r = virDomainIsActive(d);
        if (r < 0)
                return virt_last_error(ret_message);
        succeed(ret_message);
        return r > 0;
}

int virt_domain_start(virDomainPtr d, char **ret_message) {
        if (!d)
                return -EINVAL;
        if (virDomainCreate(d) < 0)
                return virt_last_error(ret_message);
        succeed(ret_message);
        return 0;
}

int virt_domain_get_pci_hostdevs(virDomainPtr d, bool inactive, VirtHostdev **ret, size_t *ret_n,
                                 char **ret_message) {
        _cleanup_free_ char *xml = NULL;
        const char *reason = NULL;
        int r;

        if (!d || !ret || !ret_n)
                return -EINVAL;
        xml = virDomainGetXMLDesc(d, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
        if (!xml)
                return virt_last_error(ret_message);

        r = virt_xml_parse_pci_hostdevs(xml, ret, ret_n, &reason);
        if (r < 0)
                return fail_with(r, reason, ret_message);
        succeed(ret_message);
        return 0;
}
