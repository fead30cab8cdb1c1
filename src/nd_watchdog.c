/*
 * nd_watchdog: fork, signals to the exit pipe, waitpid, restart with back-off.
 */
#include "nd_watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_log.h"

#define RESTART_WINDOW 60.0
#define BACKOFF_FIRST_MS 100

static volatile sig_atomic_t s_stop_sig;
static volatile sig_atomic_t s_hup;
static int s_pipe_w = -1;

static void
on_signal(int sig)
{
    int saved = errno;
    char b = 1;

    if (sig == SIGHUP) {
        s_hup = 1;
    } else {
        s_stop_sig = sig;
        /* A full pipe already holds a byte, which means "stop" just as well. */
        (void) !write(s_pipe_w, &b, 1);
    }
    errno = saved;
}

static int
install_handlers(sigset_t *blocked)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a signal must interrupt waitpid() and poll(). */
    sigemptyset(blocked);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(blocked, sigs[i]);
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -errno;
    }
    return 0;
}

static pid_t
spawn(nd_pool_main_fn pool_main, void *arg, int exit_r, int exit_w)
{
    pid_t pid = fork();

    if (pid == 0) {
        sigset_t all;
        int fd = exit_w;

        /* The pool process handles no signal: it blocks them all in every
         * thread and listens to the exit pipe instead. */
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        nd_io_close(&fd);
        _exit(pool_main(arg, exit_r));
    }
    return pid;
}

/* Waits for pid, logging SIGHUP and stop requests as they come. */
static int
reap(pid_t pid, int *status)
{
    bool told = false;

    for (;;) {
        if (waitpid(pid, status, 0) == pid)
            return 0;
        if (errno != EINTR)
            return -errno;
        if (s_hup) {
            s_hup = 0;
            nd_log(ND_LOG_INFO, "SIGHUP: configuration reload is not "
                                "supported; ignoring (restart to reload)");
        }
        if (s_stop_sig != 0 && !told) {
            told = true;
            nd_log(ND_LOG_INFO, "%s: stopping pool process %ld",
                   strsignal(s_stop_sig), (long) pid);
        }
    }
}

int
nd_watchdog_run(nd_pool_main_fn pool_main, void *arg)
{
    double window = nd_io_now();
    int p[2], restarts = 0;
    sigset_t blocked;

    if (pipe2(p, O_CLOEXEC) < 0 || nd_io_set_nonblock(p[1], true) < 0) {
        nd_log(ND_LOG_ERR, "pipe2() failed: %s", strerror(errno));
        return 1;
    }
    s_pipe_w = p[1];
    if (install_handlers(&blocked) < 0) {
        nd_log(ND_LOG_ERR, "sigaction() failed: %s", strerror(errno));
        return 1;
    }
    for (;;) {
        int status, delay_ms;
        pid_t pid;

        /* Blocked across fork, so the child never runs our handler. */
        sigprocmask(SIG_BLOCK, &blocked, NULL);
        pid = spawn(pool_main, arg, p[0], p[1]);
        sigprocmask(SIG_UNBLOCK, &blocked, NULL);
        if (pid < 0) {
            nd_log(ND_LOG_ERR, "fork() failed: %s", strerror(errno));
            return 1;
        }
        nd_log(ND_LOG_DEBUG, "pool process %ld started", (long) pid);
        if (reap(pid, &status) < 0) {
            nd_log(ND_LOG_ERR, "waitpid() failed: %s", strerror(errno));
            return 1;
        }
        if (s_stop_sig != 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
            return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        if (nd_io_now() - window > RESTART_WINDOW) {
            window = nd_io_now();
            restarts = 0;
        }
        if (++restarts > ND_WATCHDOG_MAX_RESTARTS) {
            nd_log(ND_LOG_ERR, "pool process died %d times within %.0fs: "
                               "giving up", restarts, RESTART_WINDOW);
            return 1;
        }
        delay_ms = BACKOFF_FIRST_MS << (restarts - 1);
        if (WIFSIGNALED(status))
            nd_log(ND_LOG_ERR,
                   "pool process %ld killed by signal %d (%s); restarting "
                   "in %d ms",
                   (long) pid, WTERMSIG(status), strsignal(WTERMSIG(status)),
                   delay_ms);
        else
            nd_log(ND_LOG_ERR,
                   "pool process %ld exited with status %d; restarting in "
                   "%d ms",
                   (long) pid, WEXITSTATUS(status), delay_ms);
        /* Sleep, but wake for a stop signal: its byte makes p[0] readable. */
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        (void) poll(&pfd, 1, delay_ms);
        if (s_stop_sig != 0)
            return 0;
    }
}
