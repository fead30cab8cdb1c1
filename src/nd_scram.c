/*
 * nd_scram: SCRAM-SHA-256 message parsing and key arithmetic.  Every
 * cryptographic primitive comes from OpenSSL (PBKDF2, HMAC through EVP_MAC,
 * SHA-256 through EVP_Digest, base64, CRYPTO_memcmp) and random bytes from
 * the kernel (nd_io_random); what is written here is the RFC 5802 grammar
 * and the glue.  Secrets that pass through local buffers are wiped with
 * OPENSSL_cleanse() before returning.
 */
#include "nd_scram.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nd_io.h"

#define PREFIX "SCRAM-SHA-256$"
/* Random bytes in a nonce we make: 24 bytes are 32 base64 characters. */
#define NONCE_RAND_LEN 24
/* Attribute-value pairs in one message; SCRAM uses at most a handful. */
#define FIELDS_MAX 16
/* The base64 length of n bytes, with padding, without the NUL. */
#define B64_LEN(n) (((n) + 2) / 3 * 4)
/* The base64 length of a key. */
#define B64_KEY_LEN B64_LEN(ND_SCRAM_KEY_LEN)

/* What the session key is derived with (nd_scram_server_session). */
#define SESSION_LABEL "netdisk session"

enum {
    ST_NONE,  /* initialised, nothing received or sent yet */
    ST_FIRST, /* client-first seen (server) or sent (client) */
    ST_CHAL,  /* server-first sent (server) or client-final sent (client) */
    ST_DONE,  /* the exchange is over, whatever its outcome */
};

/* One "x=value" element of a message. */
struct field {
    const char *p;
    size_t len;
};

/* One piece of the data an HMAC is computed over. */
struct part {
    const void *p;
    size_t len;
};

/* Writes n bytes as padded base64 with a NUL.  Returns the length or
 * -ENOSPC. */
static int
b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (n > ND_SCRAM_MSG_MAX || B64_LEN(n) + 1 > cap)
        return -ENOSPC;
    return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/*
 * Decodes len characters of canonical padded base64 (EVP_DecodeBlock
 * accepts surrounding blanks and pads its output with zero bytes, so the
 * result is re-encoded and compared, and the true length is computed from
 * the '=' padding).  Returns the byte count, or -EINVAL when the text is not
 * canonical base64 or decodes to more than cap bytes.
 */
static int
b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    uint8_t tmp[ND_SCRAM_MSG_MAX];
    char check[ND_SCRAM_MSG_MAX + 4];
    size_t pad = 0;
    int n, rc = -EINVAL;

    if (len % 4 != 0 || len / 4 * 3 > sizeof(tmp))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n != len / 4 * 3)
        goto out;
    n -= (int)pad;
    if ((size_t)n > cap)
        goto out;
    if (b64_encode(tmp, (size_t)n, check, sizeof(check)) != (int)len ||
        memcmp(check, in, len) != 0)
        goto out;
    memcpy(out, tmp, (size_t)n);
    rc = n;
out:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return rc;
}

/* HMAC-SHA-256 over the concatenation of parts.  Returns 0 or -EIO. */
static int
hmac(const uint8_t *key, size_t klen, const struct part *parts, int nparts,
     uint8_t out[ND_SCRAM_KEY_LEN])
{
    OSSL_PARAM params[2];
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    size_t outlen = 0;
    int rc = -EIO;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        goto out;
    ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL || EVP_MAC_init(ctx, key, klen, params) != 1)
        goto out;
    for (int i = 0; i < nparts; i++)
        if (EVP_MAC_update(ctx, parts[i].p, parts[i].len) != 1)
            goto out;
    if (EVP_MAC_final(ctx, out, &outlen, ND_SCRAM_KEY_LEN) != 1 ||
        outlen != ND_SCRAM_KEY_LEN)
        goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

/* HMAC-SHA-256 of one NUL-terminated string.  Returns 0 or -EIO. */
static int
hmac_str(const uint8_t *key, size_t klen, const char *s,
         uint8_t out[ND_SCRAM_KEY_LEN])
{
    struct part part = {s, strlen(s)};

    return hmac(key, klen, &part, 1, out);
}

/* SHA-256 of n bytes.  Returns 0 or -EIO. */
static int
sha256(const uint8_t *in, size_t n, uint8_t out[ND_SCRAM_KEY_LEN])
{
    unsigned int len = 0;

    if (EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) != 1 ||
        len != ND_SCRAM_KEY_LEN)
        return -EIO;
    return 0;
}

/*
 * The RFC 5802 key schedule: SaltedPassword = PBKDF2(pw, salt, iterations),
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 * ServerKey = HMAC(SaltedPassword, "Server Key").  client_key may be NULL.
 * Returns 0 or -EIO.
 */
static int
derive_keys(const char *pw, size_t pwlen, const uint8_t *salt, size_t salt_len,
            int iterations, uint8_t *client_key,
            uint8_t stored_key[ND_SCRAM_KEY_LEN],
            uint8_t server_key[ND_SCRAM_KEY_LEN])
{
    uint8_t salted[ND_SCRAM_KEY_LEN], ck[ND_SCRAM_KEY_LEN];
    int rc = -EIO;

    if (pw == NULL)
        pw = "";
    if (pwlen > (size_t)INT32_MAX ||
        PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, (int)salt_len, iterations,
                          EVP_sha256(), ND_SCRAM_KEY_LEN, salted) != 1)
        goto out;
    rc = hmac_str(salted, sizeof(salted), "Client Key", ck);
    if (rc == 0)
        rc = sha256(ck, sizeof(ck), stored_key);
    if (rc == 0)
        rc = hmac_str(salted, sizeof(salted), "Server Key", server_key);
    if (rc == 0 && client_key != NULL)
        memcpy(client_key, ck, sizeof(ck));
out:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(ck, sizeof(ck));
    return rc;
}

/* Writes NONCE_RAND_LEN random bytes in base64 to out (at least 33 bytes).
 * Returns 0 or -EIO. */
static int
random_nonce(char *out, size_t cap)
{
    uint8_t raw[NONCE_RAND_LEN];

    if (nd_io_random(raw, sizeof(raw)) < 0)
        return -EIO;
    return b64_encode(raw, sizeof(raw), out, cap) < 0 ? -EIO : 0;
}

/* True for a printable nonce of 1..max characters other than ','. */
static bool
nonce_ok(const char *p, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return false;
    return true;
}

/* True when the n bytes at p are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static bool
utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = p[i];
        size_t more;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < more)
            return false;
        for (size_t k = 1; k <= more; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += more + 1;
    }
    return true;
}

/*
 * Splits len bytes at p on ',' into at most FIELDS_MAX fields, each of the
 * form "x=..." with x a letter.  Returns the count, or -EINVAL for an empty
 * field, a field without "x=", or too many fields.
 */
static int
split(const char *p, size_t len, struct field *f)
{
    int n = 0;
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != ',')
            continue;
        if (n == FIELDS_MAX)
            return -EINVAL;
        f[n].p = p + start;
        f[n].len = i - start;
        if (f[n].len < 2 || f[n].p[1] != '=' ||
            !((f[n].p[0] >= 'a' && f[n].p[0] <= 'z') ||
              (f[n].p[0] >= 'A' && f[n].p[0] <= 'Z')))
            return -EINVAL;
        n++;
        start = i + 1;
    }
    return n;
}

/* True when field f is attribute a; its value is then f->p + 2. */
static bool
is_attr(const struct field *f, char a)
{
    return f->p[0] == a;
}

/* True when fields from first on are all extensions we may ignore: an
 * attribute other than the ones SCRAM defines, with a non-empty value. */
static bool
extensions_ok(const struct field *f, int first, int n)
{
    for (int i = first; i < n; i++)
        if (f[i].len < 3 || strchr("mnrcpsive", f[i].p[0]) != NULL)
            return false;
    return true;
}

/* Checks the common framing of every received message: at most
 * ND_SCRAM_MSG_MAX bytes and no NUL. */
static bool
message_ok(const char *msg, size_t len)
{
    return msg != NULL && len > 0 && len <= ND_SCRAM_MSG_MAX &&
           memchr(msg, '\0', len) == NULL;
}

/* Copies len bytes and a NUL into out (capacity cap).  Returns len or
 * -ENOSPC. */
static int
put(char *out, size_t cap, const char *s, size_t len)
{
    if (len + 1 > cap || len > (size_t)INT32_MAX)
        return -ENOSPC;
    memcpy(out, s, len);
    out[len] = '\0';
    return (int)len;
}

static bool
verifier_ok(const struct nd_scram_verifier *v)
{
    return v->iterations >= ND_SCRAM_MIN_ITERATIONS &&
           v->iterations <= ND_SCRAM_MAX_ITERATIONS && v->salt_len > 0 &&
           v->salt_len <= ND_SCRAM_SALT_MAX;
}

int
nd_scram_verifier_derive(const char *pw, size_t pwlen, const uint8_t *salt,
                         size_t salt_len, int iterations,
                         struct nd_scram_verifier *v)
{
    int rc;

    if (salt_len == 0 || salt_len > ND_SCRAM_SALT_MAX ||
        iterations < ND_SCRAM_MIN_ITERATIONS ||
        iterations > ND_SCRAM_MAX_ITERATIONS)
        return -EINVAL;
    memset(v, 0, sizeof(*v));
    v->iterations = iterations;
    memcpy(v->salt, salt, salt_len);
    v->salt_len = salt_len;
    rc = derive_keys(pw, pwlen, salt, salt_len, iterations, NULL, v->stored_key,
                     v->server_key);
    if (rc < 0)
        OPENSSL_cleanse(v, sizeof(*v));
    return rc;
}

int
nd_scram_verifier_new(const char *pw, size_t pwlen, int iterations,
                      struct nd_scram_verifier *v)
{
    uint8_t salt[ND_SCRAM_SALT_LEN];

    if (nd_io_random(salt, sizeof(salt)) < 0)
        return -EIO;
    return nd_scram_verifier_derive(pw, pwlen, salt, sizeof(salt), iterations,
                                    v);
}

int
nd_scram_verifier_format(const struct nd_scram_verifier *v, char *out,
                         size_t cap)
{
    char salt[B64_LEN(ND_SCRAM_SALT_MAX) + 1];
    char stored[B64_KEY_LEN + 1], server[B64_KEY_LEN + 1];
    int n;

    if (!verifier_ok(v))
        return -EINVAL;
    b64_encode(v->salt, v->salt_len, salt, sizeof(salt));
    b64_encode(v->stored_key, ND_SCRAM_KEY_LEN, stored, sizeof(stored));
    b64_encode(v->server_key, ND_SCRAM_KEY_LEN, server, sizeof(server));
    n = snprintf(out, cap, PREFIX "%d:%s$%s:%s", v->iterations, salt, stored,
                 server);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/*
 * Parses a decimal number without sign or leading zero from the len bytes at
 * p.  Returns 0 with *out set (saturated at INT32_MAX), or -EINVAL when the
 * text is not such a number.
 */
static int
parse_count(const char *p, size_t len, long *out)
{
    long long n = 0;

    if (len == 0 || (p[0] == '0' && len > 1))
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        if (n <= INT32_MAX)
            n = n * 10 + (p[i] - '0');
    }
    *out = n > INT32_MAX ? INT32_MAX : (long)n;
    return 0;
}

int
nd_scram_verifier_parse(const char *s, struct nd_scram_verifier *v)
{
    const char *colon, *dollar, *colon2;
    long iter;
    int n;

    memset(v, 0, sizeof(*v));
    if (strncmp(s, PREFIX, strlen(PREFIX)) != 0)
        return -EINVAL;
    s += strlen(PREFIX);
    colon = strchr(s, ':');
    if (colon == NULL || parse_count(s, (size_t)(colon - s), &iter) < 0 ||
        iter < ND_SCRAM_MIN_ITERATIONS || iter > ND_SCRAM_MAX_ITERATIONS)
        return -EINVAL;
    v->iterations = (int)iter;
    dollar = strchr(colon + 1, '$');
    if (dollar == NULL)
        return -EINVAL;
    n = b64_decode(colon + 1, (size_t)(dollar - colon - 1), v->salt,
                   sizeof(v->salt));
    if (n <= 0)
        return -EINVAL;
    v->salt_len = (size_t)n;
    colon2 = strchr(dollar + 1, ':');
    if (colon2 == NULL ||
        b64_decode(dollar + 1, (size_t)(colon2 - dollar - 1), v->stored_key,
                   ND_SCRAM_KEY_LEN) != ND_SCRAM_KEY_LEN ||
        b64_decode(colon2 + 1, strlen(colon2 + 1), v->server_key,
                   ND_SCRAM_KEY_LEN) != ND_SCRAM_KEY_LEN)
        return -EINVAL;
    return 0;
}

void
nd_scram_verifier_mock(const uint8_t *secret, size_t secret_len,
                       const char *user, int iterations,
                       struct nd_scram_verifier *v)
{
    uint8_t salt[ND_SCRAM_KEY_LEN];
    struct part parts[2] = {{"salt", 4}, {user, strlen(user)}};

    memset(v, 0, sizeof(*v));
    v->iterations = iterations;
    v->salt_len = ND_SCRAM_SALT_LEN;
    if (hmac(secret, secret_len, parts, 2, salt) == 0)
        memcpy(v->salt, salt, ND_SCRAM_SALT_LEN);
    parts[0] = (struct part){"stored", 6};
    if (hmac(secret, secret_len, parts, 2, v->stored_key) < 0)
        memset(v->stored_key, 0, sizeof(v->stored_key));
    parts[0] = (struct part){"server", 6};
    if (hmac(secret, secret_len, parts, 2, v->server_key) < 0)
        memset(v->server_key, 0, sizeof(v->server_key));
}

bool
nd_scram_user_ok(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > ND_USER_MAX)
        return false;
    if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/*
 * Decodes a saslname (len bytes at p) into out (capacity cap): "=2C" is ','
 * and "=3D" is '='; any other '=' is malformed.  Returns 0 or -EINVAL (also
 * for an empty result or bad UTF-8).
 */
static int
sasl_decode(const char *p, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = p[i];

        if (c == '=') {
            if (i + 2 < len && p[i + 1] == '2' && p[i + 2] == 'C')
                c = ',';
            else if (i + 2 < len && p[i + 1] == '3' && p[i + 2] == 'D')
                c = '=';
            else
                return -EINVAL;
            i += 2;
        }
        if (n + 1 >= cap)
            return -EINVAL;
        out[n++] = c;
    }
    out[n] = '\0';
    if (n == 0 || !utf8_ok((const uint8_t *)out, n))
        return -EINVAL;
    return 0;
}

int
nd_scram_server_start(struct nd_scram_server *s, const char *msg, size_t len)
{
    struct field f[FIELDS_MAX];
    int n;

    memset(s, 0, sizeof(*s));
    s->state = ST_DONE;
    if (!message_ok(msg, len))
        return -EINVAL;
    /* gs2-header: a channel-binding flag, then an optional authzid. */
    if (len >= 2 && msg[0] == 'p' && msg[1] == '=')
        return -ENOTSUP;
    if (len < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
        return -EINVAL;
    if (len >= 4 && msg[2] == 'a' && msg[3] == '=')
        return -ENOTSUP;
    if (msg[2] != ',')
        return -EINVAL;
    memcpy(s->gs2, msg, 3);
    msg += 3;
    len -= 3;

    n = split(msg, len, f);
    if (n < 2 || is_attr(&f[0], 'm') || !is_attr(&f[0], 'n') ||
        !is_attr(&f[1], 'r') || !extensions_ok(f, 2, n))
        goto bad;
    if (sasl_decode(f[0].p + 2, f[0].len - 2, s->user, sizeof(s->user)) < 0)
        goto bad;
    if (!nonce_ok(f[1].p + 2, f[1].len - 2, ND_SCRAM_NONCE_MAX))
        goto bad;
    memcpy(s->nonce, f[1].p + 2, f[1].len - 2);
    s->cnonce_len = f[1].len - 2;
    memcpy(s->first_bare, msg, len);
    s->state = ST_FIRST;
    return 0;
bad:
    nd_scram_server_clear(s);
    s->state = ST_DONE;
    return -EINVAL;
}

const char *
nd_scram_server_user(const struct nd_scram_server *s)
{
    return s->user;
}

int
nd_scram_server_challenge(struct nd_scram_server *s,
                          const struct nd_scram_verifier *v,
                          const char *server_nonce, char *out, size_t cap)
{
    char snonce[ND_SCRAM_NONCE_MAX + 1];
    char salt[B64_LEN(ND_SCRAM_SALT_MAX) + 1];
    size_t slen;
    int n, rc;

    if (s->state != ST_FIRST || !verifier_ok(v))
        return -EINVAL;
    if (server_nonce == NULL) {
        rc = random_nonce(snonce, sizeof(snonce));
        if (rc < 0)
            return rc;
    } else {
        if (!nonce_ok(server_nonce, strlen(server_nonce), ND_SCRAM_NONCE_MAX))
            return -EINVAL;
        strcpy(snonce, server_nonce);
    }
    slen = strlen(snonce);
    memcpy(s->nonce + s->cnonce_len, snonce, slen + 1);
    s->v = *v;
    b64_encode(v->salt, v->salt_len, salt, sizeof(salt));
    /* Cannot overflow: both nonces and the salt are bounded. */
    n = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d",
                 s->nonce, salt, v->iterations);
    rc = put(out, cap, s->server_first, (size_t)n);
    if (rc < 0)
        return rc;
    s->state = ST_CHAL;
    return rc;
}

int
nd_scram_server_finish(struct nd_scram_server *s, const char *msg, size_t len,
                       char *out, size_t cap)
{
    static const char refusal[] = "e=invalid-proof";
    struct field f[FIELDS_MAX];
    uint8_t cbind[8], proof[ND_SCRAM_KEY_LEN], sig[ND_SCRAM_KEY_LEN];
    uint8_t key[ND_SCRAM_KEY_LEN], stored[ND_SCRAM_KEY_LEN];
    struct part am[5];
    size_t nlen;
    int n, rc = -EINVAL;

    if (s->state != ST_CHAL)
        return -EINVAL;
    s->state = ST_DONE;
    if (cap < 2 + B64_KEY_LEN + 1)
        return -ENOSPC;
    if (!message_ok(msg, len))
        return -EINVAL;
    /* Exactly c=, r=, p=: no extensions are understood. */
    n = split(msg, len, f);
    if (n != 3 || !is_attr(&f[0], 'c') || !is_attr(&f[1], 'r') ||
        !is_attr(&f[2], 'p'))
        return -EINVAL;
    n = b64_decode(f[0].p + 2, f[0].len - 2, cbind, sizeof(cbind));
    if (n != 3 || memcmp(cbind, s->gs2, 3) != 0)
        return -EINVAL;
    nlen = strlen(s->nonce);
    if (f[1].len - 2 != nlen || memcmp(f[1].p + 2, s->nonce, nlen) != 0)
        return -EINVAL;
    if (b64_decode(f[2].p + 2, f[2].len - 2, proof, sizeof(proof)) !=
        ND_SCRAM_KEY_LEN)
        return -EINVAL;

    /* AuthMessage = client-first-bare "," server-first ","
     * client-final-without-proof. */
    am[0] = (struct part){s->first_bare, strlen(s->first_bare)};
    am[1] = (struct part){",", 1};
    am[2] = (struct part){s->server_first, strlen(s->server_first)};
    am[3] = (struct part){",", 1};
    am[4] = (struct part){msg, (size_t)(f[2].p - 1 - msg)};
    rc = hmac(s->v.stored_key, ND_SCRAM_KEY_LEN, am, 5, sig);
    if (rc < 0)
        goto out;
    /* ClientKey = ClientProof XOR ClientSignature; it is right when its hash
     * is the StoredKey. */
    for (int i = 0; i < ND_SCRAM_KEY_LEN; i++)
        key[i] = proof[i] ^ sig[i];
    rc = sha256(key, sizeof(key), stored);
    if (rc < 0)
        goto out;
    if (CRYPTO_memcmp(stored, s->v.stored_key, ND_SCRAM_KEY_LEN) != 0) {
        (void)put(out, cap, refusal, sizeof(refusal) - 1);
        rc = -EACCES;
        goto out;
    }
    rc = hmac_str(sig, sizeof(sig), SESSION_LABEL, s->session);
    if (rc < 0)
        goto out;
    rc = hmac(s->v.server_key, ND_SCRAM_KEY_LEN, am, 5, sig);
    if (rc < 0)
        goto out;
    memcpy(out, "v=", 2);
    rc = b64_encode(sig, sizeof(sig), out + 2, cap - 2);
    if (rc >= 0) {
        rc += 2;
        s->session_ok = true;
    }
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_cleanse(stored, sizeof(stored));
    return rc;
}

void
nd_scram_server_clear(struct nd_scram_server *s)
{
    OPENSSL_cleanse(s, sizeof(*s));
}

int
nd_scram_client_first(struct nd_scram_client *c, const char *user,
                      const char *nonce, char *out, size_t cap)
{
    size_t n = 0, nlen;
    int rc;

    memset(c, 0, sizeof(*c));
    c->state = ST_DONE;
    if (user == NULL || user[0] == '\0')
        return -EINVAL;
    if (nonce == NULL) {
        rc = random_nonce(c->nonce, sizeof(c->nonce));
        if (rc < 0)
            return rc;
    } else {
        if (!nonce_ok(nonce, strlen(nonce), ND_SCRAM_NONCE_MAX))
            return -EINVAL;
        strcpy(c->nonce, nonce);
    }
    /* client-first-message-bare: "n=" saslname ",r=" nonce. */
    memcpy(c->first_bare, "n=", 2);
    n = 2;
    for (const char *p = user; *p != '\0'; p++) {
        const char *esc = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
        size_t k = esc != NULL ? 3 : 1;

        if (n + k >= sizeof(c->first_bare))
            return -ENOSPC;
        memcpy(c->first_bare + n, esc != NULL ? esc : p, k);
        n += k;
    }
    nlen = strlen(c->nonce);
    /* The whole message, with "n,,", must fit ND_SCRAM_MSG_MAX. */
    if (3 + n + 3 + nlen > ND_SCRAM_MSG_MAX)
        return -ENOSPC;
    memcpy(c->first_bare + n, ",r=", 3);
    memcpy(c->first_bare + n + 3, c->nonce, nlen + 1);
    n += 3 + nlen;
    if (3 + n + 1 > cap)
        return -ENOSPC;
    memcpy(out, "n,,", 3);
    memcpy(out + 3, c->first_bare, n + 1);
    c->state = ST_FIRST;
    return (int)(3 + n);
}

/*
 * Fills client_key, stored and server for (pw, salt, iter): from keys when
 * it holds that salt and count, else by derive_keys(), then remembered in
 * keys.  keys may be NULL (no cache).  Returns 0 or -EIO.
 */
static int
client_keys(struct nd_scram_client_keys *keys, const char *pw, size_t pwlen,
            const uint8_t *salt, size_t salt_len, int iter,
            uint8_t client_key[ND_SCRAM_KEY_LEN],
            uint8_t stored[ND_SCRAM_KEY_LEN], uint8_t server[ND_SCRAM_KEY_LEN])
{
    int rc;

    if (keys != NULL && keys->iterations == iter &&
        keys->salt_len == salt_len && memcmp(keys->salt, salt, salt_len) == 0) {
        memcpy(client_key, keys->client_key, ND_SCRAM_KEY_LEN);
        memcpy(stored, keys->stored_key, ND_SCRAM_KEY_LEN);
        memcpy(server, keys->server_key, ND_SCRAM_KEY_LEN);
        return 0;
    }
    rc = derive_keys(pw, pwlen, salt, salt_len, iter, client_key, stored,
                     server);
    if (rc < 0 || keys == NULL)
        return rc;
    keys->iterations = iter;
    keys->salt_len = salt_len;
    memcpy(keys->salt, salt, salt_len);
    memcpy(keys->client_key, client_key, ND_SCRAM_KEY_LEN);
    memcpy(keys->stored_key, stored, ND_SCRAM_KEY_LEN);
    memcpy(keys->server_key, server, ND_SCRAM_KEY_LEN);
    return 0;
}

int
nd_scram_client_final(struct nd_scram_client *c, const char *pw, size_t pwlen,
                      const char *msg, size_t len, char *out, size_t cap)
{
    return nd_scram_client_final_cached(c, NULL, pw, pwlen, msg, len, out, cap);
}

int
nd_scram_client_final_cached(struct nd_scram_client *c,
                             struct nd_scram_client_keys *keys, const char *pw,
                             size_t pwlen, const char *msg, size_t len,
                             char *out, size_t cap)
{
    struct field f[FIELDS_MAX];
    uint8_t salt[ND_SCRAM_SALT_MAX], client_key[ND_SCRAM_KEY_LEN];
    uint8_t stored[ND_SCRAM_KEY_LEN], server[ND_SCRAM_KEY_LEN];
    uint8_t sig[ND_SCRAM_KEY_LEN];
    char final[ND_SCRAM_MSG_MAX + 1];
    struct part am[5];
    size_t clen = strlen(c->nonce), rlen, wlen;
    long iter;
    int n, slen, rc = -EINVAL;

    if (c->state != ST_FIRST)
        return -EINVAL;
    c->state = ST_DONE;
    if (!message_ok(msg, len))
        return -EINVAL;
    n = split(msg, len, f);
    if (n < 3 || !is_attr(&f[0], 'r') || !is_attr(&f[1], 's') ||
        !is_attr(&f[2], 'i') || !extensions_ok(f, 3, n))
        return -EINVAL;
    rlen = f[0].len - 2;
    if (!nonce_ok(f[0].p + 2, rlen, 2 * ND_SCRAM_NONCE_MAX) || rlen <= clen ||
        memcmp(f[0].p + 2, c->nonce, clen) != 0)
        return -EINVAL;
    slen = b64_decode(f[1].p + 2, f[1].len - 2, salt, sizeof(salt));
    if (slen <= 0)
        return -EINVAL;
    if (parse_count(f[2].p + 2, f[2].len - 2, &iter) < 0)
        return -EINVAL;
    if (iter < ND_SCRAM_MIN_ITERATIONS || iter > ND_SCRAM_MAX_ITERATIONS)
        return -EPROTO;

    /* client-final-message-without-proof; fits: the nonce is bounded. */
    wlen = (size_t)snprintf(final, sizeof(final), "c=biws,r=%.*s", (int)rlen,
                            f[0].p + 2);
    if (wlen + 3 + B64_KEY_LEN + 1 > cap)
        return -ENOSPC;
    rc = client_keys(keys, pw, pwlen, salt, (size_t)slen, (int)iter, client_key,
                     stored, server);
    if (rc < 0)
        goto out;
    am[0] = (struct part){c->first_bare, strlen(c->first_bare)};
    am[1] = (struct part){",", 1};
    am[2] = (struct part){msg, len};
    am[3] = (struct part){",", 1};
    am[4] = (struct part){final, wlen};
    rc = hmac(stored, sizeof(stored), am, 5, sig);
    if (rc == 0)
        rc = hmac_str(sig, sizeof(sig), SESSION_LABEL, c->session);
    if (rc < 0)
        goto out;
    for (int i = 0; i < ND_SCRAM_KEY_LEN; i++)
        client_key[i] ^= sig[i]; /* now the ClientProof */
    rc = hmac(server, sizeof(server), am, 5, c->server_sig);
    if (rc < 0)
        goto out;
    memcpy(out, final, wlen);
    memcpy(out + wlen, ",p=", 3);
    rc = b64_encode(client_key, sizeof(client_key), out + wlen + 3,
                    cap - wlen - 3);
    if (rc < 0)
        goto out;
    rc += (int)wlen + 3;
    c->state = ST_CHAL;
out:
    OPENSSL_cleanse(client_key, sizeof(client_key));
    OPENSSL_cleanse(stored, sizeof(stored));
    OPENSSL_cleanse(server, sizeof(server));
    OPENSSL_cleanse(sig, sizeof(sig));
    return rc;
}

int
nd_scram_client_verify(struct nd_scram_client *c, const char *msg, size_t len)
{
    struct field f[FIELDS_MAX];
    uint8_t sig[ND_SCRAM_KEY_LEN];
    int n;

    if (c->state != ST_CHAL)
        return -EINVAL;
    c->state = ST_DONE;
    if (!message_ok(msg, len))
        return -EINVAL;
    if (len >= 2 && msg[0] == 'e' && msg[1] == '=')
        return -EACCES;
    n = split(msg, len, f);
    if (n < 1 || !is_attr(&f[0], 'v') || !extensions_ok(f, 1, n))
        return -EINVAL;
    if (b64_decode(f[0].p + 2, f[0].len - 2, sig, sizeof(sig)) !=
        ND_SCRAM_KEY_LEN)
        return -EINVAL;
    if (CRYPTO_memcmp(sig, c->server_sig, ND_SCRAM_KEY_LEN) != 0)
        return -EACCES;
    c->session_ok = true;
    return 0;
}

int
nd_scram_client_session(const struct nd_scram_client *c,
                        uint8_t session[ND_SCRAM_KEY_LEN])
{
    if (!c->session_ok)
        return -EINVAL;
    memcpy(session, c->session, ND_SCRAM_KEY_LEN);
    return 0;
}

int
nd_scram_server_session(const struct nd_scram_server *s,
                        uint8_t session[ND_SCRAM_KEY_LEN],
                        uint8_t stored_key[ND_SCRAM_KEY_LEN])
{
    if (!s->session_ok)
        return -EINVAL;
    memcpy(session, s->session, ND_SCRAM_KEY_LEN);
    if (stored_key != NULL)
        memcpy(stored_key, s->v.stored_key, ND_SCRAM_KEY_LEN);
    return 0;
}

int
nd_scram_hmac(const uint8_t *key, size_t klen, const void *const p[],
              const size_t len[], int n, uint8_t out[ND_SCRAM_KEY_LEN])
{
    struct part parts[8];

    if (n < 0 || n > (int)(sizeof(parts) / sizeof(parts[0])))
        return -EINVAL;
    for (int i = 0; i < n; i++)
        parts[i] = (struct part){p[i], len[i]};
    return hmac(key, klen, parts, n, out);
}

void
nd_scram_client_clear(struct nd_scram_client *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
}

void
nd_scram_client_keys_clear(struct nd_scram_client_keys *keys)
{
    OPENSSL_cleanse(keys, sizeof(*keys));
}
