/*
 * nd_ls: `netdisk ls [-l] [-R] [DIR]`.  One LIST per directory over one
 * session.  Plain ls prints the script-friendly line it always has; -l a
 * long format for people (human-readable sizes, local time); -R walks the
 * tree depth first in name order, as ls -R does, never following a
 * symbolic link.
 */
#include "nd_ls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_progress.h"
#include "nd_wire.h"

#define LS_LONG 0x1
#define LS_RECURSIVE 0x2

/* One listed entry; the name is owned by the listing. */
struct ls_ent {
    uint64_t size;
    int64_t mtime;
    char *name;
    char type;
};

struct listing {
    struct ls_ent *v;
    size_t n, cap;
};

/* The state of one ls run. */
struct ls_run {
    struct nd_sess s;
    unsigned flags;
    int worst;    /* the highest exit status of a directory that failed */
    bool fatal;   /* the session can carry no further request */
    bool printed; /* a directory was printed: the next needs a blank line */
};

static void
listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Appends one entry to the listing l (nd_ls_entry_fn).  Returns 0 or
 * -ENOMEM. */
static int
ls_add(void *arg, const struct nd_entry *e)
{
    struct listing *l = arg;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct ls_ent *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].name = strdup(e->name);
    if (l->v[l->n].name == NULL)
        return -ENOMEM;
    l->v[l->n].type = (char)e->type;
    l->v[l->n].size = e->size;
    l->v[l->n++].mtime = e->mtime;
    return 0;
}

/* Hands the entries of one ENTRIES body to each, counting them in *count.
 * Returns 0, -EBADMSG or each's error. */
static int
recv_frame(const uint8_t *body, size_t len, nd_ls_entry_fn each, void *arg,
           uint64_t *count)
{
    struct nd_entry e;
    size_t off = 4;
    uint32_t n;
    int rc;

    if (nd_proto_entries_count(body, len, &n) < 0)
        return -EBADMSG;
    for (uint32_t i = 0; i < n; i++) {
        if (nd_proto_entries_next(body, len, &off, &e) < 0)
            return -EBADMSG;
        rc = each(arg, &e);
        if (rc < 0)
            return rc;
        (*count)++;
    }
    /* Nothing may follow the last entry (an empty frame is its count
     * alone). */
    return off == len ? 0 : -EBADMSG;
}

int
nd_ls_recv(struct nd_sess *s, uint8_t *body, nd_ls_entry_fn each, void *arg,
           uint64_t *total)
{
    uint64_t count = 0;
    struct nd_hdr h;
    int rc = 0;

    while (rc == 0) {
        rc = nd_wire_recv(&s->st, &h, body, ND_FRAME_MAX);
        if (rc < 0)
            return rc;
        if (h.type == ND_T_ENTRIES) {
            rc = recv_frame(body, h.len, each, arg, &count);
        } else if (h.type == ND_T_END) {
            rc = nd_proto_end_decode(body, h.len, total);
            return rc == 0 && *total != count ? -ECANCELED : rc;
        } else if (h.type == ND_T_ERROR) {
            rc = nd_proto_error_decode(body, h.len, s->msg, sizeof(s->msg));
            return rc < 0 ? -EBADMSG : rc;
        } else {
            rc = -EBADMSG;
        }
    }
    return rc;
}

static int
ls_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ls_ent *)a)->name,
                  ((const struct ls_ent *)b)->name);
}

/*
 * Sends LIST for path and collects the whole listing, sorted by name.
 * Returns an exit status, having reported any failure; r->fatal is set
 * when the session is over.
 */
static int
ls_list(struct ls_run *r, const char *path, struct listing *l)
{
    uint8_t *body = malloc(ND_FRAME_MAX);
    uint64_t total = 0;
    int rc;

    nd_sess_target(&r->s, "ls", path);
    rc = nd_sess_request(&r->s, ND_T_LIST, 0);
    if (rc != ND_EXIT_OK) {
        free(body);
        r->fatal = true;
        return rc;
    }
    rc = body != NULL ? nd_ls_recv(&r->s, body, ls_add, l, &total) : -ENOMEM;
    free(body);
    if (rc == 0) {
        if (l->n > 0)
            qsort(l->v, l->n, sizeof(l->v[0]), ls_cmp);
        return ND_EXIT_OK;
    }
    /* An ERROR reply ends the exchange cleanly; anything else leaves the
     * rest of the listing unread, so the session is over. */
    r->fatal = rc <= 0 || nd_cli_session_ends(rc);
    if (rc == -ENOMEM) {
        nd_cli_err("%s: %s", r->s.ctx, strerror(ENOMEM));
        return ND_EXIT_LOCAL;
    }
    if (rc == -ECANCELED) {
        nd_cli_err("%s: malformed reply from server: %" PRIu64
                   " entries announced, %zu received",
                   r->s.ctx, total, l->n);
        return ND_EXIT_NET;
    }
    return nd_cli_fail_wire(&r->s, rc);
}

/* Writes s with control bytes shown as '?'. */
static void
put_scrubbed(const char *s)
{
    for (const char *p = s; *p != '\0'; p++)
        putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
}

/* Prints one entry, plain (the scripts' format) or long. */
static void
ls_print(const struct ls_ent *e, bool lng)
{
    char when[32] = "----------T--:--:--Z", size[16];
    char type =
        e->type == 'f' || e->type == 'd' || e->type == 'l' ? e->type : '?';
    time_t t = (time_t)e->mtime;
    struct tm tm;

    if (!lng) {
        if (gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%c %12" PRIu64 " %s ", type, e->size, when);
    } else {
        snprintf(when, sizeof(when), "---------- --:--");
        if (localtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        nd_human_size(e->size, size, sizeof(size));
        printf("%c %5s %s ", type, size, when);
    }
    put_scrubbed(e->name);
    putchar('\n');
}

/*
 * Lists path and, with -R, every directory below it, depth first in name
 * order.  depth counts the levels below the first directory.  Failures
 * are reported and recorded in r; only a lost session stops the walk.
 */
static void
ls_dir(struct ls_run *r, const char *path, unsigned depth)
{
    struct listing l = {0};
    int rc;

    rc = ls_list(r, path, &l);
    if (rc != ND_EXIT_OK) {
        if (rc > r->worst)
            r->worst = rc;
        listing_free(&l);
        return;
    }
    if (r->flags & LS_RECURSIVE) {
        if (r->printed)
            putchar('\n');
        put_scrubbed(path[0] != '\0' ? path : ".");
        fputs(":\n", stdout);
        r->printed = true;
    }
    for (size_t i = 0; i < l.n; i++)
        ls_print(&l.v[i], r->flags & LS_LONG);
    /* Keep the listing ahead of any message about a subdirectory. */
    if (fflush(stdout) != 0)
        r->fatal = true;
    for (size_t i = 0; (r->flags & LS_RECURSIVE) && i < l.n && !r->fatal; i++) {
        char sub[ND_PATH_MAX + 1];
        int n;

        /* Type 'l' is a symbolic link: listed, never descended. */
        if (l.v[i].type != 'd')
            continue;
        n = snprintf(sub, sizeof(sub), "%s%s%s", path,
                     path[0] != '\0' ? "/" : "", l.v[i].name);
        if (n < 0 || (size_t)n >= sizeof(sub) || depth + 1 > ND_LS_MAX_DEPTH) {
            nd_cli_err("ls \"%s/%s\": not listed: %s", path, l.v[i].name,
                       n >= 0 && (size_t)n >= sizeof(sub)
                           ? "path longer than 4095 bytes"
                           : "more than 4096 levels deep");
            if (r->worst < ND_EXIT_REFUSED)
                r->worst = ND_EXIT_REFUSED;
            continue;
        }
        ls_dir(r, sub, depth + 1);
    }
    listing_free(&l);
}

int
nd_ls_cmd(const struct nd_opts *o, int argc, char **argv)
{
    static char dir[ND_PATH_MAX + 2];
    struct ls_run r = {0};
    static const struct nd_cli_opt opts[] = {{'l', NULL, LS_LONG},
                                             {'R', NULL, LS_RECURSIVE}};
    int n = nd_cli_cmd_opts("ls", opts, 2, argc, argv, &r.flags), rc;
    size_t len;

    if (n < 0)
        return ND_EXIT_USAGE;
    if (n > 1)
        return nd_cli_usage("ls", ": too many operands");
    snprintf(dir, sizeof(dir), "%s", n > 0 ? argv[0] : "");
    /* With -R the paths are built from DIR: "docs/" lists as "docs". */
    len = strlen(dir);
    while ((r.flags & LS_RECURSIVE) && len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    rc = nd_sess_init(&r.s, o, "ls", dir);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_open(o, &r.s);
    if (rc == ND_EXIT_OK)
        ls_dir(&r, dir, 0);
    nd_sess_close(&r.s);
    if (rc != ND_EXIT_OK)
        return rc;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* A closed pipe (ls | head) is the reader's choice, not news. */
        if (errno != EPIPE)
            nd_cli_err("cannot write to standard output: %s", strerror(errno));
        return r.worst != ND_EXIT_OK ? r.worst : ND_EXIT_LOCAL;
    }
    return r.worst;
}
