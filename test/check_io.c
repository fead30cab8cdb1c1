/*
 * Unit tests for nd_io, nd_wire, nd_stream's holding and nd_notify over
 * real sockets: short counts through a tiny socket buffer, EOF in the
 * middle, sendfile of a file that shrinks, whole frames, held bytes that
 * leave together and in order, and the sd_notify datagram.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_notify.h"
#include "nd_stream.h"
#include "nd_tls.h"
#include "nd_wire.h"

#define BIG (3u * 1024u * 1024u + 17u)

struct reader {
    int fd;
    uint8_t *buf;
    size_t want;
    ssize_t got;
};

static void *
reader_main(void *arg)
{
    struct reader *r = arg;

    r->got = nd_io_read_full(r->fd, r->buf, r->want);
    return NULL;
}

static void
tiny_buffers(int sv[2])
{
    int small = 4096;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

static uint8_t *
pattern(size_t n)
{
    uint8_t *p = malloc(n);

    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t) (i * 131 + (i >> 11));
    return p;
}

START_TEST(test_send_read_full_short_counts)
{
    struct reader r;
    pthread_t t;
    uint8_t *src = pattern(BIG);
    int sv[2];

    tiny_buffers(sv);
    r.fd = sv[1];
    r.want = BIG;
    r.buf = calloc(1, BIG);
    pthread_create(&t, NULL, reader_main, &r);
    /* A 4 KiB buffer forces hundreds of partial sends and reads. */
    ck_assert_int_eq(nd_io_send_full(sv[0], src, BIG), (ssize_t) BIG);
    pthread_join(t, NULL);
    ck_assert_int_eq(r.got, (ssize_t) BIG);
    ck_assert_mem_eq(r.buf, src, BIG);
    close(sv[0]);
    close(sv[1]);
    free(r.buf);
    free(src);
}
END_TEST

START_TEST(test_read_full_eof_midway)
{
    uint8_t buf[100];
    int sv[2];

    tiny_buffers(sv);
    ck_assert_int_eq(nd_io_send_full(sv[0], "0123456789", 10), 10);
    close(sv[0]);
    /* EOF after 10 of 100 bytes: the short count, not an error. */
    ck_assert_int_eq(nd_io_read_full(sv[1], buf, sizeof(buf)), 10);
    ck_assert_int_eq(nd_io_read_full(sv[1], buf, sizeof(buf)), 0);
    close(sv[1]);
}
END_TEST

START_TEST(test_send_to_closed_peer)
{
    int sv[2];

    tiny_buffers(sv);
    close(sv[1]);
    /* MSG_NOSIGNAL: EPIPE comes back as an error, not as SIGPIPE. */
    ck_assert_int_eq(nd_io_send_full(sv[0], "x", 1), -EPIPE);
    close(sv[0]);
}
END_TEST

static int
temp_file(const uint8_t *data, size_t n)
{
    char path[] = "/tmp/nd_check_io.XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(nd_io_write_full(fd, data, n), (ssize_t) n);
    return fd;
}

/*
 * Sends len bytes of fd from off with nd_io_sendfile_some() over the
 * non-blocking sock, waiting (bounded) whenever the socket is full, as a
 * transfer does between parks.  Returns the count or the first error.
 */
static ssize_t
sendfile_all(int sock, int fd, off_t off, size_t len)
{
    size_t done = 0;

    ck_assert_int_eq(nd_io_set_nonblock(sock, true), 0);
    while (done < len) {
        ssize_t n = nd_io_sendfile_some(sock, fd, off + (off_t) done,
                                        len - done);
        struct pollfd p = {.fd = sock, .events = POLLOUT};

        if (n == -EAGAIN) {
            ck_assert_int_eq(poll(&p, 1, 10000), 1);
            continue;
        }
        if (n < 0)
            return n;
        ck_assert_int_le(n, (ssize_t) ND_IO_CHUNK);
        done += (size_t) n;
    }
    return (ssize_t) done;
}

START_TEST(test_sendfile_some)
{
    uint8_t *src = pattern(BIG);
    struct reader r;
    pthread_t t;
    int sv[2], fd = temp_file(src, BIG);

    tiny_buffers(sv);
    r.fd = sv[1];
    r.want = BIG - 1000;
    r.buf = calloc(1, BIG);
    pthread_create(&t, NULL, reader_main, &r);
    ck_assert_int_eq(sendfile_all(sv[0], fd, 1000, BIG - 1000),
                     (ssize_t) (BIG - 1000));
    pthread_join(t, NULL);
    ck_assert_int_eq(r.got, (ssize_t) (BIG - 1000));
    ck_assert_mem_eq(r.buf, src + 1000, BIG - 1000);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    free(r.buf);
    free(src);
}
END_TEST

START_TEST(test_file_shrank)
{
    uint8_t *src = pattern(8192), buf[8192];
    int sv[2], fd = temp_file(src, 8192);

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(ftruncate(fd, 4096), 0);
    /* Promised 8192 bytes, the file has 4096: the first 4096 go, then an
     * error, never success. */
    ck_assert_int_eq(nd_io_sendfile_some(sv[0], fd, 0, 8192), 4096);
    ck_assert_int_eq(nd_io_sendfile_some(sv[0], fd, 4096, 4096), -EIO);
    ck_assert_int_eq(nd_io_pread_full(fd, buf, 8192, 0), -EIO);
    ck_assert_int_eq(nd_io_pread_full(fd, buf, 4096, 0), 4096);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    free(src);
}
END_TEST

START_TEST(test_recv_nowait_and_close)
{
    char buf[4];
    int sv[2];

    tiny_buffers(sv);
    ck_assert_int_eq(nd_io_recv_nowait(sv[1], buf, sizeof(buf)), -EAGAIN);
    ck_assert_int_eq(nd_io_send_nowait(sv[0], "ab", 2), 2);
    ck_assert_int_eq(nd_io_recv_nowait(sv[1], buf, sizeof(buf)), 2);
    nd_io_close(&sv[0]);
    ck_assert_int_eq(sv[0], -1);
    nd_io_close(&sv[0]); /* a second close is a no-op */
    ck_assert_int_eq(nd_io_recv_nowait(sv[1], buf, sizeof(buf)), 0);
    nd_io_close(&sv[1]);
}
END_TEST

/* What arrived unread is dropped without waiting, and the peer's data
 * sent afterwards is still there to read: nothing blocks, nothing more is
 * taken. */
START_TEST(test_discard_input)
{
    char buf[64];
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    nd_io_discard_input(sv[1]); /* nothing there: returns at once */
    ck_assert_int_eq(nd_io_send_full(sv[0], "pipelined request", 17), 17);
    nd_io_discard_input(sv[1]);
    ck_assert_int_eq(nd_io_recv_nowait(sv[1], buf, sizeof(buf)), -EAGAIN);
    ck_assert_int_eq(nd_io_send_full(sv[0], "later", 5), 5);
    ck_assert_int_eq(nd_io_recv_nowait(sv[1], buf, sizeof(buf)), 5);
    nd_io_discard_input(-1); /* no socket: a no-op */
    nd_io_close(&sv[0]);
    nd_io_discard_input(sv[1]); /* the peer's FIN ends it too */
    nd_io_close(&sv[1]);
}
END_TEST

/* Transfer buffers start on a page, whatever their size, and are whole:
 * the kernel copies into every byte of them. */
START_TEST(test_buf_alloc_aligned)
{
    static const size_t lens[] = {1, 4095, ND_IO_CHUNK, 8 * ND_IO_CHUNK + 17};

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t *b = nd_io_buf_alloc(lens[i]);

        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq((uintptr_t)b % 4096, 0);
        memset(b, 0xa5, lens[i]);
        ck_assert_uint_eq(b[lens[i] - 1], 0xa5);
        free(b);
    }
}
END_TEST

/* Does nothing: the signal is there to interrupt getrandom(2). */
static void
on_alarm(int sig)
{
    (void)sig;
}

/*
 * nd_io_random fills every byte of a request while signals keep arriving.
 * getrandom(2) stops at a signal: with some of a large request done it
 * returns that much, with none it fails with EINTR.  A 16 MiB request
 * under a 200 us interval timer (no SA_RESTART) usually meets both; a
 * loop that took a short count for the whole would leave its tail as it
 * was.  Two draws must also differ.
 */
START_TEST(test_random)
{
    enum { LEN = 16 * 1024 * 1024 };
    struct sigaction sa, old;
    struct itimerval tick = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    uint8_t *b = malloc(LEN), x[32], y[32];
    size_t same = 0;
    int rc;

    ck_assert_ptr_nonnull(b);
    memset(b, 0xa5, LEN);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
    ck_assert_int_eq(setitimer(ITIMER_REAL, &tick, NULL), 0);
    rc = nd_io_random(b, LEN);
    ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
    ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
    ck_assert_int_eq(rc, 0);
    /* About LEN / 256 bytes keep 0xa5 by chance; an unfilled part keeps
     * many more. */
    for (size_t i = 0; i < LEN; i++)
        same += b[i] == 0xa5;
    ck_assert_uint_lt(same, 2 * LEN / 256);
    ck_assert_uint_ne(b[LEN - 1] == 0xa5 && b[LEN - 2] == 0xa5 &&
                          b[LEN - 3] == 0xa5 && b[LEN - 4] == 0xa5,
                      1);
    free(b);
    ck_assert_int_eq(nd_io_random(x, sizeof(x)), 0);
    ck_assert_int_eq(nd_io_random(y, sizeof(y)), 0);
    ck_assert_int_ne(memcmp(x, y, sizeof(x)), 0);
    ck_assert_int_eq(nd_io_random(x, 0), 0);
}
END_TEST

START_TEST(test_wire_frames)
{
    uint8_t frame[64], body[64];
    struct nd_hdr h;
    char msg[64];
    size_t len;
    struct nd_stream a, b;
    int sv[2];

    tiny_buffers(sv);
    nd_stream_init(&a, sv[0]);
    nd_stream_init(&b, sv[1]);
    ck_assert_int_eq(nd_wire_send_error(&a, ND_E_NOENT, "gone"), 0);
    ck_assert_int_eq(nd_wire_expect(&b, ND_T_FILE, body, sizeof(body),
                                     &len, msg, sizeof(msg)),
                     ND_E_NOENT);
    ck_assert_str_eq(msg, "gone");
    /* A frame larger than the caller's buffer is refused, not overflowed. */
    ck_assert_int_eq(nd_wire_send(&a, frame,
                                  nd_proto_end_encode(frame, sizeof(frame), 1)),
                     0);
    ck_assert_int_eq(nd_wire_recv(&b, &h, body, 4), -EMSGSIZE);
    close(sv[0]);
    close(sv[1]);
    tiny_buffers(sv);
    nd_stream_init(&b, sv[1]);
    /* Half a header then EOF: the connection was reset mid-frame. */
    ck_assert_int_eq(nd_io_send_full(sv[0], frame, 3), 3);
    close(sv[0]);
    ck_assert_int_eq(nd_wire_recv(&b, &h, body, sizeof(body)),
                     -ECONNRESET);
    ck_assert_int_eq(nd_wire_recv(&b, &h, body, sizeof(body)), -ENODATA);
    close(sv[1]);
}
END_TEST

/* What is readable on fd now, without waiting: the count (0 for none). */
static ssize_t
readable_now(int fd, void *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);

    if (n < 0)
        ck_assert_int_eq(errno, EAGAIN);
    return n < 0 ? 0 : n;
}

START_TEST(test_stream_hold)
{
    uint8_t hold[64], buf[256], big[100];
    struct nd_stream a;
    size_t room;
    uint8_t *p;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    nd_stream_init(&a, sv[0]);
    nd_stream_hold(&a, hold, sizeof(hold));
    /* Held: nothing leaves until the flush, then all of it at once. */
    ck_assert_int_eq(nd_stream_send_full(&a, "abc", 3), 3);
    ck_assert_int_eq(nd_stream_send_full(&a, "defg", 4), 4);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 0);
    ck_assert_int_eq(nd_stream_flush(&a), 0);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 7);
    ck_assert_mem_eq(buf, "abcdefg", 7);
    /* Bytes that do not fit send what is held first: order is kept. */
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(nd_stream_send_full(&a, "12", 2), 2);
    ck_assert_int_eq(nd_stream_send_full(&a, big, sizeof(big)), 100);
    ck_assert_int_eq(nd_io_recv_full(sv[1], buf, 102), 102);
    ck_assert_mem_eq(buf, "12", 2);
    ck_assert_mem_eq(buf + 2, big, sizeof(big));
    /* Read straight into the buffer, then released: sent, and no longer
     * holding. */
    p = nd_stream_hold_room(&a, &room);
    ck_assert_ptr_eq(p, hold);
    ck_assert_uint_eq(room, sizeof(hold));
    memcpy(p, "xyz", 3);
    nd_stream_hold_commit(&a, 3);
    ck_assert_int_eq(nd_stream_release(&a), 0);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 3);
    ck_assert_mem_eq(buf, "xyz", 3);
    ck_assert_ptr_null(nd_stream_hold_room(&a, &room));
    ck_assert_int_eq(nd_stream_send_full(&a, "now", 3), 3);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 3);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_stream_hold_before_other_calls)
{
    uint8_t hold[64], buf[64];
    struct nd_stream a;
    int sv[2], want = 0;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    nd_stream_init(&a, sv[0]);
    nd_stream_hold(&a, hold, sizeof(hold));
    /* A non-blocking write sends what is held before its own bytes. */
    ck_assert_int_eq(nd_stream_send_full(&a, "head", 4), 4);
    ck_assert_int_eq(nd_io_set_nonblock(sv[0], true), 0);
    ck_assert_int_eq(nd_stream_write_some(&a, "tail", 4, &want), 4);
    ck_assert_int_eq(nd_io_set_nonblock(sv[0], false), 0);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 8);
    ck_assert_mem_eq(buf, "headtail", 8);
    /* A blocking read sends what is held before it waits for the peer
     * (here the peer's answer is already there, so it does not wait). */
    ck_assert_int_eq(nd_stream_send_full(&a, "ping", 4), 4);
    ck_assert_int_eq(nd_io_send_full(sv[1], "pong", 4), 4);
    ck_assert_int_eq(nd_stream_read_full(&a, buf, 4), 4);
    ck_assert_mem_eq(buf, "pong", 4);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 4);
    ck_assert_mem_eq(buf, "ping", 4);
    /* Closing drops what is still held and forgets the buffer. */
    ck_assert_int_eq(nd_stream_send_full(&a, "lost", 4), 4);
    nd_stream_close(&a);
    ck_assert_int_eq(readable_now(sv[1], buf, sizeof(buf)), 0);
    ck_assert_ptr_null(a.held);
    close(sv[1]);
}
END_TEST

START_TEST(test_stream_failed_flush_sticks)
{
    uint8_t hold[64];
    struct nd_stream a;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    nd_stream_init(&a, sv[0]);
    nd_stream_hold(&a, hold, sizeof(hold));
    ck_assert_int_eq(nd_stream_send_full(&a, "gone", 4), 4);
    close(sv[1]);
    /* The held bytes are lost with the peer: nothing may follow them. */
    ck_assert_int_eq(nd_stream_flush(&a), -EPIPE);
    ck_assert(a.broken);
    ck_assert_int_eq(nd_stream_send_full(&a, "more", 4), -EPIPE);
    ck_assert_int_eq(nd_stream_release(&a), 0);
    ck_assert_int_eq(nd_stream_send_full(&a, "more", 4), -EPIPE);
    close(sv[0]);
}
END_TEST

START_TEST(test_stream_flush_nowait)
{
    const size_t len = 200 * 1024;
    uint8_t *src = pattern(len), *hold = malloc(len), *got = malloc(len);
    struct nd_stream a;
    size_t have = 0;
    int sv[2], want = 0, rc, rounds = 0;

    ck_assert_ptr_nonnull(hold);
    ck_assert_ptr_nonnull(got);
    tiny_buffers(sv);
    nd_stream_init(&a, sv[0]);
    nd_stream_hold(&a, hold, len);
    ck_assert_int_eq(nd_stream_send_full(&a, src, len), (ssize_t) len);
    /* More than the socket takes: what it took is gone from the buffer,
     * the rest waits, and the reader gets every byte in order. */
    while ((rc = nd_stream_flush_nowait(&a, &want)) == -EAGAIN) {
        ck_assert_int_eq(want, ND_TLS_WANT_WRITE);
        ck_assert_uint_gt(a.held_len, 0);
        ck_assert_uint_lt(a.held_len, len);
        rounds++;
        ck_assert_int_lt(rounds, 100000);
        have += (size_t) readable_now(sv[1], got + have, len - have);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_gt(rounds, 0);
    ck_assert_uint_eq(a.held_len, 0);
    while (have < len) {
        ssize_t n = nd_io_recv_full(sv[1], got + have, len - have);

        ck_assert_int_gt(n, 0);
        have += (size_t) n;
    }
    ck_assert_mem_eq(got, src, len);
    close(sv[0]);
    close(sv[1]);
    free(src);
    free(hold);
    free(got);
}
END_TEST

static void
check_notify(const char *env, const struct sockaddr_un *sa, socklen_t len)
{
    char buf[64] = "";
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (const struct sockaddr *) sa, len), 0);
    setenv("NOTIFY_SOCKET", env, 1);
    ck_assert_int_eq(nd_notify("READY=1"), 0);
    ck_assert_int_eq(recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT), 7);
    ck_assert_str_eq(buf, "READY=1");
    close(fd);
}

START_TEST(test_notify)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char name[64];

    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(nd_notify("READY=1"), 0); /* not under systemd */
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/nd_notify.%ld",
             (long) getpid());
    check_notify(sa.sun_path, &sa, sizeof(sa));
    unlink(sa.sun_path);
    /* "@name" is the abstract namespace: a leading NUL on the wire. */
    snprintf(name, sizeof(name), "@nd_notify.%ld", (long) getpid());
    memset(sa.sun_path, 0, sizeof(sa.sun_path));
    memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
    check_notify(name, &sa,
                 (socklen_t) (offsetof(struct sockaddr_un, sun_path) +
                              strlen(name)));
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(nd_notify("READY=1"), -EINVAL);
}
END_TEST

static Suite *
io_suite(void)
{
    Suite *s = suite_create("nd_io");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_send_read_full_short_counts);
    tcase_add_test(tc, test_read_full_eof_midway);
    tcase_add_test(tc, test_send_to_closed_peer);
    tcase_add_test(tc, test_sendfile_some);
    tcase_add_test(tc, test_file_shrank);
    tcase_add_test(tc, test_recv_nowait_and_close);
    tcase_add_test(tc, test_buf_alloc_aligned);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_discard_input);
    tcase_add_test(tc, test_wire_frames);
    tcase_add_test(tc, test_stream_hold);
    tcase_add_test(tc, test_stream_hold_before_other_calls);
    tcase_add_test(tc, test_stream_failed_flush_sticks);
    tcase_add_test(tc, test_stream_flush_nowait);
    tcase_add_test(tc, test_notify);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(io_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
