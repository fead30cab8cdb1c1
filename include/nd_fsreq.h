/*
 * nd_fsreq: the MKDIR, REMOVE and RENAME handlers.  nd_handler_run()
 * decodes the request and calls nd_fsreq_handle(), which runs the
 * operation in the session's user directory (nd_fileops), answers with a
 * bare OK or an ERROR, and logs one line:
 *
 *     transfer peer=... op=remove path="d" flags=1 bytes=12 seconds=...
 *         md5=- result=ok
 *
 * (RENAME adds to="..."), the same fields as the PUT, GET and LIST lines;
 * bytes counts the directories made (MKDIR) or the names removed (REMOVE).
 */
#ifndef ND_FSREQ_H
#define ND_FSREQ_H

#include "nd_handler.h"
#include "nd_proto.h"

/*
 * Answers req (type ND_T_MKDIR, ND_T_REMOVE or ND_T_RENAME, as decoded by
 * nd_proto_req_decode()) on c.  Runs on the worker that owns c; sets
 * c->close_after when the reply cannot be sent.
 */
void nd_fsreq_handle(struct nd_conn *c, const struct nd_req *req);

#endif
