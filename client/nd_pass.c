/*
 * nd_pass: reading a password without echoing it.
 *
 * The prompt goes to /dev/tty, not stdout or stderr, so that it neither
 * lands in a redirected output nor needs a terminal on either; nd_tty
 * gives the terminal back whatever happens.
 */
#include "nd_pass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nd_tty.h"

static int
from_tty(const char *user, const char *host, char *buf, size_t cap, char *err,
         size_t err_len)
{
    char prompt[256];
    ssize_t n;
    int fd = nd_tty_open();

    if (fd < 0 || !isatty(fd)) {
        if (fd >= 0)
            close(fd);
        snprintf(err, err_len,
                 "no password: no terminal to ask on; set NETDISK_PASSWORD "
                 "or use --password-file FILE");
        return -ENXIO;
    }
    snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", user, host);
    n = nd_tty_ask_secret(fd, prompt, buf, cap);
    close(fd);
    if (n < 0)
        snprintf(err, err_len, "cannot read the password from the terminal: %s",
                 n == -EFBIG ? "too long" : strerror((int)-n));
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
    n = nd_tty_read_line(fd, buf, cap);
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
