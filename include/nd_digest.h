/*
 * nd_digest: streaming MD5 through OpenSSL's EVP interface (the low-level
 * MD5_* calls are deprecated in OpenSSL 3).  A context belongs to one thread
 * at a time; distinct contexts may be used concurrently.
 */
#ifndef ND_DIGEST_H
#define ND_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define ND_DIGEST_LEN 16
#define ND_DIGEST_HEX_LEN 33 /* 32 hex digits and a NUL */

struct nd_digest {
    void *ctx; /* EVP_MD_CTX, kept opaque so callers need no OpenSSL header */
};

/* Starts a new MD5 computation.  Returns 0 or -ENOMEM.  On success the
 * caller owns the context and must call nd_digest_free(). */
int nd_digest_init(struct nd_digest *d);
/* Adds n bytes.  Returns 0 or -EIO (OpenSSL failed). */
int nd_digest_update(struct nd_digest *d, const void *p, size_t n);
/* Discards what was added so far and starts over.  Returns 0 or -EIO. */
int nd_digest_reset(struct nd_digest *d);
/* Writes the digest and resets the context for reuse.  Returns 0 or -EIO. */
int nd_digest_final(struct nd_digest *d, uint8_t out[ND_DIGEST_LEN]);
/* Releases the context; safe on a zeroed or already freed struct. */
void nd_digest_free(struct nd_digest *d);
/* Lower-case hex, as md5sum prints it. */
void nd_digest_hex(const uint8_t md5[ND_DIGEST_LEN],
                   char out[ND_DIGEST_HEX_LEN]);

#endif
