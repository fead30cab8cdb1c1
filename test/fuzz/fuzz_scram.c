/*
 * fuzz_scram: libFuzzer target for the SCRAM-SHA-256 message parsers, on
 * both sides of a login, and for the stored verifier's text form.
 *
 * The first byte picks what the rest is (its value modulo 3, so '0', '1'
 * and '2' in the seeds), and the rest is split at its first '\n' into the
 * two messages a peer sends:
 *
 *   '0' the server's side: client-first-message, '\n', client-final-message,
 *       handled as nd_login does it (the RFC 7677 user "user" has a real
 *       verifier, any other name gets the mock one);
 *   '1' the client's side: server-first-message, '\n', server-final-message,
 *       answered for user "user" with password "pencil" and the RFC 7677
 *       client nonce;
 *   '2' a users_file verifier, "SCRAM-SHA-256$<iter>:<salt>$<key>:<key>".
 *
 * Invariants, beyond sanitizer silence: each function answers only with the
 * codes its header lists; what the server accepts as a client-first, our
 * client re-encodes to the very same bytes (or, with extensions or the "y"
 * flag, to a message the server reads the same way); a proof the server
 * accepts is exactly the one our client computes, and our client accepts
 * the server's answer to it; a mock verifier accepts nothing; a verifier
 * the parser accepts formats back to the very same text.
 *
 * The client side runs PBKDF2 with the i= the server sends.  Inputs whose
 * i= is above the minimum but within range are skipped: 4096 rounds are
 * what the RFC example and the daemon's default use, and ten million rounds
 * per input would only make the fuzzer slow, not find more.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz_util.h"
#include "nd_scram.h"

/* RFC 7677's example: user "user", password "pencil", these nonces. */
#define RFC_USER "user"
#define RFC_PW "pencil"
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

static struct nd_scram_verifier s_rfc;
static const uint8_t s_secret[32] = "fuzz_scram mock secret.........";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t salt[ND_SCRAM_SALT_MAX];
    int n;

    (void)argc, (void)argv;
    n = EVP_DecodeBlock(salt, (const unsigned char *)RFC_SALT,
                        (int)strlen(RFC_SALT));
    FUZZ_ASSERT(n == 18); /* 16 bytes and two '=' of padding */
    FUZZ_ASSERT(nd_scram_verifier_derive(RFC_PW, strlen(RFC_PW), salt, 16, 4096,
                                         &s_rfc) == 0);
    return 0;
}

/* True when the n bytes at p are canonical base64 of a 32-byte key. */
static bool
b64_key(const char *p, size_t n)
{
    if (n != 44 || p[43] != '=' || p[42] == '=')
        return false;
    for (size_t i = 0; i < 43; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '/'))
            return false;
    return true;
}

/* Counts the ','-separated fields of n bytes. */
static int
fields(const char *p, size_t n)
{
    int k = 1;

    for (size_t i = 0; i < n; i++)
        k += p[i] == ',';
    return k;
}

/* ---- the server's side --------------------------------------------- */

static void
fuzz_server(const char *m1, size_t l1, const char *m2, size_t l2)
{
    static struct nd_scram_server s, s2;
    static struct nd_scram_client c;
    struct nd_scram_verifier v, v2;
    char chal[ND_SCRAM_MSG_MAX + 1], again[ND_SCRAM_MSG_MAX + 1];
    char fin[ND_SCRAM_MSG_MAX + 1], mine[ND_SCRAM_MSG_MAX + 1];
    char cnonce[ND_SCRAM_NONCE_MAX + 1];
    const char *user, *suffix;
    size_t ulen, clen, slen;
    bool mock, canonical;
    int rc, n;

    rc = nd_scram_server_start(&s, m1, l1);
    FUZZ_ASSERT_MSG(rc == 0 || rc == -EINVAL || rc == -ENOTSUP, "start %d", rc);
    if (rc != 0) {
        /* A refused exchange is over: nothing may continue it. */
        FUZZ_ASSERT(nd_scram_server_user(&s)[0] == '\0');
        FUZZ_ASSERT(nd_scram_server_challenge(&s, &s_rfc, RFC_SNONCE, chal,
                                              sizeof(chal)) == -EINVAL);
        FUZZ_ASSERT(nd_scram_server_finish(&s, "c=biws", 6, fin, sizeof(fin)) ==
                    -EINVAL);
        nd_scram_server_clear(&s);
        return;
    }
    user = nd_scram_server_user(&s);
    ulen = strlen(user);
    FUZZ_ASSERT(ulen >= 1 && ulen <= l1);

    /* nd_login: a real verifier for the one user there is, a mock one (the
     * same on every try) for any other name. */
    mock = strcmp(user, RFC_USER) != 0;
    if (mock) {
        nd_scram_verifier_mock(s_secret, sizeof(s_secret), user, 4096, &v);
        nd_scram_verifier_mock(s_secret, sizeof(s_secret), user, 4096, &v2);
        FUZZ_ASSERT(memcmp(&v, &v2, sizeof(v)) == 0);
    } else {
        v = s_rfc;
    }
    n = nd_scram_server_challenge(&s, &v, RFC_SNONCE, chal, sizeof(chal));
    FUZZ_ASSERT_MSG(n > 0, "challenge %d", n);
    FUZZ_ASSERT((size_t)n == strlen(chal));
    /* "r=" CNONCE SNONCE ",s=" salt ",i=4096": the client's nonce is
     * handed back unchanged. */
    suffix = strstr(chal, RFC_SNONCE ",s=");
    FUZZ_ASSERT(strncmp(chal, "r=", 2) == 0 && suffix != NULL);
    FUZZ_ASSERT(strcmp(chal + n - 7, ",i=4096") == 0);
    clen = (size_t)(suffix - chal) - 2;
    FUZZ_ASSERT(clen >= 1 && clen <= ND_SCRAM_NONCE_MAX);
    memcpy(cnonce, chal + 2, clen);
    cnonce[clen] = '\0';
    FUZZ_ASSERT(strchr(cnonce, ',') == NULL);

    /* encode(decode(x)): our client, given the decoded name and nonce,
     * says the same thing; byte for byte when x is the plain form. */
    n = nd_scram_client_first(&c, user, cnonce, again, sizeof(again));
    FUZZ_ASSERT_MSG(n > 0, "client_first %d for what the server accepted", n);
    canonical =
        l1 > 3 && memcmp(m1, "n,,", 3) == 0 && fields(m1 + 3, l1 - 3) == 2;
    if (canonical) {
        FUZZ_ASSERT_MSG((size_t)n == l1 && memcmp(again, m1, l1) == 0,
                        "re-encoded as \"%s\"", again);
    } else {
        FUZZ_ASSERT(nd_scram_server_start(&s2, again, (size_t)n) == 0);
        FUZZ_ASSERT(strcmp(nd_scram_server_user(&s2), user) == 0);
        nd_scram_server_clear(&s2);
    }

    if (m2 == NULL) {
        nd_scram_client_clear(&c);
        nd_scram_server_clear(&s);
        return;
    }
    memset(fin, 0x55, sizeof(fin));
    rc = nd_scram_server_finish(&s, m2, l2, fin, sizeof(fin));
    FUZZ_ASSERT_MSG(rc > 0 || rc == -EACCES || rc == -EINVAL, "finish %d", rc);
    /* The exchange is over whatever happened. */
    FUZZ_ASSERT(nd_scram_server_finish(&s, m2, l2, mine, sizeof(mine)) ==
                -EINVAL);
    if (rc == -EACCES)
        FUZZ_ASSERT(strcmp(fin, "e=invalid-proof") == 0);
    if (rc > 0) {
        /* No password matches a mock verifier. */
        FUZZ_ASSERT(!mock);
        FUZZ_ASSERT((size_t)rc == strlen(fin) && rc == 46);
        FUZZ_ASSERT(strncmp(fin, "v=", 2) == 0 && b64_key(fin + 2, 44));
        /* Only the password's owner makes a proof the server accepts: our
         * client, run on the same messages, sends exactly m2 and accepts
         * the server's answer. */
        if (canonical) {
            slen = strlen(chal);
            n = nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), chal, slen,
                                      mine, sizeof(mine));
            FUZZ_ASSERT_MSG(n > 0, "client_final %d", n);
            FUZZ_ASSERT_MSG((size_t)n == l2 && memcmp(mine, m2, l2) == 0,
                            "accepted proof differs from \"%s\"", mine);
            FUZZ_ASSERT(nd_scram_client_verify(&c, fin, (size_t)rc) == 0);
        }
    }
    nd_scram_client_clear(&c);
    nd_scram_server_clear(&s);
}

/* ---- the client's side --------------------------------------------- */

/*
 * True when some "i=" field of the n bytes asks for more rounds than the
 * minimum but no more than the maximum: PBKDF2 would run for it.  Counts
 * outside the range are refused before any hashing, so they stay in.
 */
static bool
costly_iterations(const char *p, size_t n)
{
    for (size_t i = 0; i + 2 <= n; i++) {
        unsigned long long v = 0;

        if ((i > 0 && p[i - 1] != ',') || p[i] != 'i' || p[i + 1] != '=')
            continue;
        for (size_t k = i + 2; k < n && p[k] >= '0' && p[k] <= '9'; k++)
            if (v <= ND_SCRAM_MAX_ITERATIONS)
                v = v * 10 + (unsigned)(p[k] - '0');
        if (v > ND_SCRAM_MIN_ITERATIONS && v <= ND_SCRAM_MAX_ITERATIONS)
            return true;
    }
    return false;
}

static void
fuzz_client(const char *m1, size_t l1, const char *m2, size_t l2)
{
    static struct nd_scram_client c;
    static struct nd_scram_server s;
    char first[ND_SCRAM_MSG_MAX + 1], final[ND_SCRAM_MSG_MAX + 1];
    char fin[ND_SCRAM_MSG_MAX + 1], want[ND_SCRAM_MSG_MAX + 1];
    char sn[ND_SCRAM_NONCE_MAX + 1];
    const char *r, *snonce;
    size_t rlen;
    bool checked = false;
    int n, rc;

    if (costly_iterations(m1, l1))
        return;
    n = nd_scram_client_first(&c, RFC_USER, RFC_CNONCE, first, sizeof(first));
    FUZZ_ASSERT(n > 0 && strcmp(first, "n,,n=user,r=" RFC_CNONCE) == 0);
    rc = nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), m1, l1, final,
                               sizeof(final));
    FUZZ_ASSERT_MSG(rc > 0 || rc == -EINVAL || rc == -EPROTO, "final %d", rc);
    if (rc < 0) {
        /* A refused exchange is over: nothing may continue it. */
        FUZZ_ASSERT(nd_scram_client_verify(&c, m2 != NULL ? m2 : "v=",
                                           m2 != NULL ? l2 : 2) == -EINVAL);
        nd_scram_client_clear(&c);
        return;
    }
    /* "c=biws,r=" the server's r= ",p=" proof. */
    FUZZ_ASSERT((size_t)rc == strlen(final));
    FUZZ_ASSERT(strncmp(final, "c=biws,r=" RFC_CNONCE, 29) == 0);
    r = m1 + 2;
    rlen = strcspn(r, ",");
    FUZZ_ASSERT(rlen < l1 && strncmp(final + 7, r - 2, rlen + 2) == 0);
    FUZZ_ASSERT((size_t)rc == 9 + rlen + 3 + 44);
    FUZZ_ASSERT(strncmp(final + 9 + rlen, ",p=", 3) == 0 &&
                b64_key(final + 12 + rlen, 44));

    /* A server holding user's verifier accepts the proof when it sent this
     * very server-first: the plain form, with RFC 7677's salt and count,
     * whose verifier is at hand. */
    snonce = r + strlen(RFC_CNONCE);
    rlen -= strlen(RFC_CNONCE);
    if (rlen <= ND_SCRAM_NONCE_MAX) {
        int k;

        memcpy(sn, snonce, rlen);
        sn[rlen] = '\0';
        k = snprintf(want, sizeof(want),
                     "r=" RFC_CNONCE "%s,s=" RFC_SALT ",i=4096", sn);
        checked = (size_t)k == l1 && memcmp(want, m1, l1) == 0;
    }
    if (checked) {
        FUZZ_ASSERT(nd_scram_server_start(&s, first, (size_t)n) == 0);
        FUZZ_ASSERT(nd_scram_server_challenge(&s, &s_rfc, sn, want,
                                              sizeof(want)) == (int)l1);
        FUZZ_ASSERT(memcmp(want, m1, l1) == 0);
        rc = nd_scram_server_finish(&s, final, strlen(final), fin, sizeof(fin));
        FUZZ_ASSERT_MSG(rc == 46, "the server refused our proof: %d", rc);
        nd_scram_server_clear(&s);
    }

    if (m2 != NULL) {
        rc = nd_scram_client_verify(&c, m2, l2);
        FUZZ_ASSERT_MSG(rc == 0 || rc == -EACCES || rc == -EINVAL, "verify %d",
                        rc);
        if (rc == 0 && checked)
            FUZZ_ASSERT(l2 >= 46 && memcmp(m2, fin, 46) == 0);
        /* The exchange is over whatever happened. */
        FUZZ_ASSERT(nd_scram_client_verify(&c, m2, l2) == -EINVAL);
    } else if (checked) {
        FUZZ_ASSERT(nd_scram_client_verify(&c, fin, 46) == 0);
    }
    nd_scram_client_clear(&c);
}

/* ---- the verifier -------------------------------------------------- */

static void
fuzz_verifier(const char *text, size_t len)
{
    static char s[ND_SCRAM_MSG_MAX + 1];
    struct nd_scram_verifier v;
    char out[ND_SCRAM_VERIFIER_MAX];
    int rc, n;

    /* users_file hands the parser a NUL-terminated line. */
    if (len > ND_SCRAM_MSG_MAX)
        return;
    memcpy(s, text, len);
    s[len] = '\0';
    rc = nd_scram_verifier_parse(s, &v);
    FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc != 0)
        return;
    FUZZ_ASSERT(v.iterations >= ND_SCRAM_MIN_ITERATIONS &&
                v.iterations <= ND_SCRAM_MAX_ITERATIONS);
    FUZZ_ASSERT(v.salt_len >= 1 && v.salt_len <= ND_SCRAM_SALT_MAX);
    /* The parse is strict, so the text is the one format() writes. */
    n = nd_scram_verifier_format(&v, out, sizeof(out));
    FUZZ_ASSERT_MSG(n > 0 && strcmp(out, s) == 0, "\"%s\" formats as \"%s\"", s,
                    n > 0 ? out : "(error)");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *m1, *m2 = NULL, *nl;
    size_t l1, l2 = 0;

    if (size < 1)
        return 0;
    m1 = (const char *)data + 1;
    l1 = size - 1;
    if (data[0] % 3 == 2) {
        fuzz_verifier(m1, l1);
        return 0;
    }
    nl = memchr(m1, '\n', l1);
    if (nl != NULL) {
        m2 = nl + 1;
        l2 = l1 - (size_t)(m2 - m1);
        l1 = (size_t)(nl - m1);
    }
    if (data[0] % 3 == 0)
        fuzz_server(m1, l1, m2, l2);
    else
        fuzz_client(m1, l1, m2, l2);
    return 0;
}
