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

/*
 * A run driven file by file by another module (nd_tree: put -r, get -r):
 * one session, connected and logged in when first needed, and one batch
 * for the progress bar.  Each file moves exactly as in nd_xfer_put() and
 * nd_xfer_get(): resume, digest check, mtime, -v line, one line per
 * failure.  The caller may send requests of its own over the session
 * between files.
 */
struct nd_xfer;

/* Starts a run of op ("put" or "get"); nothing is connected yet.  Returns
 * NULL when out of memory.  o must outlive the run. */
struct nd_xfer *nd_xfer_new(const struct nd_opts *o, const char *op);
/* Sets the batch's totals for the progress bar: files, and bytes (0 when
 * not known). */
void nd_xfer_batch(struct nd_xfer *t, unsigned files, uint64_t bytes);
/* Connects and logs in, unless already done.  Returns an exit status,
 * having reported any failure; a failure leaves the run unusable. */
int nd_xfer_open(struct nd_xfer *t);
/* The run's session, for the caller's own requests after nd_xfer_open(). */
struct nd_sess *nd_xfer_sess(struct nd_xfer *t);
/* True while the session can carry another request. */
bool nd_xfer_usable(const struct nd_xfer *t);
/* Records that the caller's own exchange left the session unusable. */
void nd_xfer_lost(struct nd_xfer *t);
/* Uploads the file local as remote (both must outlive the call).  Returns
 * an exit status. */
int nd_xfer_put_file(struct nd_xfer *t, const char *local, const char *remote);
/* Downloads remote as local, by way of local.part.  Returns an exit
 * status. */
int nd_xfer_get_file(struct nd_xfer *t, const char *remote, const char *local);
/* Closes the session and frees t.  NULL is allowed. */
void nd_xfer_free(struct nd_xfer *t);

#endif
