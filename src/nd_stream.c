/*
 * nd_stream: blocking and non-blocking reads and writes over a plain
 * socket or a TLS session, with the retry rules of nd_io for both.
 */
#include "nd_stream.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "nd_io.h"
#include "nd_tls.h"

/* How long the close_notify in nd_stream_close() may wait, in seconds. */
#define CLOSE_TIMEOUT_S 1

void
nd_stream_init(struct nd_stream *s, int fd)
{
    s->fd = fd;
    s->ssl = NULL;
    s->broken = false;
    s->held = NULL;
    s->held_len = s->held_cap = 0;
}

/*
 * Maps the outcome of a failed SSL_read_ex()/SSL_write_ex() to -errno, or 1
 * when the call should simply be repeated (EINTR under the hood).  0 means
 * the peer ended the session with close_notify (or, since the context sets
 * SSL_OP_IGNORE_UNEXPECTED_EOF, a bare TCP close: the frames carry their own
 * lengths, so a truncation is still seen as a short frame).
 */
static int
ssl_failure(struct nd_stream *s, int ret)
{
    int saved = errno;
    int e = SSL_get_error(s->ssl, ret);

    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (saved != EINTR || (e != SSL_ERROR_WANT_READ &&
                           e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_SYSCALL))
        s->broken = true;
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        /* A blocking socket only asks to wait when its timeout expired, or
         * when a signal interrupted the system call. */
        return saved == EINTR ? 1 : -EAGAIN;
    case SSL_ERROR_SYSCALL:
        if (saved == EINTR)
            return 1;
        return saved != 0 ? -saved : -ECONNRESET;
    default:
        return -EPROTO;
    }
}

ssize_t
nd_stream_read_full(struct nd_stream *s, void *buf, size_t len)
{
    size_t got = 0;
    int rc = nd_stream_flush(s);

    if (rc < 0)
        return rc;
    if (s->ssl == NULL)
        return nd_io_recv_full(s->fd, buf, len);
    while (got < len) {
        size_t n = 0;
        int ret;

        /* SSL_get_error() reads the queue: it must hold only this call's. */
        ERR_clear_error();
        errno = 0;
        ret = SSL_read_ex(s->ssl, (char *)buf + got, len - got, &n);

        if (ret > 0) {
            got += n;
            continue;
        }
        ret = ssl_failure(s, ret);
        if (ret == 1)
            continue;
        if (ret == 0)
            break;
        return ret;
    }
    return (ssize_t)got;
}

/* Sends all len bytes now, blocking: nd_stream_send_full() without the
 * holding. */
static ssize_t
send_now(struct nd_stream *s, const void *buf, size_t len)
{
    size_t done = 0;

    if (s->ssl == NULL)
        return nd_io_send_full(s->fd, buf, len);
    while (done < len) {
        size_t n = 0;
        int ret;

        ERR_clear_error();
        errno = 0;
        ret = SSL_write_ex(s->ssl, (const char *)buf + done, len - done, &n);

        if (ret > 0) {
            done += n;
            continue;
        }
        ret = ssl_failure(s, ret);
        if (ret == 1)
            continue;
        return ret == 0 ? -EPIPE : ret;
    }
    return (ssize_t)len;
}

ssize_t
nd_stream_send_full(struct nd_stream *s, const void *buf, size_t len)
{
    /* After a failed send (or TLS call) the stream has a gap or a torn
     * record: nothing sent after it could be read right. */
    if (s->broken)
        return -EPIPE;
    if (s->held != NULL) {
        int rc = 0;

        if (len > s->held_cap - s->held_len)
            rc = nd_stream_flush(s);
        if (rc < 0)
            return rc;
        if (len <= s->held_cap - s->held_len) {
            memcpy(s->held + s->held_len, buf, len);
            s->held_len += len;
            return (ssize_t)len;
        }
    }
    return send_now(s, buf, len);
}

void
nd_stream_hold(struct nd_stream *s, void *buf, size_t cap)
{
    s->held = buf;
    s->held_cap = buf != NULL ? cap : 0;
    s->held_len = 0;
}

int
nd_stream_flush(struct nd_stream *s)
{
    ssize_t n;

    if (s->held_len == 0)
        return 0;
    n = send_now(s, s->held, s->held_len);
    s->held_len = 0;
    /* Bytes were lost: nothing may follow them. */
    if (n < 0)
        s->broken = true;
    return n < 0 ? (int)n : 0;
}

int
nd_stream_release(struct nd_stream *s)
{
    int rc = nd_stream_flush(s);

    nd_stream_hold(s, NULL, 0);
    return rc;
}

void *
nd_stream_hold_room(struct nd_stream *s, size_t *room)
{
    *room = s->held_cap - s->held_len;
    return s->held != NULL ? s->held + s->held_len : NULL;
}

void
nd_stream_hold_commit(struct nd_stream *s, size_t n)
{
    s->held_len += n <= s->held_cap - s->held_len ? n : 0;
}

int
nd_stream_zero_copy(const struct nd_stream *s)
{
    return s->ssl == NULL || BIO_get_ktls_send(SSL_get_wbio(s->ssl));
}

/* Notes what a plain call that found the socket not ready waits for, and
 * that a TLS call that failed otherwise left the session unusable. */
static ssize_t
some_result(struct nd_stream *s, ssize_t n, int *want, int plain_want)
{
    if (n == -EAGAIN && s->ssl == NULL)
        *want = plain_want;
    else if (n < 0 && n != -EAGAIN && s->ssl != NULL)
        s->broken = true;
    return n;
}

static ssize_t
write_nowait(struct nd_stream *s, const void *buf, size_t len, int *want)
{
    ssize_t n = s->ssl == NULL ? nd_io_send_nowait(s->fd, buf, len)
                               : nd_tls_write_nowait(s->ssl, buf, len, want);

    return some_result(s, n, want, ND_TLS_WANT_WRITE);
}

/*
 * Sends what is held without blocking, before a non-blocking call moves
 * newer bytes.  Returns 0 when nothing is held any more, else as
 * write_nowait() does.  A TLS write that found the socket full is offered
 * the same bytes again next time, as OpenSSL requires: they stay at the
 * head of the buffer.
 */
static ssize_t
drain_held(struct nd_stream *s, int *want)
{
    while (s->held_len > 0) {
        ssize_t n = write_nowait(s, s->held, s->held_len, want);

        if (n < 0)
            return n;
        s->held_len -= (size_t)n;
        memmove(s->held, s->held + n, s->held_len);
    }
    return 0;
}

int
nd_stream_flush_nowait(struct nd_stream *s, int *want)
{
    return (int)drain_held(s, want);
}

ssize_t
nd_stream_read_some(struct nd_stream *s, void *buf, size_t len, int *want)
{
    ssize_t n = drain_held(s, want);

    if (n < 0)
        return n;
    n = s->ssl == NULL ? nd_io_recv_nowait(s->fd, buf, len)
                       : nd_tls_read_nowait(s->ssl, buf, len, want);
    return some_result(s, n, want, ND_TLS_WANT_READ);
}

ssize_t
nd_stream_write_some(struct nd_stream *s, const void *buf, size_t len,
                     int *want)
{
    ssize_t n = drain_held(s, want);

    return n < 0 ? n : write_nowait(s, buf, len, want);
}

ssize_t
nd_stream_send_file_some(struct nd_stream *s, int fd, off_t off,
                         const void *buf, size_t len, int *want)
{
    ossl_ssize_t n = drain_held(s, want);
    int e;

    if (n < 0)
        return n;
    if (s->ssl == NULL)
        return some_result(s, nd_io_sendfile_some(s->fd, fd, off, len), want,
                           ND_TLS_WANT_WRITE);
    if (!BIO_get_ktls_send(SSL_get_wbio(s->ssl)))
        return nd_stream_write_some(s, buf, len, want);
    do {
        ERR_clear_error();
        errno = 0;
        n = SSL_sendfile(s->ssl, fd, off, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return (ssize_t)n;
    e = n < 0 ? SSL_get_error(s->ssl, (int)n) : SSL_ERROR_NONE;
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        *want =
            e == SSL_ERROR_WANT_WRITE ? ND_TLS_WANT_WRITE : ND_TLS_WANT_READ;
        return -EAGAIN;
    }
    s->broken = true;
    return n < 0 && errno != 0 ? -errno : -EIO;
}

int
nd_stream_wait(const struct nd_stream *s, int want, int ms)
{
    struct pollfd p = {
        .fd = s->fd,
        .events = want == ND_TLS_WANT_WRITE ? POLLOUT : POLLIN,
    };
    int n = poll(&p, 1, ms);

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n;
}

void
nd_stream_close(struct nd_stream *s)
{
    if (s->ssl != NULL) {
        /* One close_notify, without waiting for the peer's: the session is
         * over either way, and a stalled peer must not hold us.  The
         * socket may be blocking, so bound the send by a short timeout. */
        if (s->fd >= 0) {
            struct timeval tv = {.tv_sec = CLOSE_TIMEOUT_S};

            (void)setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            /* Not after a failure: OpenSSL forbids it after a fatal error,
             * and after a timed-out write it would follow a torn record. */
            if (SSL_is_init_finished(s->ssl) && !s->broken)
                (void)SSL_shutdown(s->ssl);
        }
        ERR_clear_error();
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    /* A request the peer pipelined and we never read (the daemon closes
     * after the transfer in hand when it stops) would turn the close into
     * a reset that drops the end of that transfer on its way out. */
    nd_io_discard_input(s->fd);
    nd_io_close(&s->fd);
    nd_stream_hold(s, NULL, 0);
}
