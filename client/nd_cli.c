/*
 * nd_cli: connecting, the HELLO exchange, request and reply frames, and the
 * one-line error reports that map every failure to an exit status.
 */
#include "nd_cli.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_net.h"
#include "nd_wire.h"

/* The bar being drawn, so that an error message starts on a fresh line. */
static struct nd_progress *s_bar;

void
nd_cli_bar_set(struct nd_progress *bar)
{
    s_bar = bar;
}

bool
nd_cli_bar_take(struct nd_progress *bar)
{
    if (s_bar != bar)
        return false;
    s_bar = NULL;
    return true;
}

void
nd_cli_err(const char *fmt, ...)
{
    char line[ND_LOCAL_MAX + ND_PATH_MAX + ND_MSG_MAX];
    size_t len = 9;
    va_list ap;
    int n;

    if (s_bar != NULL) {
        nd_progress_finish(s_bar, false);
        s_bar = NULL;
    }
    memcpy(line, "netdisk: ", len);
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += (size_t) n < sizeof(line) - len - 2 ? (size_t) n
                                                   : sizeof(line) - len - 2;
    line[len++] = '\n';
    /* One write, so the line cannot interleave with anything else. */
    (void) nd_io_write_full(STDERR_FILENO, line, len);
}

int
nd_cli_usage(const char *what, const char *arg)
{
    nd_cli_err("%s%s (try 'netdisk --help')", what, arg);
    return ND_EXIT_USAGE;
}

/* Why an exchange with the server failed, for a negative nd_wire error. */
static const char *
wire_strerror(int rc)
{
    switch (-rc) {
    case ENODATA:
        return "server closed the connection";
    case ECONNRESET:
        return "connection lost: connection reset by peer";
    case EPIPE:
        return "connection lost: broken pipe";
    case EAGAIN:
        return "timed out waiting for the server";
    case EBADMSG:
        return "malformed reply from server";
    case EMSGSIZE:
        return "malformed reply from server: frame too large";
    case EPROTONOSUPPORT:
        return "malformed reply from server: not netdisk protocol version 1";
    default:
        return strerror(-rc);
    }
}

/*
 * Reports a failed exchange and returns its exit status: rc > 0 is the
 * status of the server's ERROR reply (its message is in s->msg), rc < 0 a
 * network or protocol failure.
 */
int
nd_cli_fail_wire(struct nd_sess *s, int rc)
{
    const char *name = nd_proto_status_name(rc);

    if (rc < 0) {
        nd_cli_err("%s: %s", s->ctx, wire_strerror(rc));
        return ND_EXIT_NET;
    }
    if (s->msg[0] == '\0')
        snprintf(s->msg, sizeof(s->msg), "%s", nd_proto_status_str(rc));
    if (name != NULL)
        nd_cli_err("%s: server: %s (%s)", s->ctx, s->msg, name);
    else
        nd_cli_err("%s: server: %s (code %d)", s->ctx, s->msg, rc);
    /* The server's own digest check failing is corruption in transit. */
    return rc == ND_E_DIGEST ? ND_EXIT_DIGEST : ND_EXIT_REFUSED;
}

/*
 * A send failed.  When the server closed the connection it may have said
 * why first (BUSY, NOSPC, SHUTDOWN), so read a pending ERROR if there is
 * one; the connection is dead, so the read cannot block.
 */
int
nd_cli_fail_send(struct nd_sess *s, int rc)
{
    uint8_t body[ND_REPLY_MAX];
    size_t len;
    int st;

    if (rc == -EPIPE || rc == -ECONNRESET) {
        st = nd_wire_expect(s->sock, ND_T_ERROR, body, sizeof(body), &len, NULL,
                            0);
        if (st == 0)
            st = nd_proto_error_decode(body, len, s->msg, sizeof(s->msg));
        if (st > 0)
            return nd_cli_fail_wire(s, st);
    }
    return nd_cli_fail_wire(s, rc);
}

/* Connects to one address within ND_CONNECT_TIMEOUT_MS.  Returns a blocking
 * socket with I/O timeouts, owned by the caller, or -errno. */
static int
connect_one(const struct addrinfo *ai)
{
    struct pollfd pfd;
    socklen_t len = sizeof(int);
    int fd, rc, err = 0;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        rc = -errno;
        if (rc != -EINPROGRESS)
            goto out;
        pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
        do
            rc = poll(&pfd, 1, ND_CONNECT_TIMEOUT_MS);
        while (rc < 0 && errno == EINTR);
        if (rc <= 0) {
            rc = rc == 0 ? -ETIMEDOUT : -errno;
            goto out;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        rc = -err;
        if (rc < 0)
            goto out;
    }
    rc = nd_io_set_nonblock(fd, false);
    if (rc == 0)
        rc = nd_net_set_timeouts(fd, ND_IO_TIMEOUT_S);
out:
    if (rc < 0) {
        nd_io_close(&fd);
        return rc;
    }
    return fd;
}

/* Connects to the server and exchanges HELLO.  Returns an exit status. */
int
nd_sess_open(const struct nd_opts *o, struct nd_sess *s)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    int rc = -EHOSTUNREACH;
    int gai = getaddrinfo(o->host, o->port, &hints, &res);

    if (gai != 0) {
        nd_cli_err("cannot resolve \"%s\": %s", o->host,
               gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return ND_EXIT_NET;
    }
    for (ai = res; ai != NULL && s->sock < 0; ai = ai->ai_next) {
        rc = connect_one(ai);
        if (rc >= 0)
            s->sock = rc;
    }
    freeaddrinfo(res);
    if (s->sock < 0) {
        nd_cli_err(strchr(o->host, ':') != NULL ? "cannot connect to [%s]:%s: %s"
                                            : "cannot connect to %s:%s: %s",
               o->host, o->port, strerror(-rc));
        return ND_EXIT_NET;
    }
    rc = nd_wire_hello(s->sock, s->msg, sizeof(s->msg));
    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_wire(s, rc);
}

/* Waits for a reply of type want into body (ND_REPLY_MAX bytes); reports an
 * ERROR or anything else.  Returns an exit status. */
int
nd_sess_expect(struct nd_sess *s, uint8_t want, uint8_t *body, size_t *len)
{
    int rc = nd_wire_expect(s->sock, want, body, ND_REPLY_MAX, len, s->msg,
                            sizeof(s->msg));

    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_wire(s, rc);
}

/* Sends the one request of this session.  Returns an exit status. */
int
nd_sess_request(struct nd_sess *s, uint8_t type, uint64_t size)
{
    uint8_t frame[ND_HDR_LEN + 16 + ND_PATH_MAX];
    int rc = nd_wire_send(
        s->sock, frame,
        nd_proto_req_encode(frame, sizeof(frame), type, size, s->path));

    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_send(s, rc);
}

/* Prepares a session for op on a remote path.  Returns an exit status. */
int
nd_sess_init(struct nd_sess *s, const struct nd_opts *o, const char *op,
          const char *path)
{
    memset(s, 0, sizeof(*s));
    s->sock = -1;
    s->path = path;
    s->progress = !o->quiet && isatty(STDERR_FILENO);
    if (path[0] != '\0')
        snprintf(s->ctx, sizeof(s->ctx), "%s \"%s\"", op, path);
    else
        snprintf(s->ctx, sizeof(s->ctx), "%s", op);
    if (strlen(path) > ND_PATH_MAX)
        return nd_cli_usage(op, ": remote path longer than 4095 bytes");
    return ND_EXIT_OK;
}

