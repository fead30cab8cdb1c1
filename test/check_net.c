/*
 * check_net: the socket options a daemon's connection needs, set once on
 * the listener and inherited by what it accepts (nd_net_conn_options,
 * nd_net_has_conn_options), on a real loopback listener.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nd_net.h"

/* A loopback listener on a free port; its port in *port. */
static int
listener(int *port)
{
    char bound[ND_ADDR_LEN], err[128];
    const char *colon;
    int lfd = nd_net_listen("127.0.0.1", 0, 16, bound, sizeof(bound), err,
                            sizeof(err));

    ck_assert_msg(lfd >= 0, "listen: %s", err);
    colon = strrchr(bound, ':');
    ck_assert_ptr_nonnull(colon);
    *port = atoi(colon + 1);
    ck_assert_int_gt(*port, 0);
    return lfd;
}

/* Connects to port and returns the connection as the listener accepts it
 * (the client end in *cfd). */
static int
accepted(int lfd, int port, int *cfd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char peer[ND_ADDR_LEN];
    int fd = -1;

    *cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(*cfd, 0);
    ck_assert_int_eq(connect(*cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    /* The listener is non-blocking: the handshake is done when connect()
     * returns on loopback, but allow the accept queue a moment. */
    for (int i = 0; i < 100 && fd < 0; i++) {
        fd = nd_net_accept(lfd, peer, sizeof(peer));
        if (fd == -EAGAIN)
            usleep(10000);
    }
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(strncmp(peer, "127.0.0.1:", 10) == 0, "peer %s", peer);
    return fd;
}

START_TEST(test_options_inherited)
{
    int port, cfd, fd, lfd = listener(&port);

    ck_assert_int_eq(nd_net_conn_options(lfd, 7), 0);
    ck_assert(nd_net_has_conn_options(lfd, 7));
    fd = accepted(lfd, port, &cfd);
    /* What the daemon counts on to skip three calls per connection. */
    ck_assert(nd_net_has_conn_options(fd, 7));
    ck_assert(!nd_net_has_conn_options(fd, 8));
    close(fd);
    close(cfd);
    close(lfd);
}
END_TEST

START_TEST(test_options_absent)
{
    int port, cfd, fd, lfd = listener(&port);

    /* Without options on the listener the check says so, and setting
     * them on the connection itself makes it pass. */
    fd = accepted(lfd, port, &cfd);
    ck_assert(!nd_net_has_conn_options(fd, 7));
    ck_assert_int_eq(nd_net_conn_options(fd, 7), 0);
    ck_assert(nd_net_has_conn_options(fd, 7));
    close(fd);
    close(cfd);
    close(lfd);
}
END_TEST

static Suite *
net_suite(void)
{
    Suite *s = suite_create("nd_net");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_options_inherited);
    tcase_add_test(tc, test_options_absent);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(net_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
