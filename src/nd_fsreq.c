/*
 * nd_fsreq: MKDIR, REMOVE and RENAME on a worker.  The operations
 * themselves are nd_fileops'; this file turns their result into the reply
 * and the log line, and chooses the messages a person reads: "directory not
 * empty" rather than the bare status text of EXIST.
 */
#include "nd_fsreq.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nd_fileops.h"
#include "nd_io.h"
#include "nd_log.h"
#include "nd_wire.h"

/* What one request did, for its log line. */
struct fsop {
    const char *op;
    const struct nd_req *req;
    uint64_t count; /* directories made or names removed */
    double t0;
    int rc; /* 0 or -errno */
};

static void
log_fsop(const struct nd_conn *c, const struct fsop *f)
{
    char path[2 * ND_PATH_MAX + 1], to[2 * ND_PATH_MAX + 8] = "";
    char why[160] = "ok";

    if (f->req->type == ND_T_RENAME) {
        char q[2 * ND_PATH_MAX + 1];

        snprintf(to, sizeof(to), " to=\"%s\"",
                 nd_log_quote(f->req->path2, q, sizeof(q)));
    }
    if (f->rc == -ND_ETOODEEP)
        snprintf(why, sizeof(why), "\"tree too deep\"");
    else if (f->rc < 0)
        snprintf(why, sizeof(why), "\"refused: %s\"", strerror(-f->rc));
    nd_log(f->rc == 0 ? ND_LOG_INFO : ND_LOG_WARN,
           "transfer peer=%s op=%s path=\"%s\"%s flags=%" PRIu32
           " bytes=%" PRIu64 " seconds=%.3f md5=- result=%s",
           c->peer, f->op, nd_log_quote(f->req->path, path, sizeof(path)), to,
           f->req->flags, f->count, nd_io_now() - f->t0, why);
}

/* The ERROR a failed operation gets: its status and a message. */
static enum nd_status
error_for(const struct nd_req *req, int rc, const char **msg)
{
    enum nd_status st = nd_proto_status_from_errno(rc);

    *msg = nd_proto_status_str(st);
    if (rc == -ENOTEMPTY) {
        *msg = "directory not empty";
    } else if (rc == -ND_ETOODEEP) {
        st = ND_E_NAMETOOLONG;
        *msg = "directory tree too deep: remove its lower levels first";
    } else if (req->type == ND_T_RENAME && rc == -EEXIST) {
        *msg = "target already exists";
    } else if (req->type == ND_T_RENAME && rc == -EINVAL &&
               nd_store_check_path(req->path, false) == 0 &&
               nd_store_check_path(req->path2, false) == 0) {
        /* Both paths are valid, so the kernel refused the move itself. */
        *msg = "cannot move a directory into itself";
    }
    return st;
}

void
nd_fsreq_handle(struct nd_conn *c, const struct nd_req *req)
{
    struct fsop f = {NULL, req, 0, nd_io_now(), 0};
    uint8_t frame[ND_HDR_LEN];
    int rc;

    switch (req->type) {
    case ND_T_MKDIR:
        f.op = "mkdir";
        f.rc = nd_fileops_mkdir(&c->ustore, req->path,
                                (req->flags & ND_MKDIR_PARENTS) != 0, &f.count);
        break;
    case ND_T_REMOVE:
        f.op = "remove";
        f.rc = nd_fileops_remove(&c->ustore, req->path,
                                 (req->flags & ND_REMOVE_RECURSIVE) != 0,
                                 &f.count);
        break;
    default:
        f.op = "rename";
        f.rc = nd_fileops_rename(&c->ustore, req->path, req->path2);
        break;
    }
    if (f.rc == 0) {
        rc = nd_wire_send(&c->st, frame,
                          nd_proto_empty_encode(frame, sizeof(frame), ND_T_OK));
    } else {
        const char *msg;
        enum nd_status st = error_for(req, f.rc, &msg);

        rc = nd_wire_send_error(&c->st, st, msg);
    }
    if (rc < 0)
        c->close_after = true;
    log_fsop(c, &f);
}
