/*
 * nd_pool: worker threads that turn queue items into handler calls.
 */
#include "nd_pool.h"

#include <errno.h>
#include <stdlib.h>

struct nd_pool_worker {
    struct nd_pool *pool;
    void *scratch;
};

static void *
worker_main(void *argp)
{
    struct nd_pool_worker *w = argp;
    void *item;

    while ((item = nd_queue_pop(w->pool->queue)) != NULL)
        w->pool->ops->run(item, w->pool->arg, w->scratch);
    return NULL;
}

int
nd_pool_start(struct nd_pool *p, int n, struct nd_queue *queue,
              const struct nd_pool_ops *ops, void *arg)
{
    struct nd_pool_worker *w;

    p->queue = queue;
    p->ops = ops;
    p->arg = arg;
    p->n = 0;
    p->threads = calloc((size_t) n, sizeof(*p->threads));
    p->workers = w = calloc((size_t) n, sizeof(*w));
    if (p->threads == NULL || w == NULL) {
        nd_pool_join(p);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        int rc;

        /* Scratch is made here, not in the thread, so that a pool that
         * cannot equip every worker fails to start instead of running with
         * workers that silently never pop anything. */
        w[i].pool = p;
        w[i].scratch = ops->thread_init(arg);
        if (w[i].scratch == NULL) {
            rc = ENOMEM;
        } else {
            rc = pthread_create(&p->threads[i], NULL, worker_main, &w[i]);
            if (rc != 0) {
                ops->thread_fini(w[i].scratch);
                w[i].scratch = NULL;
            }
        }
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
    struct nd_pool_worker *w = p->workers;

    for (int i = 0; i < p->n; i++) {
        pthread_join(p->threads[i], NULL);
        p->ops->thread_fini(w[i].scratch);
    }
    free(p->threads);
    free(p->workers);
    p->threads = NULL;
    p->workers = NULL;
    p->n = 0;
}
