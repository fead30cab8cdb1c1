/*
 * nd_io: short-count and EINTR handling for every transfer loop, written once
 * (the vsftpd sysutil idea).  Callers see a full count or a negative errno.
 */
#include "nd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The alignment of transfer buffers: a page. */
#define BUF_ALIGN 4096

void *
nd_io_buf_alloc(size_t len)
{
    void *p = NULL;
    int rc = posix_memalign(&p, BUF_ALIGN, len);

    if (rc != 0) {
        errno = rc;
        return NULL;
    }
    return p;
}

/* Reads until len bytes or EOF: with read(2), or for a socket with
 * recv(MSG_WAITALL) when sock is set.  The one loop behind both. */
static ssize_t
read_full(int fd, void *buf, size_t len, bool sock)
{
    size_t done = 0;

    while (done < len) {
        char *at = (char *) buf + done;
        ssize_t n = sock ? recv(fd, at, len - done, MSG_WAITALL)
                         : read(fd, at, len - done);
        if (n > 0)
            done += (size_t) n;
        else if (n == 0)
            break; /* EOF: report the short count */
        else if (errno != EINTR)
            return -errno;
    }
    return (ssize_t) done;
}

ssize_t
nd_io_read_full(int fd, void *buf, size_t len)
{
    return read_full(fd, buf, len, false);
}

ssize_t
nd_io_recv_full(int sock, void *buf, size_t len)
{
    return read_full(sock, buf, len, true);
}

ssize_t
nd_io_read_some(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t
nd_io_recv_nowait(int sock, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(sock, buf, len, MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t
nd_io_send_nowait(int sock, const void *buf, size_t len)
{
    for (;;) {
        ssize_t n = send(sock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t
nd_io_write_full(int fd, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, (const char *) buf + done, len - done);
        if (n > 0)
            done += (size_t) n;
        else if (n == 0)
            return -EIO; /* a regular file never does this; don't spin */
        else if (errno != EINTR)
            return -errno;
    }
    return (ssize_t) done;
}

ssize_t
nd_io_send_full(int sock, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = send(sock, (const char *) buf + done, len - done,
                         MSG_NOSIGNAL);
        if (n >= 0)
            done += (size_t) n;
        else if (errno != EINTR)
            return -errno; /* includes EAGAIN: the send timeout expired */
    }
    return (ssize_t) done;
}

ssize_t
nd_io_pread_full(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, (char *) buf + done, len - done,
                          off + (off_t) done);
        if (n > 0)
            done += (size_t) n;
        else if (n == 0)
            return -EIO; /* the file shrank under us */
        else if (errno != EINTR)
            return -errno;
    }
    return (ssize_t) done;
}

/* The bounce buffer of the fallback for files whose file system lacks
 * sendfile: one per thread. */
static _Thread_local char s_bounce[64 * 1024];

ssize_t
nd_io_sendfile_some(int sock, int fd, off_t off, size_t len)
{
    ssize_t n;

    if (len > ND_IO_CHUNK)
        len = ND_IO_CHUNK;
    do
        n = sendfile(sock, fd, &off, len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n == 0)
        return -EIO; /* the file was truncated */
    if (errno == EWOULDBLOCK)
        return -EAGAIN;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    if (len > sizeof(s_bounce))
        len = sizeof(s_bounce);
    n = nd_io_pread_full(fd, s_bounce, len, off);
    return n < 0 ? n : nd_io_send_nowait(sock, s_bounce, len);
}

int
nd_io_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (fcntl(fd, F_SETFL, fl) < 0)
        return -errno;
    return 0;
}

void
nd_io_close(int *fd)
{
    if (*fd < 0)
        return;
    (void) close(*fd);
    *fd = -1;
}

void
nd_io_discard_input(int sock)
{
    char buf[16384];
    size_t total = 0;

    while (sock >= 0 && total < ND_IO_DISCARD_MAX) {
        ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0)
            total += (size_t) n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break; /* nothing more now, the peer's FIN, or an error */
    }
}

double
nd_io_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
nd_io_random(void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = getrandom((char *) buf + done, len - done, 0);

        if (n < 0 && errno != EINTR)
            return -errno;
        if (n == 0)
            return -EIO; /* never for len > 0; no endless loop either way */
        if (n > 0)
            done += (size_t) n;
    }
    return 0;
}
