/*
 * nd_users: the users file, one record per line:
 *
 *     # comment
 *     @mock:<64 hex digits>
 *     NAME:SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
 *
 * Lines starting with '#' and blank lines are ignored.  The one "@mock" line
 * holds a random 32-byte secret, made when the file is created, from which
 * mock verifiers for unknown users are derived, so that their fake salts
 * stay the same across restarts.  A NAME passes nd_scram_user_ok() and
 * appears once.  The file is checked whole on every read: a line over
 * ND_USERS_LINE_MAX bytes, a bad name, a bad verifier, a repeated name, a
 * second or bad "@mock" line or any other line makes the whole file
 * malformed, so a damaged file refuses every login rather than some.
 *
 * The daemon only reads (nd_users_cache_lookup); the "netdiskd user" command
 * writes (nd_users_update), always by writing a new file and renaming it
 * over the old one, so a reader sees either the old or the new file.
 * Nothing here logs.
 */
#ifndef ND_USERS_H
#define ND_USERS_H

#include <pthread.h>
#include <stdint.h>

#include "nd_scram.h"

#define ND_USERS_SECRET_LEN 32
/* The longest line, without its newline. */
#define ND_USERS_LINE_MAX 1024
/* Larger files are refused with -EFBIG. */
#define ND_USERS_FILE_MAX (16L * 1024 * 1024)

/*
 * Looks name up in the file at path, which is read afresh on every call, so
 * edits take effect at the next login.  Returns 0 with *v filled; -ENOENT
 * when the name has no record (always so for a name failing
 * nd_scram_user_ok(), and when the file does not exist), with
 * v->iterations set to the iteration count most records use (0 when there
 * are none), for the caller's mock verifier; -EINVAL when the
 * file is malformed, with *line set to the first bad line (1-based; 0 when
 * the file is not a regular file); -EFBIG above ND_USERS_FILE_MAX; other
 * -errno when the file cannot be read.  In every case secret receives the
 * file's "@mock" secret or, when the file has none, does not exist or cannot
 * be read, a random secret made once per process.  line may be NULL.
 * Thread-safe.
 */
int nd_users_lookup(const char *path, const char *name,
                    struct nd_scram_verifier *v,
                    uint8_t secret[ND_USERS_SECRET_LEN], int *line);

/*
 * The daemon's view of the users file: the parsed file, kept between
 * logins and read again only when the file changed (another inode, size,
 * mtime or ctime), so that a login costs one stat(2), not a parse of the
 * whole file.  A file that failed to load is read again at every lookup.
 */
struct nd_users_file;
struct nd_users_cache {
    pthread_mutex_t mu;         /* guards file */
    struct nd_users_file *file; /* private: the last load, or NULL */
};

/* Sets up an empty cache; destroy frees what it holds.  Not thread-safe:
 * call before the workers start and after they stopped. */
void nd_users_cache_init(struct nd_users_cache *c);
void nd_users_cache_destroy(struct nd_users_cache *c);

/* nd_users_lookup() through the cache: the same results, the same
 * contract.  Thread-safe; lookups are serialised by the cache's mutex. */
int nd_users_cache_lookup(struct nd_users_cache *c, const char *path,
                          const char *name, struct nd_scram_verifier *v,
                          uint8_t secret[ND_USERS_SECRET_LEN], int *line);

enum nd_users_op { ND_USERS_ADD, ND_USERS_PASSWD, ND_USERS_DEL };

/*
 * Adds a user (ND_USERS_ADD: -EEXIST when the name has a record), replaces
 * a user's verifier (ND_USERS_PASSWD: -ENOENT when it has none) or removes a
 * user (ND_USERS_DEL: -ENOENT when it has none; v is then ignored and may
 * be NULL).  Every other line, comments included, is kept as it was.  A new
 * file starts with a comment and a fresh "@mock" line; an existing file
 * without one gets one appended.
 *
 * Writes atomically: takes an exclusive flock on the directory holding path
 * (so two concurrent updates cannot lose each other's change), writes a new
 * file in that directory (O_CREAT|O_EXCL, mode 0600), fsyncs it, gives it
 * the owner of the existing file (or, for a new file, the owner of the
 * directory, so a daemon running as that user can read it), renames it over
 * path and fsyncs the directory.  On any failure the new file is removed and
 * the old one is untouched.
 *
 * Returns 0; -EINVAL for an invalid name, a missing verifier, or a malformed
 * existing file (nd_users_lookup() then tells which line); -ELOOP when path
 * is a symlink; -EFBIG; or another -errno from the file system.  Blocks while
 * another update holds the lock.  Thread-safe, but meant for the command
 * line, not for the daemon.
 */
int nd_users_update(const char *path, enum nd_users_op op, const char *name,
                    const struct nd_scram_verifier *v);

/*
 * Calls fn(name, arg) for each user in file order and stops early when fn
 * returns non-zero.  Returns 0 (or fn's non-zero value); -ENOENT when the
 * file does not exist; -EINVAL for a malformed file, with *line set as by
 * nd_users_lookup() (line may be NULL); or another -errno.  Checks the whole
 * file before the first call, so fn sees nothing from a malformed file.
 */
int nd_users_list(const char *path, int (*fn)(const char *name, void *arg),
                  void *arg, int *line);

#endif
