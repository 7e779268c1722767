/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modsyscall.c: the seccomp filter for the module syscalls and the supervisor answering its user
 * notifications (see modsyscall.h). One supervisor thread receives notifications and hands each
 * to a short-lived worker thread, so a call held by a "hang" fault does not hold up the others.
 * Workers read what the caller passed (the file behind its fd through /proc/PID/fd, its memory
 * with process_vm_readv()), check that the notification is still valid (the PID may have been
 * reused), then ask the machine under its lock — the same lock the FUSE write handlers take;
 * nothing here touches /sys through the mount.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/module.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kmodfake.h"
#include "modsyscall.h"
#include "sim-util.h"

#if defined(__x86_64__)
#  define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#  define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#  define NATIVE_AUDIT_ARCH AUDIT_ARCH_I386
#else
#  error "modsyscall.c: add this architecture's AUDIT_ARCH_* constant"
#endif

#define MODULE_NAME_LEN 56              /* the kernel's, name plus NUL */
#define MODULE_IMAGE_MAX (64U << 20)    /* fake modules are a few KiB; refuse to copy more */
#define CAP_SYS_MODULE_BIT 16

struct ModSupervisor {
        Machine *machine;
        int listener;
        int stop_fd;
        pthread_t thread;
        struct seccomp_notif_sizes sizes;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned n_workers;
};

typedef struct Call {
        ModSupervisor *s;
        struct seccomp_notif *req;
} Call;

/* ------------------------------------------------------------------------------------------ */
/* child side */

int modsyscall_install(int sock) {
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),   /* other ABIs: the real kernel */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
                /* x32 callers: the same numbers with __X32_SYSCALL_BIT set */
                BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~(uint32_t) __X32_SYSCALL_BIT),
#endif
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_init_module, 3, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_finit_module, 2, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_delete_module, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        };
        struct sock_fprog prog = {
                .len = ELEMENTSOF(filter),
                .filter = filter,
        };
        union {
                struct cmsghdr cmsghdr;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        char byte = 'L';
        struct iovec iov = {
                .iov_base = &byte,
                .iov_len = 1,
        };
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *cmsg;
        int listener, r = 0;

        /* As root (CAP_SYS_ADMIN) no_new_privs is not needed, and it is not set: it would change
         * what exec means for setuid/file-capability helpers COMMAND runs. Only without the
         * capability, where the kernel insists, set it and try again. */
        listener = (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0 && errno == EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) >= 0)
                listener = (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                                         &prog);
        if (listener < 0)
                return -errno;

        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &listener, sizeof(int));

        while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                if (errno != EINTR) {
                        r = -errno;
                        break;
                }
        close(listener);
        return r;
}

/* ------------------------------------------------------------------------------------------ */
/* parent side */

int modsyscall_receive(int sock, int *ret_listener) {
        union {
                struct cmsghdr cmsghdr;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        char byte;
        struct iovec iov = {
                .iov_base = &byte,
                .iov_len = 1,
        };
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *cmsg;
        ssize_t n;
        int fd;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        cmsg = CMSG_FIRSTHDR(&msg);
        if (n == 0 || !cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EIO;
        memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
        *ret_listener = fd;
        return 0;
}

static bool call_valid(void *userdata) {
        Call *c = userdata;
        uint64_t id = c->req->id;

        return ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) >= 0;
}

/* capable(CAP_SYS_MODULE), from the caller's effective set */
static int caller_capable(pid_t pid) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long caps;

                if (sscanf(line, "CapEff: %llx", &caps) == 1)
                        return !!(caps & (1ULL << CAP_SYS_MODULE_BIT));
        }
        return -EIO;
}

/* Copies SIZE bytes at ADDR in PID's memory. -EFAULT unless all of it is readable. */
static int read_remote(pid_t pid, uint64_t addr, void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                struct iovec local = {
                        .iov_base = (char *) buf + done,
                        .iov_len = size - done,
                };
                struct iovec remote = {
                        .iov_base = (void *) (uintptr_t) (addr + done),
                        .iov_len = size - done,
                };
                ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

                if (n < 0 && errno == ESRCH)
                        return -ESRCH;
                if (n <= 0)
                        return -EFAULT;
                done += (size_t) n;
        }
        return 0;
}

/* strncpy_from_user(buf, addr, size - 1): reads up to the NUL, page by page so that a string
 * ending just before an unmapped page is still read. */
static int read_remote_string(pid_t pid, uint64_t addr, char *buf, size_t size) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), done = 0;

        while (done < size - 1) {
                uint64_t a = addr + done;
                size_t chunk = page - (size_t) (a % page);
                int r;

                if (chunk > size - 1 - done)
                        chunk = size - 1 - done;
                r = read_remote(pid, a, buf + done, chunk);
                if (r < 0)
                        return r;
                if (memchr(buf + done, 0, chunk))
                        return 0;
                done += chunk;
        }
        buf[size - 1] = 0; /* longer: truncated, like the kernel */
        return 0;
}

static int insert_image(Call *c, const void *image, size_t size) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = kmodfake_modinfo_name(image, size, &name);
        if (r < 0)
                return r;
        return machine_module_insert(c->s->machine, name, call_valid, c);
}

/* finit_module(fd, params, flags) */
static int handle_finit_module(Call *c) {
        const struct seccomp_data *d = &c->req->data;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *image = NULL;
        char path[64];
        struct stat st;
        size_t done = 0;
        int caller_fd = (int) d->args[0];

        /* fd and flags are ints to the kernel: the upper halves of the registers do not count */
        if ((uint32_t) d->args[2] & ~(uint32_t) (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC |
                                                 MODULE_INIT_COMPRESSED_FILE))
                return -EINVAL;
        if (caller_fd < 0)
                return -EBADF;

        /* The caller's open file, opened again through /proc (works in any mount namespace and
         * for deleted files). Non-blocking: a FIFO must not hold up the worker. */
        snprintf(path, sizeof(path), "/proc/%u/fd/%d", c->req->pid, caller_fd);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT ? -EBADF : -errno;
        if (!call_valid(c))
                return -ECANCELED; /* the PID is not the caller any more: what we opened is not its */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL; /* kernel_read_file() */
        if (st.st_size <= 0)
                return -ENOEXEC;
        if ((uint64_t) st.st_size > MODULE_IMAGE_MAX)
                return -EFBIG;

        image = malloc((size_t) st.st_size);
        if (!image)
                return -ENOMEM;
        while (done < (size_t) st.st_size) {
                ssize_t n = pread(fd, image + done, (size_t) st.st_size - done, (off_t) done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return insert_image(c, image, done);
}

/* init_module(image, len, params) */
static int handle_init_module(Call *c) {
        const struct seccomp_data *d = &c->req->data;
        _cleanup_free_ char *image = NULL;
        uint64_t len = d->args[1];
        int r;

        if (len < 64) /* sizeof(Elf64_Ehdr): the kernel's first check */
                return -ENOEXEC;
        if (len > MODULE_IMAGE_MAX)
                return -EFBIG;
        image = malloc((size_t) len);
        if (!image)
                return -ENOMEM;
        r = read_remote((pid_t) c->req->pid, d->args[0], image, (size_t) len);
        if (r < 0)
                return r;
        if (!call_valid(c))
                return -ECANCELED;
        return insert_image(c, image, (size_t) len);
}

/* delete_module(name, flags) */
static int handle_delete_module(Call *c) {
        const struct seccomp_data *d = &c->req->data;
        char name[MODULE_NAME_LEN] = {};
        int r;

        r = read_remote_string((pid_t) c->req->pid, d->args[0], name, sizeof(name));
        if (r < 0)
                return r;
        if (!call_valid(c))
                return -ECANCELED;
        /* flags (O_NONBLOCK, O_TRUNC for --force) change nothing here: holders always give
         * EWOULDBLOCK, and a module is never busy for other reasons. */
        return machine_module_delete(c->s->machine, name, call_valid, c);
}

static void call_answer(Call *c) {
        const struct seccomp_data *d = &c->req->data;
        _cleanup_free_ struct seccomp_notif_resp *resp = NULL;
        int nr = d->nr, r;

#ifdef __x86_64__
        nr &= ~__X32_SYSCALL_BIT;
#endif

        if (d->arch != NATIVE_AUDIT_ARCH)
                r = -ENOSYS;
        else if (nr != __NR_init_module && nr != __NR_finit_module && nr != __NR_delete_module)
                r = -ENOSYS;
        else if ((r = caller_capable((pid_t) c->req->pid)) <= 0)
                r = r == 0 ? -EPERM : -ENOSYS;
        else if (nr == __NR_finit_module)
                r = handle_finit_module(c);
        else if (nr == __NR_init_module)
                r = handle_init_module(c);
        else
                r = handle_delete_module(c);

        /* Failures of the simulator itself must not look like a kernel answer the caller
         * expects; ENOSYS is what the kernel gives for a call it does not have. */
        if (r == -ENOMEM)
                r = -ENOSYS;

        resp = calloc(1, c->s->sizes.seccomp_notif_resp > sizeof(*resp) ? c->s->sizes.seccomp_notif_resp
                                                                        : sizeof(*resp));
        if (!resp)
                return; /* the caller gets ENOSYS when the listener is closed */
        resp->id = c->req->id;
        resp->error = r < 0 ? r : 0;
        resp->val = 0;
        resp->flags = 0;
        /* ENOENT: the caller is gone (killed, or interrupted by a signal); nobody to tell. */
        (void) ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

static void call_free(Call *c) {
        if (!c)
                return;
        free(c->req);
        free(c);
}

static void *worker_thread(void *userdata) {
        Call *c = userdata;
        ModSupervisor *s = c->s;

        call_answer(c);
        call_free(c);

        pthread_mutex_lock(&s->lock);
        s->n_workers--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void dispatch(ModSupervisor *s, Call *c) {
        pthread_attr_t attr;
        pthread_t t;
        int r;

        pthread_mutex_lock(&s->lock);
        s->n_workers++;
        pthread_mutex_unlock(&s->lock);

        r = pthread_attr_init(&attr);
        if (r == 0) {
                (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                r = pthread_create(&t, &attr, worker_thread, c);
                pthread_attr_destroy(&attr);
        }
        if (r != 0)
                (void) worker_thread(c); /* answer it here, in order */
}

static void *supervisor_thread(void *userdata) {
        ModSupervisor *s = userdata;
        size_t req_size = s->sizes.seccomp_notif > sizeof(struct seccomp_notif) ? s->sizes.seccomp_notif
                                                                                : sizeof(struct seccomp_notif);

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = s->listener, .events = POLLIN },
                        { .fd = s->stop_fd, .events = POLLIN },
                };
                Call *c;

                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "pcisim: Failed to wait for module syscalls: %s\n", strerror(errno));
                        break;
                }
                if (p[1].revents)
                        break;
                if (!(p[0].revents & POLLIN)) {
                        if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
                                break; /* no process under the filter is left */
                        continue;
                }

                c = calloc(1, sizeof(Call));
                if (c)
                        c->req = calloc(1, req_size); /* RECV wants it zeroed */
                if (!c || !c->req) {
                        call_free(c);
                        /* cannot take it: the caller waits until the listener is closed */
                        (void) usleep(10000);
                        continue;
                }
                c->s = s;
                if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, c->req) < 0) {
                        int e = errno;

                        call_free(c);
                        if (e == EINTR || e == ENOENT) /* ENOENT: the caller went away meanwhile */
                                continue;
                        fprintf(stderr, "pcisim: Failed to receive a module syscall: %s\n", strerror(e));
                        break;
                }
                dispatch(s, c);
        }
        return NULL;
}

int modsyscall_start(Machine *m, int listener, ModSupervisor **ret) {
        ModSupervisor *s;
        int r;

        s = calloc(1, sizeof(ModSupervisor));
        if (!s) {
                close(listener);
                return -ENOMEM;
        }
        s->machine = m;
        s->listener = listener;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);

        if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s->sizes) < 0)
                s->sizes = (struct seccomp_notif_sizes) {}; /* use our own struct sizes */

        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->stop_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = -pthread_create(&s->thread, NULL, supervisor_thread, s);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;

fail:
        closep(&s->stop_fd);
        close(s->listener);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
        return r;
}

void modsyscall_stop(ModSupervisor *s) {
        struct timespec deadline;
        uint64_t one = 1;
        bool idle;

        if (!s)
                return;

        if (write(s->stop_fd, &one, sizeof(one)) < 0)
                fprintf(stderr, "pcisim: Failed to stop the module syscall supervisor: %s\n", strerror(errno));
        else
                (void) pthread_join(s->thread, NULL);

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 2;
        pthread_mutex_lock(&s->lock);
        while (s->n_workers > 0)
                if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
                        break;
        idle = s->n_workers == 0;
        pthread_mutex_unlock(&s->lock);

        if (!idle)
                return; /* a worker still uses the listener; exiting closes it */

        /* Closing the listener fails every call still waiting for an answer with ENOSYS. */
        close(s->listener);
        close(s->stop_fd);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
}
