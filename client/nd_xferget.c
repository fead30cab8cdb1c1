/*
 * nd_xferget: one file of a get, as nd_xfer's runs move it.  The bytes are
 * hashed as they arrive and written to LOCAL.part, with its nd_resume
 * state beside it; only a file whose digest matches the server's trailer
 * is renamed to LOCAL.  An interrupted get leaves LOCAL.part and its state
 * for the same get to resume with a ranged GET; the server sends the whole
 * file again when it has changed.
 *
 * The session and whether it can carry another request belong to the
 * nd_xfer run and are reached only through its functions.
 */
#include "nd_xferget.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_hashpipe.h"
#include "nd_io.h"
#include "nd_progress.h"
#include "nd_proto.h"
#include "nd_resume.h"
#include "nd_verbose.h"
#include "nd_wire.h"

/* Files at least this large are hashed on a second thread (nd_hashpipe),
 * through PIPE_SLOTS slots of ND_IO_CHUNK: receiving and writing a chunk
 * then overlap with hashing the one before, so a get takes about as long
 * as the MD5 alone.  Smaller files are hashed inline, where a thread would
 * cost more than it saves. */
#define PIPE_MIN (4u * ND_IO_CHUNK)
/* The smallest file whose interrupted get is kept for a resume. */
#define RESUME_MIN ND_IO_CHUNK
/* MD5 is the slowest stage of a get (a get takes about as long as the MD5
 * alone), so one slot being hashed and one being filled keep the hashing
 * thread busy, and a third absorbs a late segment.  More slots only add
 * memory that each process touches for the first time: with eight, a get
 * of 16 MiB took 2,412 page faults instead of 1,132, 64 of them at once
 * about 6 % more time and CPU, and a 1 GiB get was no faster
 * (docs/benchmarks.md, "What this issue changed"). */
#define PIPE_SLOTS 3

/*
 * Receives n file bytes into fd (or nowhere, for fd < 0), hashing them
 * into d; *done counts those written.  After a local write error the rest
 * is still read when another file follows, so that the session stays
 * usable.  Returns an exit status.
 */
static int
get_bytes(struct nd_xfer *t, int fd, const char *part, uint64_t n,
          struct nd_digest *d, uint64_t *done)
{
    struct nd_sess *s = nd_xfer_sess(t);
    struct nd_progress bar;
    struct nd_hashpipe *hp = NULL;
    uint8_t *buf = NULL;
    uint64_t moved = 0;
    int rc = ND_EXIT_OK;

    /* A small file gets a buffer of its own size: a chunk each would be
     * an mmap and a munmap per file. */
    if (fd < 0 || n < PIPE_MIN ||
        nd_hashpipe_new(&hp, d, PIPE_SLOTS, ND_IO_CHUNK) < 0)
        buf = nd_io_buf_alloc(n < ND_IO_CHUNK ? (size_t)n + 1 : ND_IO_CHUNK);
    if (hp == NULL && buf == NULL) {
        nd_xfer_lost(t);
        return nd_cli_fail_local("get", part, ENOMEM);
    }
    nd_progress_start_batch(&bar, s->path, n, s->progress && fd >= 0,
                            nd_xfer_progress(t));
    nd_cli_bar_set(&bar);
    while (moved < n && nd_xfer_usable(t)) {
        size_t want = n - moved < ND_IO_CHUNK ? n - moved : ND_IO_CHUNK;
        uint8_t *p = hp != NULL ? nd_hashpipe_acquire(hp) : buf;
        ssize_t r = nd_stream_read_full(&s->st, p, want);

        /* Whatever arrived is kept: a resume starts after it. */
        if (r > 0 && rc == ND_EXIT_OK && fd >= 0) {
            ssize_t w = 0;

            /* The hashing thread reads the slot while it is written. */
            if (hp != NULL)
                nd_hashpipe_submit(hp, (size_t)r);
            else if (nd_digest_update(d, p, (size_t)r) < 0)
                w = -EIO;
            if (w == 0)
                w = nd_io_write_full(fd, p, (size_t)r);
            if (w < 0) {
                rc = nd_cli_fail_local("cannot write", part, (int)-w);
                if (!nd_xfer_more(t))
                    nd_xfer_lost(t);
            } else {
                *done += (uint64_t)r;
            }
        }
        if (r < 0) {
            rc = nd_cli_fail_wire(s, (int)r);
            nd_xfer_lost(t);
        } else if ((size_t)r < want) {
            nd_cli_err("%s: connection lost after %" PRIu64 " of %" PRIu64
                       " bytes",
                       s->ctx, moved + (uint64_t)r, n);
            rc = ND_EXIT_NET;
            nd_xfer_lost(t);
        } else {
            moved += want;
            nd_progress_update(&bar, moved);
        }
    }
    /* The session was lost before every byte came (its failure was
     * reported where it happened): the file is not complete. */
    if (rc == ND_EXIT_OK && moved < n)
        rc = ND_EXIT_NET;
    /* The digest is the caller's again only once the thread is done. */
    if (hp != NULL && nd_hashpipe_drain(hp) < 0 && rc == ND_EXIT_OK)
        rc = nd_cli_fail_local("cannot hash", part, EIO);
    nd_hashpipe_free(hp);
    if (nd_cli_bar_take(&bar))
        nd_progress_finish(&bar, rc == ND_EXIT_OK);
    free(buf);
    return rc;
}

/* Reads the trailer and, unless md5 is NULL, compares it with md5.
 * Returns an exit status. */
static int
get_trailer(struct nd_xfer *t, const uint8_t *md5)
{
    uint8_t body[ND_REPLY_MAX], theirs[ND_MD5_LEN];
    size_t len;
    int rc = nd_xfer_expect(t, ND_T_DIGEST, body, &len);

    if (rc != ND_EXIT_OK) {
        nd_xfer_lost(t);
        return rc;
    }
    if (nd_proto_digest_decode(body, len, theirs) < 0) {
        nd_xfer_lost(t);
        return nd_cli_fail_wire(nd_xfer_sess(t), -EBADMSG);
    }
    if (md5 != NULL && memcmp(theirs, md5, ND_MD5_LEN) != 0) {
        nd_cli_err("%s: digest mismatch (data corrupted in transit); nothing "
                   "kept",
                   nd_xfer_sess(t)->ctx);
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
        return open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0666);
    fd = open(part, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    buf = nd_io_buf_alloc(ND_IO_CHUNK);
    rc = buf == NULL ? -ENOMEM : nd_xfer_hash_local(fd, fi->offset, d, buf);
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
get_body(struct nd_xfer *t, const char *local, const char *part,
         const char *origin, const struct nd_fileinfo *fi)
{
    struct timespec times[2] = {{0, UTIME_OMIT},
                                {fi->mtime_sec, (long)fi->mtime_nsec}};
    struct nd_sess *s = nd_xfer_sess(t);
    struct nd_digest d = {0};
    uint8_t md5[ND_MD5_LEN];
    uint64_t done = 0;
    char h1[8], h2[8];
    int fd = -1, rc;
    /* A file below RESUME_MIN is fetched again rather than resumed: no
     * state file is written for it (two creates and a rename saved per
     * small file), and an interrupted part is removed. */
    bool keep = fi->size >= RESUME_MIN;

    if (nd_digest_init(&d) < 0) {
        nd_xfer_lost(t);
        return nd_cli_fail_local("get", part, ENOMEM);
    }
    /* The state first: a part without one is never resumed. */
    rc = keep ? nd_resume_save(part, origin, fi) : 0;
    if (rc == 0)
        fd = open_part(part, fi, &d);
    if (rc < 0 || fd < 0) {
        rc = nd_cli_fail_local("cannot create", part, rc < 0 ? -rc : -fd);
        nd_digest_free(&d);
        /* Read the file into nothing, so the next one can follow. */
        if (!nd_xfer_more(t)) {
            nd_xfer_lost(t);
        } else if (get_bytes(t, -1, part, fi->size - fi->offset, &d, &done) ==
                       ND_EXIT_OK &&
                   nd_xfer_usable(t)) {
            (void)get_trailer(t, NULL);
        }
        return rc;
    }
    rc = get_bytes(t, fd, part, fi->size - fi->offset, &d, &done);
    if (rc == ND_EXIT_OK && nd_digest_final(&d, md5) < 0)
        rc = nd_cli_fail_local("get", part, EIO);
    if (nd_xfer_usable(t)) {
        int trc = get_trailer(t, rc == ND_EXIT_OK ? md5 : NULL);

        rc = rc == ND_EXIT_OK ? trc : rc;
    }
    if (rc == ND_EXIT_OK && futimens(fd, times) < 0)
        rc = nd_cli_fail_local("cannot set the mtime of", part, errno);
    /* close() is where a file system may report a deferred write error. */
    if (close(fd) < 0 && errno != EINTR && rc == ND_EXIT_OK)
        rc = nd_cli_fail_local("cannot write", part, errno);
    if (rc == ND_EXIT_OK && rename(part, local) < 0)
        rc = nd_cli_fail_local("cannot rename to", local, errno);
    if (rc == ND_EXIT_OK || rc == ND_EXIT_DIGEST || fi->offset + done == 0 ||
        !keep) {
        if (rc != ND_EXIT_OK)
            unlink(part);
        nd_resume_drop(part);
    } else {
        nd_human_size(fi->offset + done, h1, sizeof(h1));
        nd_human_size(fi->size, h2, sizeof(h2));
        nd_cli_note(nd_xfer_opts(t),
                    "%s: kept %s of %s in \"%s\"; the same get resumes it",
                    s->ctx, h1, h2, part);
    }
    nd_digest_free(&d);
    if (rc == ND_EXIT_OK && s->verbose)
        nd_verbose_file("get", s->path, local, fi->size, md5);
    return rc;
}

/* Where the bytes of a get come from, for the resume state. */
static void
origin_of(const struct nd_opts *o, const char *remote, char *out, size_t cap)
{
    snprintf(out, cap, "%s@%s:%s:%s", o->user, o->host, o->port, remote);
}

/*
 * Sends GET for remote, ranged after the bytes part holds when its state
 * names this very file (origin) and resume allows.  Returns an exit
 * status; *ranged and *offset tell the range asked for.
 */
static int
send_get(struct nd_xfer *t, const char *remote, const char *part,
         const char *origin, bool resume, bool *ranged, uint64_t *offset)
{
    uint8_t frame[ND_HDR_LEN + 64 + ND_PATH_MAX];
    struct nd_sess *s = nd_xfer_sess(t);
    struct nd_fileinfo rg;
    struct stat st;
    int rc;

    *ranged = resume && lstat(part, &st) == 0 && S_ISREG(st.st_mode) &&
              nd_resume_load(part, origin, &rg) == 0 &&
              (uint64_t)st.st_size <= rg.size;
    if (*ranged)
        rg.offset = (uint64_t)st.st_size;
    *offset = *ranged ? rg.offset : 0;
    rc = nd_wire_send(&s->st, frame,
                      nd_proto_get_encode(frame, sizeof(frame), remote,
                                          *ranged ? &rg : NULL));
    if (rc < 0) {
        nd_xfer_lost(t);
        return nd_cli_fail_send(s, rc);
    }
    return ND_EXIT_OK;
}

/*
 * Asks for the session's target (unless ahead says the GET went out
 * already) and reads FILE into fi.  Returns an exit status; *ranged tells
 * whether a range was asked for.
 */
static int
get_request(struct nd_xfer *t, const char *part, const char *origin,
            bool resume, struct nd_xferget_ahead *ahead, struct nd_fileinfo *fi,
            bool *ranged)
{
    uint8_t body[ND_REPLY_MAX];
    struct nd_sess *s = nd_xfer_sess(t);
    uint64_t offset;
    size_t len;
    int rc;

    if (ahead != NULL && ahead->sent) {
        ahead->sent = false;
        *ranged = ahead->ranged;
        offset = ahead->offset;
    } else {
        rc = send_get(t, s->path, part, origin, resume, ranged, &offset);
        if (rc != ND_EXIT_OK)
            return rc;
    }
    rc = nd_xfer_expect(t, ND_T_FILE, body, &len);
    if (rc == ND_EXIT_OK &&
        (nd_proto_file_decode(body, len, fi) < 0 ||
         (!*ranged && fi->offset != 0) ||
         (*ranged && fi->offset != 0 && fi->offset != offset))) {
        nd_xfer_lost(t);
        rc = nd_cli_fail_wire(s, -EBADMSG);
    }
    return rc;
}

/*
 * Sends the GET for next while the current file (announced at offset 0,
 * so never asked for again) is still coming: the server reads it right
 * after sending this file.  Not when next's part is this file's part or
 * this file's local name: its range is decided now, from that part, which
 * this file is about to write or rename onto.
 * Returns an exit status; a failure leaves the session lost.
 */
static int
send_ahead(struct nd_xfer *t, const char *local, const char *part,
           const struct nd_xferget_next *next, struct nd_xferget_ahead *ahead)
{
    char origin[ND_ORIGIN_MAX];
    int rc;

    if (next == NULL || ahead == NULL || strcmp(next->part, part) == 0 ||
        strcmp(next->part, local) == 0 || !nd_xfer_usable(t))
        return ND_EXIT_OK;
    origin_of(nd_xfer_opts(t), next->remote, origin, sizeof(origin));
    rc = send_get(t, next->remote, next->part, origin, true, &ahead->ranged,
                  &ahead->offset);
    ahead->sent = rc == ND_EXIT_OK;
    return rc;
}

int
nd_xferget_one(struct nd_xfer *t, const char *remote, const char *local,
               const char *part, const struct nd_xferget_next *next,
               struct nd_xferget_ahead *ahead)
{
    const struct nd_opts *o = nd_xfer_opts(t);
    struct nd_sess *s = nd_xfer_sess(t);
    struct nd_fileinfo fi = {0};
    char origin[ND_ORIGIN_MAX], h1[8], h2[8];
    bool ranged = false;
    int rc = nd_xfer_open(t);

    origin_of(o, remote, origin, sizeof(origin));
    if (rc == ND_EXIT_OK)
        nd_sess_target(s, "get", remote);
    /* A resumed file that does not verify (the part was damaged, or the
     * remote file changed in a way its size and mtime do not show) is
     * fetched once more, whole. */
    for (int attempt = 0; rc == ND_EXIT_OK && attempt < 2; attempt++) {
        rc = get_request(t, part, origin, attempt == 0, ahead, &fi, &ranged);
        /* Only a resumed file may be asked for again (below). */
        if (rc == ND_EXIT_OK && fi.offset == 0)
            rc = send_ahead(t, local, part, next, ahead);
        if (rc != ND_EXIT_OK)
            break;
        if (ranged && fi.offset == 0) {
            nd_cli_note(o,
                        "%s: the remote file changed since the interrupted "
                        "get; starting over",
                        s->ctx);
        } else if (fi.offset > 0) {
            nd_human_size(fi.offset, h1, sizeof(h1));
            nd_human_size(fi.size, h2, sizeof(h2));
            nd_cli_note(o, "%s: resuming after %s of %s", s->ctx, h1, h2);
        }
        /* Only now, with the file known to exist, is anything created. */
        nd_xfer_slack(t, fi.offset);
        rc = get_body(t, local, part, origin, &fi);
        nd_xfer_slack(t, 0);
        if (rc != ND_EXIT_DIGEST || fi.offset == 0 || !nd_xfer_usable(t))
            break;
        nd_cli_note(o, "%s: the resumed file did not verify; getting all of it",
                    s->ctx);
        rc = ND_EXIT_OK;
    }
    nd_xfer_file_done(t, fi.size);
    return rc;
}
