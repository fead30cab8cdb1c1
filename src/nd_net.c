/*
 * nd_net: the socket calls, with CLOEXEC everywhere and errors as -errno.
 */
#include "nd_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

void
nd_net_format(const struct sockaddr *sa, char *out, size_t out_len)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, out_len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, out_len, "%s:%u", ip, ntohs(s4->sin_port));
    } else {
        snprintf(out, out_len, "?");
    }
}

int
nd_net_listen(const char *addr, int port, int backlog, char *bound,
              size_t bound_len, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, rc, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
        ((struct sockaddr_in *) &ss)->sin_family = AF_INET;
        ((struct sockaddr_in *) &ss)->sin_port = htons((uint16_t) port);
        len = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, addr,
                         &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *) &ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *) &ss)->sin6_port = htons((uint16_t) port);
        len = sizeof(struct sockaddr_in6);
    } else {
        snprintf(err, err_len, "'%s' is not a numeric IPv4 or IPv6 address",
                 addr);
        return -EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "socket(): %s", strerror(errno));
        return rc;
    }
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
        rc = -errno;
        snprintf(err, err_len, "bind() to %s port %d: %s", addr, port,
                 strerror(errno));
        goto fail;
    }
    if (listen(fd, backlog) < 0) {
        rc = -errno;
        snprintf(err, err_len, "listen(): %s", strerror(errno));
        goto fail;
    }
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0) {
        rc = -errno;
        snprintf(err, err_len, "getsockname(): %s", strerror(errno));
        goto fail;
    }
    nd_net_format((struct sockaddr *) &ss, bound, bound_len);
    return fd;
fail:
    close(fd);
    return rc;
}

int
nd_net_accept(int lfd, char *peer, size_t peer_len)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd;

    do {
        fd = accept4(lfd, (struct sockaddr *) &ss, &len, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    nd_net_format((struct sockaddr *) &ss, peer, peer_len);
    return fd;
}

int
nd_net_conn_options(int fd, int seconds)
{
    int rc = nd_net_set_nodelay(fd);

    return rc < 0 ? rc : nd_net_set_timeouts(fd, seconds);
}

bool
nd_net_has_conn_options(int fd, int seconds)
{
    struct timeval rcv, snd;
    socklen_t rl = sizeof(rcv), sl = sizeof(snd), nl = sizeof(int);
    int nodelay = 0;

    return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl) == 0 &&
           nodelay != 0 &&
           getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, &rl) == 0 &&
           getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, &sl) == 0 &&
           rcv.tv_sec == seconds && rcv.tv_usec == 0 && snd.tv_sec == seconds &&
           snd.tv_usec == 0;
}

int
nd_net_set_nodelay(int fd)
{
    int one = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0
               ? -errno
               : 0;
}

int
nd_net_set_timeouts(int fd, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};

    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    return 0;
}
