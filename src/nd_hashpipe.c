/*
 * nd_hashpipe: a ring of slots between one producer and one hashing
 * thread.  Slot i is the producer's while i >= hashed (counting slots ever
 * submitted), the hasher's while hashed <= i < submitted; the producer
 * waits only when it wraps around onto a slot still being hashed.
 */
#include "nd_hashpipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "nd_io.h"

struct nd_hashpipe {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on every change of the counters */
    pthread_t thread;
    struct nd_digest *d;
    uint8_t *mem;
    size_t *len; /* bytes submitted in each slot */
    size_t nslots;
    size_t slot_len;
    uint64_t submitted; /* slots handed over so far */
    uint64_t hashed;    /* slots the hasher finished */
    bool stop;
    int err;
};

static void *
hasher(void *arg)
{
    struct nd_hashpipe *hp = arg;

    pthread_mutex_lock(&hp->mu);
    for (;;) {
        while (hp->hashed == hp->submitted && !hp->stop)
            pthread_cond_wait(&hp->cv, &hp->mu);
        if (hp->hashed == hp->submitted)
            break;
        size_t i = (size_t)(hp->hashed % hp->nslots);
        bool skip = hp->err != 0;

        /* The slot is ours until hashed moves past it, so the (slow)
         * update runs without the lock. */
        pthread_mutex_unlock(&hp->mu);
        int rc = skip ? 0
                      : nd_digest_update(hp->d, hp->mem + i * hp->slot_len,
                                         hp->len[i]);
        pthread_mutex_lock(&hp->mu);
        if (rc < 0)
            hp->err = rc;
        hp->hashed++;
        pthread_cond_broadcast(&hp->cv);
    }
    pthread_mutex_unlock(&hp->mu);
    return NULL;
}

int
nd_hashpipe_new(struct nd_hashpipe **out, struct nd_digest *d, size_t nslots,
                size_t slot_len)
{
    struct nd_hashpipe *hp;
    int rc;

    *out = NULL;
    if (nslots == 0 || slot_len == 0 || nslots > SIZE_MAX / slot_len)
        return -EINVAL;
    hp = calloc(1, sizeof(*hp));
    if (hp == NULL)
        return -ENOMEM;
    hp->d = d;
    hp->nslots = nslots;
    hp->slot_len = slot_len;
    hp->mem = nd_io_buf_alloc(nslots * slot_len);
    hp->len = calloc(nslots, sizeof(*hp->len));
    if (hp->mem == NULL || hp->len == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    pthread_mutex_init(&hp->mu, NULL);
    pthread_cond_init(&hp->cv, NULL);
    rc = -pthread_create(&hp->thread, NULL, hasher, hp);
    if (rc < 0) {
        pthread_cond_destroy(&hp->cv);
        pthread_mutex_destroy(&hp->mu);
        goto out;
    }
    *out = hp;
    return 0;
out:
    free(hp->len);
    free(hp->mem);
    free(hp);
    return rc;
}

size_t
nd_hashpipe_slot_len(const struct nd_hashpipe *hp)
{
    return hp->slot_len;
}

uint8_t *
nd_hashpipe_acquire(struct nd_hashpipe *hp)
{
    size_t i;

    pthread_mutex_lock(&hp->mu);
    /* The next slot is the one submitted nslots submissions ago. */
    while (hp->submitted - hp->hashed >= hp->nslots)
        pthread_cond_wait(&hp->cv, &hp->mu);
    i = (size_t)(hp->submitted % hp->nslots);
    pthread_mutex_unlock(&hp->mu);
    return hp->mem + i * hp->slot_len;
}

void
nd_hashpipe_submit(struct nd_hashpipe *hp, size_t n)
{
    pthread_mutex_lock(&hp->mu);
    hp->len[hp->submitted % hp->nslots] = n < hp->slot_len ? n : hp->slot_len;
    hp->submitted++;
    pthread_cond_broadcast(&hp->cv);
    pthread_mutex_unlock(&hp->mu);
}

int
nd_hashpipe_drain(struct nd_hashpipe *hp)
{
    int rc;

    pthread_mutex_lock(&hp->mu);
    while (hp->hashed != hp->submitted)
        pthread_cond_wait(&hp->cv, &hp->mu);
    rc = hp->err;
    hp->err = 0;
    pthread_mutex_unlock(&hp->mu);
    return rc;
}

void
nd_hashpipe_free(struct nd_hashpipe *hp)
{
    if (hp == NULL)
        return;
    pthread_mutex_lock(&hp->mu);
    hp->stop = true;
    pthread_cond_broadcast(&hp->cv);
    pthread_mutex_unlock(&hp->mu);
    pthread_join(hp->thread, NULL);
    pthread_cond_destroy(&hp->cv);
    pthread_mutex_destroy(&hp->mu);
    free(hp->len);
    free(hp->mem);
    free(hp);
}
