/*
 * nd_tty: a no-echo prompt that always gives the terminal back.
 */
#include "nd_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "nd_io.h"

/* The terminal whose modes a signal handler must restore, or -1. */
static volatile sig_atomic_t s_tty = -1;
static struct termios s_saved;

/* The signals that end the process while echo is off. */
static const int s_fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_FATAL ((int)(sizeof(s_fatal) / sizeof(s_fatal[0])))

/* Restores the terminal, then lets the signal end the process as it would
 * have.  Only async-signal-safe calls. */
static void
restore_and_die(int sig)
{
    int fd = s_tty;

    if (fd >= 0) {
        (void)tcsetattr(fd, TCSAFLUSH, &s_saved);
        (void)!write(fd, "\n", 1);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

ssize_t
nd_tty_read_line(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    for (;;) {
        char ch;
        ssize_t n = nd_io_read_some(fd, &ch, 1);

        if (n < 0)
            return n;
        if (n == 0 || ch == '\n')
            break;
        if (len + 1 >= cap)
            return -EFBIG;
        buf[len++] = ch;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return (ssize_t)len;
}

int
nd_tty_open(void)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

    return fd < 0 ? -errno : fd;
}

ssize_t
nd_tty_ask_secret(int tty, const char *prompt, char *buf, size_t cap)
{
    struct sigaction sa = {.sa_handler = restore_and_die}, old[N_FATAL];
    struct termios quiet;
    sigset_t stop, oldmask;
    ssize_t n;

    if (tcgetattr(tty, &s_saved) < 0)
        return -errno;
    /* Ctrl-Z would stop us with echo off: hold the stop signals until the
     * modes are back. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTSTP);
    sigaddset(&stop, SIGTTIN);
    sigaddset(&stop, SIGTTOU);
    sigprocmask(SIG_BLOCK, &stop, &oldmask);
    sigemptyset(&sa.sa_mask);
    s_tty = tty;
    for (int i = 0; i < N_FATAL; i++) {
        sigaction(s_fatal[i], NULL, &old[i]);
        /* What the caller ignores (nohup) stays ignored. */
        if (old[i].sa_handler != SIG_IGN)
            sigaction(s_fatal[i], &sa, NULL);
    }
    quiet = s_saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    (void)nd_io_write_full(tty, prompt, strlen(prompt));
    if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
        n = -errno;
    } else {
        n = nd_tty_read_line(tty, buf, cap);
        (void)tcsetattr(tty, TCSAFLUSH, &s_saved);
    }
    /* Echo was off, so the user's Enter did not move the cursor. */
    (void)nd_io_write_full(tty, "\n", 1);
    for (int i = 0; i < N_FATAL; i++)
        sigaction(s_fatal[i], &old[i], NULL);
    s_tty = -1;
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    return n;
}
