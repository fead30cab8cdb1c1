/*
 * nd_xfer: `netdisk put` and `netdisk get`, for one file or several over
 * one session.  Single-threaded, like the client.
 */
#ifndef ND_XFER_H
#define ND_XFER_H

#include "nd_cli.h"

/*
 * put with its n >= 1 operands: LOCAL [REMOTE], or LOCAL... REMOTE_DIR/
 * (with more than one LOCAL the last operand must end in '/'; "./" is the
 * root).  Returns the exit status: the highest of the files that failed.
 */
int nd_xfer_put(const struct nd_opts *o, int n, char **args);

/*
 * get with its n >= 1 operands: REMOTE [LOCAL], or REMOTE... LOCAL_DIR
 * (with more than one REMOTE the last operand must be an existing local
 * directory).  Returns the exit status: the highest of the files that
 * failed.
 */
int nd_xfer_get(const struct nd_opts *o, int n, char **args);

#endif
