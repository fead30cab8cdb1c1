/*
 * nd_store: confined file operations beneath the storage root.  Every path is
 * checked lexically first (defence in depth) and then resolved by the kernel
 * relative to the root fd, so the lexical check is never the only guard.
 */
#include "nd_store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_sum.h"

/* Deeper trees than this are not swept; it bounds the fds the walk holds. */
#define SWEEP_DEPTH_MAX 128

static long
sys_openat2(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)flags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };

    return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int
nd_store_open(struct nd_store *s, const char *root)
{
    long fd;

    s->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0)
        return -errno;
    fd = sys_openat2(s->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    s->use_openat2 = fd >= 0;
    if (fd >= 0)
        close((int)fd);
    return 0;
}

void
nd_store_close(struct nd_store *s)
{
    nd_io_close(&s->root_fd);
}

int
nd_store_open_user(const struct nd_store *base, const char *name,
                   struct nd_store *out)
{
    if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || name[0] == '\0')
        return -EINVAL;
    /* O_NOFOLLOW with O_PATH would open a symlink itself; O_DIRECTORY
     * then refuses it, so a planted link cannot redirect a user.  The
     * directory is made at the first login, so it is opened first. */
    out->root_fd = openat(base->root_fd, name,
                          O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (out->root_fd < 0 && errno == ENOENT) {
        if (mkdirat(base->root_fd, name, 0700) < 0 && errno != EEXIST)
            return -errno;
        out->root_fd = openat(base->root_fd, name,
                              O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (out->root_fd < 0)
        return errno == ELOOP ? -ENOTDIR : -errno;
    out->use_openat2 = base->use_openat2;
    return 0;
}

void
nd_store_force_walk(struct nd_store *s)
{
    s->use_openat2 = false;
}

bool
nd_store_reserved(const char *name)
{
    return strncmp(name, ND_RESERVED_PREFIX, strlen(ND_RESERVED_PREFIX)) == 0;
}

int
nd_store_check_path(const char *path, bool allow_root)
{
    size_t len = strlen(path);
    const char *p = path;

    if (len > ND_PATH_MAX)
        return -ENAMETOOLONG;
    if (len == 0)
        return allow_root ? 0 : -EINVAL;
    if (path[0] == '/')
        return -EACCES;
    if (allow_root && path[len - 1] == '/')
        len--;
    if (len > 0 && path[len - 1] == '/')
        return -EINVAL;
    while (p < path + len) {
        const char *end = memchr(p, '/', (size_t)(path + len - p));
        size_t n = end != NULL ? (size_t)(end - p) : (size_t)(path + len - p);

        if (n == 0)
            return -EINVAL;
        if (n > ND_NAME_MAX)
            return -ENAMETOOLONG;
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return -EACCES;
        if (n >= strlen(ND_RESERVED_PREFIX) && nd_store_reserved(p))
            return -EACCES;
        p += n + 1;
    }
    return 0;
}

/*
 * The fallback for kernels without openat2: walk one component at a time
 * with O_NOFOLLOW, so a symlink anywhere on the path is refused (ELOOP, or
 * ENOTDIR where O_DIRECTORY meets a link).
 */
static int
walk_open(int root_fd, const char *path, int flags)
{
    char comp[ND_NAME_MAX + 1];
    int cur = root_fd, fd;
    const char *p = path;

    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        bool last = slash == NULL || slash[1] == '\0';

        memcpy(comp, p, n);
        comp[n] = '\0';
        fd = openat(cur, comp,
                    last ? flags | O_NOFOLLOW
                         : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            struct stat st;
            int err = errno;

            /* O_DIRECTORY meeting a link says ENOTDIR; call it what it is. */
            if (err == ENOTDIR &&
                fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                err = ELOOP;
            if (cur != root_fd)
                close(cur);
            return -err;
        }
        if (cur != root_fd)
            close(cur);
        if (last)
            return fd;
        cur = fd;
        p = slash + 1;
    }
}

/* Opens path beneath the root; "" opens the root itself. */
static int
resolve(const struct nd_store *s, const char *path, int flags)
{
    long fd;

    if (path[0] == '\0')
        path = ".";
    if (!s->use_openat2) {
        if (strcmp(path, ".") == 0)
            fd = openat(s->root_fd, ".", flags);
        else
            return walk_open(s->root_fd, path, flags);
    } else {
        fd = sys_openat2(s->root_fd, path, flags);
    }
    return fd < 0 ? -errno : (int)fd;
}

int
nd_store_resolve(const struct nd_store *s, const char *path, int flags)
{
    return resolve(s, path, flags);
}

int
nd_store_open_read(const struct nd_store *s, const char *path, int *fd,
                   struct stat *st)
{
    int rc = nd_store_check_path(path, false);

    *fd = -1;
    if (rc < 0)
        return rc;
    /* O_NONBLOCK keeps a FIFO planted in the root from blocking the open. */
    rc = resolve(s, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (rc < 0)
        return rc;
    *fd = rc;
    rc = 0;
    if (fstat(*fd, st) < 0)
        rc = -errno;
    else if (S_ISDIR(st->st_mode))
        rc = -EISDIR;
    else if (!S_ISREG(st->st_mode))
        rc = -ND_ENOTREG;
    /* Clears O_NONBLOCK, the only status flag it was opened with (F_SETFL
     * leaves the access mode alone), without asking for the flags first. */
    else if (fcntl(*fd, F_SETFL, 0) < 0)
        rc = -errno;
    if (rc < 0)
        nd_io_close(fd);
    return rc;
}

/*
 * Opens the directory that will hold path's last component, creating missing
 * directories on the way.  Every step is resolved from the root, so a link
 * planted between two steps is caught like any other.
 */
static int
open_parent(const struct nd_store *s, const char *path, char *name)
{
    char dir[ND_PATH_MAX + 1];
    const char *slash = strrchr(path, '/');
    int rc, parent = -1;

    if (slash == NULL) {
        snprintf(name, ND_NAME_MAX + 1, "%s", path);
        return resolve(s, "", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    snprintf(name, ND_NAME_MAX + 1, "%s", slash + 1);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    rc = resolve(s, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rc != -ENOENT)
        return rc;
    /* Walk the prefixes, creating each missing level inside the level
     * above it, which was itself resolved beneath the root. */
    parent = resolve(s, "", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return parent;
    for (char *comp = dir, *end;; comp = end + 1) {
        int fd;

        end = strchr(comp, '/');
        if (end != NULL)
            *end = '\0';
        fd = resolve(s, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd == -ENOENT) {
            if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
                rc = -errno;
                goto out;
            }
            fd = resolve(s, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
        if (fd < 0) {
            rc = fd;
            goto out;
        }
        close(parent);
        parent = fd;
        if (end == NULL)
            break;
        *end = '/';
    }
    rc = resolve(s, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
out:
    nd_io_close(&parent);
    return rc;
}

int
nd_store_upload_init(const struct nd_store *s, const char *path,
                     struct nd_upload *up)
{
    struct stat st;
    int rc = nd_store_check_path(path, false);

    memset(up, 0, sizeof(*up));
    up->dir_fd = up->fd = up->tmp_dir_fd = -1;
    if (rc < 0)
        return rc;
    rc = open_parent(s, path, up->name);
    if (rc < 0)
        return rc;
    up->dir_fd = rc;
    /* Refuse before any byte moves: a directory can never be replaced. */
    if (fstatat(up->dir_fd, up->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
        nd_io_close(&up->dir_fd);
        return -EISDIR;
    }
    return 0;
}

int
nd_store_upload_temp(struct nd_upload *up)
{
    int rc = -EEXIST;

    for (int tries = 0; tries < 8; tries++) {
        uint64_t r = 0;

        rc = nd_io_random(&r, sizeof(r));
        if (rc < 0)
            break;
        snprintf(up->tmp, sizeof(up->tmp), ND_RESERVED_PREFIX "%016llx",
                 (unsigned long long)r);
        up->fd =
            openat(up->dir_fd, up->tmp,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (up->fd >= 0)
            return 0;
        rc = -errno;
        if (rc != -EEXIST)
            break;
    }
    up->tmp[0] = '\0';
    return rc;
}

int
nd_store_create_temp(const struct nd_store *s, const char *path,
                     struct nd_upload *up)
{
    int rc = nd_store_upload_init(s, path, up);

    if (rc == 0 && (rc = nd_store_upload_temp(up)) < 0)
        nd_io_close(&up->dir_fd);
    return rc;
}

/* The directory the temporary file is in. */
static int
tmp_dir(const struct nd_upload *up)
{
    return up->tmp_dir_fd >= 0 ? up->tmp_dir_fd : up->dir_fd;
}

void
nd_store_abort(struct nd_upload *up)
{
    /* Unlink before close: a partial's lock (nd_partial) must be held
     * until its name is gone, or a PUT waiting for it could take it. */
    if (up->tmp[0] != '\0' && tmp_dir(up) >= 0)
        (void)unlinkat(tmp_dir(up), up->tmp, 0);
    nd_io_close(&up->fd);
    up->tmp[0] = '\0';
    nd_io_close(&up->tmp_dir_fd);
    nd_io_close(&up->dir_fd);
}

void
nd_store_suspend(struct nd_upload *up)
{
    if (!up->keep) {
        nd_store_abort(up);
        return;
    }
    /* Closing the file drops its lock: the next PUT may take it over. */
    nd_io_close(&up->fd);
    up->tmp[0] = '\0';
    nd_io_close(&up->tmp_dir_fd);
    nd_io_close(&up->dir_fd);
}

int
nd_store_write(struct nd_upload *up, const void *p, size_t n)
{
    ssize_t w = nd_io_write_full(up->fd, p, n);

    if (w < 0)
        return (int)w;
    up->unkicked += n;
    /* Writeback started early overlaps with the rest of the transfer.
     * Offset 0 and length 0 name the whole file: pages already under
     * writeback are skipped, and a failure here only loses the overlap
     * (the sync in nd_store_commit() still reports real errors). */
    if (up->unkicked >= ND_STORE_KICK) {
        up->unkicked = 0;
        (void)sync_file_range(up->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
    return 0;
}

int
nd_store_commit(struct nd_upload *up)
{
    int rc = 0;

    /* The client's mtime replaces the time of the last write before the
     * sync, so that it is as durable as the bytes. */
    if ((up->set_mtime && futimens(up->fd, up->times) < 0) ||
        (up->set_mtime ? fsync(up->fd) : fdatasync(up->fd)) < 0) {
        rc = -errno;
        nd_store_abort(up);
        return rc;
    }
    /* After the last write, so the record names the final mtime; before
     * the rename, so the file is never visible without it. */
    if (up->md5 != NULL)
        up->sum_err = nd_sum_set(up->fd, NULL, up->md5);
    if (renameat(tmp_dir(up), up->tmp, up->dir_fd, up->name) < 0) {
        rc = -errno;
        nd_store_abort(up);
        return rc;
    }
    up->tmp[0] = '\0';
    /* The rename is durable only once the directory itself is synced. */
    if (fsync(up->dir_fd) < 0)
        rc = -errno;
    nd_io_close(&up->fd);
    nd_io_close(&up->tmp_dir_fd);
    nd_io_close(&up->dir_fd);
    return rc;
}

int
nd_store_dir_open(const struct nd_store *s, const char *path, struct nd_dir *d)
{
    int rc = nd_store_check_path(path, true);
    char trimmed[ND_PATH_MAX + 1];
    size_t len = strlen(path);

    d->dp = NULL;
    if (rc < 0)
        return rc;
    memcpy(trimmed, path, len + 1);
    if (len > 0 && trimmed[len - 1] == '/')
        trimmed[len - 1] = '\0';
    rc = resolve(s, trimmed, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rc < 0)
        return rc;
    d->dp = fdopendir(rc);
    if (d->dp == NULL) {
        int err = -errno;

        close(rc);
        return err;
    }
    return 0;
}

int
nd_store_dir_next(struct nd_dir *d, struct nd_entry *e)
{
    for (;;) {
        struct dirent *de;
        struct stat st;
        size_t n;

        errno = 0;
        de = readdir(d->dp);
        if (de == NULL)
            return errno != 0 ? -errno : 0;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            nd_store_reserved(de->d_name))
            continue;
        if (fstatat(dirfd(d->dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* removed since readdir: not worth failing the list */
        n = strlen(de->d_name);
        if (n > ND_NAME_MAX)
            continue;
        memcpy(e->name, de->d_name, n + 1);
        e->name_len = n;
        e->size = (uint64_t)st.st_size;
        e->mtime = st.st_mtim.tv_sec;
        e->type = S_ISREG(st.st_mode)   ? ND_FT_FILE
                  : S_ISDIR(st.st_mode) ? ND_FT_DIR
                  : S_ISLNK(st.st_mode) ? ND_FT_LINK
                                        : ND_FT_OTHER;
        return 1;
    }
}

void
nd_store_dir_close(struct nd_dir *d)
{
    if (d->dp != NULL)
        closedir(d->dp);
    d->dp = NULL;
}

/* Sweeps one directory; takes ownership of fd. */
static long
sweep_dir(int fd, int depth)
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

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode) && nd_store_reserved(de->d_name)) {
            if (unlinkat(dirfd(dp), de->d_name, 0) == 0)
                removed++;
        } else if (S_ISDIR(st.st_mode) && depth < SWEEP_DEPTH_MAX &&
                   !nd_store_reserved(de->d_name)) {
            /* A reserved directory holds the partial uploads that
             * nd_partial keeps for partial_ttl and sweeps itself. */
            int sub = openat(dirfd(dp), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                removed += sweep_dir(sub, depth + 1);
        }
    }
    closedir(dp);
    return removed;
}

long
nd_store_sweep(const struct nd_store *s)
{
    int fd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    return sweep_dir(fd, 0);
}
