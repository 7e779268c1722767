/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection (virt.c) through libvirt's remote driver, the way qemu:///system is reached:
 * a private libvirtd in session mode, run as "nobody" with all its state in a temporary
 * directory, serves the test driver on its own socket (test+unix:///…/node.xml?socket=…).
 * The socket's watches and libvirt's keepalive go through the sd-event bridge; stopping
 * libvirtd must bring the close callback ("disconnected"), starting it again a reconnection
 * and "resync", and lifecycle events must flow again after it. The domain start in a helper
 * process (virt-start.c) must leave the loop free while libvirtd does not answer, report
 * libvirt's refusal with its message, and past its deadline go on waiting for libvirt's answer. With a probe timeout the
 * connection opens only after such a helper got an answer: a libvirtd that does not answer
 * costs the loop nothing and ends in the "opened" handler with -ETIME, then a retry opens.
 * Skipped (77) unless run as root with /usr/sbin/libvirtd installed (libvirt-daemon).
 * Usage: test-virt-remote FIXTURES_DIR (the directory holding node.xml).
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "virt-event.h"
#include "virt-start.h"
#include "virt.h"
#include "loop.h"
#include "tests.h"

#define LIBVIRTD "/usr/sbin/libvirtd"

static sd_event *event;
static char dir[] = "/tmp/test-virt-remote-XXXXXX";
static char *socket_path, *uri;
static uid_t nobody_uid;
static gid_t nobody_gid;
static pid_t daemon_pid;


/* ---- the private libvirtd ---- */

static int path_in_dir(char **ret, const char *name) {
        return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

static int make_owned_dir(const char *name) {
        _cleanup_free_ char *p = NULL;

        if (path_in_dir(&p, name) < 0)
                return -ENOMEM;
        if (mkdir(p, 0700) < 0 || chown(p, nobody_uid, nobody_gid) < 0)
                return -errno;
        return 0;
}

static int copy_file(const char *from, const char *to) {
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        char buf[4096];
        ssize_t n;

        in = open(from, O_RDONLY | O_CLOEXEC);
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (in < 0 || out < 0)
                return -errno;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t) n) != n)
                        return -EIO;
        return n < 0 ? -errno : 0;
}

static void daemon_exec(void) {
        char home[PATH_MAX], run[PATH_MAX], config[PATH_MAX], cache[PATH_MAX], log[PATH_MAX];
        char *envp[] = { home, run, config, cache, (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        char *argv[] = { (char *) LIBVIRTD, NULL };
        int fd;

        snprintf(home, sizeof(home), "HOME=%s/home", dir);
        snprintf(run, sizeof(run), "XDG_RUNTIME_DIR=%s/run", dir);
        snprintf(config, sizeof(config), "XDG_CONFIG_HOME=%s/home/.config", dir);
        snprintf(cache, sizeof(cache), "XDG_CACHE_HOME=%s/home/.cache", dir);
        snprintf(log, sizeof(log), "%s/libvirtd.log", dir);

        fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                _exit(126);
        if (setgroups(0, NULL) < 0 || setgid(nobody_gid) < 0 || setuid(nobody_uid) < 0)
                _exit(126);
        execve(LIBVIRTD, argv, envp);
        _exit(127);
}

/* Starts libvirtd and waits for its socket. */
static int daemon_start(void) {
        uint64_t end = now_usec() + 30 * USEC_PER_SEC;

        (void) unlink(socket_path);
        daemon_pid = fork();
        if (daemon_pid < 0)
                return -errno;
        if (daemon_pid == 0)
                daemon_exec();

        while (now_usec() < end) {
                int status;

                if (access(socket_path, F_OK) == 0)
                        return 0;
                if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
                        daemon_pid = 0;
                        return -ECHILD;
                }
                loop_run_for(event, 20 * USEC_PER_MSEC);
        }
        return -ETIMEDOUT;
}

static void daemon_stop(void) {
        if (daemon_pid <= 0)
                return;
        (void) kill(daemon_pid, SIGTERM);
        (void) waitpid(daemon_pid, NULL, 0);
        daemon_pid = 0;
}

static void print_daemon_log(void) {
        _cleanup_free_ char *p = NULL;
        char line[512];
        FILE *f;

        if (path_in_dir(&p, "libvirtd.log") < 0 || !(f = fopen(p, "re")))
                return;
        fprintf(stderr, "---- libvirtd's log ----\n");
        while (fgets(line, sizeof(line), f))
                fputs(line, stderr);
        fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

/* ---- tests ---- */

typedef struct Recorder {
        int last_event, last_detail;
        char last_name[64];
        unsigned n_events, resyncs, disconnects;
        int reason;
} Recorder;

static void on_lifecycle(VirtConnection *c, const char *name, const char *uuid, int ev, int detail,
                         void *userdata) {
        Recorder *r = userdata;

        snprintf(r->last_name, sizeof(r->last_name), "%s", name);
        r->last_event = ev;
        r->last_detail = detail;
        r->n_events++;
}

static void on_resync(VirtConnection *c, void *userdata) {
        Recorder *r = userdata;

        CHECK(virt_connection_is_connected(c));
        r->resyncs++;
}

static void on_disconnected(VirtConnection *c, int reason, void *userdata) {
        Recorder *r = userdata;

        CHECK(!virt_connection_is_connected(c));
        r->reason = reason;
        r->disconnects++;
}

static Recorder rec;
static VirtConnection *conn;

static void start_gpu_guest_and_see_it_started(void) {
        _cleanup_(virDomainFreep) virDomainPtr d = NULL;
        _cleanup_free_ char *message = NULL;
        unsigned before = rec.n_events;

        CHECK_INTEQ(virt_domain_lookup(conn, "gpu-guest", &d, &message), 0);
        if (!d)
                return;
        CHECK_INTEQ(virt_domain_is_active(d, NULL), 0);
        CHECK_INTEQ(virt_domain_start(d, &message), 0);
        CHECK(loop_run_until(event, &rec.n_events, before + 1, 10 * USEC_PER_SEC));
        CHECK_STREQ(rec.last_name, "gpu-guest");
        CHECK_INTEQ(rec.last_event, VIR_DOMAIN_EVENT_STARTED);
        CHECK_INTEQ(virt_domain_is_active(d, NULL), 1);
}

static void test_remote_connection_watches_its_socket(void) {
        static const VirtHandlers handlers = {
                .lifecycle = on_lifecycle,
                .resync = on_resync,
                .disconnected = on_disconnected,
        };
        _cleanup_free_ char *message = NULL;
        size_t handles = 0, timeouts = 0;

        CHECK_INTEQ(virt_connection_new(event, uri, &handlers, &rec, &conn), 0);
        if (!conn)
                return;
        virt_connection_set_backoff(conn, 50 * USEC_PER_MSEC, 200 * USEC_PER_MSEC);
        CHECK_INTEQ(virt_connection_need(conn, &message), 0);
        if (message)
                fprintf(stderr, "  libvirt says: %s\n", message);
        CHECK(virt_connection_is_connected(conn));
        virt_event_get_counts(&handles, &timeouts);
        fprintf(stderr, "  libvirt watches %zu descriptor(s), has %zu timeout(s)\n", handles, timeouts);
        CHECK(handles >= 1);  /* the socket */
        CHECK(timeouts >= 1); /* keepalive, event dispatch */
}

static void test_remote_lifecycle_events(void) {
        if (!virt_connection_is_connected(conn))
                return;
        start_gpu_guest_and_see_it_started();
}

static void test_libvirtd_restart_disconnects_then_resyncs(void) {
        _cleanup_free_ char *message = NULL;
        virDomainPtr d = NULL;

        if (!virt_connection_is_connected(conn))
                return;
        daemon_stop();
        CHECK(loop_run_until(event, &rec.disconnects, 1, 10 * USEC_PER_SEC));
        CHECK_INTEQ(rec.reason, VIR_CONNECT_CLOSE_REASON_EOF);
        CHECK(!virt_connection_is_connected(conn));
        CHECK_INTEQ(virt_domain_lookup(conn, "gpu-guest", &d, &message), -ENOTCONN);
        CHECK_INTEQ(rec.resyncs, 0);

        /* Retries fail while it is down. */
        loop_run_for(event, 300 * USEC_PER_MSEC);
        CHECK_INTEQ(rec.resyncs, 0);
        CHECK_INTEQ(virt_connection_needs(conn), 1);

        CHECK_INTEQ(daemon_start(), 0);
        CHECK(loop_run_until(event, &rec.resyncs, 1, 20 * USEC_PER_SEC));
        CHECK(virt_connection_is_connected(conn));
        CHECK_INTEQ(rec.disconnects, 1);

        /* A new libvirtd, a new test host: gpu-guest is off again; events flow again. */
        start_gpu_guest_and_see_it_started();
}

typedef struct StartOutcome {
        unsigned calls;
        int result;
        char *message;
} StartOutcome;

static void on_started(VirtDomainStart *s, int result, const char *message, void *userdata) {
        StartOutcome *o = userdata;

        o->calls++;
        o->result = result;
        free(o->message);
        o->message = message ? strdup(message) : NULL;
}

static int on_tick(sd_event_source *source, uint64_t usec, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

/* Each connection to a test driver file gets a private copy of it; the helper's connection
 * must see the same host as ours: the shared "default" test host (domain "test", running). */
static virConnectPtr default_conn;
static char *default_uri;

static virDomainPtr default_domain(void) {
        return default_conn ? virDomainLookupByName(default_conn, "test") : NULL;
}

static bool default_domain_active(void) {
        _cleanup_(virDomainFreep) virDomainPtr d = default_domain();
        return d && virDomainIsActive(d) == 1;
}

static void stop_default_domain(void) {
        _cleanup_(virDomainFreep) virDomainPtr d = default_domain();

        CHECK(d);
        if (d && virDomainIsActive(d) == 1)
                CHECK_INTEQ(virDomainDestroy(d), 0);
        CHECK(!default_domain_active());
}

static void test_start_in_a_helper_leaves_the_loop_free(void) {
        _cleanup_(virt_domain_start_freep) VirtDomainStart *s = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        _cleanup_(virDomainFreep) virDomainPtr d = NULL;
        StartOutcome o = {};
        unsigned ticks = 0;

        CHECK(asprintf(&default_uri, "test+unix:///default?socket=%s", socket_path) > 0);
        default_conn = virConnectOpen(default_uri);
        CHECK(default_conn);
        d = default_domain();
        CHECK(d);
        if (!d)
                return;
        stop_default_domain();

        /* libvirtd stopped: a virDomainCreate made here would block the loop until it answers. */
        CHECK_INTEQ(kill(daemon_pid, SIGSTOP), 0);
        CHECK_INTEQ(virt_domain_start_async(event, default_uri, "test", 30 * USEC_PER_SEC, on_started, &o, &s), 0);
        /* the loop runs meanwhile: a timer fires */
        CHECK_INTEQ(sd_event_add_time_relative(event, &timer, CLOCK_MONOTONIC, 200 * USEC_PER_MSEC, 0, on_tick, &ticks), 0);
        CHECK(loop_run_until(event, &ticks, 1, USEC_PER_SEC));
        CHECK_INTEQ(o.calls, 0);
        CHECK_INTEQ(n_tasks(), 1); /* a process, not a thread */
        CHECK_INTEQ(kill(daemon_pid, SIGCONT), 0);
        CHECK(loop_run_until(event, &o.calls, 1, 20 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, 0);
        CHECK(!o.message);
        CHECK(default_domain_active());
        free(o.message);
}

static void test_start_in_a_helper_reports_libvirts_refusal(void) {
        _cleanup_(virt_domain_start_freep) VirtDomainStart *s = NULL;
        StartOutcome o = {};

        if (!default_conn)
                return;
        /* running already: libvirt refuses */
        CHECK(default_domain_active());
        CHECK_INTEQ(virt_domain_start_async(event, default_uri, "test", 30 * USEC_PER_SEC, on_started, &o, &s), 0);
        CHECK(loop_run_until(event, &o.calls, 1, 20 * USEC_PER_SEC));
        CHECK(o.result < 0); /* the test driver says "internal error" (-EIO), qemu "operation invalid" */
        CHECK(o.message && strstr(o.message, "already running"));
        if (o.message)
                fprintf(stderr, "  libvirt says: %s\n", o.message);
        s = virt_domain_start_free(s);
        free(o.message);

        /* no such domain */
        o = (StartOutcome) {};
        CHECK_INTEQ(virt_domain_start_async(event, default_uri, "no-such-domain", 30 * USEC_PER_SEC,
                                            on_started, &o, &s),
                    0);
        CHECK(loop_run_until(event, &o.calls, 1, 20 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, -ENOENT);
        CHECK(o.message && strstr(o.message, "not found"));
        if (o.message)
                fprintf(stderr, "  libvirt says: %s\n", o.message);
        free(o.message);
}

static void test_start_in_a_helper_waits_past_its_deadline(void) {
        _cleanup_(virt_domain_start_freep) VirtDomainStart *s = NULL;
        StartOutcome o = {};

        if (!default_conn)
                return;
        stop_default_domain();
        CHECK_INTEQ(kill(daemon_pid, SIGSTOP), 0);
        CHECK_INTEQ(virt_domain_start_async(event, default_uri, "test", 200 * USEC_PER_MSEC, on_started, &o, &s), 0);
        /* Past the deadline libvirt may still start it: no outcome yet (an undo now would pull the
         * devices from under the guest), only a warning. */
        loop_run_for(event, 600 * USEC_PER_MSEC);
        CHECK_INTEQ(o.calls, 0);
        CHECK_INTEQ(kill(daemon_pid, SIGCONT), 0);
        CHECK(loop_run_until(event, &o.calls, 1, 20 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, 0); /* libvirt's answer, however late */
        CHECK(default_domain_active());
        free(o.message);
        (void) virConnectClose(default_conn);
        default_conn = NULL;
}

static void test_release_closes_the_remote_connection(void) {
        size_t handles = 99, timeouts = 99;

        virt_connection_release(conn);
        loop_settle(event);
        CHECK(!virt_connection_is_connected(conn));
        virt_event_get_counts(&handles, &timeouts);
        CHECK_INTEQ(handles, 0);
        CHECK_INTEQ(timeouts, 0);
        conn = virt_connection_free(conn);
        CHECK_INTEQ(rec.disconnects, 1); /* an asked-for close is no loss */
}

typedef struct OpenRecorder {
        unsigned opened, resyncs;
        int result;
        char message[256];
} OpenRecorder;

static void on_probe_opened(VirtConnection *c, int result, const char *message, void *userdata) {
        OpenRecorder *o = userdata;

        o->opened++;
        o->result = result;
        snprintf(o->message, sizeof(o->message), "%s", message ?: "");
        CHECK_INTEQ(virt_connection_is_connected(c), result >= 0);
}

static void on_probe_resync(VirtConnection *c, void *userdata) {
        ((OpenRecorder *) userdata)->resyncs++;
}

static void test_probe_mode_opens_once_a_helper_got_an_answer(void) {
        static const VirtHandlers handlers = { .opened = on_probe_opened, .resync = on_probe_resync };
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        _cleanup_free_ char *message = NULL;
        OpenRecorder o = {};

        CHECK_INTEQ(virt_connection_new(event, uri, &handlers, &o, &c), 0);
        if (!c)
                return;
        virt_connection_set_probe_timeout(c, 5 * USEC_PER_SEC);
        CHECK_INTEQ(virt_connection_need(c, &message), -EINPROGRESS);
        CHECK(!virt_connection_is_connected(c));
        CHECK(loop_run_until(event, &o.opened, 1, 10 * USEC_PER_SEC));
        CHECK_INTEQ(o.result, 0);
        CHECK(virt_connection_is_connected(c));
        CHECK_INTEQ(o.resyncs, 0); /* reported by "opened" */
        CHECK_INTEQ(virt_connection_need(c, NULL), 0); /* open now: at once */
        virt_connection_release(c);
        virt_connection_release(c);
        loop_settle(event);
        CHECK(!virt_connection_is_connected(c));
}

static void test_probe_mode_gives_up_on_a_silent_libvirtd(void) {
        static const VirtHandlers handlers = { .opened = on_probe_opened, .resync = on_probe_resync };
        _cleanup_(virt_connection_freep) VirtConnection *c = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        unsigned ticks = 0;
        OpenRecorder o = {};

        CHECK_INTEQ(virt_connection_new(event, uri, &handlers, &o, &c), 0);
        if (!c)
                return;
        virt_connection_set_probe_timeout(c, 300 * USEC_PER_MSEC);
        virt_connection_set_backoff(c, 100 * USEC_PER_MSEC, 200 * USEC_PER_MSEC);
        /* accepts connections, answers nothing */
        CHECK_INTEQ(kill(daemon_pid, SIGSTOP), 0);
        CHECK_INTEQ(virt_connection_need(c, NULL), -EINPROGRESS);
        /* the loop runs meanwhile: a timer due before the deadline fires first */
        CHECK_INTEQ(sd_event_add_time_relative(event, &timer, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0, on_tick, &ticks), 0);
        CHECK(loop_run_until(event, &o.opened, 1, 5 * USEC_PER_SEC));
        CHECK_INTEQ(ticks, 1);
        CHECK_INTEQ(o.result, -ETIME);
        CHECK(strstr(o.message, "did not answer within"));
        fprintf(stderr, "  the opened handler says: %s\n", o.message);
        CHECK_INTEQ(n_tasks(), 1);
        CHECK(!virt_connection_is_connected(c));
        /* libvirtd goes on: a retry in the background opens, and tells it as a resync */
        CHECK_INTEQ(kill(daemon_pid, SIGCONT), 0);
        CHECK(loop_run_until(event, &o.resyncs, 1, 20 * USEC_PER_SEC));
        CHECK(virt_connection_is_connected(c));
        CHECK_INTEQ(o.result, 0);
        virt_connection_release(c);
        loop_settle(event);
}

static void test_remote_driver_creates_no_thread(void) {
        CHECK_INTEQ(n_tasks(), 1);
}

int main(int argc, char **argv) {
        _cleanup_free_ char *fixture = NULL, *node_xml = NULL;
        struct passwd *pw;
        int r;

        if (argc != 2) {
                fprintf(stderr, "Usage: %s FIXTURES_DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        if (geteuid() != 0 || access(LIBVIRTD, X_OK) < 0 || !(pw = getpwnam("nobody"))) {
                printf("Skipped: needs root, %s (libvirt-daemon) and the user nobody.\n", LIBVIRTD);
                return 77;
        }
        nobody_uid = pw->pw_uid;
        nobody_gid = pw->pw_gid;

        if (!mkdtemp(dir) || chown(dir, nobody_uid, nobody_gid) < 0 || chmod(dir, 0755) < 0 ||
            make_owned_dir("home") < 0 || make_owned_dir("run") < 0) {
                fprintf(stderr, "Cannot set up %s: %m\n", dir);
                return EXIT_FAILURE;
        }
        if (asprintf(&fixture, "%s/node.xml", argv[1]) < 0 || path_in_dir(&node_xml, "node.xml") < 0 ||
            copy_file(fixture, node_xml) < 0 ||
            asprintf(&socket_path, "%s/run/libvirt/libvirt-sock", dir) < 0 ||
            asprintf(&uri, "test+unix://%s?socket=%s", node_xml, socket_path) < 0) {
                fprintf(stderr, "Cannot prepare the fixture in %s\n", dir);
                return EXIT_FAILURE;
        }

        /* the domain start's helper processes end through sd-event's child sources */
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0) {
                fprintf(stderr, "Cannot block SIGCHLD: %m\n");
                return EXIT_FAILURE;
        }
        r = sd_event_new(&event);
        if (r < 0 || virt_event_register(event) < 0) {
                fprintf(stderr, "Cannot set up the event loop\n");
                return EXIT_FAILURE;
        }
        r = daemon_start();
        if (r < 0) {
                fprintf(stderr, "libvirtd did not come up: %s\n", strerror(-r));
                print_daemon_log();
                daemon_stop();
                return EXIT_FAILURE;
        }

        RUN(test_remote_connection_watches_its_socket);
        RUN(test_remote_lifecycle_events);
        RUN(test_libvirtd_restart_disconnects_then_resyncs);
        RUN(test_start_in_a_helper_leaves_the_loop_free);
        RUN(test_start_in_a_helper_reports_libvirts_refusal);
        RUN(test_start_in_a_helper_waits_past_its_deadline);
        RUN(test_release_closes_the_remote_connection);
        RUN(test_probe_mode_opens_once_a_helper_got_an_answer);
        RUN(test_probe_mode_gives_up_on_a_silent_libvirtd);
        RUN(test_remote_driver_creates_no_thread);

        daemon_stop();
        if (tests_failed)
                print_daemon_log();
        virt_event_unregister();
        sd_event_unref(event);
        (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(socket_path);
        free(uri);
        free(default_uri);
        return TESTS_DONE();
}
