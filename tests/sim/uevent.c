/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uevent.c: the udev-format netlink sender and the --uevent-log writer (see
 * uevent.h). The on-wire header matches what systemd-udevd sends and what
 * sd-device's monitor checks: "libudev" prefix, big-endian magic 0xfeedcafe,
 * native-endian sizes/offsets, big-endian MurmurHash2 of the subsystem (the
 * monitor's BPF filter compares it) and zero devtype/tag-bloom fields.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sim-util.h"
#include "uevent.h"

#define UDEV_MONITOR_MAGIC 0xfeedcafeU
#define UDEV_MONITOR_GROUP 2U

/* 40 bytes; layout as on the wire. */
struct udev_header {
        char prefix[8];
        uint32_t magic;                 /* big endian */
        uint32_t header_size;           /* native */
        uint32_t properties_off;        /* native */
        uint32_t properties_len;        /* native */
        uint32_t filter_subsystem_hash; /* big endian */
        uint32_t filter_devtype_hash;   /* big endian */
        uint32_t filter_tag_bloom_hi;   /* big endian */
        uint32_t filter_tag_bloom_lo;   /* big endian */
};

_Static_assert(sizeof(struct udev_header) == 40, "udev monitor header must be 40 bytes");

struct Uevent {
        int fd;
        int log_fd;
};

uint32_t uevent_murmur2(const void *key, size_t len, uint32_t seed) {
        const uint32_t m = 0x5bd1e995;
        const unsigned char *data = key;
        uint32_t h = seed ^ (uint32_t) len;

        while (len >= 4) {
                uint32_t k;

                memcpy(&k, data, 4); /* native order, like the receiving side computes it */
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
                data += 4;
                len -= 4;
        }

        switch (len) {
        case 3:
                h ^= (uint32_t) data[2] << 16;
                _fallthrough_;
        case 2:
                h ^= (uint32_t) data[1] << 8;
                _fallthrough_;
        case 1:
                h ^= data[0];
                h *= m;
                break;
        default:
                break;
        }

        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

int uevent_new(Uevent **ret, const char *log_path) {
        _cleanup_close_ int fd = -1, log_fd = -1;
        struct sockaddr_nl sa = {
                .nl_family = AF_NETLINK,
        };
        Uevent *u;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;

        if (log_path) {
                log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (log_fd < 0)
                        return -errno;
        }

        u = calloc(1, sizeof(Uevent));
        if (!u)
                return -ENOMEM;
        u->fd = TAKE_FD(fd);
        u->log_fd = TAKE_FD(log_fd);
        *ret = u;
        return 0;
}

Uevent *uevent_free(Uevent *u) {
        if (!u)
                return NULL;
        closep(&u->fd);
        closep(&u->log_fd);
        free(u);
        return NULL;
}

static int append(char **buf, size_t *len, size_t *allocated, const char *s) {
        size_t l = strlen(s) + 1;

        if (*len + l > *allocated) {
                size_t a = (*len + l) * 2;
                char *n = realloc(*buf, a);

                if (!n)
                        return -ENOMEM;
                *buf = n;
                *allocated = a;
        }
        memcpy(*buf + *len, s, l);
        *len += l;
        return 0;
}

int uevent_send(Uevent *u, uint64_t seqnum, const char *action, const char *devpath,
                const char *subsystem, const char *driver, char *const *props) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;
        char tmp[4096];
        int r = 0;

        if (!u)
                return 0;

#define ADD(...)                                                                \
        do {                                                                    \
                snprintf(tmp, sizeof(tmp), __VA_ARGS__);                        \
                r = append(&buf, &len, &allocated, tmp);                        \
                if (r < 0)                                                      \
                        return r;                                               \
        } while (0)

        ADD("ACTION=%s", action);
        ADD("DEVPATH=%s", devpath);
        ADD("SUBSYSTEM=%s", subsystem);
        ADD("SEQNUM=%llu", (unsigned long long) seqnum);
        if (driver)
                ADD("DRIVER=%s", driver);
        for (char *const *p = props; p && *p; p++)
                ADD("%s", *p);
#undef ADD

        if (u->fd >= 0) {
                const char *devtype = NULL;

                /* a monitor filtering on subsystem and devtype compares both hashes */
                for (char *const *p = props; p && *p && !devtype; p++)
                        devtype = startswith(*p, "DEVTYPE=");

                struct udev_header h = {
                        .prefix = "libudev",
                        .magic = htobe32(UDEV_MONITOR_MAGIC),
                        .header_size = sizeof(h),
                        .properties_off = sizeof(h),
                        .properties_len = (uint32_t) len,
                        .filter_subsystem_hash = htobe32(uevent_murmur2(subsystem, strlen(subsystem), 0)),
                        .filter_devtype_hash = devtype ? htobe32(uevent_murmur2(devtype, strlen(devtype), 0)) : 0,
                };
                struct sockaddr_nl dest = {
                        .nl_family = AF_NETLINK,
                        .nl_pid = 0,
                        .nl_groups = UDEV_MONITOR_GROUP,
                };
                struct iovec iov[2] = {
                        { .iov_base = &h, .iov_len = sizeof(h) },
                        { .iov_base = buf, .iov_len = len },
                };
                struct msghdr msg = {
                        .msg_name = &dest,
                        .msg_namelen = sizeof(dest),
                        .msg_iov = iov,
                        .msg_iovlen = 2,
                };

                /* Nobody listening gives ECONNREFUSED, which is fine, as for udevd. */
                if (sendmsg(u->fd, &msg, MSG_DONTWAIT) < 0 && errno != ECONNREFUSED)
                        r = -errno;
        }

        if (u->log_fd >= 0) {
                int n = snprintf(tmp, sizeof(tmp), "%llu %s %s %s\n", (unsigned long long) seqnum, action, devpath,
                                 driver ?: "-");
                if (n > 0 && write(u->log_fd, tmp, (size_t) n) < 0 && r >= 0)
                        r = -errno;
        }

        return r;
}
