/*
 * nd_tree: put -r, and the plan and copy that get -r (nd_treeget) shares.
 * Each operand becomes an item: a tree, or a single file moved as without
 * -r.  All operands are planned before the first file moves, so the
 * progress bar knows the batch's totals:
 *
 *   - put walks each local tree itself (never following a symbolic link
 *     below the operand) and needs no connection to do so;
 *   - get lists each remote tree with one LIST per directory over the run's
 *     session (nd_treeget).
 *
 * The walk is breadth first over a growing array, so it needs no
 * recursion; the array is then sorted by path, '/' before every other
 * byte, which puts each directory before its contents and its contents
 * right after it (depth first, in name order).  Directories are made in
 * that order (MKDIR with the parents flag on the server, mkdir(2) here)
 * and every regular file goes through nd_xfer_put_file() or
 * nd_xfer_get_file(), so resume, the digest check, mtimes, -v and the
 * one-line failure reports are those of plain put and get.
 *
 * A directory that cannot be made takes everything below it along; any
 * other failure is one line and the run goes on, unless the session is
 * lost.  The exit status is the highest of the failures.
 */
#include "nd_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_manage.h"

/* The length of nd_tree_join(a, b), without building it. */
static size_t
joined_len(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la == 0 || lb == 0)
        return la + lb;
    return la + lb + (a[la - 1] == '/' ? 0 : 1);
}

char *
nd_tree_join(const char *a, const char *b)
{
    size_t la = strlen(a), len = joined_len(a, b);
    char *out = malloc(len + 1);

    if (out == NULL)
        return NULL;
    if (la == 0 || b[0] == '\0')
        snprintf(out, len + 1, "%s%s", a, b);
    else
        snprintf(out, len + 1, "%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
    return out;
}

void
nd_tree_trim_remote(char *path)
{
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    if (strcmp(path, ".") == 0)
        path[0] = '\0';
}

/*
 * Orders paths as a depth-first walk visits them: '/' sorts before every
 * other byte, so "a" < "a/x" < "a b", and everything below a directory
 * follows it without a gap.
 */
static int
path_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned ca = *a == '/' ? 1u : *a == '\0' ? 0u : (unsigned char)*a + 1u;
        unsigned cb = *b == '/' ? 1u : *b == '\0' ? 0u : (unsigned char)*b + 1u;

        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca == 0)
            return 0;
    }
}

static int
node_cmp(const void *a, const void *b)
{
    return path_cmp(((const struct nd_tree_node *)a)->rel,
                    ((const struct nd_tree_node *)b)->rel);
}

/* True when rel lies below the directory dir (both relative to a tree's
 * root, "" being the root itself). */
static bool
below(const char *dir, const char *rel)
{
    size_t n = strlen(dir);

    if (n == 0)
        return rel[0] != '\0';
    return strncmp(rel, dir, n) == 0 && rel[n] == '/';
}

int
nd_tree_add_node(struct nd_tree_item *it, char *rel, char type, unsigned depth,
                 uint64_t size, int64_t mtime, bool has_mtime)
{
    if (it->n == it->cap) {
        size_t cap = it->cap != 0 ? 2 * it->cap : 64;
        struct nd_tree_node *v = realloc(it->v, cap * sizeof(*v));

        if (v == NULL) {
            free(rel);
            return -ENOMEM;
        }
        it->v = v;
        it->cap = cap;
    }
    it->v[it->n++] = (struct nd_tree_node){.rel = rel,
                                           .size = size,
                                           .mtime = mtime,
                                           .depth = depth,
                                           .type = type,
                                           .has_mtime = has_mtime};
    return 0;
}

int
nd_tree_add_root(struct nd_tree_item *it)
{
    /* A failed strdup() still leaves a node, for item_free() to free. */
    if (nd_tree_add_node(it, strdup(""), 'd', 0, 0, 0, false) < 0 ||
        it->v[0].rel == NULL)
        return -ENOMEM;
    return 0;
}

static void
item_free(struct nd_tree_item *it)
{
    for (size_t i = 0; i < it->n; i++)
        free(it->v[i].rel);
    free(it->v);
    free(it->local);
    free(it->remote);
}

bool
nd_tree_fits(struct nd_tree_run *r, const struct nd_tree_item *it,
             const char *rel, unsigned depth, const char *shown)
{
    const char *why = NULL;

    if (depth > ND_TREE_MAX_DEPTH)
        why = "more than 256 levels below the operand";
    else if (joined_len(it->remote, rel) > ND_PATH_MAX)
        why = "remote path longer than 4095 bytes";
    else if (joined_len(it->local, rel) + ND_TREE_SUFFIX_MAX > ND_LOCAL_MAX)
        why = "local path too long";
    if (why == NULL)
        return true;
    nd_cli_err("%s \"%s\": not copied: %s", r->op, shown, why);
    nd_cli_worst(&r->worst, ND_EXIT_LOCAL);
    return false;
}

bool
nd_tree_run_start(struct nd_tree_run *r, const struct nd_opts *o,
                  const char *op, int nit, bool listing, const char *first)
{
    *r = (struct nd_tree_run){.o = o, .op = op, .nit = nit};
    r->it = calloc((size_t)nit, sizeof(*r->it));
    r->body = listing ? malloc(ND_FRAME_MAX) : NULL;
    r->x = nd_xfer_new(o, op);
    if (r->it != NULL && (r->body != NULL || !listing) && r->x != NULL)
        return true;
    nd_cli_worst(&r->worst, nd_cli_fail_local(op, first, ENOMEM));
    return false;
}

int
nd_tree_run_end(struct nd_tree_run *r)
{
    for (int i = 0; r->it != NULL && i < r->nit; i++)
        item_free(&r->it[i]);
    free(r->it);
    free(r->body);
    nd_xfer_free(r->x);
    return r->worst;
}

void
nd_tree_copy(struct nd_tree_run *r, struct nd_tree_item *it,
             nd_tree_step_fn step)
{
    const char *skip = NULL; /* a directory not made: skip what is below */

    qsort(it->v, it->n, sizeof(it->v[0]), node_cmp);
    for (size_t i = 0; i < it->n && nd_xfer_usable(r->x); i++) {
        struct nd_tree_node *nd = &it->v[i];
        char *local, *remote;
        int rc;

        if (skip != NULL && below(skip, nd->rel))
            continue;
        local = nd_tree_join(it->local, nd->rel);
        remote = nd_tree_join(it->remote, nd->rel);
        if (local == NULL || remote == NULL) {
            nd_cli_worst(&r->worst,
                         nd_cli_fail_local(r->op, it->local, ENOMEM));
            free(local);
            free(remote);
            break;
        }
        rc = step(r, nd, local, remote);
        if (rc != ND_EXIT_OK && nd->type == 'd')
            skip = nd->rel;
        nd_cli_worst(&r->worst, rc);
        free(local);
        free(remote);
    }
}

/* --- put -r ------------------------------------------------------------ */

/*
 * Adds what the local directory node i holds to the item: directories
 * and regular files; symbolic links and special files are skipped with a
 * note.  Returns 0, or -ENOMEM (for the caller to report) to stop the
 * run.
 */
static int
walk_local_dir(struct nd_tree_run *r, struct nd_tree_item *it, size_t i)
{
    const char *dirrel = it->v[i].rel;
    unsigned depth = it->v[i].depth + 1;
    char *dirpath = nd_tree_join(it->local, dirrel);
    struct dirent *de;
    DIR *d = NULL;
    int fd, rc = 0;

    if (dirpath == NULL)
        return -ENOMEM;
    /* The operand itself is taken as named; nothing below it is followed,
     * even if a directory was replaced by a link since it was seen. */
    fd = open(dirpath,
              O_RDONLY | O_DIRECTORY | O_CLOEXEC | (i > 0 ? O_NOFOLLOW : 0));
    if (fd >= 0 && (d = fdopendir(fd)) == NULL) {
        int err = errno;

        close(fd);
        errno = err;
    }
    if (d == NULL) {
        nd_cli_worst(&r->worst, nd_cli_fail_local("cannot open directory",
                                                  dirpath, errno));
        free(dirpath);
        return 0;
    }
    for (errno = 0; rc == 0 && (de = readdir(d)) != NULL; errno = 0) {
        struct stat st;
        char *rel, *shown;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rel = nd_tree_join(dirrel, de->d_name);
        shown = rel != NULL ? nd_tree_join(it->local, rel) : NULL;
        if (shown == NULL) {
            rc = -ENOMEM;
        } else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
                   0) {
            nd_cli_worst(&r->worst,
                         nd_cli_fail_local("cannot stat", shown, errno));
        } else if (S_ISLNK(st.st_mode)) {
            nd_cli_note(r->o, "skipping symlink \"%s\"", shown);
        } else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            nd_cli_note(r->o, "skipping special file \"%s\"", shown);
        } else if (nd_tree_fits(r, it, rel, depth, shown)) {
            bool dir = S_ISDIR(st.st_mode);

            rc = nd_tree_add_node(it, rel, dir ? 'd' : 'f', depth,
                                  dir ? 0 : (uint64_t)st.st_size, 0, false);
            rel = NULL; /* taken, or freed on failure */
        }
        free(rel);
        free(shown);
    }
    if (rc == 0 && errno != 0)
        nd_cli_worst(&r->worst, nd_cli_fail_local("cannot read directory",
                                                  dirpath, errno));
    closedir(d);
    free(dirpath);
    return rc;
}

/* Copies one node of put's tree (nd_tree_step_fn): a file by nd_xfer, a
 * directory by MKDIR with the parents flag. */
static int
put_node(struct nd_tree_run *r, struct nd_tree_node *nd, const char *local,
         const char *remote)
{
    bool fatal = false;
    int rc;

    if (nd->type == 'f')
        return nd_xfer_put_file(r->x, local, remote);
    if (remote[0] == '\0')
        return ND_EXIT_OK; /* the root always exists */
    rc = nd_xfer_open(r->x);
    if (rc != ND_EXIT_OK)
        return rc;
    rc = nd_manage_request(nd_xfer_sess(r->x), ND_T_MKDIR, ND_MKDIR_PARENTS,
                           remote, NULL, &fatal);
    if (fatal)
        nd_xfer_lost(r->x);
    return rc;
}

/*
 * Plans put's operand src: a tree when it is a directory (followed if it
 * is a link: the operand is what was named), else a single file.  into
 * says whether the copy goes below dest under src's base name, else to
 * dest itself.  Returns 0, or -1 when the run must stop: after a usage
 * error or running out of memory, reported and recorded.
 */
static int
plan_put(struct nd_tree_run *r, struct nd_tree_item *it, const char *src,
         const char *dest, bool into)
{
    char base[ND_LOCAL_MAX];
    struct stat st;
    bool dir = stat(src, &st) == 0 && S_ISDIR(st.st_mode);

    if (!nd_xfer_base_name(src, base, sizeof(base)) && into && dir) {
        nd_cli_usage("put -r: cannot name the remote directory after ", src);
        nd_cli_worst(&r->worst, ND_EXIT_USAGE);
        return -1;
    }
    it->local = strdup(src);
    it->remote = into ? nd_tree_join(dest, base) : strdup(dest);
    if (it->local == NULL || it->remote == NULL)
        goto nomem;
    if (!into)
        nd_tree_trim_remote(it->remote);
    if (strlen(it->remote) > ND_PATH_MAX) {
        nd_cli_usage("put", ": remote path longer than 4095 bytes");
        nd_cli_worst(&r->worst, ND_EXIT_USAGE);
        return -1;
    }
    it->tree = dir;
    it->file = !dir;
    if (!dir) {
        /* Anything else goes as without -r, which reports what is wrong. */
        it->size = stat(src, &st) == 0 && S_ISREG(st.st_mode)
                       ? (uint64_t)st.st_size
                       : 0;
        r->files++;
        r->bytes += it->size;
        return 0;
    }
    if (nd_tree_add_root(it) < 0)
        goto nomem;
    /* A breadth-first walk: the array grows behind the index. */
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i].type == 'f') {
            r->files++;
            r->bytes += it->v[i].size;
        } else if (walk_local_dir(r, it, i) < 0) {
            goto nomem;
        }
    }
    return 0;
nomem:
    nd_cli_worst(&r->worst, nd_cli_fail_local("put", src, ENOMEM));
    return -1;
}

bool
nd_tree_take_flag(int *n, char **args)
{
    bool found = false;
    int i, k = 0;

    for (i = 0; i < *n && strcmp(args[i], "--") != 0; i++) {
        if (strcmp(args[i], "-r") == 0 || strcmp(args[i], "--recursive") == 0)
            found = true;
        else
            args[k++] = args[i];
    }
    while (i < *n)
        args[k++] = args[i++];
    *n = k;
    return found;
}

int
nd_tree_put(const struct nd_opts *o, int n, char **args)
{
    struct nd_tree_run r;
    const char *dest = n > 1 ? args[n - 1] : "";
    int nit = n > 1 ? n - 1 : 1;
    /* One LOCAL with a REMOTE not ending in '/': the copy is REMOTE. */
    bool into = nit > 1 || dest[0] == '\0' || dest[strlen(dest) - 1] == '/';

    if (strcmp(dest, ".") == 0 || strcmp(dest, "./") == 0)
        dest = "";
    if (!nd_tree_run_start(&r, o, "put", nit, false, args[0]))
        return nd_tree_run_end(&r);
    for (int i = 0; i < r.nit; i++)
        if (plan_put(&r, &r.it[i], args[i], dest, into) < 0)
            return nd_tree_run_end(&r);
    nd_xfer_batch(r.x, r.files, r.bytes);
    for (int i = 0; i < r.nit && nd_xfer_usable(r.x); i++) {
        if (r.it[i].tree)
            nd_tree_copy(&r, &r.it[i], put_node);
        else if (r.it[i].file)
            nd_cli_worst(&r.worst,
                         nd_xfer_put_file(r.x, r.it[i].local, r.it[i].remote));
    }
    return nd_tree_run_end(&r);
}
