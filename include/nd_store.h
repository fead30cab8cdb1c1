/*
 * nd_store: the storage root and every file operation beneath it.
 *
 * The root is opened once as a directory fd; every client path is checked
 * lexically and then resolved relative to that fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so neither "..", an
 * absolute path nor a symlink can lead outside it.  On kernels without
 * openat2 a component-by-component O_NOFOLLOW walk takes over and refuses
 * every symlink.  The store hands out fds, never path strings.
 *
 * Uploads go to a temporary file named ".netdisk-*" in the target directory
 * and are renamed over the final name only on commit.  Names starting with
 * ".netdisk-" are reserved: clients cannot name them and listings skip them.
 *
 * A struct nd_store is read-only after nd_store_open() and may be shared by
 * all worker threads.  Nothing here logs.
 */
#ifndef ND_STORE_H
#define ND_STORE_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "nd_proto.h"

#define ND_RESERVED_PREFIX ".netdisk-"

struct nd_store {
    int root_fd;      /* O_PATH|O_DIRECTORY, owned by the store */
    bool use_openat2; /* false: the O_NOFOLLOW walk */
};

/*
 * Opens root (which must be an existing directory) and probes for openat2.
 * Returns 0 or -errno.  On success the caller owns s and must call
 * nd_store_close().
 */
int nd_store_open(struct nd_store *s, const char *root);
void nd_store_close(struct nd_store *s);

/*
 * Opens the directory name directly under base's root as a store of its
 * own, creating it (mode 0700) when it does not exist: a user's space.
 * name must be a single component the caller has validated (no '/', not
 * "." or ".."); a symlink there is refused.  Returns 0 with out filled
 * (close it with nd_store_close()), or -errno (-ENOTDIR when something
 * other than a directory has the name).  Thread-safe.
 */
int nd_store_open_user(const struct nd_store *base, const char *name,
                       struct nd_store *out);

/* Makes the store use the O_NOFOLLOW walk even where openat2 exists, so the
 * tests can exercise the fallback on any kernel. */
void nd_store_force_walk(struct nd_store *s);

/*
 * Lexical checks on a client path: returns 0, -EINVAL (empty where not
 * allowed, empty component, NUL), -EACCES (absolute, "." or "..", reserved
 * name), or -ENAMETOOLONG.  allow_root accepts "" (the root itself) and one
 * trailing '/', as LIST does.
 */
int nd_store_check_path(const char *path, bool allow_root);

/* True when a directory entry name is one the store keeps for itself. */
bool nd_store_reserved(const char *name);

/*
 * Opens path beneath the root with open(2) flags, confined like every
 * operation here (openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, or
 * the O_NOFOLLOW walk); "" opens the root itself.  The path is not checked
 * lexically: callers run nd_store_check_path() first.  Returns the fd
 * (caller owns it) or -errno (-EXDEV or -ELOOP for an escaping symlink).
 * Thread-safe.
 */
int nd_store_resolve(const struct nd_store *s, const char *path, int flags);

/*
 * Opens a regular file for reading.  Returns 0 with *fd (caller owns it) and
 * *st filled, or -errno: -EISDIR for a directory, -ND_ENOTREG for anything
 * else that is not a regular file, and the nd_store_check_path() errors.
 */
int nd_store_open_read(const struct nd_store *s, const char *path, int *fd,
                       struct stat *st);

/* An upload in progress: its fds belong to it until commit, abort or
 * suspend. */
struct nd_upload {
    int dir_fd;     /* the target directory, O_RDONLY|O_DIRECTORY */
    int fd;         /* the temporary file, O_WRONLY or O_RDWR */
    int tmp_dir_fd; /* where tmp is when not in dir_fd (nd_partial), or -1 */
    char tmp[48];
    char name[ND_NAME_MAX + 1];
    /* A resumable upload (nd_partial): nd_store_suspend() keeps the file
     * when keep is set; offset is how many bytes it held when opened. */
    bool keep;
    uint64_t offset;
    /* Set by the caller before nd_store_commit(): the mtime to give the
     * file (times[1]; times[0] is UTIME_OMIT) when set_mtime is true. */
    bool set_mtime;
    struct timespec times[2];
    /* Set by the caller before nd_store_commit(): the digest to record
     * with nd_sum once the bytes are synced, or NULL for none.  After the
     * commit, sum_err says why no record was stored (0: it was). */
    const uint8_t *md5;
    int sum_err;
    /* Bytes nd_store_write() wrote since it last started writeback. */
    uint64_t unkicked;
};

/*
 * Appends n bytes to the upload's file (short counts and EINTR handled in
 * nd_io) and, every ND_STORE_KICK bytes, asks the kernel to start writing
 * back what is dirty (sync_file_range, without waiting), so that the sync
 * in nd_store_commit() waits for the last few MiB instead of the whole
 * file.  Returns 0 or -errno.  Not thread-safe for one upload.
 */
#define ND_STORE_KICK (8u * 1024u * 1024u)
int nd_store_write(struct nd_upload *up, const void *p, size_t n);

/*
 * Creates missing parent directories of path and a temporary file beside its
 * final name.  Returns 0 with up filled (caller must end it with
 * nd_store_commit() or nd_store_abort()), or -errno (-EISDIR when the final
 * name is a directory), in which case up holds nothing.
 */
int nd_store_create_temp(const struct nd_store *s, const char *path,
                         struct nd_upload *up);

/*
 * The two halves of nd_store_create_temp(), for nd_partial.  _init checks
 * path, opens (making missing parents) the directory of its final name into
 * up->dir_fd and refuses a directory there; on success the caller owns
 * up->dir_fd, on failure up holds nothing.  _temp creates the temporary
 * file in up->dir_fd; on failure only up->fd and up->tmp are unset.  Both
 * return 0 or -errno.
 */
int nd_store_upload_init(const struct nd_store *s, const char *path,
                         struct nd_upload *up);
int nd_store_upload_temp(struct nd_upload *up);

/*
 * Makes the upload durable and visible: fdatasync the file, record up->md5
 * in its "user.netdisk.md5" attribute (nd_sum; a failure there only sets
 * up->sum_err), rename it over the final name, fsync the directory.
 * Returns 0 or -errno; on failure the temporary file is removed.  Either
 * way up is released.
 */
int nd_store_commit(struct nd_upload *up);

/* Removes the temporary file and releases up.  Safe on a released up. */
void nd_store_abort(struct nd_upload *up);

/* Ends an interrupted upload: a resumable one (up->keep) keeps its file
 * for the next PUT of the same file; any other is aborted.  Releases up. */
void nd_store_suspend(struct nd_upload *up);

/* A directory being listed. */
struct nd_dir {
    DIR *dp;
};

/* Opens a directory for listing ("" is the root).  Returns 0 or -errno. */
int nd_store_dir_open(const struct nd_store *s, const char *path,
                      struct nd_dir *d);
/*
 * Fills e with the next entry, skipping ".", ".." and reserved names.
 * Returns 1 for an entry, 0 at the end, or -errno.
 */
int nd_store_dir_next(struct nd_dir *d, struct nd_entry *e);
void nd_store_dir_close(struct nd_dir *d);

/*
 * Removes every reserved (".netdisk-*") regular file in the tree, the
 * leftovers of uploads that a crash interrupted.  Does not follow symlinks
 * and does not enter reserved directories (nd_partial sweeps its own).
 * Returns the number removed, or -errno when the walk failed.
 */
long nd_store_sweep(const struct nd_store *s);

#endif
