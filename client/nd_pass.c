/*
 * nd_pass: reading a password without echoing it.
 *
 * The prompt goes to /dev/tty, not stdout or stderr, so that it neither
 * lands in a redirected output nor needs a terminal on either.  While echo
 * is off, a SIGINT, SIGTERM, SIGHUP or SIGQUIT restores the terminal before
 * the process ends, so an interrupted prompt never leaves the shell blind.
 */
#include "nd_pass.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "nd_io.h"

static int s_tty = -1;
static struct termios s_saved;

static void
restore_and_die(int sig)
{
    (void)tcsetattr(s_tty, TCSAFLUSH, &s_saved);
    (void)!write(s_tty, "\n", 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Strips one trailing "\n" or "\r\n". */
static size_t
chomp(char *buf, size_t len)
{
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return len;
}

/* Reads one line of at most cap - 1 bytes from fd, a byte at a time so that
 * nothing after the line is consumed.  Returns its length without the
 * newline, or -errno (-EFBIG when the line does not fit). */
static ssize_t
read_line(int fd, char *buf, size_t cap)
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
    return (ssize_t)chomp(buf, len);
}

static int
from_tty(const char *user, const char *host, char *buf, size_t cap, char *err,
         size_t err_len)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa = {.sa_handler = restore_and_die}, old[4];
    struct termios quiet;
    char prompt[256];
    ssize_t n;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

    if (fd < 0 || !isatty(fd)) {
        if (fd >= 0)
            close(fd);
        snprintf(err, err_len,
                 "no password: no terminal to ask on; set NETDISK_PASSWORD "
                 "or use --password-file FILE");
        return -ENOENT;
    }
    if (tcgetattr(fd, &s_saved) < 0) {
        n = -errno;
        goto out_close;
    }
    s_tty = fd;
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &sa, &old[i]);
    quiet = s_saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", user, host);
    (void)nd_io_write_full(fd, prompt, strlen(prompt));
    if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
        n = -errno;
    } else {
        n = read_line(fd, buf, cap);
        (void)tcsetattr(fd, TCSAFLUSH, &s_saved);
    }
    (void)nd_io_write_full(fd, "\n", 1);
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &old[i], NULL);
    s_tty = -1;
out_close:
    close(fd);
    if (n < 0)
        snprintf(err, err_len,
                 "cannot read the password from the terminal: "
                 "%s",
                 strerror((int)-n));
    return (int)n;
}

static int
from_file(const char *file, char *buf, size_t cap, char *err, size_t err_len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t n;

    if (fd < 0) {
        n = -errno;
        snprintf(err, err_len, "password file \"%s\": %s", file,
                 strerror(errno));
        return (int)n;
    }
    n = read_line(fd, buf, cap);
    close(fd);
    if (n < 0)
        snprintf(err, err_len, "password file \"%s\": %s", file,
                 n == -EFBIG ? "first line too long" : strerror((int)-n));
    return (int)n;
}

int
nd_pass_get(const char *file, const char *user, const char *host, char *buf,
            size_t cap, char *err, size_t err_len)
{
    const char *env = getenv("NETDISK_PASSWORD");
    int n;

    if (cap > ND_PASS_MAX + 1)
        cap = ND_PASS_MAX + 1;
    if (file != NULL) {
        n = from_file(file, buf, cap, err, err_len);
    } else if (env != NULL) {
        n = (int)strlen(env);
        if ((size_t)n >= cap) {
            snprintf(err, err_len, "NETDISK_PASSWORD is too long");
            return -EINVAL;
        }
        memcpy(buf, env, (size_t)n + 1);
    } else {
        n = from_tty(user, host, buf, cap, err, err_len);
    }
    if (n == 0) {
        snprintf(err, err_len, "empty password");
        return -EINVAL;
    }
    return n;
}
