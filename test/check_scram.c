/*
 * Unit tests for nd_scram: the RFC 7677 section 3 example byte for byte from
 * both sides, wrong passwords and tampered messages, the verifier text form,
 * mock verifiers, and the malformed messages each side must refuse.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nd_scram.h"

/* RFC 7677, section 3. */
#define RFC_USER "user"
#define RFC_PW "pencil"
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST                                                       \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                    \
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL                                                       \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"             \
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* The combined nonce of the example, for hand-made client-finals. */
#define RFC_NONCE RFC_CNONCE RFC_SNONCE

static const uint8_t secret_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t secret_b[32] = "fedcba9876543210fedcba9876543210";

/* The example's salt as bytes. */
static size_t
rfc_salt(uint8_t salt[16])
{
    uint8_t buf[24];
    int n = EVP_DecodeBlock(buf, (const unsigned char *)RFC_SALT,
                            (int)strlen(RFC_SALT));

    ck_assert_int_eq(n, 18); /* 16 bytes and two of padding */
    memcpy(salt, buf, 16);
    return 16;
}

/* The verifier the example's server holds. */
static void
rfc_verifier(struct nd_scram_verifier *v)
{
    uint8_t salt[16];
    size_t n = rfc_salt(salt);

    ck_assert_int_eq(
        nd_scram_verifier_derive(RFC_PW, strlen(RFC_PW), salt, n, 4096, v), 0);
}

/* A server that has taken the example's client-first and sent the
 * example's server-first. */
static void
rfc_server(struct nd_scram_server *s)
{
    struct nd_scram_verifier v;
    char out[ND_SCRAM_MSG_MAX];

    rfc_verifier(&v);
    ck_assert_int_eq(
        nd_scram_server_start(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST)),
        0);
    ck_assert_int_eq(
        nd_scram_server_challenge(s, &v, RFC_SNONCE, out, sizeof(out)),
        (int)strlen(RFC_SERVER_FIRST));
}

static int
server_start_str(const char *msg)
{
    struct nd_scram_server s;
    int rc = nd_scram_server_start(&s, msg, strlen(msg));

    nd_scram_server_clear(&s);
    return rc;
}

/* Runs the example's server on a hand-made client-final. */
static int
rfc_finish(const char *final)
{
    struct nd_scram_server s;
    char out[ND_SCRAM_MSG_MAX];
    int rc;

    rfc_server(&s);
    rc = nd_scram_server_finish(&s, final, strlen(final), out, sizeof(out));
    nd_scram_server_clear(&s);
    return rc;
}

/* A client that has sent the example's client-first. */
static void
rfc_client(struct nd_scram_client *c)
{
    char out[ND_SCRAM_MSG_MAX];

    ck_assert_int_eq(
        nd_scram_client_first(c, RFC_USER, RFC_CNONCE, out, sizeof(out)),
        (int)strlen(RFC_CLIENT_FIRST));
}

/* Runs the example's client (password pencil) on a server-first. */
static int
rfc_client_final(const char *first)
{
    struct nd_scram_client c;
    char out[ND_SCRAM_MSG_MAX];
    int rc;

    rfc_client(&c);
    rc = nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), first, strlen(first),
                               out, sizeof(out));
    nd_scram_client_clear(&c);
    return rc;
}

/* A whole exchange between our client and our server with random nonces.
 * Returns what nd_scram_server_finish() returned. */
static int
exchange(const char *user, const char *pw, const struct nd_scram_verifier *v,
         int *verify_rc)
{
    struct nd_scram_client c;
    struct nd_scram_server s;
    char m1[ND_SCRAM_MSG_MAX], m2[ND_SCRAM_MSG_MAX], m3[ND_SCRAM_MSG_MAX];
    char m4[ND_SCRAM_MSG_MAX];
    int n, rc;

    n = nd_scram_client_first(&c, user, NULL, m1, sizeof(m1));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(nd_scram_server_start(&s, m1, (size_t)n), 0);
    ck_assert_str_eq(nd_scram_server_user(&s), user);
    n = nd_scram_server_challenge(&s, v, NULL, m2, sizeof(m2));
    ck_assert_int_gt(n, 0);
    n = nd_scram_client_final(&c, pw, strlen(pw), m2, (size_t)n, m3,
                              sizeof(m3));
    ck_assert_int_gt(n, 0);
    strcpy(m4, "unchanged");
    rc = nd_scram_server_finish(&s, m3, (size_t)n, m4, sizeof(m4));
    if (rc > 0) {
        ck_assert_uint_eq(strlen(m4), (size_t)rc);
        ck_assert(strncmp(m4, "v=", 2) == 0);
        *verify_rc = nd_scram_client_verify(&c, m4, (size_t)rc);
    } else {
        ck_assert_str_eq(m4, "e=invalid-proof");
        *verify_rc = nd_scram_client_verify(&c, m4, strlen(m4));
    }
    nd_scram_server_clear(&s);
    nd_scram_client_clear(&c);
    return rc;
}

START_TEST(test_rfc7677_client)
{
    struct nd_scram_client c;
    char out[ND_SCRAM_MSG_MAX];
    int n;

    n = nd_scram_client_first(&c, RFC_USER, RFC_CNONCE, out, sizeof(out));
    ck_assert_int_eq(n, (int)strlen(RFC_CLIENT_FIRST));
    ck_assert_str_eq(out, RFC_CLIENT_FIRST);
    n = nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), RFC_SERVER_FIRST,
                              strlen(RFC_SERVER_FIRST), out, sizeof(out));
    ck_assert_int_eq(n, (int)strlen(RFC_CLIENT_FINAL));
    ck_assert_str_eq(out, RFC_CLIENT_FINAL);
    ck_assert_int_eq(
        nd_scram_client_verify(&c, RFC_SERVER_FINAL, strlen(RFC_SERVER_FINAL)),
        0);
    nd_scram_client_clear(&c);
}
END_TEST

/* The key cache gives the RFC's answer both when it derives the keys and
 * when it reuses them, and derives again for another salt. */
START_TEST(test_rfc7677_client_cached)
{
    struct nd_scram_client_keys keys = {0};
    char out[ND_SCRAM_MSG_MAX];

    for (int round = 0; round < 2; round++) {
        struct nd_scram_client c;
        int n;

        rfc_client(&c);
        n = nd_scram_client_final_cached(
            &c, &keys, RFC_PW, strlen(RFC_PW), RFC_SERVER_FIRST,
            strlen(RFC_SERVER_FIRST), out, sizeof(out));
        ck_assert_int_eq(n, (int)strlen(RFC_CLIENT_FINAL));
        ck_assert_str_eq(out, RFC_CLIENT_FINAL);
        ck_assert_int_eq(nd_scram_client_verify(&c, RFC_SERVER_FINAL,
                                                strlen(RFC_SERVER_FINAL)),
                         0);
        nd_scram_client_clear(&c);
    }
    /* Another salt (and iteration count) must not reuse the cached keys:
     * an exchange with a verifier of its own still succeeds. */
    {
        static const uint8_t salt[16] = "another-salt-16b";
        struct nd_scram_verifier v;
        struct nd_scram_client c;
        struct nd_scram_server s;
        char m1[ND_SCRAM_MSG_MAX], m2[ND_SCRAM_MSG_MAX], m3[ND_SCRAM_MSG_MAX];
        char m4[ND_SCRAM_MSG_MAX];
        int n;

        ck_assert_int_eq(nd_scram_verifier_derive(RFC_PW, strlen(RFC_PW), salt,
                                                  sizeof(salt), 5000, &v),
                         0);
        n = nd_scram_client_first(&c, "user", NULL, m1, sizeof(m1));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(nd_scram_server_start(&s, m1, (size_t)n), 0);
        n = nd_scram_server_challenge(&s, &v, NULL, m2, sizeof(m2));
        ck_assert_int_gt(n, 0);
        n = nd_scram_client_final_cached(&c, &keys, RFC_PW, strlen(RFC_PW), m2,
                                         (size_t)n, m3, sizeof(m3));
        ck_assert_int_gt(n, 0);
        n = nd_scram_server_finish(&s, m3, (size_t)n, m4, sizeof(m4));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(nd_scram_client_verify(&c, m4, (size_t)n), 0);
        nd_scram_server_clear(&s);
        nd_scram_client_clear(&c);
    }
    nd_scram_client_keys_clear(&keys);
    for (size_t i = 0; i < sizeof(keys); i++)
        ck_assert_uint_eq(((const unsigned char *)&keys)[i], 0);
}
END_TEST

START_TEST(test_rfc7677_server)
{
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    char out[ND_SCRAM_MSG_MAX];
    int n;

    rfc_verifier(&v);
    ck_assert_int_eq(
        nd_scram_server_start(&s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST)),
        0);
    ck_assert_str_eq(nd_scram_server_user(&s), RFC_USER);
    n = nd_scram_server_challenge(&s, &v, RFC_SNONCE, out, sizeof(out));
    ck_assert_int_eq(n, (int)strlen(RFC_SERVER_FIRST));
    ck_assert_str_eq(out, RFC_SERVER_FIRST);
    n = nd_scram_server_finish(&s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL),
                               out, sizeof(out));
    ck_assert_int_eq(n, (int)strlen(RFC_SERVER_FINAL));
    ck_assert_str_eq(out, RFC_SERVER_FINAL);
    nd_scram_server_clear(&s);
}
END_TEST

/* Messages are not NUL-terminated on the wire: only len counts. */
START_TEST(test_lengths_not_nul)
{
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    char buf[ND_SCRAM_MSG_MAX], out[ND_SCRAM_MSG_MAX];

    rfc_verifier(&v);
    memset(buf, 'X', sizeof(buf));
    memcpy(buf, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST));
    ck_assert_int_eq(nd_scram_server_start(&s, buf, strlen(RFC_CLIENT_FIRST)),
                     0);
    ck_assert_str_eq(nd_scram_server_user(&s), RFC_USER);
    ck_assert_int_gt(
        nd_scram_server_challenge(&s, &v, RFC_SNONCE, out, sizeof(out)), 0);
    memset(buf, 'X', sizeof(buf));
    memcpy(buf, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL));
    ck_assert_int_eq(nd_scram_server_finish(&s, buf, strlen(RFC_CLIENT_FINAL),
                                            out, sizeof(out)),
                     (int)strlen(RFC_SERVER_FINAL));
    ck_assert_str_eq(out, RFC_SERVER_FINAL);
    nd_scram_server_clear(&s);
}
END_TEST

START_TEST(test_random_exchange)
{
    struct nd_scram_verifier v;
    int vrc = -1;

    ck_assert_int_eq(nd_scram_verifier_new("s3cret", 6, 4096, &v), 0);
    ck_assert_int_eq(v.salt_len, ND_SCRAM_SALT_LEN);
    ck_assert_int_gt(exchange("alice", "s3cret", &v, &vrc), 0);
    ck_assert_int_eq(vrc, 0);
}
END_TEST

START_TEST(test_random_nonces_differ)
{
    struct nd_scram_client c;
    char a[ND_SCRAM_MSG_MAX], b[ND_SCRAM_MSG_MAX];

    ck_assert_int_gt(nd_scram_client_first(&c, "alice", NULL, a, sizeof(a)), 0);
    ck_assert_int_gt(nd_scram_client_first(&c, "alice", NULL, b, sizeof(b)), 0);
    /* "n,,n=alice,r=" and 32 characters of base64. */
    ck_assert_uint_eq(strlen(a), 13 + 32);
    ck_assert_str_ne(a, b);
    nd_scram_client_clear(&c);
}
END_TEST

START_TEST(test_wrong_password)
{
    struct nd_scram_verifier v;
    struct nd_scram_client c;
    struct nd_scram_server s;
    char m[ND_SCRAM_MSG_MAX], out[ND_SCRAM_MSG_MAX];
    int n, vrc = 0;

    ck_assert_int_eq(nd_scram_verifier_new("right", 5, 4096, &v), 0);
    ck_assert_int_eq(exchange("alice", "wrong", &v, &vrc), -EACCES);
    ck_assert_int_eq(vrc, -EACCES);
    ck_assert_int_eq(exchange("alice", "", &v, &vrc), -EACCES);
    ck_assert_int_eq(exchange("alice", "righ", &v, &vrc), -EACCES);
    ck_assert_int_eq(exchange("alice", "right ", &v, &vrc), -EACCES);

    /* The example's messages with a different password. */
    rfc_verifier(&v);
    rfc_client(&c);
    n = nd_scram_client_final(&c, "pencil2", 7, RFC_SERVER_FIRST,
                              strlen(RFC_SERVER_FIRST), m, sizeof(m));
    ck_assert_int_gt(n, 0);
    ck_assert_str_ne(m, RFC_CLIENT_FINAL);
    rfc_server(&s);
    ck_assert_int_eq(nd_scram_server_finish(&s, m, (size_t)n, out, sizeof(out)),
                     -EACCES);
    ck_assert_str_eq(out, "e=invalid-proof");
    /* The exchange is over: a retry on the same struct is refused. */
    ck_assert_int_eq(nd_scram_server_finish(&s, RFC_CLIENT_FINAL,
                                            strlen(RFC_CLIENT_FINAL), out,
                                            sizeof(out)),
                     -EINVAL);
    nd_scram_server_clear(&s);
    nd_scram_client_clear(&c);
}
END_TEST

START_TEST(test_tampered_server_final)
{
    static const char *bad_sig[] = {
        "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=",
        "e=invalid-proof",
        "e=other-error",
    };
    static const char *malformed[] = {
        "",
        "v=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A==",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,v=x",
        "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        " v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=\n",
    };
    struct nd_scram_client c;
    char out[ND_SCRAM_MSG_MAX];

    for (size_t i = 0; i < sizeof(bad_sig) / sizeof(bad_sig[0]); i++) {
        rfc_client(&c);
        ck_assert_int_gt(
            nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), RFC_SERVER_FIRST,
                                  strlen(RFC_SERVER_FIRST), out, sizeof(out)),
            0);
        ck_assert_msg(nd_scram_client_verify(&c, bad_sig[i],
                                             strlen(bad_sig[i])) == -EACCES,
                      "\"%s\" was not refused with -EACCES", bad_sig[i]);
    }
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        rfc_client(&c);
        ck_assert_int_gt(
            nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), RFC_SERVER_FIRST,
                                  strlen(RFC_SERVER_FIRST), out, sizeof(out)),
            0);
        ck_assert_msg(nd_scram_client_verify(&c, malformed[i],
                                             strlen(malformed[i])) == -EINVAL,
                      "\"%s\" was not refused with -EINVAL", malformed[i]);
    }
    /* An extension after v= is ignored. */
    rfc_client(&c);
    ck_assert_int_gt(
        nd_scram_client_final(&c, RFC_PW, strlen(RFC_PW), RFC_SERVER_FIRST,
                              strlen(RFC_SERVER_FIRST), out, sizeof(out)),
        0);
    ck_assert_int_eq(nd_scram_client_verify(&c, RFC_SERVER_FINAL ",x=y",
                                            strlen(RFC_SERVER_FINAL) + 4),
                     0);
    /* Once verified, the exchange is over. */
    ck_assert_int_eq(
        nd_scram_client_verify(&c, RFC_SERVER_FINAL, strlen(RFC_SERVER_FINAL)),
        -EINVAL);
    nd_scram_client_clear(&c);
}
END_TEST

START_TEST(test_verifier_round_trip)
{
    struct nd_scram_verifier v, w;
    char text[ND_SCRAM_VERIFIER_MAX];
    uint8_t salt[ND_SCRAM_SALT_MAX];
    int n;

    ck_assert_int_eq(nd_scram_verifier_new("pw", 2, 4096, &v), 0);
    n = nd_scram_verifier_format(&v, text, sizeof(text));
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(text), (size_t)n);
    ck_assert(strncmp(text, "SCRAM-SHA-256$4096:", 19) == 0);
    ck_assert_int_eq(nd_scram_verifier_parse(text, &w), 0);
    ck_assert_int_eq(w.iterations, v.iterations);
    ck_assert_uint_eq(w.salt_len, v.salt_len);
    ck_assert_mem_eq(w.salt, v.salt, v.salt_len);
    ck_assert_mem_eq(w.stored_key, v.stored_key, ND_SCRAM_KEY_LEN);
    ck_assert_mem_eq(w.server_key, v.server_key, ND_SCRAM_KEY_LEN);

    /* The largest verifier fits ND_SCRAM_VERIFIER_MAX. */
    memset(salt, 0xa5, sizeof(salt));
    ck_assert_int_eq(nd_scram_verifier_derive("pw", 2, salt, sizeof(salt),
                                              ND_SCRAM_MIN_ITERATIONS, &v),
                     0);
    v.iterations = ND_SCRAM_MAX_ITERATIONS;
    n = nd_scram_verifier_format(&v, text, sizeof(text));
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, ND_SCRAM_VERIFIER_MAX);
    ck_assert_int_eq(nd_scram_verifier_parse(text, &w), 0);
    ck_assert_int_eq(w.iterations, ND_SCRAM_MAX_ITERATIONS);
    ck_assert_uint_eq(w.salt_len, sizeof(salt));
    ck_assert_int_eq(nd_scram_verifier_format(&v, text, (size_t)n), -ENOSPC);
    ck_assert_int_eq(nd_scram_verifier_format(&v, text, (size_t)n + 1), n);

    /* The example's verifier: the keys are those of RFC 7677. */
    rfc_verifier(&v);
    n = nd_scram_verifier_format(&v, text, sizeof(text));
    ck_assert_int_gt(n, 0);
    ck_assert(strncmp(text, "SCRAM-SHA-256$4096:" RFC_SALT "$",
                      strlen("SCRAM-SHA-256$4096:" RFC_SALT "$")) == 0);
}
END_TEST

START_TEST(test_verifier_derive_limits)
{
    struct nd_scram_verifier v;
    uint8_t salt[ND_SCRAM_SALT_MAX + 1] = {0};

    ck_assert_int_eq(nd_scram_verifier_derive("pw", 2, salt, 0, 4096, &v),
                     -EINVAL);
    ck_assert_int_eq(
        nd_scram_verifier_derive("pw", 2, salt, sizeof(salt), 4096, &v),
        -EINVAL);
    ck_assert_int_eq(nd_scram_verifier_derive("pw", 2, salt, 16, 4095, &v),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_verifier_derive("pw", 2, salt, 16,
                                              ND_SCRAM_MAX_ITERATIONS + 1, &v),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_verifier_new("pw", 2, 100, &v), -EINVAL);
}
END_TEST

START_TEST(test_verifier_parse_rejects)
{
    /* A good one to mutate: salt "AAAA...", keys of 32 bytes. */
    static const char *bad[] = {
        "",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scram-sha-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        /* Iterations out of range or badly written. */
        "SCRAM-SHA-256$4095:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$10000001:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$99999999999999999999:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$04096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$+4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        /* Bad base64 in the salt: a stray character, no padding, an empty
         * salt, non-canonical trailing bits, a blank. */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6g!==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$4096:$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gR==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$4096: W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        /* A salt over ND_SCRAM_SALT_MAX (66 bytes). */
        "SCRAM-SHA-256$4096:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAA$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        /* Short and long keys. */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        /* Trailing junk. */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:x",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=AAAA",
    };
    static const char good[] = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    struct nd_scram_verifier v;

    ck_assert_int_eq(nd_scram_verifier_parse(good, &v), 0);
    ck_assert_int_eq(v.iterations, 4096);
    ck_assert_uint_eq(v.salt_len, 16);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(nd_scram_verifier_parse(bad[i], &v) == -EINVAL,
                      "\"%s\" was accepted", bad[i]);
}
END_TEST

START_TEST(test_mock_verifier)
{
    struct nd_scram_verifier a1, a2, b, other;
    int vrc = 0;

    nd_scram_verifier_mock(secret_a, 32, "alice", 4096, &a1);
    nd_scram_verifier_mock(secret_a, 32, "alice", 4096, &a2);
    ck_assert_mem_eq(&a1, &a2, sizeof(a1));
    ck_assert_int_eq(a1.iterations, 4096);
    ck_assert_uint_eq(a1.salt_len, ND_SCRAM_SALT_LEN);

    nd_scram_verifier_mock(secret_a, 32, "bob", 4096, &b);
    ck_assert(memcmp(a1.salt, b.salt, ND_SCRAM_SALT_LEN) != 0);
    ck_assert(memcmp(a1.stored_key, b.stored_key, ND_SCRAM_KEY_LEN) != 0);
    ck_assert(memcmp(a1.server_key, b.server_key, ND_SCRAM_KEY_LEN) != 0);
    ck_assert(memcmp(a1.stored_key, a1.server_key, ND_SCRAM_KEY_LEN) != 0);

    nd_scram_verifier_mock(secret_b, 32, "alice", 4096, &other);
    ck_assert(memcmp(a1.salt, other.salt, ND_SCRAM_SALT_LEN) != 0);

    /* It formats like a real one and accepts no password. */
    {
        char text[ND_SCRAM_VERIFIER_MAX];

        ck_assert_int_gt(nd_scram_verifier_format(&a1, text, sizeof(text)), 0);
    }
    ck_assert_int_eq(exchange("alice", "", &a1, &vrc), -EACCES);
    ck_assert_int_eq(exchange("alice", "alice", &a1, &vrc), -EACCES);
}
END_TEST

START_TEST(test_user_ok)
{
    static const char *good[] = {
        "a",   "alice", "_x",
        "a.b", "a-b",   "a_b",
        "a1",  "z9.-_", "abcdefghijklmnopqrstuvwxyz012345", /* 32 */
    };
    static const char *bad[] = {
        "",
        ".",
        "..",
        "../x",
        "Alice",
        "a:b",
        "1abc",
        "-a",
        ".a",
        "a b",
        "a/b",
        "a\n",
        "\xc3\xa9t\xc3\xa9",
        "abcdefghijklmnopqrstuvwxyz0123456",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(nd_scram_user_ok(good[i]), "\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!nd_scram_user_ok(bad[i]), "\"%s\" accepted", bad[i]);
}
END_TEST

START_TEST(test_client_first_malformed)
{
    static const struct {
        const char *msg;
        int rc;
    } cases[] = {
        {"", -EINVAL},
        {"n", -EINVAL},
        {"n,,", -EINVAL},
        {"n,,n=user", -EINVAL}, /* no r= */
        {"n,,n=user,", -EINVAL},
        {"n,,n=user,r=", -EINVAL}, /* empty nonce */
        {"n,,n=,r=abc", -EINVAL},  /* empty user */
        {"n,,r=abc,n=user", -EINVAL},
        {"n,,m=ext,n=user,r=abc", -EINVAL}, /* reserved m= */
        {"n,,n=user,r=abc,,", -EINVAL},
        {"n,,n=user,r=abc,x", -EINVAL},
        {"n,,n=user,r=abc,r=def", -EINVAL},
        {"n,,n=user,r=a c", -EINVAL},
        {"n,,n=user,r=ab\x7f", -EINVAL},
        {"n,,N=user,r=abc", -EINVAL},
        {"x,,n=user,r=abc", -EINVAL},
        {"n,n=user,r=abc", -EINVAL},
        {"nn,,n=user,r=abc", -EINVAL},
        {"n,x,n=user,r=abc", -EINVAL},
        {"p=tls-unique,,n=user,r=abc", -ENOTSUP},
        {"p=tls-server-end-point,,n=user,r=abc", -ENOTSUP},
        {"n,a=admin,n=user,r=abc", -ENOTSUP},
        {"y,a=admin,n=user,r=abc", -ENOTSUP},
        {"n,,n=us\xff"
         "er,r=abc",
         -EINVAL},                        /* not UTF-8 */
        {"n,,n=\xc0\xaf,r=abc", -EINVAL}, /* overlong */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(server_start_str(cases[i].msg) == cases[i].rc,
                      "\"%s\" gave %d, not %d", cases[i].msg,
                      server_start_str(cases[i].msg), cases[i].rc);
    /* Accepted: the "y" flag, an ignored extension, a UTF-8 name (an invalid
     * user name is the caller's business). */
    ck_assert_int_eq(server_start_str("y,,n=user,r=abc"), 0);
    ck_assert_int_eq(server_start_str("n,,n=user,r=abc,x=ext"), 0);
    ck_assert_int_eq(server_start_str("n,,n=\xc3\xa9t\xc3\xa9,r=abc"), 0);
    ck_assert_int_eq(server_start_str("n,,n=../x,r=abc"), 0);
}
END_TEST

START_TEST(test_client_first_sizes)
{
    char msg[2 * ND_SCRAM_MSG_MAX];
    struct nd_scram_server s;
    size_t n;

    /* A NUL inside the message. */
    ck_assert_int_eq(nd_scram_server_start(&s, "n,,n=us\0er,r=abc", 16),
                     -EINVAL);
    ck_assert_str_eq(nd_scram_server_user(&s), "");

    /* Exactly ND_SCRAM_MSG_MAX is accepted, one more is not. */
    n = (size_t)snprintf(msg, sizeof(msg), "n,,n=user,r=abc,x=");
    memset(msg + n, 'y', sizeof(msg) - n);
    ck_assert_int_eq(nd_scram_server_start(&s, msg, ND_SCRAM_MSG_MAX), 0);
    ck_assert_int_eq(nd_scram_server_start(&s, msg, ND_SCRAM_MSG_MAX + 1),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_server_start(&s, msg, sizeof(msg)), -EINVAL);

    /* A huge user name is stored whole (the caller refuses it). */
    n = (size_t)snprintf(msg, sizeof(msg), "n,,n=");
    memset(msg + n, 'u', 900);
    n += 900;
    n += (size_t)snprintf(msg + n, sizeof(msg) - n, ",r=abc");
    ck_assert_int_eq(nd_scram_server_start(&s, msg, n), 0);
    ck_assert_uint_eq(strlen(nd_scram_server_user(&s)), 900);

    /* A client nonce over ND_SCRAM_NONCE_MAX. */
    n = (size_t)snprintf(msg, sizeof(msg), "n,,n=user,r=");
    memset(msg + n, 'r', ND_SCRAM_NONCE_MAX + 1);
    ck_assert_int_eq(nd_scram_server_start(&s, msg, n + ND_SCRAM_NONCE_MAX + 1),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_server_start(&s, msg, n + ND_SCRAM_NONCE_MAX), 0);
    nd_scram_server_clear(&s);
}
END_TEST

START_TEST(test_escaped_user)
{
    struct nd_scram_client c;
    struct nd_scram_server s;
    char out[ND_SCRAM_MSG_MAX];
    static const char msg[] = "n,,n=a=2Cb=3Dc=3D=2C,r=abc";

    ck_assert_int_eq(nd_scram_server_start(&s, msg, strlen(msg)), 0);
    ck_assert_str_eq(nd_scram_server_user(&s), "a,b=c=,");
    nd_scram_server_clear(&s);
    ck_assert_str_eq(nd_scram_server_user(&s), "");

    ck_assert_int_eq(
        nd_scram_client_first(&c, "a,b=c=,", "abc", out, sizeof(out)),
        (int)strlen(msg));
    ck_assert_str_eq(out, msg);
    nd_scram_client_clear(&c);
}
END_TEST

START_TEST(test_bad_escapes)
{
    static const char *bad[] = {
        "n,,n=a=2c,r=abc", "n,,n=a=3d,r=abc",  "n,,n=a=,r=abc",
        "n,,n==,r=abc",    "n,,n=a=2,r=abc",   "n,,n=a=3,r=abc",
        "n,,n=a=4A,r=abc", "n,,n=a==3D,r=abc", "n,,n==2,r=abc",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(server_start_str(bad[i]) == -EINVAL,
                      "\"%s\" was accepted", bad[i]);
}
END_TEST

START_TEST(test_client_final_malformed)
{
    static const char *bad[] = {
        /* Nonce mismatch: changed, short, long, the client's part only. */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k00,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* c= is not the gs2 header the client sent. */
        "c=eSws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=cD10bHMtdW5pcXVlLCw=,r=" RFC_NONCE
        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biw,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* Extensions, order, missing parts. */
        "c=biws,r=" RFC_NONCE
        ",x=ext,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "r=" RFC_NONCE ",c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=" RFC_NONCE,
        "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=" RFC_NONCE
        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,",
        "c=biws,r=" RFC_NONCE
        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=y",
        /* Proofs of the wrong length or in bad base64. */
        "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
        "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And==",
        "c=biws,r=" RFC_NONCE ",p=",
        "c=biws,r=" RFC_NONCE
        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=\n",
        "",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(rfc_finish(bad[i]) == -EINVAL, "\"%s\" gave %d", bad[i],
                      rfc_finish(bad[i]));
    /* A well-formed proof that is wrong. */
    ck_assert_int_eq(
        rfc_finish("c=biws,r=" RFC_NONCE
                   ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
        -EACCES);
    ck_assert_int_eq(rfc_finish(RFC_CLIENT_FINAL),
                     (int)strlen(RFC_SERVER_FINAL));
}
END_TEST

/*
 * The gs2 flag "y": the client's c= must then be "eSws" (base64 of "y,,").
 * Our client always sends "n", so the proof is computed here by hand.
 */
START_TEST(test_gs2_y_flag)
{
    static const char first[] = "y,,n=user,r=" RFC_CNONCE;
    static const char without[] = "c=eSws,r=" RFC_NONCE;
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    uint8_t salted[32], ck[32], sk[32], sig[32], proof[32];
    unsigned int len = 32;
    char am[ND_SCRAM_MSG_MAX], final[ND_SCRAM_MSG_MAX];
    char out[ND_SCRAM_MSG_MAX], b64[64];
    uint8_t salt[16];
    int n;

    rfc_verifier(&v);
    ck_assert_int_eq(nd_scram_server_start(&s, first, strlen(first)), 0);
    ck_assert_int_gt(
        nd_scram_server_challenge(&s, &v, RFC_SNONCE, out, sizeof(out)), 0);
    ck_assert_str_eq(out, RFC_SERVER_FIRST);

    rfc_salt(salt);
    ck_assert_int_eq(
        PKCS5_PBKDF2_HMAC(RFC_PW, 6, salt, 16, 4096, EVP_sha256(), 32, salted),
        1);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), salted, 32,
                               (const uint8_t *)"Client Key", 10, ck, &len));
    ck_assert_int_eq(EVP_Digest(ck, 32, sk, &len, EVP_sha256(), NULL), 1);
    snprintf(am, sizeof(am), "%s,%s,%s", first + 3, RFC_SERVER_FIRST, without);
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), sk, 32, (const uint8_t *)am, strlen(am), sig, &len));
    for (int i = 0; i < 32; i++)
        proof[i] = ck[i] ^ sig[i];
    EVP_EncodeBlock((unsigned char *)b64, proof, 32);
    snprintf(final, sizeof(final), "%s,p=%s", without, b64);

    n = nd_scram_server_finish(&s, final, strlen(final), out, sizeof(out));
    ck_assert_int_gt(n, 0);
    ck_assert(strncmp(out, "v=", 2) == 0);
    nd_scram_server_clear(&s);

    /* The same client-final with c=biws does not match the "y" header. */
    ck_assert_int_eq(nd_scram_server_start(&s, first, strlen(first)), 0);
    ck_assert_int_gt(
        nd_scram_server_challenge(&s, &v, RFC_SNONCE, out, sizeof(out)), 0);
    snprintf(final, sizeof(final), "c=biws,r=%s,p=%s", RFC_NONCE, b64);
    ck_assert_int_eq(
        nd_scram_server_finish(&s, final, strlen(final), out, sizeof(out)),
        -EINVAL);
    nd_scram_server_clear(&s);
}
END_TEST

START_TEST(test_server_first_malformed)
{
    static const struct {
        const char *msg;
        int rc;
    } cases[] = {
        /* The nonce must extend the client's. */
        {"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EINVAL},
        {"r=xOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
         -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqO\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
         -EINVAL},
        /* Reserved m=, order, missing parts. */
        {"m=x,r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
         -EINVAL},
        {"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOab,i=4096", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,i=4096", -EINVAL},
        {"e=other-error", -EINVAL},
        {"", -EINVAL},
        /* Salt: bad base64, empty, too long (66 bytes). */
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=,i=4096", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s="
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "AAAAAAAAAAAAAAAAAAAAAAAA,i=4096",
         -EINVAL},
        /* Iterations: malformed, then out of range. */
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=x", -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-4096",
         -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
         -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x",
         -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095", -EPROTO},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", -EPROTO},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",
         -EPROTO},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
         "i=99999999999999999999999",
         -EPROTO},
        /* Extensions: ignored when well formed. */
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=",
         -EINVAL},
        {"r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",
         -EINVAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(rfc_client_final(cases[i].msg) == cases[i].rc,
                      "\"%s\" gave %d, not %d", cases[i].msg,
                      rfc_client_final(cases[i].msg), cases[i].rc);
    ck_assert_int_gt(rfc_client_final("r=rOprNGfwEbeRWgbNEkqOab,"
                                      "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=y"),
                     0);
}
END_TEST

START_TEST(test_out_of_order)
{
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    struct nd_scram_client c;
    char out[ND_SCRAM_MSG_MAX];

    rfc_verifier(&v);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(nd_scram_server_challenge(&s, &v, NULL, out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(
        nd_scram_server_start(&s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST)),
        0);
    ck_assert_int_eq(nd_scram_server_finish(&s, RFC_CLIENT_FINAL,
                                            strlen(RFC_CLIENT_FINAL), out,
                                            sizeof(out)),
                     -EINVAL);
    /* A failed start leaves nothing to challenge. */
    ck_assert_int_eq(nd_scram_server_start(&s, "n,,n=,r=x", 9), -EINVAL);
    ck_assert_int_eq(nd_scram_server_challenge(&s, &v, NULL, out, sizeof(out)),
                     -EINVAL);

    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(nd_scram_client_final(&c, "pw", 2, RFC_SERVER_FIRST,
                                           strlen(RFC_SERVER_FIRST), out,
                                           sizeof(out)),
                     -EINVAL);
    rfc_client(&c);
    ck_assert_int_eq(
        nd_scram_client_verify(&c, RFC_SERVER_FINAL, strlen(RFC_SERVER_FINAL)),
        -EINVAL);
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    struct nd_scram_client c;
    char out[ND_SCRAM_MSG_MAX];

    rfc_verifier(&v);
    /* Client nonces and user names. */
    ck_assert_int_eq(nd_scram_client_first(&c, "", NULL, out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_client_first(&c, "u", "", out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_client_first(&c, "u", "a,b", out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_client_first(&c, "u", "a b", out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_client_first(&c, "user", RFC_CNONCE, out,
                                           strlen(RFC_CLIENT_FIRST)),
                     -ENOSPC);
    ck_assert_int_eq(nd_scram_client_first(&c, "user", RFC_CNONCE, out,
                                           strlen(RFC_CLIENT_FIRST) + 1),
                     (int)strlen(RFC_CLIENT_FIRST));
    /* Server nonces, verifiers and room. */
    ck_assert_int_eq(
        nd_scram_server_start(&s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST)),
        0);
    ck_assert_int_eq(nd_scram_server_challenge(&s, &v, "a,b", out, sizeof(out)),
                     -EINVAL);
    ck_assert_int_eq(nd_scram_server_challenge(&s, &v, "", out, sizeof(out)),
                     -EINVAL);
    v.iterations = 1;
    ck_assert_int_eq(nd_scram_server_challenge(&s, &v, NULL, out, sizeof(out)),
                     -EINVAL);
    v.iterations = 4096;
    ck_assert_int_eq(nd_scram_server_challenge(&s, &v, RFC_SNONCE, out,
                                               strlen(RFC_SERVER_FIRST)),
                     -ENOSPC);
    ck_assert_int_eq(
        nd_scram_server_challenge(&s, &v, RFC_SNONCE, out, sizeof(out)),
        (int)strlen(RFC_SERVER_FIRST));
    ck_assert_int_eq(nd_scram_server_finish(&s, RFC_CLIENT_FINAL,
                                            strlen(RFC_CLIENT_FINAL), out,
                                            strlen(RFC_SERVER_FINAL)),
                     -ENOSPC);
    nd_scram_server_clear(&s);
    nd_scram_client_clear(&c);
}
END_TEST

START_TEST(test_clear_wipes)
{
    static const uint8_t zero[sizeof(struct nd_scram_server)];
    struct nd_scram_server s;
    struct nd_scram_client c;

    rfc_server(&s);
    nd_scram_server_clear(&s);
    ck_assert(memcmp(&s, zero, sizeof(s)) == 0);
    rfc_client(&c);
    nd_scram_client_clear(&c);
    ck_assert(memcmp(&c, zero, sizeof(c)) == 0);
}
END_TEST

static Suite *
scram_suite(void)
{
    Suite *s = suite_create("nd_scram");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rfc7677_client);
    tcase_add_test(tc, test_rfc7677_client_cached);
    tcase_add_test(tc, test_rfc7677_server);
    tcase_add_test(tc, test_lengths_not_nul);
    tcase_add_test(tc, test_random_exchange);
    tcase_add_test(tc, test_random_nonces_differ);
    tcase_add_test(tc, test_wrong_password);
    tcase_add_test(tc, test_tampered_server_final);
    tcase_add_test(tc, test_verifier_round_trip);
    tcase_add_test(tc, test_verifier_derive_limits);
    tcase_add_test(tc, test_verifier_parse_rejects);
    tcase_add_test(tc, test_mock_verifier);
    tcase_add_test(tc, test_user_ok);
    tcase_add_test(tc, test_client_first_malformed);
    tcase_add_test(tc, test_client_first_sizes);
    tcase_add_test(tc, test_escaped_user);
    tcase_add_test(tc, test_bad_escapes);
    tcase_add_test(tc, test_client_final_malformed);
    tcase_add_test(tc, test_gs2_y_flag);
    tcase_add_test(tc, test_server_first_malformed);
    tcase_add_test(tc, test_out_of_order);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_clear_wipes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scram_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
