/*
 * nd_xfer: put and get, one file or several over one session.  File bytes
 * are hashed as they move and checked against the peer's digest, so
 * success means the bytes at the far end are the bytes at this end.
 *
 * A run connects and logs in once (only when the first file is ready to
 * move, so a bad LOCAL alone never costs a connection), then makes one PUT
 * or GET per file (a GET's file is moved by nd_xferget, on this module's
 * run).  A file that fails is reported in one line and the others still
 * move, unless the session can carry no further request (the connection
 * is lost, or the failure left bytes in flight that cannot be drained);
 * then the run stops.  The exit status is the highest status of the files
 * that failed.
 */
#include "nd_xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_net.h"
#include "nd_progress.h"
#include "nd_proto.h"
#include "nd_verbose.h"
#include "nd_wire.h"
#include "nd_xferget.h"

/* One put or get run: the session and where the batch stands.  Only this
 * module touches the fields; nd_xferget and nd_tree go through the
 * functions of nd_xfer.h. */
struct nd_xfer {
    struct nd_sess s;
    const struct nd_opts *o;
    struct nd_progress_batch batch;
    bool open;  /* connected and logged in */
    bool fatal; /* the session can carry no further request */
    bool more;  /* another file follows the current one */
    bool slack; /* the timeouts are stretched by nd_xfer_slack() */
};

bool
nd_xfer_base_name(const char *path, char *out, size_t cap)
{
    size_t end = strlen(path), start;

    while (end > 0 && path[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, cap, "%.*s", (int)(end - start), path + start);
    return out[0] != '\0' && strcmp(out, ".") != 0 && strcmp(out, "..") != 0;
}

int
nd_xfer_expect(struct nd_xfer *x, uint8_t want, uint8_t *body, size_t *len)
{
    int rc = nd_wire_expect(&x->s.st, want, body, ND_REPLY_MAX, len, x->s.msg,
                            sizeof(x->s.msg));

    if (rc == 0)
        return ND_EXIT_OK;
    x->fatal = rc < 0 || nd_cli_session_ends(rc);
    return nd_cli_fail_wire(&x->s, rc);
}

/* Says how to go on when a signal ends a transfer, then dies of it.  Only
 * write(2) and raise(3): both are async-signal-safe. */
static void
on_signal(int sig)
{
    static const char msg[] =
        "\nnetdisk: interrupted; the same command resumes the transfer\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)n;
    raise(sig); /* SA_RESETHAND made this the default action */
}

/* From the first transfer on, an interrupt leaves a .part or a partial
 * upload on the server that the same command continues: say so. */
static void
catch_signals(bool quiet)
{
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

    if (quiet)
        return;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;

        /* A signal the shell told us to ignore stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

int
nd_xfer_open(struct nd_xfer *x)
{
    int rc;

    if (x->open)
        return ND_EXIT_OK;
    rc = nd_sess_open(x->o, &x->s);
    x->open = rc == ND_EXIT_OK;
    x->fatal = !x->open;
    if (x->open)
        catch_signals(x->o->quiet);
    return rc;
}

void
nd_xfer_slack(struct nd_xfer *x, uint64_t offset)
{
    /* Only a resumed file needs it: the others cost no system call. */
    if (offset == 0 && !x->slack)
        return;
    x->slack = offset > 0;
    (void)nd_net_set_timeouts(
        x->s.st.fd,
        ND_IO_TIMEOUT_S + (offset > 0 ? nd_proto_hash_slack(offset) : 0));
}

void
nd_xfer_file_done(struct nd_xfer *x, uint64_t size)
{
    x->batch.done_files++;
    x->batch.bytes_before += size;
}

int
nd_xfer_hash_local(int fd, uint64_t n, struct nd_digest *d, uint8_t *buf)
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
put_body(struct nd_xfer *x, int fd, const char *local, uint64_t size,
         uint64_t offset)
{
    struct nd_sess *s = &x->s;
    struct nd_digest d = {0};
    struct nd_progress bar;
    uint8_t *buf = nd_io_buf_alloc(ND_IO_CHUNK), md5[ND_MD5_LEN],
            got[ND_MD5_LEN];
    uint8_t body[ND_REPLY_MAX];
    uint64_t done = offset, got_size;
    size_t len;
    int rc;

    nd_progress_start_batch(&bar, local, size - offset, s->progress, &x->batch);
    nd_cli_bar_set(&bar);
    x->fatal = true;
    if (buf == NULL || nd_digest_init(&d) < 0) {
        rc = nd_cli_fail_local("put", local, ENOMEM);
        goto out;
    }
    rc = lseek(fd, 0, SEEK_SET) < 0 ? -errno
                                    : nd_xfer_hash_local(fd, offset, &d, buf);
    if (rc < 0) {
        rc = nd_cli_fail_local("cannot read", local, -rc);
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
            rc = nd_cli_fail_local("cannot read", local, (int)-n);
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
        rc = nd_cli_fail_local("put", local, EIO);
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
    rc = nd_xfer_expect(x, ND_T_OK, body, &len);
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
put_request(struct nd_xfer *x, const struct stat *st, uint64_t *offset)
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
    rc = nd_xfer_expect(x, ND_T_READY, body, &len);
    if (rc == ND_EXIT_OK && (nd_proto_ready_decode(body, len, offset) < 0 ||
                             *offset > (uint64_t)st->st_size)) {
        x->fatal = true;
        rc = nd_cli_fail_wire(&x->s, -EBADMSG);
    }
    return rc;
}

/* Uploads the regular file local as remote.  Returns an exit status. */
static int
put_one(struct nd_xfer *x, const char *local, const char *remote)
{
    char h1[8], h2[8];
    struct stat st;
    uint64_t offset = 0;
    int fd, rc = ND_EXIT_OK;

    /* O_NONBLOCK keeps open() of a FIFO from waiting for a writer; it is
     * cleared again once the file is known to be regular. */
    fd = open(local, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        rc = nd_cli_fail_local("cannot open", local, errno);
        nd_xfer_file_done(x, 0);
        return rc;
    }
    if (fstat(fd, &st) < 0) {
        rc = nd_cli_fail_local("cannot stat", local, errno);
    } else if (!S_ISREG(st.st_mode)) {
        nd_cli_err("cannot put \"%s\": %s", local,
                   S_ISDIR(st.st_mode) ? "Is a directory"
                                       : "not a regular file");
        rc = ND_EXIT_LOCAL;
    } else if ((rc = nd_io_set_nonblock(fd, false)) < 0) {
        rc = nd_cli_fail_local("cannot read", local, -rc);
    }
    if (rc == ND_EXIT_OK)
        rc = nd_xfer_open(x);
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
            nd_cli_note(x->o, "%s: resuming: the server holds %s of %s",
                        x->s.ctx, h1, h2);
        }
        nd_xfer_slack(x, offset);
        rc = put_body(x, fd, local, (uint64_t)st.st_size, offset);
        nd_xfer_slack(x, 0);
        if (rc != ND_EXIT_DIGEST || offset == 0 || x->fatal)
            break;
        nd_cli_note(x->o,
                    "%s: the resumed upload did not verify; sending all of it",
                    x->s.ctx);
        rc = ND_EXIT_OK;
    }
    nd_io_close(&fd);
    nd_xfer_file_done(x, rc == ND_EXIT_OK ? (uint64_t)st.st_size : 0);
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

    (void)nd_xfer_base_name(local, base, sizeof(base));
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
    bool named = nd_xfer_base_name(remote, base, sizeof(base));
    int n;

    if ((arg == NULL || dir) && !named)
        return nd_cli_usage("get: cannot name the local file after ", remote);
    if (arg == NULL)
        n = snprintf(out, cap, "%s", base);
    else if (dir)
        n = snprintf(out, cap, "%s%s%s", arg,
                     arg[strlen(arg) - 1] == '/' ? "" : "/", base);
    else
        n = snprintf(out, cap, "%s", arg);
    if (n < 0 || (size_t)n + sizeof(".part") > cap)
        return nd_cli_fail_local("cannot create", arg != NULL ? arg : base,
                                 ENAMETOOLONG);
    return ND_EXIT_OK;
}

int
nd_xfer_put(const struct nd_opts *o, int n, char **args)
{
    const char *dest = n > 1 ? args[n - 1] : NULL;
    int files = n > 1 ? n - 1 : 1, rc, worst = ND_EXIT_OK;
    char(*remote)[ND_PATH_MAX + 1];
    struct nd_xfer x = {.o = o};

    if (files > 1 && (dest[0] == '\0' || dest[strlen(dest) - 1] != '/'))
        return nd_cli_usage("put: with several LOCALs the last operand must "
                            "be a remote directory ending in '/': ",
                            dest);
    remote = calloc((size_t)files, sizeof(*remote));
    if (remote == NULL)
        return nd_cli_fail_local("put", args[0], ENOMEM);
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
        nd_cli_worst(&worst, put_one(&x, args[i], remote[i]));
    }
    /* Closing before a trailer leaves the server the bytes it has, kept
     * for a resume. */
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
    struct nd_xfer x = {.o = o};
    struct nd_xferget_ahead ahead = {0};
    struct stat st;

    if (files > 1 && (stat(dest, &st) < 0 || !S_ISDIR(st.st_mode)))
        return nd_cli_usage("get: with several REMOTEs the last operand must "
                            "be an existing local directory: ",
                            dest);
    /* Two buffers per file: the name and its .part. */
    local = calloc((size_t)files * 2, sizeof(*local));
    if (local == NULL)
        return nd_cli_fail_local("get", args[0], ENOMEM);
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
            rc = nd_cli_fail_local("cannot create", name, ENAMETOOLONG);
            break;
        }
        memcpy(part, name, len);
        memcpy(part + len, ".part", sizeof(".part"));
    }
    if (rc == ND_EXIT_OK)
        nd_sess_init(&x.s, o, "get", args[0]);
    /* Each GET goes out while the file before it still comes (see
     * nd_xferget_one): the server works on the next file while this side
     * writes the last one, instead of one round trip and two idle sides
     * per file. */
    for (int i = 0; rc == ND_EXIT_OK && i < files && !x.fatal; i++) {
        struct nd_xferget_next next = {0};

        x.more = i + 1 < files;
        if (x.more)
            next = (struct nd_xferget_next){args[i + 1], local[2 * (i + 1)],
                                            local[2 * (i + 1) + 1]};
        nd_cli_worst(&worst,
                     nd_xferget_one(&x, args[i], local[2 * i], local[2 * i + 1],
                                    x.more ? &next : NULL, &ahead));
    }
    nd_sess_close(&x.s);
    free(local);
    return rc != ND_EXIT_OK ? rc : worst;
}

struct nd_xfer *
nd_xfer_new(const struct nd_opts *o, const char *op)
{
    struct nd_xfer *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->o = o;
    /* The path is only a placeholder: every request names its own. */
    (void)nd_sess_init(&t->s, o, op, "");
    return t;
}

void
nd_xfer_batch(struct nd_xfer *t, unsigned files, uint64_t bytes)
{
    t->batch.files = files;
    t->batch.bytes_total = bytes;
}

struct nd_sess *
nd_xfer_sess(struct nd_xfer *t)
{
    return &t->s;
}

const struct nd_opts *
nd_xfer_opts(const struct nd_xfer *t)
{
    return t->o;
}

const struct nd_progress_batch *
nd_xfer_progress(const struct nd_xfer *t)
{
    return &t->batch;
}

bool
nd_xfer_usable(const struct nd_xfer *t)
{
    return !t->fatal;
}

bool
nd_xfer_more(const struct nd_xfer *t)
{
    return t->more;
}

void
nd_xfer_lost(struct nd_xfer *t)
{
    t->fatal = true;
}

int
nd_xfer_put_file(struct nd_xfer *t, const char *local, const char *remote)
{
    /* Another request may follow any file of a tree. */
    t->more = true;
    return put_one(t, local, remote);
}

int
nd_xfer_get_file(struct nd_xfer *t, const char *remote, const char *local)
{
    char part[ND_LOCAL_MAX];
    size_t len = strlen(local);

    if (len + sizeof(".part") > sizeof(part)) {
        nd_xfer_file_done(t, 0);
        return nd_cli_fail_local("cannot create", local, ENAMETOOLONG);
    }
    memcpy(part, local, len);
    memcpy(part + len, ".part", sizeof(".part"));
    t->more = true;
    return nd_xferget_one(t, remote, local, part, NULL, NULL);
}

void
nd_xfer_free(struct nd_xfer *t)
{
    if (t == NULL)
        return;
    nd_sess_close(&t->s);
    free(t);
}
