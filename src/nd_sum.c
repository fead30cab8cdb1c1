/*
 * nd_sum: MD5 records in the "user.netdisk.md5" extended attribute, checked
 * against the file's size and mtime before they are trusted.  The store
 * calls it when an upload commits, the handlers when a file is read.  It
 * neither logs nor decides what a failure means: a record that cannot be
 * read or written only costs a hash.
 */
#include "nd_sum.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_proto.h"


void
nd_sum_from_stat(struct nd_sum *r, const struct stat *st,
                 const uint8_t md5[ND_DIGEST_LEN])
{
    memcpy(r->md5, md5, ND_DIGEST_LEN);
    r->size = (uint64_t)st->st_size;
    r->sec = (int64_t)st->st_mtim.tv_sec;
    r->nsec = (uint32_t)st->st_mtim.tv_nsec;
}

void
nd_sum_encode(const struct nd_sum *r, uint8_t out[ND_SUM_LEN])
{
    out[0] = ND_SUM_VERSION;
    memcpy(out + 1, r->md5, ND_DIGEST_LEN);
    nd_proto_put_be(out + 17, r->size, 8);
    nd_proto_put_be(out + 25, (uint64_t)r->sec, 8);
    nd_proto_put_be(out + 33, r->nsec, 4);
}

int
nd_sum_decode(const void *buf, size_t len, struct nd_sum *r)
{
    const uint8_t *p = buf;

    if (len != ND_SUM_LEN || p[0] != ND_SUM_VERSION)
        return -EBADMSG;
    memcpy(r->md5, p + 1, ND_DIGEST_LEN);
    r->size = nd_proto_get_be(p + 17, 8);
    r->sec = (int64_t)nd_proto_get_be(p + 25, 8);
    r->nsec = (uint32_t)nd_proto_get_be(p + 33, 4);
    if (r->nsec > 999999999u || r->size > (uint64_t)INT64_MAX)
        return -EBADMSG;
    return 0;
}

bool
nd_sum_matches(const struct nd_sum *r, const struct stat *st)
{
    return r->size == (uint64_t)st->st_size &&
           r->sec == (int64_t)st->st_mtim.tv_sec &&
           r->nsec == (uint32_t)st->st_mtim.tv_nsec;
}

/* Same size and mtime: the test every record and every re-check applies. */
static bool
same_version(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int
nd_sum_get(int fd, const struct stat *st, uint8_t md5[ND_DIGEST_LEN])
{
    /* Room for one byte more than a record, so a longer value shows. */
    uint8_t buf[ND_SUM_LEN + 1];
    struct nd_sum r;
    ssize_t n = fgetxattr(fd, ND_SUM_XATTR, buf, sizeof(buf));

    if (n < 0)
        return errno == ERANGE ? -EBADMSG : -errno;
    if (nd_sum_decode(buf, (size_t)n, &r) < 0)
        return -EBADMSG;
    if (!nd_sum_matches(&r, st))
        return -ESTALE;
    memcpy(md5, r.md5, ND_DIGEST_LEN);
    return 0;
}

int
nd_sum_set(int fd, const struct stat *st, const uint8_t md5[ND_DIGEST_LEN])
{
    uint8_t buf[ND_SUM_LEN];
    struct stat now;
    struct nd_sum r;

    if (st == NULL) {
        if (fstat(fd, &now) < 0)
            return -errno;
        st = &now;
    }
    nd_sum_from_stat(&r, st, md5);
    nd_sum_encode(&r, buf);
    return fsetxattr(fd, ND_SUM_XATTR, buf, sizeof(buf), 0) < 0 ? -errno : 0;
}

int
nd_sum_clear(int fd)
{
    if (fremovexattr(fd, ND_SUM_XATTR) < 0 && errno != ENODATA)
        return -errno;
    return 0;
}

void
nd_sum_clock(struct timespec *now)
{
    /* The coarse clock cannot fail on Linux; fall back to the fine one,
     * which is never behind it, so the settled test stays safe. */
    if (clock_gettime(CLOCK_REALTIME_COARSE, now) < 0)
        (void)clock_gettime(CLOCK_REALTIME, now);
}

bool
nd_sum_settled(const struct stat *st, const struct timespec *since)
{
    if (st->st_mtim.tv_sec != since->tv_sec)
        return st->st_mtim.tv_sec < since->tv_sec;
    return st->st_mtim.tv_nsec < since->tv_nsec;
}

int
nd_sum_set_checked(int fd, const struct stat *before,
                   const struct timespec *since,
                   const uint8_t md5[ND_DIGEST_LEN])
{
    struct stat now;

    if (fstat(fd, &now) < 0)
        return -errno;
    if (!same_version(before, &now))
        return -ESTALE;
    if (!nd_sum_settled(&now, since))
        return -EAGAIN;
    return nd_sum_set(fd, &now, md5);
}

int
nd_sum_hash(int fd, uint64_t size, const struct nd_sum_work *w,
            uint8_t md5[ND_DIGEST_LEN])
{
    uint64_t off = 0;
    int rc = nd_digest_reset(w->d);

    while (rc == 0 && off < size) {
        size_t want = size - off < w->cap ? (size_t)(size - off) : w->cap;
        ssize_t n;

        if (w->stop != NULL && (rc = w->stop(w->arg)) < 0)
            break;
        n = nd_io_pread_full(fd, w->buf, want, (off_t)off);
        if (n < 0)
            rc = (int)n;
        else
            rc = nd_digest_update(w->d, w->buf, want);
        off += want;
    }
    if (rc == 0)
        return nd_digest_final(w->d, md5);
    (void)nd_digest_reset(w->d);
    return rc;
}

int
nd_sum_ensure(int fd, struct stat *st, const struct nd_sum_work *w,
              uint8_t md5[ND_DIGEST_LEN], enum nd_sum_how *how, int *store_err,
              uint64_t *hashed)
{
    *store_err = 0;
    *hashed = 0;
    if (nd_sum_get(fd, st, md5) == 0) {
        *how = ND_SUM_RECORD;
        return 0;
    }
    for (int tries = 0; tries < 3; tries++) {
        struct timespec since;
        struct stat now;
        int rc;

        nd_sum_clock(&since);
        rc = nd_sum_hash(fd, (uint64_t)st->st_size, w, md5);
        if (rc < 0 && rc != -EIO)
            return rc;
        *hashed += (uint64_t)st->st_size;
        if (fstat(fd, &now) < 0)
            return -errno;
        if (same_version(st, &now)) {
            /* -EIO from an unchanged file is a real read error. */
            if (rc < 0)
                return rc;
            rc = nd_sum_settled(&now, &since) ? nd_sum_set(fd, &now, md5)
                                              : -EAGAIN;
            *how = rc == 0 ? ND_SUM_STORED : ND_SUM_UNSTORED;
            *store_err = rc;
            return 0;
        }
        /* Written to while we read: hash the new version. */
        *st = now;
    }
    return -EAGAIN;
}

int
nd_sum_probe(int dir_fd)
{
    uint8_t buf[ND_SUM_LEN + 1];
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return -errno;
    /* Any answer but "not supported" means user attributes work here. */
    if (fgetxattr(fd, ND_SUM_XATTR, buf, sizeof(buf)) < 0 &&
        errno == EOPNOTSUPP)
        rc = -EOPNOTSUPP;
    nd_io_close(&fd);
    return rc;
}
