/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Holders of device nodes and the host's interlocks (see holders.h). Reads /proc/PID/fd
 * and /proc/PID/comm, /proc/1/mountinfo (init's: the service runs in a mount namespace of its
 * own), /proc/net/route and /proc/net/ipv6_route,
 * /sys/dev/block/MAJ:MIN (and its slaves) and /sys/class/net/IF/device; a GPU's DRM nodes come
 * from release.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "holders.h"
#include "release.h"
#include "sysfs.h"
#include "util.h"

void holders_free(Holder *h, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(h[i].command);
                free(h[i].path);
        }
        free(h);
}

/* A node we look for, by identity: a process in another mount namespace may hold a file of
 * the same name that is another file (or the same device under another name). */
typedef struct Node {
        const char *path;
        struct stat st;
} Node;

static bool same_file(const struct stat *a, const struct stat *b) {
        if (S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode))
                return (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT) && a->st_rdev == b->st_rdev;
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static const Node *node_match(const Node *nodes, size_t n, const struct stat *st) {
        for (size_t i = 0; i < n; i++)
                if (same_file(&nodes[i].st, st))
                        return &nodes[i];
        return NULL;
}

static int scan_process(int proc_fd, const char *pid_name, const Node *nodes, size_t n_nodes, Holder **l,
                        size_t *n) {
        _cleanup_close_ int fd_dir = -EBADF, pid_fd = -EBADF;
        _cleanup_free_ char *comm = NULL;
        struct dirent *de;
        unsigned pid;
        DIR *d;

        if (safe_atou(pid_name, &pid) < 0)
                return 0;
        pid_fd = openat(proc_fd, pid_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_fd < 0)
                return 0; /* gone meanwhile */
        fd_dir = openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_dir < 0)
                return 0; /* gone, or a kernel thread */
        d = fdopendir(fd_dir);
        if (!d)
                return 0; /* gone meanwhile: processes come and go while we look */
        TAKE_FD(fd_dir);
        while ((de = readdir(d))) {
                const Node *node;
                struct stat st;
                Holder *nl;
                bool seen = false;

                if (de->d_name[0] == '.')
                        continue;
                /* stat() follows the magic link to the open file itself. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
                        continue;
                node = node_match(nodes, n_nodes, &st);
                if (!node)
                        continue;
                /* One entry per process and node, however many descriptors. */
                for (size_t i = 0; i < *n; i++)
                        if ((*l)[i].pid == (pid_t) pid && streq((*l)[i].path, node->path))
                                seen = true;
                if (seen)
                        continue;
                if (!comm && read_line_at(pid_fd, "comm", &comm) < 0)
                        comm = NULL;
                nl = reallocarray(*l, *n + 1, sizeof(Holder));
                if (!nl) {
                        closedir(d);
                        return -ENOMEM;
                }
                *l = nl;
                (*l)[*n] = (Holder) { .pid = pid, .command = strdup(comm ?: "?"), .path = strdup(node->path) };
                (*n)++;
                if (!(*l)[*n - 1].command || !(*l)[*n - 1].path) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        return 0;
}

int holders_find(char *const *paths, Holder **ret, size_t *ret_n) {
        _cleanup_close_ int proc_fd = -EBADF, root = -EBADF;
        _cleanup_free_ Node *nodes = NULL;
        size_t n_nodes = 0;
        Holder *l = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!paths || !paths[0])
                return 0;
        nodes = calloc(strv_length((char **) paths), sizeof(Node));
        if (!nodes)
                return -ENOMEM;
        for (char *const *p = paths; *p; p++) {
                if (sysfs_stat_path(*p, &nodes[n_nodes].st) < 0)
                        continue; /* no such node: nobody holds it */
                nodes[n_nodes++].path = *p;
        }
        if (n_nodes == 0)
                return 0;
        proc_fd = sysfs_open_dir(PROC);
        if (proc_fd < 0)
                return proc_fd;
        d = fdopendir(TAKE_FD(proc_fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                r = scan_process(dirfd(d), de->d_name, nodes, n_nodes, &l, &n);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0) {
                holders_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

char *holder_describe(const Holder *h) {
        char *t;
        return asprintf(&t, "%s (pid " PID_FMT ") holds %s", strempty(h->command), h->pid, strempty(h->path)) < 0 ? NULL
                                                                                                          : t;
}

char *holders_describe(const Holder *h, size_t n) {
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (n == 0)
                return NULL;
        f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *one = holder_describe(&h[i]);
                fprintf(f, "%s%s", i > 0 ? ", " : "", strempty(one));
        }
        if (fclose(f) != 0)
                return mfree(text);
        return text;
}

int vfio_group_holders(const unsigned *groups, size_t n_groups, Holder **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **paths = NULL;
        int r;

        for (size_t i = 0; i < n_groups; i++) {
                char path[32];

                snprintf(path, sizeof(path), "/dev/vfio/%u", groups[i]);
                r = strv_extend_unique(&paths, path);
                if (r < 0)
                        return r;
        }
        return holders_find(paths, ret, ret_n);
}

static int check_graphical_session(PciDevice *const *devices, size_t n, char **ret) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_strv_free_ char **nodes = NULL;
                _cleanup_free_ char *who = NULL;
                Holder *h = NULL;
                size_t nh = 0;
                int r;

                if (!devices[i]->boot_vga || pci_device_on_vfio(devices[i]))
                        continue;
                r = function_drm_nodes(&devices[i]->address, &nodes);
                if (r < 0)
                        return r;
                r = holders_find(nodes, &h, &nh);
                if (r < 0)
                        return r;
                who = holders_describe(h, nh);
                holders_free(h, nh);
                if (nh == 0)
                        continue;
                if (!who)
                        return -ENOMEM;
                if (asprintf(ret,
                             "%s is the boot VGA and a graphical session uses it (%s). Giving it to vfio-pci "
                             "would leave the host without a display: end the session first (the GPU handoff "
                             "does that for you), or pass the option override (polkit action "
                             "org.passthru1.override).",
                             devices[i]->name, who) < 0)
                        return -ENOMEM;
                return 1;
        }
        return 0;
}

static bool devices_contain(PciDevice *const *devices, size_t n, const PciAddress *a, const PciDevice **ret) {
        for (size_t i = 0; i < n; i++)
                if (pci_address_equal(&devices[i]->address, a)) {
                        *ret = devices[i];
                        return true;
                }
        return false;
}

/* The first of `devices` named by a component of the sysfs path (e.g.
 * "../../devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1"). */
static const PciDevice *device_in_path(PciDevice *const *devices, size_t n, const char *path) {
        _cleanup_strv_free_ char **parts = strv_split(path, "/");
        for (char **p = parts; p && *p; p++) {
                const PciDevice *d;
                const char *reason;
                PciAddress a;
                char canonical[PCI_ADDRESS_STRING_MAX];

                if (pci_address_parse(*p, &a, &reason) < 0 || !streq(pci_address_format(&a, canonical), *p))
                        continue;
                if (devices_contain(devices, n, &a, &d))
                        return d;
        }
        return NULL;
}

/* The function behind block device NAME (a link in parent_fd: /sys/dev/block/MAJ:MIN, a
 * slaves/ entry), following the slaves of device-mapper and md devices down to the disks
 * (LVM on LUKS on a partition). */
static const PciDevice *block_controller_at(int parent_fd, const char *name, PciDevice *const *devices, size_t n,
                                            char **ret_name, unsigned depth) {
        _cleanup_close_ int bfd = -EBADF, slaves = -EBADF;
        char target[4096];
        const PciDevice *d;
        struct dirent *de;
        ssize_t k;
        DIR *dir;

        if (depth > 8)
                return NULL;
        k = readlinkat(parent_fd, name, target, sizeof(target) - 1);
        if (k < 0)
                return NULL;
        target[k] = '\0';
        d = device_in_path(devices, n, target);
        if (d) {
                const char *slash = strrchr(target, '/');
                *ret_name = strdup(slash ? slash + 1 : target);
                return d;
        }
        bfd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
                return NULL;
        slaves = openat(bfd, "slaves", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (slaves < 0)
                return NULL;
        dir = fdopendir(TAKE_FD(slaves));
        if (!dir)
                return NULL;
        d = NULL;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                d = block_controller_at(dirfd(dir), de->d_name, devices, n, ret_name, depth + 1);
                if (d)
                        break;
        }
        closedir(dir);
        return d;
}

static int check_mounted_file_systems(PciDevice *const *devices, size_t n, char **ret) {
        _cleanup_close_ int dev_block = -EBADF;
        _cleanup_free_ char *mountinfo = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        dev_block = sysfs_open_dir(SYSFS_DEV_BLOCK);
        if (dev_block == -ENOENT)
                return 0;
        if (dev_block < 0)
                return dev_block;
        r = sysfs_read_file(PROC_INIT_MOUNTINFO, &mountinfo);
        if (r < 0)
                return r;
        lines = strv_split(mountinfo, "\n");
        if (!lines)
                return -ENOMEM;
        for (char **l = lines; *l; l++) {
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS … - FSTYPE SOURCE SUPEROPTIONS" */
                _cleanup_strv_free_ char **w = strv_split(*l, " ");
                _cleanup_free_ char *name = NULL;
                const PciDevice *d;

                const char *majmin;
                char buf[32];

                if (!w || strv_length(w) < 5)
                        continue;
                majmin = w[2];
                if (startswith(majmin, "0:")) {
                        /* No block device of its own (btrfs subvolumes have anonymous numbers):
                         * the mount's source, when it is a device node, says which disk. */
                        const char *source = NULL;
                        struct stat st;

                        for (char **i = w + 5; *i; i++)
                                if (streq(*i, "-") && i[1] && i[2]) {
                                        source = i[2];
                                        break;
                                }
                        if (!source || !startswith(source, "/dev/") ||
                            sysfs_stat_path(source, &st) < 0 ||
                            !S_ISBLK(st.st_mode))
                                continue;
                        snprintf(buf, sizeof(buf), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
                        majmin = buf;
                }
                d = block_controller_at(dev_block, majmin, devices, n, &name, 0);
                if (!d)
                        continue;
                if (asprintf(ret,
                             "%s controls %s, which holds the mounted file system %s. Unmount it first, "
                             "or pass the option override (polkit action org.passthru1.override).",
                             d->name, strempty(name), w[4]) < 0)
                        return -ENOMEM;
                return 1;
        }
        return 0;
}

/* Interfaces with a default route, IPv4 and IPv6. */
static int default_route_interfaces(char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *v4 = NULL, *v6 = NULL;
        _cleanup_strv_free_ char **lines4 = NULL, **lines6 = NULL;

        if (sysfs_read_file(PROC_NET_ROUTE, &v4) >= 0) {
                lines4 = strv_split(v4, "\n");
                /* "Iface Destination Gateway Flags RefCnt Use Metric Mask …", after a header */
                for (char **i = lines4 && lines4[0] ? lines4 + 1 : NULL; i && *i; i++) {
                        _cleanup_strv_free_ char **w = strv_split(*i, " \t");
                        if (w && strv_length(w) >= 8 && streq(w[1], "00000000") && streq(w[7], "00000000")) {
                                char *c = strdup(w[0]);
                                if (!c || strv_push(&l, c) < 0)
                                        return -ENOMEM;
                        }
                }
        }
        if (sysfs_read_file(PROC_NET_IPV6_ROUTE, &v6) >= 0) {
                lines6 = strv_split(v6, "\n");
                /* "DEST PLEN SRC SPLEN NEXTHOP METRIC REFCNT USE FLAGS IFACE" */
                for (char **i = lines6; i && *i; i++) {
                        _cleanup_strv_free_ char **w = strv_split(*i, " \t");
                        if (w && strv_length(w) >= 10 && streq(w[0], "00000000000000000000000000000000") &&
                            streq(w[1], "00") && !streq(w[9], "lo")) {
                                char *c = strdup(w[9]);
                                if (!c || strv_push(&l, c) < 0)
                                        return -ENOMEM;
                        }
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int check_default_route(PciDevice *const *devices, size_t n, char **ret) {
        _cleanup_strv_free_ char **ifaces = NULL;
        _cleanup_close_ int net = -EBADF;
        int r;

        r = default_route_interfaces(&ifaces);
        if (r < 0)
                return r;
        if (!ifaces)
                return 0;
        net = sysfs_open_dir(SYSFS_CLASS_NET);
        if (net < 0)
                return net == -ENOENT ? 0 : net;
        for (char **i = ifaces; *i; i++) {
                _cleanup_free_ char *link = NULL, *address = NULL;
                _cleanup_close_ int ifd = -EBADF;
                const PciDevice *d;
                const char *reason;
                PciAddress a;

                if (!driver_name_is_valid(*i))
                        continue;
                ifd = openat(net, *i, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (ifd < 0)
                        continue;
                if (readlink_basename_at(ifd, "device", &address) < 0)
                        continue;
                if (pci_address_parse(address, &a, &reason) < 0 || !devices_contain(devices, n, &a, &d))
                        continue;
                if (asprintf(ret,
                             "%s is the network interface %s, which carries the default route. Move the "
                             "route to another interface first, or pass the option override (polkit action "
                             "org.passthru1.override).",
                             d->name, *i) < 0)
                        return -ENOMEM;
                return 1;
        }
        return 0;
}

int interlock_check(Machine *m, PciDevice *const *devices, size_t n, char **ret) {
        int r;

        *ret = NULL;
        r = check_graphical_session(devices, n, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        r = check_mounted_file_systems(devices, n, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        r = check_default_route(devices, n, ret);
        return r < 0 ? r : 0;
}
