/*
 * nd_pool: worker threads that turn queue items into handler calls.
 */
#include "nd_pool.h"

#include <errno.h>
#include <stdlib.h>

static void *
worker_main(void *argp)
{
    struct nd_pool *p = argp;
    void *scratch = p->ops->thread_init(p->arg);
    void *item;

    /* Without scratch memory this worker cannot serve; the others can. */
    if (scratch == NULL)
        return NULL;
    while ((item = nd_queue_pop(p->queue)) != NULL)
        p->ops->run(item, p->arg, scratch);
    p->ops->thread_fini(scratch);
    return NULL;
}

int
nd_pool_start(struct nd_pool *p, int n, struct nd_queue *queue,
              const struct nd_pool_ops *ops, void *arg)
{
    p->queue = queue;
    p->ops = ops;
    p->arg = arg;
    p->n = 0;
    p->threads = calloc((size_t) n, sizeof(*p->threads));
    if (p->threads == NULL)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc != 0) {
            nd_queue_close(queue);
            nd_pool_join(p);
            return -rc;
        }
        p->n++;
    }
    return 0;
}

void
nd_pool_join(struct nd_pool *p)
{
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    p->n = 0;
}
