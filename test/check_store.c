/*
 * Unit tests for nd_store: lexical path checks, confinement against planted
 * symlinks, atomic upload commit and abort, listing and the start-up sweep.
 * Every resolving test runs twice (loop index 0: openat2, 1: the O_NOFOLLOW
 * walk), and a canary directory beside the root proves nothing escaped.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_store.h"

static char s_base[64];   /* mkdtemp: holds root/ and outside/ */
static char s_root[128];  /* the storage root */
static char s_out[128];   /* a canary directory beside it */
static struct nd_store s_store;

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int
exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

static void
setup(void)
{
    char p[512];

    snprintf(s_base, sizeof(s_base), "/tmp/nd_check_store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_base));
    snprintf(s_root, sizeof(s_root), "%s/root", s_base);
    snprintf(s_out, sizeof(s_out), "%s/outside", s_base);
    ck_assert_int_eq(mkdir(s_root, 0755), 0);
    ck_assert_int_eq(mkdir(s_out, 0755), 0);
    snprintf(p, sizeof(p), "%s/secret", s_out);
    write_file(p, "secret\n");
    snprintf(p, sizeof(p), "%s/hello.txt", s_root);
    write_file(p, "hello\n");
    snprintf(p, sizeof(p), "%s/sub", s_root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sub/inner.txt", s_root);
    write_file(p, "inner\n");
    /* Planted links: two escapes and one that stays inside. */
    snprintf(p, sizeof(p), "%s/escape_abs", s_root);
    ck_assert_int_eq(symlink(s_out, p), 0);
    snprintf(p, sizeof(p), "%s/escape_rel", s_root);
    ck_assert_int_eq(symlink("../outside", p), 0);
    snprintf(p, sizeof(p), "%s/secret_link", s_root);
    ck_assert_int_eq(symlink("../outside/secret", p), 0);
    snprintf(p, sizeof(p), "%s/inside_link", s_root);
    ck_assert_int_eq(symlink("hello.txt", p), 0);
    snprintf(p, sizeof(p), "%s/fifo", s_root);
    ck_assert_int_eq(mkfifo(p, 0644), 0);
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

/* Only the secret file and nothing new may be in the canary directory. */
static void
assert_canary_untouched(void)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s')\" = secret", s_out);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_check_path_table)
{
    static const struct {
        const char *path;
        int allow_root;
        int want;
    } cases[] = {
        {"a.txt", 0, 0},
        {"dir/a.txt", 0, 0},
        {"h\xc3\xa9llo w\xc3\xb6rld.txt", 0, 0},
        {"", 0, -EINVAL},
        {"", 1, 0},
        {"dir/", 1, 0},
        {"dir/", 0, -EINVAL},
        {"/etc/passwd", 0, -EACCES},
        {"/", 1, -EACCES},
        {"..", 0, -EACCES},
        {"../x", 0, -EACCES},
        {"a/../../x", 0, -EACCES},
        {"a/..", 0, -EACCES},
        {".", 1, -EACCES},
        {"./x", 0, -EACCES},
        {"a//b", 0, -EINVAL},
        {"a/b//", 1, -EINVAL},
        {".netdisk-0123", 0, -EACCES},
        {"d/.netdisk-x", 0, -EACCES},
        {".netdisk", 0, 0},
        {"..hidden", 0, 0},
        {"...", 0, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(nd_store_check_path(cases[i].path,
                                          cases[i].allow_root) ==
                          cases[i].want,
                      "path \"%s\": got %d, want %d", cases[i].path,
                      nd_store_check_path(cases[i].path, cases[i].allow_root),
                      cases[i].want);
}
END_TEST

START_TEST(test_check_path_lengths)
{
    char comp[ND_NAME_MAX + 2], path[ND_PATH_MAX + 2];

    memset(comp, 'c', ND_NAME_MAX);
    comp[ND_NAME_MAX] = '\0';
    ck_assert_int_eq(nd_store_check_path(comp, false), 0);
    comp[ND_NAME_MAX] = 'c';
    comp[ND_NAME_MAX + 1] = '\0';
    ck_assert_int_eq(nd_store_check_path(comp, false), -ENAMETOOLONG);
    /* 4095 bytes of "a/a/a/..." is allowed; 4096 is not. */
    for (int i = 0; i < ND_PATH_MAX; i++)
        path[i] = (i % 2 == 0) ? 'a' : '/';
    path[ND_PATH_MAX] = '\0';
    ck_assert_int_eq(nd_store_check_path(path, false), 0);
    path[ND_PATH_MAX] = 'a';
    path[ND_PATH_MAX + 1] = '\0';
    ck_assert_int_eq(nd_store_check_path(path, false), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_open_read)
{
    struct stat st;
    char buf[16] = "";
    int fd;

    pick_mode(_i);
    ck_assert_int_eq(nd_store_open_read(&s_store, "hello.txt", &fd, &st), 0);
    ck_assert_int_eq(st.st_size, 6);
    ck_assert_int_eq(read(fd, buf, sizeof(buf)), 6);
    ck_assert_str_eq(buf, "hello\n");
    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    ck_assert_int_eq(nd_store_open_read(&s_store, "sub/inner.txt", &fd, &st),
                     0);
    close(fd);
    ck_assert_int_eq(nd_store_open_read(&s_store, "nope", &fd, &st), -ENOENT);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(nd_store_open_read(&s_store, "sub", &fd, &st), -EISDIR);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(nd_store_open_read(&s_store, "fifo", &fd, &st),
                     -ND_ENOTREG);
    ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_symlink_escapes_refused)
{
    static const char *const paths[] = {
        "escape_abs/secret", "escape_rel/secret", "secret_link",
        "escape_abs", "escape_rel",
    };
    struct stat st;
    int fd;

    pick_mode(_i);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int rc = nd_store_open_read(&s_store, paths[i], &fd, &st);
        ck_assert_msg(rc < 0 && rc != -ENOENT, "%s: got %d", paths[i], rc);
        ck_assert_int_eq(fd, -1);
    }
}
END_TEST

START_TEST(test_inside_link)
{
    struct stat st;
    int fd;
    int rc;

    pick_mode(_i);
    rc = nd_store_open_read(&s_store, "inside_link", &fd, &st);
    if (_i == 0) {
        /* openat2(RESOLVE_BENEATH) follows links that stay inside. */
        ck_assert_int_eq(rc, 0);
        close(fd);
    } else {
        /* The fallback walk refuses every link. */
        ck_assert_int_eq(rc, -ELOOP);
    }
}
END_TEST

static void
upload(const char *path, const char *text, int commit, int want)
{
    struct nd_upload up;
    int rc = nd_store_create_temp(&s_store, path, &up);

    ck_assert_msg(rc == want, "create_temp(%s): got %d want %d", path, rc,
                  want);
    if (rc < 0) {
        ck_assert_int_eq(up.fd, -1);
        ck_assert_int_eq(up.dir_fd, -1);
        return;
    }
    ck_assert_int_eq(write(up.fd, text, strlen(text)), (ssize_t) strlen(text));
    if (commit)
        ck_assert_int_eq(nd_store_commit(&up), 0);
    else
        nd_store_abort(&up);
    ck_assert_int_eq(up.fd, -1);
    ck_assert_int_eq(up.dir_fd, -1);
}

static void
assert_content(const char *rel, const char *text)
{
    char p[512], buf[256] = "";
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", s_root, rel);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(buf, 1, sizeof(buf) - 1, f) + 1, 0);
    fclose(f);
    ck_assert_str_eq(buf, text);
}

/* No ".netdisk-" file may remain anywhere under the root. */
static void
assert_no_temp(void)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd),
             "test -z \"$(find '%s' -name '.netdisk-*' -print -quit)\"",
             s_root);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_upload_commit_and_abort)
{
    pick_mode(_i);
    upload("new.txt", "one\n", 1, 0);
    assert_content("new.txt", "one\n");
    /* Overwrite replaces the whole file. */
    upload("new.txt", "two two\n", 1, 0);
    assert_content("new.txt", "two two\n");
    /* An aborted upload leaves the old content and no temporary file. */
    upload("new.txt", "three\n", 0, 0);
    assert_content("new.txt", "two two\n");
    /* Missing parents are created. */
    upload("a/b/c/deep.txt", "deep\n", 1, 0);
    assert_content("a/b/c/deep.txt", "deep\n");
    /* A directory is never replaced. */
    upload("sub", "x", 1, -EISDIR);
    assert_no_temp();
}
END_TEST

START_TEST(test_upload_escapes_refused)
{
    /* openat2 reports an escape as EXDEV; the walk refuses the link. */
    int esc = _i == 0 ? -EXDEV : -ELOOP;

    pick_mode(_i);
    upload("escape_abs/planted", "x", 1, esc);
    upload("escape_rel/planted", "x", 1, esc);
    upload("escape_abs/new/planted", "x", 1, esc);
    upload("../planted", "x", 1, -EACCES);
    upload("/tmp/planted", "x", 1, -EACCES);
    upload(".netdisk-x", "x", 1, -EACCES);
    /* hello.txt/x: a file used as a directory. */
    upload("hello.txt/x", "x", 1, -ENOTDIR);
    assert_canary_untouched();
    assert_no_temp();
}
END_TEST

START_TEST(test_list)
{
    struct nd_dir d;
    struct nd_entry e;
    int n = 0, saw_hello = 0, saw_sub = 0, rc;
    char p[512];

    pick_mode(_i);
    snprintf(p, sizeof(p), "%s/.netdisk-leftover", s_root);
    write_file(p, "x");
    ck_assert_int_eq(nd_store_dir_open(&s_store, "", &d), 0);
    while ((rc = nd_store_dir_next(&d, &e)) == 1) {
        n++;
        ck_assert(!nd_store_reserved(e.name));
        if (strcmp(e.name, "hello.txt") == 0) {
            saw_hello = 1;
            ck_assert_int_eq(e.type, ND_FT_FILE);
            ck_assert_uint_eq(e.size, 6);
        } else if (strcmp(e.name, "sub") == 0) {
            saw_sub = 1;
            ck_assert_int_eq(e.type, ND_FT_DIR);
        } else if (strcmp(e.name, "escape_abs") == 0) {
            ck_assert_int_eq(e.type, ND_FT_LINK);
        }
    }
    ck_assert_int_eq(rc, 0);
    nd_store_dir_close(&d);
    /* hello.txt sub escape_abs escape_rel secret_link inside_link fifo */
    ck_assert_int_eq(n, 7);
    ck_assert(saw_hello && saw_sub);
    ck_assert_int_eq(nd_store_dir_open(&s_store, "sub/", &d), 0);
    ck_assert_int_eq(nd_store_dir_next(&d, &e), 1);
    ck_assert_str_eq(e.name, "inner.txt");
    ck_assert_int_eq(nd_store_dir_next(&d, &e), 0);
    nd_store_dir_close(&d);
    ck_assert_int_lt(nd_store_dir_open(&s_store, "escape_abs", &d), 0);
    ck_assert_int_lt(nd_store_dir_open(&s_store, "escape_rel/", &d), 0);
    ck_assert_int_eq(nd_store_dir_open(&s_store, "hello.txt", &d), -ENOTDIR);
    ck_assert_int_eq(nd_store_dir_open(&s_store, "missing", &d), -ENOENT);
}
END_TEST

START_TEST(test_sweep)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/.netdisk-a", s_root);
    write_file(p, "x");
    snprintf(p, sizeof(p), "%s/sub/.netdisk-b", s_root);
    write_file(p, "x");
    snprintf(p, sizeof(p), "%s/sub/keep.netdisk-c", s_root);
    write_file(p, "x");
    /* A reserved name outside, reachable only through a link: kept. */
    snprintf(p, sizeof(p), "%s/.netdisk-outside", s_out);
    write_file(p, "x");
    ck_assert_int_eq(nd_store_sweep(&s_store), 2);
    ck_assert(!exists(s_root, ".netdisk-a"));
    ck_assert(!exists(s_root, "sub/.netdisk-b"));
    ck_assert(exists(s_root, "sub/keep.netdisk-c"));
    ck_assert(exists(s_out, ".netdisk-outside"));
    ck_assert_int_eq(nd_store_sweep(&s_store), 0);
}
END_TEST

static Suite *
store_suite(void)
{
    Suite *s = suite_create("nd_store");
    TCase *lex = tcase_create("lexical");
    TCase *fs = tcase_create("filesystem");

    tcase_add_test(lex, test_check_path_table);
    tcase_add_test(lex, test_check_path_lengths);
    suite_add_tcase(s, lex);
    tcase_add_checked_fixture(fs, setup, teardown);
    tcase_add_loop_test(fs, test_open_read, 0, 2);
    tcase_add_loop_test(fs, test_symlink_escapes_refused, 0, 2);
    tcase_add_loop_test(fs, test_inside_link, 0, 2);
    tcase_add_loop_test(fs, test_upload_commit_and_abort, 0, 2);
    tcase_add_loop_test(fs, test_upload_escapes_refused, 0, 2);
    tcase_add_loop_test(fs, test_list, 0, 2);
    tcase_add_test(fs, test_sweep);
    suite_add_tcase(s, fs);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
