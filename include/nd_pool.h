/*
 * nd_pool: the fixed set of worker threads.
 *
 * Each worker pops an item from the queue and passes it to run(), with a
 * per-worker scratch pointer that thread_init() made for it at start, until
 * the queue is closed and empty.  Workers inherit the creating thread's signal mask;
 * the pool process blocks every signal before it starts them, so no worker
 * ever runs a signal handler.  Start and join are called from one thread.
 */
#ifndef ND_POOL_H
#define ND_POOL_H

#include <pthread.h>

#include "nd_queue.h"

struct nd_pool_worker;

struct nd_pool_ops {
    /* Makes one worker's scratch state; NULL means failure.  Called by
     * nd_pool_start() on the starting thread. */
    void *(*thread_init)(void *arg);
    /* Handles one item; the worker owns item until run() hands it on. */
    void (*run)(void *item, void *arg, void *scratch);
    /* Releases a worker's scratch state once the worker was joined. */
    void (*thread_fini)(void *scratch);
};

struct nd_pool {
    struct nd_queue *queue; /* borrowed */
    const struct nd_pool_ops *ops;
    void *arg;
    pthread_t *threads;
    struct nd_pool_worker *workers; /* private to nd_pool.c */
    int n;
};

/*
 * Starts n workers on queue.  Returns 0 or -errno (-ENOMEM when a worker's
 * scratch cannot be made); on failure no thread is left running (those
 * already started are stopped by closing the queue and joined).
 */
int nd_pool_start(struct nd_pool *p, int n, struct nd_queue *queue,
                  const struct nd_pool_ops *ops, void *arg);

/* Waits for every worker to return (close the queue first) and frees the
 * pool's memory. */
void nd_pool_join(struct nd_pool *p);

#endif
