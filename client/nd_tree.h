/*
 * nd_tree: `netdisk put -r`, and what it shares with `netdisk get -r`
 * (nd_treeget): the plan of a tree, the run over one session, and the
 * copy of a planned tree in depth-first order.  The tree is walked first
 * (locally for put, with one LIST per directory for get), then its
 * directories are made and every regular file moved by nd_xfer exactly as
 * a single put or get moves it.  Single-threaded, like the client.
 */
#ifndef ND_TREE_H
#define ND_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_cli.h"
#include "nd_xfer.h"

/* A tree is walked at most this many levels below its root; a directory
 * deeper than that is reported and not copied.  The walk keeps a queue,
 * not a recursion, so this bounds the work, not the stack. */
#define ND_TREE_MAX_DEPTH 256

/*
 * Removes put's and get's own option, -r or --recursive, from the n words
 * after the command (anywhere before "--", which stays for the caller).
 * Returns true when it was there.
 */
bool nd_tree_take_flag(int *n, char **args);

/*
 * put -r with its n >= 1 operands: LOCAL... [REMOTE].  A directory LOCAL
 * is copied with everything below it: to REMOTE when one LOCAL is given
 * with a REMOTE not ending in '/' (made if missing, its contents merged),
 * else to REMOTE/ (or the root) plus LOCAL's base name.  Any other LOCAL
 * is put as without -r.  Symbolic links and special files below a LOCAL
 * are skipped with a note.  Returns the exit status: the highest of the
 * failures.
 */
int nd_tree_put(const struct nd_opts *o, int n, char **args);

/*
 * The rest is what nd_treeget builds get -r from.  Each operand becomes an
 * item: a tree, planned as an array of nodes, or a single file moved as
 * without -r.  A run reports every failure itself, in one line, and keeps
 * the highest exit status in worst.
 */

/* The longest suffix nd_xfer and nd_resume add to a local name. */
#define ND_TREE_SUFFIX_MAX sizeof(".part.state.tmp")

/* A directory or regular file of a tree. */
struct nd_tree_node {
    char *rel;      /* the path below the tree's root; "" for the root */
    uint64_t size;  /* a file's size, for the batch's total */
    int64_t mtime;  /* get: the remote mtime (seconds), when has_mtime */
    unsigned depth; /* levels below the root */
    char type;      /* 'd' or 'f' */
    bool has_mtime;
    bool made; /* get: the local directory exists (made or found) */
};

/* One operand: a tree, or a single file.  Owns its strings and nodes. */
struct nd_tree_item {
    char *local;  /* put: the source; get: the destination */
    char *remote; /* put: the destination; get: the source ("": the root) */
    struct nd_tree_node *v;
    size_t n, cap;
    uint64_t size; /* put of a single file: its size, if known */
    bool tree;     /* a directory, planned in v */
    bool file;     /* anything else, moved as without -r */
};

/* The state of one put -r or get -r run. */
struct nd_tree_run {
    const struct nd_opts *o;
    const char *op; /* "put" or "get", for messages */
    struct nd_xfer *x;
    struct nd_tree_item *it;
    int nit;
    uint8_t *body; /* get: room for one LIST reply frame */
    int worst;     /* the highest exit status so far */
    unsigned files;
    uint64_t bytes;
    bool bytes_unknown; /* get of a single file: its size comes later */
};

/*
 * Starts a run of op ("put" or "get") over nit >= 1 operands: r gets o,
 * op, nit empty items and an nd_xfer run, and with listing room for one
 * LIST reply in r->body.  Returns true, or false after reporting that
 * memory ran out (naming the operand first) and recording it in r->worst.
 * Either way the caller ends the run with nd_tree_run_end().
 */
bool nd_tree_run_start(struct nd_tree_run *r, const struct nd_opts *o,
                       const char *op, int nit, bool listing,
                       const char *first);

/* Frees everything r holds, closing its session.  Returns the run's exit
 * status, r->worst. */
int nd_tree_run_end(struct nd_tree_run *r);

/* a and b with one '/' between them ("" stands for no component), newly
 * allocated for the caller to free; NULL when out of memory. */
char *nd_tree_join(const char *a, const char *b);

/* Drops trailing slashes, keeping a lone "/" (absolute, for the server to
 * refuse), and makes "." the root, "". */
void nd_tree_trim_remote(char *path);

/* Appends the tree's root, the directory "", as node 0 of it.  Returns 0
 * or -ENOMEM. */
int nd_tree_add_root(struct nd_tree_item *it);

/* Appends a node to it, taking rel (malloc'ed).  Returns 0 or -ENOMEM (rel
 * is then freed). */
int nd_tree_add_node(struct nd_tree_item *it, char *rel, char type,
                     unsigned depth, uint64_t size, int64_t mtime,
                     bool has_mtime);

/*
 * Checks that the entry rel, depth levels down, can be copied: not too
 * deep, and its remote and local paths within the limits.  Otherwise
 * reports it (named by shown), records the failure and returns false.
 */
bool nd_tree_fits(struct nd_tree_run *r, const struct nd_tree_item *it,
                  const char *rel, unsigned depth, const char *shown);

/*
 * Copies one node of a tree: makes the directory, or moves the file, at
 * local and remote (valid during the call).  Returns an exit status,
 * having reported any failure.
 */
typedef int (*nd_tree_step_fn)(struct nd_tree_run *r, struct nd_tree_node *nd,
                               const char *local, const char *remote);

/*
 * Copies the planned tree it: sorts its nodes depth first, in name order
 * (each directory before its contents), then hands each to step while the
 * session is usable.  A directory step that fails takes everything below
 * it along.  Failures are recorded in r->worst; running out of memory
 * stops the copy.
 */
void nd_tree_copy(struct nd_tree_run *r, struct nd_tree_item *it,
                  nd_tree_step_fn step);

#endif
