/*
 * netdisk: the command-line client.  One invocation is one session: connect,
 * (TLS,) HELLO, login, one request (put, get or ls), close.  File bytes are
 * hashed as they move and checked against the peer's digest, so success means
 * the bytes at the far end are the bytes at this end.  The wire format is
 * nd_proto's, the I/O loops are nd_io's and nd_wire's, the session and error
 * reports are nd_cli's; this file parses the command line, sequences put, get
 * and ls, and draws progress.  mkdir, rm and mv (several requests over the
 * one session) are nd_manage's.
 *
 * Helpers return 0 or -errno; the command functions report the failure in
 * one line and return the exit status that main() hands to the shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_cli.h"
#include "nd_clientconf.h"
#include "nd_digest.h"
#include "nd_io.h"
#include "nd_manage.h"
#include "nd_progress.h"
#include "nd_proto.h"
#include "nd_stat.h"
#include "nd_verbose.h"
#include "nd_wire.h"

static const char usage_text[] =
    "Usage: netdisk [OPTIONS] put LOCAL [REMOTE]\n"
    "       netdisk [OPTIONS] get REMOTE [LOCAL]\n"
    "       netdisk [OPTIONS] ls [DIR]\n"
    "       netdisk [OPTIONS] stat REMOTE...\n"
    "       netdisk [OPTIONS] md5 REMOTE...\n"
    "       netdisk [OPTIONS] mkdir [-p] DIR...\n"
    "       netdisk [OPTIONS] rm [-r] PATH...\n"
    "       netdisk [OPTIONS] mv FROM TO\n"
    "       netdisk --help | --version\n"
    "\n"
    "Copy files to and from a netdiskd server, or list a directory on it.\n"
    "\n"
    "  put LOCAL [REMOTE]  upload the regular file LOCAL as REMOTE (default:\n"
    "                      the base name of LOCAL; a REMOTE ending in '/'\n"
    "                      gets that base name appended)\n"
    "  get REMOTE [LOCAL]  download REMOTE as LOCAL (default: the base name\n"
    "                      of REMOTE; into LOCAL if it is a directory); the\n"
    "                      bytes go to LOCAL.part, renamed to LOCAL only\n"
    "                      when their MD5 digest matches the server's\n"
    "  ls [DIR]            list DIR (default: the root) sorted by name: type\n"
    "                      (f file, d directory, l link, ? other), size,\n"
    "                      modification time (UTC) and name\n"
    "  stat REMOTE...      one line per REMOTE: type, size, modification\n"
    "                      time (UTC), MD5 digest ('-' if not a file), name\n"
    "  md5 REMOTE...       the MD5 digest of each file REMOTE in md5sum's\n"
    "                      format, so 'netdisk md5 f | md5sum -c' checks a\n"
    "                      local copy of f; stat and md5 use one session for\n"
    "                      all REMOTEs, and a REMOTE that fails (exit 4)\n"
    "                      does not stop the others\n"
    "  mkdir [-p] DIR...   make each directory DIR; -p: make missing parents\n"
    "                      too, and an existing directory DIR is no error\n"
    "  rm [-r] PATH...     remove each file, symbolic link (never what it\n"
    "                      points to) or empty directory PATH; -r: remove a\n"
    "                      directory and everything below it\n"
    "  mv FROM TO          rename FROM to TO atomically; an existing TO is\n"
    "                      refused, and a TO ending in '/' gets FROM's base\n"
    "                      name appended; mkdir and rm use one session for\n"
    "                      all operands, and one that fails (exit 4) does\n"
    "                      not stop the others\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   read settings from FILE (default: $NETDISK_CONFIG,\n"
    "                      else $XDG_CONFIG_HOME/netdisk/client.conf or\n"
    "                      ~/.config/netdisk/client.conf, if it exists)\n"
    "  -H, --host HOST     server name or IPv4/IPv6 address (default:\n"
    "                      $NETDISK_HOST, else " ND_DEFAULT_HOST ")\n"
    "  -p, --port PORT     server TCP port (default: $NETDISK_PORT, "
    "else " ND_DEFAULT_PORT ")\n"
    "  -q, --quiet         print nothing but errors: no progress bar (it is\n"
    "                      drawn only when stderr is a terminal)\n"
    "  -v, --verbose       after each file put or get, print a line with its\n"
    "                      names, size and MD5 digest on stderr\n"
    "  -u, --user USER     log in as USER (default: $NETDISK_USER, else\n"
    "                      your login name)\n"
    "      --password-file FILE\n"
    "                      read the password from the first line of FILE\n"
    "                      (else $NETDISK_PASSWORD, else a prompt on the\n"
    "                      terminal, without echo)\n"
    "      --tls           use TLS; the server's certificate must be valid\n"
    "                      for HOST\n"
    "      --cacert FILE   trust the CA certificates in FILE (PEM) instead\n"
    "                      of the system's trust store\n"
    "      --insecure      with --tls, do not check the certificate at all\n"
    "                      (encrypted, but anyone could be at the far end)\n"
    "  -h, --help          show this help and exit\n"
    "  -V, --version       show the version and exit\n"
    "\n"
    "Options win over the environment (NETDISK_HOST, NETDISK_PORT,\n"
    "NETDISK_USER, NETDISK_PASSWORD, NETDISK_TLS=1|0, NETDISK_CACERT), which\n"
    "wins over the config file (keys host, port, user, password_file, tls,\n"
    "cacert, insecure, quiet, verbose), which wins over the defaults.\n"
    "\n"
    "Exit status:\n"
    "  0  success (put and get: the MD5 digests matched)\n"
    "  1  local file error (cannot read LOCAL or the password file,\n"
    "     cannot write the destination)\n"
    "  2  usage error, or an unreadable or invalid config file\n"
    "  3  connection, network or protocol failure (cannot connect,\n"
    "     connection lost, malformed reply, timeout, TLS handshake\n"
    "     failed or server certificate refused)\n"
    "  4  the server refused the request (its message and code are shown)\n"
    "  5  digest mismatch: the data was corrupted in transit; nothing was "
    "kept\n"
    "  6  login failed (wrong user or password, or too many failures from\n"
    "     this address), or the server could not prove it knows the\n"
    "     password\n";

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
 * Sends size bytes of fd, then the trailer, and checks that the OK reply
 * names the same size and digest.  Returns an exit status.
 */
static int
put_body(struct nd_sess *s, int fd, const char *local, uint64_t size)
{
    struct nd_digest d = {0};
    struct nd_progress bar;
    uint8_t *buf = malloc(ND_IO_CHUNK), md5[ND_MD5_LEN], got[ND_MD5_LEN];
    uint8_t body[ND_REPLY_MAX];
    uint64_t done = 0, got_size;
    size_t len;
    int rc;

    if (buf == NULL || nd_digest_init(&d) < 0) {
        rc = fail_local("put", local, ENOMEM);
        goto out;
    }
    nd_progress_start(&bar, local, size, s->progress);
    nd_cli_bar_set(&bar);
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
    rc = nd_sess_expect(s, ND_T_OK, body, &len);
    if (rc == ND_EXIT_OK && nd_proto_putok_decode(body, len, &got_size, got))
        rc = nd_cli_fail_wire(s, -EBADMSG);
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

static int
cmd_put(const struct nd_opts *o, const char *local, const char *remote_arg)
{
    char remote[ND_PATH_MAX + 2], base[ND_LOCAL_MAX];
    uint8_t body[ND_REPLY_MAX];
    struct nd_sess s;
    struct stat st;
    size_t len;
    int fd, rc;

    base_name(local, base, sizeof(base));
    if (remote_arg == NULL)
        remote_arg = "";
    /* A name too long for remote is caught by nd_sess_init(). */
    if (remote_arg[0] == '\0' || remote_arg[strlen(remote_arg) - 1] == '/')
        rc = snprintf(remote, sizeof(remote), "%s%s", remote_arg, base);
    else
        rc = snprintf(remote, sizeof(remote), "%s", remote_arg);
    rc = nd_sess_init(&s, o, "put", rc < 0 ? "" : remote);
    if (rc != ND_EXIT_OK)
        return rc;
    /* O_NONBLOCK keeps open() of a FIFO from waiting for a writer; it is
     * cleared again once the file is known to be regular. */
    fd = open(local, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fail_local("cannot open", local, errno);
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
        rc = nd_sess_open(o, &s);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_request(&s, ND_T_PUT, (uint64_t)st.st_size);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_expect(&s, ND_T_READY, body, &len);
    if (rc == ND_EXIT_OK)
        rc = put_body(&s, fd, local, (uint64_t)st.st_size);
    nd_io_close(&fd);
    /* Closing before the trailer makes the server discard the partial. */
    nd_sess_close(&s);
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

/* Receives size file bytes into fd, hashing them.  Returns an exit status. */
static int
get_bytes(struct nd_sess *s, int fd, const char *part, uint64_t size,
          uint8_t md5[ND_MD5_LEN])
{
    struct nd_digest d = {0};
    struct nd_progress bar;
    uint8_t *buf = malloc(ND_IO_CHUNK);
    uint64_t done = 0;
    int rc = ND_EXIT_OK;

    if (buf == NULL || nd_digest_init(&d) < 0) {
        free(buf);
        return fail_local("get", part, ENOMEM);
    }
    nd_progress_start(&bar, s->path, size, s->progress);
    nd_cli_bar_set(&bar);
    while (done < size && rc == ND_EXIT_OK) {
        size_t want = size - done < ND_IO_CHUNK ? size - done : ND_IO_CHUNK;
        ssize_t n = nd_stream_read_full(&s->st, buf, want);

        if (n < 0) {
            rc = nd_cli_fail_wire(s, (int)n);
        } else if ((size_t)n < want) {
            nd_cli_err("%s: connection lost after %" PRIu64 " of %" PRIu64
                       " bytes",
                       s->ctx, done + (uint64_t)n, size);
            rc = ND_EXIT_NET;
        } else if ((n = nd_digest_update(&d, buf, want)) < 0 ||
                   (n = nd_io_write_full(fd, buf, want)) < 0) {
            rc = fail_local("cannot write", part, (int)-n);
        } else {
            done += want;
            nd_progress_update(&bar, done);
        }
    }
    if (rc == ND_EXIT_OK && nd_digest_final(&d, md5) < 0)
        rc = fail_local("get", part, EIO);
    if (nd_cli_bar_take(&bar))
        nd_progress_finish(&bar, rc == ND_EXIT_OK);
    nd_digest_free(&d);
    free(buf);
    return rc;
}

/* Reads the trailer and compares it with md5.  Returns an exit status. */
static int
get_trailer(struct nd_sess *s, const uint8_t md5[ND_MD5_LEN])
{
    uint8_t body[ND_REPLY_MAX], theirs[ND_MD5_LEN];
    size_t len;
    int rc = nd_sess_expect(s, ND_T_DIGEST, body, &len);

    if (rc != ND_EXIT_OK)
        return rc;
    if (nd_proto_digest_decode(body, len, theirs) < 0)
        return nd_cli_fail_wire(s, -EBADMSG);
    if (memcmp(theirs, md5, ND_MD5_LEN) != 0) {
        nd_cli_err("%s: digest mismatch (data corrupted in transit); nothing "
                   "kept",
                   s->ctx);
        return ND_EXIT_DIGEST;
    }
    return ND_EXIT_OK;
}

/* Receives the file announced by FILE into part and renames it to local
 * when the digest matches; on any failure part is removed. */
static int
get_body(struct nd_sess *s, const char *local, const char *part, uint64_t size)
{
    uint8_t md5[ND_MD5_LEN];
    int fd, rc;

    s_part = part;
    s_part_live = 1;
    fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        s_part_live = 0;
        return fail_local("cannot create", part, errno);
    }
    rc = get_bytes(s, fd, part, size, md5);
    if (rc == ND_EXIT_OK)
        rc = get_trailer(s, md5);
    /* close() is where a file system may report a deferred write error. */
    if (close(fd) < 0 && errno != EINTR && rc == ND_EXIT_OK)
        rc = fail_local("cannot write", part, errno);
    if (rc == ND_EXIT_OK && rename(part, local) < 0)
        rc = fail_local("cannot rename to", local, errno);
    if (rc != ND_EXIT_OK)
        unlink(part);
    s_part_live = 0;
    if (rc == ND_EXIT_OK && s->verbose)
        nd_verbose_file("get", s->path, local, size, md5);
    return rc;
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

static int
cmd_get(const struct nd_opts *o, const char *remote, const char *local_arg)
{
    char local[ND_LOCAL_MAX], part[ND_LOCAL_MAX];
    uint8_t body[ND_REPLY_MAX];
    struct nd_sess s;
    uint64_t size = 0;
    int64_t mtime;
    size_t len;
    int rc;

    rc = nd_sess_init(&s, o, "get", remote);
    if (rc == ND_EXIT_OK)
        rc = get_local_name(remote, local_arg, local, sizeof(local));
    if (rc != ND_EXIT_OK)
        return rc;
    if (snprintf(part, sizeof(part), "%s.part", local) >= (int)sizeof(part))
        return fail_local("cannot create", local, ENAMETOOLONG);
    catch_signals();
    rc = nd_sess_open(o, &s);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_request(&s, ND_T_GET, 0);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_expect(&s, ND_T_FILE, body, &len);
    if (rc == ND_EXIT_OK &&
        (nd_proto_file_decode(body, len, &size, &mtime) < 0 ||
         size > INT64_MAX))
        rc = nd_cli_fail_wire(&s, -EBADMSG);
    /* Only now, with the file known to exist, is anything created here. */
    if (rc == ND_EXIT_OK)
        rc = get_body(&s, local, part, size);
    nd_sess_close(&s);
    return rc;
}

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

/* Appends the entries of one ENTRIES body.  Returns 0, -EBADMSG or
 * -ENOMEM. */
static int
ls_add_frame(struct listing *l, const uint8_t *body, size_t len)
{
    struct nd_entry e;
    size_t off = 4;
    uint32_t n;

    if (nd_proto_entries_count(body, len, &n) < 0)
        return -EBADMSG;
    for (uint32_t i = 0; i < n; i++) {
        if (nd_proto_entries_next(body, len, &off, &e) < 0)
            return -EBADMSG;
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 256;
            struct ls_ent *v = realloc(l->v, cap * sizeof(*v));

            if (v == NULL)
                return -ENOMEM;
            l->v = v;
            l->cap = cap;
        }
        l->v[l->n].name = strdup(e.name);
        if (l->v[l->n].name == NULL)
            return -ENOMEM;
        l->v[l->n].type = (char)e.type;
        l->v[l->n].size = e.size;
        l->v[l->n++].mtime = e.mtime;
    }
    return off == len ? 0 : -EBADMSG;
}

/*
 * Reads ENTRIES frames up to END into l.  Returns 0 at END, -ECANCELED
 * when END's total disagrees with the entries received (*total is set),
 * a positive status for ERROR, -ENOMEM, or a negative nd_wire error.
 */
static int
ls_recv(struct nd_sess *s, struct listing *l, uint8_t *body, uint64_t *total)
{
    struct nd_hdr h;
    int rc = 0;

    while (rc == 0) {
        rc = nd_wire_recv(&s->st, &h, body, ND_FRAME_MAX);
        if (rc < 0)
            return rc;
        if (h.type == ND_T_ENTRIES) {
            rc = ls_add_frame(l, body, h.len);
        } else if (h.type == ND_T_END) {
            rc = nd_proto_end_decode(body, h.len, total);
            return rc == 0 && *total != l->n ? -ECANCELED : rc;
        } else if (h.type == ND_T_ERROR) {
            rc = nd_proto_error_decode(body, h.len, s->msg, sizeof(s->msg));
            return rc < 0 ? -EBADMSG : rc;
        } else {
            rc = -EBADMSG;
        }
    }
    return rc;
}

/* Collects the whole listing.  Returns an exit status. */
static int
ls_collect(struct nd_sess *s, struct listing *l)
{
    uint8_t *body = malloc(ND_FRAME_MAX);
    uint64_t total = 0;
    int rc = body != NULL ? ls_recv(s, l, body, &total) : -ENOMEM;

    free(body);
    if (rc == -ENOMEM) {
        nd_cli_err("%s: %s", s->ctx, strerror(ENOMEM));
        return ND_EXIT_LOCAL;
    }
    if (rc == -ECANCELED) {
        nd_cli_err("%s: malformed reply from server: %" PRIu64
                   " entries announced, %zu received",
                   s->ctx, total, l->n);
        return ND_EXIT_NET;
    }
    return rc == 0 ? ND_EXIT_OK : nd_cli_fail_wire(s, rc);
}

static int
ls_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ls_ent *)a)->name,
                  ((const struct ls_ent *)b)->name);
}

/* Prints one entry; control bytes in the name become '?'. */
static void
ls_print(const struct ls_ent *e)
{
    char when[32] = "----------T--:--:--Z";
    char type =
        e->type == 'f' || e->type == 'd' || e->type == 'l' ? e->type : '?';
    time_t t = (time_t)e->mtime;
    struct tm tm;

    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (char *p = e->name; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    printf("%c %12" PRIu64 " %s %s\n", type, e->size, when, e->name);
}

static int
cmd_ls(const struct nd_opts *o, const char *dir)
{
    struct listing l = {0};
    struct nd_sess s;
    int rc = nd_sess_init(&s, o, "ls", dir);

    if (rc == ND_EXIT_OK)
        rc = nd_sess_open(o, &s);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_request(&s, ND_T_LIST, 0);
    if (rc == ND_EXIT_OK)
        rc = ls_collect(&s, &l);
    nd_sess_close(&s);
    if (rc == ND_EXIT_OK && l.n > 0)
        qsort(l.v, l.n, sizeof(l.v[0]), ls_cmp);
    for (size_t i = 0; i < l.n; i++) {
        if (rc == ND_EXIT_OK)
            ls_print(&l.v[i]);
        free(l.v[i].name);
    }
    free(l.v);
    if (rc == ND_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        /* A closed pipe (ls | head) is the reader's choice, not news. */
        if (errno != EPIPE)
            nd_cli_err("cannot write to standard output: %s", strerror(errno));
        rc = ND_EXIT_LOCAL;
    }
    return rc;
}

/* Checks a port number and returns 0, or a usage error. */
static int
check_port(const char *port, const char *where)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 ||
        v == 0 || v > 65535) {
        nd_cli_err("invalid port \"%s\"%s (try 'netdisk --help')", port, where);
        return ND_EXIT_USAGE;
    }
    return ND_EXIT_OK;
}

/* Fills in o from argv, then the environment and the config file.  Returns
 * -1 to go on, else the exit status (--help, --version, usage errors). */
static int
parse_opts(int argc, char **argv, struct nd_opts *o)
{
    static const struct option longs[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"config", required_argument, NULL, 'c'},
        {"user", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'P'},
        {"tls", no_argument, NULL, 'T'},
        {"cacert", required_argument, NULL, 'C'},
        {"insecure", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *port_from = "", *conf = NULL;
    int c;

    opterr = 0;
    /* '+': stop at the command word, so the options after it (mkdir -p,
     * rm -r) are the command's own, not taken for -p PORT. */
    while ((c = getopt_long(argc, argv, "+:H:p:qvc:u:hV", longs, NULL)) != -1) {
        switch (c) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            o->port = optarg;
            port_from = "";
            break;
        case 'q':
            o->quiet = true;
            o->verbose = false;
            break;
        case 'v':
            o->verbose = true;
            o->quiet = false;
            break;
        case 'c':
            conf = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'P':
            o->password_file = optarg;
            break;
        case 'T':
            o->tls = true;
            break;
        case 'C':
            o->cacert = optarg;
            break;
        case 'I':
            o->insecure = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? ND_EXIT_OK : ND_EXIT_LOCAL;
        case 'V':
            printf("netdisk %s\n", ND_VERSION);
            return fflush(stdout) == 0 ? ND_EXIT_OK : ND_EXIT_LOCAL;
        case ':':
            return nd_cli_usage("option requires an argument: ",
                                argv[optind - 1]);
        default:
            if (optopt != 0) {
                char opt[3] = {'-', (char)optopt, '\0'};
                return nd_cli_usage("unknown option: ", opt);
            }
            return nd_cli_usage("unknown option: ", argv[optind - 1]);
        }
    }
    c = nd_clientconf_resolve(o, conf);
    if (c >= 0)
        return c;
    if (o->host[0] == '\0')
        return nd_cli_usage("empty host name", "");
    if (o->user == NULL || o->user[0] == '\0')
        return nd_cli_usage("no user name: use -u USER", "");
    return check_port(o->port, port_from) == ND_EXIT_OK ? -1 : ND_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    struct nd_opts o = {0};
    const char *cmd;
    int rc, nargs;
    char **args;

    signal(SIGPIPE, SIG_IGN);
    rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return nd_cli_usage("missing command", "");
    cmd = argv[optind];
    args = argv + optind + 1;
    nargs = argc - optind - 1;
    if (strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0) {
        if (nargs < 1)
            return nd_cli_usage(cmd, cmd[0] == 'p' ? ": missing LOCAL"
                                                   : ": missing REMOTE");
        if (nargs > 2)
            return nd_cli_usage(cmd, ": too many operands");
        if (cmd[0] == 'p')
            return cmd_put(&o, args[0], nargs > 1 ? args[1] : NULL);
        return cmd_get(&o, args[0], nargs > 1 ? args[1] : NULL);
    }
    if (strcmp(cmd, "ls") == 0) {
        if (nargs > 1)
            return nd_cli_usage(cmd, ": too many operands");
        return cmd_ls(&o, nargs > 0 ? args[0] : "");
    }
    if (strcmp(cmd, "stat") == 0 || strcmp(cmd, "md5") == 0) {
        if (nargs < 1)
            return nd_cli_usage(cmd, ": missing REMOTE");
        if (cmd[0] == 's')
            return nd_stat_cmd(&o, args, nargs);
        return nd_stat_md5_cmd(&o, args, nargs);
    }
    if (nd_manage_is_cmd(cmd))
        return nd_manage_run(&o, cmd, nargs, args);
    return nd_cli_usage("unknown command: ", cmd);
}
