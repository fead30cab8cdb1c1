/*
 * Unit tests for nd_hashpipe: the digest of bytes pushed through the ring
 * equals the digest of the same bytes hashed inline, whatever the slot
 * count, the fill of each slot and the number of rounds; a slot is never
 * handed back while the hashing thread may still read it.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd_digest.h"
#include "nd_hashpipe.h"

/* A deterministic byte pattern, different at every offset. */
static uint8_t
pattern(uint64_t at)
{
    return (uint8_t)((at * 2654435761u) >> 13);
}

static void
inline_md5(uint64_t total, uint8_t out[ND_DIGEST_LEN])
{
    struct nd_digest d;
    uint8_t buf[4096];
    uint64_t at = 0;

    ck_assert_int_eq(nd_digest_init(&d), 0);
    while (at < total) {
        size_t n =
            total - at < sizeof(buf) ? (size_t)(total - at) : sizeof(buf);

        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(at + i);
        ck_assert_int_eq(nd_digest_update(&d, buf, n), 0);
        at += n;
    }
    ck_assert_int_eq(nd_digest_final(&d, out), 0);
    nd_digest_free(&d);
}

/* Pushes total bytes through a pipe of nslots slots of slot_len, filling
 * each slot with fill(i) bytes, and compares the digest with inline_md5. */
static void
check_through(size_t nslots, size_t slot_len, uint64_t total, int step)
{
    struct nd_hashpipe *hp;
    struct nd_digest d;
    uint8_t want[ND_DIGEST_LEN], got[ND_DIGEST_LEN];
    uint64_t at = 0;
    unsigned k = 0;

    inline_md5(total, want);
    ck_assert_int_eq(nd_digest_init(&d), 0);
    ck_assert_int_eq(nd_hashpipe_new(&hp, &d, nslots, slot_len), 0);
    ck_assert_uint_eq(nd_hashpipe_slot_len(hp), slot_len);
    while (at < total) {
        uint8_t *p = nd_hashpipe_acquire(hp);
        /* Slots filled partly, fully, and by one byte, in turn. */
        size_t n =
            step == 0 ? slot_len : (size_t)(1 + (k++ * 7919u) % slot_len);

        if (n > total - at)
            n = (size_t)(total - at);
        for (size_t i = 0; i < n; i++)
            p[i] = pattern(at + i);
        nd_hashpipe_submit(hp, n);
        at += n;
    }
    ck_assert_int_eq(nd_hashpipe_drain(hp), 0);
    ck_assert_int_eq(nd_digest_final(&d, got), 0);
    ck_assert_mem_eq(got, want, ND_DIGEST_LEN);
    nd_hashpipe_free(hp);
    nd_digest_free(&d);
}

START_TEST(test_matches_inline)
{
    check_through(1, 4096, 1000000, 0);
    check_through(4, 65536, 3u * 1024 * 1024 + 17, 0);
    check_through(3, 1000, 200000, 1);
    check_through(8, 1, 5000, 0);
    check_through(2, 512, 0, 0);
}
END_TEST

/* The producer may go on filling slots after a drain: the digest is the
 * producer's between drains, and the pipe carries on afterwards. */
START_TEST(test_reuse_after_drain)
{
    struct nd_hashpipe *hp;
    struct nd_digest d, ref;
    uint8_t a[ND_DIGEST_LEN], b[ND_DIGEST_LEN];
    static const char part1[] = "first part", part2[] = "second part";

    ck_assert_int_eq(nd_digest_init(&d), 0);
    ck_assert_int_eq(nd_digest_init(&ref), 0);
    ck_assert_int_eq(nd_hashpipe_new(&hp, &d, 2, 64), 0);
    memcpy(nd_hashpipe_acquire(hp), part1, sizeof(part1));
    nd_hashpipe_submit(hp, sizeof(part1));
    ck_assert_int_eq(nd_hashpipe_drain(hp), 0);
    /* Between drains the producer may add to the digest itself. */
    ck_assert_int_eq(nd_digest_update(&d, "|", 1), 0);
    memcpy(nd_hashpipe_acquire(hp), part2, sizeof(part2));
    nd_hashpipe_submit(hp, sizeof(part2));
    ck_assert_int_eq(nd_hashpipe_drain(hp), 0);
    ck_assert_int_eq(nd_digest_final(&d, a), 0);
    ck_assert_int_eq(nd_digest_update(&ref, part1, sizeof(part1)), 0);
    ck_assert_int_eq(nd_digest_update(&ref, "|", 1), 0);
    ck_assert_int_eq(nd_digest_update(&ref, part2, sizeof(part2)), 0);
    ck_assert_int_eq(nd_digest_final(&ref, b), 0);
    ck_assert_mem_eq(a, b, ND_DIGEST_LEN);
    nd_hashpipe_free(hp);
    nd_digest_free(&d);
    nd_digest_free(&ref);
}
END_TEST

/* Freeing with slots still queued hashes them first and joins cleanly;
 * bad sizes are refused. */
START_TEST(test_free_and_limits)
{
    struct nd_hashpipe *hp = (void *)1;
    struct nd_digest d;

    ck_assert_int_eq(nd_digest_init(&d), 0);
    ck_assert_int_eq(nd_hashpipe_new(&hp, &d, 0, 16), -EINVAL);
    ck_assert_ptr_null(hp);
    ck_assert_int_eq(nd_hashpipe_new(&hp, &d, 4, 0), -EINVAL);
    ck_assert_int_eq(nd_hashpipe_new(&hp, &d, SIZE_MAX / 2, 4), -EINVAL);
    ck_assert_int_eq(nd_hashpipe_new(&hp, &d, 3, 32), 0);
    for (int i = 0; i < 3; i++) {
        memset(nd_hashpipe_acquire(hp), i, 32);
        nd_hashpipe_submit(hp, 32);
    }
    nd_hashpipe_free(hp);
    nd_hashpipe_free(NULL);
    nd_digest_free(&d);
}
END_TEST

static Suite *
hashpipe_suite(void)
{
    Suite *s = suite_create("nd_hashpipe");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_matches_inline);
    tcase_add_test(tc, test_reuse_after_drain);
    tcase_add_test(tc, test_free_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(hashpipe_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
