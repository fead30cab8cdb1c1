/*
 * nd_resume: the small state file beside the .part file of an interrupted
 * get, so that the same get can continue it.
 *
 * For LOCAL.part the state is LOCAL.part.state: one line naming where the
 * bytes come from (user, server and remote path) and what the remote file
 * was (size, mtime and, when the server knew it before sending, its MD5).
 * The next get of the same file asks the server for the bytes after those
 * in LOCAL.part, provided the file is still what the state says; the
 * server decides, and sends the whole file again if it is not.
 *
 * A text file, not an extended attribute, so that resuming works on every
 * local file system.  Single-threaded, like the client.
 */
#ifndef ND_RESUME_H
#define ND_RESUME_H

#include "nd_proto.h"

/* Room for an origin string: user, host, port and a remote path. */
#define ND_ORIGIN_MAX (ND_PATH_MAX + 512)

/*
 * Reads the state of part into fi (offset 0) when it exists, is well formed
 * and names origin.  Returns 0, -ENOENT when there is none, -ESTALE when it
 * belongs to another file or cannot be parsed, or another -errno.
 */
int nd_resume_load(const char *part, const char *origin,
                   struct nd_fileinfo *fi);

/*
 * Writes the state of part for origin and fi (its offset is not kept)
 * atomically: a temporary file renamed over the state.  Returns 0 or
 * -errno.
 */
int nd_resume_save(const char *part, const char *origin,
                   const struct nd_fileinfo *fi);

/* Removes the state of part, if any. */
void nd_resume_drop(const char *part);

#endif
