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
    bool broken; /* a send or a TLS call failed: nothing more may be sent
                    (nd_stream_send_full then fails), no close_notify */
    /* Bytes held back to go out with the next ones (nd_stream_hold):
     * held_len of held_cap in held, which is borrowed; NULL: not holding. */
    unsigned char *held;
    size_t held_len, held_cap;
};

/* Makes s a plaintext stream over fd, not holding. */
void nd_stream_init(struct nd_stream *s, int fd);

/*
 * Holding: several small frames leave in one send, so that the peer is
 * woken once for them rather than once each (a reply and the reply to a
 * pipelined request behind it; a small file with its header and trailer).
 * After nd_stream_hold(), nd_stream_send_full() appends to buf (cap bytes,
 * borrowed until nd_stream_release()) instead of sending, as long as the
 * bytes fit; what does not fit first sends what is held.  Every other call
 * that reads or writes the stream sends what is held first, so the bytes
 * keep their order and nothing held can wait for a peer that waits for
 * it: the blocking calls send it blocking, the non-blocking ones without
 * blocking (returning -EAGAIN, want set to write, until it is all out).
 * Holding only delays bytes; the caller releases before it hands the
 * stream to anyone else or stops using it.
 */
void nd_stream_hold(struct nd_stream *s, void *buf, size_t cap);

/* Sends what is held, blocking (bounded by the socket's timeout), and
 * keeps holding.  Returns 0 or -errno (then what was held is dropped: the
 * stream is unusable). */
int nd_stream_flush(struct nd_stream *s);

/* Sends what is held without blocking.  Returns 0 when it is all out, or
 * -EAGAIN (*want set) with the rest still held, or -errno. */
int nd_stream_flush_nowait(struct nd_stream *s, int *want);

/* nd_stream_flush(), then stops holding: buf is the caller's again. */
int nd_stream_release(struct nd_stream *s);

/*
 * The free part of the hold buffer, for a caller that reads bytes straight
 * into it: returns where they go and sets *room (0 and NULL when not
 * holding).  nd_stream_hold_commit() then appends n <= *room of them.
 */
void *nd_stream_hold_room(struct nd_stream *s, size_t *room);
void nd_stream_hold_commit(struct nd_stream *s, size_t n);

/*
 * Reads until len bytes arrived or the peer ended the stream.  Returns the
 * count (short only at the end), or -errno: -EAGAIN for a timeout, -EPROTO
 * for a TLS failure (bad record, failed MAC...).
 */
ssize_t nd_stream_read_full(struct nd_stream *s, void *buf, size_t len);

/* Sends all len bytes (or, while holding, keeps them; see above); a closed
 * peer gives -EPIPE, never SIGPIPE in the daemon (it ignores SIGPIPE).
 * Returns len or -errno. */
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
 * long, then SSL_free(); then close(2).  Anything still held is dropped.
 * Safe on a closed stream.
 */
void nd_stream_close(struct nd_stream *s);

#endif
