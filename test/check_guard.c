/*
 * Unit tests for nd_guard: the per-address connection limit, the failed
 * login delay that doubles up to its cap, bans that start after
 * login_ban_after failures and end after login_ban_seconds, forgetting old
 * failures, and that one address never affects another.  Times are passed
 * in, so nothing here sleeps.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "nd_guard.h"

/* nd_guard_wait() when only the ban matters. */
static int
ban_left(struct nd_guard *g, const char *addr, double now)
{
    bool banned;
    int left = nd_guard_wait(g, addr, now, &banned);

    ck_assert(left == 0 || banned);
    return left;
}

START_TEST(test_addr_strips_port)
{
    char a[64];

    nd_guard_addr("192.0.2.7:5678", a, sizeof(a));
    ck_assert_str_eq(a, "192.0.2.7");
    /* IPv6 counts by /64: one host usually holds a whole one. */
    nd_guard_addr("[2001:db8:1:2:3:4:5:6]:40000", a, sizeof(a));
    ck_assert_str_eq(a, "[2001:db8:1:2::]/64");
    nd_guard_addr("[::1]:40000", a, sizeof(a));
    ck_assert_str_eq(a, "[::1]");
    nd_guard_addr("[fe80::1:2]:40000", a, sizeof(a));
    ck_assert_str_eq(a, "[fe80::1:2]");
    nd_guard_addr("[64:ff9b::c000:207]:40000", a, sizeof(a));
    ck_assert_str_eq(a, "[64:ff9b::c000:207]");
}
END_TEST

START_TEST(test_max_per_ip)
{
    struct nd_guard g;

    ck_assert_int_eq(nd_guard_init(&g, 2, 0, 5, 60), 0);
    ck_assert_int_eq(nd_guard_connect(&g, "10.0.0.1"), 0);
    ck_assert_int_eq(nd_guard_connect(&g, "10.0.0.1"), 0);
    ck_assert_int_eq(nd_guard_connect(&g, "10.0.0.1"), -EBUSY);
    /* Another address has its own count. */
    ck_assert_int_eq(nd_guard_connect(&g, "10.0.0.2"), 0);
    nd_guard_disconnect(&g, "10.0.0.1");
    ck_assert_int_eq(nd_guard_connect(&g, "10.0.0.1"), 0);
    ck_assert_int_eq(nd_guard_connect(&g, "10.0.0.1"), -EBUSY);
    nd_guard_disconnect(&g, "10.0.0.1");
    nd_guard_disconnect(&g, "10.0.0.1");
    nd_guard_disconnect(&g, "10.0.0.2");
    /* Entries with nothing to say are dropped again. */
    ck_assert_uint_eq(g.n, 0);
    /* A disconnect nobody counted is harmless. */
    nd_guard_disconnect(&g, "10.0.0.9");
    nd_guard_destroy(&g);
}
END_TEST

START_TEST(test_delay_doubles_then_caps)
{
    struct nd_guard g;
    double d, now = 1000.0;
    int n, ban;

    ck_assert_int_eq(nd_guard_init(&g, 8, 500, 1000, 60), 0);
    d = nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ban, 0);
    ck_assert_double_eq_tol(d, 0.5, 1e-9);
    d = nd_guard_fail(&g, "10.0.0.1", now + 1, &n, &ban);
    ck_assert_int_eq(n, 2);
    ck_assert_double_eq_tol(d, 1.0, 1e-9);
    d = nd_guard_fail(&g, "10.0.0.1", now + 2, &n, &ban);
    ck_assert_double_eq_tol(d, 2.0, 1e-9);
    for (int i = 0; i < 20; i++)
        d = nd_guard_fail(&g, "10.0.0.1", now + 3 + i, &n, &ban);
    ck_assert_double_eq_tol(d, ND_GUARD_DELAY_CAP_S, 1e-9);
    /* Another address starts from the beginning. */
    d = nd_guard_fail(&g, "10.0.0.2", now, &n, &ban);
    ck_assert_int_eq(n, 1);
    ck_assert_double_eq_tol(d, 0.5, 1e-9);
    /* Each failure makes the address wait out its delay, on any
     * connection, before the next login counts. */
    {
        bool banned;

        d = nd_guard_fail(&g, "10.0.0.3", now, &n, &ban);
        ck_assert_int_eq(nd_guard_wait(&g, "10.0.0.3", now + 0.1, &banned), 1);
        ck_assert(!banned);
        ck_assert_int_eq(nd_guard_wait(&g, "10.0.0.3", now + d, &banned), 0);
        ck_assert_int_eq(nd_guard_wait(&g, "10.0.0.4", now, &banned), 0);
    }
    nd_guard_destroy(&g);
}
END_TEST

START_TEST(test_ban_starts_and_ends)
{
    struct nd_guard g;
    double now = 5000.0;
    int n, ban;

    ck_assert_int_eq(nd_guard_init(&g, 8, 0, 3, 60), 0);
    ck_assert_int_eq(ban_left(&g, "10.0.0.1", now), 0);
    nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
    nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
    ck_assert_int_eq(ban, 0);
    ck_assert_int_eq(ban_left(&g, "10.0.0.1", now), 0);
    nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ban, 60);
    ck_assert_int_gt(ban_left(&g, "10.0.0.1", now + 1), 0);
    ck_assert_int_le(ban_left(&g, "10.0.0.1", now + 1), 60);
    ck_assert_int_eq(ban_left(&g, "10.0.0.2", now + 1), 0);
    ck_assert_int_eq(ban_left(&g, "10.0.0.1", now + 60.5), 0);
    /* With bans off, failures only delay. */
    nd_guard_destroy(&g);
    ck_assert_int_eq(nd_guard_init(&g, 8, 0, 1, 0), 0);
    for (int i = 0; i < 5; i++) {
        nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
        ck_assert_int_eq(ban, 0);
    }
    ck_assert_int_eq(ban_left(&g, "10.0.0.1", now), 0);
    nd_guard_destroy(&g);
}
END_TEST

START_TEST(test_old_failures_are_forgotten)
{
    struct nd_guard g;
    double now = 100.0;
    int n, ban;

    ck_assert_int_eq(nd_guard_init(&g, 8, 100, 3, 60), 0);
    nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
    nd_guard_fail(&g, "10.0.0.1", now, &n, &ban);
    nd_guard_fail(&g, "10.0.0.1", now + ND_GUARD_FORGET_S + 1, &n, &ban);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ban, 0);
    nd_guard_destroy(&g);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("nd_guard");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_addr_strips_port);
    tcase_add_test(tc, test_max_per_ip);
    tcase_add_test(tc, test_delay_doubles_then_caps);
    tcase_add_test(tc, test_ban_starts_and_ends);
    tcase_add_test(tc, test_old_failures_are_forgotten);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
