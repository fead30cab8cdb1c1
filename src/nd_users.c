/*
 * nd_users: reading and rewriting the users file.  A read loads the whole
 * file (ND_USERS_FILE_MAX at most), checks every line and indexes the user
 * records; a lookup, a listing and an update all start from that.  An update
 * copies the file with one record added, replaced or removed into a new file
 * beside it and renames that over the old one, under an flock on the
 * directory.
 */
#include "nd_users.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nd_io.h"

#define MOCK_TAG "@mock:"
#define MOCK_TAG_LEN 6
/* Attempts at a fresh temporary name before giving up. */
#define TEMP_TRIES 16

/* One user record: where its line is in the buffer. */
struct rec {
    size_t off;      /* first byte of the line */
    size_t len;      /* bytes of the line, without its newline */
    size_t name_len; /* bytes of the name, before the ':' */
    int line;        /* 1-based line number */
};

/* A users file read into memory and checked. */
struct ufile {
    char *buf;
    size_t len;
    struct rec *recs; /* user records in file order */
    size_t nrecs;
    int mock_lines; /* "@mock" lines seen */
    bool has_mock;  /* the first one was good; mock holds it */
    uint8_t mock[ND_USERS_SECRET_LEN];
    int bad;        /* the first malformed line, or 0 */
    struct stat st; /* the file it was read from */
    int mock_iter;  /* the records' most common iteration count, or 0 */
};

static pthread_once_t s_secret_once = PTHREAD_ONCE_INIT;
static uint8_t s_secret[ND_USERS_SECRET_LEN];

/* Makes the per-process secret used when the file has no "@mock" line. */
static void
make_process_secret(void)
{
    /* getrandom(2) does not fail once the system has booted.  Should it,
     * the secret stays partly zero: mock verifiers still match no password,
     * but their salts would become predictable. */
    (void)nd_io_random(s_secret, sizeof(s_secret));
}

static void
process_secret(uint8_t out[ND_USERS_SECRET_LEN])
{
    pthread_once(&s_secret_once, make_process_secret);
    memcpy(out, s_secret, ND_USERS_SECRET_LEN);
}

static void
ufile_free(struct ufile *f)
{
    if (f->buf != NULL)
        OPENSSL_cleanse(f->buf, f->len);
    free(f->buf);
    free(f->recs);
    OPENSSL_cleanse(f, sizeof(*f));
}

/* Reads all of fd into f->buf.  Returns 0, -EFBIG, -ENOMEM or -errno. */
static int
read_all(int fd, const struct stat *st, struct ufile *f)
{
    size_t cap = (size_t)st->st_size + 1;
    ssize_t n;

    if (st->st_size > ND_USERS_FILE_MAX)
        return -EFBIG;
    for (;;) {
        char *nb = realloc(f->buf, cap);

        if (nb == NULL)
            return -ENOMEM;
        f->buf = nb;
        n = nd_io_read_full(fd, f->buf + f->len, cap - f->len);
        if (n < 0)
            return (int)n;
        f->len += (size_t)n;
        if (f->len < cap)
            return 0;
        /* The file grew while we read it. */
        if (cap > ND_USERS_FILE_MAX)
            return -EFBIG;
        cap = cap * 2 > ND_USERS_FILE_MAX + 1 ? ND_USERS_FILE_MAX + 1 : cap * 2;
    }
}

/* Parses "@mock:<64 hex digits>" (len bytes).  Returns true on success. */
static bool
parse_mock(const char *s, size_t len, uint8_t out[ND_USERS_SECRET_LEN])
{
    if (len != MOCK_TAG_LEN + 2 * ND_USERS_SECRET_LEN)
        return false;
    s += MOCK_TAG_LEN;
    for (int i = 0; i < ND_USERS_SECRET_LEN; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]),
            lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/*
 * Parses the record "NAME:VERIFIER" (len bytes, at most ND_USERS_LINE_MAX).
 * Returns the length of NAME, or 0 when the record is malformed.  v may be
 * NULL.
 */
static size_t
parse_record(const char *s, size_t len, struct nd_scram_verifier *v)
{
    char name[ND_USER_MAX + 1], text[ND_USERS_LINE_MAX + 1];
    struct nd_scram_verifier tmp;
    const char *colon = memchr(s, ':', len);
    size_t nlen;
    bool ok;

    if (colon == NULL)
        return 0;
    nlen = (size_t)(colon - s);
    if (nlen == 0 || nlen > ND_USER_MAX)
        return 0;
    memcpy(name, s, nlen);
    name[nlen] = '\0';
    if (!nd_scram_user_ok(name))
        return 0;
    memcpy(text, colon + 1, len - nlen - 1);
    text[len - nlen - 1] = '\0';
    ok = nd_scram_verifier_parse(text, v != NULL ? v : &tmp) == 0;
    OPENSSL_cleanse(&tmp, sizeof(tmp));
    return ok ? nlen : 0;
}

static bool
blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

static void
mark_bad(struct ufile *f, int line)
{
    if (f->bad == 0 || line < f->bad)
        f->bad = line;
}

/* Orders records by name, then by line, for the duplicate check; arg is
 * the file's buffer. */
static int
rec_cmp(const void *a, const void *b, void *arg)
{
    const struct rec *x = a, *y = b;
    const char *buf = arg;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(buf + x->off, buf + y->off, n);

    if (c != 0)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x->line - y->line;
}

/* Marks the later line of every repeated name as bad.  Returns 0 or
 * -ENOMEM. */
static int
check_duplicates(struct ufile *f)
{
    struct rec *sorted;

    if (f->nrecs < 2)
        return 0;
    sorted = malloc(f->nrecs * sizeof(*sorted));
    if (sorted == NULL)
        return -ENOMEM;
    memcpy(sorted, f->recs, f->nrecs * sizeof(*sorted));
    qsort_r(sorted, f->nrecs, sizeof(*sorted), rec_cmp, f->buf);
    for (size_t i = 1; i < f->nrecs; i++)
        if (sorted[i].name_len == sorted[i - 1].name_len &&
            memcmp(f->buf + sorted[i].off, f->buf + sorted[i - 1].off,
                   sorted[i].name_len) == 0)
            mark_bad(f, sorted[i].line);
    free(sorted);
    return 0;
}

/* How many records use each iteration count; a few distinct counts are
 * all a file normally has, and counts beyond ITER_KINDS are not tallied. */
#define ITER_KINDS 8
struct iter_tally {
    int value[ITER_KINDS];
    long count[ITER_KINDS];
    int n;
};

static void
tally(struct iter_tally *t, int iterations)
{
    for (int i = 0; i < t->n; i++)
        if (t->value[i] == iterations) {
            t->count[i]++;
            return;
        }
    if (t->n < ITER_KINDS) {
        t->value[t->n] = iterations;
        t->count[t->n++] = 1;
    }
}

/* Checks every line of f->buf and indexes the records.  Returns 0 (then
 * f->bad tells whether the file is well formed) or -ENOMEM. */
static int
parse_all(struct ufile *f)
{
    struct nd_scram_verifier v;
    struct iter_tally t = {0};
    size_t pos = 0, cap = 0;
    int line = 0, rc;

    while (pos < f->len) {
        const char *s = f->buf + pos, *nl;
        size_t len, nlen;

        nl = memchr(s, '\n', f->len - pos);
        len = nl != NULL ? (size_t)(nl - s) : f->len - pos;
        line++;
        if (len > ND_USERS_LINE_MAX || memchr(s, '\0', len) != NULL) {
            mark_bad(f, line);
        } else if (blank(s, len) || s[0] == '#') {
            /* A comment or a blank line. */
        } else if (len >= MOCK_TAG_LEN &&
                   memcmp(s, MOCK_TAG, MOCK_TAG_LEN) == 0) {
            uint8_t mock[ND_USERS_SECRET_LEN];

            /* Only the first line counts, and only when it is good. */
            if (f->mock_lines++ == 0 && parse_mock(s, len, mock)) {
                memcpy(f->mock, mock, sizeof(mock));
                f->has_mock = true;
            } else {
                mark_bad(f, line);
            }
            OPENSSL_cleanse(mock, sizeof(mock));
        } else if ((nlen = parse_record(s, len, &v)) == 0) {
            mark_bad(f, line);
        } else {
            tally(&t, v.iterations);
            if (f->nrecs == cap) {
                size_t ncap = cap == 0 ? 16 : cap * 2;
                struct rec *nr = realloc(f->recs, ncap * sizeof(*nr));

                if (nr == NULL)
                    return -ENOMEM;
                f->recs = nr;
                cap = ncap;
            }
            f->recs[f->nrecs++] = (struct rec){pos, len, nlen, line};
        }
        pos += len + (nl != NULL ? 1 : 0);
    }
    OPENSSL_cleanse(&v, sizeof(v));
    rc = check_duplicates(f);
    /* Unknown users get this count in their CHALLENGE, so that i= does not
     * tell them from the users whose verifiers were made like most. */
    for (int i = 0; i < t.n; i++)
        if (t.count[i] > t.count[0] ||
            (t.count[i] == t.count[0] && t.value[i] > t.value[0])) {
            t.count[0] = t.count[i];
            t.value[0] = t.value[i];
        }
    f->mock_iter = t.n > 0 ? t.value[0] : 0;
    return rc;
}

/*
 * Reads and checks the open file fd.  Returns 0 (the file is well formed),
 * -EINVAL (f->bad is the first bad line, 0 for a file that is not a regular
 * file), -EISDIR, -EFBIG, -ENOMEM or -errno.  The caller frees f in every
 * case.
 */
static int
ufile_load_fd(int fd, struct ufile *f)
{
    struct stat st;
    int rc;

    memset(f, 0, sizeof(*f));
    if (fstat(fd, &st) < 0)
        return -errno;
    f->st = st;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    rc = read_all(fd, &st, f);
    if (rc == 0)
        rc = parse_all(f);
    if (rc == 0 && f->bad != 0)
        rc = -EINVAL;
    return rc;
}

/* Opens and loads path.  Returns as ufile_load_fd(), or -ENOENT and other
 * open(2) errors. */
static int
ufile_load(const char *path, struct ufile *f)
{
    int fd, rc;

    memset(f, 0, sizeof(*f));
    /* O_NONBLOCK: a FIFO planted at path must not hang the reader. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    rc = ufile_load_fd(fd, f);
    close(fd);
    return rc;
}

/* The record for name, or NULL. */
static const struct rec *
find(const struct ufile *f, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < f->nrecs; i++)
        if (f->recs[i].name_len == n &&
            memcmp(f->buf + f->recs[i].off, name, n) == 0)
            return &f->recs[i];
    return NULL;
}

/*
 * Looks name up in f, which ufile_load() filled with result rc.  Fills v
 * and secret as nd_users_lookup() promises and returns its result.
 */
static int
lookup_in(const struct ufile *f, int rc, const char *name,
          struct nd_scram_verifier *v, uint8_t secret[ND_USERS_SECRET_LEN],
          int *line)
{
    const struct rec *r;

    if (line != NULL)
        *line = rc == -EINVAL ? f->bad : 0;
    /* For a mock, on every path: 0 (the caller's default) when the file
     * did not load or has no records. */
    v->iterations = f->mock_iter;
    process_secret(secret);
    if (f->has_mock && (rc == 0 || rc == -EINVAL))
        memcpy(secret, f->mock, ND_USERS_SECRET_LEN);
    if (rc < 0)
        return rc;
    /* An invalid name cannot have a record; say so without looking. */
    r = nd_scram_user_ok(name) ? find(f, name) : NULL;
    if (r == NULL)
        return -ENOENT;
    if (parse_record(f->buf + r->off, r->len, v) == 0)
        return -EINVAL; /* cannot happen: parse_all() accepted it */
    return 0;
}

int
nd_users_lookup(const char *path, const char *name, struct nd_scram_verifier *v,
                uint8_t secret[ND_USERS_SECRET_LEN], int *line)
{
    struct ufile f;
    int rc = ufile_load(path, &f);

    rc = lookup_in(&f, rc, name, v, secret, line);
    ufile_free(&f);
    return rc;
}

struct nd_users_file {
    struct ufile f;
    int rc; /* ufile_load()'s result for f */
};

void
nd_users_cache_init(struct nd_users_cache *c)
{
    pthread_mutex_init(&c->mu, NULL);
    c->file = NULL;
}

static void
cache_drop(struct nd_users_cache *c)
{
    if (c->file != NULL) {
        ufile_free(&c->file->f);
        free(c->file);
        c->file = NULL;
    }
}

void
nd_users_cache_destroy(struct nd_users_cache *c)
{
    cache_drop(c);
    pthread_mutex_destroy(&c->mu);
}

/* True when st describes the very file version f was read from. */
static bool
same_file(const struct stat *st, const struct ufile *f)
{
    return st->st_dev == f->st.st_dev && st->st_ino == f->st.st_ino &&
           st->st_size == f->st.st_size &&
           st->st_mtim.tv_sec == f->st.st_mtim.tv_sec &&
           st->st_mtim.tv_nsec == f->st.st_mtim.tv_nsec &&
           st->st_ctim.tv_sec == f->st.st_ctim.tv_sec &&
           st->st_ctim.tv_nsec == f->st.st_ctim.tv_nsec;
}

int
nd_users_cache_lookup(struct nd_users_cache *c, const char *path,
                      const char *name, struct nd_scram_verifier *v,
                      uint8_t secret[ND_USERS_SECRET_LEN], int *line)
{
    struct stat st;
    bool fresh = stat(path, &st) == 0;
    int rc;

    pthread_mutex_lock(&c->mu);
    /* A file that did not load is read again every time: it may have been
     * mended, and an error must not stick. */
    if (!fresh || c->file == NULL || c->file->rc != 0 ||
        !same_file(&st, &c->file->f)) {
        cache_drop(c);
        c->file = calloc(1, sizeof(*c->file));
        if (c->file == NULL) {
            pthread_mutex_unlock(&c->mu);
            process_secret(secret);
            return -ENOMEM;
        }
        c->file->rc = ufile_load(path, &c->file->f);
    }
    rc = lookup_in(&c->file->f, c->file->rc, name, v, secret, line);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int
nd_users_list(const char *path, int (*fn)(const char *name, void *arg),
              void *arg, int *line)
{
    struct ufile f;
    char name[ND_USER_MAX + 1];
    int rc;

    if (line != NULL)
        *line = 0;
    rc = ufile_load(path, &f);
    if (rc == -EINVAL && line != NULL)
        *line = f.bad;
    for (size_t i = 0; rc == 0 && i < f.nrecs; i++) {
        memcpy(name, f.buf + f.recs[i].off, f.recs[i].name_len);
        name[f.recs[i].name_len] = '\0';
        rc = fn(name, arg);
    }
    ufile_free(&f);
    return rc;
}

/* A growing output buffer; on allocation failure it sets err and ignores
 * further writes. */
struct obuf {
    char *p;
    size_t len, cap;
    int err;
};

static void
obuf_add(struct obuf *o, const void *s, size_t n)
{
    if (o->err != 0)
        return;
    if (o->len + n > o->cap) {
        size_t ncap = o->cap == 0 ? 4096 : o->cap;
        char *np;

        while (ncap < o->len + n)
            ncap *= 2;
        np = malloc(ncap);
        if (np == NULL) {
            o->err = -ENOMEM;
            return;
        }
        /* Copy rather than realloc, so the old buffer can be wiped. */
        if (o->p != NULL) {
            memcpy(np, o->p, o->len);
            OPENSSL_cleanse(o->p, o->cap);
            free(o->p);
        }
        o->p = np;
        o->cap = ncap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void
obuf_str(struct obuf *o, const char *s)
{
    obuf_add(o, s, strlen(s));
}

static void
obuf_free(struct obuf *o)
{
    if (o->p != NULL)
        OPENSSL_cleanse(o->p, o->cap);
    free(o->p);
    memset(o, 0, sizeof(*o));
}

/* Appends "@mock:<fresh secret>\n".  Returns 0 or -EIO. */
static int
add_mock_line(struct obuf *o)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[ND_USERS_SECRET_LEN];
    char text[MOCK_TAG_LEN + 2 * ND_USERS_SECRET_LEN + 2];

    if (nd_io_random(raw, sizeof(raw)) < 0)
        return -EIO;
    memcpy(text, MOCK_TAG, MOCK_TAG_LEN);
    for (int i = 0; i < ND_USERS_SECRET_LEN; i++) {
        text[MOCK_TAG_LEN + 2 * i] = hex[raw[i] >> 4];
        text[MOCK_TAG_LEN + 2 * i + 1] = hex[raw[i] & 15];
    }
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    obuf_str(o, text);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    return 0;
}

/* Appends "NAME:VERIFIER\n".  Returns 0 or -EINVAL for a bad verifier. */
static int
add_record(struct obuf *o, const char *name, const struct nd_scram_verifier *v)
{
    char text[ND_SCRAM_VERIFIER_MAX];
    int n = nd_scram_verifier_format(v, text, sizeof(text));

    if (n < 0)
        return -EINVAL;
    obuf_str(o, name);
    obuf_add(o, ":", 1);
    obuf_add(o, text, (size_t)n);
    obuf_add(o, "\n", 1);
    return 0;
}

/*
 * Builds the new file from the old one f (f->buf NULL for a file that does
 * not exist yet).  Returns 0, -EEXIST, -ENOENT, -EINVAL, -EIO or -ENOMEM.
 */
static int
build(const struct ufile *f, bool exists, enum nd_users_op op, const char *name,
      const struct nd_scram_verifier *v, struct obuf *o)
{
    const struct rec *r = exists ? find(f, name) : NULL;
    size_t end;
    int rc = 0;

    if (op == ND_USERS_ADD && r != NULL)
        return -EEXIST;
    if (op != ND_USERS_ADD && r == NULL)
        return -ENOENT;
    if (!exists) {
        obuf_str(o, "# netdisk users: NAME:VERIFIER, one per line. "
                    "Managed by \"netdiskd user\".\n"
                    "# The @mock line is a secret for users who do not "
                    "exist; keep it.\n");
        rc = add_mock_line(o);
    } else if (r == NULL) {
        obuf_add(o, f->buf, f->len);
    } else {
        /* Everything before the record, the new record (for PASSWD), and
         * everything after it. */
        end = r->off + r->len;
        if (end < f->len)
            end++; /* its newline */
        obuf_add(o, f->buf, r->off);
        if (op == ND_USERS_PASSWD)
            rc = add_record(o, name, v);
        obuf_add(o, f->buf + end, f->len - end);
    }
    if (rc == 0 && o->len > 0 && o->p[o->len - 1] != '\n')
        obuf_add(o, "\n", 1);
    if (rc == 0 && exists && !f->has_mock)
        rc = add_mock_line(o);
    if (rc == 0 && op == ND_USERS_ADD)
        rc = add_record(o, name, v);
    return rc < 0 ? rc : o->err;
}

/* Creates a temporary file ".BASE.XXXXXXXXXXXX" in dirfd.  Returns the fd
 * (the name is in tmp) or -errno. */
static int
create_temp(int dirfd, const char *base, char *tmp, size_t cap)
{
    for (int i = 0; i < TEMP_TRIES; i++) {
        uint8_t r[6];
        int fd, n;

        if (nd_io_random(r, sizeof(r)) < 0)
            return -EIO;
        n = snprintf(tmp, cap, ".%s.%02x%02x%02x%02x%02x%02x", base, r[0], r[1],
                     r[2], r[3], r[4], r[5]);
        if (n < 0 || (size_t)n >= cap)
            return -ENAMETOOLONG;
        fd = openat(dirfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/*
 * Gives fd the owner uid:gid.  A caller who is not root may still write a
 * file it owns when the group cannot be changed: the mode is 0600, so the
 * group grants nothing.
 */
static int
give_owner(int fd, uid_t uid, gid_t gid)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_uid == uid && st.st_gid == gid)
        return 0;
    if (fchown(fd, uid, gid) == 0)
        return 0;
    if (errno == EPERM && st.st_uid == uid)
        return 0;
    return -errno;
}

/* Writes data as the new dir/base, atomically.  Returns 0 or -errno. */
static int
replace(int dirfd, const char *base, const struct obuf *o, uid_t uid, gid_t gid)
{
    char tmp[NAME_MAX + 1];
    ssize_t n;
    int fd, rc;

    fd = create_temp(dirfd, base, tmp, sizeof(tmp));
    if (fd < 0)
        return fd;
    n = nd_io_write_full(fd, o->p, o->len);
    rc = n < 0 ? (int)n : 0;
    if (rc == 0)
        rc = give_owner(fd, uid, gid);
    /* After the chown, which may clear mode bits, and whatever the umask. */
    if (rc == 0 && fchmod(fd, 0600) < 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0 && errno != EINTR)
        rc = -errno;
    if (rc == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
        rc = -errno;
    if (rc < 0) {
        unlinkat(dirfd, tmp, 0);
        return rc;
    }
    /* The rename is done; a failed directory fsync is still reported. */
    return fsync(dirfd) < 0 ? -errno : 0;
}

int
nd_users_update(const char *path, enum nd_users_op op, const char *name,
                const struct nd_scram_verifier *v)
{
    struct ufile f = {0};
    struct obuf o = {0};
    struct stat st;
    char dir[4096];
    const char *base, *slash;
    int dirfd = -1, fd = -1, rc;
    bool exists;

    if (!nd_scram_user_ok(name) || (op != ND_USERS_DEL && v == NULL) ||
        (op != ND_USERS_ADD && op != ND_USERS_PASSWD && op != ND_USERS_DEL))
        return -EINVAL;
    slash = strrchr(path, '/');
    base = slash != NULL ? slash + 1 : path;
    if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return -EINVAL;
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        if ((size_t)(slash - path) >= sizeof(dir))
            return -ENAMETOOLONG;
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }

    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    /* Held until dirfd is closed: one update at a time per directory. */
    while ((rc = flock(dirfd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        rc = -errno;
        goto out;
    }
    fd = openat(dirfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    exists = fd >= 0;
    if (!exists && errno != ENOENT) {
        rc = -errno;
        goto out;
    }
    if (exists) {
        rc = ufile_load_fd(fd, &f);
        if (rc == 0 && fstat(fd, &st) < 0)
            rc = -errno;
    } else if (fstat(dirfd, &st) < 0) {
        rc = -errno;
    }
    if (rc < 0)
        goto out;
    rc = build(&f, exists, op, name, v, &o);
    if (rc < 0)
        goto out;
    rc = replace(dirfd, base, &o, st.st_uid, st.st_gid);
out:
    obuf_free(&o);
    ufile_free(&f);
    nd_io_close(&fd);
    nd_io_close(&dirfd);
    return rc;
}
