/*
 * nd_hostile: a table-driven hostile client for it_hostile_matrix.sh.
 *
 * It builds a table of cases and runs each one against a live netdiskd on
 * 127.0.0.1 (never anywhere else): every frame type, reply-only types and
 * unknown opcodes included, with the header's length at 0, 1, the limit
 * minus one, the limit, one over it and 2^32-1, in each phase of a session
 * (before HELLO, before the login, after it); 64-bit and flag fields at
 * their edges; u16 string counts that lie; refused paths and symlinks
 * planted by the shell test; frames cut short and half-closed; a whole
 * session dripped a byte at a time; uploads that send too few or too many
 * bytes or the wrong digest.  Each case checks the reply docs/protocol.md
 * promises (the ERROR code, and whether the session is closed or goes on).
 *
 * After every case it checks that the daemon is unharmed: a fresh session
 * logs in, STATs the reference file (size and stored md5 as on disk) and
 * GETs it (bytes and trailer md5 as on disk); the pool process still runs
 * under the pid it had (no watchdog restart); the storage roots are
 * unchanged (type, mode, size, link target and md5 of every entry, reserved
 * directories included); and the daemon's log gained no error-level,
 * "internal" or sanitizer line.
 *
 * A root change or a lost pool is reported by the case after which it was
 * seen; the cases after that are judged against the new state.
 *
 * Output: one "ok - ..." or "not ok - ..." line per check, for the shell
 * test to count, and "# ..." lines with the bytes sent when a case fails.
 * Exit status 0 when every check passed, 1 when one failed, 2 for a usage
 * or setup error.  Every socket wait is bounded by SO_RCVTIMEO/SO_SNDTIMEO
 * of TIMEOUT_S seconds, and every loop by a count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_net.h"
#include "nd_proto.h"
#include "nd_scram.h"
#include "nd_wire.h"

/* Seconds any single socket read or write may block. */
#define TIMEOUT_S 10
/* The frame body limit before the login (docs/protocol.md, Limits). */
#define PREAUTH_MAX 4096u
#define BODY_CAP (ND_FRAME_MAX + 64u)
#define MAX_CASES 4096
/* Bytes of each case's traffic kept for the repro line: the first ones
 * and the last ones. */
#define SENT_KEEP 64
#define SENT_TAIL 48
#define MAX_ROOTS 8
/* The fingerprint may lag a closed connection by a moment (the worker
 * removes a temporary file before it hands the connection back, but the
 * STAT probe may be served first): retry this many times, 100 ms apart. */
#define FP_RETRIES 30

#define M(code) (1u << (code))
#define ANYFRAMEERR (M(ND_E_VERSION) | M(ND_E_PROTO) | M(ND_E_TOOBIG))

enum phase {
    P_RAW,   /* connected, nothing sent */
    P_HELLO, /* HELLO exchanged, not logged in */
    P_LOGIN, /* logged in */
};

enum expect {
    X_ERR_CLOSE, /* one ERROR with a code in the mask, then a close */
    X_ERR_CONT,  /* one ERROR with a code in the mask; the session goes on */
    X_SILENT,    /* a close; one ERROR frame before it is tolerated */
    X_HELLO,     /* a HELLO choosing version 1 */
    X_CHALLENGE, /* a CHALLENGE */
};

struct hcase;
typedef bool (*case_fn)(const struct hcase *c);

struct hcase {
    const char *group;
    char name[200];
    enum phase phase;
    uint8_t *buf; /* the bytes the case sends once in its phase */
    size_t len;
    size_t send; /* how many of them it sends */
    bool halfclose;
    enum expect x;
    uint32_t codes;
    case_fn fn; /* a custom case; the fields below are its arguments */
    uint64_t a, b;
    uint8_t t;
    const char *s;
};

/* A frame under construction. */
struct fb {
    uint8_t *p;
    size_t len, cap;
};

/* A request, with every field under the case's control. */
struct rq {
    uint8_t type;
    uint32_t flags;
    uint64_t size;
    const char *p1;
    size_t n1;
    long d1; /* the u16 count to declare; < 0: the true one */
    const char *p2;
    size_t n2;
    long d2;
    bool mtime; /* append i64 sec, u32 nsec */
    int64_t sec;
    uint32_t nsec;
    bool range; /* append a fileinfo */
    struct nd_fileinfo rg;
};

struct lines {
    char **v;
    size_t n, cap;
};

static int s_port;
static const char *s_user, *s_pw;
static const char *s_ref_remote, *s_ref_local;
static uint64_t s_ref_size;
static int64_t s_ref_sec;
static uint32_t s_ref_nsec;
static uint8_t s_ref_md5[ND_MD5_LEN];
static const char *s_roots[MAX_ROOTS];
static int s_nroots;
static long s_pool_pid;
static const char *s_log;
static off_t s_log_off;
static const char *s_only;

static struct hcase s_cases[MAX_CASES];
static int s_ncases;
static int s_pass, s_fail;

static char s_why[2048];
static char s_got[512];
static uint8_t s_sent[SENT_KEEP], s_tail[SENT_TAIL];
static size_t s_sent_total;
static bool s_recording;
static long s_drip_us = -1; /* >= 0: send in 1-byte segments, this pause */
static uint8_t s_body[BODY_CAP];
static struct lines s_base, s_fp;

/* ---- small utilities ------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "nd_hostile: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL)
        die("out of memory");
    return p;
}

static bool bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records why the current case failed; always returns false. */
static bool
bad(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s_why, sizeof(s_why), fmt, ap);
    va_end(ap);
    return false;
}

static void got(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records what the current case saw, for its "ok" line. */
static void
got(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s_got, sizeof(s_got), fmt, ap);
    va_end(ap);
}

static void
sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    if (us <= 0)
        return;
    for (int i = 0; i < 100 && nanosleep(&ts, &ts) < 0 && errno == EINTR; i++)
        ;
}

static void
code_names(uint32_t mask, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (int c = 1; c <= ND_STATUS_MAX; c++) {
        if ((mask & M(c)) == 0)
            continue;
        int k = snprintf(out + o, cap - o, "%s%s", o > 0 ? "|" : "",
                         nd_proto_status_name(c));
        if (k < 0 || (size_t)k >= cap - o)
            break;
        o += (size_t)k;
    }
}

static const char *
type_str(uint8_t t)
{
    static char buf[8][24];
    static int i;
    const char *n = nd_proto_type_name(t);

    i = (i + 1) % 8;
    if (strcmp(n, "?") == 0)
        snprintf(buf[i], sizeof(buf[i]), "type 0x%02x", t);
    else
        snprintf(buf[i], sizeof(buf[i]), "%s", n);
    return buf[i];
}

/* ---- frames ----------------------------------------------------------- */

static void
fb_need(struct fb *f, size_t n)
{
    if (f->len + n <= f->cap)
        return;
    while (f->len + n > f->cap)
        f->cap = f->cap != 0 ? f->cap * 2 : 256;
    f->p = realloc(f->p, f->cap);
    if (f->p == NULL)
        die("out of memory");
}

static void
fb_be(struct fb *f, uint64_t v, int n)
{
    fb_need(f, (size_t)n);
    nd_proto_put_be(f->p + f->len, v, n);
    f->len += (size_t)n;
}

static void
fb_raw(struct fb *f, const void *p, size_t n)
{
    fb_need(f, n);
    if (n > 0)
        memcpy(f->p + f->len, p, n);
    f->len += n;
}

static void
fb_zero(struct fb *f, size_t n)
{
    fb_need(f, n);
    memset(f->p + f->len, 0, n);
    f->len += n;
}

/* Writes a header with every field given. */
static void
fb_hdr_at(uint8_t *p, uint32_t len, uint8_t ver, uint8_t type, uint16_t flags)
{
    nd_proto_put_be(p, len, 4);
    p[4] = ver;
    p[5] = type;
    nd_proto_put_be(p + 6, flags, 2);
}

static void
fb_init(struct fb *f, uint8_t type)
{
    memset(f, 0, sizeof(*f));
    fb_need(f, ND_HDR_LEN);
    fb_hdr_at(f->p, 0, ND_PROTO_VERSION, type, 0);
    f->len = ND_HDR_LEN;
}

/* A u16-counted string that declares decl bytes (< 0: the true count). */
static void
fb_strd(struct fb *f, long decl, const char *s, size_t n)
{
    fb_be(f, decl < 0 ? n : (uint64_t)decl, 2);
    fb_raw(f, s, n);
}

static void
fb_str(struct fb *f, const char *s)
{
    fb_strd(f, -1, s, strlen(s));
}

/* Sets the header's length to the body built so far. */
static void
fb_fix(struct fb *f)
{
    nd_proto_put_be(f->p, f->len - ND_HDR_LEN, 4);
}

static void
fb_fileinfo(struct fb *f, const struct nd_fileinfo *fi)
{
    fb_be(f, fi->size, 8);
    fb_be(f, (uint64_t)fi->mtime_sec, 8);
    fb_be(f, fi->mtime_nsec, 4);
    fb_be(f, fi->offset, 8);
    fb_be(f, fi->has_md5, 1);
    fb_raw(f, fi->md5, ND_MD5_LEN);
}

static void
build_rq(struct fb *f, const struct rq *r)
{
    fb_init(f, r->type);
    fb_be(f, r->flags, 4);
    if (r->type == ND_T_PUT)
        fb_be(f, r->size, 8);
    fb_strd(f, r->d1, r->p1, r->n1);
    if (r->type == ND_T_RENAME)
        fb_strd(f, r->d2, r->p2, r->n2);
    if (r->mtime) {
        fb_be(f, (uint64_t)r->sec, 8);
        fb_be(f, r->nsec, 4);
    }
    if (r->range)
        fb_fileinfo(f, &r->rg);
    fb_fix(f);
}

/* A plain request: path (NUL-terminated), true counts. */
static struct rq
rq1(uint8_t type, uint32_t flags, const char *path)
{
    struct rq r = {.type = type, .flags = flags, .d1 = -1, .d2 = -1};

    r.p1 = path;
    r.n1 = strlen(path);
    r.p2 = "";
    return r;
}

static struct rq
rq_rename(const char *from, const char *to)
{
    struct rq r = rq1(ND_T_RENAME, 0, from);

    r.p2 = to;
    r.n2 = strlen(to);
    return r;
}

/*
 * A well-formed body for each frame type, as its sender would build it:
 * requests carry harmless arguments, replies plausible ones, unknown types
 * nothing.
 */
static void
build_valid(struct fb *f, uint8_t t)
{
    static const uint8_t zero16[16];
    struct rq r;

    switch (t) {
    case ND_T_PUT:
        r = rq1(ND_T_PUT, 0, "keep/hx-put.bin");
        r.size = 1;
        build_rq(f, &r);
        return;
    case ND_T_GET:
    case ND_T_STAT:
        r = rq1(t, 0, s_ref_remote);
        build_rq(f, &r);
        return;
    case ND_T_LIST:
        r = rq1(t, 0, "");
        build_rq(f, &r);
        return;
    case ND_T_MKDIR:
        r = rq1(t, 0, "hx-mk");
        build_rq(f, &r);
        return;
    case ND_T_REMOVE:
        r = rq1(t, 0, "keep/victim");
        build_rq(f, &r);
        return;
    case ND_T_RENAME:
        r = rq_rename("keep/victim", "keep/victim2");
        build_rq(f, &r);
        return;
    default:
        break;
    }
    fb_init(f, t);
    switch (t) {
    case ND_T_HELLO:
        fb_raw(f, ND_MAGIC, 4);
        fb_be(f, 1, 2);
        fb_be(f, 1, 2);
        break;
    case ND_T_ERROR:
        fb_be(f, ND_E_ACCESS, 2);
        fb_str(f, "x");
        break;
    case ND_T_DIGEST:
        fb_be(f, ND_DIGEST_MD5, 1);
        fb_raw(f, zero16, 16);
        break;
    case ND_T_AUTH:
        fb_raw(f, "n,,n=tester,r=hostilenonce", 26);
        break;
    case ND_T_CHALLENGE:
        fb_raw(f, "r=abcdef,s=QUJD,i=4096", 22);
        break;
    case ND_T_PROOF:
        fb_raw(f, "c=biws,r=abcdef,p=AAAA", 22);
        break;
    case ND_T_WELCOME:
        fb_raw(f, "v=AAAA", 6);
        break;
    case ND_T_RESUME: /* a ticket the server never issued */
        fb_zero(f, 64);
        break;
    case ND_T_RESUMED:
        fb_zero(f, 32);
        break;
    case ND_T_READY:
    case ND_T_END:
        fb_be(f, 0, 8);
        break;
    case ND_T_FILE:
        fb_zero(f, ND_FILEINFO_LEN);
        break;
    case ND_T_ENTRIES:
        fb_be(f, 0, 4);
        break;
    case ND_T_STATINFO:
        fb_be(f, 'f', 1);
        fb_zero(f, ND_STATINFO_LEN - 1);
        break;
    default: /* OK and unknown types: an empty body */
        break;
    }
    fb_fix(f);
}

/* ---- sockets ---------------------------------------------------------- */

static struct nd_stream *
plain(int fd)
{
    static struct nd_stream st;

    nd_stream_init(&st, fd);
    return &st;
}

/* Connects to 127.0.0.1:s_port with bounded waits and TCP_NODELAY (so
 * that dripped bytes leave as separate segments). */
static int
dial(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)s_port)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        bad("socket: %s", strerror(errno));
        return -1;
    }
    if (nd_net_set_timeouts(fd, TIMEOUT_S) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        bad("connect 127.0.0.1:%d: %s", s_port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends n bytes (in 1-byte segments while dripping).  Returns 0 or
 * -errno; a case keeps what it sent for its repro line. */
static int
xsend(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    if (s_recording) {
        for (size_t i = 0; i < n && s_sent_total + i < SENT_KEEP; i++)
            s_sent[s_sent_total + i] = b[i];
        for (size_t i = n > SENT_TAIL ? n - SENT_TAIL : 0; i < n; i++)
            s_tail[(s_sent_total + i) % SENT_TAIL] = b[i];
        s_sent_total += n;
    }
    if (s_drip_us < 0) {
        ssize_t w = nd_io_send_full(fd, p, n);
        return w < 0 ? (int)w : 0;
    }
    for (size_t i = 0; i < n; i++) {
        ssize_t w = nd_io_send_full(fd, b + i, 1);
        if (w < 0)
            return (int)w;
        sleep_us(s_drip_us);
    }
    return 0;
}

static int
xsend_frame(int fd, const void *frame, long len)
{
    if (len < 0)
        return (int)len;
    return xsend(fd, frame, (size_t)len);
}

/* Receives one frame into s_body: nd_wire_recv()'s returns. */
static int
rx(int fd, struct nd_hdr *h)
{
    memset(h, 0, sizeof(*h));
    return nd_wire_recv(plain(fd), h, s_body, sizeof(s_body));
}

/* Describes what rx() returned, for messages. */
static const char *
what(int rc, const struct nd_hdr *h)
{
    static char buf[ND_MSG_MAX + 128];
    char msg[ND_MSG_MAX + 1];

    if (rc == -ENODATA)
        return "a close (EOF)";
    if (rc == -ECONNRESET)
        return "a close (reset or EOF mid-frame)";
    if (rc == -EAGAIN)
        return "nothing (timed out)";
    if (rc < 0) {
        snprintf(buf, sizeof(buf), "a receive error: %s", strerror(-rc));
        return buf;
    }
    if (h->type == ND_T_ERROR) {
        int code = nd_proto_error_decode(s_body, h->len, msg, sizeof(msg));
        const char *name = nd_proto_status_name(code);
        snprintf(buf, sizeof(buf), "ERROR %s (%d) \"%s\"",
                 name != NULL ? name : "?", code, msg);
        return buf;
    }
    snprintf(buf, sizeof(buf), "a %s frame (%u bytes)", type_str(h->type),
             h->len);
    return buf;
}

/* True when the peer closed: EOF or reset, within the timeout. */
static bool
expect_closed(int fd, const char *after)
{
    struct nd_hdr h;
    int rc = rx(fd, &h);

    if (rc == -ENODATA || rc == -ECONNRESET)
        return true;
    return bad("after %s expected a close, got %s", after, what(rc, &h));
}

/* Receives a frame of type want; its length in *len. */
static bool
expect_frame(int fd, uint8_t want, size_t *len)
{
    struct nd_hdr h;
    int rc = rx(fd, &h);

    if (rc < 0 || h.type != want)
        return bad("expected a %s frame, got %s", type_str(want), what(rc, &h));
    if (len != NULL)
        *len = h.len;
    return true;
}

/* The session still answers: STAT "" gives a STATINFO for a directory. */
static bool
session_goes_on(int fd)
{
    uint8_t frame[64];
    struct nd_statinfo si;
    size_t len;

    if (xsend_frame(
            fd, frame,
            nd_proto_req_encode(frame, sizeof(frame), ND_T_STAT, 0, "")) < 0)
        return bad("the session did not go on: sending STAT failed");
    if (!expect_frame(fd, ND_T_STATINFO, &len)) {
        char keep[sizeof(s_why)];
        snprintf(keep, sizeof(keep), "%s", s_why);
        return bad("the session did not go on: STAT \"\": %s", keep);
    }
    if (nd_proto_statinfo_decode(s_body, len, &si) < 0 || si.type != 'd')
        return bad("the session went on, but STAT \"\" gave a bad STATINFO");
    return true;
}

/* One ERROR with a code in mask; returns the code, or 0 (s_why set). */
static int
expect_error_code(int fd, uint32_t mask)
{
    char want[160], msg[ND_MSG_MAX + 1];
    struct nd_hdr h;
    int rc = rx(fd, &h), code;

    code_names(mask, want, sizeof(want));
    if (rc < 0 || h.type != ND_T_ERROR)
        return bad("expected ERROR %s, got %s", want, what(rc, &h));
    code = nd_proto_error_decode(s_body, h.len, msg, sizeof(msg));
    if (code <= 0 || code > ND_STATUS_MAX || (mask & M(code)) == 0)
        return bad("expected ERROR %s, got %s", want, what(rc, &h));
    return code;
}

/* One ERROR with a code in mask; then a close, or the session goes on. */
static bool
expect_error(int fd, uint32_t mask, bool closed)
{
    int code = expect_error_code(fd, mask);

    if (code == 0)
        return false;
    if (closed) {
        if (!expect_closed(fd, nd_proto_status_name(code)))
            return false;
        got("ERROR %s, then closed", nd_proto_status_name(code));
    } else {
        if (!session_goes_on(fd))
            return false;
        got("ERROR %s; the session goes on", nd_proto_status_name(code));
    }
    return true;
}

/* A close, with at most one ERROR before it. */
static bool
expect_silent(int fd)
{
    struct nd_hdr h;
    int rc = rx(fd, &h);

    if (rc == -ENODATA || rc == -ECONNRESET) {
        got("closed without a reply");
        return true;
    }
    if (rc == 0 && h.type == ND_T_ERROR) {
        char shown[ND_MSG_MAX + 128];
        snprintf(shown, sizeof(shown), "%s", what(rc, &h));
        if (!expect_closed(fd, shown))
            return false;
        got("%s, then closed", shown);
        return true;
    }
    return bad("expected a close, got %s", what(rc, &h));
}

/* ---- handshake and login --------------------------------------------- */

static bool
hello(int fd)
{
    uint8_t frame[64];
    struct nd_hdr h;
    int rc;

    if (xsend_frame(fd, frame, nd_proto_hello_encode(frame, sizeof(frame))) < 0)
        return bad("sending HELLO failed");
    rc = rx(fd, &h);
    if (rc < 0 || h.type != ND_T_HELLO)
        return bad("HELLO: got %s", what(rc, &h));
    if (nd_proto_hello_decode(s_body, h.len) != ND_PROTO_VERSION)
        return bad("HELLO: the server's reply does not choose version 1");
    return true;
}

/* Sends AUTH for user and receives the CHALLENGE into chal (room for
 * ND_SCRAM_MSG_MAX bytes). */
static bool
auth_step(int fd, struct nd_scram_client *sc, const char *user, char *chal,
          size_t *chlen)
{
    char out[ND_SCRAM_MSG_MAX + 1];
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    int n = nd_scram_client_first(sc, user, NULL, out, sizeof(out));
    size_t len;

    if (n < 0)
        return bad("SCRAM client-first: %s", strerror(-n));
    if (xsend_frame(fd, frame,
                    nd_proto_raw_encode(frame, sizeof(frame), ND_T_AUTH, out,
                                        (size_t)n)) < 0)
        return bad("sending AUTH failed");
    if (!expect_frame(fd, ND_T_CHALLENGE, &len))
        return false;
    if (len > ND_SCRAM_MSG_MAX)
        return bad("CHALLENGE of %zu bytes", len);
    memcpy(chal, s_body, len);
    *chlen = len;
    return true;
}

/* Builds the PROOF for password pw into frame; returns its length or -1. */
static long
proof_frame(struct nd_scram_client *sc, const char *pw, const char *chal,
            size_t chlen, uint8_t *frame, size_t cap)
{
    char out[ND_SCRAM_MSG_MAX + 1];
    int n = nd_scram_client_final(sc, pw, strlen(pw), chal, chlen, out,
                                  sizeof(out));

    if (n < 0) {
        bad("SCRAM client-final: %s", strerror(-n));
        return -1;
    }
    return nd_proto_raw_encode(frame, cap, ND_T_PROOF, out, (size_t)n);
}

static bool
login(int fd)
{
    struct nd_scram_client sc;
    char chal[ND_SCRAM_MSG_MAX];
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    size_t chlen, len;
    long flen;
    bool ok;

    if (!auth_step(fd, &sc, s_user, chal, &chlen))
        return false;
    flen = proof_frame(&sc, s_pw, chal, chlen, frame, sizeof(frame));
    ok = flen > 0 && xsend_frame(fd, frame, flen) == 0 &&
         expect_frame(fd, ND_T_WELCOME, &len);
    if (ok && nd_scram_client_verify(&sc, (const char *)s_body, len) != 0)
        ok = bad("WELCOME does not prove the server knows the password");
    nd_scram_client_clear(&sc);
    return ok;
}

/* Opens a session in the given phase; returns the fd or -1 (s_why set).
 * Only what the case sends afterwards is recorded for its repro line. */
static int
session(enum phase p)
{
    int fd;
    bool was = s_recording;

    s_recording = false;
    fd = dial();
    if (fd >= 0 && p >= P_HELLO && !hello(fd))
        goto fail;
    if (fd >= 0 && p >= P_LOGIN && !login(fd))
        goto fail;
    s_recording = was;
    return fd;
fail:
    close(fd);
    s_recording = was;
    return -1;
}

/* ---- the checks after every case ------------------------------------ */

static bool recv_whole(int fd, uint64_t size, uint8_t md5[ND_MD5_LEN]);

/* A new session logs in, STATs the reference file (its stored md5 must be
 * the file's) and GETs it (the bytes and the trailer must match it). */
static bool
probe(char *why, size_t cap)
{
    uint8_t frame[ND_HDR_LEN + 16 + ND_PATH_MAX], md5[ND_MD5_LEN];
    struct nd_statinfo si;
    size_t len;
    int fd = session(P_LOGIN);
    bool ok;

    if (fd < 0) {
        snprintf(why, cap, "a new session failed: %s", s_why);
        return false;
    }
    ok = xsend_frame(fd, frame,
                     nd_proto_req_encode(frame, sizeof(frame), ND_T_STAT, 0,
                                         s_ref_remote)) == 0 &&
         expect_frame(fd, ND_T_STATINFO, &len) &&
         nd_proto_statinfo_decode(s_body, len, &si) == 0;
    if (ok && (si.type != 'f' || si.size != s_ref_size || si.has_md5 != 1 ||
               memcmp(si.md5, s_ref_md5, ND_MD5_LEN) != 0))
        ok = bad("STATINFO: type %c size %" PRIu64
                 " has_md5 %u, not the reference file's",
                 si.type, si.size, si.has_md5);
    ok = ok &&
         xsend_frame(fd, frame,
                     nd_proto_req_encode(frame, sizeof(frame), ND_T_GET, 0,
                                         s_ref_remote)) == 0 &&
         recv_whole(fd, s_ref_size, md5);
    if (ok && memcmp(md5, s_ref_md5, ND_MD5_LEN) != 0)
        ok = bad("GET returned other bytes than the reference file's");
    close(fd);
    if (!ok)
        snprintf(why, cap, "a new session's STAT and GET of %s: %s",
                 s_ref_remote, s_why);
    return ok;
}

static bool
pool_alive(char *why, size_t cap)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    if (s_pool_pid <= 0)
        return true;
    snprintf(path, sizeof(path), "/proc/%ld/stat", s_pool_pid);
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, cap, "the pool process %ld is gone", s_pool_pid);
        s_pool_pid = 0; /* said once; the shell test checks it again */
        return false;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
        snprintf(why, cap, "the pool process %ld has exited", s_pool_pid);
        s_pool_pid = 0;
        return false;
    }
    return true;
}

static void
lines_add(struct lines *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap != 0 ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (l->v == NULL)
            die("out of memory");
    }
    l->v[l->n] = strdup(s);
    if (l->v[l->n] == NULL)
        die("out of memory");
    l->n++;
}

static void
lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The md5 of a file as hex, or a note why there is none. */
static void
file_md5(const char *path, char *hex)
{
    static uint8_t buf[64 * 1024];
    struct nd_digest d = {0};
    uint8_t md5[ND_MD5_LEN];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    bool ok = fd >= 0 && nd_digest_init(&d) == 0;

    /* Bounded by the file's size: read_some returns 0 at its end. */
    while (ok) {
        ssize_t n = nd_io_read_some(fd, buf, sizeof(buf));
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        ok = nd_digest_update(&d, buf, (size_t)n) == 0;
    }
    if (ok && nd_digest_final(&d, md5) == 0)
        nd_digest_hex(md5, hex);
    else
        snprintf(hex, ND_DIGEST_HEX_LEN, "unreadable");
    nd_digest_free(&d);
    if (fd >= 0)
        close(fd);
}

static int
fp_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char line[2 * 4096 + 128], target[4096], hex[ND_DIGEST_HEX_LEN];
    ssize_t n;

    (void)ftw;
    if (flag == FTW_NS) {
        snprintf(line, sizeof(line), "! %s (vanished)", path);
    } else if (S_ISDIR(st->st_mode)) {
        /* A directory's size depends on the file system, not on what it
         * holds now; its entries are listed on their own. */
        snprintf(line, sizeof(line), "d %04o %s", st->st_mode & 07777u, path);
    } else if (S_ISLNK(st->st_mode)) {
        n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        snprintf(line, sizeof(line), "l %s -> %s", path, target);
    } else if (S_ISREG(st->st_mode)) {
        file_md5(path, hex);
        snprintf(line, sizeof(line), "f %04o %lld %s %s", st->st_mode & 07777u,
                 (long long)st->st_size, path, hex);
    } else {
        snprintf(line, sizeof(line), "? %04o %s", st->st_mode & 07777u, path);
    }
    lines_add(&s_fp, line);
    return 0;
}

/* Fingerprints every root into s_fp, sorted. */
static void
fingerprint(void)
{
    lines_free(&s_fp);
    for (int i = 0; i < s_nroots; i++)
        if (nftw(s_roots[i], fp_visit, 16, FTW_PHYS) != 0)
            lines_add(&s_fp, "! a root cannot be walked");
    qsort(s_fp.v, s_fp.n, sizeof(*s_fp.v), cmp_str);
}

/* Compares s_fp with the baseline; writes the first differences. */
static bool
fp_same(char *why, size_t cap)
{
    size_t i = 0, j = 0, o = 0;
    int shown = 0;

    if (s_fp.n == s_base.n) {
        while (i < s_fp.n && strcmp(s_fp.v[i], s_base.v[i]) == 0)
            i++;
        if (i == s_fp.n)
            return true;
        i = 0;
    }
    o = (size_t)snprintf(why, cap, "the storage roots changed:");
    while ((i < s_base.n || j < s_fp.n) && shown < 6 && o < cap) {
        int c = i >= s_base.n ? 1
                : j >= s_fp.n ? -1
                              : strcmp(s_base.v[i], s_fp.v[j]);
        int k = 0;

        if (c == 0) {
            i++;
            j++;
            continue;
        }
        if (c < 0)
            k = snprintf(why + o, cap - o, " [gone: %s]", s_base.v[i++]);
        else
            k = snprintf(why + o, cap - o, " [new: %s]", s_fp.v[j++]);
        if (k < 0)
            break;
        o += (size_t)k;
        shown++;
    }
    return false;
}

/*
 * True when the roots match the baseline (retrying for a moment).  A
 * change is reported once, by the case after which it was seen: the new
 * state becomes the baseline for the cases that follow (the shell test
 * still compares every group's end with the state before the first).
 */
static bool
roots_unchanged(char *why, size_t cap)
{
    for (int i = 0; i < FP_RETRIES; i++) {
        fingerprint();
        if (fp_same(why, cap))
            return true;
        sleep_us(100000);
    }
    lines_free(&s_base);
    free(s_base.v);
    s_base = s_fp;
    memset(&s_fp, 0, sizeof(s_fp));
    return false;
}

/* True when the daemon's log gained no error, internal or sanitizer line
 * since the last call. */
static bool
log_clean(char *why, size_t cap)
{
    static const char *const bad_words[] = {
        " error: ",      "internal",     "Sanitizer",    "runtime error",
        "restarting in", "pool process", "Segmentation", "assertion failed",
    };
    char line[8192];
    bool clean = true;
    FILE *f;

    if (s_log == NULL)
        return true;
    f = fopen(s_log, "r");
    if (f == NULL) {
        snprintf(why, cap, "cannot read the log %s", s_log);
        return false;
    }
    if (fseeko(f, s_log_off, SEEK_SET) < 0) {
        fclose(f);
        return true;
    }
    /* fgets() ends at EOF, so the loop is bounded by the file's size. */
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);

        if (n > 0 && line[n - 1] != '\n' && n < sizeof(line) - 1)
            break; /* a line still being written: read it next time */
        s_log_off += (off_t)n;
        for (size_t k = 0; clean && k < sizeof(bad_words) / sizeof(*bad_words);
             k++) {
            if (strcasestr(line, bad_words[k]) != NULL) {
                if (n > 0 && line[n - 1] == '\n')
                    line[n - 1] = '\0';
                snprintf(why, cap, "the daemon logged: %.400s", line);
                clean = false;
            }
        }
    }
    fclose(f);
    return clean;
}

/* ---- running cases ----------------------------------------------------- */

static void report(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report(bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        s_pass++;
    else
        s_fail++;
    printf("%s - ", ok ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void
show_sent(const struct hcase *c)
{
    static const char *const ph[] = {"right after connecting",
                                     "after HELLO, before the login",
                                     "after the login"};
    size_t n = s_sent_total < SENT_KEEP ? s_sent_total : SENT_KEEP;

    printf("#   repro: %s, sent %zu bytes%s:", ph[c->phase], s_sent_total,
           c->halfclose ? " then shutdown(SHUT_WR)" : "");
    for (size_t i = 0; i < n; i++)
        printf(" %02x", s_sent[i]);
    if (s_sent_total > n) {
        size_t from =
            s_sent_total - SENT_TAIL > n ? s_sent_total - SENT_TAIL : n;
        printf(" ...%s", from > n ? " (gap) ..." : "");
        for (size_t i = from; i < s_sent_total; i++)
            printf(" %02x", s_tail[i % SENT_TAIL]);
    }
    putchar('\n');
}

static bool
run_generic(const struct hcase *c)
{
    int fd = session(c->phase), src;
    bool ok = false;

    if (fd < 0)
        return false;
    src = xsend(fd, c->buf, c->send);
    if (c->t == 1) { /* close(2) at once: the checks after it tell */
        close(fd);
        got("%zu bytes sent, then a close(2)", c->send);
        return src == 0 || bad("sending failed: %s", strerror(-src));
    }
    if (c->halfclose)
        (void)shutdown(fd, SHUT_WR);
    switch (c->x) {
    case X_ERR_CLOSE:
        ok = expect_error(fd, c->codes, true);
        break;
    case X_ERR_CONT:
        ok = expect_error(fd, c->codes, false);
        break;
    case X_SILENT:
        ok = expect_silent(fd);
        break;
    case X_HELLO:
        ok = expect_frame(fd, ND_T_HELLO, NULL);
        if (ok && nd_proto_hello_decode(s_body, 8) != ND_PROTO_VERSION)
            ok = bad("the HELLO reply does not choose version 1");
        got("HELLO, version 1");
        break;
    case X_CHALLENGE:
        ok = expect_frame(fd, ND_T_CHALLENGE, NULL);
        got("CHALLENGE");
        break;
    }
    if (!ok && src < 0) {
        size_t n = strlen(s_why);
        snprintf(s_why + n, sizeof(s_why) - n, " (sending had failed: %s)",
                 strerror(-src));
    }
    close(fd);
    return ok;
}

static void
run_case(const struct hcase *c)
{
    char why[2600] = "";
    bool ok;

    s_why[0] = s_got[0] = '\0';
    s_sent_total = 0;
    s_recording = true;
    ok = c->fn != NULL ? c->fn(c) : run_generic(c);
    s_recording = false;
    s_drip_us = -1;
    if (ok)
        report(true, "%s/%s: %s", c->group, c->name, s_got);
    else
        report(false, "%s/%s: %s", c->group, c->name, s_why);
    if (!ok)
        show_sent(c);
    {
        char w[4][1024] = {"", "", "", ""};
        bool r[4] = {probe(w[0], sizeof(w[0])), pool_alive(w[1], sizeof(w[1])),
                     roots_unchanged(w[2], sizeof(w[2])),
                     log_clean(w[3], sizeof(w[3]))};
        size_t o = 0;

        ok = r[0] && r[1] && r[2] && r[3];
        for (int i = 0; i < 4 && o < sizeof(why); i++) {
            int k = r[i] ? 0
                         : snprintf(why + o, sizeof(why) - o, "%s%.*s",
                                    o > 0 ? "; " : "", 600, w[i]);
            o += k > 0 ? (size_t)k : 0;
        }
    }
    if (ok)
        report(true,
               "%s/%s: afterwards a new session STATs and GETs the "
               "reference file (md5), same pool pid, roots unchanged, "
               "log clean",
               c->group, c->name);
    else
        report(false, "%s/%s: afterwards: %s", c->group, c->name, why);
    fflush(stdout);
}

/* ---- building the table --------------------------------------------- */

static struct hcase *add(const char *group, enum phase ph, enum expect x,
                         uint32_t codes, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct hcase *
add(const char *group, enum phase ph, enum expect x, uint32_t codes,
    const char *fmt, ...)
{
    struct hcase *c;
    va_list ap;

    if (s_ncases == MAX_CASES)
        die("more than %d cases", MAX_CASES);
    c = &s_cases[s_ncases++];
    memset(c, 0, sizeof(*c));
    c->group = group;
    c->phase = ph;
    c->x = x;
    c->codes = codes;
    va_start(ap, fmt);
    vsnprintf(c->name, sizeof(c->name), fmt, ap);
    va_end(ap);
    return c;
}

/* Gives the frame to the case, which sends all of it. */
static void
take(struct hcase *c, struct fb *f)
{
    c->buf = f->p;
    c->len = c->send = f->len;
    f->p = NULL;
}

static const uint8_t s_types[] = {
    ND_T_HELLO,
    ND_T_OK,
    ND_T_ERROR,
    ND_T_DIGEST,
    ND_T_AUTH,
    ND_T_CHALLENGE,
    ND_T_PROOF,
    ND_T_WELCOME,
    ND_T_TICKET,
    ND_T_RESUME,
    ND_T_RESUMED,
    ND_T_PUT,
    ND_T_READY,
    ND_T_GET,
    ND_T_FILE,
    ND_T_LIST,
    ND_T_ENTRIES,
    ND_T_END,
    ND_T_STAT,
    ND_T_STATINFO,
    ND_T_MKDIR,
    ND_T_REMOVE,
    ND_T_RENAME,
    /* Unknown opcodes. */
    0x00,
    0x0c,
    0x12,
    0x7f,
    0x80,
    0xff,
};
#define NTYPES (sizeof(s_types) / sizeof(s_types[0]))

static bool
is_request(uint8_t t)
{
    return t == ND_T_PUT || t == ND_T_GET || t == ND_T_LIST || t == ND_T_STAT ||
           t == ND_T_MKDIR || t == ND_T_REMOVE || t == ND_T_RENAME;
}

/* -- group prehello: the first frame of a session -- */

static void
hello_variant(const char *name, uint8_t ver, uint16_t flags, const char *magic,
              uint16_t lo, uint16_t hi, int extra, enum expect x,
              uint32_t codes)
{
    struct hcase *c = add("prehello", P_RAW, x, codes, "%s", name);
    struct fb f;

    fb_init(&f, ND_T_HELLO);
    fb_raw(&f, magic, 4);
    fb_be(&f, lo, 2);
    fb_be(&f, hi, 2);
    if (extra > 0)
        fb_zero(&f, (size_t)extra);
    else if (extra < 0)
        f.len -= (size_t)-extra;
    fb_fix(&f);
    f.p[4] = ver;
    nd_proto_put_be(f.p + 6, flags, 2);
    take(c, &f);
}

static void
build_prehello(void)
{
    struct fb f;

    for (size_t i = 0; i < NTYPES; i++) {
        uint8_t t = s_types[i];
        struct hcase *c =
            t == ND_T_HELLO
                ? add("prehello", P_RAW, X_HELLO, 0, "a valid HELLO")
                : add("prehello", P_RAW, X_ERR_CLOSE, M(ND_E_PROTO),
                      "%s with a well-formed body as the first frame",
                      type_str(t));
        build_valid(&f, t);
        take(c, &f);
    }
    hello_variant("HELLO, header version 0", 0, 0, ND_MAGIC, 1, 1, 0,
                  X_ERR_CLOSE, M(ND_E_VERSION));
    hello_variant("HELLO, header version 2", 2, 0, ND_MAGIC, 1, 1, 0,
                  X_ERR_CLOSE, M(ND_E_VERSION));
    hello_variant("HELLO, header version 255", 255, 0, ND_MAGIC, 1, 1, 0,
                  X_ERR_CLOSE, M(ND_E_VERSION));
    hello_variant("HELLO, header flags 0x0001", 1, 1, ND_MAGIC, 1, 1, 0,
                  X_ERR_CLOSE, M(ND_E_PROTO));
    hello_variant("HELLO, header flags 0x8000", 1, 0x8000, ND_MAGIC, 1, 1, 0,
                  X_ERR_CLOSE, M(ND_E_PROTO));
    hello_variant("HELLO, magic NDSX", 1, 0, "NDSX", 1, 1, 0, X_ERR_CLOSE,
                  M(ND_E_PROTO));
    hello_variant("HELLO, versions 2..2", 1, 0, ND_MAGIC, 2, 2, 0, X_ERR_CLOSE,
                  M(ND_E_VERSION));
    hello_variant("HELLO, versions 0..0", 1, 0, ND_MAGIC, 0, 0, 0, X_ERR_CLOSE,
                  M(ND_E_VERSION));
    hello_variant("HELLO, versions 65535..65535", 1, 0, ND_MAGIC, 65535, 65535,
                  0, X_ERR_CLOSE, M(ND_E_VERSION));
    /* min > max: no common version, or malformed; the doc names neither. */
    hello_variant("HELLO, versions 2..1 (min > max)", 1, 0, ND_MAGIC, 2, 1, 0,
                  X_ERR_CLOSE, M(ND_E_VERSION) | M(ND_E_PROTO));
    hello_variant("HELLO, versions 0..65535", 1, 0, ND_MAGIC, 0, 65535, 0,
                  X_HELLO, 0);
    hello_variant("HELLO, versions 1..65535", 1, 0, ND_MAGIC, 1, 65535, 0,
                  X_HELLO, 0);
    hello_variant("HELLO with a stray ninth body byte", 1, 0, ND_MAGIC, 1, 1, 1,
                  X_ERR_CLOSE, M(ND_E_PROTO));
    hello_variant("HELLO with a 7-byte body", 1, 0, ND_MAGIC, 1, 1, -1,
                  X_ERR_CLOSE, M(ND_E_PROTO));

    struct hcase *c = add("prehello", P_RAW, X_ERR_CLOSE, ANYFRAMEERR,
                          "an HTTP request as the first bytes");
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    c->buf = xmalloc(sizeof(http) - 1);
    memcpy(c->buf, http, sizeof(http) - 1);
    c->len = c->send = sizeof(http) - 1;
    /* The first bytes of a TLS ClientHello, to a server without TLS. */
    static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01,
                                  0x00, 0x00, 0xa1, 0x03, 0x03};
    c = add("prehello", P_RAW, X_ERR_CLOSE, ANYFRAMEERR,
            "a TLS ClientHello start to a plaintext server");
    c->buf = xmalloc(sizeof(tls));
    memcpy(c->buf, tls, sizeof(tls));
    c->len = c->send = sizeof(tls);
}

/* -- group prelogin: after HELLO, before the login -- */

static bool
c_auth_then(const struct hcase *c)
{
    struct nd_scram_client sc;
    char chal[ND_SCRAM_MSG_MAX];
    size_t chlen;
    struct fb f;
    int fd = session(P_HELLO);
    bool ok;

    if (fd < 0)
        return false;
    ok = auth_step(fd, &sc, s_user, chal, &chlen);
    nd_scram_client_clear(&sc);
    if (ok) {
        build_valid(&f, c->t);
        ok = xsend(fd, f.p, f.len) == 0 && expect_error(fd, M(ND_E_AUTH), true);
        free(f.p);
    }
    close(fd);
    return ok;
}

/* AUTH for a user name that reaches for a path, then the PROOF made with
 * the test user's password: an unknown user, so ERROR AUTH and a close. */
static bool
c_login_as(const struct hcase *c)
{
    struct nd_scram_client sc;
    char chal[ND_SCRAM_MSG_MAX];
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    size_t chlen;
    long flen;
    int fd = session(P_HELLO);
    bool ok;

    if (fd < 0)
        return false;
    ok = auth_step(fd, &sc, c->s, chal, &chlen);
    if (ok) {
        flen = proof_frame(&sc, s_pw, chal, chlen, frame, sizeof(frame));
        ok = flen > 0 && xsend_frame(fd, frame, flen) == 0 &&
             expect_error(fd, M(ND_E_AUTH), true);
    }
    nd_scram_client_clear(&sc);
    close(fd);
    return ok;
}

/* After a good AUTH, a PROOF that is not the right one: ERROR AUTH and a
 * close.  c->a picks the PROOF. */
static bool
c_bad_proof(const struct hcase *c)
{
    struct nd_scram_client sc;
    char chal[ND_SCRAM_MSG_MAX];
    uint8_t frame[ND_HDR_LEN + 4096];
    size_t chlen;
    long flen = -1;
    int fd = session(P_HELLO);
    bool ok;

    if (fd < 0)
        return false;
    ok = auth_step(fd, &sc, s_user, chal, &chlen);
    if (ok) {
        static char junk[4096];
        memset(junk, 'A', sizeof(junk));
        switch (c->a) {
        case 0: /* the wrong password */
            flen = proof_frame(&sc, "not-the-password", chal, chlen, frame,
                               sizeof(frame));
            break;
        case 1:
            flen = nd_proto_raw_encode(frame, sizeof(frame), ND_T_PROOF, "", 0);
            break;
        case 2:
            flen = nd_proto_raw_encode(frame, sizeof(frame), ND_T_PROOF,
                                       "c=biws,r=wrong,p=AAAA", 21);
            break;
        case 3:
            flen = nd_proto_raw_encode(frame, sizeof(frame), ND_T_PROOF, junk,
                                       ND_SCRAM_MSG_MAX + 1);
            break;
        default:
            flen = nd_proto_raw_encode(frame, sizeof(frame), ND_T_PROOF, junk,
                                       PREAUTH_MAX);
            break;
        }
        ok = flen > 0 && xsend_frame(fd, frame, flen) == 0 &&
             expect_error(fd, M(ND_E_AUTH), true);
    }
    nd_scram_client_clear(&sc);
    close(fd);
    return ok;
}

static void
add_auth_body(const char *name, const char *body, size_t n, uint32_t codes)
{
    struct hcase *c = add("prelogin", P_HELLO, X_ERR_CLOSE, codes, "%s", name);
    struct fb f;

    fb_init(&f, ND_T_AUTH);
    fb_raw(&f, body, n);
    fb_fix(&f);
    take(c, &f);
}

static void
build_prelogin(void)
{
    static char big[PREAUTH_MAX];
    static const char *const users[] = {
        "..",
        "../tester",
        "tester/..",
        "/",
        "/etc/passwd",
        ".",
        "hxsib/../tester",
        "tester/../hxsib",
        ".netdisk-partial",
        "tester\\",
        "TESTER",
    };
    struct fb f;
    struct hcase *c;

    for (size_t i = 0; i < NTYPES; i++) {
        uint8_t t = s_types[i];

        if (t == ND_T_AUTH)
            c = add("prelogin", P_HELLO, X_CHALLENGE, 0,
                    "a well-formed AUTH gets a CHALLENGE");
        else
            c = add("prelogin", P_HELLO, X_ERR_CLOSE, M(ND_E_AUTH),
                    "%s with a well-formed body before the login", type_str(t));
        build_valid(&f, t);
        take(c, &f);
    }
    for (size_t i = 0; i < NTYPES; i++) {
        uint8_t t = s_types[i];

        if (t == ND_T_PROOF)
            continue;
        c = add("prelogin", P_HELLO, X_ERR_CLOSE, M(ND_E_AUTH),
                "%s after AUTH, in place of the PROOF", type_str(t));
        c->fn = c_auth_then;
        c->t = t;
    }
    add_auth_body("AUTH with an empty body", "", 0, M(ND_E_PROTO));
    add_auth_body("AUTH \"n\"", "n", 1, M(ND_E_PROTO));
    add_auth_body("AUTH \"n,,\"", "n,,", 3, M(ND_E_PROTO));
    add_auth_body("AUTH with an empty user", "n,,n=,r=abc", 11, M(ND_E_PROTO));
    add_auth_body("AUTH without a nonce", "n,,n=tester", 11, M(ND_E_PROTO));
    add_auth_body("AUTH with an empty nonce", "n,,n=tester,r=", 14,
                  M(ND_E_PROTO));
    add_auth_body("AUTH asking for channel binding",
                  "p=tls-unique,,n=tester,r=abc", 28, M(ND_E_PROTO));
    add_auth_body("AUTH with an authzid", "n,a=hxsib,n=tester,r=abc", 24,
                  M(ND_E_PROTO));
    add_auth_body("AUTH with gs2 flag x", "x,,n=tester,r=abc", 17,
                  M(ND_E_PROTO));
    add_auth_body("AUTH with a NUL in the user", "n,,n=tes\0ter,r=abc", 18,
                  M(ND_E_PROTO));
    add_auth_body("AUTH with a bad =XX escape", "n,,n=te=41ster,r=abc", 20,
                  M(ND_E_PROTO));
    add_auth_body("AUTH with the reserved m= attribute",
                  "n,,m=ext,n=tester,r=abc", 23, M(ND_E_PROTO));
    /* Over the SCRAM message limit but within the pre-login frame limit:
     * the doc gives AUTH "at most 1,024" bytes but names no code. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "n,,n=tester,r=", 14);
    add_auth_body("AUTH of 1025 bytes", big, ND_SCRAM_MSG_MAX + 1,
                  M(ND_E_TOOBIG) | M(ND_E_PROTO));
    add_auth_body("AUTH of 4096 bytes", big, PREAUTH_MAX,
                  M(ND_E_TOOBIG) | M(ND_E_PROTO));

    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        c = add("prelogin", P_HELLO, X_ERR_CLOSE, M(ND_E_AUTH),
                "login as user \"%s\" with the test user's password", users[i]);
        c->fn = c_login_as;
        c->s = users[i];
    }
    static const char *const proofs[] = {
        "a PROOF made with the wrong password", "an empty PROOF",
        "a PROOF with the wrong nonce", "a PROOF of 1025 bytes",
        "a PROOF of 4096 bytes"};
    for (size_t i = 0; i < sizeof(proofs) / sizeof(proofs[0]); i++) {
        c = add("prelogin", P_HELLO, X_ERR_CLOSE, M(ND_E_AUTH), "%s",
                proofs[i]);
        c->fn = c_bad_proof;
        c->a = i;
    }
}

/* -- group len: the header's length field at its edges -- */

static void
build_len(void)
{
    static const struct {
        const char *name;
        enum phase ph;
        uint32_t limit;
    } phases[] = {
        {"before HELLO", P_RAW, PREAUTH_MAX},
        {"before the login", P_HELLO, PREAUTH_MAX},
        {"after the login", P_LOGIN, ND_FRAME_MAX},
    };
    const uint64_t lens[] = {0,
                             1,
                             ND_FRAME_MAX - 1,
                             ND_FRAME_MAX,
                             ND_FRAME_MAX + 1,
                             UINT32_MAX,
                             PREAUTH_MAX,
                             PREAUTH_MAX + 1};

    for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
        for (size_t i = 0; i < NTYPES; i++) {
            for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
                uint8_t t = s_types[i];
                uint32_t len = (uint32_t)lens[k];
                uint32_t codes;
                struct hcase *c;
                struct fb f;

                /* The pre-login limit's edges matter only before it.  An
                 * empty TICKET after the login is a valid request. */
                if (k >= 6 && phases[p].ph == P_LOGIN)
                    continue;
                if (t == ND_T_TICKET && len == 0 && phases[p].ph == P_LOGIN)
                    continue;
                if (len > phases[p].limit)
                    codes = M(ND_E_TOOBIG);
                else if (phases[p].ph == P_RAW)
                    codes = M(ND_E_PROTO);
                else if (phases[p].ph == P_LOGIN)
                    codes = M(ND_E_PROTO);
                else if (t == ND_T_RESUME)
                    codes = M(ND_E_PROTO); /* never its 64 bytes here */
                else if (t != ND_T_AUTH)
                    codes = M(ND_E_AUTH);
                else if (len > ND_SCRAM_MSG_MAX)
                    codes = M(ND_E_TOOBIG) | M(ND_E_PROTO);
                else
                    codes = M(ND_E_PROTO);
                c = add("len", phases[p].ph, X_ERR_CLOSE, codes,
                        "%s, body_len %" PRIu32 " (zeroes), %s", type_str(t),
                        len, phases[p].name);
                fb_init(&f, t);
                /* A frame over the limit is refused on its header: its
                 * body is not sent, so nothing is left unread. */
                if (len <= phases[p].limit)
                    fb_zero(&f, len);
                nd_proto_put_be(f.p, len, 4);
                take(c, &f);
            }
        }
    }
}

/* -- group types: frames only the server sends, sent to it -- */

static void
build_types(void)
{
    for (size_t i = 0; i < NTYPES; i++) {
        uint8_t t = s_types[i];
        struct hcase *c;
        struct fb f;

        /* TICKET is a request too (it_ticket tests it). */
        if (is_request(t) || t == ND_T_TICKET)
            continue;
        c = add("types", P_LOGIN, X_ERR_CLOSE, M(ND_E_PROTO),
                "%s with a well-formed body after the login", type_str(t));
        build_valid(&f, t);
        take(c, &f);
    }
}

/* -- group fields: 64-bit and u32 fields at their edges -- */

/* PUT, then READY (offset 0), then c->a file bytes, then a half-close: the
 * connection ends without a trailer. */
static bool
c_put_cut(const struct hcase *c)
{
    static uint8_t bytes[64 * 1024];
    int fd = session(P_LOGIN);
    size_t len;
    uint64_t off;
    bool ok;

    if (fd < 0)
        return false;
    memset(bytes, 0x5a, sizeof(bytes));
    ok = xsend(fd, c->buf, c->len) == 0 && expect_frame(fd, ND_T_READY, &len);
    if (ok && (nd_proto_ready_decode(s_body, len, &off) < 0 || off != 0))
        ok = bad("READY does not say offset 0");
    for (uint64_t done = 0; ok && done < c->a;) {
        size_t n =
            c->a - done < sizeof(bytes) ? (size_t)(c->a - done) : sizeof(bytes);
        if (xsend(fd, bytes, n) < 0)
            ok = bad("sending file bytes failed");
        done += n;
    }
    if (ok && c->b > 0) { /* a cut trailer: c->b - 1 bytes of it */
        uint8_t md5[ND_MD5_LEN] = {0}, frame[64];
        long flen = nd_proto_digest_encode(frame, sizeof(frame), md5);
        ok = flen > 0 && xsend(fd, frame, (size_t)(c->b - 1)) == 0;
    }
    if (ok && c->t == 1) { /* close(2) at once: the checks after it tell */
        close(fd);
        got("READY, then after %" PRIu64 " file bytes a close(2)", c->a);
        return true;
    }
    (void)shutdown(fd, SHUT_WR);
    ok = ok && expect_silent(fd);
    if (ok) {
        char then[sizeof(s_got)];
        snprintf(then, sizeof(then), "%s", s_got);
        got("READY, then after %" PRIu64 " file bytes%s and a half-close: %s",
            c->a, c->b > 0 ? " and a cut trailer" : "", then);
    }
    close(fd);
    return ok;
}

static void
md5_of(const uint8_t *p, size_t n, uint8_t md5[ND_MD5_LEN])
{
    struct nd_digest d = {0};

    if (nd_digest_init(&d) < 0 || nd_digest_update(&d, p, n) < 0 ||
        nd_digest_final(&d, md5) < 0)
        die("MD5 failed");
    nd_digest_free(&d);
}

/*
 * PUT (c->buf) of c->a bytes, READY, the bytes, then what follows: with
 * c->s NULL a DIGEST that does not match (ERROR DIGEST, the session goes
 * on); else the c->b extra bytes at c->s, expecting c->codes (a closing
 * code, or DIGEST and the session goes on).
 */
static bool
c_put_body(const struct hcase *c)
{
    uint8_t *bytes = xmalloc(c->a), md5[ND_MD5_LEN], frame[64];
    int fd = session(P_LOGIN);
    size_t len;
    uint64_t off;
    bool ok;

    if (fd < 0) {
        free(bytes);
        return false;
    }
    for (uint64_t i = 0; i < c->a; i++)
        bytes[i] = (uint8_t)(i * 7 + 3);
    md5_of(bytes, c->a, md5);
    ok = xsend(fd, c->buf, c->len) == 0 && expect_frame(fd, ND_T_READY, &len);
    if (ok && (nd_proto_ready_decode(s_body, len, &off) < 0 || off != 0))
        ok = bad("READY does not say offset 0");
    ok = ok && xsend(fd, bytes, c->a) == 0;
    if (ok && c->s == NULL) {
        md5[3] ^= 0x40;
        ok = xsend_frame(fd, frame,
                         nd_proto_digest_encode(frame, sizeof(frame), md5)) ==
                 0 &&
             expect_error(fd, M(ND_E_DIGEST), false);
    } else if (ok) {
        struct nd_hdr h;
        char msg[ND_MSG_MAX + 1];
        int rc, code;

        ok = xsend(fd, c->s, c->b) == 0;
        rc = ok ? rx(fd, &h) : -EIO;
        code = rc == 0 && h.type == ND_T_ERROR
                   ? nd_proto_error_decode(s_body, h.len, msg, sizeof(msg))
                   : -1;
        if (ok &&
            (code <= 0 || code > ND_STATUS_MAX || (c->codes & M(code)) == 0)) {
            char want[160];
            code_names(c->codes, want, sizeof(want));
            ok = bad("expected ERROR %s, got %s", want, what(rc, &h));
        } else if (ok && code == ND_E_DIGEST) {
            ok = session_goes_on(fd);
            got("ERROR DIGEST; the session goes on");
        } else if (ok) {
            ok = expect_closed(fd, nd_proto_status_name(code));
            got("ERROR %s, then closed", nd_proto_status_name(code));
        }
    }
    close(fd);
    free(bytes);
    return ok;
}

/* A GET (c->buf) answered by FILE with offset c->a, then the rest of the
 * reference file and its digest as the trailer. */
static bool
c_get_file(const struct hcase *c)
{
    static uint8_t buf[64 * 1024];
    struct nd_digest d = {0};
    struct nd_fileinfo fi;
    uint8_t md5[ND_MD5_LEN], theirs[ND_MD5_LEN];
    uint64_t done = 0;
    size_t len;
    int fd = session(P_LOGIN);
    bool ok;

    if (fd < 0)
        return false;
    ok = xsend(fd, c->buf, c->len) == 0 && expect_frame(fd, ND_T_FILE, &len);
    if (ok && nd_proto_file_decode(s_body, len, &fi) < 0)
        ok = bad("malformed FILE");
    if (ok && (fi.size != s_ref_size || fi.offset != c->a))
        ok = bad("FILE says size %" PRIu64 " offset %" PRIu64
                 "; expected %" PRIu64 " and %" PRIu64,
                 fi.size, fi.offset, s_ref_size, c->a);
    ok = ok && nd_digest_init(&d) == 0;
    while (ok && done < fi.size - fi.offset) {
        size_t want = fi.size - fi.offset - done < sizeof(buf)
                          ? (size_t)(fi.size - fi.offset - done)
                          : sizeof(buf);
        ssize_t n = nd_io_read_full(fd, buf, want);
        if (n != (ssize_t)want)
            ok = bad("the file bytes stopped after %" PRIu64, done);
        else
            ok = nd_digest_update(&d, buf, want) == 0;
        done += want;
    }
    ok = ok && nd_digest_final(&d, md5) == 0 &&
         expect_frame(fd, ND_T_DIGEST, &len);
    nd_digest_free(&d);
    if (ok && nd_proto_digest_decode(s_body, len, theirs) < 0)
        ok = bad("malformed DIGEST");
    if (ok && memcmp(theirs, s_ref_md5, ND_MD5_LEN) != 0)
        ok = bad("the trailer is not the whole file's md5");
    if (ok && fi.offset == 0 && memcmp(md5, s_ref_md5, ND_MD5_LEN) != 0)
        ok = bad("the bytes sent are not the reference file");
    ok = ok && session_goes_on(fd);
    if (ok)
        got("FILE offset %" PRIu64 ", %" PRIu64 " bytes, the whole file's "
            "digest; the session goes on",
            fi.offset, done);
    close(fd);
    return ok;
}

static struct hcase *add_rq(const char *group, enum expect x, uint32_t codes,
                            const struct rq *r, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct hcase *
add_rq(const char *group, enum expect x, uint32_t codes, const struct rq *r,
       const char *fmt, ...)
{
    struct hcase *c = add(group, P_LOGIN, x, codes, "-");
    struct fb f;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->name, sizeof(c->name), fmt, ap);
    va_end(ap);
    build_rq(&f, r);
    take(c, &f);
    return c;
}

static struct nd_fileinfo
ref_info(void)
{
    struct nd_fileinfo fi = {.size = s_ref_size,
                             .mtime_sec = s_ref_sec,
                             .mtime_nsec = s_ref_nsec,
                             .has_md5 = 1};

    memcpy(fi.md5, s_ref_md5, ND_MD5_LEN);
    return fi;
}

static void
build_fields(void)
{
    static const struct {
        uint64_t v;
        const char *n;
    } huge[] = {
        {UINT64_MAX, "2^64-1"},
        {UINT64_C(1) << 63, "2^63"},
        {(UINT64_C(1) << 63) + 1, "2^63+1"},
    };
    static const struct {
        uint8_t t;
        uint32_t undefined; /* the lowest flag bit the type does not define */
    } fl[] = {
        {ND_T_PUT, 0x4},    {ND_T_GET, 0x2},   {ND_T_LIST, 0x1},
        {ND_T_STAT, 0x1},   {ND_T_MKDIR, 0x2}, {ND_T_REMOVE, 0x2},
        {ND_T_RENAME, 0x1},
    };
    const uint32_t inval = M(ND_E_INVAL);
    struct hcase *c;
    struct rq r;

    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        r = rq1(ND_T_PUT, 0, s_ref_remote);
        r.size = huge[i].v;
        add_rq("fields", X_ERR_CONT, inval, &r, "PUT size %s over %s",
               huge[i].n, s_ref_remote);
        r = rq1(ND_T_PUT, ND_PUT_MTIME | ND_PUT_RESUME, "keep/hx-huge.bin");
        r.size = huge[i].v;
        r.mtime = true;
        add_rq("fields", X_ERR_CONT, inval, &r,
               "PUT size %s with MTIME|RESUME to a new name", huge[i].n);
    }
    r = rq1(ND_T_PUT, 0, s_ref_remote);
    r.size = (UINT64_C(1) << 63) - 1;
    c = add_rq("fields", X_SILENT, 0, &r,
               "PUT size 2^63-1 over %s, no bytes, half-close", s_ref_remote);
    c->fn = c_put_cut;
    r = rq1(ND_T_PUT, 0, "keep/hx-huge.bin");
    r.size = (UINT64_C(1) << 63) - 1;
    c = add_rq("fields", X_SILENT, 0, &r,
               "PUT size 2^63-1 to a new name, 70000 bytes, half-close");
    c->fn = c_put_cut;
    c->a = 70000;
    r = rq1(ND_T_PUT, ND_PUT_RESUME, "keep/hx-res.bin");
    r.size = 10;
    add_rq("fields", X_ERR_CONT, inval, &r, "PUT with RESUME but no MTIME");

    static const struct {
        int64_t sec;
        uint32_t nsec;
        const char *n;
        bool ok;
    } mt[] = {
        {INT64_MIN, 0, "mtime_sec -2^63", true},
        {INT64_MAX, 0, "mtime_sec 2^63-1", true},
        {-1, 0, "mtime_sec -1", true},
        {0, 999999999u, "mtime_nsec 999999999", true},
        {0, 1000000000u, "mtime_nsec 1000000000", false},
        {0, UINT32_MAX, "mtime_nsec 2^32-1", false},
    };
    for (size_t i = 0; i < sizeof(mt) / sizeof(mt[0]); i++) {
        r = rq1(ND_T_PUT, ND_PUT_MTIME, "keep/hx-mtime.bin");
        r.size = 3;
        r.mtime = true;
        r.sec = mt[i].sec;
        r.nsec = mt[i].nsec;
        if (mt[i].ok) {
            c = add_rq("fields", X_ERR_CONT, M(ND_E_DIGEST), &r,
                       "PUT with MTIME %s and a wrong digest", mt[i].n);
            c->fn = c_put_body;
            c->a = 3;
        } else {
            add_rq("fields", X_ERR_CONT, inval, &r, "PUT with MTIME %s",
                   mt[i].n);
        }
    }

    /* Every request's flags: all ones, the lowest undefined bit, the top
     * bit, and an undefined bit ahead of a body that does not parse (the
     * flags are checked first). */
    for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
        const uint32_t fv[] = {UINT32_MAX, fl[i].undefined, 0x80000000u};
        for (size_t k = 0; k < 3; k++) {
            r = fl[i].t == ND_T_RENAME
                    ? rq_rename("keep/victim", "keep/victim2")
                    : rq1(fl[i].t, fv[k],
                          fl[i].t == ND_T_MKDIR    ? "hx-mk"
                          : fl[i].t == ND_T_REMOVE ? "keep/victim"
                                                   : s_ref_remote);
            r.flags = fv[k];
            r.size = 1;
            add_rq("fields", X_ERR_CONT, inval, &r, "%s with flags 0x%08x",
                   type_str(fl[i].t), fv[k]);
        }
        c = add("fields", P_LOGIN, X_ERR_CONT, inval,
                "%s with flags 0x%08x and a body cut after them",
                type_str(fl[i].t), fl[i].undefined);
        struct fb f;
        fb_init(&f, fl[i].t);
        fb_be(&f, fl[i].undefined, 4);
        fb_raw(&f, "\xff\xff\x01", 3);
        fb_fix(&f);
        take(c, &f);
    }

    /* GET with a RANGE fileinfo at its edges. */
    struct {
        const char *n;
        struct nd_fileinfo rg;
        int want; /* -1: INVAL; else the offset FILE must say */
    } rg[16];
    int nrg = 0;
    struct nd_fileinfo fi = ref_info();
#define RG(name, expr, w)                                                      \
    do {                                                                       \
        rg[nrg].n = name;                                                      \
        rg[nrg].rg = fi;                                                       \
        struct nd_fileinfo *x = &rg[nrg].rg;                                   \
        expr;                                                                  \
        rg[nrg++].want = w;                                                    \
    } while (0)
    RG("size 2^64-1", (x->size = UINT64_MAX, x->offset = 0), -1);
    RG("size 2^63", (x->size = UINT64_C(1) << 63, x->offset = 0), -1);
    RG("size 2^63-1", (x->size = (UINT64_C(1) << 63) - 1, x->offset = 0), 0);
    RG("size and offset 2^63-1",
       (x->size = (UINT64_C(1) << 63) - 1, x->offset = x->size), 0);
    RG("size and offset 2^64-1", (x->size = UINT64_MAX, x->offset = x->size),
       -1);
    RG("offset 2^64-1", (x->offset = UINT64_MAX), -1);
    RG("offset 2^63", (x->offset = UINT64_C(1) << 63), -1);
    RG("offset size+1", (x->offset = x->size + 1), -1);
    RG("offset = size (nothing left)", (x->offset = x->size), (int)s_ref_size);
    RG("offset size-1", (x->offset = x->size - 1), (int)s_ref_size - 1);
    RG("mtime_sec -2^63", (x->mtime_sec = INT64_MIN, x->offset = 5), 0);
    RG("mtime_sec 2^63-1", (x->mtime_sec = INT64_MAX, x->offset = 5), 0);
    RG("mtime_nsec 1000000000", (x->mtime_nsec = 1000000000u), -1);
    RG("mtime_nsec 2^32-1", (x->mtime_nsec = UINT32_MAX), -1);
    RG("has_md5 2", (x->has_md5 = 2), -1);
    RG("has_md5 255 and another md5",
       (x->has_md5 = 255, x->md5[0] ^= 1, x->offset = 5), -1);
#undef RG
    for (int i = 0; i < nrg; i++) {
        r = rq1(ND_T_GET, ND_GET_RANGE, s_ref_remote);
        r.range = true;
        r.rg = rg[i].rg;
        if (rg[i].want < 0) {
            add_rq("fields", X_ERR_CONT, inval, &r, "GET RANGE %s", rg[i].n);
        } else {
            c = add_rq("fields", X_ERR_CONT, 0, &r, "GET RANGE %s", rg[i].n);
            c->fn = c_get_file;
            c->a = (uint64_t)rg[i].want;
        }
    }
    r = rq1(ND_T_GET, ND_GET_RANGE, s_ref_remote);
    r.range = true;
    r.rg = fi;
    r.rg.offset = 5;
    r.rg.md5[0] ^= 1;
    c = add_rq("fields", X_ERR_CONT, 0, &r,
               "GET RANGE offset 5 with a digest that is not the file's");
    c->fn = c_get_file;
    c->a = 0;
}

/* -- group strlen: u16 string counts that do not match the bytes -- */

static void
build_strlen(void)
{
    static const struct {
        const char *n;
        uint8_t type;
        uint32_t flags;
        int which; /* 1: the first string, 2: RENAME's second */
    } fields[] = {
        {"PUT path", ND_T_PUT, 0, 1},
        {"PUT path (with MTIME)", ND_T_PUT, ND_PUT_MTIME, 1},
        {"GET path", ND_T_GET, 0, 1},
        {"GET path (with RANGE)", ND_T_GET, ND_GET_RANGE, 1},
        {"LIST path", ND_T_LIST, 0, 1},
        {"STAT path", ND_T_STAT, 0, 1},
        {"MKDIR path", ND_T_MKDIR, 0, 1},
        {"REMOVE path", ND_T_REMOVE, 0, 1},
        {"RENAME from", ND_T_RENAME, 0, 1},
        {"RENAME to", ND_T_RENAME, 0, 2},
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *path = fields[i].type == ND_T_MKDIR    ? "keep/hx-mkdir"
                           : fields[i].type == ND_T_REMOVE ? "keep/victim"
                           : fields[i].type == ND_T_RENAME ? "keep/victim"
                                                           : s_ref_remote;
        long actual =
            (long)strlen(fields[i].which == 2 ? "keep/victim2" : path);
        const long decl[] = {0, 1, actual - 1, actual + 1, 65535};

        for (size_t k = 0; k < sizeof(decl) / sizeof(decl[0]); k++) {
            struct rq r = fields[i].type == ND_T_RENAME
                              ? rq_rename(path, "keep/victim2")
                              : rq1(fields[i].type, fields[i].flags, path);

            r.flags = fields[i].flags;
            r.size = 5;
            r.mtime = (r.type == ND_T_PUT && (r.flags & ND_PUT_MTIME) != 0);
            r.range = (r.type == ND_T_GET && (r.flags & ND_GET_RANGE) != 0);
            r.rg = ref_info();
            if (fields[i].which == 1)
                r.d1 = decl[k];
            else
                r.d2 = decl[k];
            add_rq("strlen", X_ERR_CLOSE, M(ND_E_PROTO), &r,
                   "%s declared %ld bytes, %ld sent", fields[i].n, decl[k],
                   actual);
        }
    }
}

/* -- group paths: refused and missing paths for every request -- */

enum {
    O_GET = 1 << 0,
    O_STAT = 1 << 1,
    O_LIST = 1 << 2,
    O_PUT = 1 << 3,
    O_MKDIR = 1 << 4,
    O_MKDIRP = 1 << 5,
    O_REMOVE = 1 << 6,
    O_REMOVER = 1 << 7,
    O_RNFROM = 1 << 8,
    O_RNTO = 1 << 9,
    O_ALL = (1 << 10) - 1,
    /* What a missing name may be given to without creating anything. */
    O_MISSING = O_GET | O_STAT | O_LIST | O_REMOVE | O_RNFROM,
};

static const char *const s_opname[] = {
    "GET",      "STAT",   "LIST",      "PUT",         "MKDIR",
    "MKDIR -p", "REMOVE", "REMOVE -r", "RENAME from", "RENAME to",
};

/* Adds one case per op in ops for path (n bytes), all expecting codes. */
static void
add_path_ops(const char *group, const char *path, size_t n, const char *shown,
             unsigned ops, uint32_t codes)
{
    for (int o = 0; o < 10; o++) {
        struct rq r;

        if ((ops & (1u << o)) == 0)
            continue;
        switch (1 << o) {
        case O_GET:
            r = rq1(ND_T_GET, 0, "");
            break;
        case O_STAT:
            r = rq1(ND_T_STAT, 0, "");
            break;
        case O_LIST:
            r = rq1(ND_T_LIST, 0, "");
            break;
        case O_PUT:
            r = rq1(ND_T_PUT, 0, "");
            r.size = 1;
            break;
        case O_MKDIR:
            r = rq1(ND_T_MKDIR, 0, "");
            break;
        case O_MKDIRP:
            r = rq1(ND_T_MKDIR, ND_MKDIR_PARENTS, "");
            break;
        case O_REMOVE:
            r = rq1(ND_T_REMOVE, 0, "");
            break;
        case O_REMOVER:
            r = rq1(ND_T_REMOVE, ND_REMOVE_RECURSIVE, "");
            break;
        case O_RNFROM:
            r = rq_rename("", "hx-renamed");
            break;
        default:
            r = rq_rename("keep/victim", "");
            break;
        }
        if ((1 << o) == O_RNTO) {
            r.p2 = path;
            r.n2 = n;
        } else {
            r.p1 = path;
            r.n1 = n;
        }
        add_rq(group, X_ERR_CONT, codes, &r, "%s \"%s\"", s_opname[o], shown);
    }
}

static char *
repeat_path(size_t total, size_t comp, const char *prefix)
{
    char *p = xmalloc(total + 1);
    size_t pl = strlen(prefix);

    memset(p, 'n', total);
    memcpy(p, prefix, pl);
    for (size_t i = pl + comp; i < total - 1; i += comp + 1)
        p[i] = '/';
    p[total] = '\0';
    return p;
}

/* MKDIR of a name that is not UTF-8 (or an overlong ".."), then REMOVE of
 * it: both OK, since names are bytes; nothing is left. */
static bool
c_mkdir_rm(const struct hcase *c)
{
    int fd = session(P_LOGIN);
    struct fb f;
    struct rq r;
    bool ok;

    if (fd < 0)
        return false;
    r = rq1(ND_T_MKDIR, 0, c->s);
    build_rq(&f, &r);
    ok = xsend(fd, f.p, f.len) == 0 && expect_frame(fd, ND_T_OK, NULL);
    free(f.p);
    r = rq1(ND_T_REMOVE, 0, c->s);
    build_rq(&f, &r);
    ok = ok && xsend(fd, f.p, f.len) == 0 && expect_frame(fd, ND_T_OK, NULL);
    free(f.p);
    if (ok)
        got("MKDIR OK, REMOVE OK");
    close(fd);
    return ok;
}

/* A PUT with a wrong digest into a directory that does not exist: ERROR
 * DIGEST.  The doc says missing parents are made before READY, so they
 * may stay: a recursive REMOVE of the top one (OK, or NOENT had the server
 * removed them) restores the root. */
static bool
c_put_newdir(const struct hcase *c)
{
    char msg[ND_MSG_MAX + 1];
    struct nd_hdr h;
    struct fb f;
    struct rq r;
    int fd, rc;
    bool ok = c_put_body(c);

    if (!ok)
        return false;
    fd = session(P_LOGIN);
    if (fd < 0)
        return false;
    r = rq1(ND_T_REMOVE, ND_REMOVE_RECURSIVE, "hx-newdir");
    build_rq(&f, &r);
    ok = xsend(fd, f.p, f.len) == 0;
    free(f.p);
    rc = ok ? rx(fd, &h) : -EIO;
    if (ok && rc == 0 && h.type == ND_T_OK)
        got("ERROR DIGEST; the parents it made stayed (REMOVE -r OK)");
    else if (ok && rc == 0 && h.type == ND_T_ERROR &&
             nd_proto_error_decode(s_body, h.len, msg, sizeof(msg)) ==
                 ND_E_NOENT)
        got("ERROR DIGEST; no parent directory stayed");
    else
        ok = bad("REMOVE -r hx-newdir afterwards: %s", what(rc, &h));
    close(fd);
    return ok;
}

static void
build_paths(void)
{
    static const struct {
        const char *p;
        size_t n; /* 0: strlen */
        const char *shown;
        uint32_t codes;
    } refused[] = {
        {"../x", 0, NULL, M(ND_E_ACCESS)},
        {"..", 0, NULL, M(ND_E_ACCESS)},
        {"keep/../../x", 0, NULL, M(ND_E_ACCESS)},
        {"keep/..", 0, NULL, M(ND_E_ACCESS)},
        {"keep/../keep/ref.bin", 0, NULL, M(ND_E_ACCESS)},
        {"../hxsib/secret.bin", 0, NULL, M(ND_E_ACCESS)},
        {"/etc/passwd", 0, NULL, M(ND_E_ACCESS)},
        {"/", 0, NULL, M(ND_E_ACCESS)},
        {".", 0, NULL, M(ND_E_ACCESS)},
        {"./keep", 0, NULL, M(ND_E_ACCESS)},
        {"keep/./ref.bin", 0, NULL, M(ND_E_ACCESS)},
        /* The doc says ACCESS "(or INVAL, NAMETOOLONG)" without saying
         * which rule gets which: an empty component and a NUL may be
         * either. */
        {"keep//ref.bin", 0, NULL, M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {"keep\0ref.bin", 12, "keep\\0ref.bin", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {"keep/ref.bin\0", 13, "keep/ref.bin\\0",
         M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {"\0", 1, "\\0", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {"\0/../../etc/passwd", 18, "\\0/../../etc/passwd",
         M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {".netdisk-partial", 0, NULL, M(ND_E_ACCESS)},
        {".netdisk-partial/x", 0, NULL, M(ND_E_ACCESS)},
        {"keep/.netdisk-tmp", 0, NULL, M(ND_E_ACCESS)},
        {".netdisk-", 0, NULL, M(ND_E_ACCESS)},
    };
    static const char *const utf8[] = {
        "\xff\xfe",     "keep/\xc0\xaf", "\xc0\xae\xc0\xae/keep/ref.bin",
        "\xed\xa0\x80", "\x80",          "keep/ref.bin\xff",
    };
    static char s_shown[8][80];
    char shown[80];

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        add_path_ops("paths", refused[i].p,
                     refused[i].n != 0 ? refused[i].n : strlen(refused[i].p),
                     refused[i].shown != NULL ? refused[i].shown : refused[i].p,
                     O_ALL, refused[i].codes);

    /* Over the limits: NAMETOOLONG, and the session goes on. */
    char *p4096 = repeat_path(4096, 200, "keep/");
    char *one4096 = repeat_path(4096, 5000, "");
    char *p65535 = repeat_path(65535, 200, "");
    char *c256 = repeat_path(5 + 256, 300, "keep/");
    char *c255 = repeat_path(5 + 255, 300, "keep/");
    char *p4095 = repeat_path(4095, 254, "hx-nx/");
    add_path_ops("paths", p4096, 4096, "a 4096-byte path (200-byte parts)",
                 O_ALL, M(ND_E_NAMETOOLONG));
    add_path_ops("paths", one4096, 4096, "a 4096-byte single name", O_ALL,
                 M(ND_E_NAMETOOLONG));
    add_path_ops("paths", p65535, 65535, "a 65535-byte path", O_ALL,
                 M(ND_E_NAMETOOLONG));
    add_path_ops("paths", c256, strlen(c256), "keep/ + a 256-byte name", O_ALL,
                 M(ND_E_NAMETOOLONG));
    /* At the limits: allowed, but nothing is there. */
    add_path_ops("paths", c255, strlen(c255), "keep/ + a 255-byte name",
                 O_MISSING, M(ND_E_NOENT));
    add_path_ops("paths", p4095, 4095,
                 "a 4095-byte path under a missing directory",
                 O_MISSING | O_MKDIR | O_RNTO, M(ND_E_NOENT));
    for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++) {
        size_t o = 0;
        for (const char *q = utf8[i]; *q != '\0' && o + 5 < sizeof(shown); q++)
            o += (size_t)snprintf(shown + o, sizeof(shown) - o,
                                  (unsigned char)*q >= 0x80 ? "\\x%02x" : "%c",
                                  (unsigned char)*q);
        char *copy = s_shown[i];
        snprintf(copy, sizeof(s_shown[i]), "%s", shown);
        add_path_ops("paths", utf8[i], strlen(utf8[i]), copy, O_MISSING,
                     M(ND_E_NOENT));
        struct hcase *c;
        if (strchr(utf8[i], '/') == NULL || strncmp(utf8[i], "keep/", 5) == 0) {
            c = add("paths", P_LOGIN, X_ERR_CONT, 0,
                    "MKDIR then REMOVE \"%s\" (not UTF-8)", copy);
            c->fn = c_mkdir_rm;
            c->s = utf8[i];
        }
        if (i == 0 || i == 3) {
            struct rq r = rq1(ND_T_PUT, 0, utf8[i]);
            r.size = 100;
            c = add_rq("paths", X_ERR_CONT, M(ND_E_DIGEST), &r,
                       "PUT \"%s\" (not UTF-8) with a wrong digest", copy);
            c->fn = c_put_body;
            c->a = 100;
        }
    }
    /* The empty path: the user's own directory, which only LIST and STAT
     * may name. */
    add_path_ops("paths", "", 0, "", O_ALL & ~(O_LIST | O_STAT), M(ND_E_INVAL));
    free(p4096);
    free(one4096);
    free(p65535);
    free(c256);
    free(c255);
    free(p4095);

    struct rq r = rq1(ND_T_PUT, 0, "hx-newdir/sub/x.bin");
    r.size = 10;
    struct hcase *c = add_rq("paths", X_ERR_CONT, M(ND_E_DIGEST), &r,
                             "PUT with a wrong digest into a missing directory "
                             "(the doc lets the parents stay)");
    c->fn = c_put_newdir;
    c->a = 10;
}

/* -- group links: symlinks (and a FIFO) planted in the root by the shell
 * test, and names that exist but are of the wrong kind -- */

static void
build_links(void)
{
    /* esc_abs -> the canary dir outside the store (absolute), esc_rel ->
     * the same by ../../, esc_etc -> /etc, sib -> ../hxsib (another user's
     * directory), sibfile -> ../hxsib/secret.bin, dangling -> a missing
     * name outside, loop -> itself. */
    static const struct {
        unsigned op;
        const char *p;
        uint32_t codes;
    } cases[] = {
        {O_GET, "esc_abs/secret", M(ND_E_ACCESS)},
        {O_GET, "esc_rel/secret", M(ND_E_ACCESS)},
        {O_GET, "esc_etc/passwd", M(ND_E_ACCESS)},
        {O_GET, "sibfile", M(ND_E_ACCESS)},
        {O_GET, "sib/secret.bin", M(ND_E_ACCESS)},
        {O_GET, "dangling", M(ND_E_ACCESS)},
        {O_GET, "loop", M(ND_E_ACCESS)},
        {O_STAT, "esc_abs", M(ND_E_ACCESS)},
        {O_STAT, "esc_abs/secret", M(ND_E_ACCESS)},
        {O_STAT, "sib", M(ND_E_ACCESS)},
        {O_STAT, "sibfile", M(ND_E_ACCESS)},
        {O_STAT, "esc_etc/passwd", M(ND_E_ACCESS)},
        {O_LIST, "esc_abs", M(ND_E_ACCESS)},
        {O_LIST, "esc_rel/", M(ND_E_ACCESS)},
        {O_LIST, "esc_etc", M(ND_E_ACCESS)},
        {O_LIST, "sib", M(ND_E_ACCESS)},
        {O_LIST, "sib/", M(ND_E_ACCESS)},
        {O_PUT, "esc_abs/new", M(ND_E_ACCESS)},
        {O_PUT, "esc_rel/sub/new", M(ND_E_ACCESS)},
        {O_PUT, "sib/new", M(ND_E_ACCESS)},
        {O_PUT, "sib/secret.bin", M(ND_E_ACCESS)},
        {O_MKDIR, "esc_abs/new", M(ND_E_ACCESS)},
        {O_MKDIR, "sib/new", M(ND_E_ACCESS)},
        {O_MKDIRP, "sib/a/b", M(ND_E_ACCESS)},
        {O_MKDIRP, "esc_rel/x/y", M(ND_E_ACCESS)},
        /* The last component is never followed: the name is taken. */
        {O_MKDIR, "sib", M(ND_E_EXIST)},
        {O_REMOVE, "esc_abs/secret", M(ND_E_ACCESS)},
        {O_REMOVE, "sib/secret.bin", M(ND_E_ACCESS)},
        {O_REMOVER, "sib/secret.bin", M(ND_E_ACCESS)},
        {O_RNFROM, "sib/secret.bin", M(ND_E_ACCESS)},
        {O_RNFROM, "esc_abs/secret", M(ND_E_ACCESS)},
        {O_RNTO, "sib/victim", M(ND_E_ACCESS)},
        {O_RNTO, "esc_abs/victim", M(ND_E_ACCESS)},
        /* A link's own name is taken too. */
        {O_RNTO, "sibfile", M(ND_E_EXIST)},
        /* Names that exist but are not what the request wants; "fifo" is a
         * FIFO planted with no writer (a GET must not block on it). */
        {O_GET, "keep", M(ND_E_ISDIR)},
        {O_PUT, "keep", M(ND_E_ISDIR)},
        {O_GET, "fifo", M(ND_E_NOTREG)},
        {O_PUT, "keep/ref.bin/x", M(ND_E_NOTDIR)},
        {O_MKDIR, "keep", M(ND_E_EXIST)},
        {O_MKDIR, "keep/ref.bin", M(ND_E_EXIST)},
        {O_MKDIRP, "keep/ref.bin", M(ND_E_EXIST)},
        {O_MKDIRP, "keep/ref.bin/x", M(ND_E_NOTDIR)},
        {O_REMOVE, "keep", M(ND_E_EXIST)},
        {O_RNTO, "keep/victim", M(ND_E_EXIST)},
        {O_RNTO, "keep/ref.bin", M(ND_E_EXIST)},
        {O_RNTO, "fifo", M(ND_E_EXIST)},
        {O_RNFROM, "keep/no-such-file", M(ND_E_NOENT)},
        /* Trailing slashes: one is allowed on LIST and STAT only. */
        {O_GET, "keep/", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {O_PUT, "keep/", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {O_REMOVE, "keep/victim/", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {O_LIST, "keep//", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {O_STAT, "keep//", M(ND_E_ACCESS) | M(ND_E_INVAL)},
        {O_STAT, "keep/ref.bin/", M(ND_E_NOTDIR)},
        {O_LIST, "keep/ref.bin/", M(ND_E_NOTDIR)},
        {O_LIST, "keep/ref.bin", M(ND_E_NOTDIR)},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        add_path_ops("links", cases[i].p, strlen(cases[i].p), cases[i].p,
                     cases[i].op, cases[i].codes);
    /* A directory moved into itself: INVAL, nothing moves. */
    struct rq r = rq_rename("keep", "keep/inside");
    add_rq("links", X_ERR_CONT, M(ND_E_INVAL), &r,
           "RENAME \"keep\" to \"keep/inside\"");
}

/* -- group trunc: valid frames cut short, then a half-close -- */

/* The PROOF cut after c->a bytes. */
static bool
c_proof_cut(const struct hcase *c)
{
    struct nd_scram_client sc;
    char chal[ND_SCRAM_MSG_MAX];
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    size_t chlen;
    long flen;
    int fd = session(P_HELLO);
    bool ok;

    if (fd < 0)
        return false;
    ok = auth_step(fd, &sc, s_user, chal, &chlen);
    flen = ok ? proof_frame(&sc, s_pw, chal, chlen, frame, sizeof(frame)) : -1;
    nd_scram_client_clear(&sc);
    if (ok && flen <= (long)c->a)
        ok = bad("the PROOF is only %ld bytes", flen);
    /* c->b set: cut c->a bytes from the end instead. */
    ok = ok && xsend(fd, frame, c->b ? (size_t)flen - c->a : c->a) == 0;
    (void)shutdown(fd, SHUT_WR);
    ok = ok && expect_silent(fd);
    if (ok) {
        char then[sizeof(s_got)];
        snprintf(then, sizeof(then), "%s", s_got);
        got("%zu of the PROOF's %ld bytes sent: %s",
            c->b ? (size_t)flen - c->a : (size_t)c->a, flen, then);
    }
    close(fd);
    return ok;
}

static void
add_prefixes(enum phase ph, const char *what, struct fb *f)
{
    /* A close(2) right after the header, and right before the end. */
    for (size_t k = ND_HDR_LEN; k < f->len; k += f->len - 1 - ND_HDR_LEN) {
        struct hcase *c = add("trunc", ph, X_SILENT, 0,
                              "%s: the first %zu of %zu bytes, then a "
                              "close(2)",
                              what, k, f->len);
        c->buf = xmalloc(f->len);
        memcpy(c->buf, f->p, f->len);
        c->len = f->len;
        c->send = k;
        c->t = 1;
        if (f->len - 1 - ND_HDR_LEN == 0)
            break;
    }
    for (size_t k = 0; k < f->len; k++) {
        struct hcase *c = add("trunc", ph, X_SILENT, 0,
                              "%s: the first %zu of %zu bytes, then a "
                              "half-close",
                              what, k, f->len);
        c->buf = xmalloc(f->len);
        memcpy(c->buf, f->p, f->len);
        c->len = f->len;
        c->send = k;
        c->halfclose = true;
    }
    free(f->p);
}

static void
build_trunc(void)
{
    struct fb f;
    struct rq r;

    build_valid(&f, ND_T_HELLO);
    add_prefixes(P_RAW, "HELLO", &f);
    fb_init(&f, ND_T_AUTH);
    fb_raw(&f, "n,,n=tester,r=0123456789abcdef", 30);
    fb_fix(&f);
    add_prefixes(P_HELLO, "AUTH", &f);
    /* The PROOF is about 130 bytes (the nonces are random, their length
     * is not): the first 0..100 bytes, and all but the last 1..60. */
    for (uint64_t k = 0; k <= 100; k++) {
        struct hcase *c = add("trunc", P_HELLO, X_SILENT, 0,
                              "PROOF after a CHALLENGE: the first %" PRIu64
                              " bytes, then a half-close",
                              k);
        c->fn = c_proof_cut;
        c->a = k;
    }
    for (uint64_t k = 1; k <= 60; k++) {
        struct hcase *c =
            add("trunc", P_HELLO, X_SILENT, 0,
                "PROOF after a CHALLENGE: all but the last %" PRIu64
                " bytes, then a half-close",
                k);
        c->fn = c_proof_cut;
        c->a = k;
        c->b = 1;
    }
    r = rq1(ND_T_GET, 0, s_ref_remote);
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "GET", &f);
    r = rq1(ND_T_STAT, 0, s_ref_remote);
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "STAT", &f);
    r = rq1(ND_T_LIST, 0, "keep");
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "LIST", &f);
    r = rq1(ND_T_MKDIR, 0, "hx-trunc-dir");
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "MKDIR", &f);
    r = rq1(ND_T_REMOVE, 0, "keep/victim");
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "REMOVE", &f);
    r = rq_rename("keep/victim", "keep/victim2");
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "RENAME", &f);
    r = rq1(ND_T_PUT, ND_PUT_MTIME, s_ref_remote);
    r.size = 1000;
    r.mtime = true;
    r.sec = 1000000000;
    build_rq(&f, &r);
    add_prefixes(P_LOGIN, "PUT", &f);

    /* An upload that declares 1000 bytes and sends fewer, then closes. */
    static const uint64_t sent[] = {0, 1, 500, 999};
    static const char *const to[] = {"keep/ref.bin", "keep/hx-cut.bin"};
    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < sizeof(sent) / sizeof(sent[0]); k++) {
            r = rq1(ND_T_PUT, 0, to[i]);
            r.size = 1000;
            struct hcase *c = add_rq("trunc", X_SILENT, 0, &r,
                                     "PUT of 1000 bytes to %s: %" PRIu64
                                     " sent, then a half-close",
                                     to[i], sent[k]);
            c->fn = c_put_cut;
            c->a = sent[k];
            c = add_rq("trunc", X_SILENT, 0, &r,
                       "PUT of 1000 bytes to %s: %" PRIu64
                       " sent, then a close(2)",
                       to[i], sent[k]);
            c->fn = c_put_cut;
            c->a = sent[k];
            c->t = 1;
        }
    }
    /* All 1000 bytes, then the trailer cut (k = 0: no trailer at all). */
    for (uint64_t k = 0; k < ND_HDR_LEN + 17; k++) {
        r = rq1(ND_T_PUT, 0, s_ref_remote);
        r.size = 1000;
        struct hcase *c = add_rq("trunc", X_SILENT, 0, &r,
                                 "PUT of 1000 bytes over %s: all sent, then "
                                 "%" PRIu64 " of the trailer's 25 bytes",
                                 s_ref_remote, k);
        c->fn = c_put_cut;
        c->a = 1000;
        c->b = k + 1;
    }
}

/* -- group drip: a whole session in 1-byte segments -- */

static bool
drip_req(int fd, const struct rq *r, uint8_t want, size_t *len)
{
    struct fb f;
    bool ok;

    build_rq(&f, r);
    ok = xsend(fd, f.p, f.len) == 0 && expect_frame(fd, want, len);
    free(f.p);
    return ok;
}

/* Receives a FILE, the bytes and the DIGEST; returns the md5 of the bytes
 * in md5 after checking it against the trailer. */
static bool
recv_whole(int fd, uint64_t size, uint8_t md5[ND_MD5_LEN])
{
    static uint8_t buf[64 * 1024];
    struct nd_digest d = {0};
    struct nd_fileinfo fi;
    uint8_t theirs[ND_MD5_LEN];
    size_t len;
    bool ok = expect_frame(fd, ND_T_FILE, &len) &&
              nd_proto_file_decode(s_body, len, &fi) == 0 &&
              nd_digest_init(&d) == 0;

    if (ok && (fi.size != size || fi.offset != 0))
        ok = bad("FILE size %" PRIu64 ", expected %" PRIu64, fi.size, size);
    for (uint64_t done = 0; ok && done < fi.size;) {
        size_t want = fi.size - done < sizeof(buf) ? (size_t)(fi.size - done)
                                                   : sizeof(buf);
        if (nd_io_read_full(fd, buf, want) != (ssize_t)want)
            ok = bad("the file bytes stopped");
        else
            ok = nd_digest_update(&d, buf, want) == 0;
        done += want;
    }
    ok = ok && nd_digest_final(&d, md5) == 0 &&
         expect_frame(fd, ND_T_DIGEST, &len) &&
         nd_proto_digest_decode(s_body, len, theirs) == 0;
    nd_digest_free(&d);
    if (ok && memcmp(md5, theirs, ND_MD5_LEN) != 0)
        ok = bad("the trailer does not match the bytes");
    return ok;
}

static bool
c_drip(const struct hcase *c)
{
    static uint8_t data[3001];
    uint8_t md5[ND_MD5_LEN], sum[ND_MD5_LEN], frame[64];
    uint64_t stored;
    size_t len;
    struct rq r;
    int fd;
    bool ok;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 1);
    md5_of(data, sizeof(data), md5);
    s_drip_us = (long)c->a;
    fd = session(P_LOGIN); /* HELLO, AUTH and PROOF dripped too */
    if (fd < 0)
        return false;
    r = rq1(ND_T_STAT, 0, s_ref_remote);
    ok = drip_req(fd, &r, ND_T_STATINFO, NULL);
    r = rq1(ND_T_LIST, 0, "keep");
    ok = ok && drip_req(fd, &r, ND_T_ENTRIES, NULL) &&
         expect_frame(fd, ND_T_END, NULL);
    r = rq1(ND_T_GET, 0, s_ref_remote);
    if (ok) {
        struct fb f;
        build_rq(&f, &r);
        ok = xsend(fd, f.p, f.len) == 0 && recv_whole(fd, s_ref_size, sum);
        free(f.p);
        if (ok && memcmp(sum, s_ref_md5, ND_MD5_LEN) != 0)
            ok =
                bad("the dripped GET of %s returned other bytes", s_ref_remote);
    }
    r = rq1(ND_T_PUT, 0, "hx-drip.bin");
    r.size = sizeof(data);
    ok = ok && drip_req(fd, &r, ND_T_READY, NULL);
    {
        long keep = s_drip_us;
        s_drip_us = 0; /* the file bytes one per segment, without pauses */
        ok = ok && xsend(fd, data, sizeof(data)) == 0;
        s_drip_us = keep;
    }
    ok = ok &&
         xsend_frame(fd, frame,
                     nd_proto_digest_encode(frame, sizeof(frame), md5)) == 0 &&
         expect_frame(fd, ND_T_OK, &len);
    if (ok && (nd_proto_putok_decode(s_body, len, &stored, sum) < 0 ||
               stored != sizeof(data) || memcmp(sum, md5, ND_MD5_LEN) != 0))
        ok = bad("the dripped PUT's OK does not confirm size and md5");
    r = rq1(ND_T_GET, 0, "hx-drip.bin");
    if (ok) {
        struct fb f;
        build_rq(&f, &r);
        ok = xsend(fd, f.p, f.len) == 0 && recv_whole(fd, sizeof(data), sum);
        free(f.p);
        if (ok && memcmp(sum, md5, ND_MD5_LEN) != 0)
            ok = bad("GET of the dripped upload returned other bytes");
    }
    r = rq_rename("hx-drip.bin", "hx-drip2.bin");
    ok = ok && drip_req(fd, &r, ND_T_OK, NULL);
    r = rq1(ND_T_MKDIR, 0, "hx-dripdir");
    ok = ok && drip_req(fd, &r, ND_T_OK, NULL);
    r = rq1(ND_T_REMOVE, 0, "hx-dripdir");
    ok = ok && drip_req(fd, &r, ND_T_OK, NULL);
    r = rq1(ND_T_REMOVE, 0, "hx-drip2.bin");
    ok = ok && drip_req(fd, &r, ND_T_OK, NULL);
    if (ok)
        got("HELLO, login, STAT, LIST, GET, PUT (OK, md5 matches), GET, "
            "RENAME, MKDIR, REMOVE x2: all answered");
    close(fd);
    return ok;
}

static void
build_drip(void)
{
    struct hcase *c =
        add("drip", P_RAW, X_ERR_CONT, 0,
            "a whole session in 1-byte segments, 300 us apart (the PUT and "
            "the rest undone at its end)");

    c->fn = c_drip;
    c->a = 300;
    c = add("drip", P_RAW, X_ERR_CONT, 0,
            "a whole session in 1-byte segments without pauses");
    c->fn = c_drip;
    c->a = 0;
}

/* -- group put: uploads with too many bytes or the wrong digest -- */

/*
 * Frames sent in one write after a valid request: c->a picks which.  The
 * reactor must take exactly one frame at a time, answer the valid one, and
 * then refuse the next as if it came alone.
 */
static bool
c_pipeline(const struct hcase *c)
{
    uint8_t md5[ND_MD5_LEN];
    struct fb f;
    struct rq r;
    int fd = session(P_LOGIN);
    bool ok = false;

    if (fd < 0)
        return false;
    switch (c->a) {
    case 0: /* GET, then a header claiming 2^32-1 bytes */
        r = rq1(ND_T_GET, 0, s_ref_remote);
        build_rq(&f, &r);
        fb_need(&f, ND_HDR_LEN);
        fb_hdr_at(f.p + f.len, UINT32_MAX, 1, ND_T_GET, 0);
        f.len += ND_HDR_LEN;
        ok = xsend(fd, f.p, f.len) == 0 && recv_whole(fd, s_ref_size, md5) &&
             expect_error(fd, M(ND_E_TOOBIG), true);
        if (ok && memcmp(md5, s_ref_md5, ND_MD5_LEN) != 0)
            ok = bad("the GET returned other bytes");
        if (ok)
            got("the file, then ERROR TOOBIG and a close");
        break;
    case 1: /* STAT, STAT with an undefined flag, STAT */
        r = rq1(ND_T_STAT, 0, s_ref_remote);
        build_rq(&f, &r);
        r.flags = 0x8;
        {
            struct fb g;
            build_rq(&g, &r);
            fb_raw(&f, g.p, g.len);
            free(g.p);
        }
        r.flags = 0;
        {
            struct fb g;
            build_rq(&g, &r);
            fb_raw(&f, g.p, g.len);
            free(g.p);
        }
        ok = xsend(fd, f.p, f.len) == 0 &&
             expect_frame(fd, ND_T_STATINFO, NULL) &&
             expect_error_code(fd, M(ND_E_INVAL)) != 0 &&
             expect_frame(fd, ND_T_STATINFO, NULL) && session_goes_on(fd);
        if (ok)
            got("STATINFO, ERROR INVAL, STATINFO (and the session goes on)");
        break;
    default: /* PUT, its bytes and a wrong trailer without waiting */
        r = rq1(ND_T_PUT, 0, s_ref_remote);
        r.size = 3;
        build_rq(&f, &r);
        fb_raw(&f, "abc", 3);
        md5_of((const uint8_t *)"abd", 3, md5);
        fb_need(&f, 64);
        f.len += (size_t)nd_proto_digest_encode(f.p + f.len, 64, md5);
        ok = xsend(fd, f.p, f.len) == 0 && expect_frame(fd, ND_T_READY, NULL) &&
             expect_error(fd, M(ND_E_DIGEST), false);
        if (ok)
            got("READY, then ERROR DIGEST; the session goes on");
        break;
    }
    free(f.p);
    close(fd);
    return ok;
}

/*
 * A resumable upload cut after 500 of 1000 bytes: the doc keeps the bytes
 * in a partial, so the same PUT again gets READY offset 500.  Its trailer
 * is wrong, so ERROR DIGEST, and the partial is removed: the store ends as
 * it began.
 */
static bool
c_resume(const struct hcase *c)
{
    static uint8_t data[1000];
    uint8_t md5[ND_MD5_LEN], frame[64];
    struct rq r = rq1(ND_T_PUT, ND_PUT_MTIME | ND_PUT_RESUME, c->s);
    struct fb f;
    size_t len;
    uint64_t off = 0;
    int fd;
    bool ok;

    memset(data, 0x33, sizeof(data));
    md5_of(data, sizeof(data), md5);
    md5[0] ^= 1;
    r.size = sizeof(data);
    r.mtime = true;
    r.sec = 1234567890;
    r.nsec = 5;
    build_rq(&f, &r);
    fd = session(P_LOGIN);
    ok = fd >= 0 && xsend(fd, f.p, f.len) == 0 &&
         expect_frame(fd, ND_T_READY, &len) &&
         nd_proto_ready_decode(s_body, len, &off) == 0 && off == 0 &&
         xsend(fd, data, 500) == 0;
    if (fd >= 0) {
        (void)shutdown(fd, SHUT_WR);
        ok = ok && expect_silent(fd);
        close(fd);
    }
    if (ok && off != 0)
        ok = bad("the first READY says offset %" PRIu64, off);
    fd = ok ? session(P_LOGIN) : -1;
    ok = fd >= 0 && xsend(fd, f.p, f.len) == 0 &&
         expect_frame(fd, ND_T_READY, &len) &&
         nd_proto_ready_decode(s_body, len, &off) == 0;
    if (ok && off != 500)
        ok = bad("the second READY says offset %" PRIu64 ", not 500", off);
    ok = ok && xsend(fd, data + off, sizeof(data) - off) == 0 &&
         xsend_frame(fd, frame,
                     nd_proto_digest_encode(frame, sizeof(frame), md5)) == 0 &&
         expect_error(fd, M(ND_E_DIGEST), false);
    if (ok)
        got("READY 0, cut at 500; again: READY 500, the rest, a wrong "
            "trailer: ERROR DIGEST; the session goes on");
    if (fd >= 0)
        close(fd);
    free(f.p);
    return ok;
}

static void
add_extra(const char *name, const uint8_t *extra, size_t n, uint32_t codes)
{
    struct rq r = rq1(ND_T_PUT, 0, s_ref_remote);
    struct hcase *c;
    uint8_t *copy = xmalloc(n);

    r.size = 1000;
    memcpy(copy, extra, n);
    c = add_rq("put", X_ERR_CLOSE, codes, &r,
               "PUT of 1000 bytes over %s, then %s", s_ref_remote, name);
    c->fn = c_put_body;
    c->a = 1000;
    c->s = (const char *)copy;
    c->b = n;
}

static void
build_put(void)
{
    static uint8_t data[1000];
    uint8_t md5[ND_MD5_LEN], x[2 * 1000 + 64];
    size_t n;
    struct hcase *c;
    struct rq r;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3); /* c_put_body's bytes */
    md5_of(data, sizeof(data), md5);

    static const struct {
        const char *to;
        uint64_t size;
        uint32_t flags;
    } wrong[] = {
        {"keep/ref.bin", 5000, 0},
        {"keep/hx-bad.bin", 5000, 0},
        {"keep/hx-empty.bin", 0, 0},
        {"keep/hx-res.bin", 5000, ND_PUT_MTIME | ND_PUT_RESUME},
        {"keep/ref.bin", 5000, ND_PUT_MTIME | ND_PUT_RESUME},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        r = rq1(ND_T_PUT, wrong[i].flags, wrong[i].to);
        r.size = wrong[i].size;
        r.mtime = (wrong[i].flags & ND_PUT_MTIME) != 0;
        r.sec = 1234567890;
        c = add_rq("put", X_ERR_CONT, M(ND_E_DIGEST), &r,
                   "PUT of %" PRIu64 " bytes%s to %s with a wrong digest",
                   wrong[i].size, r.mtime ? " (MTIME|RESUME)" : "",
                   wrong[i].to);
        c->fn = c_put_body;
        c->a = wrong[i].size;
    }

    /* Extra bytes where the trailer belongs. */
    fb_hdr_at(x, 0, 1, ND_T_OK, 0);
    add_extra("an OK header in the trailer's place", x, 8, M(ND_E_PROTO));
    fb_hdr_at(x, 17, 2, ND_T_DIGEST, 0);
    add_extra("a DIGEST header with version 2", x, 8, M(ND_E_VERSION));
    fb_hdr_at(x, 100, 1, ND_T_DIGEST, 0);
    add_extra("a DIGEST header saying 100 bytes", x, 8, M(ND_E_TOOBIG));
    fb_hdr_at(x, 65, 1, ND_T_DIGEST, 0);
    add_extra("a DIGEST header saying 65 bytes", x, 8, M(ND_E_TOOBIG));
    fb_hdr_at(x, ND_FRAME_MAX + 1, 1, ND_T_DIGEST, 0);
    add_extra("a DIGEST header saying 262145 bytes", x, 8, M(ND_E_TOOBIG));
    /* The doc: a trailer "longer than its 17-byte body" gets TOOBIG. */
    fb_hdr_at(x, 18, 1, ND_T_DIGEST, 0);
    x[8] = ND_DIGEST_MD5;
    memcpy(x + 9, md5, ND_MD5_LEN);
    x[25] = 0;
    add_extra("a DIGEST of 18 bytes (the md5 and one more)", x, 26,
              M(ND_E_TOOBIG));
    fb_hdr_at(x, 64, 1, ND_T_DIGEST, 0);
    memset(x + 8, 0, 64);
    x[8] = ND_DIGEST_MD5;
    memcpy(x + 9, md5, ND_MD5_LEN);
    add_extra("a DIGEST of 64 bytes (the md5 and zeroes)", x, 72,
              M(ND_E_TOOBIG));
    fb_hdr_at(x, 16, 1, ND_T_DIGEST, 0);
    x[8] = ND_DIGEST_MD5;
    memcpy(x + 9, md5, 15);
    add_extra("a DIGEST of 16 bytes", x, 24, M(ND_E_PROTO));
    fb_hdr_at(x, 17, 1, ND_T_DIGEST, 1);
    add_extra("a DIGEST header with flags 1", x, 8, M(ND_E_PROTO));
    /* An unknown algorithm: the doc lists no code for it. */
    fb_hdr_at(x, 17, 1, ND_T_DIGEST, 0);
    x[8] = 2;
    memcpy(x + 9, md5, ND_MD5_LEN);
    add_extra("a DIGEST with algorithm 2 and the right md5", x, 25,
              M(ND_E_PROTO) | M(ND_E_DIGEST));
    /* More file bytes than declared, then the right trailer. */
    x[0] = 0;
    n = (size_t)nd_proto_digest_encode(x + 1, sizeof(x) - 1, md5);
    add_extra("1 extra byte and the right DIGEST", x, n + 1, ANYFRAMEERR);
    memcpy(x, data, sizeof(data));
    n = (size_t)nd_proto_digest_encode(x + sizeof(data),
                                       sizeof(x) - sizeof(data), md5);
    add_extra("1000 extra file bytes and a DIGEST", x, sizeof(data) + n,
              ANYFRAMEERR);
    memset(x, 'A', 8);
    add_extra("8 extra bytes \"AAAAAAAA\"", x, 8, ANYFRAMEERR);

    static const char *const pipe[] = {
        "GET and a 2^32-1 header in one write",
        "STAT, STAT with flag 0x8, STAT in one write",
        "PUT, its 3 bytes and a wrong trailer in one write (no wait for "
        "READY)",
    };
    for (size_t i = 0; i < sizeof(pipe) / sizeof(pipe[0]); i++) {
        c = add("put", P_LOGIN, X_ERR_CONT, 0, "%s", pipe[i]);
        c->fn = c_pipeline;
        c->a = i;
    }
    static const char *const res[] = {"keep/hx-resume.bin", "keep/ref.bin"};
    for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
        c = add("put", P_LOGIN, X_ERR_CONT, 0,
                "resumable PUT to %s cut at 500 of 1000, resumed with a "
                "wrong digest",
                res[i]);
        c->fn = c_resume;
        c->s = res[i];
    }
}

static const struct {
    const char *name;
    void (*build)(void);
    const char *what;
} s_groups[] = {
    {"prehello", build_prehello, "the first frame of a session"},
    {"prelogin", build_prelogin, "every frame before the login"},
    {"len", build_len, "every type at every edge of the length field"},
    {"types", build_types, "server-only and unknown types after the login"},
    {"fields", build_fields, "64-bit and flag fields at their edges"},
    {"strlen", build_strlen, "u16 string counts that lie"},
    {"paths", build_paths, "refused, over-long, missing, non-UTF-8 paths"},
    {"links", build_links, "planted symlinks leading out; wrong-kind names"},
    {"trunc", build_trunc, "valid frames and uploads cut short"},
    {"drip", build_drip, "a whole session in 1-byte segments"},
    {"put", build_put, "uploads with extra bytes or a wrong digest"},
};
#define NGROUPS (sizeof(s_groups) / sizeof(s_groups[0]))

/* ---- main ------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: nd_hostile --port PORT --ref-remote PATH --ref-local "
            "FILE\n"
            "                  [--root DIR]... [--pool PID] [--log FILE]\n"
            "                  [--only SUBSTRING] [--list] GROUP|all...\n"
            "Talks to 127.0.0.1:PORT only, as $NETDISK_USER with "
            "$NETDISK_PASSWORD.\nGroups:\n");
    for (size_t i = 0; i < NGROUPS; i++)
        fprintf(stderr, "  %-9s %s\n", s_groups[i].name, s_groups[i].what);
    exit(2);
}

static long
num(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        usage();
    return v;
}

static void
load_ref(void)
{
    struct stat st;
    char hex[ND_DIGEST_HEX_LEN];

    if (lstat(s_ref_local, &st) < 0 || !S_ISREG(st.st_mode))
        die("%s: not a regular file", s_ref_local);
    if (st.st_size < 16)
        die("%s: the reference file needs at least 16 bytes", s_ref_local);
    s_ref_size = (uint64_t)st.st_size;
    s_ref_sec = st.st_mtim.tv_sec;
    s_ref_nsec = (uint32_t)st.st_mtim.tv_nsec;
    file_md5(s_ref_local, hex);
    for (int i = 0; i < ND_MD5_LEN; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            die("%s: unreadable", s_ref_local);
        s_ref_md5[i] = (uint8_t)v;
    }
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"ref-remote", required_argument, NULL, 'r'},
        {"ref-local", required_argument, NULL, 'l'},
        {"root", required_argument, NULL, 'R'},
        {"pool", required_argument, NULL, 'P'},
        {"log", required_argument, NULL, 'L'},
        {"only", required_argument, NULL, 'o'},
        {"list", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    bool list = false, want[NGROUPS] = {false};
    int opt, ran = 0;
    struct stat st;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            s_port = (int)num(optarg);
            break;
        case 'r':
            s_ref_remote = optarg;
            break;
        case 'l':
            s_ref_local = optarg;
            break;
        case 'R':
            if (s_nroots == MAX_ROOTS)
                usage();
            s_roots[s_nroots++] = optarg;
            break;
        case 'P':
            s_pool_pid = num(optarg);
            break;
        case 'L':
            s_log = optarg;
            break;
        case 'o':
            s_only = optarg;
            break;
        case 'n':
            list = true;
            break;
        default:
            usage();
        }
    }
    s_user = getenv("NETDISK_USER");
    s_pw = getenv("NETDISK_PASSWORD");
    if (optind == argc || s_port <= 0 || s_port > 65535 ||
        s_ref_remote == NULL || s_ref_local == NULL || s_user == NULL ||
        s_pw == NULL || s_user[0] == '\0')
        usage();
    for (int i = optind; i < argc; i++) {
        bool found = false;
        for (size_t g = 0; g < NGROUPS; g++) {
            if (strcmp(argv[i], "all") == 0 ||
                strcmp(argv[i], s_groups[g].name) == 0) {
                want[g] = true;
                found = true;
            }
        }
        if (!found)
            usage();
    }
    load_ref();
    for (size_t g = 0; g < NGROUPS; g++)
        if (want[g])
            s_groups[g].build();
    if (list) {
        for (int i = 0; i < s_ncases; i++)
            printf("%s/%s\n", s_cases[i].group, s_cases[i].name);
        return 0;
    }
    if (s_log != NULL && stat(s_log, &st) == 0)
        s_log_off = st.st_size;
    fingerprint();
    s_base = s_fp;
    memset(&s_fp, 0, sizeof(s_fp));
    printf("# %d cases; roots fingerprinted: %zu entries\n", s_ncases,
           s_base.n);
    for (int i = 0; i < s_ncases; i++) {
        char full[300];

        snprintf(full, sizeof(full), "%s/%s", s_cases[i].group,
                 s_cases[i].name);
        if (s_only != NULL && strstr(full, s_only) == NULL)
            continue;
        run_case(&s_cases[i]);
        ran++;
    }
    for (int i = 0; i < s_ncases; i++)
        free(s_cases[i].buf);
    lines_free(&s_fp);
    lines_free(&s_base);
    free(s_fp.v);
    free(s_base.v);
    printf("# nd_hostile: %d cases run, %d checks passed, %d failed\n", ran,
           s_pass, s_fail);
    return s_fail == 0 && ran > 0 ? 0 : 1;
}
