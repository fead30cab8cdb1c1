/*
 * nd_partial: the partial files of resumable uploads, and their sweep.
 */
#include "nd_partial.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"

/* How long a PUT waits for the partial another PUT holds: long enough for
 * a server that has not yet noticed a cut connection to let go of it, short
 * enough that a worker is not held for long. */
#define LOCK_TRIES 20
#define LOCK_PAUSE_NS 100000000L

/*
 * The partial's name: the hex MD5 of the path, a NUL, and the size and the
 * mtime in wire order.  Any change to the source file's size or mtime, or
 * another target, names another partial.  Returns 0 or -errno.
 */
static int
partial_name(const char *path, uint64_t size, int64_t sec, uint32_t nsec,
             char out[ND_DIGEST_HEX_LEN])
{
    uint8_t key[8 + 8 + 4], md5[ND_DIGEST_LEN];
    struct nd_digest d = {0};
    int rc;

    nd_proto_put_be(key, size, 8);
    nd_proto_put_be(key + 8, (uint64_t)sec, 8);
    nd_proto_put_be(key + 16, nsec, 4);
    rc = nd_digest_init(&d);
    if (rc == 0)
        rc = nd_digest_update(&d, path, strlen(path) + 1);
    if (rc == 0)
        rc = nd_digest_update(&d, key, sizeof(key));
    if (rc == 0)
        rc = nd_digest_final(&d, md5);
    nd_digest_free(&d);
    if (rc == 0)
        nd_digest_hex(md5, out);
    return rc;
}

/* Opens (creating it) the user's partial directory.  Returns the fd or
 * -errno. */
static int
open_partial_dir(const struct nd_store *s)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(s->root_fd, ND_PARTIAL_DIR, flags);

    /* Made once per user, at the first resumable upload. */
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(s->root_fd, ND_PARTIAL_DIR, 0700) < 0 && errno != EEXIST)
            return -errno;
        fd = openat(s->root_fd, ND_PARTIAL_DIR, flags);
    }
    return fd < 0 ? -errno : fd;
}

/* True when name in dir is still the file whose fstat is st: whoever
 * renames or removes a partial holds its lock, so once the lock is ours
 * this stays true. */
static bool
same_file(int dir, const char *name, const struct stat *st)
{
    struct stat now;

    return fstatat(dir, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st->st_mode) && now.st_dev == st->st_dev &&
           now.st_ino == st->st_ino;
}

/*
 * Opens and locks the partial named up->tmp in up->tmp_dir_fd into up->fd.
 * Returns 0, -EWOULDBLOCK while another PUT holds it, or -errno.
 */
static int
take_partial(struct nd_upload *up, uint64_t size)
{
    struct timespec pause = {0, LOCK_PAUSE_NS};
    struct stat st;

    for (int i = 0; i < LOCK_TRIES; i++) {
        if (up->fd < 0) {
            up->fd = openat(up->tmp_dir_fd, up->tmp,
                            O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (up->fd < 0)
                return -errno;
        }
        if (flock(up->fd, LOCK_EX | LOCK_NB) < 0) {
            if (errno != EWOULDBLOCK)
                return -errno;
            nanosleep(&pause, NULL);
            continue;
        }
        if (fstat(up->fd, &st) < 0)
            return -errno;
        if (!same_file(up->tmp_dir_fd, up->tmp, &st)) {
            /* Between our open and our lock, the PUT that held it renamed
             * it into place, or the sweep removed it: it is no longer the
             * partial, and the name may already be another file's. */
            nd_io_close(&up->fd);
            continue;
        }
        if ((uint64_t)st.st_size > size) {
            if (ftruncate(up->fd, 0) < 0)
                return -errno;
            st.st_size = 0;
        }
        up->offset = (uint64_t)st.st_size;
        if (lseek(up->fd, st.st_size, SEEK_SET) < 0)
            return -errno;
        return 0;
    }
    return -EWOULDBLOCK;
}

int
nd_partial_open(const struct nd_store *s, const char *path, uint64_t size,
                int64_t sec, uint32_t nsec, struct nd_upload *up)
{
    int rc = nd_store_upload_init(s, path, up);

    if (rc < 0)
        return rc;
    rc = partial_name(path, size, sec, nsec, up->tmp);
    if (rc == 0)
        rc = open_partial_dir(s);
    if (rc >= 0) {
        struct stat a, b;

        up->tmp_dir_fd = rc;
        /* The commit renames the partial into the target directory, which
         * cannot cross a mount (a bind mount or a btrfs subvolume below
         * the user's directory): such a target gets a plain upload. */
        if (fstat(up->tmp_dir_fd, &a) < 0 || fstat(up->dir_fd, &b) < 0)
            rc = -errno;
        else
            rc = a.st_dev == b.st_dev ? take_partial(up, size) : -EXDEV;
    }
    if (rc == 0) {
        up->keep = true;
        return 0;
    }
    /* No partial to be had: an ordinary upload still works. */
    nd_io_close(&up->fd);
    nd_io_close(&up->tmp_dir_fd);
    up->tmp[0] = '\0';
    up->offset = 0;
    rc = nd_store_upload_temp(up);
    if (rc < 0)
        nd_io_close(&up->dir_fd);
    return rc;
}

/* Sweeps one user's partial directory; takes ownership of fd. */
static long
sweep_user(int fd, time_t older_than)
{
    DIR *dp = fdopendir(fd);
    struct dirent *de;
    long removed = 0;

    if (dp == NULL) {
        close(fd);
        return 0;
    }
    while ((de = readdir(dp)) != NULL) {
        struct stat st;
        int f;

        if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode) || st.st_mtime >= older_than)
            continue;
        f = openat(dirfd(dp), de->d_name,
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (f < 0)
            continue;
        /* A PUT holding the lock is using it; one that wrote it since the
         * fstatat above has made it young again. */
        if (flock(f, LOCK_EX | LOCK_NB) == 0 && fstat(f, &st) == 0 &&
            st.st_mtime < older_than && same_file(dirfd(dp), de->d_name, &st) &&
            unlinkat(dirfd(dp), de->d_name, 0) == 0)
            removed++;
        close(f);
    }
    closedir(dp);
    return removed;
}

long
nd_partial_sweep(const struct nd_store *base, time_t older_than)
{
    int fd = openat(base->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *de;
    long removed = 0;
    DIR *dp;

    if (fd < 0)
        return -errno;
    dp = fdopendir(fd);
    if (dp == NULL) {
        int err = -errno;

        close(fd);
        return err;
    }
    while ((de = readdir(dp)) != NULL) {
        int ufd, pfd = -1;

        if (de->d_name[0] == '.' || nd_store_reserved(de->d_name))
            continue;
        /* Each step with O_NOFOLLOW: a link planted for a user directory or
         * its partial directory leads the sweep nowhere. */
        ufd = openat(dirfd(dp), de->d_name,
                     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ufd >= 0)
            pfd = openat(ufd, ND_PARTIAL_DIR,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        nd_io_close(&ufd);
        if (pfd >= 0)
            removed += sweep_user(pfd, older_than);
    }
    closedir(dp);
    return removed;
}
