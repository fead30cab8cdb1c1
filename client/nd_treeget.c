/*
 * nd_treeget: get -r.  Each operand is planned with one LIST per remote
 * directory over the run's session, breadth first, before the first file
 * moves; an operand that LIST finds is not a directory is got as without
 * -r.  Symbolic links and special files on the server are skipped with a
 * note.  The planned tree is then copied by nd_tree_copy(): directories
 * with mkdir(2), files with nd_xfer_get_file().  Last, each directory gets
 * its remote mtime in the reverse order, children before their parent,
 * once nothing more is written into it.
 */
#include "nd_treeget.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_ls.h"
#include "nd_tree.h"
#include "nd_wire.h"
#include "nd_xfer.h"

/* Where the entries of one LIST reply go: below the directory node i. */
struct listed {
    struct nd_tree_run *r;
    struct nd_tree_item *it;
    size_t i;
};

/*
 * Adds one listed entry of the directory node l->i to the item
 * (nd_ls_entry_fn).  Returns 0, -ENOMEM, or -EBADMSG for a name no server
 * may send (".", ".."), which would lead the copy out of its directory.
 */
static int
add_remote_entry(void *arg, const struct nd_entry *e)
{
    const struct listed *l = arg;
    struct nd_tree_item *it = l->it;
    unsigned depth = it->v[l->i].depth + 1;
    char *rel, *shown;
    int rc = 0;

    if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
        return -EBADMSG;
    rel = nd_tree_join(it->v[l->i].rel, e->name);
    shown = rel != NULL ? nd_tree_join(it->remote, rel) : NULL;
    if (shown == NULL) {
        rc = -ENOMEM;
    } else if (e->type == ND_FT_LINK) {
        nd_cli_note(l->r->o, "skipping symlink \"%s\"", shown);
    } else if (e->type != ND_FT_DIR && e->type != ND_FT_FILE) {
        nd_cli_note(l->r->o, "skipping special file \"%s\"", shown);
    } else if (nd_tree_fits(l->r, it, rel, depth, shown)) {
        rc = nd_tree_add_node(it, rel, (char)e->type, depth,
                              e->type == ND_FT_FILE ? e->size : 0, e->mtime,
                              true);
        rel = NULL; /* taken, or freed on failure */
    }
    free(rel);
    free(shown);
    return rc;
}

/*
 * LISTs the directory node i, whose remote path is path, into the item.
 * Returns an exit status, having reported any failure, except that with
 * notdir non-NULL an ERROR NOTDIR sets *notdir instead: the operand may
 * be a file.  Only an ERROR after which the server goes on leaves the
 * session usable.
 */
static int
list_remote(struct nd_tree_run *r, struct nd_tree_item *it, size_t i,
            const char *path, bool *notdir)
{
    struct nd_sess *s = nd_xfer_sess(r->x);
    struct listed l = {.r = r, .it = it, .i = i};
    uint64_t total;
    int rc;

    nd_sess_target(s, "get", path);
    rc = nd_sess_request(s, ND_T_LIST, 0);
    if (rc != ND_EXIT_OK) {
        nd_xfer_lost(r->x);
        return rc;
    }
    rc = nd_ls_recv(s, r->body, add_remote_entry, &l, &total);
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
stat_root(struct nd_tree_run *r, struct nd_tree_item *it)
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
        nd_cli_worst(&r->worst, rc);
        return;
    }
    rc = nd_wire_expect(&s->st, ND_T_STATINFO, body, sizeof(body), &len, s->msg,
                        sizeof(s->msg));
    if (rc == 0 && nd_proto_statinfo_decode(body, len, &si) < 0)
        rc = -EBADMSG;
    if (rc != 0) {
        if (rc < 0 || nd_cli_session_ends(rc))
            nd_xfer_lost(r->x);
        nd_cli_worst(&r->worst, nd_cli_fail_wire(s, rc));
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
plan_get_remote(struct nd_tree_run *r, struct nd_tree_item *it)
{
    bool notdir = false;
    int rc = nd_xfer_open(r->x);

    if (rc != ND_EXIT_OK) {
        nd_cli_worst(&r->worst, rc);
        return;
    }
    if (nd_tree_add_root(it) < 0) {
        nd_cli_worst(&r->worst, nd_cli_fail_local("get", it->remote, ENOMEM));
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
        nd_cli_worst(&r->worst, rc);
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
        path = nd_tree_join(it->remote, it->v[i].rel);
        if (path == NULL) {
            nd_cli_worst(&r->worst,
                         nd_cli_fail_local("get", it->remote, ENOMEM));
            nd_xfer_lost(r->x);
            break;
        }
        nd_cli_worst(&r->worst, list_remote(r, it, i, path, NULL));
        free(path);
    }
}

/*
 * Makes the local directory path, or accepts one that is there already;
 * a link or anything else in its place is refused, never followed.
 * Returns an exit status, having reported any failure.
 */
static int
mkdir_local(const char *path)
{
    struct stat st;
    int err;

    if (mkdir(path, 0777) == 0)
        return ND_EXIT_OK;
    err = errno;
    if (err == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ND_EXIT_OK;
    return nd_cli_fail_local("cannot create directory", path, err);
}

/* Copies one node of get's tree (nd_tree_step_fn): a file by nd_xfer, a
 * directory by mkdir_local(), noting whether it now exists. */
static int
get_node(struct nd_tree_run *r, struct nd_tree_node *nd, const char *local,
         const char *remote)
{
    int rc;

    if (nd->type == 'f')
        return nd_xfer_get_file(r->x, remote, local);
    rc = mkdir_local(local);
    nd->made = rc == ND_EXIT_OK;
    return rc;
}

/* Copies a listed tree, then sets the directories' mtimes, deepest
 * first. */
static void
get_tree(struct nd_tree_run *r, struct nd_tree_item *it)
{
    nd_tree_copy(r, it, get_node);
    /* Writing into a directory moves its mtime, so each is set only once
     * all below it is written; a child's mtime leaves its parent's be. */
    for (size_t i = it->n; i-- > 0;) {
        const struct nd_tree_node *nd = &it->v[i];
        struct timespec times[2] = {{0, UTIME_OMIT}, {nd->mtime, 0}};
        char *local;

        if (nd->type != 'd' || !nd->made || !nd->has_mtime)
            continue;
        local = nd_tree_join(it->local, nd->rel);
        if (local == NULL) {
            nd_cli_worst(&r->worst,
                         nd_cli_fail_local("get", it->local, ENOMEM));
            break;
        }
        if (utimensat(AT_FDCWD, local, times, AT_SYMLINK_NOFOLLOW) < 0)
            nd_cli_worst(&r->worst, nd_cli_fail_local("cannot set the mtime of",
                                                      local, errno));
        free(local);
    }
}

/*
 * Names get's copy of the operand src: ./BASE without dest, dest/BASE when
 * dest is an existing directory, else dest.  Returns 0, or -1 when the run
 * must stop: after a usage error, a local name too long or running out of
 * memory, reported and recorded.
 */
static int
plan_get_names(struct nd_tree_run *r, struct nd_tree_item *it, const char *src,
               const char *dest, bool dest_dir)
{
    char base[ND_PATH_MAX + 1];

    it->remote = strdup(src);
    if (it->remote == NULL)
        goto nomem;
    nd_tree_trim_remote(it->remote);
    if (!nd_xfer_base_name(it->remote, base, sizeof(base)) &&
        (dest == NULL || dest_dir)) {
        nd_cli_usage("get -r: cannot name the local copy after ", src);
        nd_cli_worst(&r->worst, ND_EXIT_USAGE);
        return -1;
    }
    if (strlen(it->remote) > ND_PATH_MAX) {
        nd_cli_usage("get", ": remote path longer than 4095 bytes");
        nd_cli_worst(&r->worst, ND_EXIT_USAGE);
        return -1;
    }
    if (dest == NULL)
        it->local = strdup(base);
    else if (dest_dir)
        it->local = nd_tree_join(dest, base);
    else
        it->local = strdup(dest);
    if (it->local == NULL)
        goto nomem;
    if (strlen(it->local) + ND_TREE_SUFFIX_MAX > ND_LOCAL_MAX) {
        nd_cli_worst(&r->worst, nd_cli_fail_local("cannot create", it->local,
                                                  ENAMETOOLONG));
        return -1;
    }
    return 0;
nomem:
    nd_cli_worst(&r->worst, nd_cli_fail_local("get", src, ENOMEM));
    return -1;
}

int
nd_treeget_cmd(const struct nd_opts *o, int n, char **args)
{
    struct nd_tree_run r;
    const char *dest = n > 1 ? args[n - 1] : NULL;
    int nit = n > 1 ? n - 1 : 1;
    struct stat st;
    bool dest_dir = dest != NULL && stat(dest, &st) == 0 && S_ISDIR(st.st_mode);

    if (nit > 1 && !dest_dir)
        return nd_cli_usage("get: with several REMOTEs the last operand must "
                            "be an existing local directory: ",
                            dest);
    if (!nd_tree_run_start(&r, o, "get", nit, true, args[0]))
        return nd_tree_run_end(&r);
    /* Every name is checked before anything connects. */
    for (int i = 0; i < r.nit; i++)
        if (plan_get_names(&r, &r.it[i], args[i], dest, dest_dir) < 0)
            return nd_tree_run_end(&r);
    for (int i = 0; i < r.nit && nd_xfer_usable(r.x); i++)
        plan_get_remote(&r, &r.it[i]);
    nd_xfer_batch(r.x, r.files, r.bytes_unknown ? 0 : r.bytes);
    for (int i = 0; i < r.nit && nd_xfer_usable(r.x); i++) {
        if (r.it[i].tree)
            get_tree(&r, &r.it[i]);
        else if (r.it[i].file)
            nd_cli_worst(&r.worst,
                         nd_xfer_get_file(r.x, r.it[i].remote, r.it[i].local));
    }
    return nd_tree_run_end(&r);
}
