/*
 * nd_reply: the replies and log lines the request handlers (nd_handler,
 * nd_transfer) share.  Everything here runs on the worker that owns the
 * connection; the log functions are thread-safe like nd_log.
 */
#ifndef ND_REPLY_H
#define ND_REPLY_H

#include <stdint.h>

#include "nd_handler.h"

/* What one request did, for its log line. */
struct nd_reqlog {
    const char *op;
    const char *path;
    uint64_t bytes;
    double t0;
    const uint8_t *md5; /* NULL when no digest was agreed */
    const char *result; /* NULL: "ok" */
    int err;            /* -errno behind result, or 0 */
    uint64_t from;      /* a resumed transfer's first byte, else 0 */
};

/* Logs the request's one line: peer, op, path, from, bytes, seconds, md5
 * and result, at info level when it succeeded and warn when not. */
void nd_reply_log(const struct nd_conn *c, const struct nd_reqlog *x);

/* What nd_sum_get() returned, as a word for the debug log ("trusted",
 * "none", "stale", ...); never NULL. */
const char *nd_reply_record_state(int rc);

/*
 * Logs, at debug level, where a digest came from (from: upload, record or
 * hash; had: the record found before hashing) and whether a record was
 * stored (store_err 0) or why not.  A record that cannot be stored costs
 * only a hash on a later read, so this is never a warning.
 */
void nd_reply_log_digest(const struct nd_conn *c, const char *path,
                         const char *from, const char *had, int store_err);

/* Replies with the status for the -errno rc; a failed send sets
 * c->close_after. */
void nd_reply_error(struct nd_conn *c, int rc);

/* Sends an encoded frame (len < 0: the encoder's error); a failure sets
 * c->close_after.  Returns 0 or -errno. */
int nd_reply_send(struct nd_conn *c, const void *frame, long len);

/*
 * A nd_sum_work-style check for a long hash: returns -ECONNRESET when the
 * client of the connection arg (a struct nd_conn) is gone, or the reactor
 * shut the socket down to stop the daemon (a peek sees EOF), another
 * -errno on a socket error, else 0.  Bytes the client pipelined are left
 * for the reactor.
 */
int nd_reply_peer_gone(void *arg);

#endif
