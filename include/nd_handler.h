/*
 * nd_handler: the protocol handlers that run on worker threads.
 *
 * The reactor assembles one whole request frame per connection and queues
 * it; a worker calls nd_handler_run(), which answers the frame and moves any
 * file bytes that belong to it with blocking, timed I/O, then returns.  The
 * handler never closes the connection: it sets close_after and the reactor,
 * which owns every connection, closes it.  It logs one line per request
 * that moved or refused a file (peer, op, path, bytes, seconds, md5,
 * result).
 */
#ifndef ND_HANDLER_H
#define ND_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_digest.h"
#include "nd_net.h"
#include "nd_proto.h"
#include "nd_store.h"

struct nd_conn {
    int fd;                 /* blocking socket with timeouts */
    char peer[ND_ADDR_LEN]; /* "ip:port", for the log */
    bool hello_done;        /* the version handshake has happened */

    /* The request being assembled by the reactor, then handled. */
    uint8_t hdr_buf[ND_HDR_LEN];
    size_t hdr_got;
    struct nd_hdr hdr;
    uint8_t *body; /* hdr.len bytes, owned by the connection */
    size_t body_got;
    int rx_err; /* nonzero: the header was refused; reply and close */

    bool close_after; /* set by the handler: end the session */

    /* Reactor bookkeeping; the handler does not touch these. */
    bool busy;       /* queued or on a worker */
    double deadline; /* monotonic time the next request must be in by */
    struct nd_conn *prev, *next; /* the idle or the busy list */
    struct nd_conn *back_next;   /* the hand-back list */
};

struct nd_handler_ctx {
    const struct nd_store *store; /* borrowed, shared read-only */
};

/* Per-worker scratch: a transfer buffer and a digest context. */
struct nd_scratch {
    uint8_t *buf;
    size_t cap;
    struct nd_digest md5;
};

/* Allocates a worker's scratch; NULL on failure.  arg is unused. */
void *nd_handler_scratch_new(void *arg);
void nd_handler_scratch_free(void *scratch);

/*
 * Answers the request frame in c (and, for PUT and GET, moves the file).
 * Runs on a worker thread that owns c until it returns; uses sc exclusively.
 * On return c->close_after says whether the session must end.
 */
void nd_handler_run(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                    struct nd_scratch *sc);

#endif
