/*
 * nd_progress: the client's one-line transfer progress bar on stderr.
 *
 * The bar shows a label, the percentage, a bar, the bytes done, the average
 * rate and the time left (the elapsed time once finished).  It redraws in
 * place with '\r' at most ten times a second and ends its line with '\n' in
 * nd_progress_finish(), so a message printed afterwards starts on a line of
 * its own.  A disabled bar never writes anything, which keeps the output of
 * scripts and tests clean.  Not thread-safe: one bar belongs to one thread.
 */
#ifndef ND_PROGRESS_H
#define ND_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest label kept, in bytes; longer labels are cut. */
#define ND_PROGRESS_LABEL_MAX 256

/*
 * Where one file stands in a transfer of several: the bar then adds the
 * files finished and the bytes of the whole batch to its numbers.
 */
struct nd_progress_batch {
    unsigned files;        /* files in the batch; 0 or 1: a single file */
    unsigned done_files;   /* files finished before this one */
    uint64_t bytes_before; /* bytes moved by those files */
    uint64_t bytes_total;  /* bytes of the whole batch, 0 if not known */
};

struct nd_progress {
    struct nd_progress_batch batch;
    char label[ND_PROGRESS_LABEL_MAX + 1]; /* scrubbed of control bytes */
    uint64_t total;
    uint64_t done;
    double start;     /* nd_io_now() at nd_progress_start() */
    double last_draw; /* nd_io_now() at the last redraw */
    bool enabled;     /* false once finished */
};

/*
 * Starts a bar for a transfer of total bytes and draws it at 0%.  The label
 * is copied.  When enabled is false every later call does nothing; the
 * caller decides (stderr is a terminal and -q was not given).
 */
void nd_progress_start(struct nd_progress *p, const char *label, uint64_t total,
                       bool enabled);

/* As nd_progress_start(), for one file of the batch b (copied; NULL: a
 * single file). */
void nd_progress_start_batch(struct nd_progress *p, const char *label,
                             uint64_t total, bool enabled,
                             const struct nd_progress_batch *b);

/*
 * Formats a byte count as `ls -lh` does, in powers of 1024: "512", "1.5K",
 * "12K", "1.0M"; rounded up, one decimal below 10.  Needs 8 bytes.
 */
void nd_human_size(uint64_t v, char *out, size_t cap);

/* Records that done bytes of total have moved; redraws when at least a
 * tenth of a second passed since the last redraw, or when done == total. */
void nd_progress_update(struct nd_progress *p, uint64_t done);

/*
 * Draws the final state and ends the line.  With ok the bar shows 100% and
 * the elapsed time; without it the bar stays where the transfer stopped, so
 * the error message that follows explains it.
 */
void nd_progress_finish(struct nd_progress *p, bool ok);

#endif
