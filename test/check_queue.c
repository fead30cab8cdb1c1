/*
 * Unit tests for nd_queue and nd_pool: order, bounds, close semantics, and
 * many producers against many consumers with every item accounted for.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "nd_pool.h"
#include "nd_queue.h"

START_TEST(test_fifo_order)
{
    struct nd_queue q;

    ck_assert_int_eq(nd_queue_init(&q, 4), 0);
    for (uintptr_t round = 0; round < 3; round++) {
        /* Three rounds make the ring wrap around. */
        for (uintptr_t i = 1; i <= 3; i++)
            ck_assert_int_eq(nd_queue_push(&q, (void *)(round * 10 + i)), 0);
        for (uintptr_t i = 1; i <= 3; i++)
            ck_assert_ptr_eq(nd_queue_pop(&q), (void *)(round * 10 + i));
    }
    ck_assert_ptr_null(nd_queue_try_pop(&q));
    nd_queue_destroy(&q);
}
END_TEST

START_TEST(test_bounded)
{
    struct nd_queue q;

    ck_assert_int_eq(nd_queue_init(&q, 0), -EINVAL);
    ck_assert_int_eq(nd_queue_init(&q, 2), 0);
    ck_assert_int_eq(nd_queue_push(&q, (void *)1), 0);
    ck_assert_int_eq(nd_queue_push(&q, (void *)2), 0);
    ck_assert_int_eq(nd_queue_push(&q, (void *)3), -EAGAIN);
    ck_assert_uint_eq(nd_queue_len(&q), 2);
    ck_assert_ptr_eq(nd_queue_pop(&q), (void *)1);
    ck_assert_int_eq(nd_queue_push(&q, (void *)3), 0);
    nd_queue_destroy(&q);
}
END_TEST

/* A limit below the ring's size refuses early; the rest stays usable. */
START_TEST(test_push_below)
{
    struct nd_queue q;

    ck_assert_int_eq(nd_queue_init(&q, 3), 0);
    ck_assert_int_eq(nd_queue_push_below(&q, (void *)1, 1), 0);
    ck_assert_int_eq(nd_queue_push_below(&q, (void *)2, 1), -EAGAIN);
    ck_assert_int_eq(nd_queue_push(&q, (void *)2), 0);
    ck_assert_int_eq(nd_queue_push_below(&q, (void *)3, 99), 0);
    ck_assert_int_eq(nd_queue_push(&q, (void *)4), -EAGAIN);
    ck_assert_uint_eq(nd_queue_len(&q), 3);
    ck_assert_ptr_eq(nd_queue_pop(&q), (void *)1);
    ck_assert_ptr_eq(nd_queue_pop(&q), (void *)2);
    ck_assert_ptr_eq(nd_queue_pop(&q), (void *)3);
    nd_queue_destroy(&q);
}
END_TEST

START_TEST(test_close_drains_then_null)
{
    struct nd_queue q;

    ck_assert_int_eq(nd_queue_init(&q, 4), 0);
    ck_assert_int_eq(nd_queue_push(&q, (void *)7), 0);
    nd_queue_close(&q);
    nd_queue_close(&q); /* idempotent */
    ck_assert_int_eq(nd_queue_push(&q, (void *)8), -ESHUTDOWN);
    /* What was queued before the close is still handed out. */
    ck_assert_ptr_eq(nd_queue_pop(&q), (void *)7);
    ck_assert_ptr_null(nd_queue_pop(&q));
    nd_queue_destroy(&q);
}
END_TEST

static atomic_int s_woken;

static void *
sleeper(void *arg)
{
    struct nd_queue *q = arg;

    if (nd_queue_pop(q) == NULL)
        atomic_fetch_add(&s_woken, 1);
    return NULL;
}

START_TEST(test_close_wakes_all)
{
    enum { N = 8 };
    struct nd_queue q;
    pthread_t t[N];

    atomic_store(&s_woken, 0);
    ck_assert_int_eq(nd_queue_init(&q, 4), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, sleeper, &q), 0);
    usleep(100 * 1000); /* let them block; correctness does not depend on it */
    nd_queue_close(&q);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&s_woken), N);
    nd_queue_destroy(&q);
}
END_TEST

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 20000 };

struct mpmc {
    struct nd_queue q;
    atomic_ullong sum;
    atomic_int count;
};

static void *
producer(void *arg)
{
    struct mpmc *m = arg;

    for (uintptr_t i = 1; i <= PER_PRODUCER; i++) {
        /* Full is a normal answer under load: back off and retry. */
        while (nd_queue_push(&m->q, (void *)i) == -EAGAIN)
            sched_yield();
    }
    return NULL;
}

static void *
consumer(void *arg)
{
    struct mpmc *m = arg;
    void *item;

    while ((item = nd_queue_pop(&m->q)) != NULL) {
        atomic_fetch_add(&m->sum, (unsigned long long)(uintptr_t)item);
        atomic_fetch_add(&m->count, 1);
    }
    return NULL;
}

START_TEST(test_many_producers_consumers)
{
    static struct mpmc m;
    pthread_t p[PRODUCERS], c[CONSUMERS];
    unsigned long long want =
        (unsigned long long)PRODUCERS * PER_PRODUCER * (PER_PRODUCER + 1) / 2;

    ck_assert_int_eq(nd_queue_init(&m.q, 16), 0);
    atomic_store(&m.sum, 0);
    atomic_store(&m.count, 0);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], NULL, consumer, &m);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&p[i], NULL, producer, &m);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    nd_queue_close(&m.q);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);
    ck_assert_int_eq(atomic_load(&m.count), PRODUCERS * PER_PRODUCER);
    ck_assert_uint_eq(atomic_load(&m.sum), want);
    nd_queue_destroy(&m.q);
}
END_TEST

static atomic_int s_inits, s_finis, s_runs;

static void *
t_init(void *arg)
{
    atomic_fetch_add(&s_inits, 1);
    return arg;
}

static void
t_run(void *item, void *arg, void *scratch)
{
    ck_assert_ptr_eq(scratch, arg);
    atomic_fetch_add(&s_runs, (int)(uintptr_t)item);
}

static void
t_fini(void *scratch)
{
    (void)scratch;
    atomic_fetch_add(&s_finis, 1);
}

START_TEST(test_pool_runs_and_joins)
{
    static const struct nd_pool_ops ops = {t_init, t_run, t_fini};
    struct nd_queue q;
    struct nd_pool p;
    int arg;

    ck_assert_int_eq(nd_queue_init(&q, 64), 0);
    ck_assert_int_eq(nd_pool_start(&p, 3, &q, &ops, &arg), 0);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(nd_queue_push(&q, (void *)1), 0);
    nd_queue_close(&q);
    nd_pool_join(&p);
    ck_assert_int_eq(atomic_load(&s_runs), 50);
    ck_assert_int_eq(atomic_load(&s_inits), 3);
    ck_assert_int_eq(atomic_load(&s_finis), 3);
    nd_queue_destroy(&q);
}
END_TEST

static atomic_int s_made;

/* Equips two workers, then runs out. */
static void *
t_init_two(void *arg)
{
    return atomic_fetch_add(&s_made, 1) < 2 ? arg : NULL;
}

START_TEST(test_pool_start_fails_cleanly)
{
    static const struct nd_pool_ops ops = {t_init_two, t_run, t_fini};
    struct nd_queue q;
    struct nd_pool p;
    int arg;

    atomic_store(&s_made, 0);
    atomic_store(&s_finis, 0);
    ck_assert_int_eq(nd_queue_init(&q, 4), 0);
    /* The third worker gets no scratch: start fails, the two already
     * running are stopped, joined and their scratch released. */
    ck_assert_int_eq(nd_pool_start(&p, 3, &q, &ops, &arg), -ENOMEM);
    ck_assert_int_eq(atomic_load(&s_finis), 2);
    ck_assert_int_eq(p.n, 0);
    ck_assert_int_eq(nd_queue_push(&q, (void *)1), -ESHUTDOWN);
    nd_queue_destroy(&q);
}
END_TEST

static Suite *
queue_suite(void)
{
    Suite *s = suite_create("nd_queue");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fifo_order);
    tcase_add_test(tc, test_bounded);
    tcase_add_test(tc, test_push_below);
    tcase_add_test(tc, test_close_drains_then_null);
    tcase_add_test(tc, test_close_wakes_all);
    tcase_add_test(tc, test_many_producers_consumers);
    tcase_add_test(tc, test_pool_runs_and_joins);
    tcase_add_test(tc, test_pool_start_fails_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(queue_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
