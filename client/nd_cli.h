/*
 * nd_cli: the client's session with the server and its error reporting.
 *
 * A session is one connection, the HELLO exchange and the requests of one
 * command.  Every failure is reported here as one line on stderr, prefixed
 * "netdisk: ", and turned into the exit status --help documents.  The
 * progress bar being drawn, if any, is ended first so the message starts
 * on a line of its own.  Single-threaded, like the client.
 */
#ifndef ND_CLI_H
#define ND_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "nd_progress.h"
#include "nd_proto.h"
#include "nd_stream.h"

/* Exit statuses; --help documents them and scripts rely on them. */
enum nd_exit {
    ND_EXIT_OK = 0,
    ND_EXIT_LOCAL = 1,   /* cannot read LOCAL or write the destination */
    ND_EXIT_USAGE = 2,   /* bad command line */
    ND_EXIT_NET = 3,     /* connect, network, protocol or timeout failure */
    ND_EXIT_REFUSED = 4, /* the server answered ERROR */
    ND_EXIT_DIGEST = 5,  /* the bytes changed in transit; nothing kept */
    ND_EXIT_AUTH = 6,    /* login refused, or the server failed to prove
                            it knows the password */
};

#define ND_DEFAULT_HOST "127.0.0.1"
#define ND_DEFAULT_PORT "5678"
#define ND_CONNECT_TIMEOUT_MS 10000
/* A server silent for this long is taken for dead. */
#define ND_IO_TIMEOUT_S 60
/* Room for any small reply body: an ERROR is at most 4 + ND_MSG_MAX. */
#define ND_REPLY_MAX 2048
/* Room for a local path plus a derived name and ".part". */
#define ND_LOCAL_MAX 8192

/* The settings of one run: the command line's, completed by
 * nd_clientconf_resolve() from the environment and the config file. */
struct nd_opts {
    const char *host;
    const char *port;
    bool quiet;                /* -q: errors only */
    bool verbose;              /* -v: a line per file moved */
    const char *user;          /* -u; by default the login name */
    const char *password_file; /* --password-file, or NULL: the variable
                                  NETDISK_PASSWORD, else a prompt */
    bool tls;                  /* --tls */
    const char *cacert;        /* --cacert, or NULL: the system store */
    bool insecure;             /* --insecure: no certificate check */
};

struct nd_sess {
    struct nd_stream st;        /* the connection, plain or TLS */
    SSL_CTX *tls;               /* the client's TLS context, or NULL */
    const char *path;           /* the remote path sent in the request */
    char ctx[ND_PATH_MAX + 16]; /* "get \"a.txt\"", for messages */
    char msg[ND_MSG_MAX + 1];   /* the message of an ERROR reply */
    bool progress;              /* draw the progress bar */
    bool verbose;               /* print the -v line of each file */
};

/* Prints "netdisk: " and the formatted message as one line on stderr. */
void nd_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a usage error and returns ND_EXIT_USAGE. */
int nd_cli_usage(const char *what, const char *arg);

/* One option of a command (ls -l, mkdir -p/--parents): its letter, its
 * long form or NULL, and the bit it sets. */
struct nd_cli_opt {
    char opt;
    const char *lopt;
    unsigned flag;
};

/*
 * Splits a command's words into its options and its operands, which are
 * moved to the front of argv.  Options may come anywhere before "--" and
 * letters may be clustered (-lR); "-" alone is an operand.  opts holds n
 * entries.  Returns the number of operands with *flags the bits of the
 * options given, or -1 after reporting "CMD: unknown option: ..." as a
 * usage error.
 */
int nd_cli_cmd_opts(const char *cmd, const struct nd_cli_opt *opts, size_t n,
                    int argc, char **argv, unsigned *flags);

/* Prints a note (not a failure: a skipped entry, a resumed file) like
 * nd_cli_err(), unless o->quiet.  Messages longer than ND_LOCAL_MAX + 255
 * bytes are cut short. */
void nd_cli_note(const struct nd_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports the local failure what "path": strerror(err).  Returns
 * ND_EXIT_LOCAL. */
int nd_cli_fail_local(const char *what, const char *path, int err);

/* Records rc in *worst when it is worse (higher): a command that goes on
 * after a failure exits with the highest status of its failures. */
void nd_cli_worst(int *worst, int rc);

/* Registers the bar being drawn, so that an error message ends it first. */
void nd_cli_bar_set(struct nd_progress *bar);
/* Unregisters bar; returns true when it was still registered (not already
 * ended by an error message), in which case the caller finishes it. */
bool nd_cli_bar_take(struct nd_progress *bar);

/*
 * Reports a failed exchange and returns its exit status: rc > 0 is the
 * status of the server's ERROR reply (its message is in s->msg), rc < 0 a
 * network or protocol failure.
 */
int nd_cli_fail_wire(struct nd_sess *s, int rc);

/* Reports a failed send, with the server's reason when it sent one before
 * closing.  Returns an exit status. */
int nd_cli_fail_send(struct nd_sess *s, int rc);

/* True for the ERROR statuses after which the server closes the session,
 * so that no further request can follow. */
bool nd_cli_session_ends(int status);

/* Points s at the next request of a multi-request session: op on path
 * (which must outlive the request), for the messages; clears s->msg. */
void nd_sess_target(struct nd_sess *s, const char *op, const char *path);

/* Prepares a session for op on a remote path.  Returns an exit status. */
int nd_sess_init(struct nd_sess *s, const struct nd_opts *o, const char *op,
                 const char *path);
/* Connects to the server (with TLS when asked), exchanges HELLO and logs
 * in.  Returns an exit status; either way the caller ends s with
 * nd_sess_close(). */
int nd_sess_open(const struct nd_opts *o, struct nd_sess *s);
/* Closes the connection and frees the TLS context.  Safe to repeat. */
void nd_sess_close(struct nd_sess *s);
/* Waits for a reply of type want into body (ND_REPLY_MAX bytes).  Returns
 * an exit status, having reported any failure. */
int nd_sess_expect(struct nd_sess *s, uint8_t want, uint8_t *body, size_t *len);
/* Sends the request of type (PUT with size) for s->path.  Returns an exit
 * status. */
int nd_sess_request(struct nd_sess *s, uint8_t type, uint64_t size);

#endif
