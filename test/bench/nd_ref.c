/*
 * nd_ref: a reference for the benchmark, the best verified transfer this
 * box can do with two processes over loopback TCP, so that `make bench` can
 * report netdisk's figures as a fraction of a limit rather than as bare
 * numbers.  It measures the same work netdisk does (move the bytes, land
 * them in a file, MD5 them) with nothing else around it: no protocol, no
 * store, no confinement, no event loop.
 *
 * The MD5 of a file is one serial chain (every block depends on the state
 * the previous one left), so one core hashing is a hard floor for any
 * verified transfer of one file; "md5" measures that floor on a page-cached
 * file.  The two pipelines are shaped as a fast netdisk would be:
 *
 *   get  the server child sendfile()s the file (the kernel copies from the
 *        page cache, the server never touches the bytes); the client
 *        recv()s into a ring of RING_SLOTS large buffers and write()s each
 *        into the output file, while a second thread runs MD5 over the same
 *        buffers, so receiving, writing and hashing overlap.  A slot is
 *        reused only once both its write and its hash are done.  No fsync:
 *        a get lands in the page cache.
 *   put  both ends hash, one pass each, on one thread each: the client
 *        read()s, hashes and send()s 1 MiB units, then the digest as a
 *        trailer; the server recv()s, hashes and write()s them into an
 *        unnamed temporary file, compares the trailer with its own digest
 *        and (with --sync) fdatasync()s before it replies one byte, 'Y' or
 *        'N'.  The file is then discarded.
 *   small  no transfer: writes N files of SIZE bytes into DIR the way the
 *        daemon lands each upload (a new temporary file, one write, with
 *        --sync an fdatasync, a rename to the final name, with --sync an
 *        fsync of the directory), so that the benchmark can say what the
 *        syncs cost per file, apart from the protocol around them.
 *   wake  no transfer: what handing work to a sleeping thread costs, the
 *        step between the daemon's reactor and a worker.  Two threads pass
 *        a token back and forth N times through two nd_queues, the task
 *        queue the daemon uses, each pass waking the thread that sleeps on
 *        the other end: on two CPUs (the first two this process may use;
 *        "-" when it may use one), on one of them, and where the scheduler
 *        puts them, as it puts the daemon's threads.  APART is the
 *        percentage of that last run's wake-ups of the second thread that
 *        ran it on another CPU than the first was on.
 *
 * Usage (one line on stdout, "key value..." shaped; errors on stderr):
 *   nd_ref md5 FILE               -> md5 SECONDS HEXDIGEST
 *   nd_ref get FILE OUT           -> get SECONDS HEXDIGEST BYTES
 *   nd_ref put FILE OUTDIR [--sync] -> put SECONDS HEXDIGEST BYTES
 *   nd_ref small DIR N SIZE [--sync] -> small SECONDS N
 *   nd_ref wake N                 -> wake US_TWO US_ONE US_FREE APART
 * SECONDS comes from CLOCK_MONOTONIC: md5 around the read and hash loop;
 * get from connect to the final digest with every byte written; put, in
 * the client, from connect to the server's reply; small around the N files.
 * Exit status: 0 done, 1 failed (including a 'N' reply), 2 usage.
 *
 * Every wait is bounded: sockets carry 60 s send and receive timeouts, the
 * server child waits at most 60 s for its one connection and dies with the
 * parent (PR_SET_PDEATHSIG), and a child that has not exited 10 s after
 * the transfer is killed by its pid.  Every descriptor is CLOEXEC.
 * wake takes at most WAKE_TIMEOUT_S in all (an alarm ends the process).
 * US_TWO, US_ONE and US_FREE are microseconds per wake-up, each over its
 * whole run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_queue.h"

#define UNIT ND_IO_CHUNK  /* bytes per read, recv, send, write and hash */
/* get: buffers between the I/O and the hash thread, as many as the
 * client's get uses (client/nd_xferget.c): more only add memory that each
 * of the concurrent gets touches for the first time. */
#define RING_SLOTS 3
#define IO_TIMEOUT_S 60   /* bound on every socket wait */
#define REAP_TIMEOUT_S 10 /* the child's grace after the transfer */
#define WAKE_TIMEOUT_S 60 /* bound on the whole of wake */

static const char *s_who = "nd_ref"; /* "nd_ref server" in the child */

static void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
err_msg(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", s_who);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
    fprintf(stderr, "usage: nd_ref md5 FILE\n"
                    "       nd_ref get FILE OUT\n"
                    "       nd_ref put FILE OUTDIR [--sync]\n"
                    "       nd_ref small DIR N SIZE [--sync]\n"
                    "       nd_ref wake N\n");
    exit(2);
}

static void *
unit_alloc(void)
{
    /* Page-aligned, as netdisk's own transfer buffers (nd_io_buf_alloc). */
    return nd_io_buf_alloc(UNIT);
}

/* ---- sockets and the server child ------------------------------------- */

static int
set_timeouts(int sock)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};

    if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    return 0;
}

/* A listener on 127.0.0.1 and a port the kernel picks.  Returns the fd
 * (the port in *port) or -errno. */
static int
listen_loopback(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd, rc;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Connects to 127.0.0.1:port with the I/O timeouts set (SO_SNDTIMEO also
 * bounds a blocking connect).  Returns the fd or -errno. */
static int
connect_loopback(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd, rc;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = set_timeouts(fd);
    if (rc == 0) {
        while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 &&
               errno == EINTR)
            ;
        if (rc < 0)
            rc = -errno;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* The server's one connection: waits at most IO_TIMEOUT_S for it.
 * Returns the fd (timeouts set) or -errno. */
static int
accept_one(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int fd, rc;

    do
        rc = poll(&p, 1, IO_TIMEOUT_S * 1000);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return -ETIMEDOUT;
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = set_timeouts(fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

struct srv_args {
    const char *file;   /* get: what to send */
    const char *outdir; /* put: where the temporary file goes */
    bool sync;          /* put: fdatasync() before replying */
};

typedef int (*serve_fn)(int sock, const struct srv_args *a);

/*
 * Forks the server child, which accepts one connection on lfd, runs serve
 * on it and exits 0 when serve returned 0, 1 otherwise.  The parent keeps
 * lfd (its copy is closed by the caller).  Returns the child's pid or
 * -errno.
 */
static pid_t
spawn_server(int lfd, serve_fn serve, const struct srv_args *a)
{
    pid_t parent = getpid(), pid;
    int sock, rc;

    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        return pid;
    s_who = "nd_ref server";
    /* Dies with the parent; the check closes the race with an early exit
     * of the parent before prctl(). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(1);
    sock = accept_one(lfd);
    close(lfd);
    if (sock < 0) {
        err_msg("accept on 127.0.0.1: %s", strerror(-sock));
        _exit(1);
    }
    rc = serve(sock, a);
    close(sock);
    _exit(rc == 0 ? 0 : 1);
}

/*
 * Listens on a loopback port, forks the server child (serve with a) onto
 * it, and connects to it, setting *t0 just before the connect so that the
 * fork is not timed.  Returns the connected socket (the caller owns it)
 * with *pid set (the caller reaps it; -1 when no child was made), or -1
 * after saying why.
 */
static int
start_pair(serve_fn serve, const struct srv_args *a, pid_t *pid, double *t0)
{
    uint16_t port = 0;
    int lfd = listen_loopback(&port), sock;

    *pid = -1;
    if (lfd < 0) {
        err_msg("listen on 127.0.0.1: %s", strerror(-lfd));
        return -1;
    }
    *pid = spawn_server(lfd, serve, a);
    if (*pid < 0) {
        err_msg("fork: %s", strerror((int)-*pid));
        nd_io_close(&lfd);
        return -1;
    }
    *t0 = nd_io_now();
    sock = connect_loopback(port);
    nd_io_close(&lfd);
    if (sock < 0) {
        err_msg("connect to 127.0.0.1:%u: %s", port, strerror(-sock));
        return -1;
    }
    return sock;
}

/*
 * Waits for the child, at most REAP_TIMEOUT_S, then SIGKILLs it (by its own
 * pid, nothing else) and reaps it.  Returns 0 when it exited with 0, -1
 * otherwise (said on stderr).
 */
static int
reap(pid_t pid)
{
    double end = nd_io_now() + REAP_TIMEOUT_S;
    struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};
    int st = 0;
    pid_t r;

    for (;;) {
        r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        if (nd_io_now() >= end) {
            err_msg("server child %d still running %d s after the "
                    "transfer: killing it",
                    (int)pid, REAP_TIMEOUT_S);
            (void)kill(pid, SIGKILL);
            while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
                ;
            return -1;
        }
        nanosleep(&tick, NULL);
    }
    if (r < 0) {
        err_msg("waitpid %d: %s", (int)pid, strerror(errno));
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFSIGNALED(st))
        err_msg("server child killed by signal %d", WTERMSIG(st));
    else
        err_msg("server child exited with %d", WEXITSTATUS(st));
    return -1;
}

/* ---- md5 ---------------------------------------------------------------- */

static int
mode_md5(const char *path)
{
    uint8_t md5[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN];
    struct nd_digest md = {0};
    uint8_t *buf = unit_alloc();
    double t0, t1;
    ssize_t n;
    int fd, rc = 1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_msg("open \"%s\": %s", path, strerror(errno));
        goto out;
    }
    if (buf == NULL || nd_digest_init(&md) < 0) {
        err_msg("out of memory");
        goto out;
    }
    t0 = nd_io_now();
    while ((n = nd_io_read_full(fd, buf, UNIT)) > 0)
        if (nd_digest_update(&md, buf, (size_t)n) < 0) {
            err_msg("MD5 failed");
            goto out;
        }
    if (n < 0) {
        err_msg("read \"%s\": %s", path, strerror((int)-n));
        goto out;
    }
    if (nd_digest_final(&md, md5) < 0) {
        err_msg("MD5 failed");
        goto out;
    }
    t1 = nd_io_now();
    nd_digest_hex(md5, hex);
    printf("md5 %.3f %s\n", t1 - t0, hex);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    nd_digest_free(&md);
    free(buf);
    return rc;
}

/* ---- get ---------------------------------------------------------------- */

static int
serve_get(int sock, const struct srv_args *a)
{
    struct stat st;
    off_t off = 0;
    int fd, rc = 0;

    fd = open(a->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_msg("open \"%s\": %s", a->file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (off < st.st_size) {
        ssize_t n =
            nd_io_sendfile_some(sock, fd, off, (size_t)(st.st_size - off));

        if (n < 0) {
            err_msg("sendfile after %jd bytes: %s", (intmax_t)off,
                    n == -EAGAIN ? "timed out" : strerror((int)-n));
            rc = -1;
            break;
        }
        off += n;
    }
    close(fd);
    return rc;
}

/*
 * The ring between the I/O thread (the main one) and the hash thread.
 * Slot seq % RING_SLOTS carries unit number seq.  The I/O thread fills a
 * slot only when seq - hashed < RING_SLOTS, i.e. the hash of the unit that
 * used it last is done; the write of that unit is done too, since the I/O
 * thread itself wrote it before receiving anything newer.
 */
struct ring {
    pthread_mutex_t mu;
    pthread_cond_t more; /* the hasher waits: a slot was filled, or eof */
    pthread_cond_t room; /* the I/O thread waits: a slot was hashed */
    uint8_t *buf[RING_SLOTS];
    size_t len[RING_SLOTS];
    uint64_t filled; /* units handed to the hasher */
    uint64_t hashed; /* units the hasher finished */
    bool eof;        /* no more units will come */
    int err;         /* the hasher failed: -EIO */
    struct nd_digest md;
};

static void *
hash_main(void *arg)
{
    struct ring *r = arg;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        size_t i;

        while (r->hashed == r->filled && !r->eof)
            pthread_cond_wait(&r->more, &r->mu);
        if (r->hashed == r->filled)
            break;
        i = (size_t)(r->hashed % RING_SLOTS);
        /* The slot is ours until hashed moves past it: hash unlocked. */
        pthread_mutex_unlock(&r->mu);
        if (r->err == 0 && nd_digest_update(&r->md, r->buf[i], r->len[i]) < 0)
            r->err = -EIO;
        pthread_mutex_lock(&r->mu);
        r->hashed++;
        pthread_cond_signal(&r->room);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/*
 * The client's side of a get: receives until EOF into the ring, writes each
 * unit to out and has the hasher digest it.  Returns 0 with the byte count
 * in *total and the digest in md5, or -1 (said on stderr).
 */
static int
get_receive(int sock, int out, struct ring *r, uint64_t *total,
            uint8_t md5[ND_DIGEST_LEN])
{
    pthread_t th;
    int rc = 0, prc;

    prc = pthread_create(&th, NULL, hash_main, r);
    if (prc != 0) {
        err_msg("pthread_create: %s", strerror(prc));
        return -1;
    }
    for (uint64_t seq = 0;; seq++) {
        size_t i = (size_t)(seq % RING_SLOTS);
        ssize_t n, w;

        pthread_mutex_lock(&r->mu);
        while (seq - r->hashed >= RING_SLOTS)
            pthread_cond_wait(&r->room, &r->mu);
        pthread_mutex_unlock(&r->mu);
        n = nd_io_recv_full(sock, r->buf[i], UNIT);
        if (n < 0) {
            err_msg("recv after %" PRIu64 " bytes: %s", *total,
                    n == -EAGAIN ? "timed out" : strerror((int)-n));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        /* Hand the unit over before writing it: the hash and the write
         * only read the buffer, so they may overlap. */
        pthread_mutex_lock(&r->mu);
        r->len[i] = (size_t)n;
        r->filled++;
        pthread_cond_signal(&r->more);
        pthread_mutex_unlock(&r->mu);
        w = nd_io_write_full(out, r->buf[i], (size_t)n);
        if (w < 0) {
            err_msg("write after %" PRIu64 " bytes: %s", *total,
                    strerror((int)-w));
            rc = -1;
            break;
        }
        *total += (uint64_t)n;
        if ((size_t)n < UNIT)
            break; /* recv_full is short only at EOF */
    }
    pthread_mutex_lock(&r->mu);
    r->eof = true;
    pthread_cond_signal(&r->more);
    pthread_mutex_unlock(&r->mu);
    pthread_join(th, NULL);
    if (rc == 0 && (r->err < 0 || nd_digest_final(&r->md, md5) < 0)) {
        err_msg("MD5 failed");
        rc = -1;
    }
    return rc;
}

static int
mode_get(const char *file, const char *outpath)
{
    struct srv_args a = {.file = file};
    struct ring r = {.mu = PTHREAD_MUTEX_INITIALIZER,
                     .more = PTHREAD_COND_INITIALIZER,
                     .room = PTHREAD_COND_INITIALIZER};
    uint8_t md5[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN];
    uint64_t total = 0;
    struct stat st;
    int sock = -1, out = -1, rc = 1;
    pid_t pid = -1;
    double t0 = 0, t1 = 0;

    hex[0] = '\0';
    if (stat(file, &st) < 0) {
        err_msg("stat \"%s\": %s", file, strerror(errno));
        return 1;
    }
    for (int i = 0; i < RING_SLOTS; i++)
        if ((r.buf[i] = unit_alloc()) == NULL) {
            err_msg("out of memory");
            goto out;
        }
    if (nd_digest_init(&r.md) < 0) {
        err_msg("out of memory");
        goto out;
    }
    out = open(outpath, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (out < 0) {
        err_msg("open \"%s\": %s", outpath, strerror(errno));
        goto out;
    }
    sock = start_pair(serve_get, &a, &pid, &t0);
    if (sock < 0)
        goto out;
    if (get_receive(sock, out, &r, &total, md5) < 0)
        goto out;
    t1 = nd_io_now();
    if (total != (uint64_t)st.st_size) {
        err_msg("received %" PRIu64 " bytes of %jd", total,
                (intmax_t)st.st_size);
        goto out;
    }
    nd_digest_hex(md5, hex);
    rc = 0;
out:
    /* Closing first lets a child still sending see EPIPE at once. */
    nd_io_close(&sock);
    if (pid > 0 && reap(pid) < 0)
        rc = 1;
    if (out >= 0 && close(out) < 0 && rc == 0) {
        err_msg("close \"%s\": %s", outpath, strerror(errno));
        rc = 1;
    }
    if (rc == 0)
        printf("get %.3f %s %" PRIu64 "\n", t1 - t0, hex, total);
    nd_digest_free(&r.md);
    for (int i = 0; i < RING_SLOTS; i++)
        free(r.buf[i]);
    return rc;
}

/* ---- put ---------------------------------------------------------------- */

static void
put_be64(uint8_t b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static uint64_t
get_be64(const uint8_t b[8])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

/* An unnamed file in dir, gone when closed: O_TMPFILE, or mkostemp() and
 * unlink() where the file system lacks it.  Returns the fd or -errno. */
static int
open_scratch(const char *dir)
{
    char path[4096];
    int fd;

    fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
        return fd >= 0 ? fd : -errno;
    if ((size_t)snprintf(path, sizeof(path), "%s/.nd_ref.XXXXXX", dir) >=
        sizeof(path))
        return -ENAMETOOLONG;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    (void)unlink(path);
    return fd;
}

static int
serve_put(int sock, const struct srv_args *a)
{
    uint8_t hdr[8], want[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    struct nd_digest md = {0};
    uint8_t *buf = unit_alloc();
    uint64_t size, done = 0;
    int fd = -1, rc = -1;
    ssize_t n;
    char reply;

    if (buf == NULL || nd_digest_init(&md) < 0) {
        err_msg("out of memory");
        goto out;
    }
    n = nd_io_recv_full(sock, hdr, sizeof(hdr));
    if (n != (ssize_t)sizeof(hdr)) {
        err_msg("no length: %s", n < 0 ? strerror((int)-n) : "EOF");
        goto out;
    }
    size = get_be64(hdr);
    fd = open_scratch(a->outdir);
    if (fd < 0) {
        err_msg("temporary file in \"%s\": %s", a->outdir, strerror(-fd));
        goto out;
    }
    while (done < size) {
        size_t len = size - done < UNIT ? (size_t)(size - done) : UNIT;

        n = nd_io_recv_full(sock, buf, len);
        if (n != (ssize_t)len) {
            err_msg("recv after %" PRIu64 " of %" PRIu64 " bytes: %s", done,
                    size,
                    n >= 0         ? "EOF"
                    : n == -EAGAIN ? "timed out"
                                   : strerror((int)-n));
            goto out;
        }
        if (nd_digest_update(&md, buf, len) < 0) {
            err_msg("MD5 failed");
            goto out;
        }
        n = nd_io_write_full(fd, buf, len);
        if (n < 0) {
            err_msg("write: %s", strerror((int)-n));
            goto out;
        }
        done += len;
    }
    n = nd_io_recv_full(sock, want, sizeof(want));
    if (n != (ssize_t)sizeof(want)) {
        err_msg("no trailer: %s", n < 0 ? strerror((int)-n) : "EOF");
        goto out;
    }
    if (nd_digest_final(&md, got) < 0) {
        err_msg("MD5 failed");
        goto out;
    }
    if (a->sync && fdatasync(fd) < 0) {
        err_msg("fdatasync: %s", strerror(errno));
        goto out;
    }
    /* A mismatch is an answer, not a server failure: the client reports
     * it. */
    reply = memcmp(want, got, sizeof(got)) == 0 ? 'Y' : 'N';
    n = nd_io_send_full(sock, &reply, 1);
    if (n < 0) {
        err_msg("send reply: %s", strerror((int)-n));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    nd_digest_free(&md);
    free(buf);
    return rc;
}

/*
 * The client's side of a put: length, the file in units (each hashed, then
 * sent), the digest as trailer, then the reply byte into *reply.  Returns
 * 0 or -1 (said on stderr).
 */
static int
put_send(int sock, int fd, uint64_t size, uint8_t *buf, uint64_t *total,
         uint8_t md5[ND_DIGEST_LEN], char *reply)
{
    struct nd_digest md = {0};
    uint8_t hdr[8];
    ssize_t n = 0, s;
    int rc = -1;

    if (nd_digest_init(&md) < 0) {
        err_msg("out of memory");
        return -1;
    }
    put_be64(hdr, size);
    s = nd_io_send_full(sock, hdr, sizeof(hdr));
    while (s >= 0 && (n = nd_io_read_full(fd, buf, UNIT)) > 0) {
        if (nd_digest_update(&md, buf, (size_t)n) < 0) {
            err_msg("MD5 failed");
            goto out;
        }
        s = nd_io_send_full(sock, buf, (size_t)n);
        *total += (uint64_t)n;
    }
    if (s < 0) {
        err_msg("send after %" PRIu64 " bytes: %s", *total,
                s == -EAGAIN ? "timed out" : strerror((int)-s));
        goto out;
    }
    if (n < 0) {
        err_msg("read: %s", strerror((int)-n));
        goto out;
    }
    if (*total != size) {
        err_msg("the file changed size: %" PRIu64 " bytes, not %" PRIu64,
                *total, size);
        goto out;
    }
    if (nd_digest_final(&md, md5) < 0) {
        err_msg("MD5 failed");
        goto out;
    }
    s = nd_io_send_full(sock, md5, ND_DIGEST_LEN);
    if (s < 0) {
        err_msg("send trailer: %s", strerror((int)-s));
        goto out;
    }
    n = nd_io_recv_full(sock, reply, 1);
    if (n != 1) {
        err_msg("no reply: %s", n == 0         ? "EOF"
                                : n == -EAGAIN ? "timed out"
                                               : strerror((int)-n));
        goto out;
    }
    rc = 0;
out:
    nd_digest_free(&md);
    return rc;
}

static int
mode_put(const char *file, const char *outdir, bool sync)
{
    struct srv_args a = {.outdir = outdir, .sync = sync};
    uint8_t md5[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN], reply = 0;
    uint8_t *buf = unit_alloc();
    uint64_t total = 0;
    struct stat st;
    int sock = -1, fd = -1, rc = 1;
    pid_t pid = -1;
    double t0 = 0, t1 = 0;

    hex[0] = '\0';
    if (buf == NULL) {
        err_msg("out of memory");
        goto out;
    }
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_msg("open \"%s\": %s", file, strerror(errno));
        goto out;
    }
    sock = start_pair(serve_put, &a, &pid, &t0);
    if (sock < 0)
        goto out;
    if (put_send(sock, fd, (uint64_t)st.st_size, buf, &total, md5, &reply) < 0)
        goto out;
    t1 = nd_io_now();
    if (reply != 'Y') {
        err_msg("the server's digest differs (reply '%c')", reply);
        goto out;
    }
    nd_digest_hex(md5, hex);
    rc = 0;
out:
    nd_io_close(&sock);
    if (pid > 0 && reap(pid) < 0)
        rc = 1;
    if (rc == 0)
        printf("put %.3f %s %" PRIu64 "\n", t1 - t0, hex, total);
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* ---- small: what landing small files costs, with and without syncs ---- */

static int
mode_small(const char *dir, const char *n_arg, const char *size_arg, bool sync)
{
    char tmp[64], name[64], *end;
    long n = strtol(n_arg, &end, 10), size;
    double t0, t1;
    uint8_t *buf;
    int dfd, rc = 1;

    if (*end != '\0' || n < 1 || n > 1000000)
        usage();
    size = strtol(size_arg, &end, 10);
    if (*end != '\0' || size < 0 || size > (long)UNIT)
        usage();
    buf = unit_alloc();
    if (buf == NULL) {
        err_msg("out of memory");
        return 1;
    }
    memset(buf, 0x5a, (size_t)size);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        err_msg("%s: %s", dir, strerror(errno));
        free(buf);
        return 1;
    }
    t0 = nd_io_now();
    for (long i = 0; i < n; i++) {
        int fd;

        snprintf(tmp, sizeof(tmp), ".tmp%06ld", i);
        snprintf(name, sizeof(name), "f%06ld", i);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 ||
            nd_io_write_full(fd, buf, (size_t)size) != (ssize_t)size ||
            (sync && fdatasync(fd) < 0) || renameat(dfd, tmp, dfd, name) < 0 ||
            (sync && fsync(dfd) < 0)) {
            err_msg("%s/%s: %s", dir, name, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
    }
    t1 = nd_io_now();
    printf("small %.3f %ld\n", t1 - t0, n);
    rc = 0;
out:
    close(dfd);
    free(buf);
    return rc;
}

/* ---- wake: what handing work to a sleeping thread costs --------------- */

/* The token: the CPU its sender ran on when it queued it. */
struct wake_token {
    int cpu;
};

struct wake_pair {
    struct nd_queue to, back;
    long n;
    long apart; /* wake-ups of the peer on another CPU than its waker's */
};

/* The peer: takes the token, notes where it woke, sends it back. */
static void *
wake_peer(void *arg)
{
    struct wake_pair *w = arg;

    for (long i = 0; i < w->n; i++) {
        struct wake_token *t = nd_queue_pop(&w->to);
        int cpu;

        if (t == NULL)
            break;
        cpu = sched_getcpu();
        if (cpu != t->cpu)
            w->apart++;
        t->cpu = cpu;
        if (nd_queue_push(&w->back, t) < 0)
            break;
    }
    return NULL;
}

/* Confines thread t to CPU cpu; cpu < 0 leaves it alone.  Returns 0 or
 * an errno value. */
static int
pin(pthread_t t, int cpu)
{
    cpu_set_t one;

    if (cpu < 0)
        return 0;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(t, sizeof(one), &one);
}

/* n round trips between this thread, on CPU me, and a peer it starts, on
 * CPU other (-1: where the scheduler puts them): 2 n wake-ups.  Returns
 * microseconds per wake-up, or -1.  *apart counts the peer's wake-ups on
 * another CPU than its waker's. */
static double
wake_run(long n, int me, int other, long *apart)
{
    struct wake_pair w = {.n = n};
    struct wake_token tok;
    pthread_t peer;
    double t0, t1;
    long i;
    int rc;

    if ((rc = -nd_queue_init(&w.to, 1)) != 0 ||
        (rc = -nd_queue_init(&w.back, 1)) != 0) {
        err_msg("wake: nd_queue_init: %s", strerror(rc));
        exit(1);
    }
    if ((rc = pthread_create(&peer, NULL, wake_peer, &w)) != 0) {
        err_msg("wake: pthread_create: %s", strerror(rc));
        exit(1);
    }
    if ((rc = pin(pthread_self(), me)) != 0 || (rc = pin(peer, other)) != 0) {
        err_msg("wake: cannot confine a thread to a CPU: %s", strerror(rc));
        exit(1);
    }
    t0 = nd_io_now();
    for (i = 0; i < n; i++) {
        tok.cpu = sched_getcpu();
        if (nd_queue_push(&w.to, &tok) < 0 || nd_queue_pop(&w.back) == NULL)
            break;
    }
    t1 = nd_io_now();
    nd_queue_close(&w.to);
    pthread_join(peer, NULL);
    nd_queue_destroy(&w.to);
    nd_queue_destroy(&w.back);
    *apart = w.apart;
    return i == n ? (t1 - t0) * 1e6 / (2.0 * (double)n) : -1;
}

/* wake's bound: says why before the process ends. */
static void
wake_timeout(int sig)
{
    static const char msg[] = "nd_ref: wake: no answer within the time "
                              "bound: a thread hung\n";

    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(1);
}

static int
mode_wake(const char *n_arg)
{
    char *end, two[32] = "-";
    long n = strtol(n_arg, &end, 10), apart = 0, unused;
    double free_us, one_us, two_us = 0;
    cpu_set_t all;
    int a = -1, b = -1;

    if (*end != '\0' || n < 1 || n > 1000000)
        usage();
    signal(SIGALRM, wake_timeout);
    alarm(WAKE_TIMEOUT_S);
    if (sched_getaffinity(0, sizeof(all), &all) < 0) {
        err_msg("wake: sched_getaffinity: %s", strerror(errno));
        return 1;
    }
    /* The first two CPUs this process may run on. */
    for (int c = 0; c < CPU_SETSIZE && b < 0; c++)
        if (CPU_ISSET(c, &all)) {
            if (a < 0)
                a = c;
            else
                b = c;
        }
    /* The free run first: the others leave this thread confined. */
    free_us = wake_run(n, -1, -1, &apart);
    if (b >= 0)
        two_us = wake_run(n, a, b, &unused);
    one_us = wake_run(n, a, a, &unused);
    if (free_us < 0 || one_us < 0 || two_us < 0)
        return 1;
    if (b >= 0)
        snprintf(two, sizeof(two), "%.2f", two_us);
    printf("wake %s %.2f %.2f %.0f\n", two, one_us, free_us,
           100.0 * (double)apart / (double)n);
    return 0;
}

int
main(int argc, char **argv)
{
    /* Sends use MSG_NOSIGNAL, but sendfile() has no such flag. */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "md5") == 0)
        return mode_md5(argv[2]);
    if (argc == 4 && strcmp(argv[1], "get") == 0)
        return mode_get(argv[2], argv[3]);
    if ((argc == 4 || (argc == 5 && strcmp(argv[4], "--sync") == 0)) &&
        strcmp(argv[1], "put") == 0)
        return mode_put(argv[2], argv[3], argc == 5);
    if ((argc == 5 || (argc == 6 && strcmp(argv[5], "--sync") == 0)) &&
        strcmp(argv[1], "small") == 0)
        return mode_small(argv[2], argv[3], argv[4], argc == 6);
    if (argc == 3 && strcmp(argv[1], "wake") == 0)
        return mode_wake(argv[2]);
    usage();
}
