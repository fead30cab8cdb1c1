/*
 * fuzz_util: what every libFuzzer target in test/fuzz shares: the entry
 * points libFuzzer calls, and FUZZ_ASSERT, which turns a broken invariant
 * into a crash that libFuzzer records like any sanitizer report.
 *
 * The targets are built only by clang with -fsanitize=fuzzer (make fuzz,
 * scripts/fuzz.sh); nothing here is part of the daemon or the client.
 */
#ifndef ND_FUZZ_UTIL_H
#define ND_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points.  Declared here so that -Wmissing-prototypes
 * accepts their definitions in each target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * Checks an invariant of the code under test.  A failure prints where and
 * what, then aborts: libFuzzer treats SIGABRT as a crash, saves the input as
 * crash-<sha1> and exits non-zero, so a wrong answer fails the run exactly
 * like an out-of-bounds read does.
 */
#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The same with a formatted explanation, for values worth seeing. */
#define FUZZ_ASSERT_MSG(cond, ...)                                             \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
