/*
 * nd_xferget: the get of one file within an nd_xfer run: the GET request
 * (ranged when an interrupted get left a part to resume), the bytes into
 * LOCAL.part, the digest check, the remote mtime and the rename.  nd_xfer
 * owns the run (its session, batch and state); this module only moves the
 * file.  Single-threaded, like the client.
 */
#ifndef ND_XFERGET_H
#define ND_XFERGET_H

#include "nd_xfer.h"

/*
 * Downloads remote as local, by way of part (local plus ".part"), over t's
 * session, connecting first if the run has not yet.  A file that verifies
 * is renamed to local with the remote mtime; a digest mismatch removes
 * part; an interruption keeps part and its nd_resume state, so that the
 * same get resumes it.  A resumed file that does not verify is fetched
 * once more, whole.  Counts the file as finished in t's batch.  Returns an
 * exit status, having reported any failure; nd_xfer_usable(t) then says
 * whether another request may follow.  All three names must outlive the
 * call.
 */
int nd_xferget_one(struct nd_xfer *t, const char *remote, const char *local,
                   const char *part);

#endif
