/*
 * nd_transfer: PUT and GET, the requests that move file bytes, run on a
 * worker while the bytes move.
 *
 * Uploads are hashed as the bytes arrive and written to a temporary file
 * (or a resumable partial, nd_partial); only a matching trailer digest lets
 * nd_store_commit() rename it into place.  Downloads go out with
 * sendfile(2), hashed on the way only when the file has no trusted stored
 * digest, with the digest as a trailer.
 *
 * The body and the trailer move over the socket made non-blocking.  When
 * it is not ready, the worker waits for it briefly (WAIT_MS) only if the
 * transfer has been moving (WAIT_CREDIT bytes since its last wait) and no
 * other work waits for a worker; else it parks the transfer: the state stays in
 * c->xfer, the worker returns, and the reactor queues the connection again once
 * the socket is ready, or marks the wait expired after idle_timeout and queues
 * it so that a worker ends the transfer.  So a stalled or dripping client holds
 * no worker, while a fast one keeps its worker through the short waits of a
 * full socket buffer.  The small replies (READY, FILE, ERROR, OK) are still
 * sent blocking, with the socket's idle_timeout.
 */
#include "nd_transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_io.h"
#include "nd_partial.h"
#include "nd_reply.h"
#include "nd_sum.h"
#include "nd_tls.h"
#include "nd_wire.h"

/* How long a worker waits for a moving transfer's socket before parking
 * it, and how many bytes the transfer must have moved since its last wait
 * to be waited for at all (a drip of a few bytes parks at once).  A fast
 * peer frees its socket's buffer well within the wait; a client that
 * sends 64 KiB and stalls costs a worker no more than the wait. */
#define WAIT_MS 10
#define WAIT_CREDIT (64u * 1024u)
/* A trailer's body: the algorithm and the MD5.  Longer is refused. */
#define TRAILER_MAX (1 + ND_MD5_LEN)

enum stage {
    XS_IDLE,        /* no transfer under way */
    XS_PUT_BODY,    /* receiving file bytes */
    XS_PUT_TRAILER, /* receiving the DIGEST frame */
    XS_GET_BODY,    /* sending file bytes */
    XS_GET_TRAILER, /* sending the DIGEST frame */
};

struct nd_transfer {
    enum stage stage;
    struct nd_digest md5; /* the running digest of the whole file */
    char path[ND_PATH_MAX + 1];
    struct nd_reqlog x;      /* x.path points at path */
    uint64_t at;             /* the next body byte's offset */
    uint64_t end;            /* the file's size */
    uint64_t moved;          /* body bytes since the last wait */
    double slack_until;      /* no wait expires before this (monotonic) */
    bool parked_once;        /* the transfer has waited for its socket */
    uint8_t sum[ND_MD5_LEN]; /* PUT: the client's digest; GET: the file's */

    /* PUT */
    struct nd_upload up;
    int werr;     /* the first write error: the rest is drained */
    int kept_err; /* the kept bytes of a resumed upload were unreadable */
    uint8_t trailer[ND_HDR_LEN + TRAILER_MAX];
    size_t tr_got;
    struct nd_hdr tr_hdr;

    /* GET */
    int fd;
    struct stat st;
    struct timespec since; /* when the file was opened, for nd_sum */
    int rec;               /* nd_sum_get()'s answer: 0 when sum is trusted */
    uint64_t hashed;       /* bytes hashed so far, when hashing */
    size_t pend;           /* a TLS write to offer again with this length */
    uint8_t out[ND_HDR_LEN + TRAILER_MAX];
    size_t out_len, out_done;
};

/* c's transfer state, made on first use.  NULL when out of memory. */
static struct nd_transfer *
xfer_get(struct nd_conn *c)
{
    struct nd_transfer *xs = c->xfer;

    if (xs != NULL)
        return xs;
    xs = calloc(1, sizeof(*xs));
    if (xs == NULL)
        return NULL;
    if (nd_digest_init(&xs->md5) < 0) {
        free(xs);
        return NULL;
    }
    xs->fd = -1;
    c->xfer = xs;
    return xs;
}

/* Starts the log record and resets the per-transfer fields. */
static void
xfer_begin(struct nd_transfer *xs, const char *op, const char *path)
{
    snprintf(xs->path, sizeof(xs->path), "%s", path);
    xs->x = (struct nd_reqlog){op, xs->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    xs->at = xs->end = xs->moved = xs->hashed = 0;
    xs->slack_until = 0;
    xs->parked_once = false;
    xs->werr = xs->kept_err = 0;
    xs->tr_got = 0;
    xs->rec = -ENODATA;
    xs->pend = 0;
    xs->out_len = xs->out_done = 0;
}

/*
 * Hashes the first n bytes of fd into d: the part of a file that an
 * earlier, interrupted transfer already moved.  With c set, stops early
 * when the client is gone (a GET's client waits silently meanwhile; a
 * PUT's is sending, so a peek tells nothing there).  Returns 0 or -errno
 * (-EIO when the file is shorter than n).
 */
static int
hash_prefix(struct nd_digest *d, struct nd_scratch *sc, int fd, uint64_t n,
            struct nd_conn *c)
{
    for (uint64_t at = 0; at < n;) {
        size_t want = n - at < sc->cap ? (size_t)(n - at) : sc->cap;
        ssize_t got = nd_io_pread_full(fd, sc->buf, want, (off_t)at);
        int rc;

        if (got < 0)
            return (int)got;
        if ((size_t)got < want || nd_digest_update(d, sc->buf, want))
            return -EIO;
        if (c != NULL && (rc = nd_reply_peer_gone(c)) < 0)
            return rc;
        at += want;
    }
    return 0;
}

/* Why a read of file bytes or the trailer stopped: the peer ended the
 * stream early (-ECONNRESET), the socket is empty (0: wait), or -errno. */
static int
read_stop(ssize_t n)
{
    return n == 0 ? -ECONNRESET : n == -EAGAIN ? 0 : (int)n;
}

/*
 * Receives file bytes into the upload, hashing them as they arrive, a
 * scratch buffer at a time.  A write failure does not stop the reading:
 * the bytes are drained so that the client, which is still sending, reads
 * the error reply.  Returns 1 when the body is complete, 0 when the socket
 * has nothing (*want set), or -errno (-ECONNRESET: the peer ended early;
 * what came before is written, so that a resumable upload keeps it).
 */
static int
put_body(struct nd_conn *c, struct nd_scratch *sc, struct nd_transfer *xs,
         int *want)
{
    while (xs->at < xs->end) {
        size_t fill = 0;
        ssize_t n = 1;

        while (xs->at + fill < xs->end && fill < sc->cap) {
            uint64_t left = xs->end - xs->at - fill;
            size_t room = sc->cap - fill < left ? sc->cap - fill : (size_t)left;

            n = nd_stream_read_some(&c->st, sc->buf + fill, room, want);
            if (n <= 0)
                break;
            fill += (size_t)n;
        }
        if (fill > 0) {
            if (nd_digest_update(&xs->md5, sc->buf, fill) < 0)
                return -EIO;
            if (xs->werr == 0)
                xs->werr = nd_store_write(&xs->up, sc->buf, fill);
            xs->at += fill;
            xs->moved += fill;
        }
        if (n <= 0)
            return read_stop(n);
    }
    return 1;
}

/*
 * Reads the DIGEST trailer, exactly its bytes (a pipelined request behind
 * it stays for the reactor).  Returns 1 with xs->sum set, 0 when the
 * socket has nothing (*want set), or -errno: -EMSGSIZE, -EPROTONOSUPPORT or
 * -EBADMSG for a trailer we refuse, -ECONNRESET when the peer left.
 */
static int
put_trailer(struct nd_conn *c, struct nd_transfer *xs, int *want)
{
    for (;;) {
        size_t need = ND_HDR_LEN;
        ssize_t n;

        /* tr_hdr is decoded as soon as the header is in. */
        if (xs->tr_got >= ND_HDR_LEN)
            need += xs->tr_hdr.len;
        if (xs->tr_got == need) {
            int rc = nd_proto_digest_decode(xs->trailer + ND_HDR_LEN,
                                            xs->tr_hdr.len, xs->sum);
            return rc < 0 ? rc : 1;
        }
        n = nd_stream_read_some(&c->st, xs->trailer + xs->tr_got,
                                need - xs->tr_got, want);
        if (n <= 0)
            return read_stop(n);
        xs->tr_got += (size_t)n;
        if (xs->tr_got == ND_HDR_LEN) {
            int rc = nd_proto_hdr_decode(xs->trailer, &xs->tr_hdr);

            /* Refused from the header alone, in the order
             * docs/protocol.md gives: version, frame type, length (the
             * decoder fills tr_hdr whatever it returns). */
            if (rc == -EPROTONOSUPPORT)
                return rc;
            if (xs->tr_hdr.type != ND_T_DIGEST)
                return -EBADMSG;
            if (xs->tr_hdr.len > TRAILER_MAX)
                return -EMSGSIZE;
            if (rc < 0)
                return rc;
        }
    }
}

/*
 * Sends the file's bytes from xs->at.  With hashing (no trusted record),
 * and for a stream that encrypts in user space, each chunk is read into
 * the scratch buffer first; a zero-copy send of a trusted file never
 * brings the bytes up.  Returns 1 when all are sent, 0 when the socket is
 * full (*want set), or -errno (-EIO when the file shrank under us).
 */
static int
get_body(struct nd_conn *c, struct nd_scratch *sc, struct nd_transfer *xs,
         int *want)
{
    bool hash = xs->rec != 0;
    bool copy = hash || !nd_stream_zero_copy(&c->st);
    uint64_t buf_at = 0;
    size_t buf_len = 0; /* sc->buf holds [buf_at, buf_at + buf_len) */

    while (xs->at < xs->end) {
        const uint8_t *p = NULL;
        size_t len;
        ssize_t n;

        if (copy && xs->at >= buf_at + buf_len) {
            uint64_t left = xs->end - xs->at;

            /* A TLS write that found the socket full is offered again
             * with the same length (OpenSSL's rule). */
            len = xs->pend > 0 ? xs->pend
                               : (left < sc->cap ? (size_t)left : sc->cap);
            n = nd_io_pread_full(xs->fd, sc->buf, len, (off_t)xs->at);
            if (n < 0)
                return (int)n;
            buf_at = xs->at;
            buf_len = len;
            if (hash && xs->hashed < buf_at + buf_len) {
                size_t from = (size_t)(xs->hashed - buf_at);

                if (nd_digest_update(&xs->md5, sc->buf + from, buf_len - from) <
                    0)
                    return -EIO;
                xs->hashed = buf_at + buf_len;
            }
        }
        if (copy) {
            p = sc->buf + (xs->at - buf_at);
            len = (size_t)(buf_at + buf_len - xs->at);
        } else {
            uint64_t left = xs->end - xs->at;

            len = left < sc->cap ? (size_t)left : sc->cap;
        }
        n = nd_stream_send_file_some(&c->st, xs->fd, (off_t)xs->at, p, len,
                                     want);
        if (n == -EAGAIN) {
            xs->pend = c->st.ssl != NULL && copy ? len : 0;
            return 0;
        }
        if (n < 0)
            return (int)n;
        xs->pend = 0;
        xs->at += (uint64_t)n;
        xs->moved += (uint64_t)n;
    }
    return 1;
}

/*
 * The body is out: settles the digest (recording it when it was hashed
 * here; the record is stored before the trailer goes out, so that a
 * request the client sends once it has the file already finds it) and
 * encodes the trailer.  Returns 0 or -errno.
 */
static int
get_body_done(struct nd_conn *c, struct nd_transfer *xs)
{
    long len;

    if (xs->rec == 0) {
        nd_reply_log_digest(c, xs->path, "record", "trusted", 0);
    } else {
        if (nd_digest_final(&xs->md5, xs->sum) < 0)
            return -EIO;
        nd_reply_log_digest(
            c, xs->path, "hash", nd_reply_record_state(xs->rec),
            xs->rec == -EOPNOTSUPP
                ? xs->rec
                : nd_sum_set_checked(xs->fd, &xs->st, &xs->since, xs->sum));
    }
    len = nd_proto_digest_encode(xs->out, sizeof(xs->out), xs->sum);
    if (len < 0)
        return (int)len;
    xs->out_len = (size_t)len;
    xs->out_done = 0;
    return 0;
}

/* Sends the encoded trailer.  Returns as get_body() does. */
static int
get_trailer(struct nd_conn *c, struct nd_transfer *xs, int *want)
{
    while (xs->out_done < xs->out_len) {
        ssize_t n = nd_stream_write_some(&c->st, xs->out + xs->out_done,
                                         xs->out_len - xs->out_done, want);

        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
        xs->out_done += (size_t)n;
    }
    return 1;
}

/* Moves the transfer through its stages.  Returns 1 when it is complete,
 * 0 when it must wait (*want set), or -errno. */
static int
step(struct nd_conn *c, struct nd_scratch *sc, struct nd_transfer *xs,
     int *want)
{
    int rc;

    switch (xs->stage) {
    case XS_PUT_BODY:
        if ((rc = put_body(c, sc, xs, want)) != 1)
            return rc;
        xs->stage = XS_PUT_TRAILER;
        /* fall through */
    case XS_PUT_TRAILER:
        return put_trailer(c, xs, want);
    case XS_GET_BODY:
        if ((rc = get_body(c, sc, xs, want)) != 1)
            return rc;
        if ((rc = get_body_done(c, xs)) < 0)
            return rc;
        xs->stage = XS_GET_TRAILER;
        /* fall through */
    case XS_GET_TRAILER:
        return get_trailer(c, xs, want);
    default:
        return -EINVAL;
    }
}

/*
 * Ends an upload whose body and trailer were read (rc 0) or that failed
 * (rc < 0; the connection is then out of step and ends): commits a file
 * whose digest matches, else aborts it or keeps what arrived for a resume,
 * answers the client when it can still read us, and logs.
 */
static void
put_finish(struct nd_conn *c, struct nd_transfer *xs, int rc)
{
    struct nd_upload *up = &xs->up;
    struct nd_reqlog *x = &xs->x;
    uint8_t frame[64], ours[ND_MD5_LEN];

    x->bytes = xs->at - up->offset;
    if (rc < 0) {
        /* The session is out of step with the protocol: end it, saying why
         * when the peer sent a frame we refuse rather than vanishing. */
        bool refused =
            rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT;
        bool keep = up->keep && xs->werr == 0 && xs->at > 0;

        if (refused)
            x->result = "bad trailer";
        else if (rc == -ETIMEDOUT)
            x->result = keep ? "stalled past idle_timeout; partial kept for "
                               "resume"
                             : "stalled past idle_timeout";
        else
            x->result = keep ? "connection lost; partial kept for resume"
                             : "connection lost";
        x->err = rc;
        c->close_after = true;
        if (refused)
            nd_reply_error(c, rc);
        if (keep && !refused)
            nd_store_suspend(up);
        else
            nd_store_abort(up);
        goto log;
    }
    if (nd_digest_final(&xs->md5, ours) < 0 && xs->werr == 0)
        xs->werr = -EIO;
    if (xs->werr != 0) {
        x->result =
            xs->kept_err != 0 ? "cannot read the kept bytes" : "write failed";
        x->err = xs->werr;
        nd_reply_error(c, xs->werr);
        nd_store_abort(up);
        goto log;
    }
    x->md5 = ours;
    up->md5 = ours; /* nd_store_commit() records it beside the bytes */
    if (memcmp(ours, xs->sum, ND_MD5_LEN) != 0) {
        x->result = "digest mismatch";
        nd_wire_send_error(&c->st, ND_E_DIGEST,
                           "digest mismatch: nothing stored");
        nd_store_abort(up);
        goto log;
    }
    rc = nd_store_commit(up);
    if (rc < 0) {
        x->result = "commit failed";
        x->err = rc;
        nd_reply_error(c, rc);
        goto log;
    }
    nd_reply_log_digest(c, xs->path, "upload", "none", up->sum_err);
    nd_reply_send(c, frame,
                  nd_proto_putok_encode(frame, sizeof(frame), xs->end, ours));
log:
    nd_reply_log(c, x);
}

/* Ends a download: complete (rc 0), or failed, which leaves the client
 * promised bytes it will not get, so the session ends. */
static void
get_finish(struct nd_conn *c, struct nd_transfer *xs, int rc)
{
    struct nd_reqlog *x = &xs->x;

    x->bytes = xs->at - x->from;
    if (rc < 0) {
        x->result = rc == -ETIMEDOUT      ? "stalled past idle_timeout"
                    : rc == -ECONNABORTED ? "connection lost"
                                          : "send failed";
        x->err = rc;
        c->close_after = true;
    } else {
        x->md5 = xs->sum;
    }
    nd_io_close(&xs->fd);
    nd_reply_log(c, x);
}

static void
finish(struct nd_conn *c, struct nd_transfer *xs, int rc)
{
    if (xs->stage == XS_PUT_BODY || xs->stage == XS_PUT_TRAILER)
        put_finish(c, xs, rc);
    else
        get_finish(c, xs, rc);
    xs->stage = XS_IDLE;
}

/*
 * A download whose bytes fit in what the stream holds, behind its FILE
 * header, with room for the trailer: read into the hold buffer (hashed
 * there when the file has no trusted record) and finished without
 * waiting, so that header, bytes and trailer leave in one send.  For small
 * files one copy costs less than the calls of the zero-copy path around
 * it.  Returns false, having done nothing, when the file does not fit.
 */
static bool
get_held(struct nd_conn *c, struct nd_transfer *xs)
{
    uint64_t len = xs->end - xs->at;
    size_t room;
    uint8_t *p = nd_stream_hold_room(&c->st, &room);
    ssize_t n;
    int rc;

    if (p == NULL || room < sizeof(xs->out) || len > room - sizeof(xs->out))
        return false;
    n = nd_io_pread_full(xs->fd, p, (size_t)len, (off_t)xs->at);
    rc = n < 0 ? (int)n : 0;
    if (rc == 0 && xs->rec != 0 && nd_digest_update(&xs->md5, p, len) < 0)
        rc = -EIO;
    if (rc == 0) {
        nd_stream_hold_commit(&c->st, (size_t)len);
        xs->at = xs->end;
        xs->hashed = xs->end;
        rc = get_body_done(c, xs);
    }
    if (rc == 0)
        rc = nd_reply_send(c, xs->out, (long)xs->out_len);
    finish(c, xs, rc);
    return true;
}

/* Whether other work waits for a worker: then a transfer whose socket is
 * not ready parks at once rather than hold its worker for WAIT_MS, so that
 * many slow readers cannot keep the workers from the ready ones. */
static bool
others_wait(const struct nd_scratch *sc)
{
    return sc->queue != NULL && nd_queue_len(sc->queue) > 0;
}

/*
 * Runs the transfer until it is done, fails or must park.  The socket is
 * non-blocking only in here: the replies around a transfer are blocking.
 */
static void
pump(struct nd_conn *c, struct nd_scratch *sc, struct nd_transfer *xs)
{
    uint64_t at0;
    int want = 0, rc;

    c->park_want = 0;
    if (c->park_expired) {
        c->park_expired = false;
        finish(c, xs, -ETIMEDOUT);
        return;
    }
    at0 = xs->at;
    /* The replies held so far (this transfer's header among them) go out
     * first, blocking like any reply: the non-blocking calls below would
     * otherwise send them a piece at a time. */
    rc = nd_stream_flush(&c->st);
    if (rc < 0) {
        finish(c, xs, rc);
        return;
    }
    rc = nd_io_set_nonblock(c->st.fd, true);
    while (rc == 0) {
        rc = step(c, sc, xs, &want);
        if (rc != 0)
            break;
        if (xs->moved >= WAIT_CREDIT && !others_wait(sc)) {
            xs->moved = 0;
            rc = nd_stream_wait(&c->st, want, WAIT_MS);
            if (rc > 0) {
                rc = 0;
                continue;
            }
            if (rc < 0)
                break;
        }
        /* A resumed transfer's allowance lasts until its peer shows it is
         * done hashing: bytes moved after a wait (a GET's first bytes
         * only fill the socket buffers, a PUT's come after the hash). */
        if (xs->at != at0 && (xs->parked_once || xs->stage == XS_PUT_BODY ||
                              xs->stage == XS_PUT_TRAILER))
            xs->slack_until = 0;
        xs->parked_once = true;
        xs->moved = 0;
        c->park_want = want;
        c->park_until = xs->slack_until;
        (void)nd_io_set_nonblock(c->st.fd, false);
        return;
    }
    (void)nd_io_set_nonblock(c->st.fd, false);
    finish(c, xs, rc < 0 ? rc : 0);
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

/*
 * When the waits of a transfer resumed at offset may expire at the
 * earliest: its peer first hashes the offset bytes it kept (the digest
 * covers the whole file), so the first bytes, or the first room, may come
 * nd_proto_hash_slack() seconds later than idle_timeout alone allows.
 */
static double
slack_until(const struct nd_handler_ctx *ctx, uint64_t offset)
{
    return nd_io_now() + ctx->cfg->idle_timeout + nd_proto_hash_slack(offset);
}

/* Refuses a transfer before it started: the ERROR for rc, and the log
 * line. */
static void
refuse(struct nd_conn *c, struct nd_transfer *xs, const char *why, int rc)
{
    xs->x.result = why;
    xs->x.err = rc;
    nd_reply_error(c, rc);
    nd_reply_log(c, &xs->x);
}

/* Refuses a request for want of memory for its state. */
static void
refuse_nomem(struct nd_conn *c, const char *op, const struct nd_req *req)
{
    struct nd_reqlog x = {op,   req->path,       0,       nd_io_now(),
                          NULL, "out of memory", -ENOMEM, 0};

    nd_reply_error(c, -ENOMEM);
    nd_reply_log(c, &x);
}

void
nd_transfer_put(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                struct nd_scratch *sc, const struct nd_req *req)
{
    struct nd_transfer *xs = xfer_get(c);
    uint8_t frame[64];
    int rc;

    if (xs == NULL) {
        refuse_nomem(c, "put", req);
        return;
    }
    xfer_begin(xs, "put", req->path);
    if (req->size > (uint64_t)INT64_MAX) {
        refuse(c, xs, "size out of range", -EINVAL);
        return;
    }
    rc = open_upload(ctx, c, req, &xs->up);
    if (rc < 0) {
        refuse(c, xs, "refused", rc);
        return;
    }
    /* READY leaves before the kept part is hashed (held replies would
     * otherwise wait for that hash, and the client's own hash with them). */
    if (nd_reply_send(
            c, frame,
            nd_proto_ready_encode(frame, sizeof(frame), xs->up.offset)) < 0 ||
        (xs->up.offset > 0 && nd_stream_flush(&c->st) < 0) ||
        nd_digest_reset(&xs->md5) < 0) {
        xs->x.result = "cannot send READY";
        c->close_after = true; /* the client may be sending file bytes */
        nd_store_suspend(&xs->up);
        nd_reply_log(c, &xs->x);
        return;
    }
    /* The digest covers the whole file: the bytes kept from the last
     * attempt are hashed again while the client hashes its own copy, and
     * the client's first bytes may come that much later. */
    xs->at = xs->x.from = xs->up.offset;
    xs->end = req->size;
    xs->werr = xs->kept_err =
        hash_prefix(&xs->md5, sc, xs->up.fd, xs->up.offset, NULL);
    if (xs->up.offset > 0)
        xs->slack_until = slack_until(ctx, xs->up.offset);
    xs->stage = XS_PUT_BODY;
    pump(c, sc, xs);
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
    struct nd_transfer *xs = xfer_get(c);
    struct nd_fileinfo fi = {0};
    uint8_t frame[64];
    int rc;

    if (xs == NULL) {
        refuse_nomem(c, "get", req);
        return;
    }
    xfer_begin(xs, "get", req->path);
    rc = nd_store_open_read(&c->ustore, req->path, &xs->fd, &xs->st);
    if (rc < 0) {
        refuse(c, xs, "refused", rc);
        return;
    }
    /* A trusted record spares the hash: the bytes go out untouched and the
     * record is the trailer.  Without one, the bytes are hashed as they go
     * and the digest is recorded afterwards, if the file held still. */
    xs->rec = nd_sum_get(xs->fd, &xs->st, xs->sum);
    nd_sum_clock(&xs->since);
    fi.size = (uint64_t)xs->st.st_size;
    fi.mtime_sec = xs->st.st_mtim.tv_sec;
    fi.mtime_nsec = (uint32_t)xs->st.st_mtim.tv_nsec;
    fi.has_md5 = xs->rec == 0;
    if (xs->rec == 0)
        memcpy(fi.md5, xs->sum, ND_MD5_LEN);
    if ((req->flags & ND_GET_RANGE) != 0 &&
        range_holds(&req->rg, &xs->st, xs->rec, xs->sum))
        fi.offset = req->rg.offset;
    xs->at = xs->x.from = xs->hashed = fi.offset;
    xs->end = fi.size;
    xs->stage = XS_GET_BODY;
    rc = nd_reply_send(c, frame,
                       nd_proto_file_encode(frame, sizeof(frame), &fi));
    /* The trailer is the whole file's digest, so a resumed GET without a
     * record hashes the part the client already has before sending; FILE
     * leaves first, so that the client hashes its part meanwhile. */
    if (rc == 0 && xs->rec != 0 && fi.offset > 0)
        rc = nd_stream_flush(&c->st);
    if (rc == 0 && xs->rec != 0)
        rc = nd_digest_reset(&xs->md5);
    if (rc == 0 && xs->rec != 0)
        rc = hash_prefix(&xs->md5, sc, xs->fd, fi.offset, c);
    if (rc < 0) {
        finish(c, xs, rc);
        return;
    }
    if (get_held(c, xs))
        return;
    /* A resumed download's client hashes its part before it reads, while
     * the socket buffers take the first megabytes. */
    if (fi.offset > 0)
        xs->slack_until = slack_until(ctx, fi.offset);
    pump(c, sc, xs);
}

bool
nd_transfer_active(const struct nd_conn *c)
{
    return c->xfer != NULL && c->xfer->stage != XS_IDLE;
}

void
nd_transfer_resume(struct nd_conn *c, struct nd_scratch *sc)
{
    pump(c, sc, c->xfer);
}

void
nd_transfer_free(struct nd_conn *c)
{
    struct nd_transfer *xs = c->xfer;

    if (xs == NULL)
        return;
    if (xs->stage != XS_IDLE)
        finish(c, xs, -ECONNABORTED);
    nd_digest_free(&xs->md5);
    free(xs);
    c->xfer = NULL;
}
