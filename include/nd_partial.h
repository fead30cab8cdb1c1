/*
 * nd_partial: resumable uploads.
 *
 * A PUT that asks to be resumable writes into a file of the user's partial
 * directory, root/USER/.netdisk-partial/, named after a digest of the
 * target path, the size and the client's mtime: the same PUT of the same
 * file finds it again after an interruption and continues where it ended.
 * The name is reserved, so no client path reaches it and no listing shows
 * it.  On success the file is renamed from there into the target directory
 * (both are in the user's directory, on one file system).
 *
 * A partial is locked (flock) for as long as a PUT writes it, so two PUTs
 * of the same file never share one; the sweep removes partials that no one
 * has written for partial_ttl seconds, skipping locked ones.
 *
 * Nothing here logs.
 */
#ifndef ND_PARTIAL_H
#define ND_PARTIAL_H

#include <stdint.h>
#include <time.h>

#include "nd_store.h"

/* The reserved directory, directly below each user's directory. */
#define ND_PARTIAL_DIR ND_RESERVED_PREFIX "partial"

/*
 * Starts a resumable upload of size bytes to path, whose source file has the
 * mtime sec.nsec.  When a partial of this very file exists, is not in use
 * and holds at most size bytes, up->offset is its length and the file is
 * positioned there; otherwise the upload starts at 0.  If another PUT holds
 * the partial for longer than about two seconds (its connection has not
 * ended yet), the upload falls back to a fresh temporary file beside the
 * target, which is not resumable.  up->keep tells which it got.
 *
 * Returns 0 with up filled (end it with nd_store_commit(), _abort() or
 * _suspend()), or -errno as nd_store_create_temp() does.  Thread-safe.
 */
int nd_partial_open(const struct nd_store *s, const char *path, uint64_t size,
                    int64_t sec, uint32_t nsec, struct nd_upload *up);

/*
 * Removes from every user's partial directory below base the partials last
 * written before older_than, unless a PUT holds them.  Does not follow
 * symlinks.  Returns the number removed, or -errno when base cannot be
 * read.  Thread-safe.
 */
long nd_partial_sweep(const struct nd_store *base, time_t older_than);

#endif
