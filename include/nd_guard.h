/*
 * nd_guard: what the daemon remembers about each client address: how many
 * connections it holds (for max_per_ip) and how its recent logins failed
 * (for the growing delay and the temporary ban).
 *
 * Addresses are the text of the peer without its port ("192.0.2.7",
 * "[2001:db8::1]").  One mutex guards the table: the reactor counts
 * connections, workers record logins.  An entry lives while its address has
 * a connection open or a failure younger than ND_GUARD_FORGET_S, and the
 * table holds at most ND_GUARD_MAX entries, so a flood of addresses cannot
 * grow it without bound (beyond that, new addresses are not tracked for
 * failures, but still limited by max_connections).  Nothing here logs.
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

/* A connection from addr opens.  Returns 0, or -EBUSY (nothing counted)
 * when addr already holds max_per_ip connections.  Thread-safe. */
int nd_guard_connect(struct nd_guard *g, const char *addr);
/* That connection closed.  Thread-safe. */
void nd_guard_disconnect(struct nd_guard *g, const char *addr);

/* Seconds left of addr's ban (rounded up), or 0 when it is not banned.
 * Thread-safe. */
int nd_guard_banned(struct nd_guard *g, const char *addr, double now);

/*
 * Records a failed login from addr at time now.  Returns the delay in
 * seconds to wait before answering it; *failures gets the count of recent
 * failures, and *ban the length of the ban this failure started (0: none).
 * Thread-safe.
 */
double nd_guard_fail(struct nd_guard *g, const char *addr, double now,
                     int *failures, int *ban);

/* A successful login from addr clears its failures.  Thread-safe. */
void nd_guard_success(struct nd_guard *g, const char *addr);

#endif
