/*
 * nd_fileops: making, removing and renaming names in a user's space.
 *
 * Every path is checked with nd_store_check_path() and its parent directory
 * is resolved with nd_store_resolve(), so these operations are confined
 * exactly like uploads and downloads: "..", absolute paths, reserved
 * ".netdisk-*" names and symlinks that lead out are refused.  The last
 * component is then handled relative to that parent with the *at() system
 * calls, which never follow a symlink there: removing a link removes the
 * link, renaming a link renames the link.
 *
 * Each function returns 0 or -errno and, on success, has synced the
 * directories it changed, like an upload's commit.  Nothing here logs, and
 * nothing keeps state, so every function is safe from any worker thread.
 */
#ifndef ND_FILEOPS_H
#define ND_FILEOPS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "nd_store.h"

/* Mode of the directories MKDIR creates (before the umask). */
#define ND_DIR_MODE 0755

/*
 * The deepest directory tree a recursive remove takes apart, in levels below
 * the named directory.  A deeper tree can only be built by renaming trees
 * into each other; removing its lower part first (by a longer path) works.
 */
#define ND_RMTREE_DEPTH_MAX 4096

/* Linux has no errno for "tree too deep"; nd_fileops_remove() returns
 * -ND_ETOODEEP (EMLINK, which removing cannot otherwise produce). */
#define ND_ETOODEEP EMLINK

/*
 * Creates the directory path.  Without parents its parent must exist
 * (-ENOENT otherwise) and the name must be free (-EEXIST, whatever has it).
 * With parents, missing directories on the way are created too, each
 * resolved again from the root after its creation, and a directory already
 * at path is success; something else at path is -EEXIST.  *created counts
 * the directories made, even on failure.
 */
int nd_fileops_mkdir(const struct nd_store *s, const char *path, bool parents,
                     uint64_t *created);

/*
 * Removes path: a file, a symlink (never its target) or anything else that
 * is not a directory; an empty directory; or, with recursive, a directory
 * and everything below it, walked with O_NOFOLLOW so no link is followed.
 * A non-empty directory without recursive is -ENOTEMPTY.  The tree walk
 * removes ".netdisk-*" temporary files too, so an upload in progress inside
 * the tree fails at its commit (nothing is stored) instead of keeping the
 * directory alive.  It holds at most a few dozen fds whatever the depth,
 * and refuses trees deeper than ND_RMTREE_DEPTH_MAX with -ND_ETOODEEP.  A
 * failure part way leaves what was not removed yet.  *removed counts the
 * names removed, even on failure.  path "" (the user's root) is -EINVAL.
 */
int nd_fileops_remove(const struct nd_store *s, const char *path,
                      bool recursive, uint64_t *removed);

/*
 * Renames from to to atomically with renameat2(RENAME_NOREPLACE): an
 * existing to is -EEXIST and is left alone; a missing from, or a missing
 * parent of to, is -ENOENT; moving a directory into itself is the kernel's
 * -EINVAL.  Both ends are confined.
 */
int nd_fileops_rename(const struct nd_store *s, const char *from,
                      const char *to);

#endif
