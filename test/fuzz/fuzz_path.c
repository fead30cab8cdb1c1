/*
 * fuzz_path: libFuzzer target for how the daemon confines a client's path
 * beneath its storage root.
 *
 * Input: one option byte, then the path's bytes exactly as a request
 * carries them (NUL, invalid UTF-8 and any length included).  The path
 * takes the daemon's own way in:
 *
 *   1. nd_proto_req_decode() of a LIST body carrying it, which refuses a NUL
 *      and an over-long path;
 *   2. nd_store_check_path(), compared with an independent reference of the
 *      documented rules (absolute, empty component, "." or "..", reserved
 *      ".netdisk-" names, lengths);
 *   3. for a path both accept, the real resolution (nd_store_resolve,
 *      nd_store_open_read, nd_store_dir_open) against a tree made once per
 *      process under $TMPDIR (else /tmp), with symlinks that stay inside and
 *      symlinks that lead out, through both openat2() and the O_NOFOLLOW
 *      walk.  Every fd that comes back must have a /proc/self/fd realpath
 *      under the root; a walk that succeeds must reach the same inode as
 *      openat2; no fd may be left open after the input.
 *
 * The tree is never written to, so every input sees the same one.  It is
 * removed at exit; a crash leaves it behind, which is why scripts/fuzz.sh
 * points TMPDIR at its scratch directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "nd_proto.h"
#include "nd_store.h"

static char s_base[PATH_MAX]; /* the temporary directory, removed at exit */
static char s_root[PATH_MAX]; /* its realpath/root: the storage root */
static size_t s_root_len;
static struct nd_store s_beneath; /* openat2 where the kernel has it */
static struct nd_store s_walk;    /* always the O_NOFOLLOW walk */

/* ---- the tree ------------------------------------------------------ */

static void
make_dir(const char *rel)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", s_base, rel);
    FUZZ_ASSERT(mkdir(p, 0755) == 0);
}

static void
make_file(const char *rel, const char *text)
{
    char p[PATH_MAX];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", s_base, rel);
    f = fopen(p, "w");
    FUZZ_ASSERT(f != NULL);
    fputs(text, f);
    FUZZ_ASSERT(fclose(f) == 0);
}

static void
make_link(const char *target, const char *rel)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", s_base, rel);
    FUZZ_ASSERT(symlink(target, p) == 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void
remove_tree(void)
{
    if (s_base[0] != '\0')
        nftw(s_base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Builds base/outside (what no client may reach) and base/root (the storage
 * root) with every kind of name the resolver must handle.  The names are
 * also in the seed corpus and the dictionary, so the fuzzer starts from
 * paths that reach them.
 */
static void
make_tree(void)
{
    const char *tmp = getenv("TMPDIR");
    char p[PATH_MAX];

    snprintf(s_base, sizeof(s_base), "%s/nd-fuzz-path.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    FUZZ_ASSERT(mkdtemp(s_base) != NULL);
    atexit(remove_tree);

    make_dir("outside");
    make_file("outside/secret", "not for clients\n");
    make_dir("root");
    make_file("root/file", "hello\n");
    make_dir("root/dir");
    make_dir("root/dir/sub");
    make_file("root/dir/sub/deep.txt", "deep\n");
    make_file("root/dir/.netdisk-0123456789abcdef", "an upload\n");
    make_dir("root/.netdisk-partial");
    make_file("root/.netdisk-partial/part", "a partial\n");
    snprintf(p, sizeof(p), "%s/root/fifo", s_base);
    FUZZ_ASSERT(mkfifo(p, 0644) == 0);
    /* Links that stay beneath the root. */
    make_link("dir/sub", "root/in-link");
    make_link("file", "root/file-link");
    make_link("..", "root/dir/back");
    make_link("sub/deep.txt", "root/dir/deep-link");
    /* Links that lead out, or nowhere. */
    make_link("..", "root/up");
    make_link("/", "root/abs");
    make_link("/etc/passwd", "root/passwd");
    make_link("../../outside", "root/dir/escape");
    make_link("../../../outside/secret", "root/dir/sub/far");
    make_link(s_base, "root/base");
    make_link("/proc/self/cwd", "root/proc-cwd");
    make_link("loop", "root/loop");
    make_link("nowhere", "root/dangling");

    snprintf(p, sizeof(p), "%s/root", s_base);
    FUZZ_ASSERT(realpath(p, s_root) != NULL);
    s_root_len = strlen(s_root);
    FUZZ_ASSERT(nd_store_open(&s_beneath, s_root) == 0);
    FUZZ_ASSERT(nd_store_open(&s_walk, s_root) == 0);
    nd_store_force_walk(&s_walk);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    make_tree();
    return 0;
}

/* ---- the reference rules ------------------------------------------- */

/* The refusals of nd_store_check_path(), as bits of a set. */
#define BAD_INVAL 1u   /* -EINVAL */
#define BAD_ACCES 2u   /* -EACCES */
#define BAD_TOOLONG 4u /* -ENAMETOOLONG */

/*
 * The lexical rules of nd_store_check_path() as include/nd_store.h and
 * docs/security.md state them, written independently of it: split on '/'
 * first, then judge every component.  Returns the set of every rule the
 * path breaks, since which of several refusals comes first is not part of
 * the contract.
 */
static unsigned
ref_check_path(const char *path, bool allow_root)
{
    size_t len = strlen(path), start = 0;
    unsigned bad = 0;

    if (len > ND_PATH_MAX)
        bad |= BAD_TOOLONG;
    if (len == 0)
        return allow_root ? bad : bad | BAD_INVAL;
    if (path[0] == '/')
        bad |= BAD_ACCES;
    /* LIST may name a directory with one trailing '/'. */
    if (allow_root && path[len - 1] == '/')
        len--;
    for (size_t i = 0; i <= len; i++) {
        size_t n;

        if (i < len && path[i] != '/')
            continue;
        n = i - start;
        if (n == 0 && !(i == 0 && path[0] == '/'))
            bad |= BAD_INVAL; /* "a//b", or a trailing '/' */
        if (n > ND_NAME_MAX)
            bad |= BAD_TOOLONG;
        if ((n == 1 && memcmp(path + start, ".", 1) == 0) ||
            (n == 2 && memcmp(path + start, "..", 2) == 0))
            bad |= BAD_ACCES;
        if (n >= strlen(ND_RESERVED_PREFIX) &&
            memcmp(path + start, ND_RESERVED_PREFIX,
                   strlen(ND_RESERVED_PREFIX)) == 0)
            bad |= BAD_ACCES;
        start = i + 1;
    }
    return bad;
}

/* True when rc is one of the refusals in the set bad (0 when it is empty). */
static bool
refusal_in(int rc, unsigned bad)
{
    if (bad == 0)
        return rc == 0;
    return (rc == -EINVAL && (bad & BAD_INVAL) != 0) ||
           (rc == -EACCES && (bad & BAD_ACCES) != 0) ||
           (rc == -ENAMETOOLONG && (bad & BAD_TOOLONG) != 0);
}

/* ---- checks on what the resolver returns ---------------------------- */

/* The lowest free fd: equal before and after an input, or an fd leaked. */
static int
lowest_free_fd(void)
{
    int fd = dup(STDIN_FILENO);

    if (fd < 0)
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    FUZZ_ASSERT(fd >= 0);
    close(fd);
    return fd;
}

/* Asserts that fd names something beneath the root (or the root). */
static void
check_beneath(int fd, const char *path)
{
    char link[64], where[PATH_MAX + 1];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, where, sizeof(where) - 1);
    FUZZ_ASSERT(n > 0);
    where[n] = '\0';
    FUZZ_ASSERT_MSG(strncmp(where, s_root, s_root_len) == 0 &&
                        (where[s_root_len] == '\0' || where[s_root_len] == '/'),
                    "\"%s\" resolved to %s, outside %s", path, where, s_root);
}

/* The errors resolution may give for a path in this tree.  Anything else
 * (EMFILE from a leak, EFAULT, EINVAL from a bad flag) is a bug. */
static bool
resolve_err_ok(int rc)
{
    return rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP || rc == -EXDEV ||
           rc == -EISDIR || rc == -ND_ENOTREG || rc == -ENAMETOOLONG ||
           rc == -EAGAIN || rc == -ENXIO;
}

/*
 * Resolves path through both stores with flags.  Whatever either returns
 * must be beneath the root; and whatever the walk (which refuses every
 * symlink) reaches, openat2 (which follows the ones that stay inside) must
 * reach too, and it must be the same file.
 */
static void
resolve_both(const char *path, int flags)
{
    int a = nd_store_resolve(&s_beneath, path, flags);
    int b = nd_store_resolve(&s_walk, path, flags);
    struct stat sa, sb;

    FUZZ_ASSERT_MSG(a >= 0 || resolve_err_ok(a), "\"%s\": openat2 gave %d",
                    path, a);
    FUZZ_ASSERT_MSG(b >= 0 || resolve_err_ok(b), "\"%s\": walk gave %d", path,
                    b);
    if (a >= 0)
        check_beneath(a, path);
    if (b >= 0)
        check_beneath(b, path);
    /* The walk opens a final symlink itself, where openat2 follows it
     * unless O_NOFOLLOW says otherwise; callers refuse that link (STAT says
     * ELOOP, GET not a regular file), so only what it reaches otherwise
     * must agree. */
    if (b >= 0 && s_beneath.use_openat2 &&
        (fstat(b, &sb) == 0 && !S_ISLNK(sb.st_mode))) {
        FUZZ_ASSERT_MSG(a >= 0, "\"%s\": the walk found it, openat2 gave %d",
                        path, a);
        FUZZ_ASSERT(fstat(a, &sa) == 0 && fstat(b, &sb) == 0);
        FUZZ_ASSERT_MSG(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino,
                        "\"%s\": openat2 and the walk differ", path);
    }
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
}

/* GET's way in: a regular file beneath the root, opened for reading. */
static void
open_read(const struct nd_store *s, const char *path)
{
    struct stat st;
    int fd = 12345;
    int rc = nd_store_open_read(s, path, &fd, &st);

    FUZZ_ASSERT_MSG(rc == 0 || resolve_err_ok(rc) || rc == -EINVAL ||
                        rc == -EACCES,
                    "\"%s\": open_read gave %d", path, rc);
    if (rc < 0) {
        FUZZ_ASSERT(fd == -1);
        return;
    }
    FUZZ_ASSERT(S_ISREG(st.st_mode));
    check_beneath(fd, path);
    close(fd);
}

/* LIST's way in: a directory beneath the root whose listing never shows
 * ".", ".." or a reserved name. */
static void
list_dir(const struct nd_store *s, const char *path)
{
    struct nd_dir d;
    struct nd_entry e;
    int rc = nd_store_dir_open(s, path, &d), n = 0;

    FUZZ_ASSERT_MSG(rc == 0 || resolve_err_ok(rc) || rc == -EINVAL ||
                        rc == -EACCES,
                    "\"%s\": dir_open gave %d", path, rc);
    if (rc < 0) {
        FUZZ_ASSERT(d.dp == NULL);
        return;
    }
    check_beneath(dirfd(d.dp), path);
    while ((rc = nd_store_dir_next(&d, &e)) == 1) {
        FUZZ_ASSERT(e.name_len == strlen(e.name) && e.name_len > 0);
        FUZZ_ASSERT(strcmp(e.name, ".") != 0 && strcmp(e.name, "..") != 0);
        FUZZ_ASSERT(!nd_store_reserved(e.name));
        FUZZ_ASSERT(++n < 64); /* the tree has a handful per directory */
    }
    FUZZ_ASSERT(rc == 0);
    nd_store_dir_close(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t body[4 + 2 + 65535];
    static struct nd_req req;
    char trimmed[ND_PATH_MAX + 1];
    bool allow_root, has_nul;
    size_t n;
    unsigned ref;
    int rc, free_fd;

    if (size < 1 || size - 1 > 65535)
        return 0;
    allow_root = (data[0] & 1) != 0;
    n = size - 1;
    free_fd = lowest_free_fd();

    /* 1. The path arrives in a LIST request. */
    nd_proto_put_be(body, 0, 4);
    nd_proto_put_be(body + 4, n, 2);
    memcpy(body + 6, data + 1, n);
    rc = nd_proto_req_decode(ND_T_LIST, body, 6 + n, &req);
    has_nul = n > 0 && memchr(data + 1, '\0', n) != NULL;
    if (n > ND_PATH_MAX) {
        FUZZ_ASSERT(rc == -ENAMETOOLONG);
        return 0;
    }
    if (has_nul) {
        FUZZ_ASSERT(rc == -EINVAL);
        return 0;
    }
    FUZZ_ASSERT(rc == 0 && req.path_len == n);
    FUZZ_ASSERT(memcmp(req.path, data + 1, n) == 0 && req.path[n] == '\0');

    /* 2. The lexical rules. */
    rc = nd_store_check_path(req.path, allow_root);
    ref = ref_check_path(req.path, allow_root);
    FUZZ_ASSERT_MSG(refusal_in(rc, ref),
                    "\"%s\" allow_root %d: %d, rules broken 0x%x", req.path,
                    allow_root, rc, ref);
    /* Without allow_root nothing more is accepted than with it. */
    if (!allow_root && rc == 0)
        FUZZ_ASSERT(nd_store_check_path(req.path, true) == 0);
    if (rc < 0)
        return 0;

    /* 3. Resolution, as STAT and LIST do it: one trailing '/' dropped. */
    memcpy(trimmed, req.path, n + 1);
    if (n > 0 && trimmed[n - 1] == '/')
        trimmed[n - 1] = '\0';
    resolve_both(trimmed, O_PATH | O_CLOEXEC);
    resolve_both(trimmed, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    resolve_both(trimmed, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    resolve_both(trimmed, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (!allow_root) {
        open_read(&s_beneath, req.path);
        open_read(&s_walk, req.path);
    }
    list_dir(&s_beneath, req.path);
    list_dir(&s_walk, req.path);

    FUZZ_ASSERT_MSG(lowest_free_fd() == free_fd, "\"%s\" leaked an fd",
                    req.path);
    return 0;
}
