/*
 * nd_rawclient: a raw netdisk protocol client for the integration tests.
 *
 * It sends what the real client never would (wrong digests, oversized
 * frames, bytes dripped one at a time, half an upload) and checks that the
 * server answers as docs/protocol.md says.  Every subcommand takes HOST PORT
 * first, prints one line saying what happened, and exits 0 iff the server
 * behaved as expected; otherwise it exits 1 with the reason on stderr.
 * Every wait is bounded: sockets carry SO_RCVTIMEO/SO_SNDTIMEO of
 * ND_RAW_TIMEOUT seconds, and every loop is bounded by a byte count.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_net.h"
#include "nd_proto.h"
#include "nd_scram.h"
#include "nd_ticket.h"
#include "nd_wire.h"

/* Seconds any single socket read or write may block. */
#define ND_RAW_TIMEOUT 20
/* Unit of the rate-limited loops, in bytes. */
#define RATE_CHUNK (16u * 1024u)
#define BODY_CAP (ND_FRAME_MAX + 64u)

static const char *s_cmd = "?";
/* The key of the session login() opened last (for a ticket). */
static uint8_t s_session[ND_SCRAM_KEY_LEN];
static const char *s_host;
static const char *s_port;
static uint8_t s_body[BODY_CAP];
static uint8_t s_buf[ND_IO_CHUNK];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "nd_rawclient %s: ", s_cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: nd_rawclient HOST PORT COMMAND [ARGS]\n"
        "  hello                          handshake only\n"
        "  idle N SECS [READY [STOP]]     hold N idle sessions SECS s (or\n"
        "                                 until file STOP exists)\n"
        "  badput PATH SIZE               PUT with a wrong digest\n"
        "  shortput PATH SIZE SENT        PUT, send SENT bytes, close\n"
        "  hugeput PATH                   PUT declaring 2^63 bytes\n"
        "  bigframe [LEN]                 header with body_len LEN (2^32-1)\n"
        "  bigname                        PUT with a 4200-byte path\n"
        "  badversion                     first frame has version 2\n"
        "  nohello                        GET before HELLO\n"
        "  badflags                       frame with nonzero flags\n"
        "  badbody                        GET body with a stray byte\n"
        "  garbage [HEX16]                8 random (or given) bytes\n"
        "  unknown                        frame type 0x7f\n"
        "  drip PATH DELAY_MS             GET sent one byte at a time\n"
        "  rawget PATH [OUT]              GET, verify the digest\n"
        "  slowget PATH RATE_KIB [OUT]    GET read at RATE_KIB KiB/s\n"
        "  rawput LOCAL PATH              PUT, verify the OK reply\n"
        "  slowput LOCAL PATH RATE_KIB    PUT sent at RATE_KIB KiB/s\n"
        "  badtrailer PATH big|version|type  PUT whose trailer is refused\n"
        "  notify SOCKPATH SECS           (HOST, PORT unused) act as\n"
        "                                 systemd's NOTIFY_SOCKET: print\n"
        "                                 each datagram; succeed once\n"
        "                                 READY=1 then STOPPING=1 came\n"
        "  challenge USER                 HELLO, AUTH for USER (no login):\n"
        "                                 print the CHALLENGE body\n"
        "  nologin [ticket]               HELLO, GET (TICKET) without login:\n"
        "                                 ERROR AUTH, then a close\n"
        "  badproof USER                  AUTH, then a malformed PROOF:\n"
        "                                 ERROR AUTH, then a close\n"
        "  getticket FILE [twice]         log in, ask for a ticket, keep it\n"
        "                                 (id and key) in FILE; twice: ask\n"
        "                                 again, ERROR INVAL, STAT answered\n"
        "  resume FILE ok|refused|wait|wrong|malformed\n"
        "                                 HELLO, RESUME with FILE's ticket\n"
        "                                 (wrong: a wrong proof; malformed:\n"
        "                                 a short body), TICKET: ok is\n"
        "                                 RESUMED, proved, then the next\n"
        "                                 ticket (into FILE) and a STAT;\n"
        "                                 otherwise ERROR AUTH (PROTO for\n"
        "                                 malformed, BANNED for wait), then\n"
        "                                 a close\n"
        "  busy                           connect, send nothing: ERROR\n"
        "                                 BUSY, then a close\n"
        "  stall HEX|- SECS               send HEX bytes (- for none), then\n"
        "                                 nothing: closed within SECS s\n"
        "  stallxfer N SECS READY get PATH | put PATH SIZE SENT | frame\n"
        "                                 N sessions that each stop in the\n"
        "                                 middle of a GET (never reading),\n"
        "                                 a PUT (after SENT bytes) or a\n"
        "                                 frame; touch READY, then count\n"
        "                                 the server's closes for SECS s\n");
    exit(2);
}

static unsigned long long
num_arg(const char *s, const char *what)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        fail("bad %s \"%s\"", what, s);
    return v;
}

static void
sleep_ms(double ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void
random_bytes(void *p, size_t n)
{
    int rc = nd_io_random(p, n);

    if (rc < 0)
        fail("getrandom: %s", strerror(-rc));
}

/* Connects to HOST PORT; rcvbuf > 0 pins a small receive buffer (set before
 * connect, so the window is small from the start). */
static int
dial(int rcvbuf)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, rc, err = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(s_host, s_port, &hints, &res);
    if (rc != 0)
        fail("%s:%s: %s", s_host, s_port, gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (nd_net_set_timeouts(fd, ND_RAW_TIMEOUT) < 0)
            fail("setsockopt: %s", strerror(errno));
        if (rcvbuf > 0)
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                             sizeof(rcvbuf));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fail("connect %s:%s: %s", s_host, s_port, strerror(err));
    return fd;
}

/* The raw client speaks plaintext only: a stream view of fd for nd_wire.
 * One static stream will do, since nothing here keeps two in use. */
static struct nd_stream *
plain(int fd)
{
    static struct nd_stream st;

    nd_stream_init(&st, fd);
    return &st;
}

static void
send_or_die(int fd, const void *p, long len, const char *what)
{
    int rc = nd_wire_send(plain(fd), p, len);

    if (rc < 0)
        fail("sending %s: %s", what, strerror(-rc));
}

static size_t expect(int fd, uint8_t want);

/*
 * Logs in as $NETDISK_USER with $NETDISK_PASSWORD when both are set (and
 * the user is not empty), so that the hostile cases reach the request
 * handlers; cases that must stay logged out set them empty.
 */
static void
login(int fd)
{
    const char *user = getenv("NETDISK_USER");
    const char *pw = getenv("NETDISK_PASSWORD");
    char out[ND_SCRAM_MSG_MAX + 1], msg[ND_SCRAM_MSG_MAX + 1];
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    struct nd_scram_client sc;
    size_t len;
    int n;

    if (user == NULL || pw == NULL || user[0] == '\0')
        return;
    n = nd_scram_client_first(&sc, user, NULL, out, sizeof(out));
    if (n < 0)
        fail("SCRAM client-first: %s", strerror(-n));
    send_or_die(
        fd, frame,
        nd_proto_raw_encode(frame, sizeof(frame), ND_T_AUTH, out, (size_t)n),
        "AUTH");
    len = expect(fd, ND_T_CHALLENGE);
    if (len > ND_SCRAM_MSG_MAX)
        fail("CHALLENGE too long");
    memcpy(msg, s_body, len);
    n = nd_scram_client_final(&sc, pw, strlen(pw), msg, len, out, sizeof(out));
    if (n < 0)
        fail("SCRAM client-final: %s", strerror(-n));
    send_or_die(
        fd, frame,
        nd_proto_raw_encode(frame, sizeof(frame), ND_T_PROOF, out, (size_t)n),
        "PROOF");
    len = expect(fd, ND_T_WELCOME);
    if (nd_scram_client_verify(&sc, (const char *)s_body, len) != 0)
        fail("the server's WELCOME does not prove it knows the password");
    if (nd_scram_client_session(&sc, s_session) < 0)
        fail("no session key after the login");
    nd_scram_client_clear(&sc);
}

static void
hello(int fd)
{
    char msg[ND_MSG_MAX + 1] = "";
    int rc = nd_wire_hello(plain(fd), msg, sizeof(msg));

    if (rc > 0)
        fail("HELLO refused: %s (%d): %s", nd_proto_status_str(rc), rc, msg);
    if (rc < 0)
        fail("HELLO: %s", strerror(-rc));
    login(fd);
}

static int
dial_hello(int rcvbuf)
{
    int fd = dial(rcvbuf);

    hello(fd);
    return fd;
}

/* Receives one frame that must be of type want; dies on anything else. */
static size_t
expect(int fd, uint8_t want)
{
    char msg[ND_MSG_MAX + 1] = "";
    size_t len = 0;
    int rc = nd_wire_expect(plain(fd), want, s_body, sizeof(s_body), &len, msg,
                            sizeof(msg));

    if (rc > 0)
        fail("expected %s, got ERROR %s (%d): %s", nd_proto_type_name(want),
             nd_proto_status_str(rc), rc, msg);
    if (rc < 0)
        fail("expected %s: %s", nd_proto_type_name(want),
             rc == -EAGAIN ? "timed out" : strerror(-rc));
    return len;
}

/*
 * Receives a frame that must be ERROR with the given code.  When then_eof is
 * set, the server must then close the connection (EOF or reset) within the
 * socket timeout.  Returns normally only when all of that held.
 */
/*
 * Like expect_error(), but copies the ERROR's message to msg (capacity cap)
 * so that the caller can print it.
 */
static void
expect_error_msg(int fd, int code, bool then_eof, char *msg, size_t cap)
{
    struct nd_hdr h;
    int rc = nd_wire_recv(plain(fd), &h, s_body, sizeof(s_body));

    msg[0] = '\0';
    if (rc < 0)
        fail("expected ERROR %s (%d): %s", nd_proto_status_str(code), code,
             rc == -EAGAIN ? "timed out" : strerror(-rc));
    if (h.type != ND_T_ERROR)
        fail("expected ERROR %s (%d), got a %s frame",
             nd_proto_status_str(code), code, nd_proto_type_name(h.type));
    rc = nd_proto_error_decode(s_body, h.len, msg, cap);
    if (rc != code)
        fail("expected ERROR %s (%d), got %s (%d): %s",
             nd_proto_status_str(code), code, nd_proto_status_str(rc), rc, msg);
    if (!then_eof)
        return;
    rc = nd_wire_recv(plain(fd), &h, s_body, sizeof(s_body));
    if (rc == 0)
        fail("after ERROR %d expected a close, got a %s frame", code,
             nd_proto_type_name(h.type));
    if (rc == -EAGAIN)
        fail("after ERROR %d the server did not close within %d s", code,
             ND_RAW_TIMEOUT);
    if (rc != -ENODATA && rc != -ECONNRESET)
        fail("after ERROR %d: %s", code, strerror(-rc));
}

static void
expect_error(int fd, int code, bool then_eof)
{
    char msg[ND_MSG_MAX + 1];

    expect_error_msg(fd, code, then_eof, msg, sizeof(msg));
}

static void
digest_hex(struct nd_digest *d, uint8_t md5[ND_MD5_LEN],
           char hex[ND_DIGEST_HEX_LEN])
{
    if (nd_digest_final(d, md5) < 0)
        fail("MD5 failed");
    nd_digest_hex(md5, hex);
}

/* Keeps a loop at rate_kib KiB/s: sleeps until done bytes are due. */
static void
pace(double start, uint64_t done, unsigned long long rate_kib)
{
    double due;

    if (rate_kib == 0)
        return;
    due = start + (double)done / ((double)rate_kib * 1024.0);
    sleep_ms((due - nd_io_now()) * 1000.0);
}

/*
 * The reply to a GET already sent: FILE, the bytes (read at rate_kib KiB/s
 * when nonzero, written to out when out >= 0), then DIGEST, which must
 * equal the MD5 of what arrived.  Prints "<cmd> PATH: N bytes md5 HEX".
 */
static void
recv_file(int fd, const char *path, unsigned long long rate_kib, int out)
{
    struct nd_digest d = {0};
    uint8_t md5[ND_MD5_LEN], theirs[ND_MD5_LEN];
    char hex[ND_DIGEST_HEX_LEN], thex[ND_DIGEST_HEX_LEN];
    struct nd_fileinfo fi;
    uint64_t size, done = 0;
    size_t len;
    double start;

    len = expect(fd, ND_T_FILE);
    if (nd_proto_file_decode(s_body, len, &fi) < 0 || fi.offset != 0)
        fail("malformed FILE frame");
    size = fi.size;
    if (nd_digest_init(&d) < 0)
        fail("MD5 init failed");
    start = nd_io_now();
    while (done < size) {
        size_t want = sizeof(s_buf);
        ssize_t n;

        if (rate_kib != 0)
            want = RATE_CHUNK;
        if (want > size - done)
            want = (size_t)(size - done);
        n = nd_io_read_some(fd, s_buf, want);
        if (n < 0)
            fail("reading file bytes after %" PRIu64 " of %" PRIu64 ": %s",
                 done, size, n == -EAGAIN ? "timed out" : strerror((int)-n));
        if (n == 0)
            fail("EOF after %" PRIu64 " of %" PRIu64 " file bytes", done, size);
        if (nd_digest_update(&d, s_buf, (size_t)n) < 0)
            fail("MD5 update failed");
        if (out >= 0 && nd_io_write_full(out, s_buf, (size_t)n) < 0)
            fail("writing the local copy: %s", strerror(errno));
        done += (uint64_t)n;
        pace(start, done, rate_kib);
    }
    digest_hex(&d, md5, hex);
    nd_digest_free(&d);
    len = expect(fd, ND_T_DIGEST);
    if (nd_proto_digest_decode(s_body, len, theirs) < 0)
        fail("malformed DIGEST frame");
    nd_digest_hex(theirs, thex);
    if (memcmp(md5, theirs, ND_MD5_LEN) != 0)
        fail("digest mismatch: received %s, trailer says %s", hex, thex);
    printf("%s %s: %" PRIu64 " bytes md5 %s\n", s_cmd, path, size, hex);
}

static void
send_req(int fd, uint8_t type, uint64_t size, const char *path)
{
    uint8_t buf[ND_HDR_LEN + 16 + ND_PATH_MAX];

    send_or_die(fd, buf,
                nd_proto_req_encode(buf, sizeof(buf), type, size, path),
                nd_proto_type_name(type));
}

/* Sends a DIGEST trailer with the given MD5. */
static void
send_digest(int fd, const uint8_t md5[ND_MD5_LEN])
{
    uint8_t buf[64];

    send_or_die(fd, buf, nd_proto_digest_encode(buf, sizeof(buf), md5),
                "DIGEST");
}

/* Sends size bytes from src (a file) or, when src < 0, random bytes, at
 * rate_kib KiB/s when nonzero; returns their MD5. */
static void
send_bytes(int fd, int src, uint64_t size, unsigned long long rate_kib,
           uint8_t md5[ND_MD5_LEN])
{
    struct nd_digest d = {0};
    char hex[ND_DIGEST_HEX_LEN];
    uint64_t done = 0;
    double start = nd_io_now();

    if (nd_digest_init(&d) < 0)
        fail("MD5 init failed");
    while (done < size) {
        size_t n = rate_kib != 0 ? RATE_CHUNK : sizeof(s_buf);
        ssize_t w;

        if (n > size - done)
            n = (size_t)(size - done);
        if (src >= 0) {
            ssize_t r = nd_io_read_full(src, s_buf, n);
            if (r < 0)
                fail("reading the local file: %s", strerror((int)-r));
            if ((size_t)r != n)
                fail("the local file shrank while being sent");
        } else {
            random_bytes(s_buf, n);
        }
        if (nd_digest_update(&d, s_buf, n) < 0)
            fail("MD5 update failed");
        w = nd_io_send_full(fd, s_buf, n);
        if (w < 0)
            fail("sending file bytes after %" PRIu64 " of %" PRIu64 ": %s",
                 done, size, w == -EAGAIN ? "timed out" : strerror((int)-w));
        done += n;
        pace(start, done, rate_kib);
    }
    digest_hex(&d, md5, hex);
    nd_digest_free(&d);
}

/* ---- subcommands ---------------------------------------------------- */

static int
cmd_hello(int argc, char **argv)
{
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial_hello(0);
    close(fd);
    printf("hello: handshake ok\n");
    return 0;
}

/* Raises the soft descriptor limit to the hard one, for many sessions. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Creates (or empties) the file path: a signal to the test script. */
static void
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0)
        fail("%s: %s", path, strerror(errno));
    close(fd);
}

static int
cmd_idle(int argc, char **argv)
{
    unsigned long long n, secs, closed = 0;
    int *fds;
    double start, end;

    if (argc < 2 || argc > 4)
        usage();
    n = num_arg(argv[0], "N");
    secs = num_arg(argv[1], "SECS");
    if (n == 0 || n > 10000 || secs > 3600)
        fail("N must be 1..10000 and SECS at most 3600");
    raise_nofile();
    fds = calloc(n, sizeof(*fds));
    if (fds == NULL)
        fail("out of memory");
    for (unsigned long long i = 0; i < n; i++)
        fds[i] = dial_hello(0);
    if (argc >= 3)
        touch(argv[2]);
    start = nd_io_now();
    end = start + (double)secs;
    while (nd_io_now() < end) {
        if (argc == 4 && access(argv[3], F_OK) == 0)
            break;
        sleep_ms(argc == 4 ? 100.0 : (end - nd_io_now()) * 1000.0);
    }
    for (unsigned long long i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN | POLLRDHUP};
        if (poll(&p, 1, 0) == 1)
            closed++;
        close(fds[i]);
    }
    free(fds);
    printf("idle: held %llu sessions for %.1f s (%llu closed by the server)\n",
           n, nd_io_now() - start, closed);
    return 0;
}

static int
cmd_badput(int argc, char **argv)
{
    uint8_t md5[ND_MD5_LEN];
    uint64_t size;
    int fd;

    if (argc != 2)
        usage();
    size = num_arg(argv[1], "SIZE");
    fd = dial_hello(0);
    send_req(fd, ND_T_PUT, size, argv[0]);
    expect(fd, ND_T_READY);
    send_bytes(fd, -1, size, 0, md5);
    md5[0] ^= 0xff;
    send_digest(fd, md5);
    expect_error(fd, ND_E_DIGEST, false);
    /* DIGEST does not end the session: a LIST must still work. */
    send_req(fd, ND_T_LIST, 0, "");
    for (int i = 0; i < 100000; i++) {
        struct nd_hdr h;
        int rc = nd_wire_recv(plain(fd), &h, s_body, sizeof(s_body));
        if (rc < 0)
            fail("LIST after ERROR DIGEST: %s", strerror(-rc));
        if (h.type == ND_T_END)
            break;
        if (h.type != ND_T_ENTRIES)
            fail("LIST after ERROR DIGEST: got a %s frame",
                 nd_proto_type_name(h.type));
    }
    close(fd);
    printf("badput %s: ERROR DIGEST, session still usable\n", argv[0]);
    return 0;
}

static int
cmd_shortput(int argc, char **argv)
{
    uint8_t md5[ND_MD5_LEN];
    uint64_t size, sent;
    int fd;

    if (argc != 3)
        usage();
    size = num_arg(argv[1], "SIZE");
    sent = num_arg(argv[2], "SENT");
    if (sent >= size)
        fail("SENT must be below SIZE");
    fd = dial_hello(0);
    send_req(fd, ND_T_PUT, size, argv[0]);
    expect(fd, ND_T_READY);
    send_bytes(fd, -1, sent, 0, md5);
    close(fd);
    printf("shortput %s: sent %" PRIu64 " of %" PRIu64 " bytes, closed\n",
           argv[0], sent, size);
    return 0;
}

static int
cmd_hugeput(int argc, char **argv)
{
    int fd;

    if (argc != 1)
        usage();
    fd = dial_hello(0);
    send_req(fd, ND_T_PUT, UINT64_C(1) << 63, argv[0]);
    expect_error(fd, ND_E_INVAL, false);
    close(fd);
    printf("hugeput %s: ERROR INVAL\n", argv[0]);
    return 0;
}

static void
put_hdr(uint8_t *p, uint32_t len, uint8_t version, uint8_t type, uint16_t flags)
{
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[4] = version;
    p[5] = type;
    p[6] = (uint8_t)(flags >> 8);
    p[7] = (uint8_t)flags;
}

/*
 * A PUT of 0 bytes whose trailer is refused: KIND "big" claims a 100-byte
 * DIGEST body, "version" has version byte 2, "type" is a GET in the
 * trailer's place.  Only the header goes out, so nothing is left unread
 * when the server closes.  Expects the matching ERROR, then a close.
 */
static int
cmd_badtrailer(int argc, char **argv)
{
    uint8_t hdr[ND_HDR_LEN];
    int fd, code;

    if (argc != 2)
        usage();
    fd = dial_hello(0);
    send_req(fd, ND_T_PUT, 0, argv[0]);
    expect(fd, ND_T_READY);
    if (strcmp(argv[1], "big") == 0) {
        put_hdr(hdr, 100, ND_PROTO_VERSION, ND_T_DIGEST, 0);
        code = ND_E_TOOBIG;
    } else if (strcmp(argv[1], "version") == 0) {
        put_hdr(hdr, 17, 2, ND_T_DIGEST, 0);
        code = ND_E_VERSION;
    } else if (strcmp(argv[1], "type") == 0) {
        put_hdr(hdr, 0, ND_PROTO_VERSION, ND_T_GET, 0);
        code = ND_E_PROTO;
    } else {
        usage();
    }
    send_or_die(fd, hdr, sizeof(hdr), "trailer");
    expect_error(fd, code, true);
    close(fd);
    printf("badtrailer %s: ERROR %s, then closed\n", argv[1],
           nd_proto_status_str(code));
    return 0;
}

static int
cmd_bigframe(int argc, char **argv)
{
    uint8_t h[ND_HDR_LEN];
    uint32_t len = 0xFFFFFFFFu;
    int fd;

    /* An optional LEN: without a login, 4097 is already too big. */
    if (argc > 1)
        usage();
    if (argc == 1)
        len = (uint32_t)num_arg(argv[0], "LEN");
    fd = dial_hello(0);
    put_hdr(h, len, ND_PROTO_VERSION, ND_T_PUT, 0);
    send_or_die(fd, h, sizeof(h), "header");
    expect_error(fd, ND_E_TOOBIG, true);
    close(fd);
    printf("bigframe: ERROR TOOBIG, then closed\n");
    return 0;
}

static int
cmd_bigname(int argc, char **argv)
{
    static char path[4200 + 1];
    static uint8_t buf[ND_HDR_LEN + 16 + sizeof(path)];
    struct nd_wbuf w;
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    /* Components of 199 bytes: only the total length is over a limit. */
    memset(path, 'a', sizeof(path) - 1);
    for (size_t i = 199; i < sizeof(path) - 2; i += 200)
        path[i] = '/';
    fd = dial_hello(0);
    nd_wbuf_init(&w, buf, sizeof(buf), ND_T_PUT);
    nd_wbuf_u32(&w, 0);
    nd_wbuf_u64(&w, 1);
    nd_wbuf_str(&w, path, sizeof(path) - 1);
    send_or_die(fd, buf, nd_wbuf_finish(&w), "PUT");
    expect_error(fd, ND_E_NAMETOOLONG, false);
    close(fd);
    printf("bigname: ERROR NAMETOOLONG for a %zu-byte path\n",
           sizeof(path) - 1);
    return 0;
}

static int
cmd_badversion(int argc, char **argv)
{
    uint8_t buf[64];
    long len;
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial(0);
    len = nd_proto_hello_encode(buf, sizeof(buf));
    if (len < 0)
        fail("encoding HELLO failed");
    buf[4] = 2;
    send_or_die(fd, buf, len, "HELLO");
    expect_error(fd, ND_E_VERSION, true);
    close(fd);
    printf("badversion: ERROR VERSION, then closed\n");
    return 0;
}

static int
cmd_nohello(int argc, char **argv)
{
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial(0);
    send_req(fd, ND_T_GET, 0, "x");
    expect_error(fd, ND_E_PROTO, true);
    close(fd);
    printf("nohello: ERROR PROTO, then closed\n");
    return 0;
}

static int
cmd_badflags(int argc, char **argv)
{
    uint8_t buf[ND_HDR_LEN + 16];
    long len;
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial_hello(0);
    len = nd_proto_req_encode(buf, sizeof(buf), ND_T_GET, 0, "x");
    if (len < 0)
        fail("encoding GET failed");
    buf[7] = 1;
    send_or_die(fd, buf, len, "GET");
    expect_error(fd, ND_E_PROTO, true);
    close(fd);
    printf("badflags: ERROR PROTO, then closed\n");
    return 0;
}

static int
cmd_badbody(int argc, char **argv)
{
    uint8_t buf[ND_HDR_LEN + 16];
    long len;
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial_hello(0);
    len = nd_proto_req_encode(buf, sizeof(buf), ND_T_GET, 0, "x");
    if (len < 0)
        fail("encoding GET failed");
    /* One byte past the string: the body does not parse exactly. */
    buf[len] = 'y';
    put_hdr(buf, (uint32_t)(len + 1 - ND_HDR_LEN), ND_PROTO_VERSION, ND_T_GET,
            0);
    send_or_die(fd, buf, len + 1, "GET");
    expect_error(fd, ND_E_PROTO, true);
    close(fd);
    printf("badbody: ERROR PROTO, then closed\n");
    return 0;
}

static int
cmd_garbage(int argc, char **argv)
{
    uint8_t g[8];
    char shown[17];
    struct nd_hdr h;
    const char *what;
    int fd, rc;

    if (argc > 1)
        usage();
    if (argc == 1) {
        if (strlen(argv[0]) != 16)
            fail("HEX16 must be 16 hex digits");
        for (int i = 0; i < 8; i++) {
            int hi = OPENSSL_hexchar2int((unsigned char)argv[0][2 * i]),
                lo = OPENSSL_hexchar2int((unsigned char)argv[0][2 * i + 1]);
            if (hi < 0 || lo < 0)
                fail("HEX16 must be 16 hex digits");
            g[i] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        random_bytes(g, sizeof(g));
    }
    for (int i = 0; i < 8; i++)
        snprintf(shown + 2 * i, 3, "%02x", g[i]);
    fd = dial(0);
    send_or_die(fd, g, sizeof(g), "garbage");
    rc = nd_wire_recv(plain(fd), &h, s_body, sizeof(s_body));
    if (rc == -EAGAIN)
        fail("bytes %s: no reply and no close within %d s", shown,
             ND_RAW_TIMEOUT);
    if (rc == 0 && h.type != ND_T_ERROR)
        fail("bytes %s: got a %s frame", shown, nd_proto_type_name(h.type));
    if (rc == 0)
        what = "ERROR";
    else if (rc == -ENODATA || rc == -ECONNRESET)
        what = "close";
    else
        fail("bytes %s: %s", shown, strerror(-rc));
    close(fd);
    printf("garbage %s: %s\n", shown, what);
    return 0;
}

static int
cmd_unknown(int argc, char **argv)
{
    uint8_t h[ND_HDR_LEN];
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial_hello(0);
    put_hdr(h, 0, ND_PROTO_VERSION, 0x7f, 0);
    send_or_die(fd, h, sizeof(h), "frame 0x7f");
    expect_error(fd, ND_E_PROTO, true);
    close(fd);
    printf("unknown: ERROR PROTO, then closed\n");
    return 0;
}

static int
cmd_drip(int argc, char **argv)
{
    uint8_t buf[ND_HDR_LEN + 16 + ND_PATH_MAX];
    unsigned long long delay;
    long len;
    int fd;

    if (argc != 2)
        usage();
    delay = num_arg(argv[1], "DELAY_MS");
    if (delay > 60000)
        fail("DELAY_MS at most 60000");
    fd = dial_hello(0);
    len = nd_proto_req_encode(buf, sizeof(buf), ND_T_GET, 0, argv[0]);
    if (len < 0)
        fail("encoding GET failed");
    for (long i = 0; i < len; i++) {
        if (i > 0)
            sleep_ms((double)delay);
        send_or_die(fd, buf + i, 1, "a GET byte");
    }
    recv_file(fd, argv[0], 0, -1);
    close(fd);
    return 0;
}

static int
open_out(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0)
        fail("%s: %s", path, strerror(errno));
    return fd;
}

static int
cmd_rawget(int argc, char **argv)
{
    int fd, out = -1;

    if (argc != 1 && argc != 2)
        usage();
    if (argc == 2)
        out = open_out(argv[1]);
    fd = dial_hello(0);
    send_req(fd, ND_T_GET, 0, argv[0]);
    recv_file(fd, argv[0], 0, out);
    close(fd);
    if (out >= 0 && close(out) < 0)
        fail("%s: %s", argv[1], strerror(errno));
    return 0;
}

static int
cmd_slowget(int argc, char **argv)
{
    unsigned long long rate;
    int fd, out = -1;

    if (argc != 2 && argc != 3)
        usage();
    rate = num_arg(argv[1], "RATE_KIB");
    if (rate == 0)
        fail("RATE_KIB must be positive");
    if (argc == 3)
        out = open_out(argv[2]);
    /* A small receive window, so the server really waits for us. */
    fd = dial_hello(64 * 1024);
    send_req(fd, ND_T_GET, 0, argv[0]);
    recv_file(fd, argv[0], rate, out);
    close(fd);
    if (out >= 0 && close(out) < 0)
        fail("%s: %s", argv[2], strerror(errno));
    return 0;
}

static int
do_put(const char *local, const char *path, unsigned long long rate)
{
    uint8_t md5[ND_MD5_LEN], theirs[ND_MD5_LEN];
    char hex[ND_DIGEST_HEX_LEN], thex[ND_DIGEST_HEX_LEN];
    struct stat st;
    uint64_t stored;
    size_t len;
    int fd, src;

    src = open(local, O_RDONLY | O_CLOEXEC);
    if (src < 0 || fstat(src, &st) < 0)
        fail("%s: %s", local, strerror(errno));
    fd = dial_hello(0);
    send_req(fd, ND_T_PUT, (uint64_t)st.st_size, path);
    expect(fd, ND_T_READY);
    send_bytes(fd, src, (uint64_t)st.st_size, rate, md5);
    close(src);
    send_digest(fd, md5);
    len = expect(fd, ND_T_OK);
    if (nd_proto_putok_decode(s_body, len, &stored, theirs) < 0)
        fail("malformed OK frame");
    nd_digest_hex(md5, hex);
    nd_digest_hex(theirs, thex);
    if (stored != (uint64_t)st.st_size || memcmp(md5, theirs, 16) != 0)
        fail("OK says %" PRIu64 " bytes md5 %s; sent %jd bytes md5 %s", stored,
             thex, (intmax_t)st.st_size, hex);
    close(fd);
    printf("%s %s: %" PRIu64 " bytes md5 %s\n", s_cmd, path, stored, hex);
    return 0;
}

static int
cmd_rawput(int argc, char **argv)
{
    if (argc != 2)
        usage();
    return do_put(argv[0], argv[1], 0);
}

static int
cmd_slowput(int argc, char **argv)
{
    unsigned long long rate;

    if (argc != 3)
        usage();
    rate = num_arg(argv[2], "RATE_KIB");
    if (rate == 0)
        fail("RATE_KIB must be positive");
    return do_put(argv[0], argv[1], rate);
}

/*
 * Plays systemd's side of sd_notify: binds a datagram socket at SOCKPATH
 * and prints every message until STOPPING=1 arrives after READY=1, or SECS
 * pass.  The socket file is removed on the way out.
 */
static int
cmd_notify(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    bool ready = false, stopping = false;
    uint64_t secs;
    double end;
    int fd;

    if (argc != 2 || strlen(argv[0]) >= sizeof(sa.sun_path))
        usage();
    secs = num_arg(argv[1], "SECS");
    memcpy(sa.sun_path, argv[0], strlen(argv[0]));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail("bind %s: %s", argv[0], strerror(errno));
    end = nd_io_now() + (double)secs;
    while (!stopping && nd_io_now() < end) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char buf[512];
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        printf("%s\n", buf);
        if (strstr(buf, "READY=1") != NULL)
            ready = true;
        if (ready && strstr(buf, "STOPPING=1") != NULL)
            stopping = true;
    }
    close(fd);
    unlink(argv[0]);
    if (!ready || !stopping)
        fail("notify: READY=1 %s, STOPPING=1 %s within %" PRIu64 " s",
             ready ? "seen" : "missing", stopping ? "seen" : "missing", secs);
    return 0;
}

/* ---- login and connection-limit subcommands (it_auth, it_tls) -------- */

/* HELLO only, never a login, whatever NETDISK_USER says. */
static int
dial_hello_nologin(void)
{
    char msg[ND_MSG_MAX + 1] = "";
    int fd = dial(0), rc = nd_wire_hello(plain(fd), msg, sizeof(msg));

    if (rc > 0)
        fail("HELLO refused: %s (%d): %s", nd_proto_status_str(rc), rc, msg);
    if (rc < 0)
        fail("HELLO: %s", strerror(-rc));
    return fd;
}

/* Sends AUTH for user and returns the CHALLENGE's length (body in s_body). */
static size_t
auth_challenge(int fd, struct nd_scram_client *sc, const char *user)
{
    char out[ND_SCRAM_MSG_MAX + 1];
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    size_t len;
    int n;

    n = nd_scram_client_first(sc, user, NULL, out, sizeof(out));
    if (n < 0)
        fail("SCRAM client-first for \"%s\": %s", user, strerror(-n));
    send_or_die(
        fd, frame,
        nd_proto_raw_encode(frame, sizeof(frame), ND_T_AUTH, out, (size_t)n),
        "AUTH");
    len = expect(fd, ND_T_CHALLENGE);
    if (len > ND_SCRAM_MSG_MAX)
        fail("CHALLENGE too long");
    return len;
}

/* HELLO, AUTH for USER; prints the CHALLENGE body; closes. */
static int
cmd_challenge(int argc, char **argv)
{
    struct nd_scram_client sc;
    size_t len;
    int fd;

    if (argc != 1)
        usage();
    fd = dial_hello_nologin();
    len = auth_challenge(fd, &sc, argv[0]);
    nd_scram_client_clear(&sc);
    close(fd);
    printf("%.*s\n", (int)len, (const char *)s_body);
    return 0;
}

/* HELLO, then a GET (or, with "ticket", a TICKET) without logging in:
 * ERROR AUTH, then a close. */
static int
cmd_nologin(int argc, char **argv)
{
    uint8_t frame[ND_HDR_LEN];
    char msg[ND_MSG_MAX + 1];
    int fd;

    if (argc > 1 || (argc == 1 && strcmp(argv[0], "ticket") != 0))
        usage();
    fd = dial_hello_nologin();
    if (argc == 1)
        send_or_die(
            fd, frame,
            nd_proto_raw_encode(frame, sizeof(frame), ND_T_TICKET, "", 0),
            "TICKET");
    else
        send_req(fd, ND_T_GET, 0, "x");
    expect_error_msg(fd, ND_E_AUTH, true, msg, sizeof(msg));
    close(fd);
    printf("nologin: ERROR AUTH \"%s\", then closed\n", msg);
    return 0;
}

/* HELLO, AUTH for USER, then a PROOF that does not parse: ERROR AUTH, then
 * a close. */
static int
cmd_badproof(int argc, char **argv)
{
    static const char junk[] = "c=biws,r=not-the-nonce,p=AAAA";
    uint8_t frame[ND_HDR_LEN + sizeof(junk)];
    struct nd_scram_client sc;
    char msg[ND_MSG_MAX + 1];
    int fd;

    if (argc != 1)
        usage();
    fd = dial_hello_nologin();
    (void)auth_challenge(fd, &sc, argv[0]);
    nd_scram_client_clear(&sc);
    send_or_die(fd, frame,
                nd_proto_raw_encode(frame, sizeof(frame), ND_T_PROOF, junk,
                                    sizeof(junk) - 1),
                "PROOF");
    expect_error_msg(fd, ND_E_AUTH, true, msg, sizeof(msg));
    close(fd);
    printf("badproof: ERROR AUTH \"%s\", then closed\n", msg);
    return 0;
}

/* A ticket as getticket keeps it: the id and the key, in hex. */
struct rticket {
    uint8_t id[ND_TICKET_ID_LEN];
    uint8_t key[ND_TICKET_KEY_LEN];
};

static void
ticket_save(const char *path, const struct rticket *t)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        fail("%s: %s", path, strerror(errno));
    for (size_t i = 0; i < sizeof(t->id); i++)
        fprintf(f, "%02x", t->id[i]);
    fputc(' ', f);
    for (size_t i = 0; i < sizeof(t->key); i++)
        fprintf(f, "%02x", t->key[i]);
    fputc('\n', f);
    if (fclose(f) != 0)
        fail("%s: %s", path, strerror(errno));
}

static void
ticket_load(const char *path, struct rticket *t)
{
    FILE *f = fopen(path, "r");
    unsigned b;
    int ok = f != NULL;

    for (size_t i = 0; ok && i < sizeof(t->id); i++) {
        ok = fscanf(f, "%2x", &b) == 1;
        t->id[i] = (uint8_t)b;
    }
    for (size_t i = 0; ok && i < sizeof(t->key); i++) {
        ok = fscanf(f, " %2x", &b) == 1;
        t->key[i] = (uint8_t)b;
    }
    if (f != NULL)
        fclose(f);
    if (!ok)
        fail("%s: not a ticket", path);
}

/* Asks for a ticket on a logged-in fd and keeps it, keyed from session. */
static void
ticket_ask(int fd, const uint8_t session[ND_SCRAM_KEY_LEN], const char *path)
{
    uint8_t frame[ND_HDR_LEN];
    struct rticket t;
    uint32_t life = 0;
    size_t len;

    send_or_die(fd, frame,
                nd_proto_raw_encode(frame, sizeof(frame), ND_T_TICKET, "", 0),
                "TICKET");
    len = expect(fd, ND_T_TICKET);
    if (nd_ticket_decode(s_body, len, &life, t.id) < 0 || life == 0)
        fail("malformed TICKET reply");
    if (nd_ticket_key(session, t.id, t.key) < 0)
        fail("HMAC failed");
    ticket_save(path, &t);
}

/* Logs in with SCRAM and keeps a ticket in FILE. */
static int
cmd_getticket(int argc, char **argv)
{
    uint8_t frame[ND_HDR_LEN];
    char msg[ND_MSG_MAX + 1];
    int fd;

    if (argc < 1 || argc > 2 || getenv("NETDISK_USER") == NULL ||
        (argc == 2 && strcmp(argv[1], "twice") != 0))
        usage();
    fd = dial(0);
    hello(fd); /* and login() */
    ticket_ask(fd, s_session, argv[0]);
    if (argc == 2) {
        /* One ticket per session: the second request is refused, and the
         * session goes on. */
        send_or_die(
            fd, frame,
            nd_proto_raw_encode(frame, sizeof(frame), ND_T_TICKET, "", 0),
            "TICKET");
        expect_error_msg(fd, ND_E_INVAL, false, msg, sizeof(msg));
        send_req(fd, ND_T_STAT, 0, "");
        (void)expect(fd, ND_T_STATINFO);
        printf("getticket: kept in %s; a second TICKET: ERROR INVAL "
               "\"%s\", then a STAT answered\n",
               argv[0], msg);
    } else {
        printf("getticket: kept in %s\n", argv[0]);
    }
    close(fd);
    return 0;
}

/* HELLO, RESUME with FILE's ticket (as the mode says), TICKET, all in one
 * write; then what the mode expects. */
static int
cmd_resume(int argc, char **argv)
{
    uint8_t buf[4 * ND_HDR_LEN + 64 + 8 + 64], nonce[ND_TICKET_NONCE_LEN];
    uint8_t proof[ND_SCRAM_KEY_LEN], want[ND_SCRAM_KEY_LEN];
    uint8_t session[ND_SCRAM_KEY_LEN];
    char msg[ND_MSG_MAX + 1];
    struct rticket t;
    const char *mode;
    long n, at = 0;
    size_t len;
    int fd;

    if (argc != 2)
        usage();
    mode = argv[1];
    if (strcmp(mode, "ok") != 0 && strcmp(mode, "refused") != 0 &&
        strcmp(mode, "wrong") != 0 && strcmp(mode, "malformed") != 0 &&
        strcmp(mode, "wait") != 0)
        usage();
    ticket_load(argv[0], &t);
    random_bytes(nonce, sizeof(nonce));
    if (nd_ticket_proof(t.key, false, t.id, nonce, proof) < 0)
        fail("HMAC failed");
    if (strcmp(mode, "wrong") == 0)
        proof[0] ^= 1;
    n = nd_proto_hello_encode(buf, sizeof(buf));
    at = n;
    n = nd_ticket_resume_encode(buf + at, sizeof(buf) - (size_t)at, t.id, nonce,
                                proof);
    if (n < 0)
        fail("encoding RESUME");
    if (strcmp(mode, "malformed") == 0) {
        /* Declare and send one byte less than a RESUME's body. */
        buf[at + 3] = (uint8_t)(buf[at + 3] - 1);
        n--;
    }
    at += n;
    n = nd_proto_raw_encode(buf + at, sizeof(buf) - (size_t)at, ND_T_TICKET, "",
                            0);
    at += n;
    fd = dial(0);
    if (nd_io_send_full(fd, buf, (size_t)at) != at)
        fail("sending HELLO, RESUME and TICKET: %s", strerror(errno));
    (void)expect(fd, ND_T_HELLO);
    if (strcmp(mode, "ok") != 0) {
        expect_error_msg(fd,
                         strcmp(mode, "malformed") == 0 ? ND_E_PROTO
                         : strcmp(mode, "wait") == 0    ? ND_E_BANNED
                                                        : ND_E_AUTH,
                         true, msg, sizeof(msg));
        close(fd);
        printf("resume %s: ERROR \"%s\", then closed\n", mode, msg);
        return 0;
    }
    len = expect(fd, ND_T_RESUMED);
    if (nd_ticket_resumed_decode(s_body, len, proof) < 0)
        fail("malformed RESUMED");
    if (nd_ticket_proof(t.key, true, t.id, nonce, want) < 0 ||
        nd_ticket_session(t.key, t.id, nonce, session) < 0)
        fail("HMAC failed");
    if (CRYPTO_memcmp(want, proof, sizeof(want)) != 0)
        fail("RESUMED does not prove the server holds the ticket");
    /* The TICKET asked for behind RESUME: the next ticket, keyed from the
     * resumed session's key. */
    len = expect(fd, ND_T_TICKET);
    {
        uint32_t life = 0;

        if (nd_ticket_decode(s_body, len, &life, t.id) < 0 || life == 0 ||
            nd_ticket_key(session, t.id, t.key) < 0)
            fail("malformed TICKET reply");
        ticket_save(argv[0], &t);
    }
    /* Logged in: a request is answered. */
    send_req(fd, ND_T_STAT, 0, "");
    (void)expect(fd, ND_T_STATINFO);
    close(fd);
    printf("resume ok: RESUMED proved, next ticket kept, STAT answered\n");
    return 0;
}

/* Connects and sends nothing: the server must refuse with ERROR BUSY and
 * close. */
static int
cmd_busy(int argc, char **argv)
{
    char msg[ND_MSG_MAX + 1];
    int fd;

    if (argc != 0)
        usage();
    (void)argv;
    fd = dial(0);
    expect_error_msg(fd, ND_E_BUSY, true, msg, sizeof(msg));
    close(fd);
    printf("busy: ERROR BUSY \"%s\", then closed\n", msg);
    return 0;
}

/*
 * Sends the bytes given in hex (none for "-"), then sends nothing more and
 * waits, SECS seconds at most, for the server to close the connection.
 * Succeeds only when it did, without sending anything first.
 */
static int
cmd_stall(int argc, char **argv)
{
    uint8_t bytes[256];
    size_t n = 0, len;
    unsigned long long secs;
    double start, end;
    int fd;

    if (argc != 2)
        usage();
    secs = num_arg(argv[1], "SECS");
    if (secs == 0 || secs > 600)
        fail("SECS must be 1..600");
    if (strcmp(argv[0], "-") != 0) {
        len = strlen(argv[0]);
        if (len % 2 != 0 || len / 2 > sizeof(bytes))
            fail("HEX must be an even number of hex digits, at most 512");
        for (n = 0; n < len / 2; n++) {
            int hi = OPENSSL_hexchar2int((unsigned char)argv[0][2 * n]),
                lo = OPENSSL_hexchar2int((unsigned char)argv[0][2 * n + 1]);
            if (hi < 0 || lo < 0)
                fail("HEX must be hex digits");
            bytes[n] = (uint8_t)(hi << 4 | lo);
        }
    }
    fd = dial(0);
    if (n > 0)
        send_or_die(fd, bytes, (long)n, "the stall bytes");
    start = nd_io_now();
    end = start + (double)secs;
    while (nd_io_now() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((end - nd_io_now()) * 1000.0) + 1;
        ssize_t r;

        if (poll(&p, 1, left) <= 0)
            continue;
        do
            r = recv(fd, s_buf, sizeof(s_buf), MSG_DONTWAIT);
        while (r < 0 && errno == EINTR);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            close(fd);
            printf("stall: %zu bytes sent, closed by the server after "
                   "%.1f s\n",
                   n, nd_io_now() - start);
            return 0;
        }
        if (r > 0)
            fail("the server sent %zd bytes instead of closing", r);
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            fail("recv: %s", strerror(errno));
    }
    close(fd);
    fail("%zu bytes sent; the server did not close within %llu s", n, secs);
}

/* Reads fd until EOF or reset, for at most secs seconds and max bytes.
 * Returns true when the server's close was seen. */
static bool
drain_to_eof(int fd, double secs, uint64_t max)
{
    double end = nd_io_now() + secs;
    uint64_t got = 0;

    while (got <= max && nd_io_now() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&p, 1, (int)((end - nd_io_now()) * 1000.0) + 1) <= 0)
            continue;
        do
            r = recv(fd, s_buf, sizeof(s_buf), MSG_DONTWAIT);
        while (r < 0 && errno == EINTR);
        if (r == 0 || (r < 0 && errno != EAGAIN))
            return true;
        if (r > 0)
            got += (uint64_t)r;
    }
    return false;
}

/*
 * stallxfer: N logged-in sessions that each stop in the middle of a
 * transfer or a frame and then send and read nothing.  A GET's sessions
 * have a 4 KiB receive buffer, so the server finds the socket full at
 * once.  After READY is touched the sessions are watched for SECS seconds;
 * a GET's are then drained, since the server's close queues behind the
 * bytes it could not send.  Prints how many the server closed and when.
 */
static int
cmd_stallxfer(int argc, char **argv)
{
    unsigned long long n, secs, size = 0, sent = 0;
    enum { S_GET, S_PUT, S_FRAME } mode;
    uint8_t md5[ND_MD5_LEN];
    double start, end, last = 0;
    unsigned long long closed = 0;
    int *fds;
    bool *gone;

    if (argc < 4)
        usage();
    n = num_arg(argv[0], "N");
    secs = num_arg(argv[1], "SECS");
    if (n == 0 || n > 10000 || secs == 0 || secs > 600)
        fail("N must be 1..10000 and SECS 1..600");
    if (strcmp(argv[3], "get") == 0 && argc == 5)
        mode = S_GET;
    else if (strcmp(argv[3], "put") == 0 && argc == 7)
        mode = S_PUT;
    else if (strcmp(argv[3], "frame") == 0 && argc == 4)
        mode = S_FRAME;
    else
        usage();
    if (mode == S_PUT) {
        size = num_arg(argv[5], "SIZE");
        sent = num_arg(argv[6], "SENT");
        if (sent >= size)
            fail("SENT must be less than SIZE");
    }
    raise_nofile();
    fds = calloc(n, sizeof(*fds));
    gone = calloc(n, sizeof(*gone));
    if (fds == NULL || gone == NULL)
        fail("out of memory");
    for (unsigned long long i = 0; i < n; i++) {
        fds[i] = dial(mode == S_GET ? 4096 : 0);
        hello(fds[i]); /* and the login */
        if (mode == S_GET) {
            send_req(fds[i], ND_T_GET, 0, argv[4]);
        } else if (mode == S_PUT) {
            char path[ND_PATH_MAX + 1];

            /* One name each, so that no session waits on another's. */
            snprintf(path, sizeof(path), "%s.%llu", argv[4], i);
            send_req(fds[i], ND_T_PUT, size, path);
            expect(fds[i], ND_T_READY);
            send_bytes(fds[i], -1, sent, 0, md5);
        } else {
            /* A LIST header promising 16 body bytes, and 3 of them. */
            static const uint8_t part[] = {
                0, 0, 0, 16, ND_PROTO_VERSION, ND_T_LIST, 0, 0, 0, 0, 0};

            send_or_die(fds[i], part, (long)sizeof(part), "half a frame");
        }
    }
    touch(argv[2]);
    start = nd_io_now();
    end = start + (double)secs;
    while (mode != S_GET && closed < n && nd_io_now() < end) {
        for (unsigned long long i = 0; i < n; i++) {
            struct pollfd p = {.fd = fds[i], .events = POLLIN | POLLRDHUP};

            if (gone[i] || poll(&p, 1, 0) != 1)
                continue;
            gone[i] = true;
            closed++;
            last = nd_io_now() - start;
        }
        sleep_ms(50);
    }
    if (mode == S_GET) {
        sleep_ms((end - nd_io_now()) * 1000.0);
        for (unsigned long long i = 0; i < n; i++)
            if (drain_to_eof(fds[i], 5.0, 1ull << 34))
                closed++;
        last = nd_io_now() - start;
    }
    for (unsigned long long i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    free(gone);
    printf("stallxfer %s: %llu sessions stalled, %llu closed by the server "
           "(the last after %.1f s)\n",
           argv[3], n, closed, last);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} s_cmds[] = {
    {"hello", cmd_hello},         {"idle", cmd_idle},
    {"badput", cmd_badput},       {"shortput", cmd_shortput},
    {"hugeput", cmd_hugeput},     {"bigframe", cmd_bigframe},
    {"bigname", cmd_bigname},     {"badversion", cmd_badversion},
    {"nohello", cmd_nohello},     {"badflags", cmd_badflags},
    {"badbody", cmd_badbody},     {"garbage", cmd_garbage},
    {"unknown", cmd_unknown},     {"drip", cmd_drip},
    {"rawget", cmd_rawget},       {"slowget", cmd_slowget},
    {"rawput", cmd_rawput},       {"slowput", cmd_slowput},
    {"notify", cmd_notify},       {"badtrailer", cmd_badtrailer},
    {"challenge", cmd_challenge}, {"nologin", cmd_nologin},
    {"badproof", cmd_badproof},   {"busy", cmd_busy},
    {"stall", cmd_stall},         {"stallxfer", cmd_stallxfer},
    {"getticket", cmd_getticket}, {"resume", cmd_resume},
};

int
main(int argc, char **argv)
{
    if (argc < 4)
        usage();
    s_host = argv[1];
    s_port = argv[2];
    s_cmd = argv[3];
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof(s_cmds) / sizeof(s_cmds[0]); i++)
        if (strcmp(s_cmd, s_cmds[i].name) == 0)
            return s_cmds[i].fn(argc - 4, argv + 4);
    usage();
}
