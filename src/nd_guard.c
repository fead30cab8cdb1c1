/*
 * nd_guard: a chained hash table of client addresses under one mutex.
 */
#include "nd_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_io.h"

/* "[" + the longest IPv6 text + "]" and a NUL. */
#define ADDR_MAX 48

struct nd_guard_entry {
    struct nd_guard_entry *next;
    char addr[ADDR_MAX];
    int conns;
    int failures;
    double last_fail;
    double next_try;
    double banned_until;
};

#define NBUCKETS 4096

int
nd_guard_init(struct nd_guard *g, int max_per_ip, int delay_ms, int ban_after,
              int ban_seconds)
{
    memset(g, 0, sizeof(*g));
    g->buckets = calloc(NBUCKETS, sizeof(*g->buckets));
    if (g->buckets == NULL)
        return -ENOMEM;
    g->nbuckets = NBUCKETS;
    g->max_per_ip = max_per_ip;
    g->delay_ms = delay_ms;
    g->ban_after = ban_after;
    g->ban_seconds = ban_seconds;
    pthread_mutex_init(&g->mu, NULL);
    return 0;
}

void
nd_guard_destroy(struct nd_guard *g)
{
    if (g->buckets == NULL)
        return;
    for (size_t i = 0; i < g->nbuckets; i++) {
        struct nd_guard_entry *e = g->buckets[i];

        while (e != NULL) {
            struct nd_guard_entry *next = e->next;

            free(e);
            e = next;
        }
    }
    free(g->buckets);
    g->buckets = NULL;
    pthread_mutex_destroy(&g->mu);
}

void
nd_guard_addr(const char *peer, char *addr, size_t len)
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    const char *colon = strrchr(peer, ':');
    size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN + 2];

    snprintf(addr, len, "%.*s", (int)n, peer);
    if (n < 3 || peer[0] != '[' || n - 2 >= sizeof(text))
        return;
    /* "[v6]": keep the /64 prefix only. */
    memcpy(text, peer + 1, n - 2);
    text[n - 2] = '\0';
    /* Whole addresses where a /64 says nothing about the host: loopback,
     * mapped or translated IPv4 (64:ff9b::/96), and link-local peers, who
     * all share fe80::/64. */
    if (inet_pton(AF_INET6, text, &a6) != 1 || IN6_IS_ADDR_LOOPBACK(&a6) ||
        IN6_IS_ADDR_V4MAPPED(&a6) || IN6_IS_ADDR_LINKLOCAL(&a6) ||
        memcmp(a6.s6_addr, nat64, sizeof(nat64)) == 0)
        return;
    memset(a6.s6_addr + 8, 0, 8);
    if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL)
        snprintf(addr, len, "[%s]/64", text);
}

/* FNV-1a: addresses are short and the table only needs spread. */
static size_t
hash(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h % NBUCKETS;
}

/* An entry that no longer says anything can go. */
static bool
stale(const struct nd_guard_entry *e, double now)
{
    return e->conns == 0 && now >= e->banned_until && now >= e->next_try &&
           (e->failures == 0 || now - e->last_fail > ND_GUARD_FORGET_S);
}

/*
 * Finds addr's entry, creating it when create is set, and drops stale
 * entries met on the way.  Returns NULL when absent (or the table is full).
 * Call with the mutex held.
 */
static struct nd_guard_entry *
find(struct nd_guard *g, const char *addr, bool create, double now)
{
    struct nd_guard_entry **pp = &g->buckets[hash(addr)], *e;

    while ((e = *pp) != NULL) {
        if (strcmp(e->addr, addr) == 0)
            return e;
        if (stale(e, now)) {
            *pp = e->next;
            free(e);
            g->n--;
            continue;
        }
        pp = &e->next;
    }
    if (!create || g->n >= ND_GUARD_MAX)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    *pp = e;
    g->n++;
    return e;
}

/* Removes e if it says nothing any more.  Call with the mutex held. */
static void
maybe_drop(struct nd_guard *g, const char *addr, double now)
{
    struct nd_guard_entry **pp = &g->buckets[hash(addr)], *e;

    for (; (e = *pp) != NULL; pp = &e->next) {
        if (strcmp(e->addr, addr) == 0) {
            if (stale(e, now)) {
                *pp = e->next;
                free(e);
                g->n--;
            }
            return;
        }
    }
}

int
nd_guard_connect(struct nd_guard *g, const char *addr)
{
    struct nd_guard_entry *e;
    int rc = 0;

    pthread_mutex_lock(&g->mu);
    e = find(g, addr, true, nd_io_now());
    if (e == NULL)
        rc = 1;
    else if (e->conns >= g->max_per_ip)
        rc = -EBUSY;
    else
        e->conns++;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void
nd_guard_disconnect(struct nd_guard *g, const char *addr)
{
    struct nd_guard_entry *e;

    pthread_mutex_lock(&g->mu);
    e = find(g, addr, false, nd_io_now());
    if (e != NULL && e->conns > 0)
        e->conns--;
    maybe_drop(g, addr, nd_io_now());
    pthread_mutex_unlock(&g->mu);
}

int
nd_guard_wait(struct nd_guard *g, const char *addr, double now, bool *banned)
{
    struct nd_guard_entry *e;
    double until = 0.0;

    *banned = false;
    pthread_mutex_lock(&g->mu);
    e = find(g, addr, false, now);
    if (e != NULL && e->banned_until > now) {
        until = e->banned_until;
        *banned = true;
    } else if (e != NULL && e->next_try > now) {
        until = e->next_try;
    }
    pthread_mutex_unlock(&g->mu);
    return until > now ? (int)(until - now) + 1 : 0;
}

double
nd_guard_fail(struct nd_guard *g, const char *addr, double now, int *failures,
              int *ban)
{
    struct nd_guard_entry *e;
    double delay = g->delay_ms / 1000.0;
    int n = 1;

    *ban = 0;
    pthread_mutex_lock(&g->mu);
    e = find(g, addr, true, now);
    if (e != NULL) {
        if (now - e->last_fail > ND_GUARD_FORGET_S)
            e->failures = 0;
        n = ++e->failures;
        e->last_fail = now;
        if (g->ban_seconds > 0 && n >= g->ban_after) {
            e->banned_until = now + g->ban_seconds;
            *ban = g->ban_seconds;
            /* The count starts again after the ban: the next failure
             * delays, and ban_after more ban again. */
            e->failures = 0;
        }
    }
    for (int i = 1; i < n && delay < ND_GUARD_DELAY_CAP_S; i++)
        delay *= 2.0;
    if (delay > ND_GUARD_DELAY_CAP_S)
        delay = ND_GUARD_DELAY_CAP_S;
    if (e != NULL)
        e->next_try = now + delay;
    pthread_mutex_unlock(&g->mu);
    *failures = n;
    return delay;
}
