/*
 * nd_tls: OpenSSL contexts and the steps of a TLS session that are not
 * plain stream I/O: the daemon's non-blocking handshake and reads in the
 * reactor, the client's blocking handshake with certificate and host name
 * verification, and error text.
 *
 * Both sides require TLS 1.2 or later (1.3 is preferred by OpenSSL's own
 * negotiation), refuse renegotiation and compression, and ask for kernel
 * TLS, which OpenSSL uses when the kernel offers it.  An SSL_CTX is
 * thread-safe once made; an SSL belongs to one thread at a time.  Nothing
 * here logs: failures come back as -errno with text in the caller's buffer,
 * taken from OpenSSL's per-thread error queue.
 */
#ifndef ND_TLS_H
#define ND_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "nd_stream.h"

/* The first byte of a TLS record carrying a handshake message. */
#define ND_TLS_RECORD_HANDSHAKE 0x16

/* What a non-blocking TLS call is waiting for. */
enum nd_tls_want { ND_TLS_WANT_READ = 1, ND_TLS_WANT_WRITE = 2 };

/*
 * Makes the daemon's context from a PEM certificate chain and private key,
 * and checks that they match.  Returns 0 with *ctx (caller frees with
 * SSL_CTX_free()), or -EINVAL / -errno with a one-line message in err.
 * Call before dropping privileges, since keys are often readable by root
 * only.
 */
int nd_tls_server_ctx(SSL_CTX **ctx, const char *cert, const char *key,
                      char *err, size_t err_len);

/*
 * Makes a client context that verifies the server against cafile (PEM), or
 * the system's trust store when cafile is NULL.  verify false accepts any
 * certificate (the client's --insecure).  Returns 0 with *ctx or -errno
 * with err filled.
 */
int nd_tls_client_ctx(SSL_CTX **ctx, const char *cafile, bool verify, char *err,
                      size_t err_len);

/* Creates the daemon's SSL for the accepted socket fd, which stays the
 * caller's.  Returns it, or NULL when out of memory. */
SSL *nd_tls_new_server(SSL_CTX *ctx, int fd);

/*
 * Advances the daemon's handshake on a non-blocking socket.  Returns 0 when
 * it is complete, ND_TLS_WANT_READ or ND_TLS_WANT_WRITE when it must wait,
 * or -EPROTO (err filled) when it failed, -ECONNRESET when the peer left.
 */
int nd_tls_accept_step(SSL *ssl, char *err, size_t err_len);

/*
 * Reads what is available, up to len bytes, on a non-blocking socket.
 * Returns a count, 0 when the peer ended the session with close_notify,
 * -EAGAIN with *want set when it must wait, or -errno (-ECONNRESET when the
 * connection went away without close_notify).
 */
ssize_t nd_tls_read_nowait(SSL *ssl, void *buf, size_t len, int *want);

/*
 * Writes what fits, up to len bytes, on a non-blocking socket (the daemon's
 * context allows partial writes, one record at a time).  Returns a count,
 * -EAGAIN with *want set (when want is not NULL) when it must wait, -EPIPE
 * when the peer ended the session, or -errno.  After -EAGAIN the same bytes
 * must be offered again, with the same len, though maybe from another
 * buffer (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 */
ssize_t nd_tls_write_nowait(SSL *ssl, const void *buf, size_t len, int *want);

/*
 * Client handshake on s's blocking socket: sends host as SNI when it is a
 * name, and (when the context verifies) checks the certificate against host,
 * a DNS name or an IP address.  On success s->ssl is set and owned by s.
 * Returns 0, -EKEYREJECTED when the certificate was refused (err says why),
 * or -EPROTO / -errno.
 */
int nd_tls_connect(struct nd_stream *s, SSL_CTX *ctx, const char *host,
                   char *err, size_t err_len);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384", for the log.  Returns buf. */
const char *nd_tls_describe(const SSL *ssl, char *buf, size_t len);

/* Drains this thread's OpenSSL error queue into one line in buf (at least
 * what fallback says when the queue is empty).  Returns buf. */
const char *nd_tls_error(char *buf, size_t len, const char *fallback);

#endif
