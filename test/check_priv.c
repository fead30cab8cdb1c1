/*
 * Unit tests for nd_priv: the plan for every combination of euid, user,
 * group and allow_root, and, when the tests run as root, a real drop to
 * "nobody" in a child process of its own.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nd_priv.h"

/* Names no system has. */
#define NO_USER "nd-no-such-user-x9"
#define NO_GROUP "nd-no-such-group-x9"

/* An euid that is neither root nor nobody. */
#define OTHER_UID ((uid_t) 4242)

static struct nd_priv s_p;
static char s_err[ND_PRIV_ERR_LEN];
static char s_warn[ND_PRIV_ERR_LEN];

/* Runs nd_priv_plan() into the statics above. */
static int
plan(const char *user, const char *group, bool allow_root, uid_t euid)
{
    return nd_priv_plan(user, group, allow_root, euid, &s_p, s_err,
                        sizeof(s_err), s_warn, sizeof(s_warn));
}

/* nobody's uid and primary group, as the system defines them. */
static void
nobody(uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam("nobody");

    ck_assert_msg(pw != NULL, "this system has no user \"nobody\"");
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
}

START_TEST(test_root_without_user_refused)
{
    ck_assert_int_eq(plan("", "", false, 0), -EPERM);
    ck_assert_msg(strstr(s_err, "allow_root = true") != NULL, "%s", s_err);
    ck_assert_msg(strstr(s_err, "user = ") != NULL, "%s", s_err);
    ck_assert(!s_p.drop);
    /* NULL is "unset" as well. */
    ck_assert_int_eq(plan(NULL, NULL, false, 0), -EPERM);
}
END_TEST

START_TEST(test_root_allowed)
{
    ck_assert_int_eq(plan("", "", true, 0), 0);
    ck_assert(!s_p.drop);
    ck_assert_str_eq(s_err, "");
    ck_assert_msg(strstr(s_warn, "serving as root (allow_root = true)") !=
                      NULL, "%s", s_warn);
}
END_TEST

START_TEST(test_root_drops_to_nobody)
{
    uid_t uid;
    gid_t gid;

    nobody(&uid, &gid);
    /* allow_root does not stop a drop when a user is named. */
    for (int allow = 0; allow <= 1; allow++) {
        ck_assert_int_eq(plan("nobody", "", allow, 0), 0);
        ck_assert(s_p.drop);
        ck_assert_uint_eq(s_p.uid, uid);
        ck_assert_uint_eq(s_p.gid, gid);
        ck_assert_str_eq(s_p.user, "nobody");
        ck_assert_str_eq(s_warn, "");
        ck_assert_str_eq(s_err, "");
    }
}
END_TEST

START_TEST(test_root_drops_with_group)
{
    struct group *gr = getgrgid(0);
    uid_t uid;
    gid_t gid;
    char name[64];

    /* Group 0 exists everywhere; its name varies ("root", "wheel"). */
    ck_assert_ptr_nonnull(gr);
    snprintf(name, sizeof(name), "%s", gr->gr_name);
    nobody(&uid, &gid);
    /* Group 0 is root's: refused unless allow_root says so. */
    ck_assert_int_eq(plan("nobody", name, false, 0), -EPERM);
    ck_assert_msg(strstr(s_err, "group 0") != NULL, "%s", s_err);
    ck_assert_int_eq(plan("nobody", name, true, 0), 0);
    ck_assert(s_p.drop);
    ck_assert_uint_eq(s_p.uid, uid);
    ck_assert_uint_eq(s_p.gid, 0);
}
END_TEST

START_TEST(test_root_user_is_root)
{
    ck_assert_int_eq(plan("root", "", false, 0), -EPERM);
    ck_assert_msg(strstr(s_err, "allow_root") != NULL, "%s", s_err);
    ck_assert_int_eq(plan("root", "", true, 0), 0);
    ck_assert(!s_p.drop);
    ck_assert_msg(strstr(s_warn, "allow_root") != NULL, "%s", s_warn);
}
END_TEST

START_TEST(test_unknown_user)
{
    /* As root a typo is an error (-t catches it there); as anyone else the
     * key changes nothing, so a missing account is only a warning. */
    ck_assert_int_eq(plan(NO_USER, "", true, 0), -ENOENT);
    ck_assert_msg(strstr(s_err, "\"" NO_USER "\"") != NULL, "%s", s_err);
    ck_assert_msg(strstr(s_err, "'user'") != NULL, "%s", s_err);
    ck_assert(!s_p.drop);
    ck_assert_int_eq(plan(NO_USER, "", false, OTHER_UID), 0);
    ck_assert_msg(strstr(s_warn, NO_USER) != NULL, "%s", s_warn);
    ck_assert(!s_p.drop);
}
END_TEST

START_TEST(test_unknown_group)
{
    const uid_t euids[] = {0, OTHER_UID};

    for (size_t i = 0; i < sizeof(euids) / sizeof(euids[0]); i++) {
        ck_assert_int_eq(plan("nobody", NO_GROUP, false, euids[i]), -ENOENT);
        ck_assert_msg(strstr(s_err, "\"" NO_GROUP "\"") != NULL, "%s",
                      s_err);
        ck_assert_msg(strstr(s_err, "'group'") != NULL, "%s", s_err);
        ck_assert(!s_p.drop);
    }
}
END_TEST

START_TEST(test_group_without_user)
{
    const uid_t euids[] = {0, OTHER_UID};

    for (size_t i = 0; i < sizeof(euids) / sizeof(euids[0]); i++) {
        ck_assert_int_eq(plan("", "nogroup", true, euids[i]), -EINVAL);
        ck_assert_msg(strstr(s_err, "user") != NULL, "%s", s_err);
        ck_assert_msg(strstr(s_err, "nogroup") != NULL, "%s", s_err);
    }
}
END_TEST

START_TEST(test_not_root_other_user)
{
    ck_assert_int_eq(plan("nobody", "", false, OTHER_UID), 0);
    ck_assert(!s_p.drop);
    ck_assert_str_eq(s_warn, "user = nobody ignored: not started as root");
    ck_assert_str_eq(s_err, "");
}
END_TEST

START_TEST(test_not_root_same_user)
{
    uid_t uid;
    gid_t gid;

    nobody(&uid, &gid);
    ck_assert_int_eq(plan("nobody", "", false, uid), 0);
    ck_assert(!s_p.drop);
    ck_assert_str_eq(s_warn, "");
}
END_TEST

START_TEST(test_not_root_no_user)
{
    ck_assert_int_eq(plan("", "", false, OTHER_UID), 0);
    ck_assert(!s_p.drop);
    ck_assert_str_eq(s_warn, "");
    ck_assert_str_eq(s_err, "");
}
END_TEST

START_TEST(test_drop_nothing_to_do)
{
    struct nd_priv p = {.drop = false};
    uid_t before = geteuid();

    ck_assert_int_eq(nd_priv_drop(&p, s_err, sizeof(s_err)), 0);
    ck_assert_uint_eq(geteuid(), before);
    /* A plan never asks to drop to root; the drop refuses it anyway. */
    p.drop = true;
    ck_assert_int_eq(nd_priv_drop(&p, s_err, sizeof(s_err)), -EINVAL);
    ck_assert_uint_eq(geteuid(), before);
}
END_TEST

/* A child's failed check: print why and exit non-zero. */
#define CHILD_CHECK(cond, ...)                                                 \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "child: %s: ", #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            _exit(1);                                                          \
        }                                                                      \
    } while (0)

/*
 * Runs in a child of its own (so the test runner keeps root even with
 * CK_FORK=no): drops to nobody and checks the result from the outside of
 * nd_priv, then checks nd_priv_check_writable() on a directory nobody may
 * write to and one it may not.
 */
static void
drop_child(const char *base)
{
    struct nd_priv p;
    uid_t ru, eu, su, uid;
    gid_t rg, eg, sg, gid, groups[4];
    char err[ND_PRIV_ERR_LEN], warn[ND_PRIV_ERR_LEN], path[4096];
    int n, wfd, rfd, rc;

    nobody(&uid, &gid);
    snprintf(path, sizeof(path), "%s/w", base);
    wfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/r", base);
    rfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK(wfd >= 0 && rfd >= 0, "open: %s", strerror(errno));

    rc = nd_priv_plan("nobody", "", false, geteuid(), &p, err, sizeof(err),
                      warn, sizeof(warn));
    CHILD_CHECK(rc == 0 && p.drop, "plan: %d %s", rc, err);
    rc = nd_priv_drop(&p, err, sizeof(err));
    CHILD_CHECK(rc == 0, "drop: %d %s", rc, err);

    CHILD_CHECK(getresuid(&ru, &eu, &su) == 0, "%s", strerror(errno));
    CHILD_CHECK(ru == uid && eu == uid && su == uid, "uids %u/%u/%u",
                (unsigned) ru, (unsigned) eu, (unsigned) su);
    CHILD_CHECK(getresgid(&rg, &eg, &sg) == 0, "%s", strerror(errno));
    CHILD_CHECK(rg == gid && eg == gid && sg == gid, "gids %u/%u/%u",
                (unsigned) rg, (unsigned) eg, (unsigned) sg);
    n = getgroups(4, groups);
    CHILD_CHECK(n == 0 || (n == 1 && groups[0] == gid), "%d groups", n);
    CHILD_CHECK(setuid(0) < 0 && errno == EPERM, "setuid(0) worked");
    CHILD_CHECK(setresuid(0, 0, 0) < 0, "setresuid(0, 0, 0) worked");
    CHILD_CHECK(seteuid(0) < 0, "seteuid(0) worked");
    CHILD_CHECK(setgroups(0, NULL) < 0, "setgroups() worked");

    rc = nd_priv_check_writable(wfd);
    CHILD_CHECK(rc == 0, "writable dir: %s", strerror(-rc));
    rc = nd_priv_check_writable(rfd);
    CHILD_CHECK(rc == -EACCES, "root's 0755 dir: %d", rc);
    _exit(0);
}

START_TEST(test_drop_to_nobody)
{
    char base[] = "/tmp/nd-priv.XXXXXX", path[4096];
    int status;
    pid_t pid;

    if (geteuid() != 0) {
        printf("# skipped: test_drop_to_nobody needs root\n");
        return;
    }
    ck_assert_ptr_nonnull(mkdtemp(base));
    /* mkdtemp() makes it 0700: nobody must be able to reach inside. */
    ck_assert_int_eq(chmod(base, 0755), 0);
    snprintf(path, sizeof(path), "%s/w", base);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(chmod(path, 0777), 0);
    snprintf(path, sizeof(path), "%s/r", base);
    ck_assert_int_eq(mkdir(path, 0755), 0);

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        drop_child(base);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);

    snprintf(path, sizeof(path), "%s/w", base);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/r", base);
    rmdir(path);
    rmdir(base);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the child's checks failed (status 0x%x)", status);
    /* The parent is untouched. */
    ck_assert_uint_eq(geteuid(), 0);
}
END_TEST

START_TEST(test_writable_as_caller)
{
    char base[] = "/tmp/nd-priv.XXXXXX";
    int fd;

    ck_assert_ptr_nonnull(mkdtemp(base));
    fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(nd_priv_check_writable(fd), 0);
    close(fd);
    rmdir(base);
}
END_TEST

static Suite *
priv_suite(void)
{
    Suite *s = suite_create("nd_priv");
    TCase *tc = tcase_create("plan");
    TCase *td = tcase_create("drop");

    tcase_add_test(tc, test_root_without_user_refused);
    tcase_add_test(tc, test_root_allowed);
    tcase_add_test(tc, test_root_drops_to_nobody);
    tcase_add_test(tc, test_root_drops_with_group);
    tcase_add_test(tc, test_root_user_is_root);
    tcase_add_test(tc, test_unknown_user);
    tcase_add_test(tc, test_unknown_group);
    tcase_add_test(tc, test_group_without_user);
    tcase_add_test(tc, test_not_root_other_user);
    tcase_add_test(tc, test_not_root_same_user);
    tcase_add_test(tc, test_not_root_no_user);
    suite_add_tcase(s, tc);

    tcase_set_timeout(td, 30);
    tcase_add_test(td, test_drop_nothing_to_do);
    tcase_add_test(td, test_drop_to_nobody);
    tcase_add_test(td, test_writable_as_caller);
    suite_add_tcase(s, td);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(priv_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
