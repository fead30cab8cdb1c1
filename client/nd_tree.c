/*
 * nd_tree: put -r and get -r.  Each operand becomes an item: a tree, or a
 * single file moved as without -r.  All operands are planned before the
 * first file moves, so the progress bar knows the batch's totals:
 *
 *   - put walks each local tree itself (never following a symbolic link
 *     below the operand) and needs no connection to do so;
 *   - get lists each remote tree with one LIST per directory over the run's
 *     session.
 *
 * The walk is breadth first over a growing array, so it needs no
 * recursion; the array is then sorted by path, '/' before every other
 * byte, which puts each directory before its contents and its contents
 * right after it (depth first, in name order).  Directories are made in
 * that order (MKDIR with the parents flag on the server, mkdir(2) here)
 * and every regular file goes through nd_xfer_put_file() or
 * nd_xfer_get_file(), so resume, the digest check, mtimes, -v and the
 * one-line failure reports are those of plain put and get.  get -r then
 * sets each directory's mtime in the reverse order, children before their
 * parent, once nothing more is written into it.
 *
 * A directory that cannot be made takes everything below it along; any
 * other failure is one line and the run goes on, unless the session is
 * lost.  The exit status is the highest of the failures.
 */
#include "nd_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_wire.h"
#include "nd_xfer.h"

/* The longest suffix nd_xfer and nd_resume add to a local name. */
#define PART_SUFFIX_MAX sizeof(".part.state.tmp")

/* A directory or regular file of a tree. */
struct node {
    char *rel;      /* the path below the tree's root; "" for the root */
    uint64_t size;  /* a file's size, for the batch's total */
    int64_t mtime;  /* get: the remote mtime (seconds), when has_mtime */
    unsigned depth; /* levels below the root */
    char type;      /* 'd' or 'f' */
    bool has_mtime;
    bool made; /* get: the local directory exists (made or found) */
};

/* One operand: a tree, or a single file. */
struct item {
    char *local;  /* put: the source; get: the destination */
    char *remote; /* put: the destination; get: the source ("": the root) */
    struct node *v;
    size_t n, cap;
    uint64_t size; /* put of a single file: its size, if known */
    bool tree;     /* a directory, planned in v */
    bool file;     /* anything else, moved as without -r */
};

/* The state of one put -r or get -r run. */
struct run {
    const struct nd_opts *o;
    const char *op; /* "put" or "get", for messages */
    struct nd_xfer *x;
    struct item *it;
    int nit;
    uint8_t *body; /* get: room for one LIST reply frame */
    int worst;     /* the highest exit status so far */
    unsigned files;
    uint64_t bytes;
    bool bytes_unknown; /* get of a single file: its size comes later */
};

/* Records rc as the run's status when it is worse (higher). */
static void
worst_of(struct run *r, int rc)
{
    if (rc > r->worst)
        r->worst = rc;
}

/* Prints a note on stderr, unless -q. */
static void __attribute__((format(printf, 2, 3)))
note(const struct run *r, const char *fmt, ...)
{
    char line[ND_LOCAL_MAX + 64];
    va_list ap;

    if (r->o->quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    nd_cli_err("%s", line);
}

/* Reports a local failure and records exit status 1. */
static void
fail_local(struct run *r, const char *what, const char *path, int err)
{
    nd_cli_err("%s \"%s\": %s", what, path, strerror(err));
    worst_of(r, ND_EXIT_LOCAL);
}

/* The length of join(a, b) below, without building it. */
static size_t
joined_len(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la == 0 || lb == 0)
        return la + lb;
    return la + lb + (a[la - 1] == '/' ? 0 : 1);
}

/* a and b with one '/' between them ("" stands for no component), newly
 * allocated; NULL when out of memory. */
static char *
join(const char *a, const char *b)
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

/* The last component of path, ignoring trailing slashes, into out. */
static void
base_name(const char *path, char *out, size_t cap)
{
    size_t end = strlen(path), start;

    while (end > 0 && path[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, cap, "%.*s", (int)(end - start), path + start);
}

/* True when a base name cannot name a copy: "", "." or "..". */
static bool
bad_base(const char *base)
{
    return base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
}

/* Drops trailing slashes, keeping a lone "/" (absolute, for the server to
 * refuse), and makes "." the root, "". */
static void
trim_remote(char *path)
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
    return path_cmp(((const struct node *)a)->rel,
                    ((const struct node *)b)->rel);
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

/* Appends a node, taking rel.  Returns 0 or -ENOMEM (rel is then freed). */
static int
add_node(struct item *it, char *rel, char type, unsigned depth, uint64_t size,
         int64_t mtime, bool has_mtime)
{
    if (it->n == it->cap) {
        size_t cap = it->cap != 0 ? 2 * it->cap : 64;
        struct node *v = realloc(it->v, cap * sizeof(*v));

        if (v == NULL) {
            free(rel);
            return -ENOMEM;
        }
        it->v = v;
        it->cap = cap;
    }
    it->v[it->n++] = (struct node){.rel = rel,
                                   .size = size,
                                   .mtime = mtime,
                                   .depth = depth,
                                   .type = type,
                                   .has_mtime = has_mtime};
    return 0;
}

static void
item_free(struct item *it)
{
    for (size_t i = 0; i < it->n; i++)
        free(it->v[i].rel);
    free(it->v);
    free(it->local);
    free(it->remote);
}

/*
 * Checks that the entry rel, depth levels down, can be copied: not too
 * deep, and its remote and local paths within the limits.  Otherwise
 * reports it (named by shown) and returns false.
 */
static bool
fits(struct run *r, const struct item *it, const char *rel, unsigned depth,
     const char *shown)
{
    const char *why = NULL;

    if (depth > ND_TREE_MAX_DEPTH)
        why = "more than 256 levels below the operand";
    else if (joined_len(it->remote, rel) > ND_PATH_MAX)
        why = "remote path longer than 4095 bytes";
    else if (joined_len(it->local, rel) + PART_SUFFIX_MAX > ND_LOCAL_MAX)
        why = "local path too long";
    if (why == NULL)
        return true;
    nd_cli_err("%s \"%s\": not copied: %s", r->op, shown, why);
    worst_of(r, ND_EXIT_LOCAL);
    return false;
}

/* --- put -r ------------------------------------------------------------ */

/*
 * Adds what the local directory node i holds to the item: directories
 * and regular files; symbolic links and special files are skipped with a
 * note.  Returns 0, or -ENOMEM (for the caller to report) to stop the
 * run.
 */
static int
walk_local_dir(struct run *r, struct item *it, size_t i)
{
    const char *dirrel = it->v[i].rel;
    unsigned depth = it->v[i].depth + 1;
    char *dirpath = join(it->local, dirrel);
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
        fail_local(r, "cannot open directory", dirpath, errno);
        free(dirpath);
        return 0;
    }
    for (errno = 0; rc == 0 && (de = readdir(d)) != NULL; errno = 0) {
        struct stat st;
        char *rel, *shown;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rel = join(dirrel, de->d_name);
        shown = rel != NULL ? join(it->local, rel) : NULL;
        if (shown == NULL) {
            rc = -ENOMEM;
        } else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
                   0) {
            fail_local(r, "cannot stat", shown, errno);
        } else if (S_ISLNK(st.st_mode)) {
            note(r, "skipping symlink \"%s\"", shown);
        } else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            note(r, "skipping special file \"%s\"", shown);
        } else if (fits(r, it, rel, depth, shown)) {
            bool dir = S_ISDIR(st.st_mode);

            rc = add_node(it, rel, dir ? 'd' : 'f', depth,
                          dir ? 0 : (uint64_t)st.st_size, 0, false);
            rel = NULL; /* taken, or freed on failure */
        }
        free(rel);
        free(shown);
    }
    if (rc == 0 && errno != 0)
        fail_local(r, "cannot read directory", dirpath, errno);
    closedir(d);
    free(dirpath);
    return rc;
}

/* Sends MKDIR with the parents flag for path.  Returns an exit status,
 * having reported any failure. */
static int
mkdir_remote(struct run *r, const char *path)
{
    struct nd_sess *s = nd_xfer_sess(r->x);
    uint8_t frame[ND_HDR_LEN + 16 + ND_PATH_MAX], body[ND_REPLY_MAX];
    size_t len;
    int rc;

    nd_sess_target(s, "mkdir", path);
    rc = nd_wire_send(&s->st, frame,
                      nd_proto_fsreq_encode(frame, sizeof(frame), ND_T_MKDIR,
                                            ND_MKDIR_PARENTS, path, NULL));
    if (rc < 0) {
        nd_xfer_lost(r->x);
        return nd_cli_fail_send(s, rc);
    }
    rc = nd_wire_expect(&s->st, ND_T_OK, body, sizeof(body), &len, s->msg,
                        sizeof(s->msg));
    if (rc == 0 && len != 0)
        rc = -EBADMSG; /* MKDIR gets a bare OK */
    if (rc == 0)
        return ND_EXIT_OK;
    if (rc < 0 || nd_cli_session_ends(rc))
        nd_xfer_lost(r->x);
    return nd_cli_fail_wire(s, rc);
}

/* Makes the remote directories of a planned tree and puts its files. */
static void
put_tree(struct run *r, struct item *it)
{
    const char *skip = NULL; /* a directory not made: skip what is below */

    qsort(it->v, it->n, sizeof(it->v[0]), node_cmp);
    for (size_t i = 0; i < it->n && nd_xfer_usable(r->x); i++) {
        const struct node *nd = &it->v[i];
        char *local, *remote;
        int rc;

        if (skip != NULL && below(skip, nd->rel))
            continue;
        local = join(it->local, nd->rel);
        remote = join(it->remote, nd->rel);
        if (local == NULL || remote == NULL) {
            fail_local(r, "put", it->local, ENOMEM);
            free(local);
            free(remote);
            return;
        }
        if (nd->type == 'f') {
            rc = nd_xfer_put_file(r->x, local, remote);
        } else if (remote[0] == '\0') {
            rc = ND_EXIT_OK; /* the root always exists */
        } else {
            rc = nd_xfer_open(r->x);
            if (rc == ND_EXIT_OK)
                rc = mkdir_remote(r, remote);
            if (rc != ND_EXIT_OK)
                skip = nd->rel;
        }
        worst_of(r, rc);
        free(local);
        free(remote);
    }
}

/*
 * Plans put's operand src: a tree when it is a directory (followed if it
 * is a link: the operand is what was named), else a single file.  into
 * says whether the copy goes below dest under src's base name, else to
 * dest itself.  Returns 0, -EINVAL after a usage error, or -ENOMEM.
 */
static int
plan_put(struct run *r, struct item *it, const char *src, const char *dest,
         bool into)
{
    char base[ND_LOCAL_MAX];
    struct stat st;
    bool dir = stat(src, &st) == 0 && S_ISDIR(st.st_mode);

    base_name(src, base, sizeof(base));
    if (into && dir && bad_base(base)) {
        nd_cli_usage("put -r: cannot name the remote directory after ", src);
        return -EINVAL;
    }
    it->local = strdup(src);
    it->remote = into ? join(dest, base) : strdup(dest);
    if (it->local == NULL || it->remote == NULL)
        return -ENOMEM;
    if (!into)
        trim_remote(it->remote);
    if (strlen(it->remote) > ND_PATH_MAX) {
        nd_cli_usage("put", ": remote path longer than 4095 bytes");
        return -EINVAL;
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
    if (add_node(it, strdup(""), 'd', 0, 0, 0, false) < 0 ||
        it->v[0].rel == NULL)
        return -ENOMEM;
    /* A breadth-first walk: the array grows behind the index. */
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i].type == 'f') {
            r->files++;
            r->bytes += it->v[i].size;
        } else if (walk_local_dir(r, it, i) < 0) {
            return -ENOMEM;
        }
    }
    return 0;
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

/* Frees what a run holds and returns its status. */
static int
run_end(struct run *r)
{
    for (int i = 0; i < r->nit; i++)
        item_free(&r->it[i]);
    free(r->it);
    free(r->body);
    nd_xfer_free(r->x);
    return r->worst;
}

int
nd_tree_put(const struct nd_opts *o, int n, char **args)
{
    struct run r = {.o = o, .op = "put"};
    const char *dest = n > 1 ? args[n - 1] : "";
    bool into;

    r.nit = n > 1 ? n - 1 : 1;
    /* One LOCAL with a REMOTE not ending in '/': the copy is REMOTE. */
    into = r.nit > 1 || dest[0] == '\0' || dest[strlen(dest) - 1] == '/';
    if (strcmp(dest, ".") == 0 || strcmp(dest, "./") == 0)
        dest = "";
    r.it = calloc((size_t)r.nit, sizeof(*r.it));
    r.x = nd_xfer_new(o, "put");
    if (r.it == NULL || r.x == NULL) {
        fail_local(&r, "put", args[0], ENOMEM);
        return run_end(&r);
    }
    for (int i = 0; i < r.nit; i++) {
        int rc = plan_put(&r, &r.it[i], args[i], dest, into);

        if (rc < 0) {
            if (rc == -ENOMEM)
                fail_local(&r, "put", args[i], ENOMEM);
            else
                r.worst = ND_EXIT_USAGE;
            return run_end(&r);
        }
    }
    nd_xfer_batch(r.x, r.files, r.bytes);
    for (int i = 0; i < r.nit && nd_xfer_usable(r.x); i++) {
        if (r.it[i].tree)
            put_tree(&r, &r.it[i]);
        else if (r.it[i].file)
            worst_of(&r, nd_xfer_put_file(r.x, r.it[i].local, r.it[i].remote));
    }
    return run_end(&r);
}

/* --- get -r ------------------------------------------------------------ */

/*
 * Adds one listed entry of the directory node i to the item.  Returns 0,
 * -ENOMEM, or -EBADMSG for a name no server may send (".", ".."), which
 * would lead the copy out of its directory.
 */
static int
add_remote_entry(struct run *r, struct item *it, size_t i,
                 const struct nd_entry *e)
{
    unsigned depth = it->v[i].depth + 1;
    char *rel, *shown;
    int rc = 0;

    if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
        return -EBADMSG;
    rel = join(it->v[i].rel, e->name);
    shown = rel != NULL ? join(it->remote, rel) : NULL;
    if (shown == NULL) {
        rc = -ENOMEM;
    } else if (e->type == ND_FT_LINK) {
        note(r, "skipping symlink \"%s\"", shown);
    } else if (e->type != ND_FT_DIR && e->type != ND_FT_FILE) {
        note(r, "skipping special file \"%s\"", shown);
    } else if (fits(r, it, rel, depth, shown)) {
        rc = add_node(it, rel, (char)e->type, depth,
                      e->type == ND_FT_FILE ? e->size : 0, e->mtime, true);
        rel = NULL; /* taken, or freed on failure */
    }
    free(rel);
    free(shown);
    return rc;
}

/*
 * Reads the reply to LIST for the directory node i, adding its entries to
 * the item as they arrive.  Returns 0 at END; a positive status for ERROR
 * (its message in the session's msg); -ECANCELED when END's total
 * disagrees with the entries received; -ENOMEM; -EBADMSG; or a negative
 * nd_wire error.
 */
static int
list_recv(struct run *r, struct item *it, size_t i)
{
    struct nd_sess *s = nd_xfer_sess(r->x);
    uint64_t count = 0, total;
    struct nd_hdr h;
    int rc;

    for (;;) {
        size_t off = 0;
        uint32_t n;

        rc = nd_wire_recv(&s->st, &h, r->body, ND_FRAME_MAX);
        if (rc < 0)
            return rc;
        if (h.type == ND_T_END) {
            rc = nd_proto_end_decode(r->body, h.len, &total);
            return rc == 0 && total != count ? -ECANCELED : rc;
        }
        if (h.type == ND_T_ERROR) {
            rc = nd_proto_error_decode(r->body, h.len, s->msg, sizeof(s->msg));
            return rc < 0 ? -EBADMSG : rc;
        }
        if (h.type != ND_T_ENTRIES ||
            nd_proto_entries_count(r->body, h.len, &n) < 0)
            return -EBADMSG;
        for (uint32_t k = 0; k < n; k++) {
            struct nd_entry e;

            if (nd_proto_entries_next(r->body, h.len, &off, &e) < 0)
                return -EBADMSG;
            rc = add_remote_entry(r, it, i, &e);
            if (rc < 0)
                return rc;
            count++;
        }
        /* Nothing may follow the last entry (an empty frame is its
         * count alone). */
        if ((n > 0 ? off : 4) != h.len)
            return -EBADMSG;
    }
}

/*
 * LISTs the directory node i, whose remote path is path, into the item.
 * Returns an exit status, having reported any failure, except that with
 * notdir non-NULL an ERROR NOTDIR sets *notdir instead: the operand may
 * be a file.  Only an ERROR after which the server goes on leaves the
 * session usable.
 */
static int
list_remote(struct run *r, struct item *it, size_t i, const char *path,
            bool *notdir)
{
    struct nd_sess *s = nd_xfer_sess(r->x);
    int rc;

    nd_sess_target(s, "get", path);
    rc = nd_sess_request(s, ND_T_LIST, 0);
    if (rc != ND_EXIT_OK) {
        nd_xfer_lost(r->x);
        return rc;
    }
    rc = list_recv(r, it, i);
    if (rc == 0)
        return ND_EXIT_OK;
    if (rc == ND_E_NOTDIR && notdir != NULL) {
        *notdir = true;
        return ND_EXIT_OK;
    }
    if (rc < 0 || nd_cli_session_ends(rc))
        nd_xfer_lost(r->x);
    if (rc == -ENOMEM) {
        nd_cli_err("%s: %s", s->ctx, strerror(ENOMEM));
        return ND_EXIT_LOCAL;
    }
    if (rc == -ECANCELED) {
        nd_cli_err("%s: malformed reply from server: END's total disagrees "
                   "with the entries sent",
                   s->ctx);
        return ND_EXIT_NET;
    }
    return nd_cli_fail_wire(s, rc);
}

/* Asks STAT for the mtime of the tree's root.  A failure is reported; the
 * root then keeps the mtime the copy gives it. */
static void
stat_root(struct run *r, struct item *it)
{
    struct nd_sess *s = nd_xfer_sess(r->x);
    struct nd_statinfo si;
    uint8_t body[ND_REPLY_MAX];
    size_t len;
    int rc;

    nd_sess_target(s, "get", it->remote);
    rc = nd_sess_request(s, ND_T_STAT, 0);
    if (rc != ND_EXIT_OK) {
        nd_xfer_lost(r->x);
        worst_of(r, rc);
        return;
    }
    rc = nd_wire_expect(&s->st, ND_T_STATINFO, body, sizeof(body), &len, s->msg,
                        sizeof(s->msg));
    if (rc == 0 && nd_proto_statinfo_decode(body, len, &si) < 0)
        rc = -EBADMSG;
    if (rc != 0) {
        if (rc < 0 || nd_cli_session_ends(rc))
            nd_xfer_lost(r->x);
        worst_of(r, nd_cli_fail_wire(s, rc));
        return;
    }
    it->v[0].mtime = si.mtime;
    it->v[0].has_mtime = true;
}

/*
 * Plans get's operand: LISTs it and, when it is a directory, every
 * directory below it, breadth first.  A remote file (LIST says NOTDIR) is
 * planned as a single file.  Failures are reported and recorded.
 */
static void
plan_get_remote(struct run *r, struct item *it)
{
    bool notdir = false;
    int rc = nd_xfer_open(r->x);

    if (rc != ND_EXIT_OK) {
        worst_of(r, rc);
        return;
    }
    if (add_node(it, strdup(""), 'd', 0, 0, 0, false) < 0 ||
        it->v[0].rel == NULL) {
        fail_local(r, "get", it->remote, ENOMEM);
        nd_xfer_lost(r->x);
        return;
    }
    rc = list_remote(r, it, 0, it->remote, &notdir);
    if (rc == ND_EXIT_OK && notdir && it->n == 1) {
        /* Not a directory, so most likely a file: get it as without -r,
         * which reports what else it may be. */
        it->file = true;
        r->files++;
        r->bytes_unknown = true;
        return;
    }
    if (notdir) /* after some entries: the listing broke off */
        rc = nd_cli_fail_wire(nd_xfer_sess(r->x), ND_E_NOTDIR);
    if (rc != ND_EXIT_OK) {
        worst_of(r, rc);
        return;
    }
    it->tree = true;
    stat_root(r, it);
    for (size_t i = 1; i < it->n && nd_xfer_usable(r->x); i++) {
        char *path;

        if (it->v[i].type == 'f') {
            r->files++;
            r->bytes += it->v[i].size;
            continue;
        }
        path = join(it->remote, it->v[i].rel);
        if (path == NULL) {
            fail_local(r, "get", it->remote, ENOMEM);
            nd_xfer_lost(r->x);
            break;
        }
        worst_of(r, list_remote(r, it, i, path, NULL));
        free(path);
    }
}

/*
 * Makes the local directory path, or accepts one that is there already;
 * a link or anything else in its place is refused, never followed.
 * Returns an exit status, having reported any failure.
 */
static int
mkdir_local(struct run *r, const char *path)
{
    struct stat st;
    int err;

    if (mkdir(path, 0777) == 0)
        return ND_EXIT_OK;
    err = errno;
    if (err == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ND_EXIT_OK;
    fail_local(r, "cannot create directory", path, err);
    return ND_EXIT_LOCAL;
}

/* Makes the local directories of a listed tree, gets its files, then sets
 * the directories' mtimes, deepest first. */
static void
get_tree(struct run *r, struct item *it)
{
    const char *skip = NULL; /* a directory not made: skip what is below */

    qsort(it->v, it->n, sizeof(it->v[0]), node_cmp);
    for (size_t i = 0; i < it->n && nd_xfer_usable(r->x); i++) {
        struct node *nd = &it->v[i];
        char *local, *remote;
        int rc;

        if (skip != NULL && below(skip, nd->rel))
            continue;
        local = join(it->local, nd->rel);
        remote = join(it->remote, nd->rel);
        if (local == NULL || remote == NULL) {
            fail_local(r, "get", it->local, ENOMEM);
            free(local);
            free(remote);
            break;
        }
        if (nd->type == 'f') {
            rc = nd_xfer_get_file(r->x, remote, local);
        } else {
            rc = mkdir_local(r, local);
            nd->made = rc == ND_EXIT_OK;
            if (!nd->made)
                skip = nd->rel;
        }
        worst_of(r, rc);
        free(local);
        free(remote);
    }
    /* Writing into a directory moves its mtime, so each is set only once
     * all below it is written; a child's mtime leaves its parent's be. */
    for (size_t i = it->n; i-- > 0;) {
        const struct node *nd = &it->v[i];
        struct timespec times[2] = {{0, UTIME_OMIT}, {nd->mtime, 0}};
        char *local;

        if (nd->type != 'd' || !nd->made || !nd->has_mtime)
            continue;
        local = join(it->local, nd->rel);
        if (local == NULL) {
            fail_local(r, "get", it->local, ENOMEM);
            break;
        }
        if (utimensat(AT_FDCWD, local, times, AT_SYMLINK_NOFOLLOW) < 0)
            fail_local(r, "cannot set the mtime of", local, errno);
        free(local);
    }
}

/*
 * Names get's copy of the operand src: ./BASE without dest, dest/BASE when
 * dest is an existing directory, else dest.  Returns 0, -EINVAL after a
 * usage error, -ENAMETOOLONG (reported) or -ENOMEM.
 */
static int
plan_get_names(struct run *r, struct item *it, const char *src,
               const char *dest, bool dest_dir)
{
    char base[ND_PATH_MAX + 1];

    it->remote = strdup(src);
    if (it->remote == NULL)
        return -ENOMEM;
    trim_remote(it->remote);
    base_name(it->remote, base, sizeof(base));
    if ((dest == NULL || dest_dir) && bad_base(base)) {
        nd_cli_usage("get -r: cannot name the local copy after ", src);
        return -EINVAL;
    }
    if (strlen(it->remote) > ND_PATH_MAX) {
        nd_cli_usage("get", ": remote path longer than 4095 bytes");
        return -EINVAL;
    }
    if (dest == NULL)
        it->local = strdup(base);
    else if (dest_dir)
        it->local = join(dest, base);
    else
        it->local = strdup(dest);
    if (it->local == NULL)
        return -ENOMEM;
    if (strlen(it->local) + PART_SUFFIX_MAX > ND_LOCAL_MAX) {
        fail_local(r, "cannot create", it->local, ENAMETOOLONG);
        return -ENAMETOOLONG;
    }
    return 0;
}

int
nd_tree_get(const struct nd_opts *o, int n, char **args)
{
    struct run r = {.o = o, .op = "get"};
    const char *dest = n > 1 ? args[n - 1] : NULL;
    struct stat st;
    bool dest_dir = dest != NULL && stat(dest, &st) == 0 && S_ISDIR(st.st_mode);

    r.nit = n > 1 ? n - 1 : 1;
    if (r.nit > 1 && !dest_dir)
        return nd_cli_usage("get: with several REMOTEs the last operand must "
                            "be an existing local directory: ",
                            dest);
    r.it = calloc((size_t)r.nit, sizeof(*r.it));
    r.body = malloc(ND_FRAME_MAX);
    r.x = nd_xfer_new(o, "get");
    if (r.it == NULL || r.body == NULL || r.x == NULL) {
        fail_local(&r, "get", args[0], ENOMEM);
        return run_end(&r);
    }
    /* Every name is checked before anything connects. */
    for (int i = 0; i < r.nit; i++) {
        int rc = plan_get_names(&r, &r.it[i], args[i], dest, dest_dir);

        if (rc < 0) {
            if (rc == -ENOMEM)
                fail_local(&r, "get", args[i], ENOMEM);
            else if (rc == -EINVAL)
                r.worst = ND_EXIT_USAGE;
            return run_end(&r);
        }
    }
    for (int i = 0; i < r.nit && nd_xfer_usable(r.x); i++)
        plan_get_remote(&r, &r.it[i]);
    nd_xfer_batch(r.x, r.files, r.bytes_unknown ? 0 : r.bytes);
    for (int i = 0; i < r.nit && nd_xfer_usable(r.x); i++) {
        if (r.it[i].tree)
            get_tree(&r, &r.it[i]);
        else if (r.it[i].file)
            worst_of(&r, nd_xfer_get_file(r.x, r.it[i].remote, r.it[i].local));
    }
    return run_end(&r);
}
