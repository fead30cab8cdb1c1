/*
 * nd_ls: `netdisk ls [-l] [-R] [DIR]`, over one session, and the reading
 * of a LIST reply, which get -r (nd_treeget) shares.
 */
#ifndef ND_LS_H
#define ND_LS_H

#include "nd_cli.h"

/* ls -R refuses to go deeper than this many levels below DIR.  The 4095-
 * byte path limit already stops it near 2048; this bounds the recursion
 * whatever that limit becomes. */
#define ND_LS_MAX_DEPTH 4096

/*
 * Runs ls with the words after the command (its options -l and -R,
 * anywhere before "--", and at most one DIR).  Prints the
 * listing on stdout and returns the exit status: with -R a directory that
 * fails is reported in one line and the others are still listed; the
 * status is then the highest of the failures.
 */
int nd_ls_cmd(const struct nd_opts *o, int argc, char **argv);

/* Takes one entry of a LIST reply (e is valid only during the call).
 * Returns 0 to go on, or a negative errno to stop reading. */
typedef int (*nd_ls_entry_fn)(void *arg, const struct nd_entry *e);

/*
 * Reads the reply to a LIST request already sent over s: ENTRIES frames up
 * to END, handing every entry to each(arg, e) in the order received.
 * body is the caller's room for one frame, ND_FRAME_MAX bytes.  Returns 0
 * at END; -ECANCELED when END's total (set in *total) disagrees with the
 * number of entries received; a positive status for ERROR (its message in
 * s->msg); -EBADMSG for a malformed reply; each's negative return; or a
 * negative nd_wire error.  After anything but 0 or ERROR the rest of the
 * reply may be left unread, so the session cannot go on.
 */
int nd_ls_recv(struct nd_sess *s, uint8_t *body, nd_ls_entry_fn each, void *arg,
               uint64_t *total);

#endif
