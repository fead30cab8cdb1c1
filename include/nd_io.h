/*
 * nd_io: the only place with read/write/send/recv/sendfile retry loops.
 *
 * Every loop here advances by whatever count the kernel returns, retries on
 * EINTR, and reports anything else as -errno.  On a blocking socket with
 * SO_RCVTIMEO/SO_SNDTIMEO set, a timeout surfaces as -EAGAIN.  Nothing here
 * logs or keeps state; all functions are safe from any thread.
 */
#ifndef ND_IO_H
#define ND_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The unit in which file bytes are moved: large enough to amortise system
 * calls and digest updates, small enough to stay in cache. */
#define ND_IO_CHUNK (1024u * 1024u)

/*
 * Reads until len bytes arrived or EOF.  Returns the count read (short only
 * at EOF), or -errno.  Works on files and sockets.
 */
ssize_t nd_io_read_full(int fd, void *buf, size_t len);

/*
 * nd_io_read_full() for a stream socket: recv with MSG_WAITALL, so that a
 * large read sleeps until the whole buffer is there (or EOF, a timeout, a
 * signal) instead of waking for every segment.  Same returns; a timeout
 * after a partial read returns -EAGAIN on the next try, as read would.
 */
ssize_t nd_io_recv_full(int sock, void *buf, size_t len);

/* One read(2) that retries EINTR.  Returns a count (0 at EOF) or -errno,
 * including -EAGAIN on a non-blocking fd with nothing to read. */
ssize_t nd_io_read_some(int fd, void *buf, size_t len);

/* One recv(2) with MSG_DONTWAIT, retrying EINTR, for the reactor, which
 * must never block.  Returns a count (0 at EOF) or -errno (-EAGAIN when
 * nothing is ready). */
ssize_t nd_io_recv_nowait(int sock, void *buf, size_t len);

/* One send(2) with MSG_DONTWAIT|MSG_NOSIGNAL, retrying EINTR: a best-effort
 * reply from the reactor.  Returns the count sent or -errno. */
ssize_t nd_io_send_nowait(int sock, const void *buf, size_t len);

/*
 * Allocates a transfer buffer of len bytes, aligned to a page.  The kernel
 * copies to and from user memory with `rep movsb`, which is far slower when
 * the user address is not aligned, and malloc() returns large blocks 16
 * bytes past a page: on this project's 2-core machines a 1 GiB get spent
 * 1.46-1.66 s of client system time with a malloc()ed ring, 1.00-1.16 s
 * with an aligned one (docs/benchmarks.md).  Returns the buffer, which the
 * caller frees with free(), or NULL with errno set.  Thread-safe.
 */
void *nd_io_buf_alloc(size_t len);

/* Writes all len bytes to a file or pipe.  Returns len or -errno. */
ssize_t nd_io_write_full(int fd, const void *buf, size_t len);

/* Sends all len bytes with MSG_NOSIGNAL, so a closed peer gives -EPIPE and
 * never SIGPIPE.  Returns len or -errno. */
ssize_t nd_io_send_full(int sock, const void *buf, size_t len);

/* Reads exactly len bytes at offset off.  Returns len, or -EIO when the file
 * ended first (it shrank under us), or -errno. */
ssize_t nd_io_pread_full(int fd, void *buf, size_t len, off_t off);

/*
 * One sendfile(2) of at most len bytes, capped at ND_IO_CHUNK (far below
 * the 2 GiB per-call limit), retrying EINTR, on a non-blocking socket, for
 * a transfer that parks when the socket is full.  Falls back to one pread
 * and one send of at most 64 KiB where the file system does not support
 * sendfile (EINVAL/ENOSYS).  Returns the count sent (> 0), -EAGAIN when
 * the socket is full, -EIO when the file ended early, or -errno.
 */
ssize_t nd_io_sendfile_some(int sock, int fd, off_t off, size_t len);

/* Sets or clears O_NONBLOCK.  Returns 0 or -errno. */
int nd_io_set_nonblock(int fd, bool on);

/*
 * Closes *fd once and sets it to -1; does nothing when *fd < 0.  EINTR from
 * close(2) is not retried: on Linux the descriptor is already gone.
 */
void nd_io_close(int *fd);

/*
 * Reads and drops what has arrived on socket sock and not been read, without
 * waiting, at most ND_IO_DISCARD_MAX bytes; for just before a close.  Linux
 * answers close(2) of a socket with unread input by a reset, which also
 * drops what the socket still had to send: a request pipelined behind a
 * transfer would cut that transfer's tail.  Safe from any thread.
 */
#define ND_IO_DISCARD_MAX (256u * 1024u)
void nd_io_discard_input(int sock);

/* Monotonic clock in seconds, as a double, for durations and deadlines. */
double nd_io_now(void);

/*
 * Fills buf with len bytes from the kernel's random number generator
 * (getrandom(2); it blocks only until the generator is first seeded at
 * boot), retrying after EINTR and short reads.  This, not OpenSSL's
 * RAND_bytes, is where nonces, salts, ticket ids and temporary names come
 * from: OpenSSL's generator seeds itself from the same source, and setting
 * it up for the one nonce a client command needs cost about 3.6 million of
 * the 42 million instructions of a short command (docs/benchmarks.md).
 * Returns 0 or -errno.  Safe from any thread.
 */
int nd_io_random(void *buf, size_t len);

#endif
