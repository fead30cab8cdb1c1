/*
 * nd_guard: what the daemon remembers about each client address: how many
 * connections it holds (for max_per_ip) and how its recent logins failed
 * (for the growing delay and the temporary ban).
 *
 * Addresses are the text of the peer without its port ("192.0.2.7"), and
 * for IPv6 its /64 prefix ("[2001:db8:1:2::]/64"), since one host is
 * normally given a whole /64 and could otherwise step around the limits.  One
 * mutex guards the table: the reactor counts connections, workers record
 * logins.  An entry lives while its address has a connection open or a failure
 * younger than ND_GUARD_FORGET_S, and the table holds at most ND_GUARD_MAX
 * entries, so a flood of addresses cannot grow it without bound (beyond that,
 * new addresses are not tracked for failures, but still limited by
 * max_connections).  Nothing here logs.
 */
#ifndef ND_GUARD_H
#define ND_GUARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Failures older than this, with none since, are forgotten. */
#define ND_GUARD_FORGET_S 900
#define ND_GUARD_MAX 65536
/* The delay after a failure doubles per failure up to this. */
#define ND_GUARD_DELAY_CAP_S 30.0

struct nd_guard_entry;

struct nd_guard {
    pthread_mutex_t mu;
    struct nd_guard_entry **buckets;
    size_t nbuckets, n;
    int max_per_ip, delay_ms, ban_after, ban_seconds;
};

/* Sets up an empty table.  Returns 0 or -ENOMEM.  ban_seconds 0 turns bans
 * off; delay_ms 0 turns the delay off. */
int nd_guard_init(struct nd_guard *g, int max_per_ip, int delay_ms,
                  int ban_after, int ban_seconds);
void nd_guard_destroy(struct nd_guard *g);

/* Writes peer ("ip:port" or "[ip6]:port") without its port into addr. */
void nd_guard_addr(const char *peer, char *addr, size_t len);

/*
 * A connection from addr opens.  Returns 0 when it was counted, 1 when the
 * table is full and it was not (call nd_guard_disconnect() only after 0),
 * or -EBUSY (nothing counted) when addr already holds max_per_ip
 * connections.  Thread-safe.
 */
int nd_guard_connect(struct nd_guard *g, const char *addr);
/* A connection counted by nd_guard_connect() closed.  Thread-safe. */
void nd_guard_disconnect(struct nd_guard *g, const char *addr);

/*
 * Seconds (rounded up) before a login from addr may be checked, or 0 when
 * it may be now.  A failed login makes its address wait out its delay
 * before the next one counts, whatever connection it comes on, so parallel
 * connections do not multiply the guesses; a ban makes it wait out the
 * ban, and sets *banned.  Thread-safe.
 */
int nd_guard_wait(struct nd_guard *g, const char *addr, double now,
                  bool *banned);

/*
 * Records a failed login from addr at time now.  Returns the delay in
 * seconds to wait before answering it, which is also how long the address
 * must wait before its next login counts; *failures gets the count of
 * recent failures, and *ban the length of the ban this failure started
 * (0: none).  A successful login does not clear the count, so an account
 * of one's own cannot be used to reset it between guesses at another:
 * failures are forgotten only ND_GUARD_FORGET_S after the last one.
 * Thread-safe.
 */
double nd_guard_fail(struct nd_guard *g, const char *addr, double now,
                     int *failures, int *ban);

#endif
