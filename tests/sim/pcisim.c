/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcisim.c: the simulator's entry point. Owns the command line, the mount and
 * network namespace, the mounts (FUSE /sys, bind-mounted /proc/cmdline and
 * /proc/interrupts, tmpfs /usr/lib/modules, a tmpfs /dev carrying the host's
 * entries over, tmpfs /dev/vfio, /dev/dri and /dev/snd, /run/udev/control
 * where the host has none), the "# block" paths resolved in the namespace,
 * the FUSE glue that forwards to machine.c, the pidfile, running the command
 * under the module syscall filter (modsyscall.c), forwarding signals to it and
 * the teardown.
 *
 *   pcisim [--pidfile FILE] [--uevent-log FILE] LISTING -- COMMAND [ARGS...]
 */

#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmodfake.h"
#include "listing.h"
#include "machine.h"
#include "modsyscall.h"
#include "sim-util.h"
#include "uevent.h"

#define MODULES_DIR "/usr/lib/modules"
#define DEV_DIR "/dev"
#define VFIO_DIR "/dev/vfio"
#define DRI_DIR "/dev/dri"
#define SND_DIR "/dev/snd"
#define UDEV_DIR "/run/udev"

static bool udev_dir_mounted;

static Machine *machine;

static _printf_(1, 2) int log_error(const char *fmt, ...) {
        va_list ap;

        fputs("pcisim: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* FUSE operations: thin wrappers around machine.c */

typedef struct OpenFile {
        char *data;
        size_t size;
        bool valid;
} OpenFile;

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
        return machine_getattr(machine, path, st);
}

static int op_readlink(const char *path, char *buf, size_t size) {
        return machine_readlink(machine, path, buf, size);
}

typedef struct FillContext {
        void *buf;
        fuse_fill_dir_t filler;
} FillContext;

static int fill_one(void *userdata, const char *name, const struct stat *st) {
        FillContext *c = userdata;

        return c->filler(c->buf, name, st, 0, 0);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
        FillContext c = {
                .buf = buf,
                .filler = filler,
        };

        return machine_readdir(machine, path, fill_one, &c);
}

static int op_open(const char *path, struct fuse_file_info *fi) {
        OpenFile *f;
        int r;

        r = machine_open(machine, path, fi->flags);
        if (r < 0)
                return r;

        f = calloc(1, sizeof(OpenFile));
        if (!f)
                return -ENOMEM;
        fi->fh = (uint64_t) (uintptr_t) f;
        fi->direct_io = 1;      /* no page cache: every read reaches us, like sysfs */
        fi->keep_cache = 0;
        return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
        OpenFile *f = (OpenFile *) (uintptr_t) fi->fh;
        size_t n;

        if (!f)
                return -EBADF;

        /* Like seq_file: reading from the start produces the contents anew. */
        if (off == 0 || !f->valid) {
                char *data = NULL;
                size_t dsize = 0;
                int r = machine_read(machine, path, &data, &dsize);

                if (r < 0)
                        return r;
                free(f->data);
                f->data = data;
                f->size = dsize;
                f->valid = true;
        }

        if ((size_t) off >= f->size)
                return 0;
        n = f->size - (size_t) off;
        if (n > size)
                n = size;
        memcpy(buf, f->data + off, n);
        return (int) n;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
        ssize_t r = machine_write(machine, path, buf, size);

        return r < 0 ? (int) r : (int) size;
}

static int op_release(const char *path, struct fuse_file_info *fi) {
        OpenFile *f = (OpenFile *) (uintptr_t) fi->fh;

        if (f) {
                free(f->data);
                free(f);
        }
        return 0;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
        return machine_truncate(machine, path);
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
        struct stat st;

        return machine_getattr(machine, path, &st);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
        return -EPERM;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
        return -EPERM;
}

/* sysfs refuses to create or remove anything from user space */
static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
        return -EACCES;
}

static int op_mknod(const char *path, mode_t mode, dev_t rdev) {
        return -EACCES;
}

static int op_mkdir(const char *path, mode_t mode) {
        return -EPERM;
}

static int op_unlink(const char *path) {
        return -EPERM;
}

static int op_symlink(const char *target, const char *path) {
        return -EPERM;
}

static int op_rename(const char *from, const char *to, unsigned flags) {
        return -EPERM;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
        /* Changes must be visible at once: no caching in the kernel. */
        cfg->entry_timeout = 0;
        cfg->attr_timeout = 0;
        cfg->negative_timeout = 0;
        cfg->use_ino = 1;
        cfg->direct_io = 1;
        cfg->kernel_cache = 0;
        cfg->hard_remove = 1;
        return NULL;
}

static const struct fuse_operations operations = {
        .getattr = op_getattr,
        .readlink = op_readlink,
        .readdir = op_readdir,
        .open = op_open,
        .read = op_read,
        .write = op_write,
        .release = op_release,
        .truncate = op_truncate,
        .utimens = op_utimens,
        .chmod = op_chmod,
        .chown = op_chown,
        .create = op_create,
        .mknod = op_mknod,
        .mkdir = op_mkdir,
        .unlink = op_unlink,
        .rmdir = op_unlink,
        .symlink = op_symlink,
        .rename = op_rename,
        .init = op_init,
};

static void *fuse_thread(void *userdata) {
        struct fuse *f = userdata;
        struct fuse_loop_config *config = fuse_loop_cfg_create();

        if (config) {
                /* Enough threads that writes hanging on a fault do not starve the rest. */
                fuse_loop_cfg_set_max_threads(config, 64);
                fuse_loop_cfg_set_idle_threads(config, 8);
        }
        (void) fuse_loop_mt(f, config);
        if (config)
                fuse_loop_cfg_destroy(config);
        return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* setup helpers */

static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
        size_t l = strlen(text);

        if (fd < 0)
                return -errno;
        while (l > 0) {
                ssize_t n = write(fd, text, l);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                text += n;
                l -= (size_t) n;
        }
        return 0;
}

static int write_pidfile(const char *path) {
        _cleanup_free_ char *tmp = strdup_printf("%s.XXXXXX", path);
        _cleanup_close_ int fd = -1;
        char buf[32];
        int n;

        if (!tmp)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (write(fd, buf, (size_t) n) != n || fchmod(fd, 0644) < 0) {
                int r = negative_errno();
                unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                int r = -errno;
                unlink(tmp);
                return r;
        }
        return 0;
}

static void loopback_up(void) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {};

        if (fd < 0)
                return;
        strncpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name) - 1);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return;
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        (void) ioctl(fd, SIOCSIFFLAGS, &ifr);
}

static int setup_modules(Machine *m) {
        _cleanup_free_ char *error = NULL;
        struct utsname u;
        FakeModule *modules;
        size_t n;
        int r;

        if (mkdir(MODULES_DIR, 0755) < 0 && errno != EEXIST)
                return log_error("Failed to create %s: %s", MODULES_DIR, strerror(errno));
        if (mount("tmpfs", MODULES_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return log_error("Failed to mount tmpfs on %s: %s", MODULES_DIR, strerror(errno));

        if (uname(&u) < 0)
                return log_error("Failed to get kernel release: %s", strerror(errno));

        r = machine_fake_modules(m, &modules, &n);
        if (r < 0)
                return log_error("Failed to collect modules: %s", strerror(-r));

        /* /lib → usr/lib, so "depmod -b /" finds the tree in the namespace's tmpfs */
        r = kmodfake_generate(MODULES_DIR, "/", u.release, modules, n, &error);
        if (r < 0)
                return log_error("Failed to generate %s/%s: %s", MODULES_DIR, u.release, error ?: strerror(-r));
        return 0;
}

/* A tmpfs on DIR (created in the namespace's own /dev tmpfs), returned as an fd for the machine
 * to create and remove files in. */
static int mount_dev_dir(const char *dir) {
        int fd;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error("Failed to create %s: %s", dir, strerror(errno));
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
                return log_error("Failed to mount tmpfs on %s: %s", dir, strerror(errno));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error("Failed to open %s: %s", dir, strerror(errno));
        return fd;
}

/* Whether /dev/NAME is the simulation's: the host's entry of that name is not carried over. */
static bool dev_name_simulated(const Listing *l, const char *name) {
        if (streq(name, "vfio") || streq(name, "dri") || streq(name, "snd"))
                return true;
        for (size_t i = 0; i < l->n_module_nodes; i++)
                for (size_t k = 0; k < l->module_nodes[i].n_items; k++)
                        if (streq(l->module_nodes[i].items[k], name))
                                return true;
        for (size_t i = 0; i < l->n_nodes; i++)
                if (l->nodes[i].kind == LISTING_NODE_GRAPHICS && streq(l->nodes[i].name, name))
                        return true;
        return false;
}

/* Carries the host's /dev/NAME (seen below OLD) over into the new /dev: directories (with the
 * file systems mounted in them: pts, shm, mqueue) bind-mounted recursively, symlinks copied,
 * device nodes made anew with the same number, mode and owner (bind-mounted where mknod is not
 * allowed), anything else bind-mounted. */
static int dev_carry_over(const char *old, const char *name) {
        _cleanup_free_ char *src = strdup_printf("%s/%s", old, name), *dst = strdup_printf("%s/%s", DEV_DIR, name);
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (!src || !dst)
                return -ENOMEM;
        if (lstat(src, &st) < 0)
                return errno == ENOENT ? 0 : -errno; /* gone meanwhile */

        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t l = readlink(src, target, sizeof(target) - 1);

                if (l < 0)
                        return -errno;
                target[l] = 0;
                if (symlink(target, dst) < 0)
                        return -errno;
                (void) lchown(dst, st.st_uid, st.st_gid);
                return 0;
        }

        if (S_ISDIR(st.st_mode)) {
                if (mkdir(dst, st.st_mode & 07777) < 0)
                        return -errno;
                if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return -errno;
                return 0;
        }

        if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && mknod(dst, st.st_mode, st.st_rdev) >= 0) {
                (void) chown(dst, st.st_uid, st.st_gid);
                (void) chmod(dst, st.st_mode & 07777);
                return 0;
        }

        /* anything else, and device nodes where mknod is not allowed: bind-mounted on an empty file */
        fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
                return -errno;
        return 0;
}

/* The namespace's /dev: a tmpfs with the host's entries carried over (see dev_carry_over()) but
 * for those the simulation makes: the directories vfio, dri and snd (a tmpfs each) and the names
 * of "# module_nodes" and "# graphics". So the simulated /dev/nvidia0 or /dev/fb0 can come and go
 * without touching the host's /dev, and /dev/null, /dev/fuse, /dev/pts… work as before. */
static int setup_dev(Machine *m, const Listing *l) {
        char staging[] = "/tmp/pcisim-dev.XXXXXX";
        _cleanup_close_ int dev_fd = -1, vfio_fd = -1, dri_fd = -1, snd_fd = -1;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!mkdtemp(staging))
                return log_error("Failed to create staging directory: %s", strerror(errno));
        if (mount(DEV_DIR, staging, NULL, MS_BIND | MS_REC, NULL) < 0) {
                r = log_error("Failed to bind mount %s on %s: %s", DEV_DIR, staging, strerror(errno));
                (void) rmdir(staging);
                return r;
        }
        if (mount("tmpfs", DEV_DIR, "tmpfs", MS_NOSUID, "mode=0755") < 0) {
                r = log_error("Failed to mount tmpfs on %s: %s", DEV_DIR, strerror(errno));
                goto finish;
        }

        d = opendir(staging);
        if (!d) {
                r = log_error("Failed to open %s: %s", staging, strerror(errno));
                goto finish;
        }
        while ((de = readdir(d))) {
                int k;

                if (streq(de->d_name, ".") || streq(de->d_name, "..") || dev_name_simulated(l, de->d_name))
                        continue;
                k = dev_carry_over(staging, de->d_name);
                if (k < 0) {
                        r = log_error("Failed to carry %s/%s over into the namespace's %s: %s", DEV_DIR, de->d_name,
                                      DEV_DIR, strerror(-k));
                        break;
                }
        }
        closedir(d);

finish:
        (void) umount2(staging, MNT_DETACH);
        (void) rmdir(staging);
        if (r < 0)
                return r;

        dev_fd = open(DEV_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dev_fd < 0)
                return log_error("Failed to open %s: %s", DEV_DIR, strerror(errno));
        vfio_fd = mount_dev_dir(VFIO_DIR);
        if (vfio_fd < 0)
                return -1;
        dri_fd = mount_dev_dir(DRI_DIR);
        if (dri_fd < 0)
                return -1;
        snd_fd = mount_dev_dir(SND_DIR);
        if (snd_fd < 0)
                return -1;
        machine_set_devfs(m, TAKE_FD(dev_fd), TAKE_FD(vfio_fd), TAKE_FD(dri_fd), TAKE_FD(snd_fd));
        return 0;
}

/* sd-device (and libudev) monitors listen to udev's netlink group only where udevd runs
 * (/run/udev/control exists) or /dev is a devtmpfs; else they take the kernel's group, which a
 * user space sender cannot reach. The namespace's /dev is a tmpfs, so without a udevd on the host
 * a tmpfs on /run/udev holds an empty "control": the namespace looks like the udev-managed
 * system whose re-broadcasts pcisim sends (see uevent.c). */
static int setup_udev_control(void) {
        _cleanup_close_ int fd = -1;

        if (access(UDEV_DIR "/control", F_OK) >= 0)
                return 0;
        if (mkdir(UDEV_DIR, 0755) < 0 && errno != EEXIST)
                return log_error("Failed to create %s: %s", UDEV_DIR, strerror(errno));
        if (mount("tmpfs", UDEV_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0)
                return log_error("Failed to mount tmpfs on %s: %s", UDEV_DIR, strerror(errno));
        udev_dir_mounted = true;
        fd = open(UDEV_DIR "/control", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error("Failed to create %s/control: %s", UDEV_DIR, strerror(errno));
        return 0;
}

static int setup_proc(Machine *m) {
        char staging[] = "/tmp/pcisim.XXXXXX";
        _cleanup_free_ char *cmdline = machine_proc_cmdline(m), *interrupts = machine_proc_interrupts(m);
        _cleanup_free_ char *p_cmdline = NULL, *p_interrupts = NULL;
        int r = 0;

        if (!cmdline || !interrupts)
                return log_error("Out of memory");

        if (!mkdtemp(staging))
                return log_error("Failed to create staging directory: %s", strerror(errno));
        if (mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0) {
                r = log_error("Failed to mount tmpfs on %s: %s", staging, strerror(errno));
                rmdir(staging);
                return r;
        }

        p_cmdline = strdup_printf("%s/cmdline", staging);
        p_interrupts = strdup_printf("%s/interrupts", staging);
        if (!p_cmdline || !p_interrupts)
                r = log_error("Out of memory");
        else if ((r = write_file(p_cmdline, cmdline)) < 0 || (r = write_file(p_interrupts, interrupts)) < 0)
                r = log_error("Failed to write %s: %s", staging, strerror(-r));
        else if (mount(p_cmdline, "/proc/cmdline", NULL, MS_BIND, NULL) < 0)
                r = log_error("Failed to bind mount /proc/cmdline: %s", strerror(errno));
        else if (mount(p_interrupts, "/proc/interrupts", NULL, MS_BIND, NULL) < 0)
                r = log_error("Failed to bind mount /proc/interrupts: %s", strerror(errno));
        else {
                (void) mount(NULL, "/proc/cmdline", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
                (void) mount(NULL, "/proc/interrupts", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
        }

        /* The bind mounts keep the tmpfs alive; the staging directory itself can go. */
        (void) umount2(staging, MNT_DETACH);
        (void) rmdir(staging);
        return r;
}

static struct fuse *setup_fuse(void) {
        char *argv[] = { (char *) "pcisim", NULL };
        struct fuse_args args = FUSE_ARGS_INIT(1, argv);
        char opts[256], fdpath[64];
        struct fuse *f;
        int fd;

        fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                log_error("Failed to open /dev/fuse: %s", strerror(errno));
                return NULL;
        }

        snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
        if (mount("sysfs", "/sys", "fuse.pcisim", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME, opts) < 0) {
                log_error("Failed to mount FUSE on /sys: %s", strerror(errno));
                close(fd);
                return NULL;
        }

        f = fuse_new(&args, &operations, sizeof(operations), NULL);
        fuse_opt_free_args(&args);
        if (!f) {
                log_error("Failed to create FUSE session");
                (void) umount2("/sys", MNT_DETACH);
                close(fd);
                return NULL;
        }

        /* The mount is done; hand libfuse the already open channel. */
        snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
        if (fuse_mount(f, fdpath) < 0) {
                log_error("Failed to attach FUSE session to /dev/fuse");
                (void) umount2("/sys", MNT_DETACH);
                fuse_destroy(f);
                close(fd);
                return NULL;
        }
        return f;
}

/* ------------------------------------------------------------------------------------------ */

static void help(void) {
        printf("pcisim [OPTIONS...] LISTING -- COMMAND [ARGS...]\n\n"
               "Runs COMMAND in a mount and network namespace in which /sys shows the PCI\n"
               "machine described by LISTING, with kernel semantics for sysfs writes.\n\n"
               "  -h --help              Show this help\n"
               "     --pidfile=FILE      Write pcisim's PID to FILE once the namespace is ready\n"
               "     --uevent-log=FILE   Append every emitted uevent to FILE\n\n"
               "Enter the namespace with: nsenter -t $(cat FILE) -m -n -- COMMAND\n"
               "See tests/sim/README.md.\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_PIDFILE = 0x100, ARG_UEVENT_LOG };
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h'             },
                { "pidfile",    required_argument, NULL, ARG_PIDFILE     },
                { "uevent-log", required_argument, NULL, ARG_UEVENT_LOG  },
                {}
        };
        const char *pidfile = NULL, *uevent_log = NULL, *listing_path;
        _cleanup_free_ char *error = NULL, *pidfile_abs = NULL;
        Listing *listing = NULL;
        Uevent *uevent = NULL;
        ModSupervisor *supervisor = NULL;
        int sock[2], listener;
        struct fuse *f;
        pthread_t thread;
        sigset_t mask, oldmask;
        pid_t child;
        int c, r, status = 0, ret;

        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_PIDFILE:
                        pidfile = optarg;
                        break;
                case ARG_UEVENT_LOG:
                        uevent_log = optarg;
                        break;
                default:
                        return 1;
                }

        if (optind >= argc) {
                log_error("Missing LISTING argument. Usage: pcisim [--pidfile FILE] [--uevent-log FILE] LISTING -- COMMAND [ARGS...]");
                return 1;
        }
        listing_path = argv[optind++];
        if (optind < argc && streq(argv[optind], "--"))
                optind++;
        if (optind >= argc) {
                log_error("Missing COMMAND. Usage: pcisim [--pidfile FILE] [--uevent-log FILE] LISTING -- COMMAND [ARGS...]");
                return 1;
        }

        r = listing_parse_file(listing_path, &listing, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                else
                        log_error("Failed to parse %s: %s", listing_path, strerror(-r));
                return 1;
        }

        r = machine_new(&machine, listing);
        if (r < 0) {
                log_error("Failed to build the simulated machine: %s", strerror(-r));
                return 1;
        }

        /* Resolve the pidfile path while the working directory still means what the caller meant. */
        if (pidfile) {
                if (pidfile[0] == '/')
                        pidfile_abs = strdup(pidfile);
                else {
                        char cwd[PATH_MAX];

                        if (!getcwd(cwd, sizeof(cwd))) {
                                log_error("Failed to get working directory: %s", strerror(errno));
                                return 1;
                        }
                        pidfile_abs = strdup_printf("%s/%s", cwd, pidfile);
                }
                if (!pidfile_abs) {
                        log_error("Out of memory");
                        return 1;
                }
        }

        /* Namespaces first: unshare() must happen before any thread exists. */
        if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0) {
                log_error("Failed to create mount and network namespace: %s", strerror(errno));
                return 1;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                log_error("Failed to make mounts private: %s", strerror(errno));
                return 1;
        }
        loopback_up();

        r = uevent_new(&uevent, uevent_log);
        if (r < 0) {
                log_error("Failed to set up uevent sending%s%s: %s", uevent_log ? " or open " : "",
                          uevent_log ?: "", strerror(-r));
                return 1;
        }
        machine_set_uevent(machine, uevent);

        if (setup_modules(machine) < 0)
                return 1;
        if (setup_dev(machine, listing) < 0)
                return 1;
        if (setup_udev_control() < 0)
                return 1;

        /* "# block" paths, as COMMAND will see them (before /sys is ours: nothing there is a block
         * device either way, and a stat() of our own FUSE mount before its loop runs would hang) */
        {
                _cleanup_free_ char *block_error = NULL;

                r = machine_resolve_block(machine, &block_error);
                if (r < 0) {
                        log_error("%s", block_error ?: strerror(-r));
                        return 1;
                }
        }

        /* Signals are handled synchronously by the main thread; threads inherit the mask. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigprocmask(SIG_BLOCK, &mask, &oldmask);
        signal(SIGPIPE, SIG_IGN);

        f = setup_fuse();
        if (!f)
                return 1;

        r = pthread_create(&thread, NULL, fuse_thread, f);
        if (r != 0) {
                log_error("Failed to start FUSE thread: %s", strerror(r));
                return 1;
        }

        if (setup_proc(machine) < 0)
                return 1;

        if (pidfile_abs) {
                r = write_pidfile(pidfile_abs);
                if (r < 0) {
                        log_error("Failed to write pidfile %s: %s", pidfile_abs, strerror(-r));
                        return 1;
                }
        }

        /* The child sends the seccomp listener of its module syscall filter back over this. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
                log_error("Failed to create socket pair: %s", strerror(errno));
                return 1;
        }

        child = fork();
        if (child < 0) {
                log_error("Failed to fork: %s", strerror(errno));
                return 1;
        }
        if (child == 0) {
                /* If the simulator dies, /sys is gone: take the command down with it. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                signal(SIGPIPE, SIG_DFL);
                sigprocmask(SIG_SETMASK, &oldmask, NULL);
                close(sock[0]);
                /* Last thing before exec: COMMAND and everything it starts run under the filter. */
                r = modsyscall_install(sock[1]);
                if (r < 0) {
                        fprintf(stderr, "pcisim: Failed to install the module syscall filter: %s\n", strerror(-r));
                        _exit(1);
                }
                execvp(argv[optind], argv + optind);
                fprintf(stderr, "pcisim: Failed to execute %s: %s\n", argv[optind], strerror(errno));
                _exit(127);
        }

        close(sock[1]);
        r = modsyscall_receive(sock[0], &listener);
        close(sock[0]);
        if (r == -EIO)
                ; /* the child failed before exec and said why; its exit status is ours */
        else if (r < 0) {
                log_error("Failed to receive the module syscall listener: %s", strerror(-r));
                (void) kill(child, SIGKILL);
        } else {
                r = modsyscall_start(machine, listener, &supervisor);
                if (r < 0) {
                        log_error("Failed to start the module syscall supervisor: %s", strerror(-r));
                        (void) kill(child, SIGKILL);
                }
        }

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&mask, &si);
                pid_t p;

                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("Failed to wait for signals: %s", strerror(errno));
                        (void) kill(child, SIGKILL);
                }
                if (sig != SIGCHLD && sig > 0) {
                        (void) kill(child, sig);
                        continue;
                }
                p = waitpid(child, &status, WNOHANG);
                if (p == child)
                        break;
                if (p < 0 && errno != EINTR) {
                        log_error("Failed to wait for the command: %s", strerror(errno));
                        status = 1 << 8;
                        break;
                }
        }

        if (WIFEXITED(status))
                ret = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                ret = 128 + WTERMSIG(status);
        else
                ret = 1;

        /* Teardown: release hanging writers and module calls, stop answering module calls (left
         * behind processes get ENOSYS), drop the mounts, let the FUSE loop end. */
        machine_shutdown(machine);
        modsyscall_stop(supervisor);
        (void) umount2("/proc/interrupts", MNT_DETACH);
        (void) umount2("/proc/cmdline", MNT_DETACH);
        (void) umount2("/sys", MNT_DETACH);
        (void) umount2(MODULES_DIR, MNT_DETACH);
        (void) umount2(SND_DIR, MNT_DETACH);
        (void) umount2(DRI_DIR, MNT_DETACH);
        (void) umount2(VFIO_DIR, MNT_DETACH);
        (void) umount2(DEV_DIR, MNT_DETACH);
        if (udev_dir_mounted)
                (void) umount2(UDEV_DIR, MNT_DETACH);
        fuse_exit(f);

        {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 2;
                if (pthread_timedjoin_np(thread, NULL, &ts) == 0)
                        fuse_destroy(f);
                /* else: something in the namespace still holds /sys open; exiting aborts the connection. */
        }

        if (pidfile_abs)
                (void) unlink(pidfile_abs);

        fflush(stdout);
        _exit(ret);
}
