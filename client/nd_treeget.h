/*
 * nd_treeget: `netdisk get -r`, a remote directory tree into a local one
 * over one session, on the plan and copy of nd_tree.  Single-threaded,
 * like the client.
 */
#ifndef ND_TREEGET_H
#define ND_TREEGET_H

#include "nd_cli.h"

/*
 * get -r with its n >= 1 operands: REMOTE... [LOCAL].  A remote directory
 * is copied with everything below it, into ./BASE without LOCAL, into
 * LOCAL/BASE when LOCAL is an existing directory, else into LOCAL (made);
 * several REMOTEs need an existing directory LOCAL.  A remote file is got
 * as without -r.  Each local directory gets its remote mtime once its
 * contents are in place.  Returns the exit status: the highest of the
 * failures.
 */
int nd_treeget_cmd(const struct nd_opts *o, int n, char **args);

#endif
