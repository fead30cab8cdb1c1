/*
 * nd_queue: the bounded task queue between the reactor and the workers.
 *
 * A fixed ring of pointers guarded by one mutex, with a condition variable
 * the workers sleep on (the nginx/libuv thread-pool shape).  The queue never
 * grows: a push into a full queue fails at once, and the reactor turns that
 * into a BUSY reply.  Closing wakes every sleeper; workers drain what is
 * left and then see NULL.  All functions are thread-safe except init and
 * destroy, which must not race with anything.
 */
#ifndef ND_QUEUE_H
#define ND_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct nd_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void **ring;
    size_t cap;
    size_t head;
    size_t len;
    bool closed;
};

/* Returns 0, -EINVAL for cap 0, or -ENOMEM. */
int nd_queue_init(struct nd_queue *q, size_t cap);
/* Frees the ring; items still queued are the caller's to release first
 * (see nd_queue_try_pop). */
void nd_queue_destroy(struct nd_queue *q);

/*
 * Appends item.  Returns 0, -EAGAIN when full, or -ESHUTDOWN when closed.
 * Ownership of item passes to the queue only on success: on failure the
 * caller still owns it and must dispose of it.
 */
int nd_queue_push(struct nd_queue *q, void *item);
/* The same, but fails with -EAGAIN already when limit items wait (a limit
 * above the ring's size counts as the size): new requests are held to
 * queue_capacity, while the rest of the ring is kept for transfers coming
 * back from the parked list. */
int nd_queue_push_below(struct nd_queue *q, void *item, size_t limit);

/*
 * Blocks until an item is available and returns it (the caller now owns
 * it), or returns NULL once the queue is closed and empty.
 */
void *nd_queue_pop(struct nd_queue *q);

/* Non-blocking pop: an item, or NULL when empty. */
void *nd_queue_try_pop(struct nd_queue *q);

/* Refuses further pushes and wakes every waiting worker.  Idempotent. */
void nd_queue_close(struct nd_queue *q);

/* The number of items waiting: a worker moving a transfer asks it before
 * waiting for its socket (nd_transfer), and tests. */
size_t nd_queue_len(struct nd_queue *q);

#endif
