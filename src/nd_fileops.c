/*
 * nd_fileops: MKDIR, REMOVE and RENAME beneath a user's root.  The parent
 * of every path is resolved by nd_store (confined, see nd_store.h); the
 * last component is handled with mkdirat, unlinkat and renameat2 relative
 * to that parent, none of which follows a symlink in the last component.
 *
 * A recursive remove keeps a stack of the directories it is inside, but
 * holds an fd only for the lowest RMTREE_WINDOW of them; a level whose fd
 * was given up is opened again by name from the nearest level still open,
 * with O_NOFOLLOW, when the walk climbs back to it.
 */
#include "nd_fileops.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_io.h"

/* Directory fds a tree walk holds open at most (besides its start). */
#define RMTREE_WINDOW 32
/* How often a tree walk rescans directories that new entries appeared in
 * while it emptied them (a concurrent upload) before giving up. */
#define RMTREE_RETRIES 64

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
/* A level of a tree walk: a directory, never a link to one. */
#define SUBDIR_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/*
 * Opens the directory holding path's last component (confined) and copies
 * that component into name.  path has passed nd_store_check_path() and is
 * not "".  Returns the directory fd (O_RDONLY, so it can be synced) or
 * -errno.
 */
static int
open_parent(const struct nd_store *s, const char *path,
            char name[ND_NAME_MAX + 1])
{
    char dir[ND_PATH_MAX + 1];
    const char *slash = strrchr(path, '/');
    size_t n = slash != NULL ? (size_t)(slash - path) : 0;

    memcpy(dir, path, n);
    dir[n] = '\0';
    snprintf(name, ND_NAME_MAX + 1, "%s", slash != NULL ? slash + 1 : path);
    return nd_store_resolve(s, dir, DIR_FLAGS);
}

/* fsyncs a directory after a change in it.  Returns 0 or -errno. */
static int
sync_dir(int fd)
{
    return fsync(fd) < 0 ? -errno : 0;
}

/* mkdir -p: creates each missing level inside the level above it, which
 * was itself resolved beneath the root. */
static int
mkdir_parents(const struct nd_store *s, const char *path, uint64_t *created)
{
    char prefix[ND_PATH_MAX + 1];
    const char *comp = path;
    int parent, rc = 0;

    parent = nd_store_resolve(s, "", DIR_FLAGS);
    if (parent < 0)
        return parent;
    for (;;) {
        const char *slash = strchr(comp, '/');
        size_t end = slash != NULL ? (size_t)(slash - path) : strlen(path);
        int fd;

        memcpy(prefix, path, end);
        prefix[end] = '\0';
        if (mkdirat(parent, prefix + (comp - path), ND_DIR_MODE) == 0) {
            (*created)++;
            rc = sync_dir(parent);
            if (rc < 0)
                break;
        } else if (errno != EEXIST) {
            rc = -errno;
            break;
        }
        /* Whatever has the name now, a link planted meanwhile included, is
         * resolved like any client path. */
        fd = nd_store_resolve(s, prefix, DIR_FLAGS);
        if (fd < 0) {
            /* mkdirat said the name exists: at the end of the path, a
             * file or a dangling link there is a name clash. */
            rc = slash == NULL && (fd == -ENOTDIR || fd == -ENOENT) ? -EEXIST
                                                                    : fd;
            break;
        }
        close(parent);
        parent = fd;
        if (slash == NULL)
            break;
        comp = slash + 1;
    }
    close(parent);
    return rc;
}

int
nd_fileops_mkdir(const struct nd_store *s, const char *path, bool parents,
                 uint64_t *created)
{
    char name[ND_NAME_MAX + 1];
    int dir, rc = nd_store_check_path(path, false);

    *created = 0;
    if (rc < 0)
        return rc;
    if (parents)
        return mkdir_parents(s, path, created);
    dir = open_parent(s, path, name);
    if (dir < 0)
        return dir;
    if (mkdirat(dir, name, ND_DIR_MODE) < 0) {
        rc = -errno;
    } else {
        (*created)++;
        rc = sync_dir(dir);
    }
    close(dir);
    return rc;
}

/*
 * Removes what it can directly inside the directory fd: every entry that is
 * not a directory, and every empty directory.  Returns 1 with the name of a
 * non-empty subdirectory in child (to descend into), 0 when the directory
 * is now empty, or -errno.
 */
static int
clear_dir(int fd, char child[ND_NAME_MAX + 1], uint64_t *removed)
{
    /* A fresh open file description, so every scan starts at the top. */
    int dfd = openat(fd, ".", DIR_FLAGS);
    struct dirent *de;
    DIR *dp;
    int rc;

    if (dfd < 0)
        return -errno;
    dp = fdopendir(dfd);
    if (dp == NULL) {
        rc = -errno;
        close(dfd);
        return rc;
    }
    for (;;) {
        errno = 0;
        de = readdir(dp);
        if (de == NULL) {
            rc = errno != 0 ? -errno : 0;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* Unlinking first needs no stat and cannot be raced: a link or a
         * file goes, a directory says EISDIR. */
        if (unlinkat(dirfd(dp), de->d_name, 0) == 0 ||
            (errno == EISDIR &&
             unlinkat(dirfd(dp), de->d_name, AT_REMOVEDIR) == 0)) {
            (*removed)++;
            continue;
        }
        if (errno == ENOENT)
            continue; /* gone since readdir */
        if (errno != ENOTEMPTY && errno != EEXIST) {
            rc = -errno;
            break;
        }
        snprintf(child, ND_NAME_MAX + 1, "%s", de->d_name);
        rc = 1;
        break;
    }
    closedir(dp);
    return rc;
}

/* One level of a tree walk: a directory and its name in the level above. */
struct level {
    int fd; /* SUBDIR_FLAGS, or -1 while given up */
    char name[ND_NAME_MAX + 1];
};

struct walk {
    int top;         /* the directory holding the tree, borrowed */
    struct level *v; /* v[0] is the tree's own directory */
    size_t depth, cap;
};

/* The fd of level i, opening it again by name from the nearest level above
 * that is still open; the levels in between stay open when they are within
 * the window below i's. */
static int
level_fd(struct walk *t, size_t i)
{
    size_t j = i + 1;

    if (t->v[i].fd >= 0)
        return t->v[i].fd;
    while (j > 0 && t->v[j - 1].fd < 0)
        j--;
    /* Levels j .. i are closed; j - 1 (or the top) is open. */
    for (size_t k = j; k <= i; k++) {
        int at = k == 0 ? t->top : t->v[k - 1].fd;

        t->v[k].fd = openat(at, t->v[k].name, SUBDIR_FLAGS);
        if (t->v[k].fd < 0)
            return -errno;
        if (k > 0 && k - 1 + RMTREE_WINDOW <= i)
            nd_io_close(&t->v[k - 1].fd);
    }
    return t->v[i].fd;
}

/* Pushes the subdirectory name of the lowest level.  Returns 0, 1 when it
 * is gone or no longer a directory (the caller rescans), or -errno. */
static int
level_push(struct walk *t, const char *name)
{
    struct level *l;
    int at = t->depth == 0 ? t->top : t->v[t->depth - 1].fd;

    if (t->depth == ND_RMTREE_DEPTH_MAX + 1)
        return -ND_ETOODEEP;
    if (t->depth == t->cap) {
        size_t cap = t->cap != 0 ? 2 * t->cap : 16;
        struct level *v = realloc(t->v, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    l = &t->v[t->depth];
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->fd = openat(at, name, SUBDIR_FLAGS);
    if (l->fd < 0) {
        /* Gone, or no longer a directory, since the scan: scan again. */
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return 1;
        return -errno;
    }
    t->depth++;
    /* Give up the fd of the level that just left the window. */
    if (t->depth > RMTREE_WINDOW)
        nd_io_close(&t->v[t->depth - 1 - RMTREE_WINDOW].fd);
    return 0;
}

/* Removes the (non-empty) directory name in top and everything below. */
static int
rmtree(int top, const char *name, uint64_t *removed)
{
    struct walk t = {.top = top};
    char child[ND_NAME_MAX + 1];
    int rc, retries = 0;

    rc = level_push(&t, name);
    if (rc > 0)
        rc = -ENOENT;
    while (rc == 0 && t.depth > 0) {
        size_t i = t.depth - 1;
        int fd = level_fd(&t, i), up;

        rc = fd < 0 ? fd : clear_dir(fd, child, removed);
        if (rc > 0) {
            rc = level_push(&t, child);
            if (rc > 0 && ++retries <= RMTREE_RETRIES)
                rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        /* Level i is empty: remove it from the level above. */
        up = i == 0 ? top : level_fd(&t, i - 1);
        if (up < 0) {
            rc = up;
            break;
        }
        nd_io_close(&t.v[i].fd);
        if (unlinkat(up, t.v[i].name, AT_REMOVEDIR) == 0) {
            (*removed)++;
            t.depth--;
        } else if (errno == ENOENT) {
            t.depth--;
        } else if ((errno == ENOTEMPTY || errno == EEXIST) &&
                   ++retries <= RMTREE_RETRIES) {
            continue; /* something appeared meanwhile: scan again */
        } else {
            rc = errno == EEXIST ? -ENOTEMPTY : -errno;
        }
    }
    if (rc > 0)
        rc = -ENOTEMPTY; /* it kept changing under the walk */
    for (size_t i = 0; i < t.depth; i++)
        nd_io_close(&t.v[i].fd);
    free(t.v);
    return rc;
}

int
nd_fileops_remove(const struct nd_store *s, const char *path, bool recursive,
                  uint64_t *removed)
{
    char name[ND_NAME_MAX + 1];
    int dir, rc = nd_store_check_path(path, false);

    *removed = 0;
    if (rc < 0)
        return rc;
    dir = open_parent(s, path, name);
    if (dir < 0)
        return dir;
    /* Linux's unlink says EISDIR for a directory and removes anything
     * else, a symlink as itself. */
    if (unlinkat(dir, name, 0) == 0 ||
        (errno == EISDIR && unlinkat(dir, name, AT_REMOVEDIR) == 0)) {
        (*removed)++;
        rc = 0;
    } else {
        /* POSIX lets rmdir say EEXIST for a non-empty directory. */
        rc = errno == EEXIST ? -ENOTEMPTY : -errno;
        if (rc == -ENOTEMPTY && recursive)
            rc = rmtree(dir, name, removed);
    }
    if (rc == 0)
        rc = sync_dir(dir);
    close(dir);
    return rc;
}

int
nd_fileops_rename(const struct nd_store *s, const char *from, const char *to)
{
    char from_name[ND_NAME_MAX + 1], to_name[ND_NAME_MAX + 1];
    int from_dir = -1, to_dir = -1, rc;

    rc = nd_store_check_path(from, false);
    if (rc == 0)
        rc = nd_store_check_path(to, false);
    if (rc < 0)
        return rc;
    from_dir = open_parent(s, from, from_name);
    if (from_dir < 0)
        return from_dir;
    to_dir = open_parent(s, to, to_name);
    if (to_dir < 0) {
        rc = to_dir;
        goto out;
    }
    if (renameat2(from_dir, from_name, to_dir, to_name, RENAME_NOREPLACE) < 0) {
        rc = -errno;
        goto out;
    }
    rc = sync_dir(to_dir);
    if (rc == 0)
        rc = sync_dir(from_dir);
out:
    nd_io_close(&from_dir);
    nd_io_close(&to_dir);
    return rc;
}
