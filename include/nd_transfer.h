/*
 * nd_transfer: the PUT and GET handlers (docs/protocol.md), called by
 * nd_handler_run() on the worker that owns c for a decoded request.  Each
 * answers the request, moves its file bytes with blocking, timed I/O, and
 * logs one line; a failure that leaves the session out of step sets
 * c->close_after.
 */
#ifndef ND_TRANSFER_H
#define ND_TRANSFER_H

#include "nd_handler.h"

void nd_transfer_put(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                     struct nd_scratch *sc, const struct nd_req *req);
void nd_transfer_get(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                     struct nd_scratch *sc, const struct nd_req *req);

#endif
