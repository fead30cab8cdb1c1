/*
 * Unit tests for nd_fileops: mkdir (with and without parents), remove (files,
 * links, empty and non-empty directories, whole trees, deep trees) and
 * rename, each against "..", absolute paths, reserved names and planted
 * symlinks that lead out.  Every resolving test runs twice (loop index 0:
 * openat2, 1: the O_NOFOLLOW walk), as in check_store, and a canary
 * directory beside the root proves nothing outside was touched.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_fileops.h"
#include "nd_store.h"

static char s_base[64];  /* mkdtemp: holds root/ and outside/ */
static char s_root[128]; /* the storage root */
static char s_out[128];  /* a canary directory beside it */
static struct nd_store s_store;

static void
write_file(const char *rel, const char *text)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", s_root, rel);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void
make_dir(const char *rel)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", s_root, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void
make_link(const char *target, const char *rel)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", s_root, rel);
    ck_assert_int_eq(symlink(target, p), 0);
}

/* The type of rel under the root: 'f', 'd', 'l', '?', or 0 when absent. */
static char
kind(const char *rel)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", s_root, rel);
    if (lstat(p, &st) < 0)
        return 0;
    return S_ISREG(st.st_mode)   ? 'f'
           : S_ISDIR(st.st_mode) ? 'd'
           : S_ISLNK(st.st_mode) ? 'l'
                                 : '?';
}

static void
setup(void)
{
    char p[512];
    FILE *f;

    snprintf(s_base, sizeof(s_base), "/tmp/nd_check_fileops.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_base));
    snprintf(s_root, sizeof(s_root), "%s/root", s_base);
    snprintf(s_out, sizeof(s_out), "%s/outside", s_base);
    ck_assert_int_eq(mkdir(s_root, 0755), 0);
    ck_assert_int_eq(mkdir(s_out, 0755), 0);
    snprintf(p, sizeof(p), "%s/secret", s_out);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("secret\n", f);
    fclose(f);
    write_file("hello.txt", "hello\n");
    make_dir("sub");
    write_file("sub/inner.txt", "inner\n");
    make_dir("empty");
    /* Planted links: escapes, and two that stay inside. */
    make_link(s_out, "escape_abs");
    make_link("../outside", "escape_rel");
    make_link("../outside/secret", "secret_link");
    make_link("hello.txt", "inside_link");
    make_link("sub", "inside_dir");
    ck_assert_int_eq(nd_store_open(&s_store, s_root), 0);
}

static void
teardown(void)
{
    char cmd[256];

    nd_store_close(&s_store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_base);
    ck_assert_int_eq(system(cmd), 0);
}

static void
pick_mode(int i)
{
    if (i == 1)
        nd_store_force_walk(&s_store);
}

/* Only the secret file, unchanged, and nothing new may be in the canary
 * directory. */
static void
assert_canary_untouched(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "test \"$(ls -A '%s')\" = secret && "
             "test \"$(cat '%s/secret')\" = secret",
             s_out, s_out);
    ck_assert_int_eq(system(cmd), 0);
}

/* What openat2 and the walk say about a link that leads out. */
static int
escape_err(int mode)
{
    return mode == 0 ? -EXDEV : -ELOOP;
}

static int
do_mkdir(const char *path, bool parents, uint64_t *created)
{
    uint64_t dummy;

    return nd_fileops_mkdir(&s_store, path, parents,
                            created != NULL ? created : &dummy);
}

static int
do_remove(const char *path, bool recursive, uint64_t *removed)
{
    uint64_t dummy;

    return nd_fileops_remove(&s_store, path, recursive,
                             removed != NULL ? removed : &dummy);
}

START_TEST(test_mkdir)
{
    uint64_t n = 99;

    pick_mode(_i);
    ck_assert_int_eq(do_mkdir("new", false, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(kind("new"), 'd');
    ck_assert_int_eq(do_mkdir("new/inner", false, NULL), 0);
    ck_assert_int_eq(kind("new/inner"), 'd');
    /* Name clashes, whatever has the name. */
    ck_assert_int_eq(do_mkdir("new", false, &n), -EEXIST);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(do_mkdir("hello.txt", false, NULL), -EEXIST);
    ck_assert_int_eq(do_mkdir("inside_link", false, NULL), -EEXIST);
    ck_assert_int_eq(kind("inside_link"), 'l');
    /* A missing parent is not created without parents. */
    ck_assert_int_eq(do_mkdir("a/b", false, NULL), -ENOENT);
    ck_assert_int_eq(kind("a"), 0);
    ck_assert_int_eq(do_mkdir("hello.txt/x", false, NULL), -ENOTDIR);
    /* Lexical refusals. */
    ck_assert_int_eq(do_mkdir("", false, NULL), -EINVAL);
    ck_assert_int_eq(do_mkdir("", true, NULL), -EINVAL);
    ck_assert_int_eq(do_mkdir("new/", false, NULL), -EINVAL);
    ck_assert_int_eq(do_mkdir("../x", true, NULL), -EACCES);
    ck_assert_int_eq(do_mkdir("/tmp/x", true, NULL), -EACCES);
    ck_assert_int_eq(do_mkdir(".netdisk-x", false, NULL), -EACCES);
    ck_assert_int_eq(do_mkdir("new/.netdisk-x", true, NULL), -EACCES);
    ck_assert_int_eq(kind(".netdisk-x"), 0);
}
END_TEST

START_TEST(test_mkdir_parents)
{
    uint64_t n = 99;

    pick_mode(_i);
    ck_assert_int_eq(do_mkdir("a/b/c", true, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(kind("a/b/c"), 'd');
    /* An existing directory is success, and nothing is made. */
    ck_assert_int_eq(do_mkdir("a/b/c", true, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(do_mkdir("sub", true, &n), 0);
    ck_assert_int_eq(do_mkdir("a/b/d", true, &n), 0);
    ck_assert_uint_eq(n, 1);
    /* A file at the end is a clash; a file on the way is not a directory. */
    ck_assert_int_eq(do_mkdir("hello.txt", true, NULL), -EEXIST);
    ck_assert_int_eq(do_mkdir("hello.txt/x/y", true, NULL), -ENOTDIR);
    ck_assert_int_eq(kind("hello.txt"), 'f');
}
END_TEST

START_TEST(test_mkdir_escapes)
{
    int esc = escape_err(_i);
    uint64_t n = 99;

    pick_mode(_i);
    ck_assert_int_eq(do_mkdir("escape_abs/new", false, NULL), esc);
    ck_assert_int_eq(do_mkdir("escape_rel/new", false, NULL), esc);
    ck_assert_int_eq(do_mkdir("escape_abs/new", true, &n), esc);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(do_mkdir("escape_rel/a/b", true, NULL), esc);
    /* The link itself at the end: its name is taken (or, with parents,
     * resolving it leads out). */
    ck_assert_int_eq(do_mkdir("escape_abs", false, NULL), -EEXIST);
    ck_assert_int_eq(do_mkdir("escape_abs", true, NULL), esc);
    assert_canary_untouched();
    /* A link that stays inside: followed by openat2, refused by the walk. */
    if (_i == 0) {
        ck_assert_int_eq(do_mkdir("inside_dir/new", false, NULL), 0);
        ck_assert_int_eq(kind("sub/new"), 'd');
        ck_assert_int_eq(do_mkdir("inside_dir/p/q", true, NULL), 0);
        ck_assert_int_eq(kind("sub/p/q"), 'd');
    } else {
        ck_assert_int_eq(do_mkdir("inside_dir/new", false, NULL), -ELOOP);
        ck_assert_int_eq(do_mkdir("inside_dir/p/q", true, NULL), -ELOOP);
        ck_assert_int_eq(kind("sub/new"), 0);
    }
}
END_TEST

START_TEST(test_remove_simple)
{
    uint64_t n = 99;

    pick_mode(_i);
    ck_assert_int_eq(do_remove("hello.txt", false, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(kind("hello.txt"), 0);
    ck_assert_int_eq(do_remove("hello.txt", false, &n), -ENOENT);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(do_remove("nope/x", false, NULL), -ENOENT);
    /* An empty directory goes without recursive; a full one does not. */
    ck_assert_int_eq(do_remove("empty", false, NULL), 0);
    ck_assert_int_eq(kind("empty"), 0);
    ck_assert_int_eq(do_remove("sub", false, NULL), -ENOTEMPTY);
    ck_assert_int_eq(kind("sub/inner.txt"), 'f');
    ck_assert_int_eq(do_remove("sub/inner.txt/x", false, NULL), -ENOTDIR);
    /* The user's root and lexical refusals. */
    ck_assert_int_eq(do_remove("", true, NULL), -EINVAL);
    ck_assert_int_eq(do_remove("sub/", true, NULL), -EINVAL);
    ck_assert_int_eq(do_remove("..", true, NULL), -EACCES);
    ck_assert_int_eq(do_remove("../outside/secret", false, NULL), -EACCES);
    ck_assert_int_eq(do_remove(s_out, true, NULL), -EACCES);
    write_file(".netdisk-tmp", "x");
    ck_assert_int_eq(do_remove(".netdisk-tmp", false, NULL), -EACCES);
    ck_assert_int_eq(kind(".netdisk-tmp"), 'f');
    ck_assert_int_eq(kind("sub"), 'd');
    assert_canary_untouched();
}
END_TEST

START_TEST(test_remove_links)
{
    int esc = escape_err(_i);

    pick_mode(_i);
    /* Removing a link removes the link, never what it points to. */
    ck_assert_int_eq(do_remove("secret_link", false, NULL), 0);
    ck_assert_int_eq(kind("secret_link"), 0);
    ck_assert_int_eq(do_remove("escape_abs", true, NULL), 0);
    ck_assert_int_eq(kind("escape_abs"), 0);
    ck_assert_int_eq(do_remove("inside_dir", true, NULL), 0);
    ck_assert_int_eq(kind("inside_dir"), 0);
    ck_assert_int_eq(kind("sub/inner.txt"), 'f');
    ck_assert_int_eq(do_remove("inside_link", false, NULL), 0);
    ck_assert_int_eq(kind("hello.txt"), 'f');
    /* Through a link that leads out: refused. */
    ck_assert_int_eq(do_remove("escape_rel/secret", false, NULL), esc);
    ck_assert_int_eq(do_remove("escape_rel/secret", true, NULL), esc);
    assert_canary_untouched();
}
END_TEST

START_TEST(test_remove_tree)
{
    uint64_t n = 0;

    pick_mode(_i);
    /* sub: inner.txt, d1/{f1, d2/{f2, out -> outside, .netdisk-up}},
     * e/ (empty), l -> ../hello.txt */
    make_dir("sub/d1");
    write_file("sub/d1/f1", "1");
    make_dir("sub/d1/d2");
    write_file("sub/d1/d2/f2", "2");
    make_link(s_out, "sub/d1/d2/out");
    write_file("sub/d1/d2/.netdisk-up", "partial upload");
    make_dir("sub/e");
    make_link("../hello.txt", "sub/l");
    ck_assert_int_eq(do_remove("sub", true, &n), 0);
    /* 10 names: inner.txt d1 f1 d2 f2 out .netdisk-up e l sub */
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq(kind("sub"), 0);
    ck_assert_int_eq(kind("hello.txt"), 'f');
    assert_canary_untouched();
    /* A file and an empty directory need no recursion, but take it. */
    ck_assert_int_eq(do_remove("empty", true, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(do_remove("hello.txt", true, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(do_remove("missing", true, NULL), -ENOENT);
}
END_TEST

/* Adds a file "f" and a directory "e" holding a file "g" to the directory
 * fd. */
static void
add_level_files(int fd)
{
    int sub, f;

    f = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(f, 0);
    close(f);
    ck_assert_int_eq(mkdirat(fd, "e", 0755), 0);
    sub = openat(fd, "e", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(sub, 0);
    f = openat(sub, "g", O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(f, 0);
    close(f);
    close(sub);
}

/* A chain of n directories "d" below rel; unless bare, every level also
 * gets add_level_files(): 4 names per level. */
static void
make_chain(const char *rel, int n, bool bare)
{
    char p[512];
    int fd, next;

    snprintf(p, sizeof(p), "%s/%s", s_root, rel);
    fd = open(p, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
        if (!bare)
            add_level_files(fd);
        next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        ck_assert_int_ge(next, 0);
        close(fd);
        fd = next;
    }
    close(fd);
}

/* Deeper than the window of open fds: levels are opened again by name. */
START_TEST(test_remove_deep_tree)
{
    uint64_t n = 0;

    pick_mode(_i);
    make_dir("deep");
    make_chain("deep", 300, false);
    ck_assert_int_eq(do_remove("deep", false, NULL), -ENOTEMPTY);
    ck_assert_int_eq(do_remove("deep", true, &n), 0);
    ck_assert_uint_eq(n, 300 * 4 + 1);
    ck_assert_int_eq(kind("deep"), 0);
    ck_assert_int_eq(kind("sub/inner.txt"), 'f');
    assert_canary_untouched();
}
END_TEST

/*
 * A tree that needs the walk to descend more than ND_RMTREE_DEPTH_MAX levels
 * below the named directory is refused part way.  In a bare chain of n the
 * walk descends n - 1 levels: the last "d" is empty and removed from above.
 */
START_TEST(test_remove_too_deep)
{
    uint64_t n = 0;

    make_dir("deep");
    make_chain("deep", ND_RMTREE_DEPTH_MAX + 2, true);
    ck_assert_int_eq(do_remove("deep", true, &n), -ND_ETOODEEP);
    ck_assert_int_eq(kind("deep"), 'd');
    /* One level less is fine. */
    make_dir("deep2");
    make_chain("deep2", ND_RMTREE_DEPTH_MAX + 1, true);
    ck_assert_int_eq(do_remove("deep2", true, &n), 0);
    ck_assert_uint_eq(n, ND_RMTREE_DEPTH_MAX + 2);
    ck_assert_int_eq(kind("deep2"), 0);
}
END_TEST

START_TEST(test_rename)
{
    pick_mode(_i);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "hello.txt", "moved.txt"), 0);
    ck_assert_int_eq(kind("hello.txt"), 0);
    ck_assert_int_eq(kind("moved.txt"), 'f');
    /* A directory, into another directory. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "sub", "empty/sub2"), 0);
    ck_assert_int_eq(kind("empty/sub2/inner.txt"), 'f');
    /* Onto an existing name: refused, both left as they were. */
    write_file("other.txt", "other\n");
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", "other.txt"),
                     -EEXIST);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", "empty"),
                     -EEXIST);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", "moved.txt"),
                     -EEXIST);
    ck_assert_int_eq(kind("moved.txt"), 'f');
    ck_assert_int_eq(kind("other.txt"), 'f');
    /* Missing source, missing target parent. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "nope", "x"), -ENOENT);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", "no/x"), -ENOENT);
    ck_assert_int_eq(kind("moved.txt"), 'f');
    /* A directory into itself. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "empty", "empty/sub2/x"),
                     -EINVAL);
    /* A link is renamed as itself. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "secret_link", "sl"), 0);
    ck_assert_int_eq(kind("sl"), 'l');
    /* Lexical refusals at either end. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "", "x"), -EINVAL);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", ""), -EINVAL);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", "../x"), -EACCES);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "../outside/secret", "x"),
                     -EACCES);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "moved.txt", ".netdisk-x"),
                     -EACCES);
    write_file(".netdisk-tmp", "x");
    ck_assert_int_eq(nd_fileops_rename(&s_store, ".netdisk-tmp", "y"), -EACCES);
    ck_assert_int_eq(kind(".netdisk-tmp"), 'f');
    ck_assert_int_eq(kind("moved.txt"), 'f');
    assert_canary_untouched();
}
END_TEST

START_TEST(test_rename_escapes)
{
    int esc = escape_err(_i);

    pick_mode(_i);
    /* Out of the root through a link, and in from outside. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "hello.txt", "escape_abs/x"),
                     esc);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "hello.txt", "escape_rel/x"),
                     esc);
    ck_assert_int_eq(nd_fileops_rename(&s_store, "escape_rel/secret", "stolen"),
                     esc);
    ck_assert_int_eq(
        nd_fileops_rename(&s_store, "escape_abs/secret", "escape_rel/x"), esc);
    ck_assert_int_eq(kind("hello.txt"), 'f');
    ck_assert_int_eq(kind("stolen"), 0);
    /* Renaming the escaping link itself moves the link, inside. */
    ck_assert_int_eq(nd_fileops_rename(&s_store, "escape_abs", "sub/esc"), 0);
    ck_assert_int_eq(kind("sub/esc"), 'l');
    assert_canary_untouched();
}
END_TEST

static Suite *
fileops_suite(void)
{
    Suite *s = suite_create("nd_fileops");
    TCase *fs = tcase_create("filesystem");

    tcase_add_checked_fixture(fs, setup, teardown);
    tcase_set_timeout(fs, 120);
    tcase_add_loop_test(fs, test_mkdir, 0, 2);
    tcase_add_loop_test(fs, test_mkdir_parents, 0, 2);
    tcase_add_loop_test(fs, test_mkdir_escapes, 0, 2);
    tcase_add_loop_test(fs, test_remove_simple, 0, 2);
    tcase_add_loop_test(fs, test_remove_links, 0, 2);
    tcase_add_loop_test(fs, test_remove_tree, 0, 2);
    tcase_add_loop_test(fs, test_remove_deep_tree, 0, 2);
    tcase_add_test(fs, test_remove_too_deep);
    tcase_add_loop_test(fs, test_rename, 0, 2);
    tcase_add_loop_test(fs, test_rename_escapes, 0, 2);
    suite_add_tcase(s, fs);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(fileops_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
