/*
 * nd_transfer: the PUT and GET handlers (docs/protocol.md), called by
 * nd_handler_run() on the worker that owns c for a decoded request.  Each
 * answers the request and moves its file bytes while the socket is ready;
 * when it is not, the transfer parks (c->park_want) and a later worker
 * goes on with it through nd_transfer_resume().  Each transfer logs one
 * line when it ends; a failure that leaves the session out of step sets
 * c->close_after.  The state lives in c->xfer, which only the thread that
 * owns c touches.
 */
#ifndef ND_TRANSFER_H
#define ND_TRANSFER_H

#include <stdbool.h>

#include "nd_handler.h"

void nd_transfer_put(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                     struct nd_scratch *sc, const struct nd_req *req);
void nd_transfer_get(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                     struct nd_scratch *sc, const struct nd_req *req);

/* True when c has a transfer under way, parked or not. */
bool nd_transfer_active(const struct nd_conn *c);

/*
 * Goes on with c's parked transfer (nd_transfer_active() must be true):
 * its socket became ready, or, with c->park_expired set, the wait ran out
 * and the transfer is ended as stalled.  Same contract as the handlers.
 */
void nd_transfer_resume(struct nd_conn *c, struct nd_scratch *sc);

/*
 * Frees c's transfer state.  A transfer still under way is ended first
 * without a word to the client (an upload keeps what a resume can use,
 * else nothing; the log says "connection lost").  Called when c is
 * closed, on the thread that owns c.
 */
void nd_transfer_free(struct nd_conn *c);

#endif
