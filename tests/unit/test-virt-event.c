/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's event loop on sd-event (virt-event.c), first through libvirt's public
 * virEventAdd/Update/Remove{Handle,Timeout} on pipes and timers, then the connection
 * (virt.c) against libvirt's in-process test driver with the host of
 * tests/fixtures/libvirt/node.xml: lifecycle events arrive through the bridge, lookups, start
 * errors, hostdevs, closing when released, reconnecting after a failed open.
 * Usage: test-virt-event FIXTURES_DIR (the directory holding node.xml).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>

#include "virt-event.h"
#include "virt.h"
#include "loop.h"
#include "tests.h"


#define GPU_GUEST_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define RUNNING_GUEST_UUID "0b1c5a3e-52f4-4f7e-9d0a-3f0c9b8f3a11"

static sd_event *event;
static char *node_xml; /* absolute path of the fixture */
static char *uri;      /* test://<node_xml> */


/* ---- the bridge itself ---- */

typedef struct TimeoutState {
        int id;
        unsigned fired;
        unsigned freed;
        uint64_t at[8];
        bool in_remove;
        bool remove_in_callback;
} TimeoutState;

static void on_timeout(int timer, void *opaque) {
        TimeoutState *s = opaque;

        CHECK_INTEQ(timer, s->id);
        if (s->fired < ELEMENTSOF(s->at))
                s->at[s->fired] = now_usec();
        s->fired++;
        if (s->remove_in_callback) {
                s->in_remove = true;
                CHECK_INTEQ(virEventRemoveTimeout(timer), 0);
                s->in_remove = false;
                CHECK_INTEQ(s->freed, 0); /* not from inside the remove */
        }
}

static void timeout_free(void *opaque) {
        TimeoutState *s = opaque;

        CHECK(!s->in_remove);
        s->freed++;
}

static void test_timeout_zero_fires_on_every_iteration(void) {
        TimeoutState s = {};

        s.id = virEventAddTimeout(0, on_timeout, &s, timeout_free);
        CHECK(s.id > 0);
        for (unsigned i = 0; i < 5; i++)
                CHECK_INTEQ(sd_event_run(event, 0), 1);
        CHECK_INTEQ(s.fired, 5);

        CHECK_INTEQ(virEventRemoveTimeout(s.id), 0);
        loop_settle(event);
        CHECK_INTEQ(s.fired, 5);
        CHECK_INTEQ(s.freed, 1);
}

static void test_timeout_n_ms_is_periodic(void) {
        TimeoutState s = {};
        uint64_t start = now_usec();

        s.id = virEventAddTimeout(30, on_timeout, &s, NULL);
        CHECK(s.id > 0);
        CHECK(loop_run_until(event, &s.fired, 3, 5 * USEC_PER_SEC));
        CHECK(s.at[0] - start >= 30 * USEC_PER_MSEC);
        CHECK(s.at[1] - s.at[0] >= 30 * USEC_PER_MSEC);
        CHECK(s.at[2] - s.at[1] >= 30 * USEC_PER_MSEC);
        CHECK_INTEQ(virEventRemoveTimeout(s.id), 0);
        loop_run_for(event, 50 * USEC_PER_MSEC);
        CHECK_INTEQ(s.fired, 3);
}

/* libvirt adds timeouts after calls that may block: the period counts from the add, not from
 * when the loop last woke up. */
static void test_timeout_counts_from_the_add_not_the_last_wakeup(void) {
        TimeoutState s = {};
        uint64_t start;

        loop_run_for(event, 5 * USEC_PER_MSEC);
        (void) usleep(100 * 1000); /* a blocking call outside the loop */
        start = now_usec();
        s.id = virEventAddTimeout(50, on_timeout, &s, NULL);
        CHECK(s.id > 0);
        CHECK(loop_run_until(event, &s.fired, 1, 5 * USEC_PER_SEC));
        CHECK(s.at[0] - start >= 50 * USEC_PER_MSEC);

        (void) usleep(100 * 1000);
        start = now_usec();
        virEventUpdateTimeout(s.id, 50);
        CHECK(loop_run_until(event, &s.fired, 2, 5 * USEC_PER_SEC));
        CHECK(s.at[1] - start >= 50 * USEC_PER_MSEC);
        CHECK_INTEQ(virEventRemoveTimeout(s.id), 0);
        loop_settle(event);
}

static void test_timeout_disabled_until_updated(void) {
        TimeoutState s = {};
        uint64_t start;

        s.id = virEventAddTimeout(-1, on_timeout, &s, timeout_free);
        CHECK(s.id > 0);
        loop_run_for(event, 50 * USEC_PER_MSEC);
        CHECK_INTEQ(s.fired, 0);

        virEventUpdateTimeout(s.id, 0);
        CHECK_INTEQ(sd_event_run(event, 0), 1);
        CHECK_INTEQ(s.fired, 1);

        virEventUpdateTimeout(s.id, -1);
        loop_run_for(event, 50 * USEC_PER_MSEC);
        CHECK_INTEQ(s.fired, 1);

        start = now_usec();
        virEventUpdateTimeout(s.id, 20);
        CHECK(loop_run_until(event, &s.fired, 2, 5 * USEC_PER_SEC));
        CHECK(s.at[1] - start >= 20 * USEC_PER_MSEC);

        CHECK_INTEQ(virEventRemoveTimeout(s.id), 0);
        CHECK_INTEQ(s.freed, 0);
        loop_settle(event);
        CHECK_INTEQ(s.freed, 1);
}

static void test_timeout_removed_in_its_callback_is_freed_later(void) {
        TimeoutState s = { .remove_in_callback = true };

        s.id = virEventAddTimeout(0, on_timeout, &s, timeout_free);
        CHECK(s.id > 0);
        CHECK_INTEQ(sd_event_run(event, 0), 1);
        CHECK_INTEQ(s.fired, 1);
        CHECK_INTEQ(s.freed, 0);
        loop_settle(event);
        CHECK_INTEQ(s.fired, 1); /* never called after the remove */
        CHECK_INTEQ(s.freed, 1);
}

typedef struct HandleState {
        int id;
        int fd;
        int events; /* of the last call */
        unsigned calls;
        unsigned freed;
        bool in_remove;
} HandleState;

static void on_handle(int watch, int fd, int events, void *opaque) {
        HandleState *s = opaque;

        CHECK_INTEQ(watch, s->id);
        s->fd = fd;
        s->events = events;
        s->calls++;
}

static void handle_free(void *opaque) {
        HandleState *s = opaque;

        CHECK(!s->in_remove);
        s->freed++;
}

static void test_handle_readable_pipe(void) {
        HandleState s = { .fd = -1 };
        int p[2];
        char c;

        CHECK_INTEQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        s.id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &s, handle_free);
        CHECK(s.id > 0);
        loop_run_for(event, 20 * USEC_PER_MSEC);
        CHECK_INTEQ(s.calls, 0);

        CHECK_INTEQ(write(p[1], "x", 1), 1);
        CHECK_INTEQ(sd_event_run(event, USEC_PER_SEC), 1);
        CHECK_INTEQ(s.calls, 1);
        CHECK_INTEQ(s.fd, p[0]);
        CHECK_INTEQ(s.events, VIR_EVENT_HANDLE_READABLE);

        /* Events 0: no calls although the byte is still there. */
        virEventUpdateHandle(s.id, 0);
        loop_run_for(event, 20 * USEC_PER_MSEC);
        CHECK_INTEQ(s.calls, 1);
        virEventUpdateHandle(s.id, VIR_EVENT_HANDLE_READABLE);
        CHECK_INTEQ(sd_event_run(event, USEC_PER_SEC), 1);
        CHECK_INTEQ(s.calls, 2);

        /* The writer goes: a hangup. */
        CHECK_INTEQ(read(p[0], &c, 1), 1);
        close(p[1]);
        CHECK_INTEQ(sd_event_run(event, USEC_PER_SEC), 1);
        CHECK_INTEQ(s.calls, 3);
        CHECK(s.events & VIR_EVENT_HANDLE_HANGUP);

        s.in_remove = true;
        CHECK_INTEQ(virEventRemoveHandle(s.id), 0);
        s.in_remove = false;
        CHECK_INTEQ(s.freed, 0);
        loop_settle(event);
        CHECK_INTEQ(s.calls, 3);
        CHECK_INTEQ(s.freed, 1);
        close(p[0]);
}

static void test_handle_writable(void) {
        HandleState s = { .fd = -1 };
        int p[2];

        CHECK_INTEQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        s.id = virEventAddHandle(p[1], VIR_EVENT_HANDLE_WRITABLE, on_handle, &s, NULL);
        CHECK(s.id > 0);
        CHECK_INTEQ(sd_event_run(event, USEC_PER_SEC), 1);
        CHECK_INTEQ(s.calls, 1);
        CHECK_INTEQ(s.fd, p[1]);
        CHECK_INTEQ(s.events, VIR_EVENT_HANDLE_WRITABLE);
        CHECK_INTEQ(virEventRemoveHandle(s.id), 0);
        loop_settle(event);
        close(p[0]);
        close(p[1]);
}

/* libvirt may watch a descriptor twice for disjoint events; epoll takes it once. */
static void test_same_descriptor_watched_twice(void) {
        HandleState r = { .fd = -1 }, w = { .fd = -1 };
        int sp[2];

        CHECK_INTEQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp), 0);
        r.id = virEventAddHandle(sp[0], VIR_EVENT_HANDLE_READABLE, on_handle, &r, NULL);
        w.id = virEventAddHandle(sp[0], VIR_EVENT_HANDLE_WRITABLE, on_handle, &w, NULL);
        CHECK(r.id > 0);
        CHECK(w.id > 0 && w.id != r.id);

        CHECK_INTEQ(write(sp[1], "x", 1), 1);
        loop_run_for(event, 20 * USEC_PER_MSEC);
        CHECK(r.calls > 0);
        CHECK(w.calls > 0);
        CHECK_INTEQ(r.fd, sp[0]); /* libvirt's descriptor, not the copy */
        CHECK_INTEQ(w.fd, sp[0]);
        CHECK_INTEQ(r.events, VIR_EVENT_HANDLE_READABLE); /* each gets what it asked for */
        CHECK_INTEQ(w.events, VIR_EVENT_HANDLE_WRITABLE);
        CHECK_INTEQ(virEventRemoveHandle(r.id), 0);
        CHECK_INTEQ(virEventRemoveHandle(w.id), 0);
        loop_settle(event);
        close(sp[0]);
        close(sp[1]);
}

/* A watch turned off leaves epoll; another watch of its descriptor may take it meanwhile. */
static void test_watch_enabled_after_another_took_its_descriptor(void) {
        HandleState a = { .fd = -1 }, b = { .fd = -1 };
        int p[2];

        CHECK_INTEQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        a.id = virEventAddHandle(p[0], 0, on_handle, &a, NULL);
        b.id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &b, NULL);
        CHECK(a.id > 0);
        CHECK(b.id > 0);
        virEventUpdateHandle(a.id, VIR_EVENT_HANDLE_READABLE);
        CHECK_INTEQ(write(p[1], "x", 1), 1);
        loop_run_for(event, 20 * USEC_PER_MSEC);
        CHECK(a.calls > 0);
        CHECK(b.calls > 0);
        CHECK_INTEQ(a.fd, p[0]);
        CHECK_INTEQ(virEventRemoveHandle(a.id), 0);
        CHECK_INTEQ(virEventRemoveHandle(b.id), 0);
        loop_settle(event);
        close(p[0]);
        close(p[1]);
}

static void test_unknown_ids(void) {
        CHECK_INTEQ(virEventRemoveHandle(99999), -1);
        CHECK_INTEQ(virEventRemoveTimeout(99999), -1);
        virEventUpdateHandle(99999, VIR_EVENT_HANDLE_READABLE); /* ignored */
        virEventUpdateTimeout(99999, 0);
}

static void test_counts(void) {
        TimeoutState t = {};
        HandleState h = {};
        size_t handles = 99, timeouts = 99;
        int p[2];

        CHECK_INTEQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        virt_event_get_counts(&handles, &timeouts);
        CHECK_INTEQ(handles, 0);
        CHECK_INTEQ(timeouts, 0);
        h.id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &h, NULL);
        t.id = virEventAddTimeout(-1, on_timeout, &t, NULL);
        virt_event_get_counts(&handles, &timeouts);
        CHECK_INTEQ(handles, 1);
        CHECK_INTEQ(timeouts, 1);
        CHECK_INTEQ(virEventRemoveHandle(h.id), 0);
        CHECK_INTEQ(virEventRemoveTimeout(t.id), 0);
        virt_event_get_counts(&handles, &timeouts); /* removed: not counted, even before the free */
        CHECK_INTEQ(handles, 0);
        CHECK_INTEQ(timeouts, 0);
        loop_settle(event);
        close(p[0]);
        close(p[1]);
}

static void test_unregister_frees_everything_and_refuses_adds(void) {
        _cleanup_(sd_event_unrefp) sd_event *other = NULL;
        TimeoutState s = {};

        s.id = virEventAddTimeout(-1, on_timeout, &s, timeout_free);
        CHECK(s.id > 0);
        virt_event_unregister();
        CHECK_INTEQ(s.freed, 1); /* at once: the loop is left */
        CHECK_INTEQ(virEventAddTimeout(0, on_timeout, &s, NULL), -1);

        CHECK_INTEQ(virt_event_register(event), 0);
        CHECK_INTEQ(virt_event_register(event), 0);
        CHECK_INTEQ(sd_event_new(&other), 0);
        CHECK_INTEQ(virt_event_register(other), -EBUSY);
        s.id = virEventAddTimeout(0, on_timeout, &s, NULL);
        CHECK(s.id > 0);
        CHECK_INTEQ(virEventRemoveTimeout(s.id), 0);
        loop_settle(event);
}

/* ---- the connection, on libvirt's test driver ---- */

typedef struct LifecycleRecord {
        char name[64];
        char uuid[VIR_UUID_STRING_BUFLEN];
        int event;
        int detail;
} LifecycleRecord;

typedef struct Recorder {
        LifecycleRecord events[16];
        unsigned n_events;
        unsigned resyncs;
        unsigned disconnects;
} Recorder;

static void on_lifecycle(VirtConnection *c, const char *name, const char *uuid, int ev, int detail,
                         void *userdata) {
        Recorder *r = userdata;

        if (r->n_events < ELEMENTSOF(r->events)) {
                LifecycleRecord *e = &r->events[r->n_events];

                snprintf(e->name, sizeof(e->name), "%s", name);
                snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
                e->event = ev;
                e->detail = detail;
        }
        r->n_events++;
}

static void on_resync(VirtConnection *c, void *userdata) {
        Recorder *r = userdata;

        CHECK(virt_connection_is_connected(c));
        r->resyncs++;
}

static void on_disconnected(VirtConnection *c, int reason, void *userdata) {
        Recorder *r = userdata;

        r->disconnects++;
}

static const VirtHandlers handlers = {
        .lifecycle = on_lifecycle,
        .resync = on_resync,
        .disconnected = on_disconnected,
};

/* A connection to the fixture host, needed (open). */
static VirtConnection *open_fixture(Recorder *rec) {
        _cleanup_free_ char *message = NULL;
        VirtConnection *c = NULL;

        CHECK_INTEQ(virt_connection_new(event, uri, &handlers, rec, &c), 0);
        if (!c)
                return NULL;
        CHECK_INTEQ(virt_connection_need(c, &message), 0);
        CHECK(message == NULL);
        CHECK(virt_connection_is_connected(c));
        return c;
}

static void close_fixture(VirtConnection *c) {
        virt_connection_release(c);
        virt_connection_free(c);
        loop_settle(event);
}

static void test_lookup_needs_the_connection(void) {
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        _cleanup_free_ char *message = NULL;
        virDomainPtr d = NULL;

        CHECK_INTEQ(virt_connection_new(event, uri, &handlers, NULL, &c), 0);
        CHECK(!virt_connection_is_connected(c));
        CHECK_INTEQ(virt_domain_lookup(c, "gpu-guest", &d, &message), -ENOTCONN);
        CHECK(message && strstr(message, "Not connected"));
        CHECK(d == NULL);
}

static void test_default_uri_is_qemu_system(void) {
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;

        CHECK_INTEQ(virt_connection_new(event, NULL, NULL, NULL, &c), 0);
        CHECK_STREQ(virt_connection_uri(c), "qemu:///system");
}

static void test_lookup_by_name_and_uuid(void) {
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);
        _cleanup_free_ char *message = NULL;
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (!c)
                return;
        {
                _cleanup_(virDomainFreep) virDomainPtr d = NULL;

                CHECK_INTEQ(virt_domain_lookup(c, "gpu-guest", &d, &message), 0);
                CHECK(message == NULL);
                CHECK_INTEQ(virDomainGetUUIDString(d, uuid), 0);
                CHECK_STREQ(uuid, GPU_GUEST_UUID);
        }
        {
                _cleanup_(virDomainFreep) virDomainPtr d = NULL;

                CHECK_INTEQ(virt_domain_lookup(c, GPU_GUEST_UUID, &d, NULL), 0);
                CHECK_STREQ(virDomainGetName(d), "gpu-guest");
        }
        {
                _cleanup_(virDomainFreep) virDomainPtr d = NULL;

                CHECK_INTEQ(virt_domain_lookup(c, "0B1C5A3E-52F4-4F7E-9D0A-3F0C9B8F3A11", &d, NULL), 0);
                CHECK_STREQ(virDomainGetName(d), "running-guest");
        }
        close_fixture(c);
}

static void test_lookup_unknown_is_enoent_with_message(void) {
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);
        virDomainPtr d = NULL;

        if (!c)
                return;
        {
                _cleanup_free_ char *message = NULL;

                CHECK_INTEQ(virt_domain_lookup(c, "no-such-guest", &d, &message), -ENOENT);
                CHECK(!isempty(message));
                fprintf(stderr, "  libvirt says: %s\n", strempty(message));
        }
        {
                _cleanup_free_ char *message = NULL;

                /* UUID-shaped: by UUID, then by name, then not found. */
                CHECK_INTEQ(virt_domain_lookup(c, "00000000-0000-0000-0000-000000000001", &d, &message),
                            -ENOENT);
                CHECK(!isempty(message));
        }
        {
                _cleanup_free_ char *message = NULL;

                CHECK_INTEQ(virt_domain_lookup(c, "", &d, &message), -EINVAL);
                CHECK(!isempty(message));
        }
        CHECK(d == NULL);
        close_fixture(c);
}

static void test_is_active(void) {
        _cleanup_(virDomainFreep) virDomainPtr off = NULL, on = NULL;
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);

        if (!c)
                return;
        CHECK_INTEQ(virt_domain_lookup(c, "gpu-guest", &off, NULL), 0);
        CHECK_INTEQ(virt_domain_lookup(c, "running-guest", &on, NULL), 0);
        CHECK_INTEQ(virt_domain_is_active(off, NULL), 0);
        CHECK_INTEQ(virt_domain_is_active(on, NULL), 1);
        close_fixture(c);
}

static void test_pci_hostdevs_of_a_domain(void) {
        _cleanup_(virDomainFreep) virDomainPtr d = NULL, none = NULL;
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);
        char buf[PCI_ADDRESS_STRING_MAX];

        if (!c)
                return;
        CHECK_INTEQ(virt_domain_lookup(c, "gpu-guest", &d, NULL), 0);
        for (int inactive = 0; inactive <= 1; inactive++) {
                _cleanup_free_ VirtHostdev *l = NULL;
                size_t n = 0;

                CHECK_INTEQ(virt_domain_get_pci_hostdevs(d, inactive, &l, &n, NULL), 0);
                CHECK_INTEQ(n, 2); /* the USB hostdev is not counted */
                if (n != 2)
                        continue;
                CHECK_STREQ(pci_address_format(&l[0].address, buf), "0000:26:00.0");
                CHECK(l[0].managed);
                CHECK_STREQ(pci_address_format(&l[1].address, buf), "0000:26:00.1");
                CHECK(!l[1].managed);
        }

        CHECK_INTEQ(virt_domain_lookup(c, "running-guest", &none, NULL), 0);
        {
                _cleanup_free_ VirtHostdev *l = NULL;
                size_t n = 99;

                CHECK_INTEQ(virt_domain_get_pci_hostdevs(none, false, &l, &n, NULL), 0);
                CHECK_INTEQ(n, 0);
        }
        close_fixture(c);
}

static void test_lifecycle_events_arrive_through_the_loop(void) {
        _cleanup_(virDomainFreep) virDomainPtr d = NULL;
        _cleanup_free_ char *message = NULL;
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);

        if (!c)
                return;
        CHECK_INTEQ(virt_domain_lookup(c, "gpu-guest", &d, NULL), 0);

        CHECK_INTEQ(virt_domain_start(d, &message), 0);
        CHECK(message == NULL);
        CHECK_INTEQ(rec.n_events, 0); /* queued by libvirt, dispatched from the loop */
        CHECK(loop_run_until(event, &rec.n_events, 1, 5 * USEC_PER_SEC));
        CHECK_STREQ(rec.events[0].name, "gpu-guest");
        CHECK_STREQ(rec.events[0].uuid, GPU_GUEST_UUID);
        CHECK_INTEQ(rec.events[0].event, VIR_DOMAIN_EVENT_STARTED);
        CHECK_INTEQ(rec.events[0].detail, VIR_DOMAIN_EVENT_STARTED_BOOTED);
        CHECK_STREQ(virt_lifecycle_event_to_string(rec.events[0].event), "started");
        CHECK_INTEQ(virt_domain_is_active(d, NULL), 1);

        CHECK_INTEQ(virDomainDestroy(d), 0);
        CHECK(loop_run_until(event, &rec.n_events, 2, 5 * USEC_PER_SEC));
        CHECK_STREQ(rec.events[1].name, "gpu-guest");
        CHECK_INTEQ(rec.events[1].event, VIR_DOMAIN_EVENT_STOPPED);
        CHECK_INTEQ(rec.events[1].detail, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
        CHECK_STREQ(virt_lifecycle_event_to_string(rec.events[1].event), "stopped");

        loop_run_for(event, 20 * USEC_PER_MSEC);
        CHECK_INTEQ(rec.n_events, 2);
        CHECK_INTEQ(rec.resyncs, 0);
        CHECK_INTEQ(rec.disconnects, 0);
        close_fixture(c);
}

static void test_start_failure_carries_libvirts_message(void) {
        _cleanup_(virDomainFreep) virDomainPtr d = NULL;
        _cleanup_free_ char *message = NULL;
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);

        if (!c)
                return;
        CHECK_INTEQ(virt_domain_lookup(c, "running-guest", &d, NULL), 0);
        CHECK(virt_domain_start(d, &message) < 0);
        CHECK(message && strstr(message, "already running"));
        fprintf(stderr, "  libvirt says: %s\n", strempty(message));
        close_fixture(c);
}

static void test_release_closes_from_the_loop(void) {
        Recorder rec = {};
        VirtConnection *c = open_fixture(&rec);
        size_t handles = 99, timeouts = 99;

        if (!c)
                return;
        CHECK_INTEQ(virt_connection_need(c, NULL), 0); /* a second need */
        CHECK_INTEQ(virt_connection_needs(c), 2);
        virt_event_get_counts(&handles, &timeouts);
        CHECK_INTEQ(handles, 0);
        CHECK_INTEQ(timeouts, 1); /* libvirt's event dispatch timer */

        virt_connection_release(c);
        loop_settle(event);
        CHECK(virt_connection_is_connected(c));

        virt_connection_release(c);
        CHECK(virt_connection_is_connected(c)); /* until the loop runs */
        loop_settle(event);
        CHECK(!virt_connection_is_connected(c));
        virt_event_get_counts(&handles, &timeouts);
        CHECK_INTEQ(handles, 0);
        CHECK_INTEQ(timeouts, 0);

        /* A need right after the last release keeps the connection. */
        CHECK_INTEQ(virt_connection_need(c, NULL), 0);
        virt_connection_release(c);
        CHECK_INTEQ(virt_connection_need(c, NULL), 0);
        loop_settle(event);
        CHECK(virt_connection_is_connected(c));
        close_fixture(c);
        CHECK_INTEQ(rec.resyncs, 0);
}

/* A need whose open fails keeps trying with backoff; the open that succeeds brings a resync. */
static void test_failed_open_is_retried_then_resyncs(void) {
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        _cleanup_free_ char *message = NULL, *dir = strdup("/tmp/test-virt-event-XXXXXX"), *path = NULL,
                                         *late_uri = NULL;
        Recorder rec = {};

        CHECK(dir && mkdtemp(dir));
        CHECK(asprintf(&path, "%s/node.xml", dir) > 0);
        CHECK(asprintf(&late_uri, "test://%s", path) > 0);

        CHECK_INTEQ(virt_connection_new(event, late_uri, &handlers, &rec, &c), 0);
        virt_connection_set_backoff(c, 10 * USEC_PER_MSEC, 40 * USEC_PER_MSEC);
        CHECK(virt_connection_need(c, &message) < 0);
        CHECK(!isempty(message));
        fprintf(stderr, "  libvirt says: %s\n", strempty(message));
        CHECK(!virt_connection_is_connected(c));

        loop_run_for(event, 100 * USEC_PER_MSEC);
        CHECK_INTEQ(rec.resyncs, 0);
        CHECK(!virt_connection_is_connected(c));

        CHECK_INTEQ(symlink(node_xml, path), 0);
        CHECK(loop_run_until(event, &rec.resyncs, 1, 5 * USEC_PER_SEC));
        CHECK(virt_connection_is_connected(c));
        {
                _cleanup_(virDomainFreep) virDomainPtr d = NULL;

                CHECK_INTEQ(virt_domain_lookup(c, "gpu-guest", &d, NULL), 0);
        }
        loop_run_for(event, 50 * USEC_PER_MSEC);
        CHECK_INTEQ(rec.resyncs, 1);
        CHECK_INTEQ(rec.disconnects, 0);

        virt_connection_release(c);
        loop_settle(event);
        (void) unlink(path);
        (void) rmdir(dir);
}

static void test_release_stops_the_retries(void) {
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        _cleanup_free_ char *dir = strdup("/tmp/test-virt-event-XXXXXX"), *path = NULL, *late_uri = NULL;
        Recorder rec = {};

        CHECK(dir && mkdtemp(dir));
        CHECK(asprintf(&path, "%s/node.xml", dir) > 0);
        CHECK(asprintf(&late_uri, "test://%s", path) > 0);

        CHECK_INTEQ(virt_connection_new(event, late_uri, &handlers, &rec, &c), 0);
        virt_connection_set_backoff(c, 10 * USEC_PER_MSEC, 40 * USEC_PER_MSEC);
        CHECK(virt_connection_need(c, NULL) < 0);
        virt_connection_release(c);
        CHECK_INTEQ(symlink(node_xml, path), 0);
        loop_run_for(event, 100 * USEC_PER_MSEC);
        CHECK_INTEQ(rec.resyncs, 0);
        CHECK(!virt_connection_is_connected(c));
        (void) unlink(path);
        (void) rmdir(dir);
}

/* What a missing libvirtd looks like: the remote driver's socket connect fails. */
static void test_missing_libvirtd_socket_is_enoent(void) {
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        _cleanup_free_ char *message = NULL;

        CHECK_INTEQ(virt_connection_new(event, "test+unix:///default?socket=/nonexistent/libvirt-sock",
                                        &handlers, NULL, &c),
                    0);
        CHECK_INTEQ(virt_connection_need(c, &message), -ENOENT);
        CHECK(message && strstr(message, "/nonexistent/libvirt-sock"));
        fprintf(stderr, "  libvirt says: %s\n", strempty(message));
        virt_connection_release(c);
        loop_settle(event);
}

static unsigned initial_tasks;

static void test_no_thread_was_created(void) {
        /* libvirt's test driver and the bridge run in the caller's thread. */
        CHECK_INTEQ(initial_tasks, 1);
        CHECK_INTEQ(n_tasks(), 1);
}

int main(int argc, char **argv) {
        int r;

        if (argc != 2) {
                fprintf(stderr, "Usage: %s FIXTURES_DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        initial_tasks = n_tasks();
        node_xml = realpath(argv[1], NULL);
        if (!node_xml || asprintf(&uri, "test://%s/node.xml", node_xml) < 0) {
                fprintf(stderr, "Cannot resolve %s\n", argv[1]);
                return EXIT_FAILURE;
        }
        free(node_xml);
        node_xml = strdup(uri + strlen("test://"));

        r = sd_event_new(&event);
        if (r < 0 || virt_event_register(event) < 0) {
                fprintf(stderr, "Cannot set up the event loop\n");
                return EXIT_FAILURE;
        }

        RUN(test_timeout_zero_fires_on_every_iteration);
        RUN(test_timeout_n_ms_is_periodic);
        RUN(test_timeout_counts_from_the_add_not_the_last_wakeup);
        RUN(test_timeout_disabled_until_updated);
        RUN(test_timeout_removed_in_its_callback_is_freed_later);
        RUN(test_handle_readable_pipe);
        RUN(test_handle_writable);
        RUN(test_same_descriptor_watched_twice);
        RUN(test_watch_enabled_after_another_took_its_descriptor);
        RUN(test_unknown_ids);
        RUN(test_counts);
        RUN(test_unregister_frees_everything_and_refuses_adds);

        RUN(test_lookup_needs_the_connection);
        RUN(test_default_uri_is_qemu_system);
        RUN(test_lookup_by_name_and_uuid);
        RUN(test_lookup_unknown_is_enoent_with_message);
        RUN(test_is_active);
        RUN(test_pci_hostdevs_of_a_domain);
        RUN(test_lifecycle_events_arrive_through_the_loop);
        RUN(test_start_failure_carries_libvirts_message);
        RUN(test_release_closes_from_the_loop);
        RUN(test_failed_open_is_retried_then_resyncs);
        RUN(test_release_stops_the_retries);
        RUN(test_missing_libvirtd_socket_is_enoent);
        RUN(test_no_thread_was_created);

        virt_event_unregister();
        sd_event_unref(event);
        free(node_xml);
        free(uri);
        return TESTS_DONE();
}
