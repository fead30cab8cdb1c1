/*
 * nd_hashpipe: MD5 on a second thread, fed by a ring of large buffers.
 *
 * A file's MD5 is one serial chain and, at about 750 MB/s, the slowest
 * step of a verified transfer: when the thread that moves the bytes also
 * hashes them, the copies it makes (socket to buffer, buffer to file) add
 * to the hashing time instead of hiding behind it.  The pipe lets one
 * thread (the producer) fill a slot, hand it over with nd_hashpipe_submit()
 * and go on using the slot read-only (writing it to a file) while a hashing
 * thread digests it; a slot comes back to the producer only once it is
 * hashed.  Slots are hashed in the order they were submitted.
 *
 * Only the producer thread may call the functions below, except that
 * nd_hashpipe_free() may be called by whoever owns the pipe once the
 * producer is done with it.
 */
#ifndef ND_HASHPIPE_H
#define ND_HASHPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "nd_digest.h"

struct nd_hashpipe;

/*
 * Makes a pipe of nslots buffers of slot_len bytes each and starts its
 * hashing thread, which adds every submitted byte to d.  d must stay valid
 * and must not be touched by anyone else until nd_hashpipe_drain() has
 * returned.  Returns 0 with *out set (the caller owns it and must call
 * nd_hashpipe_free()), -EINVAL for a zero size, -ENOMEM, or the -errno of
 * pthread_create.
 */
int nd_hashpipe_new(struct nd_hashpipe **out, struct nd_digest *d,
                    size_t nslots, size_t slot_len);

/* The size of every slot, in bytes. */
size_t nd_hashpipe_slot_len(const struct nd_hashpipe *hp);

/*
 * Waits until the next slot is free (hashed, if it was used before) and
 * returns it; the producer may fill up to slot_len bytes.  Never NULL.
 */
uint8_t *nd_hashpipe_acquire(struct nd_hashpipe *hp);

/*
 * Hands the first n bytes of the slot last acquired to the hashing thread.
 * The producer may still read the slot (to write it out) but must not
 * change it, and must acquire again before filling another.
 */
void nd_hashpipe_submit(struct nd_hashpipe *hp, size_t n);

/*
 * Waits until every submitted byte is hashed.  Returns 0, or -EIO when a
 * digest update failed (the digest is then worthless).  After it returns,
 * d is the producer's again; the pipe may be reused for more bytes.
 */
int nd_hashpipe_drain(struct nd_hashpipe *hp);

/* Stops and joins the hashing thread and frees the pipe; safe on NULL.
 * Bytes still queued are hashed first. */
void nd_hashpipe_free(struct nd_hashpipe *hp);

#endif
