/*
 * nd_digest: the one file that talks to OpenSSL's digest API.
 */
#include "nd_digest.h"

#include <errno.h>
#include <openssl/evp.h>

int
nd_digest_init(struct nd_digest *d)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    d->ctx = NULL;
    if (ctx == NULL)
        return -ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -EIO;
    }
    d->ctx = ctx;
    return 0;
}

int
nd_digest_update(struct nd_digest *d, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    return EVP_DigestUpdate(d->ctx, p, n) == 1 ? 0 : -EIO;
}

int
nd_digest_reset(struct nd_digest *d)
{
    return EVP_DigestInit_ex(d->ctx, EVP_md5(), NULL) == 1 ? 0 : -EIO;
}

int
nd_digest_final(struct nd_digest *d, uint8_t out[ND_DIGEST_LEN])
{
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(d->ctx, out, &len) != 1 || len != ND_DIGEST_LEN)
        return -EIO;
    /* Reset so that a caller can start the next file on the same context. */
    return nd_digest_reset(d);
}

void
nd_digest_free(struct nd_digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

void
nd_digest_hex(const uint8_t md5[ND_DIGEST_LEN], char out[ND_DIGEST_HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < ND_DIGEST_LEN; i++) {
        out[2 * i] = hex[md5[i] >> 4];
        out[2 * i + 1] = hex[md5[i] & 15];
    }
    out[2 * ND_DIGEST_LEN] = '\0';
}
