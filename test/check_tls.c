/*
 * Unit tests for nd_tls and nd_stream over real loopback TCP connections.
 *
 * A throw-away PKI is made in memory with the OpenSSL API (two CAs with
 * EC P-256 keys, a server certificate for IP:127.0.0.1 and DNS:localhost
 * signed by the first) and written as PEM files into a mkdtemp directory,
 * removed at the end.  The daemon's side of each handshake runs as the
 * reactor runs it: nd_tls_accept_step() on a non-blocking socket, waiting
 * with poll() for what it asks; the client's side is nd_tls_connect() on a
 * blocking socket with SO_RCVTIMEO/SO_SNDTIMEO, in another thread.  Every
 * wait is bounded (socket timeouts, poll deadlines, joined threads).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_net.h"
#include "nd_stream.h"
#include "nd_tls.h"

/* Seconds any blocking socket call, or a whole handshake, may take. */
#define IO_TIMEOUT 10
/* 1 MiB and 3 bytes: more than one TLS record, not a multiple of one. */
#define BIG ((1u << 20) + 3u)

static char s_dir[PATH_MAX];
static char s_ca[PATH_MAX], s_cert[PATH_MAX], s_key[PATH_MAX];
static char s_other_ca[PATH_MAX], s_other_key[PATH_MAX];
static char s_missing[PATH_MAX], s_data[PATH_MAX];

/* ---- the throw-away PKI (an unchecked fixture: no ck_assert here) ----- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "check_tls fixture: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ERR_print_errors_fp(stderr);
    abort();
}

static EVP_PKEY *
new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    if (k == NULL)
        die("EC P-256 key generation failed");
    return k;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ex;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ex == NULL || X509_add_ext(cert, ex, -1) != 1)
        die("extension %s = %s", OBJ_nid2sn(nid), value);
    X509_EXTENSION_free(ex);
}

/*
 * A certificate for key named cn, valid from a minute ago for a day.  With
 * issuer NULL it is a self-signed CA; otherwise a TLS server certificate
 * for IP:127.0.0.1 and DNS:localhost signed by issuer's issuer_key.
 */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
          long serial)
{
    X509 *x = X509_new();
    X509_NAME *name;

    if (x == NULL || X509_set_version(x, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 24L * 3600) == NULL ||
        X509_set_pubkey(x, key) != 1)
        die("cannot fill in certificate %s", cn);
    name = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"netdisk tests", -1,
                                   -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0) != 1)
        die("cannot name certificate %s", cn);
    if (X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer)
                                               : name) != 1)
        die("cannot set the issuer of %s", cn);
    if (issuer == NULL) {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(x, x, NID_subject_key_identifier, "hash");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
        add_ext(x, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
        add_ext(x, issuer, NID_subject_key_identifier, "hash");
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    }
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0)
        die("cannot sign certificate %s", cn);
    return x;
}

static void
dir_path(char *out, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", s_dir, name) >= PATH_MAX)
        die("path too long");
}

static void
write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0)
        die("cannot write %s", path);
}

static void
write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");

    if (f == NULL ||
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        fclose(f) != 0)
        die("cannot write %s", path);
}

static void
pki_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    EVP_PKEY *ca_key, *srv_key, *other_key;
    X509 *ca, *srv, *other;

    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    if (snprintf(s_dir, sizeof(s_dir), "%s/nd_check_tls.XXXXXX", tmp) >=
            (int)sizeof(s_dir) ||
        mkdtemp(s_dir) == NULL)
        die("mkdtemp in %s: %s", tmp, strerror(errno));
    dir_path(s_ca, "ca.pem");
    dir_path(s_cert, "server.pem");
    dir_path(s_key, "server.key");
    dir_path(s_other_ca, "other-ca.pem");
    dir_path(s_other_key, "other.key");
    dir_path(s_missing, "missing.pem");
    dir_path(s_data, "data.bin");

    ca_key = new_key();
    srv_key = new_key();
    other_key = new_key();
    ca = make_cert("netdisk test CA", ca_key, NULL, NULL, 1);
    srv = make_cert("localhost", srv_key, ca, ca_key, 2);
    /* Same subject as the real CA: only the key tells them apart. */
    other = make_cert("netdisk test CA", other_key, NULL, NULL, 1);
    write_cert(s_ca, ca);
    write_cert(s_cert, srv);
    write_key(s_key, srv_key);
    write_cert(s_other_ca, other);
    write_key(s_other_key, other_key);
    X509_free(ca);
    X509_free(srv);
    X509_free(other);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(other_key);
}

static void
pki_teardown(void)
{
    const char *files[] = {s_ca,        s_cert,    s_key, s_other_ca,
                           s_other_key, s_missing, s_data};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        (void)unlink(files[i]);
    (void)rmdir(s_dir);
}

/* ---- connections ---------------------------------------------------- */

static uint8_t *
pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n);

    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + (i >> 11) + seed);
    return p;
}

/* A connected loopback TCP pair as the daemon makes them: the server end
 * from nd_net_listen()/nd_net_accept(), both ends blocking with timeouts. */
static void
tcp_pair(int *cfd, int *sfd)
{
    char bound[ND_ADDR_LEN], err[256], peer[ND_ADDR_LEN];
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    struct pollfd p;
    int lfd = nd_net_listen("127.0.0.1", 0, 8, bound, sizeof(bound), err,
                            sizeof(err));

    ck_assert_msg(lfd >= 0, "nd_net_listen: %s", err);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    *cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(*cfd, 0);
    ck_assert_int_eq(nd_net_set_timeouts(*cfd, IO_TIMEOUT), 0);
    ck_assert_int_eq(connect(*cfd, (struct sockaddr *)&sa, sl), 0);
    p = (struct pollfd){.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, IO_TIMEOUT * 1000), 1);
    *sfd = nd_net_accept(lfd, peer, sizeof(peer));
    ck_assert_int_ge(*sfd, 0);
    ck_assert_int_eq(nd_net_set_timeouts(*sfd, IO_TIMEOUT), 0);
    ck_assert_ptr_nonnull(strstr(peer, "127.0.0.1:"));
    close(lfd);
}

/* The daemon's side of one handshake. */
struct server {
    SSL_CTX *ctx;
    struct nd_stream st; /* st.ssl set by nd_tls_new_server() */
    int rc;              /* 0, or what nd_tls_accept_step() failed with */
    char err[256];
};

/* The reactor's loop: accept steps on a non-blocking socket, waiting in
 * poll() for what each step asks, IO_TIMEOUT seconds in all. */
static void
server_handshake(struct server *sv)
{
    double end = nd_io_now() + IO_TIMEOUT;

    sv->err[0] = '\0';
    if (sv->st.ssl == NULL) {
        sv->st.ssl = nd_tls_new_server(sv->ctx, sv->st.fd);
        if (sv->st.ssl == NULL) {
            sv->rc = -ENOMEM;
            return;
        }
        if ((sv->rc = nd_io_set_nonblock(sv->st.fd, true)) < 0)
            return;
    }
    for (;;) {
        int rc = nd_tls_accept_step(sv->st.ssl, sv->err, sizeof(sv->err));
        struct pollfd p = {.fd = sv->st.fd};
        int left = (int)((end - nd_io_now()) * 1000.0);

        if (rc <= 0) {
            sv->rc = rc;
            return;
        }
        if (rc != ND_TLS_WANT_READ && rc != ND_TLS_WANT_WRITE) {
            sv->rc = -EINVAL;
            snprintf(sv->err, sizeof(sv->err), "accept step returned %d", rc);
            return;
        }
        if (left <= 0) {
            sv->rc = -ETIMEDOUT;
            snprintf(sv->err, sizeof(sv->err), "handshake took over %d s",
                     IO_TIMEOUT);
            return;
        }
        p.events = rc == ND_TLS_WANT_WRITE ? POLLOUT : POLLIN;
        (void)poll(&p, 1, left);
    }
}

static void *
server_main(void *arg)
{
    server_handshake(arg);
    return NULL;
}

/* One TLS connection under test: both ends, and what each handshake said. */
struct conn {
    struct nd_stream cli;
    struct server srv;
    SSL_CTX *cctx;
    int crc;
    char cerr[256];
};

static SSL_CTX *
server_ctx(void)
{
    char err[512] = "";
    SSL_CTX *ctx = NULL;
    int rc = nd_tls_server_ctx(&ctx, s_cert, s_key, err, sizeof(err));

    ck_assert_msg(rc == 0, "nd_tls_server_ctx: %d %s", rc, err);
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

static SSL_CTX *
client_ctx(const char *cafile, bool verify)
{
    char err[512] = "";
    SSL_CTX *ctx = NULL;
    int rc = nd_tls_client_ctx(&ctx, cafile, verify, err, sizeof(err));

    ck_assert_msg(rc == 0, "nd_tls_client_ctx: %d %s", rc, err);
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

/*
 * Connects over loopback TCP and runs both handshakes at once: the server's
 * in a thread, the client's nd_tls_connect() for host here, with a client
 * context for cafile/verify.  Returns the client's result (also in crc).
 */
static int
conn_open(struct conn *cn, const char *cafile, bool verify, const char *host)
{
    pthread_t t;
    int cfd, sfd;

    memset(cn, 0, sizeof(*cn));
    cn->srv.ctx = server_ctx();
    cn->cctx = client_ctx(cafile, verify);
    tcp_pair(&cfd, &sfd);
    nd_stream_init(&cn->cli, cfd);
    nd_stream_init(&cn->srv.st, sfd);
    /* The first step comes before any ClientHello was sent: it must ask
     * to wait for one, not block. */
    cn->srv.st.ssl = nd_tls_new_server(cn->srv.ctx, sfd);
    ck_assert_ptr_nonnull(cn->srv.st.ssl);
    ck_assert_int_eq(nd_io_set_nonblock(sfd, true), 0);
    ck_assert_int_eq(nd_tls_accept_step(cn->srv.st.ssl, cn->srv.err,
                                        sizeof(cn->srv.err)),
                     ND_TLS_WANT_READ);
    ck_assert_int_eq(pthread_create(&t, NULL, server_main, &cn->srv), 0);
    cn->crc = nd_tls_connect(&cn->cli, cn->cctx, host, cn->cerr,
                             sizeof(cn->cerr));
    if (cn->crc != 0) {
        /* A refused client leaves; the server must see that and stop. */
        ck_assert_ptr_null(cn->cli.ssl);
        nd_stream_close(&cn->cli);
    }
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    return cn->crc;
}

/* After a good handshake: the server end blocking, as a worker uses it. */
static void
conn_server_blocking(struct conn *cn)
{
    ck_assert_int_eq(nd_io_set_nonblock(cn->srv.st.fd, false), 0);
}

static void
conn_close(struct conn *cn)
{
    nd_stream_close(&cn->cli);
    nd_stream_close(&cn->srv.st);
    SSL_CTX_free(cn->srv.ctx);
    SSL_CTX_free(cn->cctx);
    memset(cn, 0, sizeof(*cn));
}

static void
assert_established(struct conn *cn, const char *host)
{
    char desc[128];

    ck_assert_msg(cn->crc == 0, "client handshake for %s: %d %s", host,
                  cn->crc, cn->cerr);
    ck_assert_msg(cn->srv.rc == 0, "server handshake for %s: %d %s", host,
                  cn->srv.rc, cn->srv.err);
    ck_assert_ptr_nonnull(cn->cli.ssl);
    ck_assert_ptr_nonnull(cn->srv.st.ssl);
    nd_tls_describe(cn->cli.ssl, desc, sizeof(desc));
    ck_assert_msg(strncmp(desc, "TLSv1.3 ", 8) == 0, "client: %s", desc);
    nd_tls_describe(cn->srv.st.ssl, desc, sizeof(desc));
    ck_assert_msg(strncmp(desc, "TLSv1.3 ", 8) == 0, "server: %s", desc);
}

/* A blocking transfer on another thread. */
struct xfer {
    struct nd_stream *st;
    void *buf;
    size_t len;
    int file; /* >= 0: nd_stream_send_file_some() of this file */
    ssize_t rc;
};

static void *
send_main(void *arg)
{
    struct xfer *x = arg;

    if (x->file >= 0) {
        /* Chunks of a file from their offsets, as a transfer sends them,
         * waiting (bounded) whenever the socket asks to: a TLS write that
         * could not go is offered again with the same length. */
        size_t done = 0;

        x->rc = 0;
        while (done < x->len && x->rc == 0) {
            size_t len = x->len - done < 65536 ? x->len - done : 65536;
            int want = 0;
            ssize_t n =
                nd_stream_send_file_some(x->st, x->file, (off_t)done,
                                         (uint8_t *)x->buf + done, len, &want);

            if (n == -EAGAIN)
                x->rc = nd_stream_wait(x->st, want, IO_TIMEOUT * 1000) == 1
                            ? 0
                            : -ETIMEDOUT;
            else if (n < 0)
                x->rc = n;
            else
                done += (size_t)n;
        }
        if (x->rc == 0)
            x->rc = (ssize_t)done;
    } else {
        x->rc = nd_stream_send_full(x->st, x->buf, x->len);
    }
    return NULL;
}

/* Sends len bytes of src from one stream (on a thread) and reads them on
 * the other; checks the counts and the bytes. */
static void
transfer(struct nd_stream *from, struct nd_stream *to, uint8_t *src,
         size_t len, int file)
{
    struct xfer x = {.st = from, .buf = src, .len = len, .file = file};
    uint8_t *got = calloc(1, len);
    pthread_t t;
    ssize_t n;

    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(pthread_create(&t, NULL, send_main, &x), 0);
    n = nd_stream_read_full(to, got, len);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(x.rc, (ssize_t)len);
    ck_assert_int_eq(n, (ssize_t)len);
    ck_assert_int_eq(memcmp(got, src, len), 0);
    free(got);
}

/* Waits (bounded) until fd is readable. */
static void
wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    ck_assert_int_eq(poll(&p, 1, IO_TIMEOUT * 1000), 1);
}

/* ---- contexts ------------------------------------------------------- */

START_TEST(test_server_ctx_good)
{
    char err[512] = "";
    SSL_CTX *ctx = NULL;

    ck_assert_int_eq(nd_tls_server_ctx(&ctx, s_cert, s_key, err, sizeof(err)),
                     0);
    ck_assert_ptr_nonnull(ctx);
    SSL_CTX_free(ctx);
}
END_TEST

static void
assert_server_ctx_fails(const char *cert, const char *key, const char *word,
                        const char *extra)
{
    char err[512] = "";
    SSL_CTX *ctx = (SSL_CTX *)err; /* any non-NULL: must come back NULL */
    int rc = nd_tls_server_ctx(&ctx, cert, key, err, sizeof(err));

    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(err, word) != NULL, "\"%s\" lacks %s", err, word);
    ck_assert_msg(extra == NULL || strstr(err, extra) != NULL,
                  "\"%s\" lacks %s", err, extra);
    /* The message is one line and the error queue is left empty. */
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_int_eq(ERR_peek_error(), 0);
}

START_TEST(test_server_ctx_bad)
{
    assert_server_ctx_fails(s_missing, s_key, "tls_cert", s_missing);
    assert_server_ctx_fails(s_cert, s_missing, "tls_key", s_missing);
    /* A key that is not the certificate's: OpenSSL already refuses it
     * while loading ("key values mismatch"), before the explicit check. */
    assert_server_ctx_fails(s_cert, s_other_key, "tls_key", "match");
    /* A key where the certificate belongs. */
    assert_server_ctx_fails(s_key, s_key, "tls_cert", NULL);
}
END_TEST

START_TEST(test_client_ctx_bad_ca)
{
    char err[512] = "";
    SSL_CTX *ctx = NULL;

    ck_assert_int_eq(nd_tls_client_ctx(&ctx, s_missing, true, err,
                                       sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(err, "CA file") != NULL, "%s", err);
    /* Without verification the CA file is not even read. */
    ck_assert_int_eq(nd_tls_client_ctx(&ctx, s_missing, false, err,
                                       sizeof(err)),
                     0);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_tls_error_fallback)
{
    char buf[128];

    ERR_clear_error();
    ck_assert_str_eq(nd_tls_error(buf, sizeof(buf), "nothing queued"),
                     "nothing queued");
}
END_TEST

/* ---- handshakes ----------------------------------------------------- */

START_TEST(test_handshake_ok)
{
    static const char *hosts[] = {"127.0.0.1", "localhost"};
    struct conn cn;

    for (size_t i = 0; i < 2; i++) {
        conn_open(&cn, s_ca, true, hosts[i]);
        assert_established(&cn, hosts[i]);
        conn_close(&cn);
    }
}
END_TEST

START_TEST(test_handshake_wrong_ca)
{
    struct conn cn;

    ck_assert_int_eq(conn_open(&cn, s_other_ca, true, "127.0.0.1"),
                     -EKEYREJECTED);
    ck_assert_msg(strstr(cn.cerr, "certificate") != NULL, "%s", cn.cerr);
    /* The server saw the client's alert (or its close), not a success. */
    ck_assert_msg(cn.srv.rc < 0, "server: %d", cn.srv.rc);
    ck_assert_int_ne(cn.srv.err[0], '\0');
    conn_close(&cn);
}
END_TEST

START_TEST(test_handshake_wrong_host)
{
    struct conn cn;

    ck_assert_int_eq(conn_open(&cn, s_ca, true, "example.com"), -EKEYREJECTED);
    ck_assert_msg(strstr(cn.cerr, "certificate") != NULL, "%s", cn.cerr);
    ck_assert_msg(cn.srv.rc < 0, "server: %d", cn.srv.rc);
    conn_close(&cn);
    /* An address the certificate does not name either. */
    ck_assert_int_eq(conn_open(&cn, s_ca, true, "127.0.0.2"), -EKEYREJECTED);
    conn_close(&cn);
}
END_TEST

START_TEST(test_handshake_noverify)
{
    struct conn cn;

    conn_open(&cn, s_other_ca, false, "example.com");
    assert_established(&cn, "example.com (verify off)");
    conn_close(&cn);
}
END_TEST

/* A plaintext HTTP request where a ClientHello belongs. */
START_TEST(test_accept_garbage)
{
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    struct server sv = {0};
    int cfd, sfd;

    sv.ctx = server_ctx();
    tcp_pair(&cfd, &sfd);
    nd_stream_init(&sv.st, sfd);
    ck_assert_int_eq(nd_io_send_full(cfd, req, sizeof(req) - 1),
                     (ssize_t)(sizeof(req) - 1));
    close(cfd);
    server_handshake(&sv);
    ck_assert_msg(sv.rc < 0 && sv.rc != -ETIMEDOUT, "accept: %d %s", sv.rc,
                  sv.err);
    ck_assert_int_eq(sv.rc, -EPROTO);
    ck_assert_int_ne(sv.err[0], '\0');
    ck_assert_ptr_null(strchr(sv.err, '\n'));
    ck_assert_int_eq(ERR_peek_error(), 0);
    nd_stream_close(&sv.st);
    SSL_CTX_free(sv.ctx);
}
END_TEST

/* A client that connects and leaves without a word. */
START_TEST(test_accept_peer_left)
{
    struct server sv = {0};
    int cfd, sfd;

    sv.ctx = server_ctx();
    tcp_pair(&cfd, &sfd);
    nd_stream_init(&sv.st, sfd);
    close(cfd);
    server_handshake(&sv);
    ck_assert_msg(sv.rc == -ECONNRESET, "accept: %d %s", sv.rc, sv.err);
    ck_assert_str_eq(sv.err, "peer closed the connection");
    nd_stream_close(&sv.st);
    SSL_CTX_free(sv.ctx);
}
END_TEST

/* ---- data ----------------------------------------------------------- */

START_TEST(test_data_both_ways)
{
    uint8_t *up = pattern(BIG, 1), *down = pattern(BIG, 7);
    struct conn cn;

    conn_open(&cn, s_ca, true, "localhost");
    assert_established(&cn, "localhost");
    conn_server_blocking(&cn);
    transfer(&cn.cli, &cn.srv.st, up, BIG, -1);
    transfer(&cn.srv.st, &cn.cli, down, BIG, -1);
    /* And once more, so neither direction was left with stray records. */
    transfer(&cn.cli, &cn.srv.st, down, BIG, -1);
    conn_close(&cn);
    free(up);
    free(down);
}
END_TEST

static int
make_data_file(const uint8_t *data, size_t len)
{
    int fd = open(s_data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(nd_io_write_full(fd, data, len), (ssize_t)len);
    return fd;
}

/* True when the kernel offers the TLS upper-layer protocol (kernel TLS). */
static bool
kernel_has_tls(void)
{
    char buf[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");

    if (f == NULL)
        return false;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    for (char *w = strtok(buf, " \n"); w != NULL; w = strtok(NULL, " \n"))
        if (strcmp(w, "tls") == 0)
            return true;
    return false;
}

START_TEST(test_send_file_tls)
{
    uint8_t *data = pattern(BIG, 3);
    int fd = make_data_file(data, BIG);
    struct conn cn;

    conn_open(&cn, s_ca, true, "127.0.0.1");
    assert_established(&cn, "127.0.0.1");
    conn_server_blocking(&cn);
    /* Without kernel TLS the bytes are encrypted in user space from buf. */
    if (!kernel_has_tls())
        ck_assert_int_eq(nd_stream_zero_copy(&cn.srv.st), 0);
    else
        ck_assert_int_eq(
            nd_stream_zero_copy(&cn.srv.st),
            BIO_get_ktls_send(SSL_get_wbio(cn.srv.st.ssl)) ? 1 : 0);
    transfer(&cn.srv.st, &cn.cli, data, BIG, fd);
    conn_close(&cn);
    close(fd);
    free(data);
}
END_TEST

START_TEST(test_send_file_plain)
{
    uint8_t *data = pattern(BIG, 5);
    int fd = make_data_file(data, BIG), cfd, sfd;
    struct nd_stream cli, srv;

    tcp_pair(&cfd, &sfd);
    nd_stream_init(&cli, cfd);
    nd_stream_init(&srv, sfd);
    ck_assert_int_eq(nd_stream_zero_copy(&srv), 1);
    transfer(&srv, &cli, data, BIG, fd);
    transfer(&cli, &srv, data, BIG, -1);
    nd_stream_close(&cli);
    nd_stream_close(&srv);
    ck_assert_int_eq(cli.fd, -1);
    close(fd);
    free(data);
}
END_TEST

START_TEST(test_read_nowait)
{
    uint8_t buf[64];
    struct conn cn;
    int want = 0;
    ssize_t n;

    conn_open(&cn, s_ca, true, "127.0.0.1");
    assert_established(&cn, "127.0.0.1");
    /* The server end is still non-blocking, as in the reactor. */
    n = nd_tls_read_nowait(cn.srv.st.ssl, buf, sizeof(buf), &want);
    ck_assert_int_eq(n, -EAGAIN);
    ck_assert_int_eq(want, ND_TLS_WANT_READ);

    ck_assert_int_eq(nd_stream_send_full(&cn.cli, "hello", 5), 5);
    want = 0;
    for (int i = 0; i < 50; i++) {
        wait_readable(cn.srv.st.fd);
        n = nd_tls_read_nowait(cn.srv.st.ssl, buf, sizeof(buf), &want);
        if (n != -EAGAIN)
            break;
    }
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);

    /* A refusal the reactor sends without blocking reaches the client. */
    ck_assert_int_eq(nd_tls_write_nowait(cn.srv.st.ssl, "no", 2, NULL), 2);
    ck_assert_int_eq(nd_stream_read_full(&cn.cli, buf, 2), 2);
    ck_assert_int_eq(memcmp(buf, "no", 2), 0);

    /* close_notify from the client: the end of the session. */
    nd_stream_close(&cn.cli);
    ck_assert_int_eq(cn.cli.fd, -1);
    ck_assert_ptr_null(cn.cli.ssl);
    nd_stream_close(&cn.cli); /* safe on a closed stream */
    /* Before its FIN the client sent a record: the close_notify alert (a
     * bare close would leave nothing to read but the end of the stream). */
    wait_readable(cn.srv.st.fd);
    ck_assert_int_ge(recv(cn.srv.st.fd, buf, sizeof(buf),
                          MSG_PEEK | MSG_DONTWAIT),
                     5);
    for (int i = 0; i < 50; i++) {
        wait_readable(cn.srv.st.fd);
        n = nd_tls_read_nowait(cn.srv.st.ssl, buf, sizeof(buf), &want);
        if (n != -EAGAIN)
            break;
    }
    ck_assert_int_eq(n, 0);
    ck_assert(SSL_get_shutdown(cn.srv.st.ssl) & SSL_RECEIVED_SHUTDOWN);
    conn_close(&cn);
}
END_TEST

START_TEST(test_plain_short_read)
{
    struct nd_stream cli, srv;
    uint8_t buf[100];
    int cfd, sfd;

    tcp_pair(&cfd, &sfd);
    nd_stream_init(&cli, cfd);
    nd_stream_init(&srv, sfd);
    ck_assert_int_eq(nd_stream_send_full(&cli, "0123456789", 10), 10);
    nd_stream_close(&cli);
    ck_assert_int_eq(nd_stream_read_full(&srv, buf, sizeof(buf)), 10);
    ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0);
    ck_assert_int_eq(nd_stream_read_full(&srv, buf, sizeof(buf)), 0);
    nd_stream_close(&srv);
}
END_TEST

/* The client sends 1000 of the 4096 bytes the server waits for, then
 * leaves: with close_notify, or (abrupt) with a bare TCP close. */
static void
tls_short_read(bool abrupt)
{
    uint8_t *src = pattern(1000, 9), buf[4096];
    struct conn cn;

    conn_open(&cn, s_ca, true, "localhost");
    assert_established(&cn, "localhost");
    conn_server_blocking(&cn);
    ck_assert_int_eq(nd_stream_send_full(&cn.cli, src, 1000), 1000);
    if (abrupt) {
        /* No close_notify: the socket goes first, then the SSL. */
        close(cn.cli.fd);
        cn.cli.fd = -1;
    }
    nd_stream_close(&cn.cli);
    ck_assert_int_eq(nd_stream_read_full(&cn.srv.st, buf, sizeof(buf)), 1000);
    ck_assert_int_eq(memcmp(buf, src, 1000), 0);
    conn_close(&cn);
    free(src);
}

START_TEST(test_tls_short_read_close_notify)
{
    tls_short_read(false);
}
END_TEST

START_TEST(test_tls_short_read_abrupt)
{
    tls_short_read(true);
}
END_TEST

/* A blocking TLS read whose SO_RCVTIMEO expires: -EAGAIN, as nd_io says. */
START_TEST(test_tls_read_timeout)
{
    uint8_t buf[16];
    struct conn cn;
    double t0;

    conn_open(&cn, s_ca, true, "localhost");
    assert_established(&cn, "localhost");
    conn_server_blocking(&cn);
    ck_assert_int_eq(nd_net_set_timeouts(cn.srv.st.fd, 1), 0);
    t0 = nd_io_now();
    ck_assert_int_eq(nd_stream_read_full(&cn.srv.st, buf, sizeof(buf)),
                     -EAGAIN);
    ck_assert_double_ge(nd_io_now() - t0, 0.5);
    conn_close(&cn);
}
END_TEST

/* Sending to a client that left: -EPIPE (or a reset), never SIGPIPE. */
START_TEST(test_tls_send_to_closed_peer)
{
    uint8_t *src = pattern(BIG, 11);
    struct conn cn;
    ssize_t n;

    conn_open(&cn, s_ca, true, "localhost");
    assert_established(&cn, "localhost");
    conn_server_blocking(&cn);
    nd_stream_close(&cn.cli);
    n = nd_stream_send_full(&cn.srv.st, src, BIG);
    ck_assert_msg(n == -EPIPE || n == -ECONNRESET, "send: %zd", n);
    conn_close(&cn);
    free(src);
}
END_TEST

static Suite *
tls_suite(void)
{
    Suite *s = suite_create("nd_tls");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
    tcase_add_test(tc, test_server_ctx_good);
    tcase_add_test(tc, test_server_ctx_bad);
    tcase_add_test(tc, test_client_ctx_bad_ca);
    tcase_add_test(tc, test_tls_error_fallback);
    tcase_add_test(tc, test_handshake_ok);
    tcase_add_test(tc, test_handshake_wrong_ca);
    tcase_add_test(tc, test_handshake_wrong_host);
    tcase_add_test(tc, test_handshake_noverify);
    tcase_add_test(tc, test_accept_garbage);
    tcase_add_test(tc, test_accept_peer_left);
    tcase_add_test(tc, test_data_both_ways);
    tcase_add_test(tc, test_send_file_tls);
    tcase_add_test(tc, test_send_file_plain);
    tcase_add_test(tc, test_read_nowait);
    tcase_add_test(tc, test_plain_short_read);
    tcase_add_test(tc, test_tls_short_read_close_notify);
    tcase_add_test(tc, test_tls_short_read_abrupt);
    tcase_add_test(tc, test_tls_read_timeout);
    tcase_add_test(tc, test_tls_send_to_closed_peer);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    int failed;

    /* As in the daemon: a closed peer is an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
