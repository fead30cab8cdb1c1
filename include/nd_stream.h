/*
 * nd_stream: one connection's byte stream, plain or TLS.
 *
 * The workers, the client and the test tools move frames and file bytes
 * through a struct nd_stream so that the same code serves a plaintext
 * socket and a TLS session.  The loops for the plain case are nd_io's; for
 * TLS the socket is blocking with SO_RCVTIMEO/SO_SNDTIMEO, so a timeout
 * surfaces from OpenSSL as "want read/write" and comes back here as
 * -EAGAIN, the same as nd_io.  Nothing here logs.  A stream is used by one
 * thread at a time; handing it to another thread needs a happens-before
 * edge (the task queue's mutex provides one).
 */
#ifndef ND_STREAM_H
#define ND_STREAM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct nd_stream {
    int fd;      /* the socket; owned by whoever owns the stream */
    SSL *ssl;    /* NULL for plaintext; owned with the stream when set */
    bool broken; /* a TLS call failed: no close_notify may follow */
};

/* Makes s a plaintext stream over fd. */
void nd_stream_init(struct nd_stream *s, int fd);

/*
 * Reads until len bytes arrived or the peer ended the stream.  Returns the
 * count (short only at the end), or -errno: -EAGAIN for a timeout, -EPROTO
 * for a TLS failure (bad record, failed MAC...).
 */
ssize_t nd_stream_read_full(struct nd_stream *s, void *buf, size_t len);

/* Sends all len bytes; a closed peer gives -EPIPE, never SIGPIPE in the
 * daemon (it ignores SIGPIPE).  Returns len or -errno. */
ssize_t nd_stream_send_full(struct nd_stream *s, const void *buf, size_t len);

/*
 * Non-blocking calls, for a transfer that parks with the reactor when its
 * socket is not ready (nd_transfer); the socket must be O_NONBLOCK.  Each
 * returns a count (> 0), or -EAGAIN with *want set to ND_TLS_WANT_READ or
 * ND_TLS_WANT_WRITE (nd_tls.h) for what to wait for (a TLS read may have to
 * write first, and the other way round), or -errno; read_some returns 0 at
 * the end of the stream.  After -EAGAIN from a TLS write the same bytes
 * must be offered again with the same length.  send_file_some sends from
 * file fd at off (sendfile(2), or SSL_sendfile() with kernel TLS, zero-copy
 * from the page cache), or from buf (the same bytes, already read) when
 * the stream encrypts in user space; -EIO means the file ended early.
 */
ssize_t nd_stream_read_some(struct nd_stream *s, void *buf, size_t len,
                            int *want);
ssize_t nd_stream_write_some(struct nd_stream *s, const void *buf, size_t len,
                             int *want);
ssize_t nd_stream_send_file_some(struct nd_stream *s, int fd, off_t off,
                                 const void *buf, size_t len, int *want);
/* Waits up to ms milliseconds for what want names.  Returns 1 when the
 * socket is ready (or in error: the next call says which), 0 when the time
 * ran out, or -errno. */
int nd_stream_wait(const struct nd_stream *s, int want, int ms);

/* True when file bytes go out without passing through user space. */
int nd_stream_zero_copy(const struct nd_stream *s);

/*
 * Ends the stream: for TLS a best-effort close_notify that never blocks for
 * long, then SSL_free(); then close(2).  Safe on a closed stream.
 */
void nd_stream_close(struct nd_stream *s);

#endif
