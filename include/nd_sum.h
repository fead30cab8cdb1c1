/*
 * nd_sum: stored digests.  A file's MD5 is kept in its extended attribute
 * "user.netdisk.md5" together with the size and the modification time
 * (seconds and nanoseconds) the file had when the digest was taken.  A
 * record is trusted only while fstat(2) still shows that size and that
 * mtime, so a download can send the recorded digest as its trailer without
 * reading the file twice, and any change made through the file system
 * (which moves the mtime) makes the record stale.
 *
 * The attribute's value is 37 bytes, all integers big-endian:
 *
 *     u8 version (1) | md5[16] | u64 size | i64 mtime_sec | u32 mtime_nsec
 *
 * Anything else (another length, another version, nsec over 999999999) is
 * a corrupt record and is never trusted.
 *
 * Files written in place within one tick of the file system clock of the
 * recorded mtime, keeping their size, cannot be told apart by size and
 * mtime; nd_sum_settled() keeps records taken by hashing a file from
 * falling into that window (see docs/architecture.md).
 *
 * Nothing here logs or keeps state; every function is safe from any thread
 * as long as each thread passes its own digest context and buffer.
 */
#ifndef ND_SUM_H
#define ND_SUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "nd_digest.h"

#define ND_SUM_XATTR "user.netdisk.md5"
#define ND_SUM_VERSION 1
/* The encoded length of a record. */
#define ND_SUM_LEN (1 + ND_DIGEST_LEN + 8 + 8 + 4)

/* A decoded record. */
struct nd_sum {
    uint8_t md5[ND_DIGEST_LEN];
    uint64_t size;
    int64_t sec;
    uint32_t nsec;
};

/* Fills r from a digest and the size and mtime in st. */
void nd_sum_from_stat(struct nd_sum *r, const struct stat *st,
                      const uint8_t md5[ND_DIGEST_LEN]);

/* Encodes r into out (ND_SUM_LEN bytes). */
void nd_sum_encode(const struct nd_sum *r, uint8_t out[ND_SUM_LEN]);

/* Decodes an attribute value.  Returns 0, or -EBADMSG when it is not a
 * well-formed version 1 record. */
int nd_sum_decode(const void *buf, size_t len, struct nd_sum *r);

/* True when r was taken of a file with st's size and mtime. */
bool nd_sum_matches(const struct nd_sum *r, const struct stat *st);

/*
 * Reads the record of the open file fd and checks it against st (fstat of
 * the same fd, taken by the caller).  Returns 0 with md5 filled when the
 * record is trusted; -ENODATA when there is none; -ESTALE when it was taken
 * of another size or mtime; -EBADMSG when it is corrupt; -EOPNOTSUPP when
 * the file system has no user extended attributes; or another -errno.
 */
int nd_sum_get(int fd, const struct stat *st, uint8_t md5[ND_DIGEST_LEN]);

/*
 * Stores md5 as fd's record for the size and mtime in st, or, when st is
 * NULL, for what fstat(fd) shows now.  Setting the attribute changes the
 * file's ctime, never its mtime.  Works on a read-only fd when the caller
 * may write the file.  Returns 0, -EOPNOTSUPP when the file system has no
 * user extended attributes, -EACCES/-EPERM when the caller may not write
 * the file, or another -errno.
 */
int nd_sum_set(int fd, const struct stat *st, const uint8_t md5[ND_DIGEST_LEN]);

/* Removes fd's record, if any.  Returns 0 (also when there was none) or
 * -errno. */
int nd_sum_clear(int fd);

/*
 * The file system clock, CLOCK_REALTIME_COARSE: what the kernel stamps
 * mtimes with.  Take it before reading a file that is to be hashed, and
 * pass it to nd_sum_settled() afterwards.
 */
void nd_sum_clock(struct timespec *now);

/*
 * True when st's mtime lies strictly before since (an nd_sum_clock() time
 * taken before the file was read).  Any write after that moment stamps an
 * mtime of at least since, so a record taken of a settled file can never
 * match a later version of it; a file modified in the same clock tick as
 * the read began is not settled, and its digest is not recorded.
 */
bool nd_sum_settled(const struct stat *st, const struct timespec *since);

/*
 * After a digest of fd was computed from its bytes: records it when the
 * file is unchanged since before (the fstat the caller took before reading:
 * same size and mtime now) and settled (see nd_sum_settled()).  Returns 0
 * when stored, -ESTALE when the file changed meanwhile, -EAGAIN when it is
 * not settled, or an nd_sum_set() error.
 */
int nd_sum_set_checked(int fd, const struct stat *before,
                       const struct timespec *since,
                       const uint8_t md5[ND_DIGEST_LEN]);

/*
 * What hashing needs from its caller: a digest context and a buffer (both
 * used exclusively for the call), and an optional check run before each
 * chunk, so that a long hash can end early (say, when the client is gone).
 */
struct nd_sum_work {
    struct nd_digest *d;
    void *buf;
    size_t cap;
    int (*stop)(void *arg); /* NULL, or returns 0 to go on, -errno to stop */
    void *arg;
};

/*
 * Hashes the first size bytes of fd with pread(2) in units of w->cap bytes
 * of w->buf, using w->d (reset first, reset again on return).  Returns 0
 * with md5 filled, -EIO when the file ended early (it shrank), w->stop's
 * error, or another -errno.
 */
int nd_sum_hash(int fd, uint64_t size, const struct nd_sum_work *w,
                uint8_t md5[ND_DIGEST_LEN]);

/* How nd_sum_ensure() came by its digest. */
enum nd_sum_how {
    ND_SUM_RECORD,   /* the trusted record: nothing was read */
    ND_SUM_STORED,   /* hashed, and the record stored */
    ND_SUM_UNSTORED, /* hashed, but no record could be stored */
};

/*
 * The digest of the regular file fd, whose fstat the caller took as st:
 * the trusted record when there is one; otherwise the file is hashed (see
 * nd_sum_hash()) and the result recorded like nd_sum_set_checked() does.
 * When the file changes while it is hashed, the hash is taken again, up to
 * three times in all.  Returns 0 with md5 and *how filled (*store_err holds
 * the reason for ND_SUM_UNSTORED, else 0; *hashed counts the bytes read),
 * -EAGAIN when the file kept changing, w->stop's error, or a read error.
 * st is updated to the fstat the digest belongs to.
 */
int nd_sum_ensure(int fd, struct stat *st, const struct nd_sum_work *w,
                  uint8_t md5[ND_DIGEST_LEN], enum nd_sum_how *how,
                  int *store_err, uint64_t *hashed);

/*
 * Checks that the directory dir_fd (any fd, O_PATH too) lives on a file
 * system with user extended attributes.  Returns 0, -EOPNOTSUPP when it
 * has none, or another -errno.
 */
int nd_sum_probe(int dir_fd);

#endif
