/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The domain start in a helper process (see virt-start.h). The helper is a fork of the
 * daemon (worker.c: its inherited descriptors closed, the daemon's libvirt connection among
 * them, which it never touches); it opens a connection of its own, and writes libvirt's
 * message into a page shared with the daemon before it exits with the errno. The daemon is
 * single-threaded, so the fork copies no lock held by another thread. Touches no files.
 */
#include <stdio.h>
#include <sys/mman.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "virt-start.h"
#include "virt.h"
#include "worker.h"

#define MESSAGE_MAX 4096

struct VirtDomainStart {
        Worker *worker;
        char *uri;
        char *name;
        char *message; /* MESSAGE_MAX bytes, MAP_SHARED: written by the helper */
        uint64_t timeout_usec;
        VirtDomainStartHandler handler;
        void *userdata;
};

/* In the helper. Its libvirt calls block (libvirt's own client loop); the event loop
 * functions the daemon registered are not used: sd-event refuses them in a child. */
static int start_in_helper(void *arg) {
        VirtDomainStart *s = arg;
        _cleanup_free_ char *msg = NULL;
        virConnectPtr conn;
        virDomainPtr dom;
        int r;

        conn = virConnectOpen(s->uri);
        if (!conn)
                goto fail;
        if (!s->name)
                return 0; /* a probe: libvirt answered (the process exits: nothing to close) */
        dom = virDomainLookupByName(conn, s->name);
        if (!dom)
                goto fail;
        if (virDomainCreate(dom) < 0)
                goto fail;
        return 0; /* the process exits: nothing to free */
fail:
        r = virt_last_error(&msg);
        snprintf(s->message, MESSAGE_MAX, "%s", msg ?: "unknown libvirt error");
        return r;
}

static void on_done(Worker *w, int result, void *userdata) {
        VirtDomainStart *s = userdata;
        _cleanup_free_ char *timeout = NULL;
        const char *message = NULL;

        if (result == -ETIME && s->name) {
                /* libvirt may still start it: undoing now would pull the devices from under the
                 * guest. Its answer is waited for (on_finally), however late. */
                log_warning("libvirt has not finished starting domain %s after %" PRIu64 " s; still waiting for it.",
                            s->name, s->timeout_usec / USEC_PER_SEC);
                return;
        }
        s->worker = worker_free(s->worker); /* a probe after -ETIME: reaped when it ends, unseen */
        if (result == -ETIME) {
                bool ms = s->timeout_usec < USEC_PER_SEC;

                if (asprintf(&timeout, "libvirt did not answer within %" PRIu64 " %s",
                             ms ? s->timeout_usec / 1000 : s->timeout_usec / USEC_PER_SEC, ms ? "ms" : "s") < 0)
                        timeout = NULL;
                message = timeout;
        } else if (result < 0)
                message = s->message[0] ? s->message : NULL;
        s->handler(s, result, message, s->userdata);
}

/* A domain start's helper ended after its deadline: what libvirt did is the outcome. */
static void on_finally(Worker *w, int result, void *userdata) {
        on_done(w, result == -ETIME ? -EIO : result, userdata);
}

int virt_domain_start_async(sd_event *event, const char *uri, const char *name, uint64_t timeout_usec,
                            VirtDomainStartHandler handler, void *userdata, VirtDomainStart **ret) {
        _cleanup_(virt_domain_start_freep) VirtDomainStart *s = NULL;
        int r;

        if (!event || !uri || !handler || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(VirtDomainStart));
        if (!s)
                return -ENOMEM;
        s->uri = strdup(uri);
        s->name = name ? strdup(name) : NULL;
        if (!s->uri || (name && !s->name))
                return -ENOMEM;
        s->message = mmap(NULL, MESSAGE_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s->message == MAP_FAILED) {
                s->message = NULL;
                return -errno;
        }
        s->timeout_usec = timeout_usec;
        s->handler = handler;
        s->userdata = userdata;
        r = worker_start(event, timeout_usec, start_in_helper, s, on_done, on_finally, s, &s->worker);
        if (r < 0)
                return r;
        if (name)
                log_debug("Starting domain %s from helper process " PID_FMT ".", name, worker_pid(s->worker));
        *ret = TAKE_PTR(s);
        return 0;
}

VirtDomainStart *virt_domain_start_free(VirtDomainStart *s) {
        if (!s)
                return NULL;
        worker_free(s->worker);
        /* A helper still running has its own mapping of the page. */
        if (s->message)
                (void) munmap(s->message, MESSAGE_MAX);
        free(s->uri);
        free(s->name);
        free(s);
        return NULL;
}
