/*
 * nd_queue: a bounded ring of pointers under a mutex and a condvar.
 */
#include "nd_queue.h"

#include <errno.h>
#include <stdlib.h>

int
nd_queue_init(struct nd_queue *q, size_t cap)
{
    if (cap == 0)
        return -EINVAL;
    q->ring = calloc(cap, sizeof(*q->ring));
    if (q->ring == NULL)
        return -ENOMEM;
    q->cap = cap;
    q->head = q->len = 0;
    q->closed = false;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    return 0;
}

void
nd_queue_destroy(struct nd_queue *q)
{
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    q->ring = NULL;
}

int
nd_queue_push(struct nd_queue *q, void *item)
{
    return nd_queue_push_below(q, item, q->cap);
}

int
nd_queue_push_below(struct nd_queue *q, void *item, size_t limit)
{
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        rc = -ESHUTDOWN;
    } else if (q->len >= limit || q->len == q->cap) {
        rc = -EAGAIN;
    } else {
        q->ring[(q->head + q->len) % q->cap] = item;
        q->len++;
    }
    pthread_mutex_unlock(&q->mu);
    /* One item wakes one worker; the others keep sleeping.  Signalled
     * after the unlock: a worker woken while we still held the mutex
     * would only go back to sleep on it (glibc does not hand the mutex
     * over), which costs two more switches per request.  The worker
     * re-checks len under the mutex, so nothing is missed. */
    if (rc == 0)
        pthread_cond_signal(&q->cv);
    return rc;
}

/* Takes the head item; the caller holds the mutex and has checked len. */
static void *
take_head(struct nd_queue *q)
{
    void *item = q->ring[q->head];

    q->head = (q->head + 1) % q->cap;
    q->len--;
    return item;
}

void *
nd_queue_pop(struct nd_queue *q)
{
    void *item = NULL;

    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->cv, &q->mu);
    if (q->len > 0)
        item = take_head(q);
    pthread_mutex_unlock(&q->mu);
    return item;
}

void *
nd_queue_try_pop(struct nd_queue *q)
{
    void *item = NULL;

    pthread_mutex_lock(&q->mu);
    if (q->len > 0)
        item = take_head(q);
    pthread_mutex_unlock(&q->mu);
    return item;
}

void
nd_queue_close(struct nd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t
nd_queue_len(struct nd_queue *q)
{
    size_t len;

    pthread_mutex_lock(&q->mu);
    len = q->len;
    pthread_mutex_unlock(&q->mu);
    return len;
}
