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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_progress.h"
#include "nd_proto.h"
#include "nd_resume.h"
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

/* Prints a note on stderr, unless -q. */
static void __attribute__((format(printf, 2, 3)))
note(const struct xfer *x, const char *fmt, ...)
{
    char line[ND_LOCAL_MAX + 256];
    va_list ap;

    if (x->o->quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    nd_cli_err("%s", line);
}

/* Hashes the first n bytes of the local file fd (read from its current
 * position).  Returns 0 or -errno; -EIO when the file is shorter. */
static int
hash_local(int fd, uint64_t n, struct nd_digest *d, uint8_t *buf)
{
    while (n > 0) {
        size_t want = n < ND_IO_CHUNK ? (size_t)n : ND_IO_CHUNK;
        ssize_t got = nd_io_read_full(fd, buf, want);

        if (got < 0)
            return (int)got;
        if ((size_t)got < want)
            return -EIO;
        if (nd_digest_update(d, buf, want) < 0)
            return -EIO;
        n -= want;
    }
    return 0;
}

/*
 * Sends the bytes of fd from offset (the server already holds those
 * before it, which are read and hashed here, not sent) up to size, then
 * the trailer, and checks that the OK reply names the same size and
 * digest.  Returns an exit status; a failure before the trailer was sent
 * ends the session (the server then keeps what it has for a resume).
 */
static int
put_body(struct xfer *x, int fd, const char *local, uint64_t size,
         uint64_t offset)
{
    struct nd_sess *s = &x->s;
    struct nd_digest d = {0};
    struct nd_progress bar;
    uint8_t *buf = malloc(ND_IO_CHUNK), md5[ND_MD5_LEN], got[ND_MD5_LEN];
    uint8_t body[ND_REPLY_MAX];
    uint64_t done = offset, got_size;
    size_t len;
    int rc;

    nd_progress_start_batch(&bar, local, size - offset, s->progress,
                            &x->batch);
    nd_cli_bar_set(&bar);
    x->fatal = true;
    if (buf == NULL || nd_digest_init(&d) < 0) {
        rc = fail_local("put", local, ENOMEM);
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) < 0 ||
        (rc = hash_local(fd, offset, &d, buf)) < 0) {
        rc = fail_local("cannot read", local, errno != 0 ? errno : EIO);
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
        nd_progress_update(&bar, done - offset);
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

/*
 * Asks to put st's file as the session's target, resumable, with its
 * mtime; waits for READY.  Returns an exit status, with *offset the bytes
 * the server already holds.
 */
static int
put_request(struct xfer *x, const struct stat *st, uint64_t *offset)
{
    uint8_t frame[ND_HDR_LEN + 32 + ND_PATH_MAX], body[ND_REPLY_MAX];
    size_t len;
    int rc = nd_wire_send(
        &x->s.st, frame,
        nd_proto_put_encode(frame, sizeof(frame), ND_PUT_MTIME | ND_PUT_RESUME,
                            (uint64_t)st->st_size, x->s.path,
                            st->st_mtim.tv_sec, (uint32_t)st->st_mtim.tv_nsec));

    if (rc < 0) {
        x->fatal = true;
        return nd_cli_fail_send(&x->s, rc);
    }
    rc = expect(x, ND_T_READY, body, &len);
    if (rc == ND_EXIT_OK && (nd_proto_ready_decode(body, len, offset) < 0 ||
                             *offset > (uint64_t)st->st_size)) {
        x->fatal = true;
        rc = nd_cli_fail_wire(&x->s, -EBADMSG);
    }
    return rc;
}

/* Uploads the regular file local as remote.  Returns an exit status. */
static int
put_one(struct xfer *x, const char *local, const char *remote)
{
    char h1[8], h2[8];
    struct stat st;
    uint64_t offset = 0;
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
    if (rc == ND_EXIT_OK)
        nd_sess_target(&x->s, "put", remote);
    /* A resumed upload that does not verify (the local file changed in a
     * way its size and mtime do not show) was dropped by the server: one
     * more try sends the whole file. */
    for (int attempt = 0; rc == ND_EXIT_OK && attempt < 2; attempt++) {
        rc = put_request(x, &st, &offset);
        if (rc != ND_EXIT_OK)
            break;
        if (offset > 0) {
            nd_human_size(offset, h1, sizeof(h1));
            nd_human_size((uint64_t)st.st_size, h2, sizeof(h2));
            note(x, "%s: resuming: the server holds %s of %s", x->s.ctx, h1,
                 h2);
        }
        rc = put_body(x, fd, local, (uint64_t)st.st_size, offset);
        if (rc != ND_EXIT_DIGEST || offset == 0 || x->fatal)
            break;
        note(x, "%s: the resumed upload did not verify; sending all of it",
             x->s.ctx);
        rc = ND_EXIT_OK;
    }
    nd_io_close(&fd);
    batch_done(x, rc == ND_EXIT_OK ? (uint64_t)st.st_size : 0);
    return rc;
}

/*
 * Receives n file bytes into fd (or nowhere, for fd < 0), hashing them
 * into d; *done counts those written.  After a local write error the rest
 * is still read when another file follows, so that the session stays
 * usable.  Returns an exit status.
 */
static int
get_bytes(struct xfer *x, int fd, const char *part, uint64_t n,
          struct nd_digest *d, uint64_t *done)
{
    struct nd_sess *s = &x->s;
    struct nd_progress bar;
    uint8_t *buf = malloc(ND_IO_CHUNK);
    uint64_t moved = 0;
    int rc = ND_EXIT_OK;

    if (buf == NULL) {
        x->fatal = true;
        return fail_local("get", part, ENOMEM);
    }
    nd_progress_start_batch(&bar, s->path, n, s->progress && fd >= 0,
                            &x->batch);
    nd_cli_bar_set(&bar);
    while (moved < n && !x->fatal) {
        size_t want = n - moved < ND_IO_CHUNK ? n - moved : ND_IO_CHUNK;
        ssize_t r = nd_stream_read_full(&s->st, buf, want);

        /* Whatever arrived is kept: a resume starts after it. */
        if (r > 0 && rc == ND_EXIT_OK && fd >= 0) {
            ssize_t w = nd_digest_update(d, buf, (size_t)r) < 0
                            ? -EIO
                            : nd_io_write_full(fd, buf, (size_t)r);

            if (w < 0) {
                rc = fail_local("cannot write", part, (int)-w);
                x->fatal = !x->more;
            } else {
                *done += (uint64_t)r;
            }
        }
        if (r < 0) {
            rc = nd_cli_fail_wire(s, (int)r);
            x->fatal = true;
        } else if ((size_t)r < want) {
            nd_cli_err("%s: connection lost after %" PRIu64 " of %" PRIu64
                       " bytes",
                       s->ctx, moved + (uint64_t)r, n);
            rc = ND_EXIT_NET;
            x->fatal = true;
        } else {
            moved += want;
            nd_progress_update(&bar, moved);
        }
    }
    if (nd_cli_bar_take(&bar))
        nd_progress_finish(&bar, rc == ND_EXIT_OK);
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

/* Opens part for the bytes from fi->offset on: created empty for a fresh
 * start, else opened and its first offset bytes hashed into d.  Returns
 * the fd or -errno. */
static int
open_part(const char *part, const struct nd_fileinfo *fi, struct nd_digest *d)
{
    uint8_t *buf;
    int fd, rc;

    if (fi->offset == 0)
        return open(part,
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0666);
    fd = open(part, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    buf = malloc(ND_IO_CHUNK);
    rc = buf == NULL ? -ENOMEM : hash_local(fd, fi->offset, d, buf);
    free(buf);
    /* Anything past the offset is dropped: the server sends it again. */
    if (rc == 0 && ftruncate(fd, (off_t)fi->offset) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/*
 * Receives the file announced by fi into part and renames it to local, with
 * the remote mtime, when the digest of the whole file matches.  A mismatch
 * removes part and its state; an interruption keeps both for a resume.
 */
static int
get_body(struct xfer *x, const char *local, const char *part,
         const char *origin, const struct nd_fileinfo *fi)
{
    struct timespec times[2] = {{0, UTIME_OMIT},
                                {fi->mtime_sec, (long)fi->mtime_nsec}};
    struct nd_digest d = {0};
    uint8_t md5[ND_MD5_LEN];
    uint64_t done = 0;
    char h1[8], h2[8];
    int fd = -1, rc;

    if (nd_digest_init(&d) < 0) {
        x->fatal = true;
        return fail_local("get", part, ENOMEM);
    }
    /* The state first: a part without one is never resumed. */
    rc = nd_resume_save(part, origin, fi);
    if (rc == 0)
        fd = open_part(part, fi, &d);
    if (rc < 0 || fd < 0) {
        rc = fail_local("cannot create", part, rc < 0 ? -rc : -fd);
        nd_digest_free(&d);
        /* Read the file into nothing, so the next one can follow. */
        if (!x->more) {
            x->fatal = true;
        } else if (get_bytes(x, -1, part, fi->size - fi->offset, &d, &done) ==
                       ND_EXIT_OK &&
                   !x->fatal) {
            (void)get_trailer(x, NULL);
        }
        return rc;
    }
    rc = get_bytes(x, fd, part, fi->size - fi->offset, &d, &done);
    if (rc == ND_EXIT_OK && nd_digest_final(&d, md5) < 0)
        rc = fail_local("get", part, EIO);
    if (!x->fatal) {
        int trc = get_trailer(x, rc == ND_EXIT_OK ? md5 : NULL);

        rc = rc == ND_EXIT_OK ? trc : rc;
    }
    if (rc == ND_EXIT_OK && futimens(fd, times) < 0)
        rc = fail_local("cannot set the mtime of", part, errno);
    /* close() is where a file system may report a deferred write error. */
    if (close(fd) < 0 && errno != EINTR && rc == ND_EXIT_OK)
        rc = fail_local("cannot write", part, errno);
    if (rc == ND_EXIT_OK && rename(part, local) < 0)
        rc = fail_local("cannot rename to", local, errno);
    if (rc == ND_EXIT_OK || rc == ND_EXIT_DIGEST ||
        fi->offset + done == 0) {
        if (rc != ND_EXIT_OK)
            unlink(part);
        nd_resume_drop(part);
    } else {
        nd_human_size(fi->offset + done, h1, sizeof(h1));
        nd_human_size(fi->size, h2, sizeof(h2));
        note(x, "%s: kept %s of %s in \"%s\"; the same get resumes it",
             x->s.ctx, h1, h2, part);
    }
    nd_digest_free(&d);
    if (rc == ND_EXIT_OK && x->s.verbose)
        nd_verbose_file("get", x->s.path, local, fi->size, md5);
    return rc;
}

/* Where the bytes of a get come from, for the resume state. */
static void
origin_of(const struct xfer *x, const char *remote, char *out, size_t cap)
{
    snprintf(out, cap, "%s@%s:%s:%s", x->o->user, x->o->host, x->o->port,
             remote);
}

/*
 * Sends GET for the session's target, ranged after the bytes part holds
 * when its state names this very file, and reads FILE into fi.  Returns an
 * exit status; *ranged tells whether a range was asked for.
 */
static int
get_request(struct xfer *x, const char *part, const char *origin, bool resume,
            struct nd_fileinfo *fi, bool *ranged)
{
    uint8_t frame[ND_HDR_LEN + 64 + ND_PATH_MAX], body[ND_REPLY_MAX];
    struct nd_fileinfo rg;
    struct stat st;
    size_t len;
    int rc;

    *ranged = resume && stat(part, &st) == 0 && S_ISREG(st.st_mode) &&
              nd_resume_load(part, origin, &rg) == 0 &&
              (uint64_t)st.st_size <= rg.size;
    if (*ranged)
        rg.offset = (uint64_t)st.st_size;
    rc = nd_wire_send(&x->s.st, frame,
                      nd_proto_get_encode(frame, sizeof(frame), x->s.path,
                                          *ranged ? &rg : NULL));
    if (rc < 0) {
        x->fatal = true;
        return nd_cli_fail_send(&x->s, rc);
    }
    rc = expect(x, ND_T_FILE, body, &len);
    if (rc == ND_EXIT_OK && (nd_proto_file_decode(body, len, fi) < 0 ||
                             (!*ranged && fi->offset != 0) ||
                             (*ranged && fi->offset != 0 &&
                              fi->offset != rg.offset))) {
        x->fatal = true;
        rc = nd_cli_fail_wire(&x->s, -EBADMSG);
    }
    return rc;
}

/* Downloads remote as local, by way of part.  Returns an exit status. */
static int
get_one(struct xfer *x, const char *remote, const char *local, const char *part)
{
    struct nd_fileinfo fi = {0};
    char origin[ND_ORIGIN_MAX], h1[8], h2[8];
    bool ranged = false;
    int rc = ensure_open(x);

    origin_of(x, remote, origin, sizeof(origin));
    if (rc == ND_EXIT_OK)
        nd_sess_target(&x->s, "get", remote);
    /* A resumed file that does not verify (the part was damaged, or the
     * remote file changed in a way its size and mtime do not show) is
     * fetched once more, whole. */
    for (int attempt = 0; rc == ND_EXIT_OK && attempt < 2; attempt++) {
        rc = get_request(x, part, origin, attempt == 0, &fi, &ranged);
        if (rc != ND_EXIT_OK)
            break;
        if (ranged && fi.offset == 0) {
            note(x, "%s: the remote file changed since the interrupted get; "
                    "starting over",
                 x->s.ctx);
        } else if (fi.offset > 0) {
            nd_human_size(fi.offset, h1, sizeof(h1));
            nd_human_size(fi.size, h2, sizeof(h2));
            note(x, "%s: resuming after %s of %s", x->s.ctx, h1, h2);
        }
        /* Only now, with the file known to exist, is anything created. */
        rc = get_body(x, local, part, origin, &fi);
        if (rc != ND_EXIT_DIGEST || fi.offset == 0 || x->fatal)
            break;
        note(x, "%s: the resumed file did not verify; getting all of it",
             x->s.ctx);
        rc = ND_EXIT_OK;
    }
    batch_done(x, fi.size);
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
    if (rc == ND_EXIT_OK)
        nd_sess_init(&x.s, o, "get", args[0]);
    for (int i = 0; rc == ND_EXIT_OK && i < files && !x.fatal; i++) {
        x.more = i + 1 < files;
        worst_of(&worst, get_one(&x, args[i], local[2 * i], local[2 * i + 1]));
    }
    nd_sess_close(&x.s);
    free(local);
    return rc != ND_EXIT_OK ? rc : worst;
}

/*
 * The run as another module drives it (nd_tree's put -r and get -r): the
 * same session, batch and per-file put_one()/get_one() as above, one file
 * at a time, with the caller's own requests (MKDIR, LIST, STAT) in
 * between over the same session.
 */
struct nd_xfer {
    struct xfer x;
};

struct nd_xfer *
nd_xfer_new(const struct nd_opts *o, const char *op)
{
    struct nd_xfer *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->x.o = o;
    /* The path is only a placeholder: every request names its own. */
    (void)nd_sess_init(&t->x.s, o, op, "");
    return t;
}

void
nd_xfer_batch(struct nd_xfer *t, unsigned files, uint64_t bytes)
{
    t->x.batch.files = files;
    t->x.batch.bytes_total = bytes;
}

int
nd_xfer_open(struct nd_xfer *t)
{
    return ensure_open(&t->x);
}

struct nd_sess *
nd_xfer_sess(struct nd_xfer *t)
{
    return &t->x.s;
}

bool
nd_xfer_usable(const struct nd_xfer *t)
{
    return !t->x.fatal;
}

void
nd_xfer_lost(struct nd_xfer *t)
{
    t->x.fatal = true;
}

int
nd_xfer_put_file(struct nd_xfer *t, const char *local, const char *remote)
{
    /* Another request may follow any file of a tree. */
    t->x.more = true;
    return put_one(&t->x, local, remote);
}

int
nd_xfer_get_file(struct nd_xfer *t, const char *remote, const char *local)
{
    char part[ND_LOCAL_MAX];
    size_t len = strlen(local);

    if (len + sizeof(".part") > sizeof(part)) {
        batch_done(&t->x, 0);
        return fail_local("cannot create", local, ENAMETOOLONG);
    }
    memcpy(part, local, len);
    memcpy(part + len, ".part", sizeof(".part"));
    t->x.more = true;
    return get_one(&t->x, remote, local, part);
}

void
nd_xfer_free(struct nd_xfer *t)
{
    if (t == NULL)
        return;
    nd_sess_close(&t->x.s);
    free(t);
}
