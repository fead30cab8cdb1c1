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

#include <openssl/crypto.h>

#include "nd_io.h"
#include "nd_net.h"
#include "nd_pass.h"
#include "nd_scram.h"
#include "nd_tls.h"
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
        len += (size_t)n < sizeof(line) - len - 2 ? (size_t)n
                                                  : sizeof(line) - len - 2;
    line[len++] = '\n';
    /* One write, so the line cannot interleave with anything else. */
    (void)nd_io_write_full(STDERR_FILENO, line, len);
}

int
nd_cli_usage(const char *what, const char *arg)
{
    nd_cli_err("%s%s (try 'netdisk --help')", what, arg);
    return ND_EXIT_USAGE;
}

/* The bit of the option spelt a (a long form when lng, else the letter
 * *a), or 0 when the command has no such option. */
static unsigned
opt_flag(const struct nd_cli_opt *opts, size_t n, const char *a, bool lng)
{
    for (size_t i = 0; i < n; i++)
        if (lng ? opts[i].lopt != NULL && strcmp(a, opts[i].lopt) == 0
                : opts[i].opt != 0 && *a == opts[i].opt)
            return opts[i].flag;
    return 0;
}

int
nd_cli_cmd_opts(const char *cmd, const struct nd_cli_opt *opts, size_t n,
                int argc, char **argv, unsigned *flags)
{
    bool options = true;
    int ops = 0;

    *flags = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i], what[32];
        unsigned f = 0;

        if (options && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (!options || a[0] != '-' || a[1] == '\0') {
            argv[ops++] = a;
            continue;
        }
        if (a[1] == '-') {
            f = opt_flag(opts, n, a, true);
            if (f == 0)
                goto unknown;
            *flags |= f;
            continue;
        }
        for (const char *p = a + 1; *p != '\0'; p++) {
            f = opt_flag(opts, n, p, false);
            if (f == 0) {
                char opt[3] = {'-', *p, '\0'};

                snprintf(what, sizeof(what), "%s: unknown option: ", cmd);
                nd_cli_usage(what, opt);
                return -1;
            }
            *flags |= f;
        }
        continue;
    unknown:
        snprintf(what, sizeof(what), "%s: unknown option: ", cmd);
        nd_cli_usage(what, a);
        return -1;
    }
    return ops;
}

void
nd_cli_note(const struct nd_opts *o, const char *fmt, ...)
{
    char line[ND_LOCAL_MAX + 256];
    va_list ap;

    if (o->quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    nd_cli_err("%s", line);
}

int
nd_cli_fail_local(const char *what, const char *path, int err)
{
    nd_cli_err("%s \"%s\": %s", what, path, strerror(err));
    return ND_EXIT_LOCAL;
}

void
nd_cli_worst(int *worst, int rc)
{
    if (rc > *worst)
        *worst = rc;
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
    if (rc == ND_E_DIGEST)
        return ND_EXIT_DIGEST;
    return rc == ND_E_AUTH || rc == ND_E_BANNED ? ND_EXIT_AUTH
                                                : ND_EXIT_REFUSED;
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
        st = nd_wire_expect(&s->st, ND_T_ERROR, body, sizeof(body), &len, NULL,
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
    /* Failing to turn Nagle off only costs time on small files. */
    (void)nd_net_set_nodelay(fd);
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

/* Sends a login frame carrying a SCRAM message.  Returns an exit status. */
static int
send_scram(struct nd_sess *s, uint8_t type, const char *msg, int len)
{
    uint8_t frame[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    int rc = nd_wire_send(
        &s->st, frame,
        nd_proto_raw_encode(frame, sizeof(frame), type, msg, (size_t)len));

    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_send(s, rc);
}

/* Receives a login reply of type want as a NUL-terminated string in msg
 * (ND_SCRAM_MSG_MAX + 1 bytes).  Returns an exit status. */
static int
recv_scram(struct nd_sess *s, uint8_t want, char *msg, size_t *len)
{
    uint8_t body[ND_REPLY_MAX];
    int rc = nd_sess_expect(s, want, body, len);

    if (rc != ND_EXIT_OK)
        return rc;
    if (*len > ND_SCRAM_MSG_MAX)
        return nd_cli_fail_wire(s, -EBADMSG);
    memcpy(msg, body, *len);
    msg[*len] = '\0';
    return ND_EXIT_OK;
}

_Static_assert(ND_HDR_LEN + ND_SCRAM_MSG_MAX <= ND_WIRE_BEHIND_MAX,
               "an AUTH frame must fit behind HELLO");

/*
 * Exchanges HELLO and logs in with SCRAM-SHA-256: HELLO with AUTH behind it
 * in one send (docs/protocol.md allows it; one round trip fewer), then
 * CHALLENGE, PROOF/WELCOME, and checks that the server proved it holds
 * this user's verifier.  Returns an exit status.
 */
static int
login(const struct nd_opts *o, struct nd_sess *s, const char *pw, size_t pwlen)
{
    struct nd_scram_client sc;
    char msg[ND_SCRAM_MSG_MAX + 1], out[ND_SCRAM_MSG_MAX + 1];
    uint8_t auth[ND_HDR_LEN + ND_SCRAM_MSG_MAX];
    long alen;
    size_t len;
    int n, rc;

    n = nd_scram_client_first(&sc, o->user, NULL, out, sizeof(out));
    alen = n < 0 ? n
                 : nd_proto_raw_encode(auth, sizeof(auth), ND_T_AUTH, out,
                                       (size_t)n);
    if (alen < 0) {
        nd_cli_err("cannot log in as \"%s\": %s", o->user,
                   strerror((int)-alen));
        rc = ND_EXIT_AUTH;
        goto out;
    }
    rc = nd_wire_hello_with(&s->st, auth, (size_t)alen, s->msg, sizeof(s->msg));
    rc = rc == 0 ? ND_EXIT_OK : nd_cli_fail_wire(s, rc);
    if (rc == ND_EXIT_OK)
        rc = recv_scram(s, ND_T_CHALLENGE, msg, &len);
    if (rc != ND_EXIT_OK)
        goto out;
    n = nd_scram_client_final(&sc, pw, pwlen, msg, len, out, sizeof(out));
    if (n < 0) {
        nd_cli_err("login: the server's challenge is unusable (%s)",
                   n == -EPROTO ? "iteration count out of range" : "malformed");
        rc = ND_EXIT_AUTH;
        goto out;
    }
    rc = send_scram(s, ND_T_PROOF, out, n);
    if (rc == ND_EXIT_OK)
        rc = recv_scram(s, ND_T_WELCOME, msg, &len);
    if (rc != ND_EXIT_OK)
        goto out;
    if (nd_scram_client_verify(&sc, msg, len) != 0) {
        nd_cli_err("login: the server did not prove that it knows your "
                   "password; it may not be the server you meant");
        rc = ND_EXIT_AUTH;
    }
out:
    nd_scram_client_clear(&sc);
    OPENSSL_cleanse(out, sizeof(out));
    return rc;
}

/* Starts TLS on the connected socket.  Returns an exit status. */
static int
start_tls(const struct nd_opts *o, struct nd_sess *s)
{
    char err[512];
    int rc =
        nd_tls_client_ctx(&s->tls, o->cacert, !o->insecure, err, sizeof(err));

    if (rc == 0)
        rc = nd_tls_connect(&s->st, s->tls, o->host, err, sizeof(err));
    if (rc < 0) {
        nd_cli_err("TLS with %s: %s", o->host, err);
        return rc == -EINVAL && s->tls == NULL ? ND_EXIT_LOCAL : ND_EXIT_NET;
    }
    return ND_EXIT_OK;
}

void
nd_sess_close(struct nd_sess *s)
{
    nd_stream_close(&s->st);
    SSL_CTX_free(s->tls);
    s->tls = NULL;
}

/* Connects to the server, exchanges HELLO and logs in (login()).  Returns
 * an exit status. */
int
nd_sess_open(const struct nd_opts *o, struct nd_sess *s)
{
    char pw[ND_PASS_MAX + 1], err[512];
    int pwlen;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    int rc = -EHOSTUNREACH, gai;

    /* Ask before connecting: a prompt must not eat into the server's
     * idle_timeout. */
    pwlen = nd_pass_get(o->password_file, o->user, o->host, pw, sizeof(pw), err,
                        sizeof(err));
    if (pwlen < 0) {
        OPENSSL_cleanse(pw, sizeof(pw));
        nd_cli_err("%s", err);
        /* No source at all, or an empty one, is how we were called; a
         * password file that cannot be read is a local error. */
        return pwlen == -ENXIO || pwlen == -EINVAL ? ND_EXIT_USAGE
                                                   : ND_EXIT_LOCAL;
    }
    gai = getaddrinfo(o->host, o->port, &hints, &res);
    if (gai != 0) {
        OPENSSL_cleanse(pw, sizeof(pw));
        nd_cli_err("cannot resolve \"%s\": %s", o->host,
                   gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return ND_EXIT_NET;
    }
    for (ai = res; ai != NULL && s->st.fd < 0; ai = ai->ai_next) {
        rc = connect_one(ai);
        if (rc >= 0)
            s->st.fd = rc;
    }
    freeaddrinfo(res);
    if (s->st.fd < 0) {
        OPENSSL_cleanse(pw, sizeof(pw));
        nd_cli_err(strchr(o->host, ':') != NULL
                       ? "cannot connect to [%s]:%s: %s"
                       : "cannot connect to %s:%s: %s",
                   o->host, o->port, strerror(-rc));
        return ND_EXIT_NET;
    }
    rc = o->tls ? start_tls(o, s) : ND_EXIT_OK;
    if (rc == ND_EXIT_OK)
        rc = login(o, s, pw, (size_t)pwlen);
    OPENSSL_cleanse(pw, sizeof(pw));
    return rc;
}

/* Waits for a reply of type want into body (ND_REPLY_MAX bytes); reports an
 * ERROR or anything else.  Returns an exit status. */
int
nd_sess_expect(struct nd_sess *s, uint8_t want, uint8_t *body, size_t *len)
{
    int rc = nd_wire_expect(&s->st, want, body, ND_REPLY_MAX, len, s->msg,
                            sizeof(s->msg));

    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_wire(s, rc);
}

/* Sends the one request of this session.  Returns an exit status. */
int
nd_sess_request(struct nd_sess *s, uint8_t type, uint64_t size)
{
    uint8_t frame[ND_HDR_LEN + 16 + ND_PATH_MAX];
    int rc = nd_wire_send(
        &s->st, frame,
        nd_proto_req_encode(frame, sizeof(frame), type, size, s->path));

    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_send(s, rc);
}

bool
nd_cli_session_ends(int status)
{
    switch (status) {
    case ND_E_PROTO:
    case ND_E_VERSION:
    case ND_E_TOOBIG:
    case ND_E_BUSY:
    case ND_E_SHUTDOWN:
    case ND_E_AUTH:
    case ND_E_BANNED:
    case ND_E_PLAINTEXT:
        return true;
    default:
        return false;
    }
}

void
nd_sess_target(struct nd_sess *s, const char *op, const char *path)
{
    s->path = path;
    s->msg[0] = '\0';
    if (path[0] != '\0')
        snprintf(s->ctx, sizeof(s->ctx), "%s \"%s\"", op, path);
    else
        snprintf(s->ctx, sizeof(s->ctx), "%s", op);
}

/* Prepares a session for op on a remote path.  Returns an exit status. */
int
nd_sess_init(struct nd_sess *s, const struct nd_opts *o, const char *op,
             const char *path)
{
    memset(s, 0, sizeof(*s));
    nd_stream_init(&s->st, -1);
    s->path = path;
    s->progress = !o->quiet && isatty(STDERR_FILENO);
    s->verbose = o->verbose && !o->quiet;
    nd_sess_target(s, op, path);
    if (strlen(path) > ND_PATH_MAX)
        return nd_cli_usage(op, ": remote path longer than 4095 bytes");
    return ND_EXIT_OK;
}
