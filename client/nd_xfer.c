/*
 * nd_xfer: put and get, one file or several over one session.  File bytes
 * are hashed as they move and checked against the peer's digest, so
 * success means the bytes at the far end are the bytes at this end.
 *
 * A run connects and logs in once (only when the first file is ready to
 * move, so a bad LOCAL alone never costs a connection), then makes one PUT
 * or GET per file.  A file that fails is reported in one line and the
 * others still move, unless the session can carry no further request (the
 * connection is lost, or the failure left bytes in flight that cannot be
 * drained); then the run stops.  The exit status is the highest status of
 * the files that failed.
 */
#include "nd_xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_progress.h"
#include "nd_proto.h"
#include "nd_verbose.h"
#include "nd_wire.h"

/* One put or get run: the session and where the batch stands. */
struct xfer {
    struct nd_sess s;
    const struct nd_opts *o;
    struct nd_progress_batch batch;
    bool open;  /* connected and logged in */
    bool fatal; /* the session can carry no further request */
    bool more;  /* another file follows the current one */
};

/* The .part file of a running get, removed if a signal ends us. */
static const char *volatile s_part;
static volatile sig_atomic_t s_part_live;

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

static int
fail_local(const char *what, const char *path, int err)
{
    nd_cli_err("%s \"%s\": %s", what, path, strerror(err));
    return ND_EXIT_LOCAL;
}

/*
 * Waits for a reply of type want (ND_REPLY_MAX bytes of body).  Returns an
 * exit status, having reported any failure; an ERROR after which the
 * server goes on leaves the session usable, anything else ends it.
 */
static int
expect(struct xfer *x, uint8_t want, uint8_t *body, size_t *len)
{
    int rc = nd_wire_expect(&x->s.st, want, body, ND_REPLY_MAX, len, x->s.msg,
                            sizeof(x->s.msg));

    if (rc == 0)
        return ND_EXIT_OK;
    x->fatal = rc < 0 || nd_cli_session_ends(rc);
    return nd_cli_fail_wire(&x->s, rc);
}

/* Connects and logs in, once per run.  Returns an exit status. */
static int
ensure_open(struct xfer *x)
{
    int rc;

    if (x->open)
        return ND_EXIT_OK;
    rc = nd_sess_open(x->o, &x->s);
    x->open = rc == ND_EXIT_OK;
    x->fatal = !x->open;
    return rc;
}

/* Counts a file as finished, for the batch's progress numbers. */
static void
batch_done(struct xfer *x, uint64_t size)
{
    x->batch.done_files++;
    x->batch.bytes_before += size;
}

/*
 * Sends size bytes of fd, then the trailer, and checks that the OK reply
 * names the same size and digest.  Returns an exit status; a failure
 * before the trailer was sent ends the session (the server then discards
 * the partial file).
 */
static int
put_body(struct xfer *x, int fd, const char *local, uint64_t size)
{
    struct nd_sess *s = &x->s;
    struct nd_digest d = {0};
    struct nd_progress bar;
    uint8_t *buf = malloc(ND_IO_CHUNK), md5[ND_MD5_LEN], got[ND_MD5_LEN];
    uint8_t body[ND_REPLY_MAX];
    uint64_t done = 0, got_size;
    size_t len;
    int rc;

    nd_progress_start_batch(&bar, local, size, s->progress, &x->batch);
    nd_cli_bar_set(&bar);
    x->fatal = true;
    if (buf == NULL || nd_digest_init(&d) < 0) {
        rc = fail_local("put", local, ENOMEM);
        goto out;
    }
    while (done < size) {
        size_t want = size - done < ND_IO_CHUNK ? size - done : ND_IO_CHUNK;
        ssize_t n = nd_io_read_full(fd, buf, want);

        if (n >= 0 && (size_t)n < want) {
            nd_cli_err("cannot read \"%s\": file shrank while being sent",
                       local);
            rc = ND_EXIT_LOCAL;
            goto out;
        }
        if (n < 0 || (n = nd_digest_update(&d, buf, want)) < 0) {
            rc = fail_local("cannot read", local, (int)-n);
            goto out;
        }
        n = nd_stream_send_full(&s->st, buf, want);
        if (n < 0) {
            rc = nd_cli_fail_send(s, (int)n);
            goto out;
        }
        done += want;
        nd_progress_update(&bar, done);
    }
    if (nd_digest_final(&d, md5) < 0) {
        rc = fail_local("put", local, EIO);
        goto out;
    }
    rc = nd_wire_send(&s->st, body,
                      nd_proto_digest_encode(body, sizeof(body), md5));
    if (rc < 0) {
        rc = nd_cli_fail_send(s, rc);
        goto out;
    }
    /* The whole file and its trailer are sent: the reply decides. */
    x->fatal = false;
    rc = expect(x, ND_T_OK, body, &len);
    if (rc == ND_EXIT_OK && nd_proto_putok_decode(body, len, &got_size, got)) {
        x->fatal = true;
        rc = nd_cli_fail_wire(s, -EBADMSG);
    }
    if (rc != ND_EXIT_OK)
        goto out;
    if (got_size != size || memcmp(got, md5, ND_MD5_LEN) != 0) {
        nd_cli_err("%s: server stored other bytes than were sent", s->ctx);
        rc = ND_EXIT_DIGEST;
        goto out;
    }
    rc = ND_EXIT_OK;
out:
    if (nd_cli_bar_take(&bar))
        nd_progress_finish(&bar, rc == ND_EXIT_OK);
    if (rc == ND_EXIT_OK && s->verbose)
        nd_verbose_file("put", local, s->path, size, md5);
    nd_digest_free(&d);
    free(buf);
    return rc;
}

/* Uploads the regular file local as remote.  Returns an exit status. */
static int
put_one(struct xfer *x, const char *local, const char *remote)
{
    uint8_t body[ND_REPLY_MAX];
    struct stat st;
    size_t len;
    int fd, rc = ND_EXIT_OK;

    /* O_NONBLOCK keeps open() of a FIFO from waiting for a writer; it is
     * cleared again once the file is known to be regular. */
    fd = open(local, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        rc = fail_local("cannot open", local, errno);
        batch_done(x, 0);
        return rc;
    }
    if (fstat(fd, &st) < 0) {
        rc = fail_local("cannot stat", local, errno);
    } else if (!S_ISREG(st.st_mode)) {
        nd_cli_err("cannot put \"%s\": %s", local,
                   S_ISDIR(st.st_mode) ? "Is a directory"
                                       : "not a regular file");
        rc = ND_EXIT_LOCAL;
    } else if ((rc = nd_io_set_nonblock(fd, false)) < 0) {
        rc = fail_local("cannot read", local, -rc);
    }
    if (rc == ND_EXIT_OK)
        rc = ensure_open(x);
    if (rc == ND_EXIT_OK) {
        nd_sess_target(&x->s, "put", remote);
        rc = nd_sess_request(&x->s, ND_T_PUT, (uint64_t)st.st_size);
        x->fatal = rc != ND_EXIT_OK;
    }
    if (rc == ND_EXIT_OK)
        rc = expect(x, ND_T_READY, body, &len);
    if (rc == ND_EXIT_OK)
        rc = put_body(x, fd, local, (uint64_t)st.st_size);
    nd_io_close(&fd);
    batch_done(x, rc == ND_EXIT_OK ? (uint64_t)st.st_size : 0);
    return rc;
}

/* Removes the .part file of an interrupted get, then dies of the signal. */
static void
on_signal(int sig)
{
    if (s_part_live)
        unlink(s_part);
    raise(sig); /* SA_RESETHAND made this the default action */
}

static void
catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/*
 * Receives size file bytes into fd (or nowhere, for fd < 0), hashing them.
 * After a local write error the rest is still read when another file
 * follows, so that the session stays usable.  Returns an exit status.
 */
static int
get_bytes(struct xfer *x, int fd, const char *part, uint64_t size,
          uint8_t md5[ND_MD5_LEN])
{
    struct nd_sess *s = &x->s;
    struct nd_digest d = {0};
    struct nd_progress bar;
    uint8_t *buf = malloc(ND_IO_CHUNK);
    uint64_t done = 0;
    int rc = ND_EXIT_OK;

    if (buf == NULL || nd_digest_init(&d) < 0) {
        free(buf);
        x->fatal = true;
        return fail_local("get", part, ENOMEM);
    }
    nd_progress_start_batch(&bar, s->path, size, s->progress && fd >= 0,
                            &x->batch);
    nd_cli_bar_set(&bar);
    while (done < size && !x->fatal) {
        size_t want = size - done < ND_IO_CHUNK ? size - done : ND_IO_CHUNK;
        ssize_t n = nd_stream_read_full(&s->st, buf, want);

        if (n < 0) {
            rc = nd_cli_fail_wire(s, (int)n);
            x->fatal = true;
        } else if ((size_t)n < want) {
            nd_cli_err("%s: connection lost after %" PRIu64 " of %" PRIu64
                       " bytes",
                       s->ctx, done + (uint64_t)n, size);
            rc = ND_EXIT_NET;
            x->fatal = true;
        } else if (rc == ND_EXIT_OK && fd >= 0 &&
                   ((n = nd_digest_update(&d, buf, want)) < 0 ||
                    (n = nd_io_write_full(fd, buf, want)) < 0)) {
            rc = fail_local("cannot write", part, (int)-n);
            x->fatal = !x->more;
        } else {
            done += want;
            nd_progress_update(&bar, done);
        }
    }
    if (rc == ND_EXIT_OK && fd >= 0 && nd_digest_final(&d, md5) < 0)
        rc = fail_local("get", part, EIO);
    if (nd_cli_bar_take(&bar))
        nd_progress_finish(&bar, rc == ND_EXIT_OK);
    nd_digest_free(&d);
    free(buf);
    return rc;
}

/* Reads the trailer and, unless md5 is NULL, compares it with md5.
 * Returns an exit status. */
static int
get_trailer(struct xfer *x, const uint8_t *md5)
{
    uint8_t body[ND_REPLY_MAX], theirs[ND_MD5_LEN];
    size_t len;
    int rc = expect(x, ND_T_DIGEST, body, &len);

    if (rc != ND_EXIT_OK) {
        x->fatal = true;
        return rc;
    }
    if (nd_proto_digest_decode(body, len, theirs) < 0) {
        x->fatal = true;
        return nd_cli_fail_wire(&x->s, -EBADMSG);
    }
    if (md5 != NULL && memcmp(theirs, md5, ND_MD5_LEN) != 0) {
        nd_cli_err("%s: digest mismatch (data corrupted in transit); nothing "
                   "kept",
                   x->s.ctx);
        return ND_EXIT_DIGEST;
    }
    return ND_EXIT_OK;
}

/* Receives the file announced by FILE into part and renames it to local
 * when the digest matches; on any failure part is removed. */
static int
get_body(struct xfer *x, const char *local, const char *part, uint64_t size)
{
    uint8_t md5[ND_MD5_LEN];
    int fd, rc;

    s_part = part;
    s_part_live = 1;
    fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        s_part_live = 0;
        rc = fail_local("cannot create", part, errno);
        /* Read the file into nothing, so the next one can follow. */
        if (!x->more) {
            x->fatal = true;
        } else if (get_bytes(x, -1, part, size, md5) == ND_EXIT_OK &&
                   !x->fatal) {
            (void)get_trailer(x, NULL);
        }
        return rc;
    }
    rc = get_bytes(x, fd, part, size, md5);
    if (!x->fatal) {
        int trc = get_trailer(x, rc == ND_EXIT_OK ? md5 : NULL);

        rc = rc == ND_EXIT_OK ? trc : rc;
    }
    /* close() is where a file system may report a deferred write error. */
    if (close(fd) < 0 && errno != EINTR && rc == ND_EXIT_OK)
        rc = fail_local("cannot write", part, errno);
    if (rc == ND_EXIT_OK && rename(part, local) < 0)
        rc = fail_local("cannot rename to", local, errno);
    if (rc != ND_EXIT_OK)
        unlink(part);
    s_part_live = 0;
    if (rc == ND_EXIT_OK && x->s.verbose)
        nd_verbose_file("get", x->s.path, local, size, md5);
    return rc;
}

/* Downloads remote as local, by way of part.  Returns an exit status. */
static int
get_one(struct xfer *x, const char *remote, const char *local, const char *part)
{
    uint8_t body[ND_REPLY_MAX];
    uint64_t size = 0;
    int64_t mtime;
    size_t len;
    int rc = ensure_open(x);

    if (rc == ND_EXIT_OK) {
        nd_sess_target(&x->s, "get", remote);
        rc = nd_sess_request(&x->s, ND_T_GET, 0);
        x->fatal = rc != ND_EXIT_OK;
    }
    if (rc == ND_EXIT_OK)
        rc = expect(x, ND_T_FILE, body, &len);
    if (rc == ND_EXIT_OK &&
        (nd_proto_file_decode(body, len, &size, &mtime) < 0 ||
         size > INT64_MAX)) {
        x->fatal = true;
        rc = nd_cli_fail_wire(&x->s, -EBADMSG);
    }
    /* Only now, with the file known to exist, is anything created here. */
    if (rc == ND_EXIT_OK)
        rc = get_body(x, local, part, size);
    batch_done(x, size);
    return rc;
}

/* The remote name of put's LOCAL: dest as given, or dest (a directory when
 * it ends in '/', "./" being the root) plus LOCAL's base name.  Returns 0,
 * or -1 after a usage error. */
static int
put_remote_name(const char *local, const char *dest, char *out, size_t cap)
{
    char base[ND_LOCAL_MAX];
    int n;

    base_name(local, base, sizeof(base));
    if (dest == NULL || strcmp(dest, "./") == 0)
        dest = "";
    if (dest[0] == '\0' || dest[strlen(dest) - 1] == '/')
        n = snprintf(out, cap, "%s%s", dest, base);
    else
        n = snprintf(out, cap, "%s", dest);
    if (n < 0 || (size_t)n >= cap || (size_t)n > ND_PATH_MAX) {
        nd_cli_usage("put", ": remote path longer than 4095 bytes");
        return -1;
    }
    return 0;
}

/* Chooses the local file name for get.  Returns an exit status. */
static int
get_local_name(const char *remote, const char *arg, char *out, size_t cap)
{
    char base[ND_PATH_MAX + 1];
    struct stat st;
    bool dir = arg != NULL && stat(arg, &st) == 0 && S_ISDIR(st.st_mode);
    int n;

    base_name(remote, base, sizeof(base));
    if ((arg == NULL || dir) &&
        (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0))
        return nd_cli_usage("get: cannot name the local file after ", remote);
    if (arg == NULL)
        n = snprintf(out, cap, "%s", base);
    else if (dir)
        n = snprintf(out, cap, "%s%s%s", arg,
                     arg[strlen(arg) - 1] == '/' ? "" : "/", base);
    else
        n = snprintf(out, cap, "%s", arg);
    if (n < 0 || (size_t)n + sizeof(".part") > cap)
        return fail_local("cannot create", arg != NULL ? arg : base,
                          ENAMETOOLONG);
    return ND_EXIT_OK;
}

/* Records rc as the run's status when it is worse (higher). */
static void
worst_of(int *worst, int rc)
{
    if (rc > *worst)
        *worst = rc;
}

int
nd_xfer_put(const struct nd_opts *o, int n, char **args)
{
    const char *dest = n > 1 ? args[n - 1] : NULL;
    int files = n > 1 ? n - 1 : 1, rc, worst = ND_EXIT_OK;
    char(*remote)[ND_PATH_MAX + 1];
    struct xfer x = {.o = o};

    if (files > 1 && (dest[0] == '\0' || dest[strlen(dest) - 1] != '/'))
        return nd_cli_usage("put: with several LOCALs the last operand must "
                            "be a remote directory ending in '/': ",
                            dest);
    remote = calloc((size_t)files, sizeof(*remote));
    if (remote == NULL)
        return fail_local("put", args[0], ENOMEM);
    x.batch.files = (unsigned)files;
    for (int i = 0; i < files; i++) {
        struct stat st;

        if (put_remote_name(args[i], dest, remote[i], sizeof(remote[i])) < 0) {
            free(remote);
            return ND_EXIT_USAGE;
        }
        if (stat(args[i], &st) == 0 && S_ISREG(st.st_mode))
            x.batch.bytes_total += (uint64_t)st.st_size;
    }
    rc = nd_sess_init(&x.s, o, "put", remote[0]);
    for (int i = 0; rc == ND_EXIT_OK && i < files && !x.fatal; i++) {
        x.more = i + 1 < files;
        worst_of(&worst, put_one(&x, args[i], remote[i]));
    }
    /* Closing before a trailer makes the server discard the partial. */
    nd_sess_close(&x.s);
    free(remote);
    return rc != ND_EXIT_OK ? rc : worst;
}

int
nd_xfer_get(const struct nd_opts *o, int n, char **args)
{
    const char *dest = n > 1 ? args[n - 1] : NULL;
    int files = n > 1 ? n - 1 : 1, rc = ND_EXIT_OK, worst = ND_EXIT_OK;
    char(*local)[ND_LOCAL_MAX];
    struct xfer x = {.o = o};
    struct stat st;

    if (files > 1 && (stat(dest, &st) < 0 || !S_ISDIR(st.st_mode)))
        return nd_cli_usage("get: with several REMOTEs the last operand must "
                            "be an existing local directory: ",
                            dest);
    /* Two buffers per file: the name and its .part. */
    local = calloc((size_t)files * 2, sizeof(*local));
    if (local == NULL)
        return fail_local("get", args[0], ENOMEM);
    x.batch.files = (unsigned)files;
    for (int i = 0; rc == ND_EXIT_OK && i < files; i++) {
        char *name = local[2 * i], *part = local[2 * i + 1];
        size_t len;

        rc = nd_sess_init(&x.s, o, "get", args[i]);
        if (rc == ND_EXIT_OK)
            rc = get_local_name(args[i], dest, name, sizeof(*local));
        if (rc != ND_EXIT_OK)
            break;
        /* name and part are distinct rows: copy, not snprintf from one
         * row of the array into another, which compilers flag. */
        len = strlen(name);
        if (len + sizeof(".part") > sizeof(*local)) {
            rc = fail_local("cannot create", name, ENAMETOOLONG);
            break;
        }
        memcpy(part, name, len);
        memcpy(part + len, ".part", sizeof(".part"));
    }
    if (rc == ND_EXIT_OK) {
        nd_sess_init(&x.s, o, "get", args[0]);
        catch_signals();
    }
    for (int i = 0; rc == ND_EXIT_OK && i < files && !x.fatal; i++) {
        x.more = i + 1 < files;
        worst_of(&worst, get_one(&x, args[i], local[2 * i], local[2 * i + 1]));
    }
    nd_sess_close(&x.s);
    free(local);
    return rc != ND_EXIT_OK ? rc : worst;
}
