/*
 * nd_faultproxy: a fault-injecting TCP proxy for the integration tests.
 *
 * It listens on an ephemeral port of 127.0.0.1, publishes the port in a file,
 * and forwards every connection it accepts to a loopback server.  On a chosen
 * connection it can split the stream into small writes, delay each write,
 * hold the client's bytes once at an exact offset for a while, or cut the
 * connection after an exact number of bytes in one direction, so the
 * tests can put a client or the daemon in front of a short read, a dripping
 * peer or a vanished peer at a known offset.  When a connection ends, one
 * line with its byte counts goes to the log file.
 *
 * One thread, one poll(2) loop, up to MAX_CONNS connections at once, each
 * with one fixed buffer per direction: a direction whose output would block
 * stops reading its input, so nothing is buffered without bound.  Every wait
 * is bounded by --timeout, after which the proxy exits 3 whatever it is
 * doing, so a test can never hang on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "nd_io.h"

/* Connections served at once; more wait in the listen backlog. */
#define MAX_CONNS 64
/* The fixed buffer of one direction of one connection. */
#define DIR_BUF (64u * 1024u)
/* How long a cut waits for the peer to take the bytes it was owed before
 * the socket is closed anyway, and how often it looks. */
#define CUT_DRAIN_MS 5000
#define CUT_POLL_MS 5
#define NO_LIMIT UINT64_MAX

enum { UP = 0, DOWN = 1 };       /* UP: client to server; DOWN: the reverse */
enum { CLIENT = 0, SERVER = 1 }; /* indexes of conn.fd */

enum end_reason { END_NONE, END_EOF, END_CUT_UP, END_CUT_DOWN, END_ERROR };

static const char *const s_reason_name[] = {
    [END_NONE] = "none",         [END_EOF] = "eof",     [END_CUT_UP] = "cut-up",
    [END_CUT_DOWN] = "cut-down", [END_ERROR] = "error",
};

/* One direction of a connection: it reads fd[d] and writes fd[!d]. */
struct dir {
    char buf[DIR_BUF];
    size_t off, len; /* buf[off, len) is read but not yet forwarded */
    uint64_t nread;  /* bytes read from the input */
    uint64_t moved;  /* bytes written to the output: the logged count */
    uint64_t limit;  /* cut once moved reaches this, or NO_LIMIT */
    bool eof;        /* the input sent EOF */
    bool done;       /* EOF forwarded with shutdown(SHUT_WR) */
    bool delayed;    /* the delay before the pending write is served */
};

struct conn {
    bool used;
    bool connecting; /* fd[SERVER] has a connect(2) in progress */
    bool cutting;    /* cut: waiting for fd[cut_fd] to drain */
    unsigned id;
    int fd[2];
    int cut_fd;
    double cut_deadline;
    size_t split; /* largest single write, or SIZE_MAX */
    unsigned delay_ms;
    uint64_t pause_at; /* --pause-up-at, or NO_LIMIT */
    unsigned pause_ms;
    bool paused; /* the pause has been served */
    struct dir dir[2];
};

/* The command line; 0 or NO_LIMIT where the option was not given. */
static struct {
    struct sockaddr_storage to;
    socklen_t to_len;
    const char *port_file;
    const char *log_file;
    unsigned conn;
    uint64_t cut[2];
    size_t split;
    unsigned delay_ms;
    uint64_t pause_at;
    unsigned pause_ms;
    unsigned listen_port; /* 0: the kernel picks */
    uint64_t max_conns;
    unsigned timeout;
} s_opt;

static struct conn s_conns[MAX_CONNS];
static unsigned s_active;
static uint64_t s_accepted;
static int s_log_fd = -1;
static double s_deadline; /* nd_io_now() at which --timeout strikes */
static volatile sig_atomic_t s_stop;

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
    fprintf(stderr,
            "usage: nd_faultproxy --to PORT [--to-host 127.0.0.1|::1] "
            "--port-file FILE [--conn K] [--cut-up N] [--cut-down N] "
            "[--split N] [--delay-ms MS] [--pause-up-at N --pause-ms MS] "
            "[--listen-port P] "
            "[--max-conns M] [--timeout S] "
            "[--log FILE]\n");
    exit(2);
}

static void die(const char *what, int err) __attribute__((noreturn));

static void
die(const char *what, int err)
{
    fprintf(stderr, "nd_faultproxy: %s: %s\n", what, strerror(err));
    exit(1);
}

/* Parses a decimal in [min, max]; anything else is a usage error. */
static uint64_t
num_arg(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    /* A leading digit keeps strtoull from taking " -1" as 2^64 - 1. */
    if (errno != 0 || s[0] < '0' || s[0] > '9' || *end != '\0' || v < min ||
        v > max) {
        fprintf(stderr, "nd_faultproxy: bad %s \"%s\"\n", opt, s);
        usage();
    }
    return v;
}

/* Accepts a numeric loopback address only: the proxy must never become a
 * way for a test to reach another host. */
static void
set_target_host(const char *host)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&s_opt.to;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s_opt.to;

    memset(&s_opt.to, 0, sizeof(s_opt.to));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1 &&
        (ntohl(sin->sin_addr.s_addr) >> 24) == 127) {
        sin->sin_family = AF_INET;
        s_opt.to_len = sizeof(*sin);
        return;
    }
    memset(&s_opt.to, 0, sizeof(s_opt.to));
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 &&
        IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
        sin6->sin6_family = AF_INET6;
        s_opt.to_len = sizeof(*sin6);
        return;
    }
    fprintf(stderr,
            "nd_faultproxy: --to-host \"%s\" is not a loopback "
            "address (127.0.0.0/8 or ::1)\n",
            host);
    usage();
}

static void
parse_args(int argc, char **argv)
{
    /* Each option may be given once; seen[] catches a repeat. */
    static const char *const names[] = {
        "--to",        "--to-host",     "--port-file", "--conn",
        "--cut-up",    "--cut-down",    "--split",     "--delay-ms",
        "--max-conns", "--timeout",     "--log",       "--pause-up-at",
        "--pause-ms",  "--listen-port",
    };
    bool seen[sizeof(names) / sizeof(names[0])] = {false};
    const char *host = "127.0.0.1";
    unsigned port = 0;

    s_opt.conn = 1;
    s_opt.cut[UP] = s_opt.cut[DOWN] = NO_LIMIT;
    s_opt.split = SIZE_MAX;
    s_opt.pause_at = NO_LIMIT;
    s_opt.max_conns = NO_LIMIT;
    s_opt.timeout = 300;
    for (int i = 1; i < argc; i += 2) {
        size_t k = 0;

        while (k < sizeof(names) / sizeof(names[0]) &&
               strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == sizeof(names) / sizeof(names[0])) {
            fprintf(stderr, "nd_faultproxy: unknown option \"%s\"\n", argv[i]);
            usage();
        }
        if (seen[k] || i + 1 >= argc) {
            fprintf(stderr,
                    "nd_faultproxy: %s given twice or without a "
                    "value\n",
                    argv[i]);
            usage();
        }
        seen[k] = true;

        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--to") == 0)
            port = (unsigned)num_arg(opt, val, 1, 65535);
        else if (strcmp(opt, "--to-host") == 0)
            host = val;
        else if (strcmp(opt, "--port-file") == 0)
            s_opt.port_file = val;
        else if (strcmp(opt, "--conn") == 0)
            s_opt.conn = (unsigned)num_arg(opt, val, 0, UINT_MAX);
        else if (strcmp(opt, "--cut-up") == 0)
            s_opt.cut[UP] = num_arg(opt, val, 0, NO_LIMIT - 1);
        else if (strcmp(opt, "--cut-down") == 0)
            s_opt.cut[DOWN] = num_arg(opt, val, 0, NO_LIMIT - 1);
        else if (strcmp(opt, "--split") == 0)
            s_opt.split = (size_t)num_arg(opt, val, 1, DIR_BUF);
        else if (strcmp(opt, "--delay-ms") == 0)
            s_opt.delay_ms = (unsigned)num_arg(opt, val, 0, 60000);
        else if (strcmp(opt, "--max-conns") == 0)
            s_opt.max_conns = num_arg(opt, val, 1, NO_LIMIT - 1);
        else if (strcmp(opt, "--timeout") == 0)
            s_opt.timeout = (unsigned)num_arg(opt, val, 1, 86400);
        else if (strcmp(opt, "--pause-up-at") == 0)
            s_opt.pause_at = num_arg(opt, val, 0, NO_LIMIT - 1);
        else if (strcmp(opt, "--pause-ms") == 0)
            s_opt.pause_ms = (unsigned)num_arg(opt, val, 0, 60000);
        else if (strcmp(opt, "--listen-port") == 0)
            s_opt.listen_port = (unsigned)num_arg(opt, val, 1, 65535);
        else
            s_opt.log_file = val;
    }
    if (port == 0 || s_opt.port_file == NULL)
        usage();
    set_target_host(host);
    if (s_opt.to.ss_family == AF_INET)
        ((struct sockaddr_in *)&s_opt.to)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&s_opt.to)->sin6_port = htons((uint16_t)port);
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    /* Bounded: nanosleep only ever shortens ts. */
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Writes "PORT\n" to a temp file and renames it into place, so a test that
 * polls for the file never reads half a number. */
static void
write_port_file(unsigned port)
{
    char tmp[PATH_MAX], line[16];
    int fd, n;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", s_opt.port_file) >=
        (int)sizeof(tmp))
        die("--port-file", ENAMETOOLONG);
    n = snprintf(line, sizeof(line), "%u\n", port);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(tmp, errno);
    ssize_t w = nd_io_write_full(fd, line, (size_t)n);
    if (w < 0)
        die(tmp, (int)-w);
    if (close(fd) < 0)
        die(tmp, errno);
    if (rename(tmp, s_opt.port_file) < 0)
        die(s_opt.port_file, errno);
}

/* Appends the connection's line with one write(2) on an O_APPEND fd, so a
 * test can read the log while the proxy runs and never sees half a line. */
static void
log_end(const struct conn *c, enum end_reason why)
{
    char line[160];
    int n;

    if (s_log_fd < 0)
        return;
    n = snprintf(line, sizeof(line),
                 "conn %u up %" PRIu64 " down %" PRIu64 " end %s\n", c->id,
                 c->dir[UP].moved, c->dir[DOWN].moved, s_reason_name[why]);
    ssize_t w = nd_io_write_full(s_log_fd, line, (size_t)n);
    if (w < 0)
        fprintf(stderr, "nd_faultproxy: write to %s: %s\n", s_opt.log_file,
                strerror((int)-w));
}

static void
close_sock(int *fd)
{
    if (*fd < 0)
        return;
    (void)shutdown(*fd, SHUT_RDWR); /* fails harmlessly on a dead socket */
    nd_io_close(fd);
}

static void
conn_free(struct conn *c)
{
    close_sock(&c->fd[CLIENT]);
    close_sock(&c->fd[SERVER]);
    c->used = false;
    s_active--;
}

/* Ends a connection now: logs it, then shuts down and closes both sides. */
static void
conn_end(struct conn *c, enum end_reason why)
{
    log_end(c, why);
    conn_free(c);
}

/*
 * Cuts direction d after its last owed byte was written.  The line is logged
 * first, because the peer sees the end as soon as the FIN goes out and a test
 * may look at the log right then.  The input side goes at once.  The output
 * side gets a FIN behind the bytes it was owed and is closed by cut_check()
 * later, because closing a socket with unread input sends a RST, and a RST
 * throws away whatever is still in our send queue: "the N-th byte is
 * delivered" would not hold for a slow reader.
 */
static void
conn_cut(struct conn *c, int d)
{
    log_end(c, d == UP ? END_CUT_UP : END_CUT_DOWN);
    close_sock(&c->fd[d]);
    c->cut_fd = !d;
    (void)shutdown(c->fd[c->cut_fd], SHUT_WR);
    c->cutting = true;
    c->cut_deadline = nd_io_now() + CUT_DRAIN_MS / 1000.0;
}

/*
 * Closes a cut connection once that is safe for the bytes it still owes the
 * peer: the peer acknowledged all of them (FIN included), or it sent its own
 * EOF so it can send nothing that would turn our close into a RST (the kernel
 * then delivers the rest after close), or the connection failed, or
 * CUT_DRAIN_MS passed.  Meanwhile whatever the peer sends is read and
 * dropped, so that the close finds no unread input.
 */
static void
cut_check(struct conn *c)
{
    static char scratch[DIR_BUF];
    int fd = c->fd[c->cut_fd], unacked = 0;
    bool peer_eof = false;

    /* Bounded: a peer sending faster than this is dropped at the deadline. */
    for (int i = 0; i < 64; i++) {
        ssize_t r = nd_io_recv_nowait(fd, scratch, sizeof(scratch));
        if (r == -EAGAIN)
            break;
        if (r <= 0) {
            peer_eof = true; /* EOF, or an error: the same for us */
            break;
        }
    }
    if (peer_eof || ioctl(fd, SIOCOUTQ, &unacked) < 0 || unacked <= 0 ||
        nd_io_now() >= c->cut_deadline)
        conn_free(c);
}

/* The input sent EOF and everything before it was forwarded: pass the EOF
 * on.  When the other direction is finished too, the connection ends. */
static void
dir_finish(struct conn *c, int d)
{
    struct dir *x = &c->dir[d];

    x->done = true;
    if (c->dir[!d].done) {
        /* Log before the last FIN, which is what the test waits for. */
        log_end(c, END_EOF);
        (void)shutdown(c->fd[!d], SHUT_WR);
        conn_free(c);
        return;
    }
    if (shutdown(c->fd[!d], SHUT_WR) < 0)
        conn_end(c, END_ERROR);
}

/*
 * Sends one write of at most split bytes from direction d's buffer, after the
 * connection's delay.  The delay is a plain sleep that stalls every other
 * connection too (a timer per connection is not worth its code in a test
 * tool), so --delay-ms is meant for one connection, not for --conn 0 under
 * load.  The sleep never runs past the --timeout deadline, so the main loop
 * still exits on time.  Returns the count sent or -errno (-EAGAIN when the
 * output is full).
 */
static ssize_t
dir_write(struct conn *c, int d)
{
    struct dir *x = &c->dir[d];
    size_t n = x->len - x->off;

    if (n > c->split)
        n = c->split;
    /* --pause-up-at: the client's bytes stop at exactly that offset for
     * --pause-ms (once), as a client busy with something else would. */
    if (d == UP && !c->paused && c->pause_at != NO_LIMIT) {
        if (x->moved < c->pause_at) {
            if (n > c->pause_at - x->moved)
                n = (size_t)(c->pause_at - x->moved);
        } else {
            double left_ms = (s_deadline - nd_io_now()) * 1000.0;
            if (left_ms > 0)
                sleep_ms(left_ms < c->pause_ms ? (unsigned)left_ms
                                               : c->pause_ms);
            c->paused = true;
        }
    }
    if (c->delay_ms > 0 && !x->delayed) {
        double left_ms = (s_deadline - nd_io_now()) * 1000.0;
        if (left_ms > 0)
            sleep_ms(left_ms < c->delay_ms ? (unsigned)left_ms : c->delay_ms);
        x->delayed = true;
    }
    ssize_t w = nd_io_send_nowait(c->fd[!d], x->buf + x->off, n);
    if (w > 0) {
        x->off += (size_t)w;
        x->moved += (uint64_t)w;
        x->delayed = false;
    }
    return w;
}

/*
 * Moves what it can in direction d without blocking: the pending write, then
 * (once the buffer is empty) one read and one write of what it brought.  At
 * most two writes and one read per call, so with --split and --delay-ms the
 * loop returns to poll(2), and to its deadline, after every few bytes.
 * Returns false when the connection ended (c is then free).
 */
static bool
dir_pump(struct conn *c, int d)
{
    struct dir *x = &c->dir[d];

    for (int round = 0; round < 2; round++) {
        if (x->off < x->len) {
            ssize_t w = dir_write(c, d);
            if (w == -EAGAIN)
                return true;
            if (w <= 0) {
                conn_end(c, END_ERROR);
                return false;
            }
            if (x->moved == x->limit) {
                conn_cut(c, d);
                return false;
            }
            if (x->off < x->len)
                return true; /* the rest after the next poll */
        }
        if (round == 1 || x->done)
            return true;
        if (x->eof) {
            dir_finish(c, d);
            return c->used;
        }

        /* Never read past the cut: the bytes after it must stay unsent. */
        size_t want = DIR_BUF;
        if (x->limit != NO_LIMIT && x->limit - x->nread < want)
            want = (size_t)(x->limit - x->nread);
        ssize_t r = nd_io_recv_nowait(c->fd[d], x->buf, want);
        if (r == -EAGAIN)
            return true;
        if (r < 0) {
            conn_end(c, END_ERROR);
            return false;
        }
        if (r == 0) {
            x->eof = true;
            dir_finish(c, d);
            return c->used;
        }
        x->off = 0;
        x->len = (size_t)r;
        x->nread += (uint64_t)r;
    }
    return true;
}

/* The connect(2) to the server finished (it returned 0, or poll(2) reported
 * the socket): check how, then start forwarding.  A cut at offset 0 happens
 * here, once the server has seen the connection. */
static void
conn_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd[SERVER], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    c->connecting = false;
    if (err != 0) {
        fprintf(stderr, "nd_faultproxy: conn %u: connect: %s\n", c->id,
                strerror(err));
        conn_end(c, END_ERROR);
    } else if (c->dir[UP].limit == 0) {
        conn_cut(c, UP);
    } else if (c->dir[DOWN].limit == 0) {
        conn_cut(c, DOWN);
    }
}

static void
set_nodelay(int fd)
{
    int one = 1;

    /* Best effort: without it --split only gets coarser segments. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Starts forwarding an accepted client; takes ownership of fd. */
static void
conn_start(int fd)
{
    struct conn *c = NULL;

    for (size_t i = 0; i < MAX_CONNS && c == NULL; i++)
        if (!s_conns[i].used)
            c = &s_conns[i];
    /* The caller accepts only while a slot is free. */
    if (c == NULL) {
        nd_io_close(&fd);
        return;
    }

    bool rule = s_opt.conn == 0 || s_opt.conn == s_accepted;
    memset(c, 0, offsetof(struct conn, dir));
    for (int d = UP; d <= DOWN; d++) {
        struct dir *x = &c->dir[d];
        x->off = x->len = 0;
        x->nread = x->moved = 0;
        x->limit = rule ? s_opt.cut[d] : NO_LIMIT;
        x->eof = x->done = x->delayed = false;
    }
    c->used = true;
    c->id = (unsigned)s_accepted;
    c->fd[CLIENT] = fd;
    c->fd[SERVER] = -1;
    c->cut_fd = -1;
    c->split = rule ? s_opt.split : SIZE_MAX;
    c->delay_ms = rule ? s_opt.delay_ms : 0;
    c->pause_at = rule ? s_opt.pause_at : NO_LIMIT;
    c->pause_ms = s_opt.pause_ms;
    c->paused = false;
    s_active++;
    set_nodelay(fd);

    c->fd[SERVER] = socket(s_opt.to.ss_family,
                           SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd[SERVER] < 0) {
        fprintf(stderr, "nd_faultproxy: conn %u: socket: %s\n", c->id,
                strerror(errno));
        conn_end(c, END_ERROR);
        return;
    }
    set_nodelay(c->fd[SERVER]);
    c->connecting = true;
    if (connect(c->fd[SERVER], (struct sockaddr *)&s_opt.to, s_opt.to_len) ==
        0) {
        conn_connected(c);
    } else if (errno != EINPROGRESS) {
        fprintf(stderr, "nd_faultproxy: conn %u: connect: %s\n", c->id,
                strerror(errno));
        conn_end(c, END_ERROR);
    }
    /* Otherwise POLLOUT on the server socket says when it finished;
     * SO_ERROR reads 0 until then, so it cannot be asked earlier. */
}

/* Accepts what is waiting, as long as a slot is free and --max-conns allows. */
static void
accept_some(int *lfd)
{
    while (s_active < MAX_CONNS && s_accepted < s_opt.max_conns) {
        int fd = accept4(*lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept4", errno);
        }
        s_accepted++;
        conn_start(fd);
    }
    /* Enough connections: refuse the rest rather than leave them hanging
     * in the backlog. */
    if (s_accepted >= s_opt.max_conns)
        nd_io_close(lfd);
}

static int
listen_loopback(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)s_opt.listen_port)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket", errno);
    /* A fixed port lets a test restart the proxy where a client expects
     * it (a resumed get names its server by port). */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("bind", errno);
    if (listen(fd, MAX_CONNS) < 0)
        die("listen", errno);
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        die("getsockname", errno);
    write_port_file(ntohs(sin.sin_port));
    return fd;
}

static void
on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* SIGTERM and SIGINT stay blocked except inside ppoll(2), so a signal that
 * arrives between the flag check and the wait still cuts the wait short. */
static void
setup_signals(sigset_t *wait_mask)
{
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigset_t block;

    sigemptyset(&sa.sa_mask);
    /* A peer that vanished must give EPIPE, not kill the proxy. */
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        die("sigaction", errno);
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        die("sigaction", errno);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    if (sigprocmask(SIG_BLOCK, &block, wait_mask) < 0)
        die("sigprocmask", errno);
    sigdelset(wait_mask, SIGTERM);
    sigdelset(wait_mask, SIGINT);
}

/* The events connection c waits for on its socket s (CLIENT or SERVER). */
static short
conn_events(const struct conn *c, int s)
{
    short ev = 0;

    if (c->cutting)
        return s == c->cut_fd ? POLLIN : 0; /* to drop what it sends */
    if (s == SERVER && c->connecting)
        return POLLOUT;
    if (c->connecting)
        return 0;
    /* Direction s reads socket s; the other one writes to it. */
    const struct dir *in = &c->dir[s], *out = &c->dir[!s];
    if (in->off == in->len && !in->done && !in->eof && in->nread < in->limit)
        ev |= POLLIN;
    if (out->off < out->len)
        ev |= POLLOUT;
    return ev;
}

int
main(int argc, char **argv)
{
    static struct pollfd pfds[1 + 2 * MAX_CONNS];
    sigset_t wait_mask;
    int lfd;

    parse_args(argc, argv);
    setup_signals(&wait_mask);
    if (s_opt.log_file != NULL) {
        s_log_fd = open(s_opt.log_file,
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (s_log_fd < 0)
            die(s_opt.log_file, errno);
    }
    lfd = listen_loopback();

    s_deadline = nd_io_now() + s_opt.timeout;
    for (;;) {
        if (s_stop)
            exit(0);
        if (s_accepted >= s_opt.max_conns && s_active == 0)
            exit(0);
        double now = nd_io_now();
        if (now >= s_deadline) {
            fprintf(stderr,
                    "nd_faultproxy: timeout after %u s, %u "
                    "connections open\n",
                    s_opt.timeout, s_active);
            exit(3);
        }

        /* Slot 0 is the listener; slots 1 + 2i and 2 + 2i are the client
         * and server sockets of s_conns[i].  A negative fd is skipped, and
         * keeps poll(2) from reporting POLLHUP on a socket we ignore. */
        bool cutting = false;
        pfds[0].fd = lfd >= 0 && s_active < MAX_CONNS ? lfd : -1;
        pfds[0].events = POLLIN;
        for (size_t i = 0; i < MAX_CONNS; i++) {
            const struct conn *c = &s_conns[i];
            for (int s = CLIENT; s <= SERVER; s++) {
                struct pollfd *p = &pfds[1 + 2 * i + (size_t)s];
                p->events = c->used ? conn_events(c, s) : 0;
                p->fd = p->events != 0 ? c->fd[s] : -1;
                p->revents = 0;
            }
            cutting = cutting || (c->used && c->cutting);
        }
        double left_ms = (s_deadline - now) * 1000.0 + 1.0;
        if (cutting && left_ms > CUT_POLL_MS)
            left_ms = CUT_POLL_MS;
        struct timespec ts = {.tv_sec = (time_t)(left_ms / 1000.0)};
        ts.tv_nsec = (long)((left_ms - (double)ts.tv_sec * 1000.0) * 1e6);

        int n = ppoll(pfds, 1 + 2 * MAX_CONNS, &ts, &wait_mask);
        if (n < 0 && errno != EINTR)
            die("ppoll", errno);
        if (n <= 0 && !cutting)
            continue;

        for (size_t i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &s_conns[i];
            if (!c->used)
                continue;
            if (c->cutting) {
                cut_check(c);
                continue;
            }
            if ((pfds[1 + 2 * i].revents | pfds[2 + 2 * i].revents) == 0)
                continue;
            if (c->connecting) {
                conn_connected(c);
                continue;
            }
            /* Each direction tries its write and read whatever woke us;
             * a try that would block costs one EAGAIN. */
            if (dir_pump(c, UP))
                (void)dir_pump(c, DOWN);
        }
        if (pfds[0].revents != 0)
            accept_some(&lfd);
    }
}
