/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uevent.h: sends device events the way systemd-udevd re-broadcasts them
 * (libudev monitor header + NUL separated properties on NETLINK_KOBJECT_UEVENT
 * multicast group 2), so sd_device_monitor/udev_monitor clients inside the
 * namespace receive them, and appends them to the --uevent-log file.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct Uevent Uevent;

/* Opens the netlink socket in the current network namespace; log_path may be NULL. */
int uevent_new(Uevent **ret, const char *log_path);
Uevent *uevent_free(Uevent *u);

/* props: NULL terminated "KEY=VALUE" strings after ACTION, DEVPATH, SUBSYSTEM, SEQNUM
 * (and DRIVER when driver is not NULL), in that order. */
int uevent_send(Uevent *u, uint64_t seqnum, const char *action, const char *devpath,
                const char *subsystem, const char *driver, char *const *props);

/* MurmurHash2, 32 bit, as used for the libudev header's filter fields. */
uint32_t uevent_murmur2(const void *key, size_t len, uint32_t seed);
