/*
 * nd_handler: HELLO, STAT and LIST, run synchronously on a worker, and the
 * dispatch of every request; the login is nd_login's, PUT and GET are
 * nd_transfer's, MKDIR, REMOVE and RENAME nd_fsreq's.  Every request ends
 * in exactly one log line.
 *
 * Before anything else a session logs in (nd_login); until it has, only
 * AUTH and PROOF reach a handler, and every path afterwards is resolved
 * in the user's own directory.
 */
#include "nd_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
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
#include "nd_reply.h"
#include "nd_sum.h"
#include "nd_transfer.h"
#include "nd_wire.h"

/* The scratch buffer holds a whole control frame or one transfer chunk. */
#define SCRATCH_CAP                                                            \
    (ND_IO_CHUNK > ND_HDR_LEN + ND_FRAME_MAX ? ND_IO_CHUNK                     \
                                             : ND_HDR_LEN + ND_FRAME_MAX)

void *
nd_handler_scratch_new(void *arg)
{
    struct nd_scratch *sc = calloc(1, sizeof(*sc));

    if (sc == NULL)
        return NULL;
    sc->queue = arg;
    sc->cap = SCRATCH_CAP;
    sc->buf = nd_io_buf_alloc(sc->cap);
    sc->hold = nd_io_buf_alloc(ND_HOLD_CAP);
    if (sc->buf == NULL || sc->hold == NULL || nd_digest_init(&sc->md5) < 0) {
        free(sc->buf);
        free(sc->hold);
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
    free(sc->hold);
    free(sc);
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
 * STAT: the type, size and mtime of a path and, for a regular file, its
 * digest: the trusted record, or else the file is hashed here (it may take
 * a while for a large file) and the result recorded.
 */
static void
handle_stat(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct nd_reqlog x = {"stat", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    struct nd_statinfo si = {0};
    struct nd_sum_work w = {&sc->md5, sc->buf, sc->cap, nd_reply_peer_gone, c};
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
            /* Hashing may take long: what is held leaves first. */
            (void)nd_stream_flush(&c->st);
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
            nd_reply_error(c, rc);
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
        nd_reply_log_digest(c, req->path,
                            how == ND_SUM_RECORD ? "record" : "hash",
                            nd_reply_record_state(rec), store_err);
    }
    nd_reply_send(c, frame,
                  nd_proto_statinfo_encode(frame, sizeof(frame), &si));
out:
    nd_io_close(&fd);
    nd_reply_log(c, &x);
}

static void
handle_list(struct nd_conn *c, struct nd_scratch *sc, const struct nd_req *req)
{
    struct nd_reqlog x = {"list", req->path, 0, nd_io_now(), NULL, NULL, 0, 0};
    struct nd_dir d;
    struct nd_wbuf w;
    struct nd_entry e;
    uint32_t n = 0;
    int rc;

    rc = nd_store_dir_open(&c->ustore, req->path, &d);
    if (rc < 0) {
        x.result = "refused";
        x.err = rc;
        nd_reply_error(c, rc);
        goto log;
    }
    nd_wbuf_init(&w, sc->buf, sc->cap, ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    while ((rc = nd_store_dir_next(&d, &e)) > 0) {
        if (nd_proto_entries_add(&w, &e) == -EMSGSIZE) {
            /* This frame is full: send it and start the next one. */
            rc = nd_reply_send(c, sc->buf, nd_proto_entries_finish(&w, n));
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
        rc = nd_reply_send(c, sc->buf, nd_proto_entries_finish(&w, n));
    if (rc == 0)
        rc = nd_reply_send(c, sc->buf,
                           nd_proto_end_encode(sc->buf, sc->cap, x.bytes));
    else if (!c->close_after)
        nd_reply_error(c, rc); /* readdir failed: ERROR ends the listing */
    if (rc < 0) {
        x.result = "list failed";
        x.err = rc;
    }
    nd_store_dir_close(&d);
log:
    nd_reply_log(c, &x);
}

void
nd_handler_conn_free(struct nd_conn *c)
{
    nd_transfer_free(c);
    if (c->scram != NULL) {
        nd_scram_server_clear(c->scram);
        free(c->scram);
        c->scram = NULL;
    }
    nd_store_close(&c->ustore);
    OPENSSL_cleanse(c->session, sizeof(c->session));
    OPENSSL_cleanse(c->stored_key, sizeof(c->stored_key));
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
        nd_reply_error(c, rc);
        c->close_after = true;
        return;
    }
    if (nd_reply_send(c, frame, nd_proto_hello_encode(frame, sizeof(frame))) ==
        0)
        c->hello_done = true;
}

void
nd_handler_run(const struct nd_handler_ctx *ctx, struct nd_conn *c,
               struct nd_scratch *sc)
{
    struct nd_req req;
    int rc;

    if (nd_transfer_active(c)) {
        nd_transfer_resume(c, sc);
        return;
    }
    if (c->rx_err != 0) {
        nd_log(ND_LOG_INFO, "peer=%s refused frame (type %u, %u bytes): %s",
               c->peer, c->hdr.type, c->hdr.len, strerror(-c->rx_err));
        nd_reply_error(c, c->rx_err);
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
        } else if (c->hdr.type == ND_T_RESUME && c->scram == NULL) {
            nd_login_resume(ctx, c, sc);
        } else {
            nd_log(ND_LOG_INFO, "peer=%s sent %s before logging in: closing",
                   c->peer, nd_proto_type_name(c->hdr.type));
            nd_login_refuse(c, ND_E_AUTH, "log in first");
        }
        return;
    }
    if (c->hdr.type == ND_T_TICKET) {
        nd_login_ticket(ctx, c, sc);
        return;
    }
    rc = nd_proto_req_decode(c->hdr.type, c->body, c->hdr.len, &req);
    if (rc == -EBADMSG) {
        nd_log(ND_LOG_INFO, "peer=%s malformed %s frame: closing", c->peer,
               nd_proto_type_name(c->hdr.type));
        nd_reply_error(c, rc);
        c->close_after = true;
        return;
    }
    if (rc < 0) {
        nd_log(ND_LOG_INFO, "peer=%s %s refused: %s", c->peer,
               nd_proto_type_name(c->hdr.type), strerror(-rc));
        nd_reply_error(c, rc);
        return;
    }
    switch (req.type) {
    case ND_T_PUT:
        nd_transfer_put(ctx, c, sc, &req);
        break;
    case ND_T_GET:
        nd_transfer_get(ctx, c, sc, &req);
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
