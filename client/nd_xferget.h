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

#include <stdbool.h>
#include <stdint.h>

/* The file after the current one in a get of a list, whose GET may go out
 * ahead of its turn.  The names must outlive the call for that file. */
struct nd_xferget_next {
    const char *remote, *local, *part;
};

/* A GET already sent for the next file of a list (pipelining,
 * docs/protocol.md), and the range it asked for.  Zeroed before the first
 * file; nd_xferget_one fills it for the next file and consumes it. */
struct nd_xferget_ahead {
    bool sent;
    bool ranged;
    uint64_t offset;
};

/*
 * Downloads remote as local, by way of part (local plus ".part"), over t's
 * session, connecting first if the run has not yet.  A file that verifies
 * is renamed to local with the remote mtime; a digest mismatch removes
 * part; an interruption keeps part and its nd_resume state, so that the
 * same get resumes it.  A resumed file that does not verify is fetched
 * once more, whole.  Counts the file as finished in t's batch.
 *
 * With next and ahead (a list), the GET for next is sent as soon as this
 * file's FILE reply shows that it will not be asked for again (it is not
 * resumed), so that the server starts on next while this side still
 * receives and writes: ahead records it, and the call for next reads its
 * reply instead of asking.  When ahead->sent on entry, the GET for remote
 * went out already.  Either may be NULL (one file; no pipelining).
 *
 * Returns an exit status, having reported any failure; nd_xfer_usable(t)
 * then says whether another request may follow.  All three names must
 * outlive the call.
 */
int nd_xferget_one(struct nd_xfer *t, const char *remote, const char *local,
                   const char *part, const struct nd_xferget_next *next,
                   struct nd_xferget_ahead *ahead);

#endif
