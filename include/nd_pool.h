/*
 * nd_pool: the fixed set of worker threads.
 *
 * Each worker pops an item from the queue and passes it to run(), with a
 * per-thread scratch pointer that thread_init() made for it, until the queue
 * is closed and empty.  Workers inherit the creating thread's signal mask;
 * the pool process blocks every signal before it starts them, so no worker
 * ever runs a signal handler.  Start and join are called from one thread.
 */
#ifndef ND_POOL_H
#define ND_POOL_H

#include <pthread.h>

#include "nd_queue.h"

struct nd_pool_ops {
    /* Makes a thread's scratch state; NULL means failure. */
    void *(*thread_init)(void *arg);
    /* Handles one item; the worker owns item until run() hands it on. */
    void (*run)(void *item, void *arg, void *scratch);
    /* Releases the scratch state at thread exit. */
    void (*thread_fini)(void *scratch);
};

struct nd_pool {
    struct nd_queue *queue; /* borrowed */
    const struct nd_pool_ops *ops;
    void *arg;
    pthread_t *threads;
    int n;
};

/*
 * Starts n workers on queue.  Returns 0 or -errno; on failure no thread is
 * left running (those already started are stopped by closing the queue and
 * joined).
 */
int nd_pool_start(struct nd_pool *p, int n, struct nd_queue *queue,
                  const struct nd_pool_ops *ops, void *arg);

/* Waits for every worker to return (close the queue first) and frees the
 * pool's memory. */
void nd_pool_join(struct nd_pool *p);

#endif
