/*
 * nd_handler: HELLO, PUT, GET and LIST, run synchronously on a worker.
 *
 * Uploads are hashed as the bytes arrive and written to a temporary file;
 * only a matching trailer digest lets nd_store_commit() rename it into place.
 * Downloads are hashed chunk by chunk and sent with sendfile(2), with the
 * digest as a trailer.  Every request ends in exactly one log line.
 *
 * Before anything else a session logs in with SCRAM-SHA-256: AUTH carries
 * the client-first-message and gets a CHALLENGE, PROOF carries the
 * client-final-message and gets WELCOME, after which every path is
 * resolved in the user's own directory.  An unknown user is answered with a
 * made-up salt and fails exactly like a wrong password.  A failed login is
 * answered only after a delay that grows with the address's failures; the
 * reactor holds the answer, not the worker (see nd_conn.late).
 */
#include "nd_handler.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_log.h"
#include "nd_users.h"
#include "nd_wire.h"

/* The scratch buffer holds a whole control frame or one transfer chunk. */
#define SCRATCH_CAP                                                            \
    (ND_IO_CHUNK > ND_HDR_LEN + ND_FRAME_MAX ? ND_IO_CHUNK                     \
                                             : ND_HDR_LEN + ND_FRAME_MAX)

/* What one request did, for its log line. */
struct xfer {
    const char *op;
    const char *path;
    uint64_t bytes;
    double t0;
    const uint8_t *md5; /* NULL when no digest was agreed */
    const char *result; /* NULL: "ok" */
    int err;            /* -errno behind result, or 0 */
};

void *
nd_handler_scratch_new(void *arg)
{
    struct nd_scratch *sc = calloc(1, sizeof(*sc));

    (void)arg;
    if (sc == NULL)
        return NULL;
    sc->cap = SCRATCH_CAP;
    sc->buf = malloc(sc->cap);
    if (sc->buf == NULL || nd_digest_init(&sc->md5) < 0) {
        free(sc->buf);
        free(sc);
        return NULL;
    }
    return sc;
}

void
nd_handler_scratch_free(void *scratch)
{
    struct nd_scratch *sc = scratch;

    if (sc == NULL)
        return;
    nd_digest_free(&sc->md5);
    free(sc->buf);
    free(sc);
}

static void
log_xfer(const struct nd_conn *c, const struct xfer *x)
{
    char path[2 * ND_PATH_MAX + 1];
    char hex[ND_DIGEST_HEX_LEN] = "-";
    char why[160];

    if (x->md5 != NULL)
        nd_digest_hex(x->md5, hex);
    if (x->result == NULL)
        snprintf(why, sizeof(why), "ok");
    else if (x->err != 0)
        snprintf(why, sizeof(why), "\"%s: %s\"", x->result, strerror(-x->err));
    else
        snprintf(why, sizeof(why), "\"%s\"", x->result);
    nd_log(x->result == NULL ? ND_LOG_INFO : ND_LOG_WARN,
           "transfer peer=%s op=%s path=\"%s\" bytes=%" PRIu64
           " seconds=%.3f md5=%s result=%s",
           c->peer, x->op, nd_log_quote(x->path, path, sizeof(path)), x->bytes,
           nd_io_now() - x->t0, hex, why);
}

/* Replies with the status for rc; a failed send ends the session. */
static void
reply_error(struct nd_conn *c, int rc)
{
    enum nd_status st = nd_proto_status_from_errno(rc);

    if (nd_wire_send_error(&c->st, st, nd_proto_status_str(st)) < 0)
        c->close_after = true;
}

/* Sends an encoded frame; a failure ends the session.  Returns 0 or -errno. */
static int
send_frame(struct nd_conn *c, const void *frame, long len)
{
    int rc = nd_wire_send(&c->st, frame, len);

    if (rc < 0)
        c->close_after = true;
    return rc;
}

/*
 * Receives the file bytes of a PUT into the upload, hashing them as they
 * arrive.  A write failure does not stop the reading: the bytes are drained
 * so that the client, which is still sending, reads the error reply.
 * Returns 0 or the socket error; *werr gets the first write error.
 */
static int
recv_body(struct nd_conn *c, struct nd_scratch *sc, struct nd_upload *up,
          uint64_t size, uint64_t *got, int *werr)
{
    while (*got < size) {
        size_t want = size - *got < sc->cap ? (size_t)(size - *got) : sc->cap;
        ssize_t n = nd_stream_read_full(&c->st, sc->buf, want);

        if (n < 0)
            return (int)n;
        if ((size_t)n < want)
            return -ECONNRESET;
        if (nd_digest_update(&sc->md5, sc->buf, want) < 0)
            return -EIO;
        if (*werr == 0) {
            ssize_t w = nd_io_write_full(up->fd, sc->buf, want);
            if (w < 0)
                *werr = (int)w;
        }
        *got += want;
    }
    return 0;
}

/* Reads the DIGEST trailer.  Returns 0, or -EBADMSG / a socket error. */
static int
recv_trailer(struct nd_conn *c, uint8_t md5[ND_MD5_LEN])
{
    uint8_t body[64];
    struct nd_hdr h;
    int rc = nd_wire_recv(&c->st, &h, body, sizeof(body));

    if (rc < 0)
        return rc;
    if (h.type != ND_T_DIGEST)
        return -EBADMSG;
    return nd_proto_digest_decode(body, h.len, md5);
}

static void
handle_put(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    uint8_t frame[64], ours[ND_MD5_LEN], theirs[ND_MD5_LEN];
    struct xfer x = {"put", req->path, 0, nd_io_now(), NULL, NULL, 0};
    struct nd_upload up;
    int rc, werr = 0;

    if (req->size > (uint64_t)INT64_MAX) {
        x.result = "size out of range";
        reply_error(c, -EINVAL);
        goto log;
    }
    rc = nd_store_create_temp(&c->ustore, req->path, &up);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        reply_error(c, rc);
        goto log;
    }
    if (send_frame(c, frame,
                   nd_proto_empty_encode(frame, sizeof(frame), ND_T_READY)) <
            0 ||
        nd_digest_reset(&sc->md5) < 0) {
        x.result = "cannot send READY";
        goto abort;
    }
    rc = recv_body(c, sc, &up, req->size, &x.bytes, &werr);
    if (rc == 0)
        rc = recv_trailer(c, theirs);
    if (rc < 0) {
        /* The session is out of step with the protocol: end it, saying why
         * when the peer sent a frame we refuse rather than vanishing. */
        bool refused =
            rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT;

        x.result = refused ? "bad trailer" : "connection lost";
        x.err = rc;
        c->close_after = true;
        if (refused)
            reply_error(c, rc);
        goto abort;
    }
    if (nd_digest_final(&sc->md5, ours) < 0) {
        werr = werr != 0 ? werr : -EIO;
    }
    if (werr != 0) {
        x.result = "write failed";
        x.err = werr;
        reply_error(c, werr);
        goto abort;
    }
    x.md5 = ours;
    if (memcmp(ours, theirs, ND_MD5_LEN) != 0) {
        x.result = "digest mismatch";
        nd_wire_send_error(&c->st, ND_E_DIGEST,
                           "digest mismatch: nothing stored");
        goto abort;
    }
    rc = nd_store_commit(&up);
    if (rc < 0) {
        x.result = "commit failed";
        x.err = rc;
        reply_error(c, rc);
        goto log;
    }
    send_frame(c, frame,
               nd_proto_putok_encode(frame, sizeof(frame), req->size, ours));
    goto log;
abort:
    nd_store_abort(&up);
log:
    log_xfer(c, &x);
}

/* Sends size bytes of fd, hashing each chunk before sendfile moves it. */
static int
send_body(struct nd_conn *c, struct nd_scratch *sc, int fd, uint64_t size,
          uint64_t *sent)
{
    while (*sent < size) {
        size_t want = size - *sent < sc->cap ? (size_t)(size - *sent) : sc->cap;
        ssize_t n = nd_io_pread_full(fd, sc->buf, want, (off_t)*sent);

        if (n < 0)
            return (int)n;
        if (nd_digest_update(&sc->md5, sc->buf, want) < 0)
            return -EIO;
        n = nd_stream_send_file(&c->st, fd, (off_t)*sent, sc->buf, want);
        if (n < 0)
            return (int)n;
        *sent += want;
    }
    return 0;
}

static void
handle_get(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct xfer x = {"get", req->path, 0, nd_io_now(), NULL, NULL, 0};
    uint8_t frame[64], md5[ND_MD5_LEN];
    struct stat st;
    int fd = -1, rc;

    rc = nd_store_open_read(&c->ustore, req->path, &fd, &st);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        reply_error(c, rc);
        goto out;
    }
    rc = send_frame(c, frame,
                    nd_proto_file_encode(frame, sizeof(frame),
                                         (uint64_t)st.st_size,
                                         st.st_mtim.tv_sec));
    if (rc == 0)
        rc = nd_digest_reset(&sc->md5);
    if (rc == 0)
        rc = send_body(c, sc, fd, (uint64_t)st.st_size, &x.bytes);
    if (rc == 0)
        rc = nd_digest_final(&sc->md5, md5);
    if (rc == 0)
        rc = send_frame(c, frame,
                        nd_proto_digest_encode(frame, sizeof(frame), md5));
    if (rc < 0) {
        /* The reply promised st_size bytes; the only way out is to close. */
        x.result = "send failed";
        x.err = rc;
        c->close_after = true;
        goto out;
    }
    x.md5 = md5;
out:
    nd_io_close(&fd);
    log_xfer(c, &x);
}

static void
handle_list(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct xfer x = {"list", req->path, 0, nd_io_now(), NULL, NULL, 0};
    struct nd_dir d;
    struct nd_wbuf w;
    struct nd_entry e;
    uint32_t n = 0;
    int rc;

    rc = nd_store_dir_open(&c->ustore, req->path, &d);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        reply_error(c, rc);
        goto log;
    }
    nd_wbuf_init(&w, sc->buf, sc->cap, ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    while ((rc = nd_store_dir_next(&d, &e)) > 0) {
        if (nd_proto_entries_add(&w, &e) == -EMSGSIZE) {
            /* This frame is full: send it and start the next one. */
            rc = send_frame(c, sc->buf, nd_proto_entries_finish(&w, n));
            if (rc < 0)
                break;
            n = 0;
            nd_wbuf_init(&w, sc->buf, sc->cap, ND_T_ENTRIES);
            nd_proto_entries_begin(&w);
            nd_proto_entries_add(&w, &e);
        }
        n++;
        x.bytes++;
    }
    if (rc == 0 && n > 0)
        rc = send_frame(c, sc->buf, nd_proto_entries_finish(&w, n));
    if (rc == 0)
        rc = send_frame(c, sc->buf,
                        nd_proto_end_encode(sc->buf, sc->cap, x.bytes));
    else if (!c->close_after)
        reply_error(c, rc); /* readdir failed: ERROR ends the listing */
    if (rc < 0) {
        x.result = "list failed";
        x.err = rc;
    }
    nd_store_dir_close(&d);
log:
    log_xfer(c, &x);
}

void
nd_handler_conn_free(struct nd_conn *c)
{
    if (c->scram != NULL) {
        nd_scram_server_clear(c->scram);
        free(c->scram);
        c->scram = NULL;
    }
    nd_store_close(&c->ustore);
}

/* Ends the session with an ERROR, for refusals during the login. */
static void
refuse_login(struct nd_conn *c, enum nd_status st, const char *msg)
{
    nd_wire_send_error(&c->st, st, msg);
    c->close_after = true;
}

/*
 * Refuses the login when the address must first wait out a failed login's
 * delay or a ban.  Checked at AUTH and again at PROOF, so that sessions
 * opened in parallel cannot have their guesses checked all at once.
 * Returns true when it refused (and set close_after).
 */
static bool
login_must_wait(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                const char *step)
{
    char msg[128];
    bool banned;
    int left = nd_guard_wait(ctx->guard, c->addr, nd_io_now(), &banned);

    if (left == 0)
        return false;
    nd_log(banned ? ND_LOG_WARN : ND_LOG_INFO,
           "login refused at %s peer=%s: %s for %d s", step, c->peer,
           banned ? "address banned" : "waiting after a failed login", left);
    snprintf(msg, sizeof(msg), "%s; try again in %d seconds",
             banned ? "too many failed logins" : "a login just failed", left);
    refuse_login(c, ND_E_BANNED, msg);
    return true;
}

/* Writes a user name for the log: quoted when it is a valid name, else
 * only its length, so a hostile name cannot forge log text. */
static const char *
user_for_log(const char *user, char *out, size_t cap)
{
    if (nd_scram_user_ok(user))
        snprintf(out, cap, "\"%s\"", user);
    else
        snprintf(out, cap, "(invalid, %zu bytes)", strlen(user));
    return out;
}

/* AUTH: looks the user up and sends the challenge. */
static void
handle_auth(const struct nd_handler_ctx *ctx, struct nd_conn *c,
            struct nd_scratch *sc)
{
    struct nd_scram_verifier v;
    uint8_t secret[ND_USERS_SECRET_LEN];
    char msg[ND_SCRAM_MSG_MAX + 1], quoted[2 * ND_USER_MAX + 8];
    const char *user;
    long len;
    int rc, line = 0;

    if (login_must_wait(ctx, c, "AUTH"))
        return;
    if (c->hdr.len > ND_SCRAM_MSG_MAX) {
        nd_log(ND_LOG_INFO, "peer=%s AUTH of %u bytes refused", c->peer,
               c->hdr.len);
        refuse_login(c, ND_E_TOOBIG, "AUTH message too long");
        return;
    }
    c->scram = calloc(1, sizeof(*c->scram));
    if (c->scram == NULL) {
        refuse_login(c, ND_E_INTERNAL, nd_proto_status_str(ND_E_INTERNAL));
        return;
    }
    rc = nd_scram_server_start(c->scram, (const char *)c->body, c->hdr.len);
    if (rc < 0) {
        nd_log(ND_LOG_INFO, "peer=%s malformed AUTH: %s", c->peer,
               rc == -ENOTSUP ? "channel binding or authzid requested"
                              : strerror(-rc));
        refuse_login(c, ND_E_PROTO,
                     rc == -ENOTSUP ? "channel binding is not supported"
                                    : "malformed SCRAM client-first-message");
        return;
    }
    user = nd_scram_server_user(c->scram);
    /* An invalid name has no record either: it gets a mock like any
     * unknown user, so the reply never says which names exist. */
    rc = nd_users_cache_lookup(ctx->users, ctx->cfg->users_file, user, &v,
                               secret, &line);
    c->mock = rc == -ENOENT;
    if (c->mock) {
        /* The count most real users have, so i= gives nothing away. */
        nd_scram_verifier_mock(
            secret, sizeof(secret), user,
            v.iterations > 0 ? v.iterations : ctx->cfg->scram_iterations, &v);
    } else if (rc < 0) {
        if (rc == -EINVAL)
            nd_log(ND_LOG_ERR,
                   "users_file %s:%d: malformed record; login "
                   "refused peer=%s user=%s",
                   ctx->cfg->users_file, line, c->peer,
                   user_for_log(user, quoted, sizeof(quoted)));
        else
            nd_log(ND_LOG_ERR, "users_file %s: %s; login refused peer=%s",
                   ctx->cfg->users_file, strerror(-rc), c->peer);
        OPENSSL_cleanse(secret, sizeof(secret));
        refuse_login(c, ND_E_INTERNAL, "the server cannot check logins");
        return;
    }
    rc = nd_scram_server_challenge(c->scram, &v, NULL, msg, sizeof(msg));
    OPENSSL_cleanse(&v, sizeof(v));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "peer=%s cannot make a SCRAM challenge: %s", c->peer,
               strerror(-rc));
        refuse_login(c, ND_E_INTERNAL, nd_proto_status_str(ND_E_INTERNAL));
        return;
    }
    len =
        nd_proto_raw_encode(sc->buf, sc->cap, ND_T_CHALLENGE, msg, (size_t)rc);
    send_frame(c, sc->buf, len);
}

/* PROOF: checks it; logs the user in or fails after a delay. */
static void
handle_proof(const struct nd_handler_ctx *ctx, struct nd_conn *c,
             struct nd_scratch *sc)
{
    char out[ND_SCRAM_MSG_MAX + 1], quoted[2 * ND_USER_MAX + 8];
    const char *user = nd_scram_server_user(c->scram), *why;
    double delay;
    int rc = -EINVAL, failures, ban;
    long len;

    user_for_log(user, quoted, sizeof(quoted));
    if (login_must_wait(ctx, c, "PROOF"))
        return;
    if (c->hdr.len <= ND_SCRAM_MSG_MAX)
        rc = nd_scram_server_finish(c->scram, (const char *)c->body, c->hdr.len,
                                    out, sizeof(out));
    if (rc >= 0 && !c->mock) {
        struct nd_store us;
        int orc;

        snprintf(c->user, sizeof(c->user), "%s", user);
        orc = nd_store_open_user(ctx->store, c->user, &us);
        if (orc < 0) {
            nd_log(ND_LOG_ERR,
                   "login peer=%s user=%s: cannot open the "
                   "user's directory: %s",
                   c->peer, quoted, strerror(-orc));
            refuse_login(c, ND_E_IO, "cannot open your directory");
            return;
        }
        nd_scram_server_clear(c->scram);
        free(c->scram);
        c->scram = NULL;
        c->ustore = us;
        c->authed = true;
        nd_log(ND_LOG_INFO, "login peer=%s user=%s result=ok", c->peer, quoted);
        len = nd_proto_raw_encode(sc->buf, sc->cap, ND_T_WELCOME, out,
                                  (size_t)rc);
        send_frame(c, sc->buf, len);
        return;
    }
    why = c->mock         ? "unknown user"
          : rc == -EACCES ? "wrong password"
          : rc >= 0       ? "unknown user"
                          : "malformed proof";
    delay = nd_guard_fail(ctx->guard, c->addr, nd_io_now(), &failures, &ban);
    if (ban > 0)
        nd_log(ND_LOG_WARN,
               "login failed peer=%s user=%s reason=\"%s\" failures=%d; "
               "address banned for %d s",
               c->peer, quoted, why, failures, ban);
    else
        nd_log(ND_LOG_WARN,
               "login failed peer=%s user=%s reason=\"%s\" failures=%d",
               c->peer, quoted, why, failures);
    /* One answer for every failure, so none tells which it was. */
    len = nd_proto_error_encode(c->late, sizeof(c->late), ND_E_AUTH,
                                nd_proto_status_str(ND_E_AUTH));
    c->late_len = len > 0 ? (size_t)len : 0;
    c->late_at = nd_io_now() + delay;
    c->close_after = true;
}

static void
handle_hello(struct nd_conn *c)
{
    uint8_t frame[64];
    int rc;

    if (c->hdr.type != ND_T_HELLO) {
        nd_log(ND_LOG_INFO, "peer=%s sent %s before HELLO: closing", c->peer,
               nd_proto_type_name(c->hdr.type));
        nd_wire_send_error(&c->st, ND_E_PROTO, "expected HELLO");
        c->close_after = true;
        return;
    }
    rc = nd_proto_hello_decode(c->body, c->hdr.len);
    if (rc < 0) {
        nd_log(ND_LOG_INFO, "peer=%s bad HELLO: %s", c->peer, strerror(-rc));
        reply_error(c, rc);
        c->close_after = true;
        return;
    }
    if (send_frame(c, frame, nd_proto_hello_encode(frame, sizeof(frame))) == 0)
        c->hello_done = true;
}

void
nd_handler_run(const struct nd_handler_ctx *ctx, struct nd_conn *c,
               struct nd_scratch *sc)
{
    struct nd_req req;
    int rc;

    if (c->rx_err != 0) {
        nd_log(ND_LOG_INFO, "peer=%s refused frame (type %u, %u bytes): %s",
               c->peer, c->hdr.type, c->hdr.len, strerror(-c->rx_err));
        reply_error(c, c->rx_err);
        c->close_after = true;
        return;
    }
    if (!c->hello_done) {
        handle_hello(c);
        return;
    }
    if (!c->authed) {
        if (c->hdr.type == ND_T_AUTH && c->scram == NULL) {
            handle_auth(ctx, c, sc);
        } else if (c->hdr.type == ND_T_PROOF && c->scram != NULL) {
            handle_proof(ctx, c, sc);
        } else {
            nd_log(ND_LOG_INFO, "peer=%s sent %s before logging in: closing",
                   c->peer, nd_proto_type_name(c->hdr.type));
            refuse_login(c, ND_E_AUTH, "log in first");
        }
        return;
    }
    rc = nd_proto_req_decode(c->hdr.type, c->body, c->hdr.len, &req);
    if (rc == -EBADMSG) {
        nd_log(ND_LOG_INFO, "peer=%s malformed %s frame: closing", c->peer,
               nd_proto_type_name(c->hdr.type));
        reply_error(c, rc);
        c->close_after = true;
        return;
    }
    if (rc < 0) {
        nd_log(ND_LOG_INFO, "peer=%s %s refused: %s", c->peer,
               nd_proto_type_name(c->hdr.type), strerror(-rc));
        reply_error(c, rc);
        return;
    }
    switch (req.type) {
    case ND_T_PUT:
        handle_put(c, sc, &req);
        break;
    case ND_T_GET:
        handle_get(c, sc, &req);
        break;
    default:
        handle_list(c, sc, &req);
        break;
    }
}
