/*
 * nd_scram: SCRAM-SHA-256 (RFC 5802 with the SHA-256 of RFC 7677), both the
 * server's and the client's side of the exchange, plus the stored verifier
 * in PostgreSQL's text form.  Only the message syntax and the cryptography
 * live here; framing, transport and deciding what to do with a user name
 * are the caller's.
 *
 * Passwords are used as their raw bytes (normally UTF-8): there is no
 * SASLprep, so a client must send the very bytes that were set with
 * "netdiskd user".  Channel binding (SCRAM-SHA-256-PLUS, gs2 flag "p=") and
 * authorization identities ("a=") are not supported.
 *
 * Every function works only on the structs it is given and keeps no global
 * state, so distinct structs may be used from different threads at once; one
 * struct belongs to one thread at a time.  Nothing here logs.
 */
#ifndef ND_SCRAM_H
#define ND_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_SCRAM_KEY_LEN 32
#define ND_SCRAM_SALT_MAX 64 /* bytes of salt accepted */
#define ND_SCRAM_SALT_LEN 16 /* bytes of salt nd_scram_verifier_new makes */
#define ND_SCRAM_MIN_ITERATIONS 4096
#define ND_SCRAM_MAX_ITERATIONS 10000000
/* The longest SCRAM message either side sends or accepts, in bytes. */
#define ND_SCRAM_MSG_MAX 1024
/* The longest nonce part (the client's, or the server's) accepted. */
#define ND_SCRAM_NONCE_MAX 256
#define ND_USER_MAX 32 /* longest user name, in bytes */
/* Room for the text form of any verifier, with its NUL. */
#define ND_SCRAM_VERIFIER_MAX 256

struct nd_scram_verifier {
    int iterations;
    uint8_t salt[ND_SCRAM_SALT_MAX];
    size_t salt_len;
    uint8_t stored_key[ND_SCRAM_KEY_LEN];
    uint8_t server_key[ND_SCRAM_KEY_LEN];
};

/*
 * Derives a verifier from pwlen raw bytes of password and the given salt
 * (1..ND_SCRAM_SALT_MAX bytes) with iterations PBKDF2-HMAC-SHA-256 rounds
 * (ND_SCRAM_MIN_ITERATIONS..ND_SCRAM_MAX_ITERATIONS).  Returns 0, -EINVAL for
 * a salt or iteration count out of range, or -EIO when OpenSSL fails.
 */
int nd_scram_verifier_derive(const char *pw, size_t pwlen, const uint8_t *salt,
                             size_t salt_len, int iterations,
                             struct nd_scram_verifier *v);

/* The same with a fresh random salt of ND_SCRAM_SALT_LEN bytes.  Returns 0,
 * -EINVAL or -EIO (no randomness, or OpenSSL failed). */
int nd_scram_verifier_new(const char *pw, size_t pwlen, int iterations,
                          struct nd_scram_verifier *v);

/*
 * Writes v in PostgreSQL's form
 * "SCRAM-SHA-256$<iter>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>" into out
 * (capacity cap; ND_SCRAM_VERIFIER_MAX is always enough), NUL-terminated.
 * Returns the length without the NUL, -ENOSPC when cap is too small, or
 * -EINVAL when v itself is out of range.
 */
int nd_scram_verifier_format(const struct nd_scram_verifier *v, char *out,
                             size_t cap);

/*
 * Parses the form nd_scram_verifier_format() writes, strictly: the prefix,
 * a decimal iteration count without sign or leading zero in range, canonical
 * padded base64 everywhere, a salt of 1..ND_SCRAM_SALT_MAX bytes, keys of
 * exactly ND_SCRAM_KEY_LEN bytes, and nothing after the ServerKey.  Returns 0
 * with *v filled, or -EINVAL (then *v is unspecified).
 */
int nd_scram_verifier_parse(const char *s, struct nd_scram_verifier *v);

/*
 * Fills v with a deterministic mock verifier for a user who does not exist,
 * so that a login attempt for an unknown name looks like one for a known
 * name (same salt on every try, same iteration count).  The salt is the first
 * ND_SCRAM_SALT_LEN bytes of HMAC-SHA-256(secret, "salt" || user); the
 * StoredKey and ServerKey are HMAC-SHA-256(secret, "stored" || user) and
 * HMAC-SHA-256(secret, "server" || user).  No password matches it.  Should
 * OpenSSL fail (out of memory), the keys and salt are zero, which still match
 * no password.
 */
void nd_scram_verifier_mock(const uint8_t *secret, size_t secret_len,
                            const char *user, int iterations,
                            struct nd_scram_verifier *v);

/* True when name is a valid user name: 1..ND_USER_MAX bytes of
 * [a-z0-9_.-], the first one in [a-z_] (so never "." or ".."). */
bool nd_scram_user_ok(const char *name);

/*
 * The server's side of one exchange.  The fields are private: use the
 * functions below.  A struct holds secrets; wipe it with
 * nd_scram_server_clear() when done, whatever the outcome.
 */
struct nd_scram_server {
    int state;                               /* private */
    char gs2[4];                             /* private: "n,," or "y,," */
    char user[ND_SCRAM_MSG_MAX + 1];         /* private: decoded, NUL-ended */
    char nonce[2 * ND_SCRAM_NONCE_MAX + 1];  /* private: client + server */
    size_t cnonce_len;                       /* private */
    char first_bare[ND_SCRAM_MSG_MAX + 1];   /* private */
    char server_first[ND_SCRAM_MSG_MAX + 1]; /* private */
    struct nd_scram_verifier v;              /* private: a copy */
    bool session_ok;                         /* private */
    uint8_t session[ND_SCRAM_KEY_LEN];       /* private */
};

/*
 * Starts an exchange with the client-first-message msg (len bytes, not
 * necessarily NUL-terminated; at most ND_SCRAM_MSG_MAX).  Accepts the gs2
 * flags "n" and "y" without authzid, then "n=USER,r=NONCE" with optional
 * extensions after the nonce, which are ignored.  "=2C" and "=3D" in USER
 * are decoded; any other '=' is malformed.  On success the decoded user name
 * is available through nd_scram_server_user(); it may be an invalid name,
 * which the caller must check.  Returns 0, -ENOTSUP for channel binding
 * ("p=") or an authzid ("a="), or -EINVAL for anything malformed (including
 * the reserved "m=", an empty user, a missing or over-long nonce, a NUL, or
 * more than ND_SCRAM_MSG_MAX bytes).  Initialises s on every path.
 */
int nd_scram_server_start(struct nd_scram_server *s, const char *msg,
                          size_t len);

/* The user name from the client-first-message; "" before a successful
 * nd_scram_server_start().  The string lives inside s. */
const char *nd_scram_server_user(const struct nd_scram_server *s);

/*
 * Writes the server-first-message "r=CNONCE+SNONCE,s=SALT,i=ITER" for the
 * verifier v, which is copied into s.  server_nonce NULL means 24 random
 * bytes in base64; otherwise it is used as given (for tests) and must be
 * 1..ND_SCRAM_NONCE_MAX printable ASCII characters other than ','.
 * Returns the length written (out is NUL-terminated), -EINVAL when called out
 * of order or with a bad nonce or verifier, -ENOSPC when cap is too small, or
 * -EIO when there is no randomness.
 */
int nd_scram_server_challenge(struct nd_scram_server *s,
                              const struct nd_scram_verifier *v,
                              const char *server_nonce, char *out, size_t cap);

/*
 * Checks the client-final-message "c=...,r=...,p=..." (len bytes): c= must be
 * the base64 of the gs2 header the client sent, r= the combined nonce, and
 * p= a 32-byte proof; extensions between r= and p= are refused.  The proof
 * is checked in constant time.  On a good proof writes the server-final-
 * message "v=BASE64(ServerSignature)" to out and returns its length.  On a
 * wrong proof writes "e=invalid-proof" (when it fits; the caller may send it
 * or not) and returns -EACCES.  Returns -EINVAL when msg is malformed or the
 * call is out of order, -ENOSPC when cap is too small, -EIO when OpenSSL
 * fails.  After any return the exchange is over.
 */
int nd_scram_server_finish(struct nd_scram_server *s, const char *msg,
                           size_t len, char *out, size_t cap);

/*
 * The session key of an exchange that nd_scram_server_finish() accepted:
 * HMAC-SHA-256(ClientSignature, "netdisk session"), which the client
 * derives too (nd_scram_client_session) and which never travels: an
 * eavesdropper lacks the StoredKey that ClientSignature needs.  It keys
 * what the session hands out for later (resumption tickets, nd_ticket).
 * Also copies the verifier's StoredKey to stored_key (may be NULL), so a
 * caller can tell later whether the password has changed since.  Returns
 * 0, or -EINVAL when the exchange did not succeed.
 */
int nd_scram_server_session(const struct nd_scram_server *s,
                            uint8_t session[ND_SCRAM_KEY_LEN],
                            uint8_t stored_key[ND_SCRAM_KEY_LEN]);

/* Wipes everything in s (OPENSSL_cleanse); s may be started again. */
void nd_scram_server_clear(struct nd_scram_server *s);

/* The client's side of one exchange.  The fields are private. */
struct nd_scram_client {
    int state;                             /* private */
    char nonce[ND_SCRAM_NONCE_MAX + 1];    /* private: the client's part */
    char first_bare[ND_SCRAM_MSG_MAX + 1]; /* private */
    uint8_t server_sig[ND_SCRAM_KEY_LEN];  /* private: the expected v= */
    bool session_ok;                       /* private */
    uint8_t session[ND_SCRAM_KEY_LEN];     /* private */
};

/*
 * Writes the client-first-message "n,,n=USER,r=NONCE" with ',' and '=' in
 * user escaped.  nonce NULL means 24 random bytes in base64; otherwise it
 * must be 1..ND_SCRAM_NONCE_MAX printable ASCII characters other than ','.
 * Returns the length written (NUL-terminated), -EINVAL for an empty user or
 * a bad nonce, -ENOSPC when cap (or ND_SCRAM_MSG_MAX) is too small, or -EIO
 * when there is no randomness.  Initialises c on every path.
 */
int nd_scram_client_first(struct nd_scram_client *c, const char *user,
                          const char *nonce, char *out, size_t cap);

/*
 * Parses the server-first-message msg (len bytes): r= must start with the
 * client's nonce and be longer, s= canonical base64 of 1..ND_SCRAM_SALT_MAX
 * bytes, i= a decimal count; extensions after i= are ignored.  Derives the
 * keys from pwlen raw bytes of password, writes the client-final-message
 * with its proof to out and remembers the ServerSignature to expect.
 * Returns the length written (NUL-terminated), -EINVAL when msg is malformed
 * (including the reserved "m=") or the call is out of order, -EPROTO when i=
 * is outside ND_SCRAM_MIN_ITERATIONS..ND_SCRAM_MAX_ITERATIONS, -ENOSPC when
 * cap is too small, or -EIO when OpenSSL fails.
 */
int nd_scram_client_final(struct nd_scram_client *c, const char *pw,
                          size_t pwlen, const char *msg, size_t len, char *out,
                          size_t cap);

/*
 * Keys a client may keep between logins (RFC 5802 section 5.1): ClientKey,
 * StoredKey and ServerKey depend only on the password, the salt and the
 * iteration count, so a client that logs in again and again with one
 * password need run PBKDF2 once per (salt, iterations), not once per login.
 * A zeroed struct is an empty cache.  It holds secrets: wipe it with
 * nd_scram_client_keys_clear() when done.  The fields are private.
 */
struct nd_scram_client_keys {
    int iterations;                       /* private: 0 when empty */
    size_t salt_len;                      /* private */
    uint8_t salt[ND_SCRAM_SALT_MAX];      /* private */
    uint8_t client_key[ND_SCRAM_KEY_LEN]; /* private */
    uint8_t stored_key[ND_SCRAM_KEY_LEN]; /* private */
    uint8_t server_key[ND_SCRAM_KEY_LEN]; /* private */
};

/*
 * nd_scram_client_final() with a key cache: when keys holds the salt and
 * iteration count msg names, it uses them and derives nothing; otherwise it
 * derives them from the password and stores them in keys (also when the
 * exchange fails later).  keys must only ever see one password: the cache
 * is looked up by salt and iteration count alone.  Same returns as
 * nd_scram_client_final().
 */
int nd_scram_client_final_cached(struct nd_scram_client *c,
                                 struct nd_scram_client_keys *keys,
                                 const char *pw, size_t pwlen, const char *msg,
                                 size_t len, char *out, size_t cap);

/* Wipes the cached keys (OPENSSL_cleanse); keys is then empty. */
void nd_scram_client_keys_clear(struct nd_scram_client_keys *keys);

/*
 * Checks the server-final-message msg (len bytes).  Returns 0 when its v=
 * matches the expected ServerSignature (compared in constant time), -EACCES
 * when it does not or when the server sent "e=...", or -EINVAL when msg is
 * malformed or the call is out of order.  After any return the exchange is
 * over.
 */
int nd_scram_client_verify(struct nd_scram_client *c, const char *msg,
                           size_t len);

/* The session key (see nd_scram_server_session) once
 * nd_scram_client_verify() accepted the server.  Returns 0, or -EINVAL
 * before that or after a failure. */
int nd_scram_client_session(const struct nd_scram_client *c,
                            uint8_t session[ND_SCRAM_KEY_LEN]);

/* HMAC-SHA-256 under key (klen bytes) of the concatenation of n byte
 * strings p[i] of len[i] bytes.  Returns 0 or -EIO. */
int nd_scram_hmac(const uint8_t *key, size_t klen, const void *const p[],
                  const size_t len[], int n, uint8_t out[ND_SCRAM_KEY_LEN]);

/* Wipes everything in c (OPENSSL_cleanse); c may be used again. */
void nd_scram_client_clear(struct nd_scram_client *c);

#endif
