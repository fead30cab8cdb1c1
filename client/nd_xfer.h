/*
 * nd_xfer: `netdisk put` and `netdisk get`, for one file or several over
 * one session, and the run they share with nd_tree (put -r, get -r): one
 * session, one batch for the progress bar, and whether the session can
 * carry another request.  Moving one file of a get is nd_xferget's, on a
 * run of this module.  Single-threaded, like the client.
 */
#ifndef ND_XFER_H
#define ND_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_cli.h"

struct nd_digest;

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
 * Writes the last component of path, ignoring trailing slashes, to out
 * (cap bytes; cut short to fit): the name a copy of path gets.  Returns
 * false when that name cannot name a copy: "", "." or "..".
 */
bool nd_xfer_base_name(const char *path, char *out, size_t cap);

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
/* The run's session, for the caller's own requests after nd_xfer_open().
 * Owned by the run. */
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
/*
 * Sets the session's timeouts for a transfer resumed at offset: the usual
 * ND_IO_TIMEOUT_S plus nd_proto_hash_slack(offset), while the server may
 * be hashing the bytes it kept; offset 0 restores the usual ones.
 */
void nd_xfer_slack(struct nd_xfer *x, uint64_t offset);

/* Closes the session and frees t.  NULL is allowed. */
void nd_xfer_free(struct nd_xfer *t);

/*
 * What moving one file needs from its run, for nd_xferget (the get side
 * of a file).  The run stays this module's: these read it or change it
 * only as named.
 */

/* The options the run was started with (nd_xfer_new()'s o). */
const struct nd_opts *nd_xfer_opts(const struct nd_xfer *t);
/* Where the batch stands, for nd_progress_start_batch() (which copies
 * it); owned by the run. */
const struct nd_progress_batch *nd_xfer_progress(const struct nd_xfer *t);
/* True when another file or request follows the current file, so that a
 * local failure must still read the rest of its bytes off the session. */
bool nd_xfer_more(const struct nd_xfer *t);
/* Counts the current file as finished, with size bytes moved, for the
 * batch's progress numbers. */
void nd_xfer_file_done(struct nd_xfer *t, uint64_t size);
/*
 * Waits for a reply of type want into body (ND_REPLY_MAX bytes).  Returns
 * an exit status, having reported any failure.  A failure marks the
 * session usable when it was an ERROR after which the server goes on, and
 * unusable otherwise; success leaves the mark as it was.
 */
int nd_xfer_expect(struct nd_xfer *t, uint8_t want, uint8_t *body, size_t *len);
/*
 * Hashes the first n bytes of the local file fd, read from its current
 * position, into d; buf is the caller's room for ND_IO_CHUNK bytes.
 * Returns 0 or -errno; -EIO when the file is shorter.
 */
int nd_xfer_hash_local(int fd, uint64_t n, struct nd_digest *d, uint8_t *buf);

#endif
