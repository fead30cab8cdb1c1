/*
 * nd_tree: `netdisk put -r` and `netdisk get -r`, whole directory trees
 * over one session.  The tree is walked first (locally for put, with one
 * LIST per directory for get), then its directories are made and every
 * regular file moved by nd_xfer exactly as a single put or get moves it.
 * Single-threaded, like the client.
 */
#ifndef ND_TREE_H
#define ND_TREE_H

#include <stdbool.h>

#include "nd_cli.h"

/* A tree is walked at most this many levels below its root; a directory
 * deeper than that is reported and not copied.  The walk keeps a queue,
 * not a recursion, so this bounds the work, not the stack. */
#define ND_TREE_MAX_DEPTH 256

/*
 * Removes put's and get's own option, -r or --recursive, from the n words
 * after the command (anywhere before "--", which stays for the caller).
 * Returns true when it was there.
 */
bool nd_tree_take_flag(int *n, char **args);

/*
 * put -r with its n >= 1 operands: LOCAL... [REMOTE].  A directory LOCAL
 * is copied with everything below it: to REMOTE when one LOCAL is given
 * with a REMOTE not ending in '/' (made if missing, its contents merged),
 * else to REMOTE/ (or the root) plus LOCAL's base name.  Any other LOCAL
 * is put as without -r.  Symbolic links and special files below a LOCAL
 * are skipped with a note.  Returns the exit status: the highest of the
 * failures.
 */
int nd_tree_put(const struct nd_opts *o, int n, char **args);

/*
 * get -r with its n >= 1 operands: REMOTE... [LOCAL].  A remote directory
 * is copied with everything below it, into ./BASE without LOCAL, into
 * LOCAL/BASE when LOCAL is an existing directory, else into LOCAL (made);
 * several REMOTEs need an existing directory LOCAL.  A remote file is got
 * as without -r.  Each local directory gets its remote mtime once its
 * contents are in place.  Returns the exit status: the highest of the
 * failures.
 */
int nd_tree_get(const struct nd_opts *o, int n, char **args);

#endif
