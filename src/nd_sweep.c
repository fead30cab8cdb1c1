/*
 * nd_sweep: a thread that sleeps on a condition variable between sweeps,
 * so that nd_sweep_stop() ends it at once rather than after a sleep.
 */
#include "nd_sweep.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "nd_log.h"
#include "nd_partial.h"

/* The pause between sweeps: a quarter of the ttl keeps a partial at most
 * 1.25 ttl; the bounds keep tiny ttls from spinning and huge ones from
 * never sweeping. */
static int
interval(int ttl)
{
    int s = ttl / 4;

    return s < 1 ? 1 : s > 3600 ? 3600 : s;
}

static void
sweep_once(const struct nd_sweep *sw)
{
    /* "Older than now + 1" is every partial no PUT holds. */
    long n = nd_partial_sweep(sw->base, time(NULL) - sw->ttl + (sw->ttl == 0));

    if (n > 0)
        nd_log(ND_LOG_INFO,
               "sweep: removed %ld partial upload%s older than "
               "partial_ttl (%d s)",
               n, n == 1 ? "" : "s", sw->ttl);
    else if (n < 0)
        nd_log(ND_LOG_WARN, "sweep: cannot read the storage root: %s",
               strerror((int)-n));
}

static void *
sweeper(void *arg)
{
    struct nd_sweep *sw = arg;

    pthread_mutex_lock(&sw->mu);
    while (!sw->stop) {
        struct timespec until;

        pthread_mutex_unlock(&sw->mu);
        sweep_once(sw);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval(sw->ttl);
        pthread_mutex_lock(&sw->mu);
        while (!sw->stop &&
               pthread_cond_timedwait(&sw->cv, &sw->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&sw->mu);
    return NULL;
}

int
nd_sweep_start(struct nd_sweep *sw, const struct nd_store *base, int ttl)
{
    pthread_condattr_t ca;
    int rc;

    memset(sw, 0, sizeof(*sw));
    sw->base = base;
    sw->ttl = ttl;
    /* partial_ttl = 0 keeps nothing: partials left by an earlier
     * configuration go now, and no thread is needed afterwards. */
    if (ttl <= 0) {
        sweep_once(sw);
        return 0;
    }
    pthread_mutex_init(&sw->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sw->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&sw->thread, NULL, sweeper, sw);
    if (rc != 0) {
        pthread_cond_destroy(&sw->cv);
        pthread_mutex_destroy(&sw->mu);
        return -rc;
    }
    sw->running = true;
    return 0;
}

void
nd_sweep_stop(struct nd_sweep *sw)
{
    if (!sw->running)
        return;
    pthread_mutex_lock(&sw->mu);
    sw->stop = true;
    pthread_cond_signal(&sw->cv);
    pthread_mutex_unlock(&sw->mu);
    pthread_join(sw->thread, NULL);
    pthread_cond_destroy(&sw->cv);
    pthread_mutex_destroy(&sw->mu);
    sw->running = false;
}
