/*
 * nd_tls: contexts, the daemon's non-blocking handshake, the client's
 * verified handshake.
 */
#include "nd_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

const char *
nd_tls_error(char *buf, size_t len, const char *fallback)
{
    unsigned long e, last = 0;

    /* The last error is the most specific one; take it, drop the rest. */
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last != 0)
        ERR_error_string_n(last, buf, len);
    else
        snprintf(buf, len, "%s", fallback);
    return buf;
}

/* Settings both sides share. */
static int
ctx_common(SSL_CTX *ctx)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_ENABLE_KTLS);
    /* Reads go on past records that carry no data (TLS 1.3 tickets, key
     * updates) instead of asking the caller to retry: OpenSSL's default
     * since 1.1.1, stated because the blocking reads rely on it. */
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 ? 0
                                                                   : -EINVAL;
}

int
nd_tls_server_ctx(SSL_CTX **ctx, const char *cert, const char *key, char *err,
                  size_t err_len)
{
    char why[256];
    SSL_CTX *c;

    ERR_clear_error();
    *ctx = NULL;
    c = SSL_CTX_new(TLS_server_method());
    if (c == NULL || ctx_common(c) < 0) {
        snprintf(err, err_len, "cannot make a TLS context: %s",
                 nd_tls_error(why, sizeof(why), "out of memory"));
        SSL_CTX_free(c);
        return -ENOMEM;
    }
    /* A transfer that parks when the socket is full (nd_transfer) writes
     * a record at a time, and offers the rest again later from another
     * worker's buffer. */
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
        snprintf(err, err_len, "tls_cert \"%s\": %s", cert,
                 nd_tls_error(why, sizeof(why), "cannot load"));
        SSL_CTX_free(c);
        return -EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, err_len, "tls_key \"%s\": %s", key,
                 nd_tls_error(why, sizeof(why), "cannot load"));
        SSL_CTX_free(c);
        return -EINVAL;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        snprintf(err, err_len, "tls_key \"%s\" does not match tls_cert: %s",
                 key, nd_tls_error(why, sizeof(why), "mismatch"));
        SSL_CTX_free(c);
        return -EINVAL;
    }
    /* Sessions are short and a resumed one saves little; tickets would
     * need a key shared by the pool processes a restart replaces. */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
    *ctx = c;
    return 0;
}

int
nd_tls_client_ctx(SSL_CTX **ctx, const char *cafile, bool verify, char *err,
                  size_t err_len)
{
    char why[256];
    SSL_CTX *c;
    int ok;

    ERR_clear_error();
    *ctx = NULL;
    c = SSL_CTX_new(TLS_client_method());
    if (c == NULL || ctx_common(c) < 0) {
        snprintf(err, err_len, "cannot make a TLS context: %s",
                 nd_tls_error(why, sizeof(why), "out of memory"));
        SSL_CTX_free(c);
        return -ENOMEM;
    }
    if (verify) {
        ok = cafile != NULL ? SSL_CTX_load_verify_locations(c, cafile, NULL)
                            : SSL_CTX_set_default_verify_paths(c);
        if (ok != 1) {
            snprintf(err, err_len, "CA file \"%s\": %s",
                     cafile != NULL ? cafile : "(system)",
                     nd_tls_error(why, sizeof(why), "cannot load"));
            SSL_CTX_free(c);
            return -EINVAL;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    }
    *ctx = c;
    return 0;
}

SSL *
nd_tls_new_server(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl != NULL && SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ssl = NULL;
    }
    ERR_clear_error();
    return ssl;
}

/* Classifies a failed non-blocking call: a want, or -errno. */
static int
nowait_failure(SSL *ssl, int ret, char *err, size_t err_len)
{
    int saved = errno;
    int e = SSL_get_error(ssl, ret);
    char why[256];

    if (e == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return ND_TLS_WANT_READ;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return ND_TLS_WANT_WRITE;
    }
    /* A clean close_notify is -ENODATA; a connection that just went away
     * is -ECONNRESET, after which no close_notify may be sent. */
    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        if (err != NULL)
            snprintf(err, err_len, "peer closed the connection");
        return -ENODATA;
    }
    if (e == SSL_ERROR_SYSCALL &&
        (saved == 0 || saved == ECONNRESET || saved == EPIPE)) {
        ERR_clear_error();
        if (err != NULL)
            snprintf(err, err_len, "peer closed the connection");
        return -ECONNRESET;
    }
    if (e == SSL_ERROR_SYSCALL && saved == EINTR) {
        ERR_clear_error();
        return ND_TLS_WANT_READ; /* cannot happen: signals are blocked */
    }
    nd_tls_error(why, sizeof(why),
                 e == SSL_ERROR_SYSCALL ? strerror(saved) : "TLS error");
    if (err != NULL)
        snprintf(err, err_len, "%s", why);
    return e == SSL_ERROR_SYSCALL && saved != 0 ? -saved : -EPROTO;
}

int
nd_tls_accept_step(SSL *ssl, char *err, size_t err_len)
{
    int ret;

    ERR_clear_error();
    errno = 0;
    ret = SSL_accept(ssl);
    if (ret == 1)
        return 0;
    ret = nowait_failure(ssl, ret, err, err_len);
    return ret == -ENODATA ? -ECONNRESET : ret;
}

ssize_t
nd_tls_read_nowait(SSL *ssl, void *buf, size_t len, int *want)
{
    size_t n = 0;
    int ret;

    ERR_clear_error();
    errno = 0;
    ret = SSL_read_ex(ssl, buf, len, &n);
    if (ret > 0)
        return (ssize_t)n;
    ret = nowait_failure(ssl, ret, NULL, 0);
    if (ret > 0) {
        *want = ret;
        return -EAGAIN;
    }
    return ret == -ENODATA ? 0 : ret;
}

ssize_t
nd_tls_write_nowait(SSL *ssl, const void *buf, size_t len, int *want)
{
    size_t n = 0;
    int ret;

    ERR_clear_error();
    errno = 0;
    ret = SSL_write_ex(ssl, buf, len, &n);
    if (ret > 0)
        return (ssize_t)n;
    ret = nowait_failure(ssl, ret, NULL, 0);
    if (ret > 0 && want != NULL)
        *want = ret;
    return ret > 0 ? -EAGAIN : ret == -ENODATA ? -EPIPE : ret;
}

int
nd_tls_connect(struct nd_stream *s, SSL_CTX *ctx, const char *host, char *err,
               size_t err_len)
{
    unsigned char addr[sizeof(struct in6_addr)];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 ||
                 inet_pton(AF_INET6, host, addr) == 1;
    bool verify = SSL_CTX_get_verify_mode(ctx) != SSL_VERIFY_NONE;
    char why[256];
    SSL *ssl;
    int ret;

    ERR_clear_error();
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, s->fd) != 1) {
        snprintf(err, err_len, "cannot start TLS: %s",
                 nd_tls_error(why, sizeof(why), "out of memory"));
        SSL_free(ssl);
        return -ENOMEM;
    }
    /* SNI carries names only; a certificate for an address is checked
     * against its IP subjectAltName instead. */
    if (!is_ip)
        (void)SSL_set_tlsext_host_name(ssl, host);
    if (verify) {
        X509_VERIFY_PARAM *p = SSL_get0_param(ssl);

        /* "*.example.com" may match, "w*.example.com" may not. */
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ret = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(p, host)
                    : SSL_set1_host(ssl, host);
        if (ret != 1) {
            snprintf(err, err_len, "cannot verify host \"%s\"", host);
            SSL_free(ssl);
            return -EINVAL;
        }
    }
    for (;;) {
        long vr;
        int saved;

        ERR_clear_error();
        errno = 0;
        ret = SSL_connect(ssl);
        if (ret == 1)
            break;
        saved = errno;
        if (SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL && saved == EINTR)
            continue;
        vr = SSL_get_verify_result(ssl);

        if (verify && vr != X509_V_OK) {
            snprintf(err, err_len, "server certificate refused: %s",
                     X509_verify_cert_error_string(vr));
            ERR_clear_error();
            SSL_free(ssl);
            return -EKEYREJECTED;
        }
        errno = saved;
        ret = nowait_failure(ssl, ret, err, err_len);
        SSL_free(ssl);
        if (ret == -ENODATA)
            ret = -ECONNRESET;
        /* A wait on a blocking socket is its timeout. */
        if (ret > 0) {
            snprintf(err, err_len, "TLS handshake timed out");
            return -ETIMEDOUT;
        }
        return ret;
    }
    s->ssl = ssl;
    return 0;
}

const char *
nd_tls_describe(const SSL *ssl, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s", SSL_get_version(ssl),
             SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
    return buf;
}
