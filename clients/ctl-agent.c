/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Implementation of ctl-agent.h: forks and execs pkttyagent the way systemd's
 * polkit_agent_open() does, and terminates it afterwards.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl-agent.h"

#define POLKIT_AGENT_NAME "pkttyagent"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* The first executable regular file called name in a directory of $PATH. Empty and relative
 * entries are skipped: they would mean the current directory. */
static int find_in_path(const char *name, char **ret) {
        const char *path, *p;

        path = getenv("PATH");
        if (!path)
                path = DEFAULT_PATH;

        for (p = path; *p; ) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *f = NULL;
                struct stat st;

                if (n > 0 && p[0] == '/') {
                        if (asprintf(&f, "%.*s/%s", (int) n, p, name) < 0)
                                return -ENOMEM;
                        if (stat(f, &st) >= 0 && S_ISREG(st.st_mode) && access(f, X_OK) >= 0) {
                                *ret = TAKE_PTR(f);
                                return 0;
                        }
                }

                p += n;
                if (*p == ':')
                        p++;
        }

        return -ENOENT;
}

/* In the child, between fork() and exec(): only async-signal-safe calls. */
_noreturn_ static void exec_agent(const char *binary, int notify_fd, const char *notify_fd_str, pid_t parent) {
        sigset_t ss;

        /* Go when we go, even if we are killed and cannot terminate the agent ourselves. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);

        /* The agent must be killable with SIGTERM whatever our caller blocked. */
        if (sigemptyset(&ss) >= 0)
                (void) sigprocmask(SIG_SETMASK, &ss, NULL);
        (void) signal(SIGTERM, SIG_DFL);
        (void) signal(SIGINT, SIG_DFL);

        /* When our output goes to a pipe, the agent must not keep it open (the reader would
         * wait for its end) nor write its prompts into it: give it the terminal instead. */
        if (isatty(STDOUT_FILENO) <= 0 || isatty(STDERR_FILENO) <= 0) {
                int fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);

                if (fd < 0)
                        _exit(EXIT_FAILURE);
                if (isatty(STDOUT_FILENO) <= 0 && dup2(fd, STDOUT_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                if (isatty(STDERR_FILENO) <= 0 && dup2(fd, STDERR_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                if (fd > STDERR_FILENO)
                        (void) close(fd);
        }

        /* The only descriptor the agent inherits besides 0, 1 and 2 (everything else of ours,
         * the bus connection included, is close-on-exec). */
        if (fcntl(notify_fd, F_SETFD, 0) < 0)
                _exit(EXIT_FAILURE);

        execv(binary, (char * const[]) {
                        (char *) POLKIT_AGENT_NAME,
                        (char *) "--notify-fd",
                        (char *) notify_fd_str,
                        (char *) "--fallback",
                        NULL,
                });
        _exit(EXIT_FAILURE);
}

int polkit_agent_open(pid_t *ret_pid) {
        _cleanup_free_ char *binary = NULL;
        char notify_fd_str[12];
        int pipe_fd[2], r;
        pid_t parent, pid;
        char buf[64];

        *ret_pid = 0;

        /* Standard input, not output: this is about who can type a password. */
        if (isatty(STDIN_FILENO) <= 0)
                return 0;
        /* polkit lets root through without asking. */
        if (geteuid() == 0)
                return 0;

        r = find_in_path(POLKIT_AGENT_NAME, &binary);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_debug("%s not found in $PATH, going on without a polkit agent.", POLKIT_AGENT_NAME);
                return 0;
        }

        if (pipe2(pipe_fd, O_CLOEXEC) < 0) {
                log_error_errno(-errno, "Failed to start %s, going on without a polkit agent: pipe: %m", binary);
                return 0;
        }
        (void) snprintf(notify_fd_str, sizeof(notify_fd_str), "%i", pipe_fd[1]);

        parent = getpid();
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                log_error_errno(-errno, "Failed to start %s, going on without a polkit agent: fork: %m", binary);
                (void) close(pipe_fd[0]);
                (void) close(pipe_fd[1]);
                return 0;
        }
        if (pid == 0)
                exec_agent(binary, pipe_fd[1], notify_fd_str, parent);

        /* The writing end is the agent's: it closes it once registered with polkit, or
         * exits (it then closes it as well). */
        (void) close(pipe_fd[1]);
        for (;;) {
                ssize_t n = read(pipe_fd[0], buf, sizeof(buf));

                if (n == 0)
                        break;
                if (n < 0 && errno != EINTR) {
                        log_debug("Failed to wait for %s, going on: %s", binary, strerror(errno));
                        break;
                }
        }
        (void) close(pipe_fd[0]);

        log_debug("Started %s as process %i.", binary, (int) pid);
        *ret_pid = pid;
        return 1;
}

void polkit_agent_close(pid_t *pid) {
        if (*pid <= 0)
                return;

        /* SIGCONT too, in case it was stopped (e.g. waiting for the terminal). */
        (void) kill(*pid, SIGTERM);
        (void) kill(*pid, SIGCONT);

        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;

        *pid = 0;
}
