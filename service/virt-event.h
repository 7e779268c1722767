/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's event loop on sd-event: the six callbacks of virEventRegisterImpl() (add, update,
 * remove a file handle watch or a timeout) made of sd-event I/O and timer sources, so that
 * libvirt's sockets, keepalive timers and event dispatch run in the daemon's one thread.
 * Touches no files (it watches the descriptors libvirt hands it).
 */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* Makes event libvirt's event loop (a reference is taken). Must come before the first
 * virConnectOpen() of the process. libvirt accepts one implementation per process and never
 * forgets it: the first call registers the callbacks with libvirt, later calls only point them
 * at an event loop again after virt_event_unregister(). -EBUSY when already attached to
 * another event loop, 0 when attached (again) to this one.
 *
 * How libvirt's requests map onto sd-event:
 *   handles   an I/O source per watch; VIR_EVENT_HANDLE_READABLE/WRITABLE/ERROR/HANGUP are
 *             EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP and back (EPOLLPRI reads as READABLE,
 *             EPOLLRDHUP as HANGUP); events 0 turns the source off. libvirt may watch one
 *             descriptor twice for disjoint events, which epoll refuses: the second watch
 *             then gets its own duplicate of the descriptor (the callback still sees libvirt's).
 *   timeouts  a CLOCK_MONOTONIC timer per timeout, 1 ms accuracy: frequency -1 is off, 0 fires
 *             on every iteration of the loop, N fires every N ms counted from the add/update
 *             and then from each dispatch.
 *   removal   the source goes at once, so the callback is never called after the remove; the
 *             free callback libvirt gave for the opaque data runs later, from a defer source
 *             of the loop, never from inside the remove (libvirt may hold locks there).
 * Callbacks run at SD_EVENT_PRIORITY_NORMAL. */
int virt_event_register(sd_event *event);

/* Detaches from the event loop (at exit, or between tests): every watch and timeout libvirt
 * still has is dropped and its free callback called, the loop's reference released. Adds fail
 * (-1 to libvirt) until virt_event_register() is called again. Close libvirt connections
 * first: they keep watches. */
void virt_event_unregister(void);

/* How many handle watches and timeouts libvirt has now (removed ones not counted, even when
 * their free callback is still to run); for tests and debug logs. Either may be NULL. */
void virt_event_get_counts(size_t *ret_handles, size_t *ret_timeouts);
