/*
 * nd_net: sockets.  Listening, accepting, timeouts and printable addresses.
 * Errors come back as -errno with a message in the caller's buffer where
 * there is more to say (the redis anet idea); nothing here logs.  Every
 * socket is created CLOEXEC.  Thread-safe.
 */
#ifndef ND_NET_H
#define ND_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Room for "[ipv6]:port" and a NUL. */
#define ND_ADDR_LEN 64

/*
 * Binds a non-blocking TCP listener on the numeric address addr (IPv4 or
 * IPv6) and port (0 lets the kernel choose) with SO_REUSEADDR, and for IPv6
 * IPV6_V6ONLY.  Returns the fd (caller owns it) and writes the bound address
 * as "ip:port" or "[ip]:port" into bound; or returns -errno with err filled.
 */
int nd_net_listen(const char *addr, int port, int backlog, char *bound,
                  size_t bound_len, char *err, size_t err_len);

/*
 * Accepts one connection as a blocking, CLOEXEC socket.  Linux gives it a
 * copy of the listener's socket options, so options every connection
 * needs are best set once on the listener (nd_net_conn_options()); see
 * nd_net_has_conn_options() for making sure.  Returns the fd (caller owns
 * it) and the peer in peer, or -errno (-EAGAIN when none is pending).
 */
int nd_net_accept(int lfd, char *peer, size_t peer_len);

/* What a daemon's connection needs: TCP_NODELAY and SO_RCVTIMEO and
 * SO_SNDTIMEO of seconds, on fd: a connection, or a listener whose
 * connections inherit them.  Returns 0 or -errno. */
int nd_net_conn_options(int fd, int seconds);

/* Whether fd has what nd_net_conn_options(fd, seconds) sets: for checking
 * once that accepted connections do inherit the listener's options. */
bool nd_net_has_conn_options(int fd, int seconds);

/*
 * Turns Nagle's algorithm off (TCP_NODELAY).  Both ends write a request or
 * reply frame in one call, so nothing is gained by holding small segments
 * back, and much is lost: a trailer written right after the last file
 * bytes would wait for the peer's delayed ACK, about 40 ms per file.
 * Returns 0 or -errno.
 */
int nd_net_set_nodelay(int fd);

/* Sets SO_RCVTIMEO and SO_SNDTIMEO to seconds.  Returns 0 or -errno. */
int nd_net_set_timeouts(int fd, int seconds);

/* Formats a socket address as "ip:port" or "[ip]:port". */
void nd_net_format(const struct sockaddr *sa, char *out, size_t out_len);

#endif
