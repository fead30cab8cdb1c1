/*
 * nd_handler: HELLO, PUT, GET, STAT and LIST, run synchronously on a
 * worker; the login is nd_login's.
 *
 * Uploads are hashed as the bytes arrive and written to a temporary file;
 * only a matching trailer digest lets nd_store_commit() rename it into place.
 * Downloads are hashed chunk by chunk and sent with sendfile(2), with the
 * digest as a trailer.  Every request ends in exactly one log line.
 * MKDIR, REMOVE and RENAME are dispatched to nd_fsreq.
 *
 * Before anything else a session logs in (nd_login); until it has, only
 * AUTH and PROOF reach a handler, and every path afterwards is resolved
 * in the user's own directory.
 */
#include "nd_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_fsreq.h"
#include "nd_io.h"
#include "nd_log.h"
#include "nd_login.h"
#include "nd_partial.h"
#include "nd_sum.h"
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
    uint64_t from;      /* a resumed transfer's first byte, else 0 */
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
           "transfer peer=%s op=%s path=\"%s\" from=%" PRIu64 " bytes=%" PRIu64
           " seconds=%.3f md5=%s result=%s",
           c->peer, x->op, nd_log_quote(x->path, path, sizeof(path)), x->from,
           x->bytes, nd_io_now() - x->t0, hex, why);
}

/* What the stored-digest check said, for the debug log. */
static const char *
record_state(int rc)
{
    switch (-rc) {
    case 0:
        return "trusted";
    case ENODATA:
        return "none";
    case ESTALE:
        return "stale";
    case EBADMSG:
        return "corrupt";
    case EOPNOTSUPP:
        return "unsupported";
    default:
        return "unreadable";
    }
}

/*
 * Logs, at debug level, where a digest came from (from: upload, record or
 * hash; had: the record found before hashing) and whether a record was
 * stored (store_err 0) or why not.  A record that cannot be stored costs
 * only a hash on a later read, so this is never a warning.
 */
static void
log_digest(const struct nd_conn *c, const char *path, const char *from,
           const char *had, int store_err)
{
    char q[2 * ND_PATH_MAX + 1], why[96];

    if (nd_log_max_level < ND_LOG_DEBUG)
        return;
    if (strcmp(from, "record") == 0)
        snprintf(why, sizeof(why), "-");
    else if (store_err == 0)
        snprintf(why, sizeof(why), "yes");
    else
        snprintf(why, sizeof(why), "\"no: %s\"",
                 store_err == -ESTALE   ? "the file changed while read"
                 : store_err == -EAGAIN ? "the file changed too recently"
                                        : strerror(-store_err));
    nd_log(ND_LOG_DEBUG, "digest peer=%s path=\"%s\" from=%s had=%s stored=%s",
           c->peer, nd_log_quote(path, q, sizeof(q)), from, had, why);
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
        /* A short read is the end of the connection; what came before it
         * is still written, so that a resumable upload keeps it. */
        if (nd_digest_update(&sc->md5, sc->buf, (size_t)n) < 0)
            return -EIO;
        if (*werr == 0 && n > 0) {
            ssize_t w = nd_io_write_full(up->fd, sc->buf, (size_t)n);
            if (w < 0)
                *werr = (int)w;
        }
        *got += (uint64_t)n;
        if ((size_t)n < want)
            return -ECONNRESET;
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

/*
 * Hashes the first n bytes of fd into the scratch digest: the part of a
 * file that an earlier, interrupted transfer already moved.  Returns 0 or
 * -errno (-EIO when the file is shorter than n).
 */
static int
hash_prefix(struct nd_scratch *sc, int fd, uint64_t n)
{
    for (uint64_t at = 0; at < n;) {
        size_t want = n - at < sc->cap ? (size_t)(n - at) : sc->cap;
        ssize_t got = nd_io_pread_full(fd, sc->buf, want, (off_t)at);

        if (got < 0)
            return (int)got;
        if ((size_t)got < want || nd_digest_update(&sc->md5, sc->buf, want))
            return -EIO;
        at += want;
    }
    return 0;
}

/* Opens the upload a PUT asks for: a resumable one when it asks and the
 * server keeps partials, else a plain temporary file. */
static int
open_upload(const struct nd_handler_ctx *ctx, struct nd_conn *c,
            const struct nd_req *req, struct nd_upload *up)
{
    int rc;

    if ((req->flags & ND_PUT_RESUME) != 0 && ctx->cfg->partial_ttl > 0)
        rc = nd_partial_open(&c->ustore, req->path, req->size, req->mtime_sec,
                             req->mtime_nsec, up);
    else
        rc = nd_store_create_temp(&c->ustore, req->path, up);
    if (rc == 0 && (req->flags & ND_PUT_MTIME) != 0) {
        up->set_mtime = true;
        up->times[0].tv_nsec = UTIME_OMIT;
        up->times[1].tv_sec = (time_t)req->mtime_sec;
        up->times[1].tv_nsec = (long)req->mtime_nsec;
    }
    return rc;
}

static void
handle_put(const struct nd_handler_ctx *ctx, struct nd_conn *c,
           struct nd_scratch *sc, const struct nd_req *req)
{
    uint8_t frame[64], ours[ND_MD5_LEN], theirs[ND_MD5_LEN];
    struct xfer x = {"put", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    struct nd_upload up;
    uint64_t at = 0;
    int rc, werr = 0;

    if (req->size > (uint64_t)INT64_MAX) {
        x.result = "size out of range";
        reply_error(c, -EINVAL);
        goto log;
    }
    rc = open_upload(ctx, c, req, &up);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        reply_error(c, rc);
        goto log;
    }
    if (send_frame(c, frame,
                   nd_proto_ready_encode(frame, sizeof(frame), up.offset)) <
            0 ||
        nd_digest_reset(&sc->md5) < 0) {
        x.result = "cannot send READY";
        goto suspend;
    }
    /* The digest covers the whole file: the bytes kept from the last
     * attempt are hashed again while the client hashes its own copy. */
    at = x.from = up.offset;
    werr = hash_prefix(sc, up.fd, up.offset);
    rc = recv_body(c, sc, &up, req->size, &at, &werr);
    x.bytes = at - up.offset;
    if (rc == 0)
        rc = recv_trailer(c, theirs);
    if (rc < 0) {
        /* The session is out of step with the protocol: end it, saying why
         * when the peer sent a frame we refuse rather than vanishing. */
        bool refused =
            rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT;

        if (refused)
            x.result = "bad trailer";
        else if (up.keep && werr == 0 && at > 0)
            x.result = "connection lost; partial kept for resume";
        else
            x.result = "connection lost";
        x.err = rc;
        c->close_after = true;
        if (refused) {
            reply_error(c, rc);
            goto abort;
        }
        if (werr != 0 || at == 0)
            goto abort;
        goto suspend;
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
    up.md5 = ours; /* nd_store_commit() records it beside the bytes */
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
    log_digest(c, req->path, "upload", "none", up.sum_err);
    send_frame(c, frame,
               nd_proto_putok_encode(frame, sizeof(frame), req->size, ours));
    goto log;
suspend:
    nd_store_suspend(&up);
    goto log;
abort:
    nd_store_abort(&up);
log:
    log_xfer(c, &x);
}

/*
 * Sends the bytes of fd from *at up to end.  With hash set, each chunk is
 * read and hashed before sendfile moves it.  Without, a chunk is read only
 * when the stream encrypts in user space; zero-copy sends never bring the
 * bytes up.
 */
static int
send_body(struct nd_conn *c, struct nd_scratch *sc, int fd, uint64_t *at,
          uint64_t end, bool hash)
{
    bool copy = hash || !nd_stream_zero_copy(&c->st);

    while (*at < end) {
        size_t want = end - *at < sc->cap ? (size_t)(end - *at) : sc->cap;
        ssize_t n = 0;

        if (copy)
            n = nd_io_pread_full(fd, sc->buf, want, (off_t)*at);
        if (n < 0)
            return (int)n;
        if ((size_t)n < want && copy)
            return -EIO; /* the file shrank under us */
        if (hash && nd_digest_update(&sc->md5, sc->buf, want) < 0)
            return -EIO;
        n = nd_stream_send_file(&c->st, fd, (off_t)*at, sc->buf, want);
        if (n < 0)
            return (int)n;
        *at += want;
    }
    return 0;
}

/*
 * True when a ranged GET may have the rest of the file: it still has the
 * size and mtime the client saw, and, when both sides know a digest, the
 * same digest.  Otherwise the whole file is sent again (HTTP's If-Range).
 */
static bool
range_holds(const struct nd_fileinfo *rg, const struct stat *st, int rec,
            const uint8_t md5[ND_MD5_LEN])
{
    return rg->size == (uint64_t)st->st_size &&
           rg->mtime_sec == st->st_mtim.tv_sec &&
           rg->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
           (!rg->has_md5 || rec != 0 || memcmp(rg->md5, md5, ND_MD5_LEN) == 0);
}

static void
handle_get(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct xfer x = {"get", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    struct nd_fileinfo fi = {0};
    uint8_t frame[64], md5[ND_MD5_LEN];
    struct timespec since;
    struct stat st;
    uint64_t at;
    int fd = -1, rc, rec;

    rc = nd_store_open_read(&c->ustore, req->path, &fd, &st);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        reply_error(c, rc);
        goto out;
    }
    /* A trusted record spares the hash: the bytes go out untouched and the
     * record is the trailer.  Without one, the bytes are hashed as they go
     * and the digest is recorded afterwards, if the file held still. */
    rec = nd_sum_get(fd, &st, md5);
    nd_sum_clock(&since);
    fi.size = (uint64_t)st.st_size;
    fi.mtime_sec = st.st_mtim.tv_sec;
    fi.mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
    fi.has_md5 = rec == 0;
    if (rec == 0)
        memcpy(fi.md5, md5, ND_MD5_LEN);
    if ((req->flags & ND_GET_RANGE) != 0 &&
        range_holds(&req->rg, &st, rec, md5))
        fi.offset = req->rg.offset;
    at = x.from = fi.offset;
    rc = send_frame(c, frame, nd_proto_file_encode(frame, sizeof(frame), &fi));
    /* The trailer is the whole file's digest, so a resumed GET without a
     * record hashes the part the client already has before sending. */
    if (rc == 0 && rec < 0)
        rc = nd_digest_reset(&sc->md5);
    if (rc == 0 && rec < 0)
        rc = hash_prefix(sc, fd, fi.offset);
    if (rc == 0)
        rc = send_body(c, sc, fd, &at, fi.size, rec < 0);
    x.bytes = at - fi.offset;
    if (rc == 0 && rec < 0)
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
    if (rec == 0)
        log_digest(c, req->path, "record", "trusted", 0);
    else
        log_digest(c, req->path, "hash", record_state(rec),
                   rec == -EOPNOTSUPP
                       ? rec
                       : nd_sum_set_checked(fd, &st, &since, md5));
out:
    nd_io_close(&fd);
    log_xfer(c, &x);
}

/*
 * Resolves path by GET's rules, except that "" (the user's directory) and
 * one trailing '/' are allowed, as for LIST, and fstats what it names.  A
 * symlink that stays inside the user's directory is followed, as GET
 * follows it; the walk without openat2 opens a final link itself, which is
 * refused like GET refuses it.  Returns 0 or -errno.
 */
static int
stat_path(const struct nd_store *s, const char *path, struct stat *st)
{
    char p[ND_PATH_MAX + 1];
    size_t len = strlen(path);
    bool slash = len > 0 && path[len - 1] == '/';
    int fd, rc = nd_store_check_path(path, true);

    if (rc < 0)
        return rc;
    memcpy(p, path, len + 1);
    if (slash)
        p[len - 1] = '\0';
    fd = nd_store_resolve(s, p, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return fd;
    rc = fstat(fd, st) < 0 ? -errno : 0;
    nd_io_close(&fd);
    if (rc == 0 && S_ISLNK(st->st_mode))
        rc = -ELOOP;
    if (rc == 0 && slash && !S_ISDIR(st->st_mode))
        rc = -ENOTDIR;
    return rc;
}

/*
 * Ends a long hash early when the client is gone, or when the reactor shut
 * the socket down to stop the daemon: both make a peek see EOF.  Bytes the
 * client pipelined (the next request) are left for the reactor.
 */
static int
peer_gone(void *arg)
{
    const struct nd_conn *c = arg;
    char b;
    ssize_t n = recv(c->st.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n == 0)
        return -ECONNRESET;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
    return 0;
}

/*
 * STAT: the type, size and mtime of a path and, for a regular file, its
 * digest: the trusted record, or else the file is hashed here (it may take
 * a while for a large file) and the result recorded.
 */
static void
handle_stat(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct xfer x = {"stat", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    struct nd_statinfo si = {0};
    struct nd_sum_work w = {&sc->md5, sc->buf, sc->cap, peer_gone, c};
    enum nd_sum_how how = ND_SUM_RECORD;
    uint8_t frame[64];
    struct stat st;
    int fd = -1, rc, rec = 0, store_err = 0;

    rc = stat_path(&c->ustore, req->path, &st);
    if (rc == 0 && S_ISREG(st.st_mode)) {
        rc = nd_store_open_read(&c->ustore, req->path, &fd, &st);
        if (rc == 0)
            rec = nd_sum_get(fd, &st, si.md5);
        if (rc == 0 && rec < 0) {
            rc = nd_sum_ensure(fd, &st, &w, si.md5, &how, &store_err, &x.bytes);
            if (rc == -ECONNRESET)
                c->close_after = true; /* nobody is left to answer */
            if (rc < 0)
                x.result = "hash failed";
        }
    }
    if (rc < 0) {
        x.result = x.result != NULL ? x.result : "refused";
        x.err = rc;
        if (rc == -EAGAIN)
            nd_wire_send_error(&c->st, ND_E_IO,
                               "the file kept changing while it was hashed");
        else if (!c->close_after)
            reply_error(c, rc);
        goto out;
    }
    si.type = S_ISREG(st.st_mode)   ? ND_FT_FILE
              : S_ISDIR(st.st_mode) ? ND_FT_DIR
                                    : ND_FT_OTHER;
    si.size = (uint64_t)st.st_size;
    si.mtime = st.st_mtim.tv_sec;
    if (fd >= 0) {
        si.has_md5 = 1;
        x.md5 = si.md5;
        log_digest(c, req->path, how == ND_SUM_RECORD ? "record" : "hash",
                   record_state(rec), store_err);
    }
    send_frame(c, frame, nd_proto_statinfo_encode(frame, sizeof(frame), &si));
out:
    nd_io_close(&fd);
    log_xfer(c, &x);
}

static void
handle_list(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct xfer x = {"list", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
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
            nd_login_auth(ctx, c, sc);
        } else if (c->hdr.type == ND_T_PROOF && c->scram != NULL) {
            nd_login_proof(ctx, c, sc);
        } else {
            nd_log(ND_LOG_INFO, "peer=%s sent %s before logging in: closing",
                   c->peer, nd_proto_type_name(c->hdr.type));
            nd_login_refuse(c, ND_E_AUTH, "log in first");
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
        handle_put(ctx, c, sc, &req);
        break;
    case ND_T_GET:
        handle_get(c, sc, &req);
        break;
    case ND_T_STAT:
        handle_stat(c, sc, &req);
        break;
    case ND_T_MKDIR:
    case ND_T_REMOVE:
    case ND_T_RENAME:
        nd_fsreq_handle(c, &req);
        break;
    default:
        handle_list(c, sc, &req);
        break;
    }
}
