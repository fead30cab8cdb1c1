/*
 * Unit tests for nd_sum: the record's encoding, a write/read round trip on
 * a real file, records that go stale when the size or the mtime changes,
 * missing and corrupt records, the settled rule, hashing, nd_sum_ensure()
 * storing what it hashed, and an upload's commit recording its digest.
 * Every test works in its own mkdtemp directory under /tmp; a file system
 * there without user extended attributes skips the tests that need them.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_store.h"
#include "nd_sum.h"

static char s_dir[64];
static char s_file[128];
static int s_fd = -1;
static struct nd_digest s_md5;
static uint8_t s_buf[4096];
static struct nd_sum_work s_work = {&s_md5, s_buf, sizeof(s_buf), NULL, NULL};

/* MD5("hello\n"), as md5sum prints it. */
static const char hello_hex[] = "b1946ac92492d2347c6235b4d2611184";

static void
setup(void)
{
    snprintf(s_dir, sizeof(s_dir), "/tmp/nd_check_sum.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
    snprintf(s_file, sizeof(s_file), "%s/f", s_dir);
    s_fd = open(s_file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ck_assert_int_ge(s_fd, 0);
    ck_assert_int_eq(nd_io_write_full(s_fd, "hello\n", 6), 6);
    ck_assert_int_eq(nd_digest_init(&s_md5), 0);
}

static void
teardown(void)
{
    char cmd[128];

    nd_io_close(&s_fd);
    nd_digest_free(&s_md5);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* True when the directory's file system keeps user attributes. */
static bool
have_xattrs(void)
{
    int fd = open(s_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc = nd_sum_probe(fd);

    close(fd);
    ck_assert(rc == 0 || rc == -EOPNOTSUPP);
    return rc == 0;
}

static void
hex_md5(const uint8_t md5[ND_DIGEST_LEN], char out[ND_DIGEST_HEX_LEN])
{
    nd_digest_hex(md5, out);
}

static void
some_md5(uint8_t md5[ND_DIGEST_LEN], uint8_t fill)
{
    memset(md5, fill, ND_DIGEST_LEN);
}

START_TEST(test_encode_decode)
{
    struct nd_sum in = {.size = (1ull << 40) + 3,
                        .sec = -1234567890123ll,
                        .nsec = 999999999u},
                  out;
    uint8_t buf[ND_SUM_LEN];

    some_md5(in.md5, 0xA5);
    nd_sum_encode(&in, buf);
    ck_assert_uint_eq(buf[0], ND_SUM_VERSION);
    ck_assert_int_eq(nd_sum_decode(buf, sizeof(buf), &out), 0);
    ck_assert_mem_eq(out.md5, in.md5, ND_DIGEST_LEN);
    ck_assert_uint_eq(out.size, in.size);
    ck_assert_int_eq(out.sec, in.sec);
    ck_assert_uint_eq(out.nsec, in.nsec);

    /* Every other length, version or out-of-range field is corrupt. */
    for (size_t len = 0; len < sizeof(buf); len++)
        ck_assert_int_eq(nd_sum_decode(buf, len, &out), -EBADMSG);
    buf[0] = ND_SUM_VERSION + 1;
    ck_assert_int_eq(nd_sum_decode(buf, sizeof(buf), &out), -EBADMSG);
    buf[0] = 0;
    ck_assert_int_eq(nd_sum_decode(buf, sizeof(buf), &out), -EBADMSG);
    in.nsec = 1000000000u;
    nd_sum_encode(&in, buf);
    ck_assert_int_eq(nd_sum_decode(buf, sizeof(buf), &out), -EBADMSG);
    in.nsec = 0;
    in.size = UINT64_MAX;
    nd_sum_encode(&in, buf);
    ck_assert_int_eq(nd_sum_decode(buf, sizeof(buf), &out), -EBADMSG);
}
END_TEST

START_TEST(test_roundtrip)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    struct stat st;

    if (!have_xattrs())
        return;
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -ENODATA);
    some_md5(md5, 0x11);
    ck_assert_int_eq(nd_sum_set(s_fd, &st, md5), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), 0);
    ck_assert_mem_eq(got, md5, ND_DIGEST_LEN);

    /* Setting the attribute moved neither the size nor the mtime. */
    {
        struct stat now;

        ck_assert_int_eq(fstat(s_fd, &now), 0);
        ck_assert_int_eq(nd_sum_get(s_fd, &now, got), 0);
    }

    /* A read-only fd can read and (as the owner) write the record. */
    {
        int ro = open(s_file, O_RDONLY | O_CLOEXEC);

        ck_assert_int_ge(ro, 0);
        ck_assert_int_eq(nd_sum_get(ro, &st, got), 0);
        some_md5(md5, 0x22);
        ck_assert_int_eq(nd_sum_set(ro, NULL, md5), 0);
        ck_assert_int_eq(nd_sum_get(ro, &st, got), 0);
        ck_assert_mem_eq(got, md5, ND_DIGEST_LEN);
        close(ro);
    }

    ck_assert_int_eq(nd_sum_clear(s_fd), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -ENODATA);
    ck_assert_int_eq(nd_sum_clear(s_fd), 0); /* none: still fine */
}
END_TEST

START_TEST(test_stale_size)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    struct stat st, now;
    struct timespec keep[2];

    if (!have_xattrs())
        return;
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    some_md5(md5, 0x33);
    ck_assert_int_eq(nd_sum_set(s_fd, &st, md5), 0);
    /* Grow the file but put the old mtime back: the size alone tells. */
    ck_assert_int_eq(nd_io_write_full(s_fd, "x", 1), 1);
    keep[0] = st.st_atim;
    keep[1] = st.st_mtim;
    ck_assert_int_eq(futimens(s_fd, keep), 0);
    ck_assert_int_eq(fstat(s_fd, &now), 0);
    ck_assert_int_eq(now.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
    ck_assert_int_eq(nd_sum_get(s_fd, &now, got), -ESTALE);
}
END_TEST

START_TEST(test_stale_mtime)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    struct stat st, now;
    struct timespec t[2];

    if (!have_xattrs())
        return;
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    some_md5(md5, 0x44);
    ck_assert_int_eq(nd_sum_set(s_fd, &st, md5), 0);

    /* One nanosecond later, same size: stale. */
    t[0] = st.st_atim;
    t[1] = st.st_mtim;
    if (++t[1].tv_nsec == 1000000000) {
        t[1].tv_nsec = 0;
        t[1].tv_sec++;
    }
    ck_assert_int_eq(utimensat(AT_FDCWD, s_file, t, 0), 0);
    ck_assert_int_eq(fstat(s_fd, &now), 0);
    ck_assert_int_eq(now.st_size, st.st_size);
    ck_assert_int_eq(nd_sum_get(s_fd, &now, got), -ESTALE);

    /* One second earlier, same nanoseconds: stale too. */
    t[1] = st.st_mtim;
    t[1].tv_sec--;
    ck_assert_int_eq(utimensat(AT_FDCWD, s_file, t, 0), 0);
    ck_assert_int_eq(fstat(s_fd, &now), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &now, got), -ESTALE);

    /* Putting the recorded mtime back makes it match again. */
    t[1] = st.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, s_file, t, 0), 0);
    ck_assert_int_eq(fstat(s_fd, &now), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &now, got), 0);
}
END_TEST

START_TEST(test_corrupt)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN], buf[ND_SUM_LEN + 8];
    struct nd_sum r;
    struct stat st;

    if (!have_xattrs())
        return;
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    some_md5(md5, 0x55);
    nd_sum_from_stat(&r, &st, md5);
    nd_sum_encode(&r, buf);

    /* Too short, too long, another version: refused, never trusted. */
    ck_assert_int_eq(fsetxattr(s_fd, ND_SUM_XATTR, buf, ND_SUM_LEN - 1, 0), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -EBADMSG);
    memset(buf + ND_SUM_LEN, 0, 8);
    ck_assert_int_eq(fsetxattr(s_fd, ND_SUM_XATTR, buf, ND_SUM_LEN + 1, 0), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -EBADMSG);
    ck_assert_int_eq(fsetxattr(s_fd, ND_SUM_XATTR, buf, sizeof(buf), 0), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -EBADMSG);
    buf[0] = 2;
    ck_assert_int_eq(fsetxattr(s_fd, ND_SUM_XATTR, buf, ND_SUM_LEN, 0), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -EBADMSG);
    ck_assert_int_eq(fsetxattr(s_fd, ND_SUM_XATTR, "", 0, 0), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -EBADMSG);
    /* The well-formed value is trusted again. */
    buf[0] = ND_SUM_VERSION;
    ck_assert_int_eq(fsetxattr(s_fd, ND_SUM_XATTR, buf, ND_SUM_LEN, 0), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), 0);
    ck_assert_mem_eq(got, md5, ND_DIGEST_LEN);
}
END_TEST

START_TEST(test_settled)
{
    struct stat st = {0};
    struct timespec since = {.tv_sec = 100, .tv_nsec = 500};

    st.st_mtim = (struct timespec){.tv_sec = 100, .tv_nsec = 499};
    ck_assert(nd_sum_settled(&st, &since));
    st.st_mtim = (struct timespec){.tv_sec = 99, .tv_nsec = 999999999};
    ck_assert(nd_sum_settled(&st, &since));
    st.st_mtim = (struct timespec){.tv_sec = 100, .tv_nsec = 500};
    ck_assert(!nd_sum_settled(&st, &since));
    st.st_mtim = (struct timespec){.tv_sec = 101, .tv_nsec = 0};
    ck_assert(!nd_sum_settled(&st, &since));

    /* A file just written is not settled against the clock read now, but
     * is against one read a tick later (the coarse clock's tick is at most
     * 10 ms). */
    {
        struct timespec now;
        struct stat fst;

        ck_assert_int_eq(nd_io_write_full(s_fd, "again\n", 6), 6);
        ck_assert_int_eq(fstat(s_fd, &fst), 0);
        usleep(30000);
        nd_sum_clock(&now);
        ck_assert(nd_sum_settled(&fst, &now));
    }
}
END_TEST

/* A stop check that lets n chunks through, then says the peer is gone. */
static int
stop_after(void *arg)
{
    int *n = arg;

    return (*n)-- > 0 ? 0 : -ECONNRESET;
}

START_TEST(test_hash)
{
    struct nd_sum_work small = {&s_md5, s_buf, 4, NULL, NULL};
    uint8_t md5[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN];
    int chunks;

    /* A buffer smaller than the file exercises the chunking. */
    ck_assert_int_eq(nd_sum_hash(s_fd, 6, &small, md5), 0);
    hex_md5(md5, hex);
    ck_assert_str_eq(hex, hello_hex);
    ck_assert_int_eq(nd_sum_hash(s_fd, 6, &s_work, md5), 0);
    hex_md5(md5, hex);
    ck_assert_str_eq(hex, hello_hex);
    /* More than the file holds: it "shrank". */
    ck_assert_int_eq(nd_sum_hash(s_fd, 7, &s_work, md5), -EIO);
    /* The context is usable again after the failure. */
    ck_assert_int_eq(nd_sum_hash(s_fd, 0, &s_work, md5), 0);
    hex_md5(md5, hex);
    ck_assert_str_eq(hex, "d41d8cd98f00b204e9800998ecf8427e");

    /* The stop check runs before each chunk and ends the hash. */
    small.stop = stop_after;
    small.arg = &chunks;
    chunks = 2; /* 6 bytes in 4-byte chunks: 2 checks, both pass */
    ck_assert_int_eq(nd_sum_hash(s_fd, 6, &small, md5), 0);
    hex_md5(md5, hex);
    ck_assert_str_eq(hex, hello_hex);
    chunks = 1;
    ck_assert_int_eq(nd_sum_hash(s_fd, 6, &small, md5), -ECONNRESET);
}
END_TEST

START_TEST(test_ensure)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN];
    enum nd_sum_how how;
    uint64_t hashed;
    struct stat st;
    int err;

    if (!have_xattrs())
        return;
    /* Let the file settle: its mtime must lie before the hash starts. */
    usleep(30000);
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    ck_assert_int_eq(
        nd_sum_ensure(s_fd, &st, &s_work, md5, &how, &err, &hashed), 0);
    hex_md5(md5, hex);
    ck_assert_str_eq(hex, hello_hex);
    ck_assert_int_eq(how, ND_SUM_STORED);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(hashed, 6);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), 0);
    ck_assert_mem_eq(got, md5, ND_DIGEST_LEN);

    /* The second time the record answers and nothing is read. */
    memset(md5, 0, sizeof(md5));
    ck_assert_int_eq(
        nd_sum_ensure(s_fd, &st, &s_work, md5, &how, &err, &hashed), 0);
    ck_assert_int_eq(how, ND_SUM_RECORD);
    ck_assert_uint_eq(hashed, 0);
    hex_md5(md5, hex);
    ck_assert_str_eq(hex, hello_hex);

    /* A file modified this very tick is hashed but not recorded. */
    ck_assert_int_eq(pwrite(s_fd, "J", 1, 0), 1);
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -ESTALE);
    ck_assert_int_eq(
        nd_sum_ensure(s_fd, &st, &s_work, md5, &how, &err, &hashed), 0);
    hex_md5(md5, hex);
    ck_assert_str_ne(hex, hello_hex);
    if (how == ND_SUM_UNSTORED) {
        ck_assert_int_eq(err, -EAGAIN);
        ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -ESTALE);
    } else {
        /* A slow machine crossed a clock tick between the write and the
         * hash; then the record is right to be stored. */
        ck_assert_int_eq(how, ND_SUM_STORED);
    }
}
END_TEST

START_TEST(test_set_checked)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    struct timespec since;
    struct stat st;

    if (!have_xattrs())
        return;
    usleep(30000);
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    nd_sum_clock(&since);
    some_md5(md5, 0x66);
    /* Changed after the caller's fstat: refused. */
    ck_assert_int_eq(nd_io_write_full(s_fd, "more", 4), 4);
    ck_assert_int_eq(nd_sum_set_checked(s_fd, &st, &since, md5), -ESTALE);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), -ENODATA);
    /* Unchanged and settled: stored. */
    usleep(30000);
    ck_assert_int_eq(fstat(s_fd, &st), 0);
    nd_sum_clock(&since);
    ck_assert_int_eq(nd_sum_set_checked(s_fd, &st, &since, md5), 0);
    ck_assert_int_eq(nd_sum_get(s_fd, &st, got), 0);
    /* Unchanged but modified in the tick the read began: not stored. */
    since = st.st_mtim;
    ck_assert_int_eq(nd_sum_clear(s_fd), 0);
    ck_assert_int_eq(nd_sum_set_checked(s_fd, &st, &since, md5), -EAGAIN);
}
END_TEST

/* An upload's commit records the digest it was given on the final file. */
START_TEST(test_commit_records)
{
    uint8_t md5[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    struct nd_upload up;
    struct nd_store s;
    struct stat st;
    char path[160];
    int fd;

    if (!have_xattrs())
        return;
    ck_assert_int_eq(nd_store_open(&s, s_dir), 0);
    ck_assert_int_eq(nd_store_create_temp(&s, "sub/up.bin", &up), 0);
    ck_assert_ptr_null(up.md5);
    ck_assert_int_eq(nd_io_write_full(up.fd, "hello\n", 6), 6);
    ck_assert_int_eq(nd_sum_hash(s_fd, 6, &s_work, md5), 0);
    up.md5 = md5;
    ck_assert_int_eq(nd_store_commit(&up), 0);
    ck_assert_int_eq(up.sum_err, 0);

    snprintf(path, sizeof(path), "%s/sub/up.bin", s_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(nd_sum_get(fd, &st, got), 0);
    ck_assert_mem_eq(got, md5, ND_DIGEST_LEN);
    close(fd);

    /* Without a digest, nothing is recorded. */
    ck_assert_int_eq(nd_store_create_temp(&s, "sub/bare.bin", &up), 0);
    ck_assert_int_eq(nd_store_commit(&up), 0);
    snprintf(path, sizeof(path), "%s/sub/bare.bin", s_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(nd_sum_get(fd, &st, got), -ENODATA);
    close(fd);
    nd_store_close(&s);
}
END_TEST

START_TEST(test_probe)
{
    int fd = open(s_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc = nd_sum_probe(fd);

    ck_assert(rc == 0 || rc == -EOPNOTSUPP);
    close(fd);
    ck_assert_int_eq(nd_sum_probe(-1), -EBADF);
}
END_TEST

static Suite *
sum_suite(void)
{
    Suite *s = suite_create("nd_sum");
    TCase *codec = tcase_create("codec");
    TCase *file = tcase_create("file");

    tcase_add_test(codec, test_encode_decode);
    suite_add_tcase(s, codec);

    tcase_add_checked_fixture(file, setup, teardown);
    tcase_add_test(file, test_roundtrip);
    tcase_add_test(file, test_stale_size);
    tcase_add_test(file, test_stale_mtime);
    tcase_add_test(file, test_corrupt);
    tcase_add_test(file, test_settled);
    tcase_add_test(file, test_hash);
    tcase_add_test(file, test_ensure);
    tcase_add_test(file, test_set_checked);
    tcase_add_test(file, test_commit_records);
    tcase_add_test(file, test_probe);
    suite_add_tcase(s, file);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sum_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
