/*
 * Unit tests for nd_partial (resumable uploads) and the parts of nd_store
 * it relies on: a fresh partial, its resumption after nd_store_suspend(),
 * the key of a partial (path, size, mtime), truncation of an over-long
 * partial, the fallback to a plain temporary file while another fd holds
 * the lock, abort, commit with the client's mtime, the partial sweep
 * (age, locks, planted symlinks) and the start-up sweep leaving the partial
 * directory alone.  Each test gets a fresh mkdtemp tree:
 *
 *     base/root/             the base store (one directory per user)
 *     base/root/alice/       the user store most tests write into
 *     base/outside/          a canary beside the root, reached only by links
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_digest.h"
#include "nd_io.h"
#include "nd_partial.h"
#include "nd_store.h"

#define P_MAX 512

static char s_base[64];         /* mkdtemp */
static char s_root[128];        /* the base store's root */
static char s_udir[160];        /* root/alice */
static char s_pdir[192];        /* root/alice/.netdisk-partial */
static char s_out[128];         /* the canary */
static struct nd_store s_store; /* root */
static struct nd_store s_user;  /* root/alice */

static void
write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_int_eq(nd_io_write_full(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Reads at most cap bytes of path into buf; returns the count or -1. */
static ssize_t
read_file(const char *path, void *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = nd_io_read_full(fd, buf, cap);
    close(fd);
    return n;
}

static int
exists(const char *dir, const char *name)
{
    char p[P_MAX];
    struct stat st;

    int n = snprintf(p, sizeof(p), "%s/%s", dir, name);

    ck_assert(n > 0 && (size_t)n < sizeof(p));
    return lstat(p, &st) == 0;
}

/* The number of entries in dir besides "." and "..", or -1. */
static int
count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (dp == NULL)
        return -1;
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dp);
    return n;
}

/* Sets the mtime (and atime) of path, not following a final symlink. */
static void
set_mtime(const char *path, time_t sec)
{
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};

    ck_assert_msg(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0,
                  "utimensat %s: %s", path, strerror(errno));
}

/* The name the partial of (path, size, sec.nsec) must have: the hex MD5 of
 * the path, its NUL, and the size, sec and nsec big-endian. */
static void
expected_name(const char *path, uint64_t size, int64_t sec, uint32_t nsec,
              char out[ND_DIGEST_HEX_LEN])
{
    uint8_t key[20], md5[ND_DIGEST_LEN];
    struct nd_digest d = {0};

    nd_proto_put_be(key, size, 8);
    nd_proto_put_be(key + 8, (uint64_t)sec, 8);
    nd_proto_put_be(key + 16, nsec, 4);
    ck_assert_int_eq(nd_digest_init(&d), 0);
    ck_assert_int_eq(nd_digest_update(&d, path, strlen(path) + 1), 0);
    ck_assert_int_eq(nd_digest_update(&d, key, sizeof(key)), 0);
    ck_assert_int_eq(nd_digest_final(&d, md5), 0);
    nd_digest_free(&d);
    nd_digest_hex(md5, out);
}

/* Copies a partial's name out of up->tmp, which is larger. */
static void
copy_name(char out[ND_DIGEST_HEX_LEN], const char *tmp)
{
    size_t n = strlen(tmp);

    ck_assert_uint_lt(n, ND_DIGEST_HEX_LEN);
    memcpy(out, tmp, n + 1);
}

/* Opens a partial, writes data to it and suspends it; its name goes to
 * name (may be NULL). */
static void
make_partial(const char *path, uint64_t size, int64_t sec, uint32_t nsec,
             const char *data, char name[ND_DIGEST_HEX_LEN])
{
    struct nd_upload up;
    size_t len = strlen(data);

    ck_assert_int_eq(nd_partial_open(&s_user, path, size, sec, nsec, &up), 0);
    ck_assert(up.keep);
    if (name != NULL)
        copy_name(name, up.tmp);
    ck_assert_int_eq(nd_io_write_full(up.fd, data, len), (ssize_t)len);
    nd_store_suspend(&up);
}

/* Opens root/alice/.netdisk-partial/name and takes an exclusive flock on
 * it, as another PUT would; returns the fd. */
static int
lock_partial(const char *name)
{
    char p[P_MAX];
    int fd;

    snprintf(p, sizeof(p), "%s/%s", s_pdir, name);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s: %s", p, strerror(errno));
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    return fd;
}

static void
assert_released(const struct nd_upload *up)
{
    ck_assert_int_eq(up->fd, -1);
    ck_assert_int_eq(up->dir_fd, -1);
    ck_assert_int_eq(up->tmp_dir_fd, -1);
}

static void
setup(void)
{
    snprintf(s_base, sizeof(s_base), "/tmp/nd_check_partial.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_base));
    snprintf(s_root, sizeof(s_root), "%s/root", s_base);
    snprintf(s_out, sizeof(s_out), "%s/outside", s_base);
    snprintf(s_udir, sizeof(s_udir), "%s/alice", s_root);
    snprintf(s_pdir, sizeof(s_pdir), "%s/" ND_PARTIAL_DIR, s_udir);
    ck_assert_int_eq(mkdir(s_root, 0755), 0);
    ck_assert_int_eq(mkdir(s_out, 0755), 0);
    ck_assert_int_eq(nd_store_open(&s_store, s_root), 0);
    ck_assert_int_eq(nd_store_open_user(&s_store, "alice", &s_user), 0);
}

static void
teardown(void)
{
    char cmd[256];

    nd_store_close(&s_user);
    nd_store_close(&s_store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_base);
    ck_assert_int_eq(system(cmd), 0);
}

/* Loop index 0: openat2; 1: the O_NOFOLLOW walk. */
static void
pick_mode(int i)
{
    if (i == 1) {
        nd_store_force_walk(&s_store);
        nd_store_force_walk(&s_user);
    }
}

START_TEST(test_fresh_suspend_resume_commit)
{
    static const char data[] = "0123456789abcdef";
    const char *path = "docs/report.txt";
    const int64_t sec = 1600000000;
    const uint32_t nsec = 123456789;
    char name[ND_DIGEST_HEX_LEN], docs[256], p[P_MAX], buf[64];
    struct nd_upload up;
    struct stat st;

    pick_mode(_i);
    snprintf(docs, sizeof(docs), "%s/docs", s_udir);

    /* Fresh: nothing to resume, the file is in the partial directory. */
    ck_assert_int_eq(nd_partial_open(&s_user, path, 16, sec, nsec, &up), 0);
    ck_assert(up.keep);
    ck_assert_uint_eq(up.offset, 0);
    ck_assert_int_ge(up.fd, 0);
    ck_assert_int_ge(up.dir_fd, 0);
    ck_assert_int_ge(up.tmp_dir_fd, 0);
    ck_assert(!up.set_mtime);
    ck_assert_str_eq(up.name, "report.txt");
    expected_name(path, 16, sec, nsec, name);
    ck_assert_str_eq(up.tmp, name);
    ck_assert_int_eq(count_entries(s_pdir), 1);
    ck_assert(exists(s_pdir, name));
    /* ... and nowhere else: the target directory was made, but is empty,
     * and alice holds only it and the partial directory. */
    ck_assert_int_eq(count_entries(docs), 0);
    ck_assert_int_eq(count_entries(s_udir), 2);
    ck_assert_int_eq(count_entries(s_root), 1);
    ck_assert_int_eq(lseek(up.fd, 0, SEEK_CUR), 0);

    /* An interruption after 6 bytes keeps them. */
    ck_assert_int_eq(nd_io_write_full(up.fd, data, 6), 6);
    nd_store_suspend(&up);
    assert_released(&up);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, name);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 6);
    ck_assert_int_eq(memcmp(buf, data, 6), 0);
    ck_assert_int_eq(count_entries(docs), 0);

    /* The same file again resumes after them. */
    ck_assert_int_eq(nd_partial_open(&s_user, path, 16, sec, nsec, &up), 0);
    ck_assert(up.keep);
    ck_assert_uint_eq(up.offset, 6);
    ck_assert_str_eq(up.tmp, name);
    ck_assert_int_eq(lseek(up.fd, 0, SEEK_CUR), 6);
    ck_assert_int_eq(count_entries(s_pdir), 1);
    ck_assert_int_eq(nd_io_write_full(up.fd, data + 6, 10), 10);

    /* Commit with the client's mtime. */
    up.set_mtime = true;
    up.times[0].tv_sec = 0;
    up.times[0].tv_nsec = UTIME_OMIT;
    up.times[1].tv_sec = sec;
    up.times[1].tv_nsec = nsec;
    ck_assert_int_eq(nd_store_commit(&up), 0);
    assert_released(&up);
    snprintf(p, sizeof(p), "%s/report.txt", docs);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 16);
    ck_assert_int_eq(memcmp(buf, data, 16), 0);
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_size, 16);
    ck_assert_int_eq(st.st_nlink, 1);
    ck_assert_int_eq(st.st_mtim.tv_sec, sec);
    ck_assert_int_eq(st.st_mtim.tv_nsec, nsec);
    /* The partial is gone, and nothing else was left behind. */
    ck_assert_int_eq(count_entries(s_pdir), 0);
    ck_assert_int_eq(count_entries(docs), 1);
    ck_assert_int_eq(count_entries(s_udir), 2);

    /* A resumed upload gets the permissions a plain one gets. */
    {
        struct nd_upload plain;
        struct stat pst;

        ck_assert_int_eq(nd_store_create_temp(&s_user, "docs/plain", &plain),
                         0);
        ck_assert_int_eq(nd_store_commit(&plain), 0);
        snprintf(p, sizeof(p), "%s/plain", docs);
        ck_assert_int_eq(lstat(p, &pst), 0);
        ck_assert_uint_eq(st.st_mode & 07777, pst.st_mode & 07777);
    }

    /* The next upload of the same file starts from scratch. */
    ck_assert_int_eq(nd_partial_open(&s_user, path, 16, sec, nsec, &up), 0);
    ck_assert_uint_eq(up.offset, 0);
    nd_store_abort(&up);
}
END_TEST

/* Any change to the key (size, sec, nsec, path) names another partial. */
START_TEST(test_key_distinguishes)
{
    static const struct {
        const char *path;
        uint64_t size;
        int64_t sec;
        uint32_t nsec;
    } keys[] = {
        {"d/f.bin", 100, 1000, 5},  {"d/f.bin", 101, 1000, 5},
        {"d/f.bin", 100, 1001, 5},  {"d/f.bin", 100, 1000, 6},
        {"d/g.bin", 100, 1000, 5},  {"e/f.bin", 100, 1000, 5},
        {"d/f.bin", 100, -1000, 5}, {"f.bin", 100, 1000, 5},
    };
    enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };
    char names[NKEYS][ND_DIGEST_HEX_LEN];
    struct nd_upload up;

    make_partial(keys[0].path, keys[0].size, keys[0].sec, keys[0].nsec, "abc",
                 names[0]);
    for (size_t i = 1; i < NKEYS; i++) {
        char want[ND_DIGEST_HEX_LEN];

        ck_assert_int_eq(nd_partial_open(&s_user, keys[i].path, keys[i].size,
                                         keys[i].sec, keys[i].nsec, &up),
                         0);
        ck_assert(up.keep);
        ck_assert_msg(up.offset == 0, "key %zu resumed at %llu", i,
                      (unsigned long long)up.offset);
        expected_name(keys[i].path, keys[i].size, keys[i].sec, keys[i].nsec,
                      want);
        ck_assert_str_eq(up.tmp, want);
        copy_name(names[i], up.tmp);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(names[i], names[j]);
        ck_assert_int_eq(nd_io_write_full(up.fd, "x", 1), 1);
        nd_store_suspend(&up);
    }
    ck_assert_int_eq(count_entries(s_pdir), NKEYS);

    /* Every one of them is still found under its own key. */
    for (size_t i = 0; i < NKEYS; i++) {
        ck_assert_int_eq(nd_partial_open(&s_user, keys[i].path, keys[i].size,
                                         keys[i].sec, keys[i].nsec, &up),
                         0);
        ck_assert_uint_eq(up.offset, i == 0 ? 3 : 1);
        nd_store_suspend(&up);
    }
    ck_assert_int_eq(count_entries(s_pdir), NKEYS);
}
END_TEST

/* A partial longer than the size cannot be this file's: start over.  One
 * exactly as long as the size is complete and resumes at its end. */
START_TEST(test_longer_truncated)
{
    char name[ND_DIGEST_HEX_LEN], p[P_MAX];
    struct nd_upload up;
    struct stat st;

    make_partial("big.bin", 10, 7, 0, "0123456789ABCDE", name);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, name);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 15);

    ck_assert_int_eq(nd_partial_open(&s_user, "big.bin", 10, 7, 0, &up), 0);
    ck_assert(up.keep);
    ck_assert_str_eq(up.tmp, name);
    ck_assert_uint_eq(up.offset, 0);
    ck_assert_int_eq(fstat(up.fd, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert_int_eq(lseek(up.fd, 0, SEEK_CUR), 0);
    ck_assert_int_eq(nd_io_write_full(up.fd, "0123456789", 10), 10);
    nd_store_suspend(&up);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 10);

    ck_assert_int_eq(nd_partial_open(&s_user, "big.bin", 10, 7, 0, &up), 0);
    ck_assert_uint_eq(up.offset, 10);
    ck_assert_int_eq(lseek(up.fd, 0, SEEK_CUR), 10);
    nd_store_suspend(&up);

    /* Size 0: any byte at all is too many. */
    make_partial("empty.bin", 0, 7, 0, "z", name);
    ck_assert_int_eq(nd_partial_open(&s_user, "empty.bin", 0, 7, 0, &up), 0);
    ck_assert_uint_eq(up.offset, 0);
    ck_assert_int_eq(fstat(up.fd, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    nd_store_suspend(&up);
}
END_TEST

static double
now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * While another open file description holds the lock (0: a flock of our
 * own, 1: another nd_partial_open of the same file), nd_partial_open waits
 * about two seconds and then falls back to a temporary file beside the
 * target, which is not resumable.
 */
START_TEST(test_locked_falls_back)
{
    char name[ND_DIGEST_HEX_LEN], docs[256], p[P_MAX], buf[16];
    struct nd_upload holder, up;
    int lock_fd = -1;
    double t0, dt;
    size_t plen = strlen(ND_RESERVED_PREFIX);

    snprintf(docs, sizeof(docs), "%s/docs", s_udir);
    make_partial("docs/a.bin", 8, 42, 1, "abc", name);
    if (_i == 0) {
        lock_fd = lock_partial(name);
    } else {
        ck_assert_int_eq(
            nd_partial_open(&s_user, "docs/a.bin", 8, 42, 1, &holder), 0);
        ck_assert(holder.keep);
        ck_assert_uint_eq(holder.offset, 3);
    }

    t0 = now_mono();
    ck_assert_int_eq(nd_partial_open(&s_user, "docs/a.bin", 8, 42, 1, &up), 0);
    dt = now_mono() - t0;
    ck_assert_msg(dt >= 1.5 && dt < 10.0, "waited %.3f s", dt);
    ck_assert(!up.keep);
    ck_assert_uint_eq(up.offset, 0);
    ck_assert_int_ge(up.fd, 0);
    ck_assert_int_ge(up.dir_fd, 0);
    ck_assert_int_eq(up.tmp_dir_fd, -1);
    ck_assert_str_eq(up.name, "a.bin");
    /* .netdisk-<16 hex digits>, in the target directory. */
    ck_assert_uint_eq(strlen(up.tmp), plen + 16);
    ck_assert(nd_store_reserved(up.tmp));
    ck_assert_uint_eq(strspn(up.tmp + plen, "0123456789abcdef"), 16);
    ck_assert(exists(docs, up.tmp));
    ck_assert_int_eq(count_entries(docs), 1);
    ck_assert_int_eq(count_entries(s_pdir), 1);
    ck_assert_int_eq(lseek(up.fd, 0, SEEK_CUR), 0);

    /* Suspending a fallback upload aborts it. */
    snprintf(p, sizeof(p), "%s", up.tmp);
    nd_store_suspend(&up);
    assert_released(&up);
    ck_assert(!exists(docs, p));
    ck_assert_int_eq(count_entries(docs), 0);

    /* A second fallback commits normally; the partial is untouched. */
    ck_assert_int_eq(nd_partial_open(&s_user, "docs/a.bin", 8, 42, 1, &up), 0);
    ck_assert(!up.keep);
    ck_assert_int_eq(nd_io_write_full(up.fd, "12345678", 8), 8);
    ck_assert_int_eq(nd_store_commit(&up), 0);
    snprintf(p, sizeof(p), "%s/a.bin", docs);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 8);
    ck_assert_int_eq(memcmp(buf, "12345678", 8), 0);
    ck_assert_int_eq(count_entries(docs), 1);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, name);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 3);
    ck_assert_int_eq(memcmp(buf, "abc", 3), 0);

    /* Once the holder lets go, the partial resumes at once. */
    if (_i == 0)
        close(lock_fd);
    else
        nd_store_suspend(&holder);
    t0 = now_mono();
    ck_assert_int_eq(nd_partial_open(&s_user, "docs/a.bin", 8, 42, 1, &up), 0);
    ck_assert(now_mono() - t0 < 1.0);
    ck_assert(up.keep);
    ck_assert_uint_eq(up.offset, 3);
    nd_store_suspend(&up);
}
END_TEST

START_TEST(test_abort_and_missing_parents)
{
    char dir[256], p[P_MAX], buf[16];
    struct nd_upload up;
    struct stat st;

    pick_mode(_i);
    /* Abort removes the partial. */
    ck_assert_int_eq(nd_partial_open(&s_user, "x/y/z/f.bin", 4, 1, 2, &up), 0);
    ck_assert(up.keep);
    ck_assert_int_eq(nd_io_write_full(up.fd, "ab", 2), 2);
    ck_assert_int_eq(count_entries(s_pdir), 1);
    nd_store_abort(&up);
    assert_released(&up);
    ck_assert_int_eq(count_entries(s_pdir), 0);
    snprintf(dir, sizeof(dir), "%s/x/y/z", s_udir);
    ck_assert_int_eq(count_entries(dir), 0);
    nd_store_abort(&up); /* safe on a released upload */
    /* ... and the next open starts over. */
    ck_assert_int_eq(nd_partial_open(&s_user, "x/y/z/f.bin", 4, 1, 2, &up), 0);
    ck_assert_uint_eq(up.offset, 0);
    nd_store_abort(&up);
    ck_assert_int_eq(count_entries(s_pdir), 0);

    /* A commit into directories that do not exist yet makes them. */
    ck_assert(!exists(s_udir, "n1"));
    ck_assert_int_eq(nd_partial_open(&s_user, "n1/n2/n3/g.txt", 5, 9, 9, &up),
                     0);
    ck_assert(up.keep);
    ck_assert_int_eq(nd_io_write_full(up.fd, "hello", 5), 5);
    ck_assert_int_eq(nd_store_commit(&up), 0);
    snprintf(dir, sizeof(dir), "%s/n1/n2/n3", s_udir);
    ck_assert_int_eq(lstat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    snprintf(p, sizeof(p), "%s/g.txt", dir);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_eq(count_entries(s_pdir), 0);

    /* A directory at the final name is refused before anything is made. */
    ck_assert_int_eq(nd_partial_open(&s_user, "n1/n2", 1, 1, 1, &up), -EISDIR);
    ck_assert_int_eq(count_entries(s_pdir), 0);
    /* So is a path the store refuses. */
    ck_assert_int_eq(nd_partial_open(&s_user, "../escape", 1, 1, 1, &up),
                     -EACCES);
    ck_assert_int_eq(
        nd_partial_open(&s_user, ND_PARTIAL_DIR "/x", 1, 1, 1, &up), -EACCES);
}
END_TEST

/*
 * A target directory on another file system (a mount below the user's
 * directory) cannot receive a rename from the partial directory: the
 * upload falls back to a plain temporary file beside the target and
 * commits.  Needs a private mount namespace, so root; skipped otherwise.
 */
START_TEST(test_cross_mount_falls_back)
{
    char mnt[256], p[P_MAX], buf[16];
    struct nd_upload up;

    if (unshare(CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        printf("# skipped: no private mount namespace (%s)\n", strerror(errno));
        return;
    }
    /* The stores were opened in the old namespace, whose mounts their fds
     * keep seeing: open them again in this one. */
    nd_store_close(&s_user);
    nd_store_close(&s_store);
    ck_assert_int_eq(nd_store_open(&s_store, s_root), 0);
    ck_assert_int_eq(nd_store_open_user(&s_store, "alice", &s_user), 0);
    snprintf(mnt, sizeof(mnt), "%s/mnt", s_udir);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    ck_assert_msg(mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0,
                  "mount tmpfs: %s", strerror(errno));
    ck_assert_int_eq(nd_partial_open(&s_user, "mnt/f.bin", 5, 3, 4, &up), 0);
    ck_assert(!up.keep);
    ck_assert_int_eq(up.tmp_dir_fd, -1);
    ck_assert_uint_eq(up.offset, 0);
    ck_assert_int_eq(nd_io_write_full(up.fd, "hello", 5), 5);
    ck_assert_int_eq(nd_store_commit(&up), 0);
    snprintf(p, sizeof(p), "%s/f.bin", mnt);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(count_entries(mnt), 1);
    ck_assert_int_eq(count_entries(s_pdir), 0);
    ck_assert_int_eq(umount(mnt), 0);
}
END_TEST

START_TEST(test_partial_sweep)
{
    char old[ND_DIGEST_HEX_LEN], young[ND_DIGEST_HEX_LEN];
    char locked[ND_DIGEST_HEX_LEN], edge[ND_DIGEST_HEX_LEN];
    char p[P_MAX], q[P_MAX];
    time_t now = time(NULL);
    time_t older_than = now - 50;
    int lock_fd;

    /* alice: one old, one young, one old but locked, one exactly at the
     * limit (not older than it), and two old non-files. */
    make_partial("old.bin", 10, 1, 0, "o", old);
    make_partial("young.bin", 10, 1, 0, "y", young);
    make_partial("locked.bin", 10, 1, 0, "l", locked);
    make_partial("edge.bin", 10, 1, 0, "e", edge);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, old);
    set_mtime(p, now - 100);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, locked);
    set_mtime(p, now - 100);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, edge);
    set_mtime(p, older_than);
    lock_fd = lock_partial(locked);
    snprintf(p, sizeof(p), "%s/subdir", s_pdir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    set_mtime(p, now - 100);
    snprintf(q, sizeof(q), "%s/link_target", s_out);
    write_file(q, "t", 1);
    set_mtime(q, now - 100);
    snprintf(p, sizeof(p), "%s/lnk", s_pdir);
    ck_assert_int_eq(symlink(q, p), 0);
    set_mtime(p, now - 100);

    /* bob: two old partials, made by hand. */
    snprintf(p, sizeof(p), "%s/bob", s_root);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/bob/" ND_PARTIAL_DIR, s_root);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/bob/" ND_PARTIAL_DIR "/b1", s_root);
    write_file(p, "b", 1);
    set_mtime(p, now - 100);
    snprintf(p, sizeof(p), "%s/bob/" ND_PARTIAL_DIR "/b2", s_root);
    write_file(p, "b", 1);
    set_mtime(p, now - 100);

    /* carol: her partial directory is a link to outside/cpart. */
    snprintf(p, sizeof(p), "%s/cpart", s_out);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/cpart/victim", s_out);
    write_file(p, "v", 1);
    set_mtime(p, now - 100);
    snprintf(p, sizeof(p), "%s/carol", s_root);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/carol/" ND_PARTIAL_DIR, s_root);
    snprintf(q, sizeof(q), "%s/cpart", s_out);
    ck_assert_int_eq(symlink(q, p), 0);

    /* dave: his user directory is a link to outside/duser. */
    snprintf(p, sizeof(p), "%s/duser", s_out);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/duser/" ND_PARTIAL_DIR, s_out);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/duser/" ND_PARTIAL_DIR "/victim", s_out);
    write_file(p, "v", 1);
    set_mtime(p, now - 100);
    snprintf(p, sizeof(p), "%s/dave", s_root);
    snprintf(q, sizeof(q), "%s/duser", s_out);
    ck_assert_int_eq(symlink(q, p), 0);

    /* A plain file where a user directory would be. */
    snprintf(p, sizeof(p), "%s/notauser", s_root);
    write_file(p, "n", 1);

    ck_assert_int_eq(nd_partial_sweep(&s_store, older_than), 3);
    ck_assert(!exists(s_pdir, old));
    ck_assert(exists(s_pdir, young));
    ck_assert(exists(s_pdir, locked));
    ck_assert(exists(s_pdir, edge));
    ck_assert(exists(s_pdir, "subdir"));
    ck_assert(exists(s_pdir, "lnk"));
    ck_assert(exists(s_out, "link_target"));
    snprintf(p, sizeof(p), "%s/bob/" ND_PARTIAL_DIR, s_root);
    ck_assert_int_eq(count_entries(p), 0);
    ck_assert(exists(s_out, "cpart/victim"));
    ck_assert(exists(s_out, "duser/" ND_PARTIAL_DIR "/victim"));
    ck_assert(exists(s_root, "carol/" ND_PARTIAL_DIR));
    ck_assert(exists(s_root, "dave"));
    ck_assert(exists(s_root, "notauser"));

    /* Nothing more to do at the same age. */
    ck_assert_int_eq(nd_partial_sweep(&s_store, older_than), 0);
    /* The lock released, the old one goes. */
    close(lock_fd);
    ck_assert_int_eq(nd_partial_sweep(&s_store, older_than), 1);
    ck_assert(!exists(s_pdir, locked));
    /* A later limit takes the young one and the one at the edge; the
     * non-files and everything outside stay. */
    ck_assert_int_eq(nd_partial_sweep(&s_store, now + 10), 2);
    ck_assert_int_eq(count_entries(s_pdir), 2);
    ck_assert(exists(s_pdir, "subdir"));
    ck_assert(exists(s_pdir, "lnk"));
    ck_assert(exists(s_out, "link_target"));
    ck_assert(exists(s_out, "cpart/victim"));
    ck_assert(exists(s_out, "duser/" ND_PARTIAL_DIR "/victim"));
    ck_assert_int_eq(nd_partial_sweep(&s_store, now + 10), 0);
}
END_TEST

/* A partial held by a live nd_partial_open is skipped by the sweep, and the
 * upload then still commits. */
START_TEST(test_partial_sweep_skips_open_upload)
{
    char p[P_MAX], buf[8];
    struct nd_upload up;
    time_t now = time(NULL);

    ck_assert_int_eq(nd_partial_open(&s_user, "live.bin", 4, 3, 3, &up), 0);
    ck_assert(up.keep);
    ck_assert_int_eq(nd_io_write_full(up.fd, "li", 2), 2);
    snprintf(p, sizeof(p), "%s/%s", s_pdir, up.tmp);
    set_mtime(p, now - 100);
    ck_assert_int_eq(nd_partial_sweep(&s_store, now - 50), 0);
    ck_assert_int_eq(nd_io_write_full(up.fd, "ve", 2), 2);
    ck_assert_int_eq(nd_store_commit(&up), 0);
    snprintf(p, sizeof(p), "%s/live.bin", s_udir);
    ck_assert_int_eq(read_file(p, buf, sizeof(buf)), 4);
    ck_assert_int_eq(memcmp(buf, "live", 4), 0);
}
END_TEST

/* The start-up sweep removes stray temporary files but leaves the partial
 * directory, even a reserved name inside it, to nd_partial_sweep. */
START_TEST(test_startup_sweep_spares_partials)
{
    char name[ND_DIGEST_HEX_LEN], p[P_MAX];
    struct nd_upload up;

    make_partial("docs/r.bin", 10, 5, 5, "resume", name);
    snprintf(p, sizeof(p), "%s/.netdisk-x", s_pdir);
    write_file(p, "x", 1);
    snprintf(p, sizeof(p), "%s/sub", s_udir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sub/.netdisk-x", s_udir);
    write_file(p, "x", 1);
    snprintf(p, sizeof(p), "%s/sub/keep.txt", s_udir);
    write_file(p, "k", 1);
    snprintf(p, sizeof(p), "%s/.netdisk-y", s_udir);
    write_file(p, "y", 1);
    snprintf(p, sizeof(p), "%s/.netdisk-z", s_root);
    write_file(p, "z", 1);

    /* From the base root: alice/sub, alice and the root itself. */
    ck_assert_int_eq(nd_store_sweep(&s_store), 3);
    ck_assert(!exists(s_udir, "sub/.netdisk-x"));
    ck_assert(!exists(s_udir, ".netdisk-y"));
    ck_assert(!exists(s_root, ".netdisk-z"));
    ck_assert(exists(s_udir, "sub/keep.txt"));
    ck_assert(exists(s_pdir, name));
    ck_assert(exists(s_pdir, ".netdisk-x"));
    ck_assert_int_eq(count_entries(s_pdir), 2);

    /* From the user root, the partial directory is at depth 0. */
    snprintf(p, sizeof(p), "%s/sub/.netdisk-x", s_udir);
    write_file(p, "x", 1);
    ck_assert_int_eq(nd_store_sweep(&s_user), 1);
    ck_assert(exists(s_pdir, name));
    ck_assert(exists(s_pdir, ".netdisk-x"));
    ck_assert_int_eq(nd_store_sweep(&s_store), 0);

    /* The partial still resumes where it was. */
    ck_assert_int_eq(nd_partial_open(&s_user, "docs/r.bin", 10, 5, 5, &up), 0);
    ck_assert(up.keep);
    ck_assert_uint_eq(up.offset, 6);
    nd_store_suspend(&up);
}
END_TEST

/* A link planted as the partial directory is not followed: the upload
 * falls back to a plain temporary file and nothing appears outside. */
START_TEST(test_partial_dir_symlink_refused)
{
    char p[P_MAX], q[P_MAX];
    struct nd_upload up;

    pick_mode(_i);
    snprintf(q, sizeof(q), "%s/pd", s_out);
    ck_assert_int_eq(mkdir(q, 0700), 0);
    ck_assert_int_eq(symlink(q, s_pdir), 0);
    ck_assert_int_eq(nd_partial_open(&s_user, "f.bin", 3, 1, 1, &up), 0);
    ck_assert(!up.keep);
    ck_assert_int_eq(up.tmp_dir_fd, -1);
    ck_assert(nd_store_reserved(up.tmp));
    ck_assert(exists(s_udir, up.tmp));
    ck_assert_int_eq(count_entries(q), 0);
    ck_assert_int_eq(nd_io_write_full(up.fd, "abc", 3), 3);
    ck_assert_int_eq(nd_store_commit(&up), 0);
    ck_assert_int_eq(count_entries(q), 0);
    snprintf(p, sizeof(p), "%s/f.bin", s_udir);
    ck_assert(exists(s_udir, "f.bin"));
    /* alice holds f.bin and the link, nothing else. */
    ck_assert_int_eq(count_entries(s_udir), 2);
}
END_TEST

static Suite *
partial_suite(void)
{
    Suite *s = suite_create("nd_partial");
    TCase *tc = tcase_create("partial");
    TCase *sw = tcase_create("sweep");

    tcase_add_checked_fixture(tc, setup, teardown);
    /* The lock tests wait about two seconds each, more under valgrind. */
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_fresh_suspend_resume_commit, 0, 2);
    tcase_add_test(tc, test_key_distinguishes);
    tcase_add_test(tc, test_longer_truncated);
    tcase_add_loop_test(tc, test_locked_falls_back, 0, 2);
    tcase_add_loop_test(tc, test_abort_and_missing_parents, 0, 2);
    tcase_add_loop_test(tc, test_partial_dir_symlink_refused, 0, 2);
    tcase_add_test(tc, test_cross_mount_falls_back);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(sw, setup, teardown);
    tcase_set_timeout(sw, 60);
    tcase_add_test(sw, test_partial_sweep);
    tcase_add_test(sw, test_partial_sweep_skips_open_upload);
    tcase_add_test(sw, test_startup_sweep_spares_partials);
    suite_add_tcase(s, sw);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(partial_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
