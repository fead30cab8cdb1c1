/*
 * nd_sweep: the pool process's sweeper thread, which removes the partial
 * files of interrupted uploads (nd_partial) once no one has written them
 * for partial_ttl seconds.  It runs once at start and then every
 * partial_ttl / 4 seconds (at least 1 s, at most an hour), and logs what
 * it removed.
 *
 * Start and stop it from the pool process's main thread; the thread
 * inherits that thread's blocked signals.
 */
#ifndef ND_SWEEP_H
#define ND_SWEEP_H

#include <pthread.h>
#include <stdbool.h>

#include "nd_store.h"

struct nd_sweep {
    const struct nd_store *base; /* the storage root, not owned */
    int ttl;                     /* seconds */
    bool running;                /* a thread was started */
    bool stop;                   /* under mu: the thread should end */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
};

/*
 * Starts the sweeper over base with partial_ttl ttl.  A ttl of 0 keeps no
 * partials: those there are swept once, now, and no thread is started.  Returns
 * 0 or -errno; on failure there is nothing to stop.  base must outlive
 * nd_sweep_stop().
 */
int nd_sweep_start(struct nd_sweep *sw, const struct nd_store *base, int ttl);

/* Wakes the sweeper, waits for it to end and releases sw.  Safe when
 * nothing was started. */
void nd_sweep_stop(struct nd_sweep *sw);

#endif
