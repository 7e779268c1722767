/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's event loop made of sd-event sources (see virt-event.h). libvirt's callbacks carry
 * no context pointer, so the bridge is one static object: the event loop, the live watches and
 * timeouts (looked up by libvirt's id), the removed ones waiting for their free callback, and
 * the defer source that calls those callbacks on a clean stack. Touches no files.
 */
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <sys/epoll.h>
#include <time.h>

#include "log.h"
#include "virt-event.h"


typedef struct Watch Watch;
struct Watch {
        int id;
        bool timeout;    /* a timeout, else a handle watch */
        bool duplicated; /* handles: the source watches a copy of fd (fd was watched already) */
        int fd;          /* handles: libvirt's descriptor, what the callback is given */
        int events;      /* handles: VIR_EVENT_HANDLE_* */
        int frequency;   /* timeouts: ms, -1 off */
        sd_event_source *source;
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
        Watch *next;
};

static struct {
        bool registered; /* with libvirt: once per process */
        sd_event *event; /* NULL: detached, adds fail */
        sd_event_source *reaper;
        Watch *watches; /* live */
        Watch *removed; /* their free callback is still to be called */
        int last_handle_id, last_timeout_id;
} bridge;

static uint32_t events_to_epoll(int events) {
        return (events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) |
               (events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0) |
               (events & VIR_EVENT_HANDLE_ERROR ? EPOLLERR : 0) |
               (events & VIR_EVENT_HANDLE_HANGUP ? EPOLLHUP : 0);
}

static int epoll_to_events(uint32_t revents) {
        return (revents & (EPOLLIN | EPOLLPRI) ? VIR_EVENT_HANDLE_READABLE : 0) |
               (revents & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
               (revents & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
               (revents & (EPOLLHUP | EPOLLRDHUP) ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static Watch *watch_find(int id, bool timeout) {
        for (Watch *w = bridge.watches; w; w = w->next)
                if (w->id == id && w->timeout == timeout)
                        return w;
        return NULL;
}

static void watch_link(Watch *w) {
        w->next = bridge.watches;
        bridge.watches = w;
}

static Watch *watch_unlink(int id, bool timeout) {
        for (Watch **p = &bridge.watches; *p; p = &(*p)->next)
                if ((*p)->id == id && (*p)->timeout == timeout) {
                        Watch *w = *p;

                        *p = w->next;
                        w->next = NULL;
                        return w;
                }
        return NULL;
}

/* Calls the free callbacks of the removed watches. Those may add or remove watches: the list is
 * taken first, and what they remove waits for the next round. */
static void reap_removed(void) {
        Watch *list = TAKE_PTR(bridge.removed);

        while (list) {
                Watch *w = list;

                list = w->next;
                if (w->ff)
                        w->ff(w->opaque);
                free(w);
        }
}

static int on_reap(sd_event_source *s, void *userdata) {
        reap_removed();
        return 0;
}

/* The source goes now (sd-event keeps it until a dispatch of it returns), the free callback
 * later, from the reaper. */
static void watch_retire(Watch *w) {
        w->source = sd_event_source_disable_unref(w->source);
        w->next = bridge.removed;
        bridge.removed = w;
        if (bridge.reaper)
                (void) sd_event_source_set_enabled(bridge.reaper, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Watch *w = ASSERT_PTR(userdata);

        /* w is not touched after the call: the callback may remove it (it is freed later). */
        w->handle_cb(w->id, w->fd, epoll_to_events(revents), w->opaque);
        return 0;
}

/* frequency ms from now. Not sd_event_now(): that is when the loop last woke up, and libvirt
 * adds timeouts after calls that may have blocked for seconds. */
static uint64_t expiry(int frequency) {
        return now_monotonic_usec() + (uint64_t) MAX(frequency, 0) * USEC_PER_MSEC;
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        Watch *w = ASSERT_PTR(userdata);
        int r;

        /* The next period starts now; the callback may change it. Frequency 0 keeps the time in
         * the past, so the source fires again on the next iteration. */
        if (w->frequency > 0) {
                r = sd_event_source_set_time(s, expiry(w->frequency));
                if (r < 0)
                        log_debug_errno(r, "libvirt timeout %d: cannot set the next expiry: %m", w->id);
        }
        w->timeout_cb(w->id, w->opaque);
        return 0;
}

/* (Re)creates the I/O source of a handle watch on its descriptor or, with dup, on a copy of it:
 * epoll takes each descriptor once, libvirt may watch one twice for disjoint events. */
static int watch_io_attach(Watch *w, bool dup) {
        _cleanup_close_ int copy = -EBADF;
        sd_event_source *s = NULL;
        int fd = w->fd, r;

        if (dup) {
                copy = fcntl(w->fd, F_DUPFD_CLOEXEC, 3);
                if (copy < 0)
                        return -errno;
                fd = copy;
        }
        r = sd_event_add_io(bridge.event, &s, fd, events_to_epoll(w->events), on_io, w);
        if (r < 0)
                return r;
        if (dup) {
                r = sd_event_source_set_io_fd_own(s, true);
                if (r < 0) {
                        sd_event_source_disable_unref(s);
                        return r;
                }
                TAKE_FD(copy);
        }
        (void) sd_event_source_set_description(s, "libvirt-handle");

        sd_event_source_disable_unref(w->source);
        w->source = s;
        w->duplicated = dup;
        return 0;
}

static int watch_io_apply(Watch *w) {
        int r;

        if (w->events == 0)
                return sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        r = sd_event_source_set_io_events(w->source, events_to_epoll(w->events));
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(w->source, SD_EVENT_ON);
        if (r == -EEXIST && !w->duplicated)
                /* Another watch took the descriptor while this one was off. */
                return watch_io_attach(w, true);
        return r;
}

static int watch_timer_apply(Watch *w) {
        int r;

        if (w->frequency < 0)
                return sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        r = sd_event_source_set_time(w->source, expiry(w->frequency));
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(w->source, SD_EVENT_ON);
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        _cleanup_free_ Watch *w = NULL;
        int r;

        if (!bridge.event || fd < 0 || !cb)
                return -1;

        w = calloc(1, sizeof(Watch));
        if (!w)
                return -1;
        *w = (Watch) { .fd = fd, .events = events, .handle_cb = cb, .opaque = opaque, .ff = ff };

        r = watch_io_attach(w, false);
        if (r == -EEXIST)
                r = watch_io_attach(w, true);
        if (r >= 0 && events == 0)
                r = sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        if (r < 0) {
                log_debug_errno(r, "Cannot watch descriptor %d for libvirt: %m", fd);
                sd_event_source_disable_unref(w->source);
                return -1;
        }

        w->id = ++bridge.last_handle_id;
        watch_link(w);
        return TAKE_PTR(w)->id;
}

static void update_handle(int id, int events) {
        Watch *w = watch_find(id, false);
        int r;

        if (!w)
                return;
        w->events = events;
        r = watch_io_apply(w);
        if (r < 0)
                log_debug_errno(r, "Cannot update libvirt's watch %d of descriptor %d: %m", id, w->fd);
}

static int remove_handle(int id) {
        Watch *w = watch_unlink(id, false);

        if (!w)
                return -1;
        watch_retire(w);
        return 0;
}

static int add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        _cleanup_free_ Watch *w = NULL;
        int r;

        if (!bridge.event || !cb)
                return -1;

        w = calloc(1, sizeof(Watch));
        if (!w)
                return -1;
        *w = (Watch) { .timeout = true, .fd = -EBADF, .frequency = frequency < 0 ? -1 : frequency,
                       .timeout_cb = cb, .opaque = opaque, .ff = ff };

        r = sd_event_add_time(bridge.event, &w->source, CLOCK_MONOTONIC, expiry(w->frequency), USEC_PER_MSEC,
                              on_time, w);
        if (r >= 0) {
                (void) sd_event_source_set_description(w->source, "libvirt-timeout");
                r = sd_event_source_set_enabled(w->source, w->frequency < 0 ? SD_EVENT_OFF : SD_EVENT_ON);
        }
        if (r < 0) {
                log_debug_errno(r, "Cannot add a timeout for libvirt: %m");
                sd_event_source_disable_unref(w->source);
                return -1;
        }

        w->id = ++bridge.last_timeout_id;
        watch_link(w);
        return TAKE_PTR(w)->id;
}

static void update_timeout(int id, int frequency) {
        Watch *w = watch_find(id, true);
        int r;

        if (!w)
                return;
        w->frequency = frequency < 0 ? -1 : frequency;
        r = watch_timer_apply(w);
        if (r < 0)
                log_debug_errno(r, "Cannot update libvirt's timeout %d: %m", id);
}

static int remove_timeout(int id) {
        Watch *w = watch_unlink(id, true);

        if (!w)
                return -1;
        watch_retire(w);
        return 0;
}

int virt_event_register(sd_event *event) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *reaper = NULL;
        int r;

        if (!event)
                return -EINVAL;
        if (bridge.event)
                return bridge.event == event ? 0 : -EBUSY;

        r = sd_event_add_defer(event, &reaper, on_reap, NULL);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(reaper, bridge.removed ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(reaper, "libvirt-free-callbacks");

        if (!bridge.registered) {
                if (virInitialize() < 0)
                        return -EIO;
                virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
                                     remove_timeout);
                bridge.registered = true;
        }

        bridge.reaper = TAKE_PTR(reaper);
        bridge.event = sd_event_ref(event);
        return 0;
}

void virt_event_unregister(void) {
        Watch *w;

        while ((w = bridge.watches)) {
                bridge.watches = w->next;
                watch_retire(w);
        }
        bridge.reaper = sd_event_source_disable_unref(bridge.reaper);
        bridge.event = sd_event_unref(bridge.event);
        /* Now, not from the loop we leave; what the callbacks add fails. */
        reap_removed();
}

void virt_event_get_counts(size_t *ret_handles, size_t *ret_timeouts) {
        size_t handles = 0, timeouts = 0;

        for (Watch *w = bridge.watches; w; w = w->next)
                if (w->timeout)
                        timeouts++;
                else
                        handles++;
        if (ret_handles)
                *ret_handles = handles;
        if (ret_timeouts)
                *ret_timeouts = timeouts;
}
