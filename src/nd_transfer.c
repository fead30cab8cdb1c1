/*
 * nd_transfer: PUT and GET, the requests that move file bytes, run
 * synchronously on a worker.
 *
 * Uploads are hashed as the bytes arrive and written to a temporary file
 * (or a resumable partial, nd_partial); only a matching trailer digest lets
 * nd_store_commit() rename it into place.  Downloads go out with
 * sendfile(2), hashed on the way only when the file has no trusted stored
 * digest, with the digest as a trailer.
 */
#include "nd_transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_io.h"
#include "nd_net.h"
#include "nd_partial.h"
#include "nd_reply.h"
#include "nd_sum.h"
#include "nd_wire.h"

/*
 * Receives the file bytes of a PUT into the upload, hashing them as they
 * arrive.  A write failure does not stop the reading: the bytes are drained
 * so that the client, which is still sending, reads the error reply.
 * Returns 0 or the socket error; *werr gets the first write error.
 */
static int
recv_body(struct nd_conn *c, struct nd_scratch *sc, struct nd_upload *up,
          uint64_t size, uint64_t *got, int *werr, int restore)
{
    while (*got < size) {
        size_t want = size - *got < sc->cap ? (size_t)(size - *got) : sc->cap;
        ssize_t n = nd_stream_read_full(&c->st, sc->buf, want);

        /* The first chunk of a resumed upload came later than usual; the
         * rest must keep to idle_timeout again. */
        if (restore > 0) {
            (void)nd_net_set_timeouts(c->st.fd, restore);
            restore = 0;
        }

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
 * file that an earlier, interrupted transfer already moved.  With c set,
 * stops early when the client is gone (a GET's client waits silently
 * meanwhile; a PUT's is sending, so a peek tells nothing there).  Returns
 * 0 or -errno (-EIO when the file is shorter than n).
 */
static int
hash_prefix(struct nd_scratch *sc, int fd, uint64_t n, struct nd_conn *c)
{
    for (uint64_t at = 0; at < n;) {
        size_t want = n - at < sc->cap ? (size_t)(n - at) : sc->cap;
        ssize_t got = nd_io_pread_full(fd, sc->buf, want, (off_t)at);
        int rc;

        if (got < 0)
            return (int)got;
        if ((size_t)got < want || nd_digest_update(&sc->md5, sc->buf, want))
            return -EIO;
        if (c != NULL && (rc = nd_reply_peer_gone(c)) < 0)
            return rc;
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

void
nd_transfer_put(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                struct nd_scratch *sc, const struct nd_req *req)
{
    uint8_t frame[64], ours[ND_MD5_LEN], theirs[ND_MD5_LEN];
    struct nd_reqlog x = {"put", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    struct nd_upload up;
    uint64_t at = 0;
    int rc, werr = 0, kept_err = 0;

    if (req->size > (uint64_t)INT64_MAX) {
        x.result = "size out of range";
        nd_reply_error(c, -EINVAL);
        goto log;
    }
    rc = open_upload(ctx, c, req, &up);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        nd_reply_error(c, rc);
        goto log;
    }
    if (nd_reply_send(c, frame,
                      nd_proto_ready_encode(frame, sizeof(frame), up.offset)) <
            0 ||
        nd_digest_reset(&sc->md5) < 0) {
        x.result = "cannot send READY";
        c->close_after = true; /* the client may be sending file bytes */
        goto suspend;
    }
    /* The digest covers the whole file: the bytes kept from the last
     * attempt are hashed again while the client hashes its own copy, and
     * the client's first bytes may come that much later. */
    at = x.from = up.offset;
    werr = kept_err = hash_prefix(sc, up.fd, up.offset, NULL);
    if (up.offset > 0)
        (void)nd_net_set_timeouts(c->st.fd, ctx->cfg->idle_timeout +
                                                nd_proto_hash_slack(up.offset));
    rc = recv_body(c, sc, &up, req->size, &at, &werr,
                   up.offset > 0 ? ctx->cfg->idle_timeout : 0);
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
            nd_reply_error(c, rc);
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
        x.result =
            kept_err != 0 ? "cannot read the kept bytes" : "write failed";
        x.err = werr;
        nd_reply_error(c, werr);
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
        nd_reply_error(c, rc);
        goto log;
    }
    nd_reply_log_digest(c, req->path, "upload", "none", up.sum_err);
    nd_reply_send(c, frame,
                  nd_proto_putok_encode(frame, sizeof(frame), req->size, ours));
    goto log;
suspend:
    nd_store_suspend(&up);
    goto log;
abort:
    nd_store_abort(&up);
log:
    nd_reply_log(c, &x);
}

/*
 * Sends the bytes of fd from *at up to end.  With hash set, each chunk is
 * read and hashed before sendfile moves it.  Without, a chunk is read only
 * when the stream encrypts in user space; zero-copy sends never bring the
 * bytes up.
 */
static int
send_body(struct nd_conn *c, struct nd_scratch *sc, int fd, uint64_t *at,
          uint64_t end, bool hash, int restore)
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
        /* A resumed download's client hashes its part before it reads:
         * the first chunk may wait that long, the rest keep to
         * idle_timeout again. */
        if (restore > 0) {
            (void)nd_net_set_timeouts(c->st.fd, restore);
            restore = 0;
        }
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

void
nd_transfer_get(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                struct nd_scratch *sc, const struct nd_req *req)
{
    struct nd_reqlog x = {"get", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
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
        nd_reply_error(c, rc);
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
    rc = nd_reply_send(c, frame,
                       nd_proto_file_encode(frame, sizeof(frame), &fi));
    /* The trailer is the whole file's digest, so a resumed GET without a
     * record hashes the part the client already has before sending. */
    if (rc == 0 && rec < 0)
        rc = nd_digest_reset(&sc->md5);
    if (rc == 0 && rec < 0)
        rc = hash_prefix(sc, fd, fi.offset, c);
    if (rc == 0 && fi.offset > 0)
        (void)nd_net_set_timeouts(c->st.fd, ctx->cfg->idle_timeout +
                                                nd_proto_hash_slack(fi.offset));
    if (rc == 0)
        rc = send_body(c, sc, fd, &at, fi.size,
                       rec<0, fi.offset> 0 ? ctx->cfg->idle_timeout : 0);
    x.bytes = at - fi.offset;
    if (rc == 0 && rec < 0)
        rc = nd_digest_final(&sc->md5, md5);
    /* The record is stored before the trailer goes out, so that a request
     * the client sends once it has the file already finds it. */
    if (rc == 0 && rec == 0)
        nd_reply_log_digest(c, req->path, "record", "trusted", 0);
    else if (rc == 0)
        nd_reply_log_digest(c, req->path, "hash", nd_reply_record_state(rec),
                            rec == -EOPNOTSUPP
                                ? rec
                                : nd_sum_set_checked(fd, &st, &since, md5));
    if (rc == 0)
        rc = nd_reply_send(c, frame,
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
    nd_reply_log(c, &x);
}
