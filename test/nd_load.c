/*
 * nd_load: a load generator for netdiskd.
 *
 * One process, one thread, one epoll loop drives every session: each is a
 * non-blocking socket with a small state machine.  A phase opens all the
 * sessions (HELLO and a SCRAM-SHA-256 login each, like the real client,
 * at most LOGIN_INFLIGHT logins at a time), waits until every one is logged
 * in, then runs a random mix of PUT, GET, LIST, STAT and REMOVE in every
 * session at once for --seconds (or --ops per session), lets the requests
 * in flight finish, and closes all the sessions together.
 *
 * Session i works under DIR/sNNNN/ with four files, f0..f2 small and f3
 * medium (DIR is --dir, by default "load-SEED", which must not exist yet);
 * the generator keeps a model of what each holds (size, mtime,
 * MD5 and the seed its bytes come from), so every reply is checked:
 *
 *   PUT    the bytes are a pure function of a seed and the offset; the
 *          trailer is their MD5; OK must echo the size and that MD5;
 *   GET    FILE's size, mtime and (when sent) MD5 match the model, every
 *          byte is compared with the regenerated content as it arrives, and
 *          the trailer equals both the model and the MD5 of what arrived;
 *   STAT   type, size, mtime and the MD5 match;
 *   LIST   exactly the files the model holds, with their sizes and mtimes;
 *   REMOVE a bare OK; afterwards GET and STAT of the name must say NOENT.
 *
 * With --pid (the daemon's pool process) it samples VmRSS, VmHWM and the
 * number of open descriptors before the first phase, during each phase and
 * after each (once its sessions are closed and the daemon settled), and
 * checks: no failed operation; descriptors after each phase exactly as
 * before; and, unless --rss-tol-kb is negative, the RSS after the last
 * phase within the tolerance of the RSS after the first (the first phase
 * warms the allocator up; growth after that is a leak).
 *
 * Logins derive the password's SCRAM keys once and reuse them (RFC 5802
 * section 5.1, as a real client may), so a login costs the generator an
 * HMAC or two and what it loads is the daemon, not PBKDF2 here.
 *
 * Two modes replace the phases for the benchmark (make bench), each ending
 * in one summary line of "key value" pairs:
 *
 *   --idle S   opens and logs in every session as a phase does, then
 *              sends nothing for S seconds while sampling --pid, and closes
 *              them: what idle connections cost the daemon.  Fails when a
 *              login failed or the server closed a session meanwhile.
 *              "idle: sessions N logged_in N seconds S lost N
 *              rss_kb_before .. fds_after .." (-1 for figures not sampled).
 *   --churn N  the small-files workload with a session per file: PUTs N
 *              files DIR/cNNNN of --churn-size bytes in one session, then,
 *              timed, GETs each in a connection of its own (connect, HELLO,
 *              login, GET, close), checked like every GET here.  Each
 *              connection logs in with the resumption ticket the one
 *              before asked for (HELLO, RESUME, TICKET and GET in one
 *              segment), or with SCRAM under --churn-login scram; after
 *              the timing, a ticket already used must be refused.  One
 *              connection at a time, on blocking sockets bounded by
 *              --op-timeout: no epoll.  "churn: gets N seconds S per_sec R
 *              ms_mean .. ms_max .. size B failed 0|1 fds_before ..".
 *              With --churn-out DIR each file got is also written to
 *              DIR/cNNNN, inside the timing, as curl -o writes its files.
 *              With --churn-op put the connection per file PUTs it
 *              instead (connect, HELLO, login, PUT, bytes, DIGEST, close),
 *              each OK checked against what was sent; the files are then
 *              got back in one session, outside the timing, and compared
 *              byte for byte.  "churn: puts N ...".
 *
 * Every wait is bounded: each connect, login step and request has a
 * deadline (--op-timeout), each phase a hard one, and every loop is bounded
 * by a count or a clock.  It connects to 127.0.0.1 only.  Exit status: 0
 * when every check passed, 1 when one failed, 2 on a usage or setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_proto.h"
#include "nd_scram.h"
#include "nd_ticket.h"

#define NSLOTS 4             /* files per session: f0..f2 small, f3 medium */
#define MEDIUM_SLOT 3        /* the slot that holds medium-sized files */
#define IBUF_CAP 8192        /* largest control frame accepted, with header */
#define OBUF_CAP 2048        /* largest control frame sent, with header */
#define RX_CAP (64 * 1024)   /* --churn: one receive's worth */
#define CHUNK (128u * 1024u) /* file bytes generated or checked at a time */
#define LOGIN_INFLIGHT 64    /* sessions connecting or logging in at once */
#define MAX_SESSIONS 20000
#define MAX_PHASES 10
#define MAX_SAMPLES 128
#define FAIL_SHOWN 20 /* failures described one by one */
#define KIB 1024u

enum op {
    OP_PUT,
    OP_GET,
    OP_LIST,
    OP_STAT,
    OP_REMOVE,
    OP_LOGIN,
    OP_COUNT,
};

static const char *const s_opname[OP_COUNT] = {"put",  "get",    "list",
                                               "stat", "remove", "login"};

enum sstate {
    S_NEW,        /* not connected yet */
    S_CONNECTING, /* non-blocking connect in progress */
    S_HELLO,      /* HELLO sent, awaiting the server's */
    S_AUTH,       /* AUTH sent, awaiting CHALLENGE */
    S_PROOF,      /* PROOF sent, awaiting WELCOME */
    S_IDLE,       /* logged in, no request in flight */
    S_REQ,        /* a request in flight */
    S_CLOSED,     /* closed at the end of the phase */
    S_FAILED,     /* closed after a failure */
};

/* For failure reports. */
static const char *const s_stname[] = {
    [S_NEW] = "not connected",
    [S_CONNECTING] = "connecting",
    [S_HELLO] = "awaiting HELLO",
    [S_AUTH] = "awaiting CHALLENGE",
    [S_PROOF] = "awaiting WELCOME",
    [S_IDLE] = "idle",
    [S_REQ] = "request",
    [S_CLOSED] = "closed",
    [S_FAILED] = "failed",
};

/* What the generator believes one of a session's files holds. */
struct slot {
    bool exists;
    uint64_t size;
    uint64_t seed; /* the bytes are gen(seed, offset) */
    int64_t mtime;
    uint8_t md5[ND_MD5_LEN];
};

struct sess {
    int id;
    int fd;
    enum sstate st;
    bool tainted; /* a request failed: the model may be wrong */
    uint32_t ev;  /* the epoll events registered */
    uint64_t rng;
    long ops; /* requests finished in this phase */
    char dir[96];
    struct slot slot[NSLOTS];

    /* The request in flight. */
    enum op op;
    int target;       /* slot index */
    bool want_noent;  /* GET or STAT of a removed file */
    struct slot next; /* PUT: what the slot holds once OK arrives */
    double started, deadline;
    uint32_t seen;   /* LIST: slots seen so far */
    uint64_t listed; /* LIST: entries seen so far */

    /* Output: a control frame, then file bytes, then the trailer. */
    uint8_t obuf[OBUF_CAP];
    size_t olen, ooff;
    uint64_t body_off, body_left;
    bool trailer_due;

    /* Input: a control frame, or file bytes (raw_left > 0). */
    uint8_t ibuf[IBUF_CAP];
    size_t ihave;
    uint64_t raw_off, raw_left;

    struct nd_digest md;
    struct nd_scram_client sc;
};

struct sample {
    int phase; /* 0: before the first phase */
    const char *when;
    long rss_kb, hwm_kb, fds;
    int open; /* sessions open when taken */
};

struct stats {
    unsigned long ok[OP_COUNT];
    unsigned long failed[OP_COUNT];
    unsigned long noent;       /* GETs and STATs that rightly said NOENT */
    unsigned long idle_failed; /* logged-in sessions lost between requests */
    double lat_max[OP_COUNT], lat_sum[OP_COUNT];
    uint64_t up, down; /* file bytes verified */
};

static struct {
    unsigned port;
    int sessions;
    int phases;
    double seconds;
    long max_ops;
    double op_timeout;
    uint64_t small_min, small_max, medium_min, medium_max;
    int pid;
    long rss_tol_kb;
    double settle;
    uint64_t seed;
    const char *user, *password;
    char dir[64];
    double idle;           /* --idle: hold the sessions this long; 0: off */
    long churn;            /* --churn: files, each got on its own connection */
    uint64_t churn_size;   /* --churn-size */
    const char *churn_out; /* --churn-out: where each get is written */
    bool churn_scram;      /* --churn-login scram: no tickets */
    bool churn_put;        /* --churn-op put: the connection per file PUTs */
} s_cfg = {
    .sessions = 500,
    .phases = 2,
    .seconds = 60,
    .op_timeout = 60,
    .small_min = 1 * KIB,
    .small_max = 64 * KIB,
    .medium_min = 256 * KIB,
    .medium_max = 4096 * KIB,
    .rss_tol_kb = 2048,
    .settle = 10,
    .churn_size = 4096,
};

static struct sess *s_sess;
static int s_ep = -1;
static struct stats s_st[MAX_PHASES + 1]; /* [0]: all phases */
static int s_phase;
static unsigned long s_failures;
static int s_inflight_logins;
static int s_open; /* sessions with a socket */
static struct sample s_samples[MAX_SAMPLES];
static int s_nsamples;
static uint8_t s_gen[CHUNK], s_rx[CHUNK];
static double s_work_secs; /* time the phases spent on requests */
/* The keys of the one password every login uses, derived once (RFC 5802
 * section 5.1, as a real client may cache them): the logins then cost the
 * generator an HMAC or two, and what they measure is the daemon. */
static struct nd_scram_client_keys s_keys;

/* ---- small helpers ----------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;

    fputs("nd_load: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* splitmix64: the content generator and the per-session random source. */
static uint64_t
mix64(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static uint64_t
rnd(struct sess *s)
{
    s->rng = mix64(s->rng);
    return s->rng;
}

/* A uniform number in lo..hi (inclusive). */
static uint64_t
rnd_range(struct sess *s, uint64_t lo, uint64_t hi)
{
    return lo + rnd(s) % (hi - lo + 1);
}

/*
 * The n content bytes at offset off of the file made from seed: 8-byte
 * word k of the file is mix64(seed ^ (k * an odd constant)), little-endian.
 * Any range can be made on its own, so the generator never keeps a copy of
 * a file: what it sends and what it expects back are made as needed.
 */
static void
gen(uint64_t seed, uint64_t off, uint8_t *buf, size_t n)
{
    uint64_t k = off / 8;
    size_t skip = (size_t)(off % 8), done = 0;

    while (done < n) {
        uint64_t w = mix64(seed ^ (k * UINT64_C(0xD6E8FEB86659FD93)));
        uint8_t b[8];
        size_t take = 8 - skip;

        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(w >> (8 * i));
        if (take > n - done)
            take = n - done;
        memcpy(buf + done, b + skip, take);
        done += take;
        skip = 0;
        k++;
    }
}

static void
hex(const uint8_t md5[ND_MD5_LEN], char out[ND_DIGEST_HEX_LEN])
{
    nd_digest_hex(md5, out);
}

/* ---- failures ---------------------------------------------------------- */

static void sess_close(struct sess *s, enum sstate st);

/*
 * Records a failed request (or login) of s, describes it on stderr (the
 * first FAIL_SHOWN in full) and closes the session: after a failure the
 * state of the stream is unknown.
 */
static void sfail(struct sess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sfail(struct sess *s, const char *fmt, ...)
{
    enum op op = s->st == S_REQ ? s->op : OP_LOGIN;
    va_list ap;

    s_failures++;
    if (s->st == S_IDLE) {
        s_st[0].idle_failed++;
        s_st[s_phase].idle_failed++;
    } else {
        s_st[0].failed[op]++;
        s_st[s_phase].failed[op]++;
    }
    if (s_failures <= FAIL_SHOWN) {
        fprintf(stderr, "nd_load: FAILED phase %d session %d (%s", s_phase,
                s->id, s->dir);
        if (s->st == S_REQ)
            fprintf(stderr, ", %s f%d, op #%ld", s_opname[op], s->target,
                    s->ops + 1);
        else if (s->st == S_IDLE)
            fprintf(stderr, ", idle");
        else
            fprintf(stderr, ", login: %s", s_stname[s->st]);
        fputs("): ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    } else if (s_failures == FAIL_SHOWN + 1) {
        fprintf(stderr, "nd_load: more failures; only counting them now\n");
    }
    s->tainted = true;
    sess_close(s, S_FAILED);
}

/* ---- the socket -------------------------------------------------------- */

static void
sess_close(struct sess *s, enum sstate st)
{
    if (s->fd >= 0) {
        if (s->st == S_CONNECTING || s->st == S_HELLO || s->st == S_AUTH ||
            s->st == S_PROOF)
            s_inflight_logins--;
        (void)epoll_ctl(s_ep, EPOLL_CTL_DEL, s->fd, NULL);
        nd_io_close(&s->fd);
        s_open--;
    }
    nd_scram_client_clear(&s->sc);
    s->st = st;
}

/* Registers for EPOLLOUT only while there is something to send. */
static void
sess_arm(struct sess *s)
{
    uint32_t want = EPOLLIN | EPOLLRDHUP;
    struct epoll_event e;

    if (s->fd < 0)
        return;
    if (s->st == S_CONNECTING || s->ooff < s->olen || s->body_left > 0 ||
        s->trailer_due)
        want |= EPOLLOUT;
    if (want == s->ev)
        return;
    e.events = want;
    e.data.ptr = s;
    if (epoll_ctl(s_ep, EPOLL_CTL_MOD, s->fd, &e) < 0)
        die("epoll_ctl: %s", strerror(errno));
    s->ev = want;
}

/* Queues one encoded control frame (len from an nd_proto encoder). */
static void
queue_frame(struct sess *s, long len, const char *what)
{
    if (len < 0 || (size_t)len > sizeof(s->obuf))
        die("encoding %s failed (%ld)", what, len);
    s->olen = (size_t)len;
    s->ooff = 0;
}

static void
sess_connect(struct sess *s, double now)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct epoll_event e;
    int one = 1;

    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        die("socket: %s (raise ulimit -n?)", strerror(errno));
    s_open++;
    s_inflight_logins++;
    (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sa.sin_port = htons((uint16_t)s_cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->st = S_CONNECTING;
    s->started = now;
    s->deadline = now + s_cfg.op_timeout;
    s->olen = s->ooff = s->ihave = 0;
    s->body_left = s->raw_left = 0;
    s->trailer_due = false;
    e.events = s->ev = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    e.data.ptr = s;
    if (epoll_ctl(s_ep, EPOLL_CTL_ADD, s->fd, &e) < 0)
        die("epoll_ctl: %s", strerror(errno));
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS)
        sfail(s, "connect 127.0.0.1:%u: %s", s_cfg.port, strerror(errno));
}

/* ---- requests ---------------------------------------------------------- */

static void
path_of(const struct sess *s, int slot, char *out, size_t cap)
{
    snprintf(out, cap, "%s/f%d", s->dir, slot);
}

static void
start_put(struct sess *s, int slot)
{
    char path[128];
    struct slot *n = &s->next;

    n->exists = true;
    if (slot == MEDIUM_SLOT)
        n->size = rnd_range(s, s_cfg.medium_min, s_cfg.medium_max);
    else
        n->size = rnd_range(s, s_cfg.small_min, s_cfg.small_max);
    n->seed = rnd(s);
    n->mtime = 1000000000 + (int64_t)(rnd(s) % 1000000000);
    path_of(s, slot, path, sizeof(path));
    queue_frame(s,
                nd_proto_put_encode(s->obuf, sizeof(s->obuf), ND_PUT_MTIME,
                                    n->size, path, n->mtime,
                                    (uint32_t)(rnd(s) % 1000000000)),
                "PUT");
}

/* Picks the next request from the mix and queues it. */
static void
start_op(struct sess *s, double now)
{
    int have[NSLOTS], gone[NSLOTS], nh = 0, ng = 0;
    char path[128];
    unsigned r;

    for (int i = 0; i < NSLOTS; i++) {
        if (s->slot[i].exists)
            have[nh++] = i;
        else
            gone[ng++] = i;
    }
    s->st = S_REQ;
    s->started = now;
    s->deadline = now + s_cfg.op_timeout;
    s->want_noent = false;
    s->seen = 0;
    s->listed = 0;
    r = (unsigned)(rnd(s) % 100);
    if (nh == 0 || r < 30) {
        s->op = OP_PUT;
        s->target = (int)(rnd(s) % NSLOTS);
        start_put(s, s->target);
        return;
    }
    if (r < 44) {
        s->op = OP_LIST;
        s->target = -1;
        queue_frame(
            s,
            nd_proto_req_encode(s->obuf, sizeof(s->obuf), ND_T_LIST, 0, s->dir),
            "LIST");
        return;
    }
    if (r < 48) {
        s->op = OP_REMOVE;
        s->target = have[rnd(s) % (unsigned)nh];
        path_of(s, s->target, path, sizeof(path));
        queue_frame(s,
                    nd_proto_fsreq_encode(s->obuf, sizeof(s->obuf), ND_T_REMOVE,
                                          0, path, NULL),
                    "REMOVE");
        return;
    }
    s->op = r < 78 ? OP_GET : OP_STAT;
    /* Now and then a file the model says is gone: NOENT is the answer. */
    if (ng > 0 && rnd(s) % 16 == 0) {
        s->target = gone[rnd(s) % (unsigned)ng];
        s->want_noent = true;
    } else {
        s->target = have[rnd(s) % (unsigned)nh];
    }
    path_of(s, s->target, path, sizeof(path));
    if (s->op == OP_GET)
        queue_frame(s,
                    nd_proto_get_encode(s->obuf, sizeof(s->obuf), path, NULL),
                    "GET");
    else
        queue_frame(
            s,
            nd_proto_req_encode(s->obuf, sizeof(s->obuf), ND_T_STAT, 0, path),
            "STAT");
}

/* Adds one finished request (or login) of lat seconds to the totals and
 * to the current phase's. */
static void
count_op(enum op op, double lat, bool noent)
{
    struct stats *both[2] = {&s_st[0], &s_st[s_phase]};

    for (int i = 0; i < 2; i++) {
        both[i]->ok[op]++;
        both[i]->lat_sum[op] += lat;
        if (lat > both[i]->lat_max[op])
            both[i]->lat_max[op] = lat;
        if (noent)
            both[i]->noent++;
    }
}

/* A request finished and every check on it passed. */
static void
op_done(struct sess *s, double now)
{
    count_op(s->op, now - s->started, s->want_noent);
    s->ops++;
    s->st = S_IDLE;
}

static void
count_bytes(bool up, uint64_t n)
{
    if (up) {
        s_st[0].up += n;
        s_st[s_phase].up += n;
    } else {
        s_st[0].down += n;
        s_st[s_phase].down += n;
    }
}

/* ---- replies ----------------------------------------------------------- */

/* An ERROR frame where none was expected (or a NOENT that was). */
static void
on_error(struct sess *s, const uint8_t *body, size_t len, double now)
{
    char msg[ND_MSG_MAX + 1];
    int code = nd_proto_error_decode(body, len, msg, sizeof(msg));

    if (s->st == S_REQ && s->want_noent && code == ND_E_NOENT) {
        op_done(s, now);
        return;
    }
    if (code < 0)
        sfail(s, "malformed ERROR frame");
    else
        sfail(s, "ERROR %s (%d): %s",
              nd_proto_status_name(code) ? nd_proto_status_name(code) : "?",
              code, msg);
}

static void
on_login_frame(struct sess *s, const struct nd_hdr *h, const uint8_t *body,
               double now)
{
    char out[ND_SCRAM_MSG_MAX + 1];
    int n;

    if (s->st == S_HELLO && h->type == ND_T_HELLO) {
        if (nd_proto_hello_decode(body, h->len) != ND_PROTO_VERSION) {
            sfail(s, "bad HELLO reply");
            return;
        }
        n = nd_scram_client_first(&s->sc, s_cfg.user, NULL, out, sizeof(out));
        if (n < 0)
            die("SCRAM client-first: %s", strerror(-n));
        queue_frame(s,
                    nd_proto_raw_encode(s->obuf, sizeof(s->obuf), ND_T_AUTH,
                                        out, (size_t)n),
                    "AUTH");
        s->st = S_AUTH;
    } else if (s->st == S_AUTH && h->type == ND_T_CHALLENGE) {
        n = nd_scram_client_final_cached(
            &s->sc, &s_keys, s_cfg.password, strlen(s_cfg.password),
            (const char *)body, h->len, out, sizeof(out));
        if (n < 0) {
            sfail(s, "SCRAM: bad CHALLENGE: %s", strerror(-n));
            return;
        }
        queue_frame(s,
                    nd_proto_raw_encode(s->obuf, sizeof(s->obuf), ND_T_PROOF,
                                        out, (size_t)n),
                    "PROOF");
        s->st = S_PROOF;
    } else if (s->st == S_PROOF && h->type == ND_T_WELCOME) {
        if (nd_scram_client_verify(&s->sc, (const char *)body, h->len) != 0) {
            sfail(s, "WELCOME does not prove the server knows the "
                     "password");
            return;
        }
        nd_scram_client_clear(&s->sc);
        s_inflight_logins--;
        count_op(OP_LOGIN, now - s->started, false);
        s->st = S_IDLE;
    } else {
        sfail(s, "login: unexpected %s frame", nd_proto_type_name(h->type));
    }
}

static void
on_list_frame(struct sess *s, const struct nd_hdr *h, const uint8_t *body,
              double now)
{
    uint32_t n;
    size_t off;
    uint64_t total;
    unsigned want = 0;

    if (h->type == ND_T_ENTRIES) {
        if (nd_proto_entries_count(body, h->len, &n) < 0) {
            sfail(s, "malformed ENTRIES");
            return;
        }
        off = 4;
        for (uint32_t i = 0; i < n; i++) {
            struct nd_entry e;
            const struct slot *sl;
            int k;

            if (nd_proto_entries_next(body, h->len, &off, &e) < 0) {
                sfail(s, "malformed entry %u of %u", i, n);
                return;
            }
            if (e.name_len != 2 || e.name[0] != 'f' || e.name[1] < '0' ||
                e.name[1] >= '0' + NSLOTS) {
                sfail(s, "LIST shows a stranger \"%s\"", e.name);
                return;
            }
            k = e.name[1] - '0';
            sl = &s->slot[k];
            if (!sl->exists) {
                sfail(s, "LIST shows f%d, which was removed", k);
                return;
            }
            if ((s->seen & (1u << k)) != 0) {
                sfail(s, "LIST shows f%d twice", k);
                return;
            }
            if (e.type != ND_FT_FILE || e.size != sl->size ||
                e.mtime != sl->mtime) {
                sfail(s,
                      "LIST f%d: type %c size %" PRIu64 " mtime %" PRId64
                      ", expected f %" PRIu64 " %" PRId64,
                      k, e.type, e.size, e.mtime, sl->size, sl->mtime);
                return;
            }
            s->seen |= 1u << k;
            s->listed++;
        }
        if (off != h->len) {
            sfail(s, "ENTRIES has %zu stray bytes", h->len - off);
            return;
        }
        return;
    }
    if (h->type != ND_T_END) {
        sfail(s, "LIST: unexpected %s frame", nd_proto_type_name(h->type));
        return;
    }
    if (nd_proto_end_decode(body, h->len, &total) < 0) {
        sfail(s, "malformed END");
        return;
    }
    for (int i = 0; i < NSLOTS; i++)
        if (s->slot[i].exists)
            want |= 1u << i;
    if (s->seen != want) {
        sfail(s, "LIST showed files 0x%x, the session holds 0x%x", s->seen,
              want);
        return;
    }
    if (total != s->listed) {
        sfail(s, "END says %" PRIu64 " entries, %" PRIu64 " came", total,
              s->listed);
        return;
    }
    op_done(s, now);
}

/* A control frame arrived while a request is in flight. */
static void
on_req_frame(struct sess *s, const struct nd_hdr *h, const uint8_t *body,
             double now)
{
    struct slot *sl = &s->slot[s->target >= 0 ? s->target : 0];
    char a[ND_DIGEST_HEX_LEN], b[ND_DIGEST_HEX_LEN];

    if (s->op == OP_LIST) {
        on_list_frame(s, h, body, now);
        return;
    }
    if (s->want_noent) {
        sfail(s, "expected ERROR NOENT for a removed file, got %s",
              nd_proto_type_name(h->type));
        return;
    }
    if (s->op == OP_PUT && h->type == ND_T_READY && !s->trailer_due &&
        s->body_left == 0 && s->body_off == 0) {
        uint64_t off;

        if (nd_proto_ready_decode(body, h->len, &off) < 0 || off != 0) {
            sfail(s, "bad READY (offset must be 0)");
            return;
        }
        if (nd_digest_reset(&s->md) < 0)
            die("MD5 reset failed");
        s->body_off = 0;
        s->body_left = s->next.size;
        s->trailer_due = true;
        return;
    }
    if (s->op == OP_PUT && h->type == ND_T_OK && !s->trailer_due &&
        s->body_left == 0 && s->body_off == s->next.size) {
        uint64_t size;
        uint8_t md5[ND_MD5_LEN];

        if (nd_proto_putok_decode(body, h->len, &size, md5) < 0) {
            sfail(s, "malformed OK");
            return;
        }
        hex(md5, a);
        hex(s->next.md5, b);
        if (size != s->next.size || memcmp(md5, s->next.md5, 16) != 0) {
            sfail(s,
                  "OK says %" PRIu64 " bytes md5 %s; sent %" PRIu64
                  " bytes md5 %s",
                  size, a, s->next.size, b);
            return;
        }
        *sl = s->next;
        count_bytes(true, size);
        s->body_off = 0;
        {
            op_done(s, now);
            return;
        }
    }
    if (s->op == OP_GET && h->type == ND_T_FILE && s->raw_off == 0) {
        struct nd_fileinfo fi;

        if (nd_proto_file_decode(body, h->len, &fi) < 0) {
            sfail(s, "malformed FILE");
            return;
        }
        if (fi.size != sl->size || fi.offset != 0 ||
            fi.mtime_sec != sl->mtime) {
            sfail(s,
                  "FILE: size %" PRIu64 " offset %" PRIu64 " mtime %" PRId64
                  ", expected %" PRIu64 " 0 %" PRId64,
                  fi.size, fi.offset, fi.mtime_sec, sl->size, sl->mtime);
            return;
        }
        if (fi.has_md5 && memcmp(fi.md5, sl->md5, 16) != 0) {
            hex(fi.md5, a);
            hex(sl->md5, b);
            {
                sfail(s, "FILE says md5 %s, put %s", a, b);
                return;
            }
        }
        if (nd_digest_reset(&s->md) < 0)
            die("MD5 reset failed");
        s->raw_left = fi.size;
        s->raw_off = 0;
        return;
    }
    if (s->op == OP_GET && h->type == ND_T_DIGEST && s->raw_left == 0 &&
        s->raw_off == sl->size) {
        uint8_t md5[ND_MD5_LEN], got[ND_MD5_LEN];

        if (nd_proto_digest_decode(body, h->len, md5) < 0) {
            sfail(s, "malformed DIGEST");
            return;
        }
        if (nd_digest_final(&s->md, got) < 0)
            die("MD5 failed");
        if (memcmp(md5, sl->md5, 16) != 0 || memcmp(got, sl->md5, 16) != 0) {
            hex(md5, a);
            hex(sl->md5, b);
            {
                sfail(s, "trailer md5 %s, put md5 %s, received bytes %s", a, b,
                      memcmp(got, sl->md5, 16) == 0 ? "match" : "differ");
                return;
            }
        }
        count_bytes(false, sl->size);
        s->raw_off = 0;
        {
            op_done(s, now);
            return;
        }
    }
    if (s->op == OP_STAT && h->type == ND_T_STATINFO) {
        struct nd_statinfo si;

        if (nd_proto_statinfo_decode(body, h->len, &si) < 0) {
            sfail(s, "malformed STATINFO");
            return;
        }
        if (si.type != ND_FT_FILE || si.size != sl->size ||
            si.mtime != sl->mtime || si.has_md5 != 1 ||
            memcmp(si.md5, sl->md5, 16) != 0) {
            hex(si.md5, a);
            hex(sl->md5, b);
            {
                sfail(s,
                      "STATINFO %c %" PRIu64 " %" PRId64 " md5(%d) %s, "
                      "expected f %" PRIu64 " %" PRId64 " md5 %s",
                      si.type, si.size, si.mtime, si.has_md5, a, sl->size,
                      sl->mtime, b);
                return;
            }
        }
        {
            op_done(s, now);
            return;
        }
    }
    if (s->op == OP_REMOVE && h->type == ND_T_OK) {
        if (h->len != 0) {
            sfail(s, "REMOVE: OK with a body");
            return;
        }
        sl->exists = false;
        {
            op_done(s, now);
            return;
        }
    }
    sfail(s, "unexpected %s frame", nd_proto_type_name(h->type));
}

static void
on_frame(struct sess *s, const struct nd_hdr *h, const uint8_t *body,
         double now)
{
    if (h->type == ND_T_ERROR) {
        on_error(s, body, h->len, now);
        return;
    }
    if (s->st == S_HELLO || s->st == S_AUTH || s->st == S_PROOF) {
        on_login_frame(s, h, body, now);
        return;
    }
    if (s->st == S_REQ) {
        on_req_frame(s, h, body, now);
        return;
    }
    sfail(s, "a %s frame while no request is in flight",
          nd_proto_type_name(h->type));
}

/* ---- I/O --------------------------------------------------------------- */

/* Sends what can be sent now.  Returns 1 on progress, 0 when the socket is
 * full or nothing is pending, -1 when the session failed. */
static int
do_send(struct sess *s)
{
    ssize_t n;

    if (s->ooff < s->olen) {
        n = nd_io_send_nowait(s->fd, s->obuf + s->ooff, s->olen - s->ooff);
        if (n == -EAGAIN)
            return 0;
        if (n < 0) {
            sfail(s, "send: %s", strerror((int)-n));
            return -1;
        }
        s->ooff += (size_t)n;
        return 1;
    }
    if (s->body_left > 0) {
        size_t want = s->body_left < CHUNK ? (size_t)s->body_left : CHUNK;

        gen(s->next.seed, s->body_off, s_gen, want);
        n = nd_io_send_nowait(s->fd, s_gen, want);
        if (n == -EAGAIN)
            return 0;
        if (n < 0) {
            sfail(s, "sending file bytes after %" PRIu64 ": %s", s->body_off,
                  strerror((int)-n));
            return -1;
        }
        if (nd_digest_update(&s->md, s_gen, (size_t)n) < 0)
            die("MD5 update failed");
        s->body_off += (uint64_t)n;
        s->body_left -= (uint64_t)n;
        return 1;
    }
    if (s->trailer_due) {
        if (nd_digest_final(&s->md, s->next.md5) < 0)
            die("MD5 failed");
        s->trailer_due = false;
        queue_frame(
            s, nd_proto_digest_encode(s->obuf, sizeof(s->obuf), s->next.md5),
            "DIGEST");
        return 1;
    }
    return 0;
}

/* Receives what has arrived.  Returns 1 on progress, 0 when nothing is
 * there, -1 when the session failed. */
static int
do_recv(struct sess *s, double now)
{
    ssize_t n;

    if (s->raw_left > 0) {
        size_t want = s->raw_left < CHUNK ? (size_t)s->raw_left : CHUNK;

        n = nd_io_recv_nowait(s->fd, s_rx, want);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0) {
            sfail(s, "file bytes after %" PRIu64 " of %" PRIu64 ": %s",
                  s->raw_off, s->raw_off + s->raw_left,
                  n == 0 ? "EOF" : strerror((int)-n));
            return -1;
        }
        gen(s->slot[s->target].seed, s->raw_off, s_gen, (size_t)n);
        if (memcmp(s_rx, s_gen, (size_t)n) != 0) {
            size_t i = 0;

            while (i < (size_t)n && s_rx[i] == s_gen[i])
                i++;
            sfail(s, "byte %" PRIu64 " differs from what was put",
                  s->raw_off + i);
            return -1;
        }
        if (nd_digest_update(&s->md, s_rx, (size_t)n) < 0)
            die("MD5 update failed");
        s->raw_off += (uint64_t)n;
        s->raw_left -= (uint64_t)n;
        return 1;
    }
    if (s->ihave < ND_HDR_LEN) {
        n = nd_io_recv_nowait(s->fd, s->ibuf + s->ihave, ND_HDR_LEN - s->ihave);
    } else {
        struct nd_hdr h;
        int rc = nd_proto_hdr_decode(s->ibuf, &h);

        if (rc < 0 || h.len > IBUF_CAP - ND_HDR_LEN) {
            sfail(s, "bad frame header (type %s, %" PRIu32 " bytes)",
                  nd_proto_type_name(h.type), h.len);
            return -1;
        }
        n = nd_io_recv_nowait(s->fd, s->ibuf + s->ihave,
                              ND_HDR_LEN + h.len - s->ihave);
    }
    if (n == -EAGAIN)
        return 0;
    if (n <= 0) {
        if (s->ihave == 0 && n == 0) {
            sfail(s, "the server closed the session");
            return -1;
        }
        {
            sfail(s, "receiving a frame: %s",
                  n == 0 ? "EOF mid-frame" : strerror((int)-n));
            return -1;
        }
    }
    s->ihave += (size_t)n;
    if (s->ihave >= ND_HDR_LEN) {
        struct nd_hdr h;
        int rc = nd_proto_hdr_decode(s->ibuf, &h);

        if (rc < 0 || h.len > IBUF_CAP - ND_HDR_LEN) {
            sfail(s, "bad frame header (type %s, %" PRIu32 " bytes)",
                  nd_proto_type_name(h.type), h.len);
            return -1;
        }
        if (s->ihave == ND_HDR_LEN + h.len) {
            s->ihave = 0;
            on_frame(s, &h, s->ibuf + ND_HDR_LEN, now);
            if (s->fd < 0)
                return -1;
        }
    }
    return 1;
}

static void
sess_io(struct sess *s, uint32_t events, double now)
{
    if (s->st == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
            return;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            sfail(s, "connect 127.0.0.1:%u: %s", s_cfg.port, strerror(err));
            return;
        }
        queue_frame(s, nd_proto_hello_encode(s->obuf, sizeof(s->obuf)),
                    "HELLO");
        s->st = S_HELLO;
    }
    /* Bounded: each round moves at least a byte or stops. */
    for (int round = 0; round < 64; round++) {
        int a, b;

        if (s->st == S_IDLE)
            break;
        a = do_send(s);
        if (a < 0)
            return;
        b = do_recv(s, now);
        if (b < 0)
            return;
        if (a == 0 && b == 0)
            break;
    }
    if (s->fd >= 0 && s->st == S_IDLE && (events & (EPOLLIN | EPOLLRDHUP))) {
        /* Nothing is expected now: a readable socket is a close or junk. */
        if (do_recv(s, now) < 0)
            return;
    }
    sess_arm(s);
}

/* Waits up to ms for socket events, hands each to its session, and
 * returns the time after the wait.  The one epoll_wait of the phases and
 * of --idle. */
static double
serve_events(int ms)
{
    struct epoll_event ev[256];
    int n = epoll_wait(s_ep, ev, (int)(sizeof(ev) / sizeof(ev[0])), ms);
    double now;

    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    now = nd_io_now();
    for (int i = 0; i < n; i++) {
        struct sess *s = ev[i].data.ptr;

        if (s->fd >= 0)
            sess_io(s, ev[i].events, now);
    }
    return now;
}

/* ---- the daemon's figures ---------------------------------------------- */

static long
status_kb(const char *text, const char *key)
{
    const char *p = strstr(text, key);

    return p == NULL ? -1 : strtol(p + strlen(key), NULL, 10);
}

/*
 * Reads the pool process's VmRSS, VmHWM and open descriptors into sm; -1
 * for what cannot be read (the process is gone: the checks then fail, and
 * the report still comes out).
 */
static void
read_proc(struct sample *sm)
{
    char path[64], text[8192];
    struct dirent *de;
    size_t n;
    FILE *f;
    DIR *d;

    sm->rss_kb = sm->hwm_kb = sm->fds = -1;
    sm->open = s_open;
    snprintf(path, sizeof(path), "/proc/%d/status", s_cfg.pid);
    f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "nd_load: %s: %s (is the daemon gone?)\n", path,
                strerror(errno));
        return;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    sm->rss_kb = status_kb(text, "\nVmRSS:");
    sm->hwm_kb = status_kb(text, "\nVmHWM:");
    snprintf(path, sizeof(path), "/proc/%d/fd", s_cfg.pid);
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "nd_load: %s: %s\n", path, strerror(errno));
        return;
    }
    sm->fds = 0;
    for (long i = 0; i < 10000000 && (de = readdir(d)) != NULL; i++)
        if (de->d_name[0] != '.')
            sm->fds++;
    closedir(d);
}

static void
take_sample(int phase, const char *when)
{
    struct sample *sm;

    if (s_cfg.pid <= 0 || s_nsamples >= MAX_SAMPLES)
        return;
    sm = &s_samples[s_nsamples++];
    sm->phase = phase;
    sm->when = when;
    read_proc(sm);
}

static long
fds_now(void)
{
    struct sample sm;

    read_proc(&sm);
    return sm.fds;
}

static void
sleep_s(double secs)
{
    struct timespec ts;

    if (secs <= 0)
        return;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- a phase ----------------------------------------------------------- */

/* Runs the event loop until done() holds or the clock reaches end.  Also
 * enforces every session's deadline and starts connects, requests and
 * samples as the phase goes. */
struct runctl {
    bool connecting; /* open sessions, LOGIN_INFLIGHT at a time */
    bool working;    /* run requests until ops_end */
    double ops_end;
    double next_sample, sample_every;
    int next_new; /* the next session to connect */
};

static bool
all_settled(const struct runctl *rc)
{
    for (int i = 0; i < s_cfg.sessions; i++) {
        const struct sess *s = &s_sess[i];

        if (rc->connecting && (s->st != S_IDLE && s->st != S_FAILED))
            return false;
        if (rc->working && s->st == S_REQ)
            return false;
    }
    return !rc->connecting || rc->next_new >= s_cfg.sessions;
}

static void
run_loop(struct runctl *rc, double hard_end)
{
    double last_scan = 0;

    for (;;) {
        double now = nd_io_now();

        if (rc->connecting) {
            while (rc->next_new < s_cfg.sessions &&
                   s_inflight_logins < LOGIN_INFLIGHT) {
                struct sess *s = &s_sess[rc->next_new++];

                if (!s->tainted)
                    sess_connect(s, now);
            }
        }
        if (rc->working) {
            bool more = now < rc->ops_end;

            for (int i = 0; i < s_cfg.sessions; i++) {
                struct sess *s = &s_sess[i];

                if (s->st != S_IDLE || !more ||
                    (s_cfg.max_ops > 0 && s->ops >= s_cfg.max_ops))
                    continue;
                start_op(s, now);
                sess_io(s, EPOLLOUT, now);
            }
            if (rc->sample_every > 0 && now >= rc->next_sample) {
                take_sample(s_phase, "during");
                rc->next_sample = now + rc->sample_every;
            }
        }
        if (all_settled(rc))
            return;
        if (now >= hard_end) {
            for (int i = 0; i < s_cfg.sessions; i++) {
                struct sess *s = &s_sess[i];

                if (s->fd >= 0 && s->st != S_IDLE)
                    sfail(s, "still unfinished at the phase's hard deadline");
            }
            return;
        }
        now = serve_events(50);
        if (now - last_scan >= 0.1) {
            last_scan = now;
            for (int i = 0; i < s_cfg.sessions; i++) {
                struct sess *s = &s_sess[i];

                if (s->fd >= 0 && s->st != S_IDLE && now > s->deadline)
                    sfail(s, "no answer within %.0f s (op-timeout)",
                          s_cfg.op_timeout);
            }
        }
    }
}

/* One phase: open every session, run the mix, close them all.  Returns
 * the number of sessions that were open at once. */
static int
run_phase(int phase)
{
    struct runctl rc = {.connecting = true};
    double t0 = nd_io_now(), t1, t2, hard;
    int open, usable = 0;

    s_phase = phase;
    for (int i = 0; i < s_cfg.sessions; i++) {
        s_sess[i].ops = 0;
        if (!s_sess[i].tainted)
            usable++;
    }
    printf("phase %d: opening %d sessions (%d logins at a time)\n", phase,
           usable, LOGIN_INFLIGHT);
    /* Every login has its own deadline; this one only bounds the loop. */
    hard = t0 + s_cfg.op_timeout * (1.0 + usable / LOGIN_INFLIGHT);
    run_loop(&rc, hard);
    t1 = nd_io_now();
    open = s_open;
    printf("phase %d: %d of %d sessions logged in and open after %.1f s\n",
           phase, open, usable, t1 - t0);
    rc.connecting = false;
    rc.working = true;
    rc.ops_end = t1 + s_cfg.seconds;
    rc.sample_every = s_cfg.seconds / 4 > 1 ? s_cfg.seconds / 4 : 1;
    rc.next_sample = t1 + rc.sample_every / 2;
    run_loop(&rc, rc.ops_end + s_cfg.op_timeout + 5);
    t2 = nd_io_now();
    s_work_secs += t2 - t1;
    take_sample(phase, "during");
    printf("phase %d: requests ran %.1f s; %d sessions still open, all "
           "idle\n",
           phase, t2 - t1, s_open);
    for (int i = 0; i < s_cfg.sessions; i++)
        if (s_sess[i].fd >= 0)
            sess_close(&s_sess[i], S_CLOSED);
    fflush(stdout);
    return open;
}

/* After the sessions closed: waits (s_cfg.settle s at most) for the
 * daemon's descriptors to come back to base, then a little more for its
 * memory, and samples. */
static void
settle(int phase, long base_fds)
{
    double end = nd_io_now() + s_cfg.settle;

    if (s_cfg.pid <= 0)
        return;
    while (nd_io_now() < end && fds_now() != base_fds)
        sleep_s(0.1);
    sleep_s(0.5);
    take_sample(phase, "after");
}

/* ---- the report -------------------------------------------------------- */

static const struct sample *
find_sample(int phase, const char *when, bool max_rss)
{
    const struct sample *best = NULL;

    for (int i = 0; i < s_nsamples; i++) {
        const struct sample *sm = &s_samples[i];

        if (sm->phase != phase || strcmp(sm->when, when) != 0)
            continue;
        if (best == NULL || (max_rss && sm->rss_kb > best->rss_kb) ||
            (!max_rss && i > best - s_samples))
            best = sm;
    }
    return best;
}

static void
print_ops(const char *label, const struct stats *st)
{
    unsigned long tot = 0;

    printf("  %-16s", label);
    for (int i = 0; i < OP_COUNT; i++) {
        printf(" %9lu", st->ok[i]);
        if (i != OP_LOGIN)
            tot += st->ok[i];
    }
    printf(" %9lu\n", tot);
}

static int s_checks_failed;

static void check(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
check(bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s - ", ok ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (!ok)
        s_checks_failed++;
}

static void
report(const int *open_at_once)
{
    const struct stats *all = &s_st[0];
    unsigned long failed = 0, total = 0;
    char label[32];

    for (int i = 0; i < OP_COUNT; i++) {
        failed += all->failed[i];
        if (i != OP_LOGIN)
            total += all->ok[i];
    }
    failed += all->idle_failed;
    printf("\n== requests (completed and verified) ==\n  %-16s", "");
    for (int i = 0; i < OP_COUNT; i++)
        printf(" %9s", s_opname[i]);
    printf(" %9s\n", "requests");
    for (int p = 1; p <= s_cfg.phases; p++) {
        snprintf(label, sizeof(label), "phase %d", p);
        print_ops(label, &s_st[p]);
    }
    print_ops("total", all);
    printf("  %-16s", "failed");
    for (int i = 0; i < OP_COUNT; i++)
        printf(" %9lu", all->failed[i]);
    printf(" %9lu\n", failed);
    if (all->idle_failed > 0)
        printf("  (%lu of them sessions lost between requests)\n",
               all->idle_failed);
    printf("  %-16s", "mean latency ms");
    for (int i = 0; i < OP_COUNT; i++)
        printf(" %9.1f",
               all->ok[i] ? 1000.0 * all->lat_sum[i] / (double)all->ok[i] : 0);
    printf("\n  %-16s", "max latency ms");
    for (int i = 0; i < OP_COUNT; i++)
        printf(" %9.1f", 1000.0 * all->lat_max[i]);
    printf("\n  GET/STAT of removed files answered NOENT: %lu\n", all->noent);
    printf("  file bytes verified: up %" PRIu64 " (%.1f MiB), down %" PRIu64
           " (%.1f MiB); %.1f requests/s while they ran\n",
           all->up, (double)all->up / 1048576.0, all->down,
           (double)all->down / 1048576.0, (double)total / s_work_secs);

    if (s_cfg.pid > 0) {
        printf("\n== daemon pool process %d ==\n", s_cfg.pid);
        printf("  %-22s %12s %12s %8s %9s\n", "sample", "VmRSS KiB",
               "VmHWM KiB", "fds", "sessions");
        for (int i = 0; i < s_nsamples; i++) {
            const struct sample *sm = &s_samples[i];

            if (sm->phase == 0)
                snprintf(label, sizeof(label), "before");
            else
                snprintf(label, sizeof(label), "phase %d %s", sm->phase,
                         sm->when);
            printf("  %-22s %12ld %12ld %8ld %9d\n", label, sm->rss_kb,
                   sm->hwm_kb, sm->fds, sm->open);
        }
    }

    printf("\n== checks ==\n");
    check(failed == 0, "no failed request or login (%lu failed of %lu)", failed,
          failed + total + all->ok[OP_LOGIN]);
    check(all->up > 0 && all->down > 0,
          "file bytes were verified both ways (%" PRIu64 " up, %" PRIu64
          " down)",
          all->up, all->down);
    for (int p = 1; p <= s_cfg.phases; p++)
        check(open_at_once[p] == s_cfg.sessions,
              "phase %d: %d of %d sessions open at once", p, open_at_once[p],
              s_cfg.sessions);
    if (s_cfg.pid > 0) {
        const struct sample *b = find_sample(0, "before", false);
        const struct sample *a1 = find_sample(1, "after", false);
        const struct sample *an = find_sample(s_cfg.phases, "after", false);

        for (int p = 1; p <= s_cfg.phases; p++) {
            const struct sample *d = find_sample(p, "during", false);
            const struct sample *a = find_sample(p, "after", false);

            if (d != NULL)
                check(b->fds >= 0 && d->fds >= b->fds + d->open,
                      "phase %d: the daemon held at least one descriptor "
                      "per open session (%ld >= %ld + %d)",
                      p, d->fds, b->fds, d->open);
            if (a != NULL)
                check(b->fds >= 0 && a->fds == b->fds,
                      "phase %d: descriptors back to the baseline after the "
                      "sessions closed (%ld, before %ld)",
                      p, a->fds, b->fds);
        }
        if (a1 != NULL && an != NULL && an != a1) {
            unsigned long later = 0;

            for (int p = 2; p <= s_cfg.phases; p++)
                for (int i = 0; i < OP_COUNT; i++)
                    if (i != OP_LOGIN)
                        later += s_st[p].ok[i];
            printf("# RSS from after phase 1 to after phase %d: %+ld KiB over "
                   "%lu requests (%+.1f bytes per request)\n",
                   s_cfg.phases, an->rss_kb - a1->rss_kb, later,
                   later ? 1024.0 * (double)(an->rss_kb - a1->rss_kb) /
                               (double)later
                         : 0.0);
        }
        if (s_cfg.rss_tol_kb >= 0 && a1 != NULL && an != NULL && an != a1)
            check(a1->rss_kb >= 0 && an->rss_kb >= 0 &&
                      an->rss_kb <= a1->rss_kb + s_cfg.rss_tol_kb,
                  "RSS after phase %d %ld KiB within %ld KiB of after phase "
                  "1 %ld KiB (growth %+ld KiB; warm-up in phase 1: %+ld KiB)",
                  s_cfg.phases, an->rss_kb, s_cfg.rss_tol_kb, a1->rss_kb,
                  an->rss_kb - a1->rss_kb, a1->rss_kb - b->rss_kb);
        else
            printf("# RSS not checked (warm-up in phase 1: %+ld KiB)\n",
                   a1 != NULL ? a1->rss_kb - b->rss_kb : 0);
    }
    printf("\nsummary sessions=%d phases=%d requests=%lu failed=%lu "
           "up_bytes=%" PRIu64 " down_bytes=%" PRIu64 " checks_failed=%d",
           s_cfg.sessions, s_cfg.phases, total, failed, all->up, all->down,
           s_checks_failed);
    if (s_cfg.pid > 0) {
        const struct sample *b = find_sample(0, "before", false);
        const struct sample *a1 = find_sample(1, "after", false);
        const struct sample *an = find_sample(s_cfg.phases, "after", false);

        printf(" rss_before_kb=%ld rss_after1_kb=%ld rss_after_kb=%ld "
               "fds_before=%ld fds_after=%ld",
               b->rss_kb, a1 ? a1->rss_kb : -1, an ? an->rss_kb : -1, b->fds,
               an ? an->fds : -1);
    }
    putchar('\n');
}

/* ---- --idle: sessions that only stay connected ------------------------- */

/* The largest VmRSS, VmHWM and descriptor count among the samples taken
 * at (phase, when); -1 for each when there is none. */
static struct sample
sample_max(int phase, const char *when)
{
    struct sample m = {.rss_kb = -1, .hwm_kb = -1, .fds = -1};

    for (int i = 0; i < s_nsamples; i++) {
        const struct sample *sm = &s_samples[i];

        if (sm->phase != phase || strcmp(sm->when, when) != 0)
            continue;
        if (sm->rss_kb > m.rss_kb)
            m.rss_kb = sm->rss_kb;
        if (sm->hwm_kb > m.hwm_kb)
            m.hwm_kb = sm->hwm_kb;
        if (sm->fds > m.fds)
            m.fds = sm->fds;
    }
    return m;
}

/*
 * Keeps every open session for secs seconds without sending a byte,
 * sampling the daemon at the start, at most every secs/8 s (1 s at least)
 * and at the end.  A session the server closes (or writes to) meanwhile
 * fails as lost between requests (stats idle_failed).
 */
static void
hold_idle(double secs)
{
    double now = nd_io_now(), end = now + secs, next = now;
    double every = secs / 8 > 1 ? secs / 8 : 1;

    for (;;) {
        int ms;

        now = nd_io_now();
        if (now >= end)
            break;
        if (now >= next) {
            take_sample(1, "during");
            next = now + every;
        }
        ms = (int)(1000 * ((next < end ? next : end) - now)) + 1;
        now = serve_events(ms);
    }
    take_sample(1, "during");
}

/*
 * --idle: opens and logs in every session (as a phase does), keeps them
 * all open for s_cfg.idle seconds without a request, closes them and waits
 * for the daemon's descriptors to come back to base_fds.  Prints the
 * "idle:" summary line.  Returns 0 when every session logged in and none
 * was lost during the hold, 1 otherwise.
 */
static int
run_idle(long base_fds)
{
    struct runctl rc = {.connecting = true};
    double t0 = nd_io_now(), hard;
    struct sample b = {.rss_kb = -1, .hwm_kb = -1, .fds = -1}, d, a;
    unsigned long lost;
    int logged_in = 0;

    s_phase = 1;
    printf("# idle: opening %d sessions (%d logins at a time)\n",
           s_cfg.sessions, LOGIN_INFLIGHT);
    /* Every login has its own deadline; this one only bounds the loop. */
    hard = t0 + s_cfg.op_timeout * (1.0 + s_cfg.sessions / LOGIN_INFLIGHT);
    run_loop(&rc, hard);
    for (int i = 0; i < s_cfg.sessions; i++)
        if (s_sess[i].st == S_IDLE)
            logged_in++;
    printf("# idle: %d of %d sessions logged in after %.1f s; holding them "
           "%.1f s without a request\n",
           logged_in, s_cfg.sessions, nd_io_now() - t0, s_cfg.idle);
    hold_idle(s_cfg.idle);
    lost = s_st[0].idle_failed;
    for (int i = 0; i < s_cfg.sessions; i++)
        if (s_sess[i].fd >= 0)
            sess_close(&s_sess[i], S_CLOSED);
    settle(1, base_fds);
    if (s_nsamples > 0 && s_samples[0].phase == 0)
        b = s_samples[0];
    d = sample_max(1, "during");
    a = sample_max(1, "after");
    printf("idle: sessions %d logged_in %d seconds %.1f lost %lu "
           "rss_kb_before %ld rss_kb_during %ld hwm_kb_during %ld "
           "fds_before %ld fds_during %ld rss_kb_after %ld fds_after %ld\n",
           s_cfg.sessions, logged_in, s_cfg.idle, lost, b.rss_kb, d.rss_kb,
           d.hwm_kb, b.fds, d.fds, a.rss_kb, a.fds);
    if (logged_in < s_cfg.sessions)
        fprintf(stderr, "nd_load: %d of %d sessions failed to log in\n",
                s_cfg.sessions - logged_in, s_cfg.sessions);
    if (lost > 0)
        fprintf(stderr, "nd_load: the server closed %lu idle sessions\n", lost);
    return logged_in == s_cfg.sessions && lost == 0 ? 0 : 1;
}

/* ---- --churn: a connection per file ------------------------------------ */

/*
 * The churn mode runs one connection at a time on a blocking socket whose
 * every send and receive is bounded by SO_SNDTIMEO/SO_RCVTIMEO of
 * --op-timeout: no epoll, since there is never more than one thing to wait
 * for.  Each function returns 0 or -errno and, on failure, says why in
 * c->why (-EPROTO for an answer that is wrong rather than missing).
 */
struct bconn {
    int fd;
    int code; /* the status of the last ERROR received, else 0 */
    char why[ND_MSG_MAX + 256];
    uint8_t out[OBUF_CAP]; /* control frames to send, out_len queued */
    size_t out_len;
    uint8_t in[IBUF_CAP]; /* the control frame received last */
    /* What the last receive brought beyond what was asked for: rx_len
     * bytes, of which rx_at were taken. */
    uint8_t rx[RX_CAP];
    size_t rx_at, rx_len;
};

/* What the churn files hold: CHURN_MTIME, s_cfg.churn_size bytes made from
 * seed, whose MD5 is md5 once the PUT came back OK. */
struct cfile {
    uint64_t seed;
    uint8_t md5[ND_MD5_LEN];
};

#define CHURN_MTIME INT64_C(1500000000)

static struct cfile *s_cfile;

static int bfail(struct bconn *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bfail(struct bconn *c, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    return rc;
}

static const char *
io_err(ssize_t n)
{
    return n == 0 ? "EOF" : n == -EAGAIN ? "timed out" : strerror((int)-n);
}

static int
bconn_open(struct bconn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv;
    int one = 1;

    c->rx_at = c->rx_len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return bfail(c, -errno, "socket: %s", strerror(errno));
    tv.tv_sec = (time_t)s_cfg.op_timeout;
    tv.tv_usec = (suseconds_t)((s_cfg.op_timeout - (double)tv.tv_sec) * 1e6);
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return bfail(c, -errno, "setsockopt: %s", strerror(errno));
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sa.sin_port = htons((uint16_t)s_cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* SO_SNDTIMEO bounds a blocking connect too. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return bfail(c, -errno, "connect 127.0.0.1:%u: %s", s_cfg.port,
                     strerror(errno));
    return 0;
}

/* Where the next frame to send is encoded, and the room there. */
static uint8_t *
bout(struct bconn *c)
{
    return c->out + c->out_len;
}

static size_t
broom(const struct bconn *c)
{
    return sizeof(c->out) - c->out_len;
}

/* Queues the frame an nd_proto encoder made at bout() (len), to go out
 * with the next bconn_send(): requests sent back to back leave in one
 * segment, as a client that pipelines them would send them. */
static void
bconn_queue(struct bconn *c, long len, const char *what)
{
    if (len < 0 || (size_t)len > broom(c))
        die("encoding %s failed (%ld)", what, len);
    c->out_len += (size_t)len;
}

/* Sends what is queued; what names it for an error. */
static int
bconn_flush(struct bconn *c, const char *what)
{
    ssize_t n = nd_io_send_full(c->fd, c->out, c->out_len);

    c->out_len = 0;
    if (n < 0)
        return bfail(c, (int)n, "sending %s: %s", what, io_err(n));
    return 0;
}

/* Sends what is queued and the frame at bout() (len). */
static int
bconn_send(struct bconn *c, long len, const char *what)
{
    bconn_queue(c, len, what);
    return bconn_flush(c, what);
}

/*
 * Reads len bytes (fewer only where the stream ends): first what an earlier
 * receive brought, then one receive of up to RX_CAP at a time, so that a
 * reply that came in one segment (FILE, the bytes and the trailer of a
 * small file) takes one call, as a client reading through a buffer makes
 * it.  Returns the count or -errno (-EAGAIN: the receive timed out).
 */
static ssize_t
bconn_read(struct bconn *c, void *dst, size_t len)
{
    uint8_t *d = dst;
    size_t got = 0;

    while (got < len) {
        size_t k;

        if (c->rx_at == c->rx_len) {
            ssize_t n = nd_io_read_some(c->fd, c->rx, sizeof(c->rx));

            if (n <= 0)
                return n < 0 ? n : (ssize_t)got;
            c->rx_at = 0;
            c->rx_len = (size_t)n;
        }
        k = c->rx_len - c->rx_at < len - got ? c->rx_len - c->rx_at : len - got;
        memcpy(d + got, c->rx + c->rx_at, k);
        c->rx_at += k;
        got += k;
    }
    return (ssize_t)got;
}

/*
 * Receives one control frame into c->in (the body after ND_HDR_LEN).
 * Anything but a frame of type want fails, an ERROR with its code and text.
 */
static int
bconn_recv(struct bconn *c, uint8_t want, struct nd_hdr *h)
{
    const char *wname = nd_proto_type_name(want);
    char msg[ND_MSG_MAX + 1];
    ssize_t n;
    int code;

    n = bconn_read(c, c->in, ND_HDR_LEN);
    if (n != ND_HDR_LEN)
        return bfail(c, n < 0 ? (int)n : -ECONNRESET, "awaiting %s: %s", wname,
                     n == 0  ? "the server closed the connection"
                     : n > 0 ? "EOF mid-header"
                             : io_err(n));
    if (nd_proto_hdr_decode(c->in, h) < 0 || h->len > IBUF_CAP - ND_HDR_LEN)
        return bfail(c, -EPROTO,
                     "awaiting %s: bad frame header (type %s, %" PRIu32
                     " bytes)",
                     wname, nd_proto_type_name(h->type), h->len);
    n = bconn_read(c, c->in + ND_HDR_LEN, h->len);
    if (n != (ssize_t)h->len)
        return bfail(c, n < 0 ? (int)n : -ECONNRESET,
                     "awaiting %s: %s frame cut short: %s", wname,
                     nd_proto_type_name(h->type), io_err(n < 0 ? n : 0));
    c->code = 0;
    if (h->type == ND_T_ERROR && want != ND_T_ERROR) {
        code =
            nd_proto_error_decode(c->in + ND_HDR_LEN, h->len, msg, sizeof(msg));
        if (code < 0)
            return bfail(c, -EPROTO, "awaiting %s: malformed ERROR", wname);
        c->code = code;
        return bfail(c, -EPROTO, "awaiting %s: ERROR %s (%d): %s", wname,
                     nd_proto_status_name(code) ? nd_proto_status_name(code)
                                                : "?",
                     code, msg);
    }
    if (h->type != want)
        return bfail(c, -EPROTO, "awaiting %s: a %s frame", wname,
                     nd_proto_type_name(h->type));
    return 0;
}

/* --churn's resumption ticket: the one the last session asked for, and
 * the first one used, which the end of the run offers again. */
struct churn_ticket {
    bool have;
    uint8_t id[ND_TICKET_ID_LEN];
    uint8_t key[ND_TICKET_KEY_LEN];
};

static struct churn_ticket s_ticket, s_spent;

/* Reads the TICKET reply and keeps it, its key made from the key of the
 * session that asked (session). */
static int
bconn_take_ticket(struct bconn *c, const uint8_t session[ND_SCRAM_KEY_LEN])
{
    struct nd_hdr h;
    uint32_t life = 0;
    int rc = bconn_recv(c, ND_T_TICKET, &h);

    if (rc < 0)
        return rc;
    if (nd_ticket_decode(c->in + ND_HDR_LEN, h.len, &life, s_ticket.id) < 0 ||
        life == 0)
        return bfail(c, -EPROTO, "malformed TICKET");
    if (nd_ticket_key(session, s_ticket.id, s_ticket.key) < 0)
        die("HMAC failed");
    s_ticket.have = true;
    return 0;
}

/* Queues the request for path that rides behind a login: a GET, or under
 * --churn-op put a PUT of a churn file (its bytes follow READY). */
static void
bconn_queue_req(struct bconn *c, const char *path)
{
    if (s_cfg.churn_put)
        bconn_queue(c,
                    nd_proto_put_encode(bout(c), broom(c), ND_PUT_MTIME,
                                        s_cfg.churn_size, path, CHURN_MTIME, 0),
                    "PUT");
    else
        bconn_queue(c, nd_proto_get_encode(bout(c), broom(c), path, NULL),
                    "GET");
}

/* HELLO, then a SCRAM-SHA-256 login with the cached keys (s_keys).  With
 * path, its request (bconn_queue_req) goes out right behind PROOF, before
 * WELCOME is read (pipelined; its reply follows WELCOME, for the caller to
 * read).  With ticket, a TICKET request goes between them, and the ticket
 * is kept in s_ticket. */
static int
bconn_login(struct bconn *c, const char *path, bool ticket)
{
    uint8_t session[ND_SCRAM_KEY_LEN];
    const char *body = (const char *)c->in + ND_HDR_LEN;
    char msg[ND_SCRAM_MSG_MAX + 1];
    struct nd_scram_client sc;
    struct nd_hdr h;
    int n, rc;

    /* AUTH goes out right behind HELLO, in the same segment, before its
     * reply (pipelined, as docs/protocol.md allows): one round trip fewer
     * per connection. */
    n = nd_scram_client_first(&sc, s_cfg.user, NULL, msg, sizeof(msg));
    if (n < 0)
        die("SCRAM client-first: %s", strerror(-n));
    bconn_queue(c, nd_proto_hello_encode(bout(c), broom(c)), "HELLO");
    rc = bconn_send(
        c, nd_proto_raw_encode(bout(c), broom(c), ND_T_AUTH, msg, (size_t)n),
        "AUTH");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_HELLO, &h);
    if (rc == 0 && nd_proto_hello_decode(body, h.len) != ND_PROTO_VERSION)
        rc = bfail(c, -EPROTO, "bad HELLO reply");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_CHALLENGE, &h);
    if (rc < 0)
        goto out;
    n = nd_scram_client_final_cached(&sc, &s_keys, s_cfg.password,
                                     strlen(s_cfg.password), body, h.len, msg,
                                     sizeof(msg));
    if (n < 0) {
        rc = bfail(c, n, "SCRAM: bad CHALLENGE: %s", strerror(-n));
        goto out;
    }
    bconn_queue(
        c, nd_proto_raw_encode(bout(c), broom(c), ND_T_PROOF, msg, (size_t)n),
        "PROOF");
    if (ticket)
        bconn_queue(c,
                    nd_proto_raw_encode(bout(c), broom(c), ND_T_TICKET, "", 0),
                    "TICKET");
    if (path != NULL)
        bconn_queue_req(c, path);
    rc = bconn_flush(c, path != NULL ? "PROOF and a request" : "PROOF");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_WELCOME, &h);
    if (rc < 0)
        goto out;
    if (nd_scram_client_verify(&sc, body, h.len) != 0)
        rc = bfail(c, -EPERM,
                   "WELCOME does not prove the server knows the password");
    if (rc == 0 && ticket) {
        if (nd_scram_client_session(&sc, session) < 0)
            die("no SCRAM session key");
        rc = bconn_take_ticket(c, session);
    }
out:
    nd_scram_client_clear(&sc);
    OPENSSL_cleanse(session, sizeof(session));
    return rc;
}

/*
 * HELLO, then RESUME with s_ticket (good once: it is gone from s_ticket
 * whatever happens), a TICKET request for the next one, and with path its
 * request (bconn_queue_req): all in one segment, one round trip.  Returns
 * 0 with the new ticket in s_ticket, -EACCES when the server refused the
 * ticket (it then closes the connection: log in again), or another -errno.
 */
static int
bconn_resume(struct bconn *c, const char *path)
{
    const char *body = (const char *)c->in + ND_HDR_LEN;
    uint8_t nonce[ND_TICKET_NONCE_LEN], proof[ND_SCRAM_KEY_LEN];
    uint8_t want[ND_SCRAM_KEY_LEN], session[ND_SCRAM_KEY_LEN];
    struct churn_ticket t = s_ticket;
    struct nd_hdr h;
    int rc;

    s_ticket.have = false;
    if (!s_spent.have)
        s_spent = t;
    if (nd_io_random(nonce, sizeof(nonce)) < 0 ||
        nd_ticket_proof(t.key, false, t.id, nonce, proof) < 0)
        die("no randomness or HMAC failed");
    bconn_queue(c, nd_proto_hello_encode(bout(c), broom(c)), "HELLO");
    bconn_queue(c,
                nd_ticket_resume_encode(bout(c), broom(c), t.id, nonce, proof),
                "RESUME");
    bconn_queue(c, nd_proto_raw_encode(bout(c), broom(c), ND_T_TICKET, "", 0),
                "TICKET");
    if (path != NULL)
        bconn_queue_req(c, path);
    rc = bconn_flush(c, "HELLO and RESUME");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_HELLO, &h);
    if (rc == 0 && nd_proto_hello_decode(body, h.len) != ND_PROTO_VERSION)
        rc = bfail(c, -EPROTO, "bad HELLO reply");
    if (rc == 0) {
        rc = bconn_recv(c, ND_T_RESUMED, &h);
        if (rc < 0 && c->code == ND_E_AUTH)
            rc = -EACCES;
    }
    if (rc < 0)
        goto out;
    if (nd_ticket_resumed_decode(body, h.len, proof) < 0) {
        rc = bfail(c, -EPROTO, "malformed RESUMED");
        goto out;
    }
    if (nd_ticket_proof(t.key, true, t.id, nonce, want) < 0 ||
        nd_ticket_session(t.key, t.id, nonce, session) < 0)
        die("HMAC failed");
    if (CRYPTO_memcmp(want, proof, sizeof(want)) != 0) {
        rc = bfail(c, -EPERM,
                   "RESUMED does not prove the server holds the ticket");
        goto out;
    }
    rc = bconn_take_ticket(c, session);
out:
    OPENSSL_cleanse(&t, sizeof(t));
    OPENSSL_cleanse(session, sizeof(session));
    return rc;
}

static void
churn_path(long i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/c%04ld", s_cfg.dir, i);
}

/* PUTs churn file i (mtime CHURN_MTIME) and checks that OK echoes its size
 * and MD5, which it records in s_cfile[i].  With sent, the PUT went out
 * already (behind a login) and only its READY is awaited. */
static int
churn_put(struct bconn *c, long i, struct nd_digest *md, bool sent)
{
    const uint8_t *body = c->in + ND_HDR_LEN;
    struct cfile *f = &s_cfile[i];
    uint64_t size = s_cfg.churn_size, off = 0, got_size;
    uint8_t got[ND_MD5_LEN];
    char path[128], a[ND_DIGEST_HEX_LEN], b[ND_DIGEST_HEX_LEN];
    struct nd_hdr h;
    int rc;

    churn_path(i, path, sizeof(path));
    rc = sent ? 0
              : bconn_send(c,
                           nd_proto_put_encode(bout(c), broom(c), ND_PUT_MTIME,
                                               size, path, CHURN_MTIME, 0),
                           "PUT");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_READY, &h);
    if (rc < 0)
        return rc;
    if (nd_proto_ready_decode(body, h.len, &off) < 0 || off != 0)
        return bfail(c, -EPROTO, "bad READY (offset must be 0)");
    if (nd_digest_reset(md) < 0)
        die("MD5 reset failed");
    while (off < size) {
        size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        ssize_t n;

        gen(f->seed, off, s_gen, want);
        if (nd_digest_update(md, s_gen, want) < 0)
            die("MD5 update failed");
        n = nd_io_send_full(c->fd, s_gen, want);
        if (n < 0)
            return bfail(c, (int)n, "sending file bytes after %" PRIu64 ": %s",
                         off, io_err(n));
        off += want;
    }
    if (nd_digest_final(md, f->md5) < 0)
        die("MD5 failed");
    rc = bconn_send(c, nd_proto_digest_encode(bout(c), broom(c), f->md5),
                    "DIGEST");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_OK, &h);
    if (rc < 0)
        return rc;
    if (nd_proto_putok_decode(body, h.len, &got_size, got) < 0)
        return bfail(c, -EPROTO, "malformed OK");
    if (got_size != size || memcmp(got, f->md5, ND_MD5_LEN) != 0) {
        hex(got, a);
        hex(f->md5, b);
        return bfail(c, -EPROTO,
                     "OK says %" PRIu64 " bytes md5 %s; sent %" PRIu64
                     " bytes md5 %s",
                     got_size, a, size, b);
    }
    count_bytes(true, size);
    return 0;
}

/* GETs churn file i: FILE must match what was put, every byte is compared
 * with the regenerated content, and the trailer must equal both the MD5
 * put and the MD5 of what arrived. */
static int
churn_get(struct bconn *c, long i, struct nd_digest *md, bool sent)
{
    const uint8_t *body = c->in + ND_HDR_LEN;
    const struct cfile *f = &s_cfile[i];
    uint8_t trailer[ND_MD5_LEN], got[ND_MD5_LEN];
    char path[128], a[ND_DIGEST_HEX_LEN], b[ND_DIGEST_HEX_LEN];
    struct nd_fileinfo fi;
    uint64_t off = 0;
    struct nd_hdr h;
    int rc, ofd = -1;

    churn_path(i, path, sizeof(path));
    rc = sent
             ? 0
             : bconn_send(c, nd_proto_get_encode(bout(c), broom(c), path, NULL),
                          "GET");
    if (rc == 0)
        rc = bconn_recv(c, ND_T_FILE, &h);
    if (rc < 0)
        return rc;
    if (nd_proto_file_decode(body, h.len, &fi) < 0)
        return bfail(c, -EPROTO, "malformed FILE");
    if (fi.size != s_cfg.churn_size || fi.offset != 0 ||
        fi.mtime_sec != CHURN_MTIME)
        return bfail(c, -EPROTO,
                     "FILE: size %" PRIu64 " offset %" PRIu64 " mtime %" PRId64
                     ", expected %" PRIu64 " 0 %" PRId64,
                     fi.size, fi.offset, fi.mtime_sec, s_cfg.churn_size,
                     CHURN_MTIME);
    if (fi.has_md5 && memcmp(fi.md5, f->md5, ND_MD5_LEN) != 0) {
        hex(fi.md5, a);
        hex(f->md5, b);
        return bfail(c, -EPROTO, "FILE says md5 %s, put %s", a, b);
    }
    if (nd_digest_reset(md) < 0)
        die("MD5 reset failed");
    if (s_cfg.churn_out != NULL) {
        char out[4096];

        snprintf(out, sizeof(out), "%s/c%04ld", s_cfg.churn_out, i);
        ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (ofd < 0)
            return bfail(c, -errno, "cannot create %s: %s", out,
                         strerror(errno));
    }
    while (off < fi.size) {
        size_t want = fi.size - off < CHUNK ? (size_t)(fi.size - off) : CHUNK;
        ssize_t n = bconn_read(c, s_rx, want);

        if (n != (ssize_t)want) {
            rc = bfail(c, n < 0 ? (int)n : -ECONNRESET,
                       "file bytes after %" PRIu64 " of %" PRIu64 ": %s",
                       off + (n > 0 ? (uint64_t)n : 0), fi.size,
                       io_err(n < 0 ? n : 0));
            break;
        }
        gen(f->seed, off, s_gen, want);
        if (memcmp(s_rx, s_gen, want) != 0) {
            size_t k = 0;

            while (k < want && s_rx[k] == s_gen[k])
                k++;
            rc = bfail(c, -EPROTO, "byte %" PRIu64 " differs from what was put",
                       off + k);
            break;
        }
        if (nd_digest_update(md, s_rx, want) < 0)
            die("MD5 update failed");
        if (ofd >= 0 && (n = nd_io_write_full(ofd, s_rx, want)) < 0) {
            rc = bfail(c, (int)n, "cannot write c%04ld: %s", i,
                       strerror((int)-n));
            break;
        }
        off += want;
    }
    /* close() is where a file system may report a deferred write error. */
    if (ofd >= 0 && close(ofd) < 0 && rc == 0)
        rc = bfail(c, -errno, "cannot write c%04ld: %s", i, strerror(errno));
    if (rc < 0)
        return rc;
    rc = bconn_recv(c, ND_T_DIGEST, &h);
    if (rc < 0)
        return rc;
    if (nd_proto_digest_decode(body, h.len, trailer) < 0)
        return bfail(c, -EPROTO, "malformed DIGEST");
    if (nd_digest_final(md, got) < 0)
        die("MD5 failed");
    if (memcmp(trailer, f->md5, ND_MD5_LEN) != 0 ||
        memcmp(got, f->md5, ND_MD5_LEN) != 0) {
        hex(trailer, a);
        hex(f->md5, b);
        return bfail(c, -EPROTO,
                     "trailer md5 %s, put md5 %s, received bytes %s", a, b,
                     memcmp(got, f->md5, ND_MD5_LEN) == 0 ? "match" : "differ");
    }
    count_bytes(false, fi.size);
    return 0;
}

/*
 * --churn: PUTs s_cfg.churn files in one session, then, timed, GETs each in
 * a connection of its own (connect, HELLO, login, GET, close), one
 * connection at a time.  Under --churn-op put the first session only logs
 * in, the connections PUT the files, and one session gets them back
 * afterwards.  Prints the "churn:" summary line.  Returns 0 when every put
 * and get verified, 1 otherwise.
 */
static int
run_churn(long base_fds)
{
    static struct bconn conn = {.fd = -1};
    struct bconn *c = &conn;
    struct nd_digest md;
    struct sample b, a;
    double t0, t1, lat_sum = 0, lat_max = 0;
    long i = 0, done = 0, relogins = 0;
    const char *replay = "n/a";
    int rc;

    s_cfile = calloc((size_t)s_cfg.churn, sizeof(*s_cfile));
    if (s_cfile == NULL)
        die("out of memory");
    if (nd_digest_init(&md) < 0)
        die("MD5 init failed");
    for (long k = 0; k < s_cfg.churn; k++)
        s_cfile[k].seed = mix64(s_cfg.seed ^ ((uint64_t)k << 24) ^ 0xC4u);
    s_phase = 1;
    if (!s_cfg.churn_put)
        printf("# churn: putting %ld files of %" PRIu64 " bytes under %s/ in "
               "one session\n",
               s_cfg.churn, s_cfg.churn_size, s_cfg.dir);
    t0 = nd_io_now();
    rc = bconn_open(c);
    if (rc == 0)
        rc = bconn_login(c, NULL, !s_cfg.churn_scram);
    if (rc < 0)
        fprintf(stderr, "nd_load: FAILED churn: the first session: %s\n",
                c->why);
    for (; rc == 0 && !s_cfg.churn_put && i < s_cfg.churn; i++) {
        rc = churn_put(c, i, &md, false);
        if (rc < 0)
            fprintf(stderr, "nd_load: FAILED churn: put of c%04ld: %s\n", i,
                    c->why);
    }
    nd_io_close(&c->fd);
    if (rc < 0)
        goto out;
    if (s_cfg.churn_put)
        printf("# churn: a connection per PUT of %ld files of %" PRIu64
               " bytes under %s/, one at a time\n",
               s_cfg.churn, s_cfg.churn_size, s_cfg.dir);
    else
        printf("# churn: put them in %.2f s; now a connection per GET, one "
               "at a time\n",
               nd_io_now() - t0);
    /* The put session's descriptors are back: the baseline of the loop. */
    settle(1, base_fds);
    s_phase = 2;
    t0 = nd_io_now();
    for (i = 0; i < s_cfg.churn; i++) {
        double start = nd_io_now(), lat;

        char path[128];

        /* The request rides behind the login's last step, as a client
         * that opens a session for one file would send it. */
        churn_path(i, path, sizeof(path));
        rc = bconn_open(c);
        if (rc == 0 && s_ticket.have) {
            rc = bconn_resume(c, path);
            if (rc == -EACCES) {
                /* Refused (dropped for newer tickets, or the daemon
                 * restarted): log in again, as a client would. */
                relogins++;
                nd_io_close(&c->fd);
                rc = bconn_open(c);
                if (rc == 0)
                    rc = bconn_login(c, path, true);
            }
        } else if (rc == 0) {
            rc = bconn_login(c, path, !s_cfg.churn_scram);
        }
        if (rc == 0)
            rc = s_cfg.churn_put ? churn_put(c, i, &md, true)
                                 : churn_get(c, i, &md, true);
        nd_io_close(&c->fd);
        if (rc < 0) {
            fprintf(stderr, "nd_load: FAILED churn: %s of c%04ld: %s\n",
                    s_cfg.churn_put ? "put" : "get", i, c->why);
            break;
        }
        lat = nd_io_now() - start;
        lat_sum += lat;
        if (lat > lat_max)
            lat_max = lat;
        done++;
    }
    t1 = nd_io_now();
    /* Outside the timing: a ticket is good once, so the first one used
     * must now be refused. */
    if (rc == 0 && s_spent.have) {
        int r2;

        s_ticket = s_spent;
        r2 = bconn_open(c);
        if (r2 == 0)
            r2 = bconn_resume(c, NULL);
        nd_io_close(&c->fd);
        replay = r2 == -EACCES ? "refused" : "ACCEPTED";
        if (r2 != -EACCES) {
            fprintf(stderr,
                    "nd_load: FAILED churn: a ticket used once was %s\n",
                    r2 == 0 ? "accepted again" : c->why);
            rc = -EPROTO;
        }
    }
    /* Outside the timing too: what the connections put is what landed. */
    if (rc == 0 && s_cfg.churn_put) {
        rc = bconn_open(c);
        if (rc == 0)
            rc = bconn_login(c, NULL, false);
        if (rc < 0)
            fprintf(stderr,
                    "nd_load: FAILED churn: the session getting back what "
                    "was put: %s\n",
                    c->why);
        for (i = 0; rc == 0 && i < s_cfg.churn; i++) {
            rc = churn_get(c, i, &md, false);
            if (rc < 0)
                fprintf(stderr,
                        "nd_load: FAILED churn: getting back c%04ld: %s\n", i,
                        c->why);
        }
        nd_io_close(&c->fd);
    }
    settle(2, base_fds);
    b = sample_max(1, "after");
    a = sample_max(2, "after");
    printf("churn: %s %ld seconds %.3f per_sec %.1f ms_mean %.3f "
           "ms_max %.3f size %" PRIu64
           " failed %d login %s relogins %ld replay %s fds_before %ld "
           "fds_after %ld rss_kb_before %ld rss_kb_after %ld\n",
           s_cfg.churn_put ? "puts" : "gets", done, t1 - t0,
           t1 > t0 ? (double)done / (t1 - t0) : 0.0,
           done > 0 ? 1000.0 * lat_sum / (double)done : 0.0, 1000.0 * lat_max,
           s_cfg.churn_size, rc < 0 ? 1 : 0,
           s_cfg.churn_scram ? "scram" : "ticket", relogins, replay, b.fds,
           a.fds, b.rss_kb, a.rss_kb);
out:
    nd_digest_free(&md);
    free(s_cfile);
    s_cfile = NULL;
    return rc < 0 ? 1 : 0;
}

/* ---- main -------------------------------------------------------------- */

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: nd_load --port PORT [options]\n"
        "  logs in as $NETDISK_USER with $NETDISK_PASSWORD; connects to "
        "127.0.0.1 only\n"
        "  --sessions N      concurrent sessions (500)\n"
        "  --phases N        phases, each opening and closing all the\n"
        "                    sessions (2)\n"
        "  --seconds S       requests per phase run S seconds (60)\n"
        "  --ops N           ...or stop each session after N requests\n"
        "  --op-timeout S    deadline of each connect, login step and\n"
        "                    request (60)\n"
        "  --small KMIN:KMAX   sizes of f0..f2 in KiB (1:64)\n"
        "  --medium KMIN:KMAX  sizes of f3 in KiB (256:4096)\n"
        "  --pid PID         the daemon's pool process: sample and check\n"
        "                    its VmRSS, VmHWM and descriptors\n"
        "  --rss-tol-kb N    allowed RSS growth from after phase 1 to\n"
        "                    after the last phase (2048; -1: no check)\n"
        "  --settle S        wait at most S s for the descriptors to\n"
        "                    come back after a phase (10)\n"
        "  --seed N          random seed (from the clock)\n"
        "  --dir NAME        top directory of the sessions' files, which\n"
        "                    must not exist yet (load-SEED)\n"
        "modes instead of the phases (each prints one summary line):\n"
        "  --idle S          open and log in all --sessions, then send\n"
        "                    nothing for S seconds (the daemon's\n"
        "                    idle_timeout must be longer), sampling --pid,\n"
        "                    and close them; prints \"idle: sessions N\n"
        "                    logged_in N ...\"; fails when a login failed\n"
        "                    or the server closed a session\n"
        "  --churn N         put N files DIR/cNNNN in one session, then\n"
        "                    get each in a connection of its own\n"
        "                    (connect, HELLO, login, GET, close),\n"
        "                    sequentially: one connection at a time on\n"
        "                    blocking sockets; prints \"churn: gets N\n"
        "                    seconds S per_sec R ...\"\n"
        "  --churn-size B    bytes per churn file (4096)\n"
        "  --churn-out DIR   also write each file got to DIR/cNNNN\n"
        "                    (created, written, closed), as a client\n"
        "                    that saves what it fetches would\n"
        "  --churn-login ticket|scram\n"
        "                    how each churn connection logs in: with the\n"
        "                    resumption ticket the one before got, one\n"
        "                    round trip (ticket, the default), or with\n"
        "                    SCRAM, two (scram)\n"
        "  --churn-op get|put what each churn connection does: GET a\n"
        "                    file put before (get, the default), or PUT\n"
        "                    one (put; the files are got back and\n"
        "                    compared afterwards, untimed; prints\n"
        "                    \"churn: puts N ...\"; not with --churn-out)\n");
    exit(2);
}

static double
num(const char *s, double lo, double hi, const char *what)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        die("bad %s \"%s\" (range %g..%g)", what, s, lo, hi);
    return v;
}

static void
range_kib(const char *s, uint64_t *lo, uint64_t *hi, const char *what)
{
    unsigned long a, b;
    char tail;

    if (sscanf(s, "%lu:%lu%c", &a, &b, &tail) != 2 || a == 0 || b < a ||
        b > 1024 * 1024)
        die("bad %s \"%s\": KMIN:KMAX in KiB, 1 <= KMIN <= KMAX", what, s);
    *lo = a * KIB;
    *hi = b * KIB;
}

static void
parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            usage();
        i++;
        if (strcmp(o, "--port") == 0)
            s_cfg.port = (unsigned)num(v, 1, 65535, o);
        else if (strcmp(o, "--sessions") == 0)
            s_cfg.sessions = (int)num(v, 1, MAX_SESSIONS, o);
        else if (strcmp(o, "--phases") == 0)
            s_cfg.phases = (int)num(v, 1, MAX_PHASES, o);
        else if (strcmp(o, "--seconds") == 0)
            s_cfg.seconds = num(v, 0, 86400, o);
        else if (strcmp(o, "--ops") == 0)
            s_cfg.max_ops = (long)num(v, 0, 1e9, o);
        else if (strcmp(o, "--op-timeout") == 0)
            s_cfg.op_timeout = num(v, 1, 3600, o);
        else if (strcmp(o, "--small") == 0)
            range_kib(v, &s_cfg.small_min, &s_cfg.small_max, o);
        else if (strcmp(o, "--medium") == 0)
            range_kib(v, &s_cfg.medium_min, &s_cfg.medium_max, o);
        else if (strcmp(o, "--pid") == 0)
            s_cfg.pid = (int)num(v, 1, 1 << 30, o);
        else if (strcmp(o, "--rss-tol-kb") == 0)
            s_cfg.rss_tol_kb = (long)num(v, -1, 1 << 30, o);
        else if (strcmp(o, "--settle") == 0)
            s_cfg.settle = num(v, 0, 600, o);
        else if (strcmp(o, "--seed") == 0)
            s_cfg.seed = (uint64_t)num(v, 0, 1e15, o);
        else if (strcmp(o, "--idle") == 0)
            s_cfg.idle = num(v, 0.001, 86400, o);
        else if (strcmp(o, "--churn") == 0)
            s_cfg.churn = (long)num(v, 1, 1000000, o);
        else if (strcmp(o, "--churn-size") == 0)
            s_cfg.churn_size = (uint64_t)num(v, 0, 1 << 30, o);
        else if (strcmp(o, "--churn-out") == 0 && v[0] != '\0')
            s_cfg.churn_out = v;
        else if (strcmp(o, "--churn-login") == 0 &&
                 (strcmp(v, "scram") == 0 || strcmp(v, "ticket") == 0))
            s_cfg.churn_scram = strcmp(v, "scram") == 0;
        else if (strcmp(o, "--churn-op") == 0 &&
                 (strcmp(v, "get") == 0 || strcmp(v, "put") == 0))
            s_cfg.churn_put = strcmp(v, "put") == 0;
        else if (strcmp(o, "--dir") == 0 && strlen(v) < sizeof(s_cfg.dir) &&
                 v[0] != '\0' && strchr(v, '/') == NULL)
            snprintf(s_cfg.dir, sizeof(s_cfg.dir), "%s", v);
        else
            usage();
    }
    if (s_cfg.port == 0 || (s_cfg.idle > 0 && s_cfg.churn > 0) ||
        (s_cfg.churn_put && (s_cfg.churn_out != NULL || s_cfg.churn == 0)))
        usage();
    s_cfg.user = getenv("NETDISK_USER");
    s_cfg.password = getenv("NETDISK_PASSWORD");
    if (s_cfg.user == NULL || s_cfg.user[0] == '\0' || s_cfg.password == NULL)
        die("set NETDISK_USER and NETDISK_PASSWORD");
    if (s_cfg.seed == 0)
        s_cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (s_cfg.dir[0] == '\0')
        snprintf(s_cfg.dir, sizeof(s_cfg.dir), "load-%" PRIu64, s_cfg.seed);
}

/* Raises the soft descriptor limit to the hard one; fails early when even
 * that cannot hold every session. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)s_cfg.sessions + 32)
        die("%d sessions need %d descriptors; RLIMIT_NOFILE is %llu (raise "
            "ulimit -n or lower --sessions)",
            s_cfg.sessions, s_cfg.sessions + 32,
            (unsigned long long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
    int open_at_once[MAX_PHASES + 1] = {0};
    long base_fds = -1;
    int rc = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_args(argc, argv);
    if (s_cfg.churn > 0) {
        printf("nd_load: churn of %ld files of %" PRIu64 " bytes as \"%s\" "
               "on 127.0.0.1:%u, one connection per GET, op-timeout %.0f s, "
               "seed %" PRIu64 ", files under %s/\n",
               s_cfg.churn, s_cfg.churn_size, s_cfg.user, s_cfg.port,
               s_cfg.op_timeout, s_cfg.seed, s_cfg.dir);
        take_sample(0, "before");
        if (s_nsamples > 0)
            base_fds = s_samples[0].fds;
        rc = run_churn(base_fds);
        nd_scram_client_keys_clear(&s_keys);
        return rc;
    }
    raise_nofile();
    s_ep = epoll_create1(EPOLL_CLOEXEC);
    if (s_ep < 0)
        die("epoll_create1: %s", strerror(errno));
    s_sess = calloc((size_t)s_cfg.sessions, sizeof(*s_sess));
    if (s_sess == NULL)
        die("out of memory");
    for (int i = 0; i < s_cfg.sessions; i++) {
        struct sess *s = &s_sess[i];

        s->id = i;
        s->fd = -1;
        s->rng = mix64(s_cfg.seed ^ ((uint64_t)i << 20));
        snprintf(s->dir, sizeof(s->dir), "%s/s%04d", s_cfg.dir, i);
        if (nd_digest_init(&s->md) < 0)
            die("MD5 init failed");
    }
    if (s_cfg.idle > 0)
        printf("nd_load: %d idle sessions as \"%s\" on 127.0.0.1:%u, held "
               "%.1f s, op-timeout %.0f s\n",
               s_cfg.sessions, s_cfg.user, s_cfg.port, s_cfg.idle,
               s_cfg.op_timeout);
    else
        printf("nd_load: %d sessions as \"%s\" on 127.0.0.1:%u, %d phase(s) "
               "of %.0f s%s, small %" PRIu64 "-%" PRIu64 " KiB, medium %" PRIu64
               "-%" PRIu64 " KiB, op-timeout %.0f s, seed %" PRIu64
               ", files under %s/\n",
               s_cfg.sessions, s_cfg.user, s_cfg.port, s_cfg.phases,
               s_cfg.seconds,
               s_cfg.max_ops > 0 ? " (or --ops per session)" : "",
               s_cfg.small_min / KIB, s_cfg.small_max / KIB,
               s_cfg.medium_min / KIB, s_cfg.medium_max / KIB, s_cfg.op_timeout,
               s_cfg.seed, s_cfg.dir);
    take_sample(0, "before");
    if (s_nsamples > 0)
        base_fds = s_samples[0].fds;
    if (s_cfg.idle > 0) {
        rc = run_idle(base_fds);
    } else {
        for (int p = 1; p <= s_cfg.phases; p++) {
            open_at_once[p] = run_phase(p);
            settle(p, base_fds);
        }
        report(open_at_once);
    }
    for (int i = 0; i < s_cfg.sessions; i++)
        nd_digest_free(&s_sess[i].md);
    free(s_sess);
    close(s_ep);
    nd_scram_client_keys_clear(&s_keys);
    if (s_cfg.idle > 0)
        return rc;
    if (s_checks_failed > 0) {
        printf("RESULT: FAIL (%d checks failed)\n", s_checks_failed);
        return 1;
    }
    printf("RESULT: PASS\n");
    return 0;
}
