/*
 * nd_config: the daemon's settings, loaded from a libconfig file.
 *
 * The file holds top-level settings only; each key has a type, a range and a
 * default in one table (the vsftpd tunables idea).  Unknown keys, wrong types
 * and out-of-range values are errors that name the file, the line and the
 * key.  Loading happens once at start-up, before any thread exists; the
 * resulting struct is read-only afterwards and may be shared freely.
 */
#ifndef ND_CONFIG_H
#define ND_CONFIG_H

#include <stddef.h>

/* sysexits.h's EX_CONFIG: the exit status for a bad configuration. */
#define ND_EX_CONFIG 78

#define ND_CONFIG_ERR_LEN 512

struct nd_config {
    char listen[64];      /* numeric IPv4 or IPv6 address */
    int port;             /* 0 asks the kernel for a free port */
    int workers;          /* worker threads */
    char root[4096];      /* storage root directory */
    int queue_capacity;   /* ready requests waiting for a worker */
    int max_connections;  /* open client connections */
    int idle_timeout;     /* seconds */
    int shutdown_timeout; /* seconds */
    int partial_ttl;      /* seconds an interrupted upload is kept; 0: none */
    int log_level;        /* enum nd_log_level */
    int max_per_ip;       /* open connections from one address */

    /* Accounts and logins (see docs/security.md). */
    char users_file[4096]; /* NAME:VERIFIER lines, managed by the CLI */
    int scram_iterations;  /* PBKDF2 rounds for new verifiers */
    int login_delay_ms;    /* delay after a failed login, doubling */
    int login_ban_after;   /* failures from one address before a ban */
    int login_ban_seconds; /* length of the ban */
    int login_timeout;     /* seconds from accept to a finished login */

    /* Transport security. */
    int tls;             /* enum nd_tls_mode */
    char tls_cert[4096]; /* PEM certificate chain; "" when unset */
    char tls_key[4096];  /* PEM private key; "" when unset */
    int allow_plaintext; /* bool: plaintext beyond loopback */

    /* Privileges. */
    char user[64];  /* account to drop to when started as root */
    char group[64]; /* its group; "" means the user's own */
    int allow_root; /* bool: may serve as root */
};

/* The values of the tls key. */
enum nd_tls_mode { ND_TLS_OFF, ND_TLS_OPTIONAL, ND_TLS_REQUIRED };

/* Fills cfg with the built-in defaults (documented in
 * docs/configuration.md). */
void nd_config_defaults(struct nd_config *cfg);

/*
 * Loads path over the defaults: on success cfg holds the defaults with every
 * key the file sets replaced.  Returns 0, or -EINVAL for a syntax error
 * (including a repeated key), an unknown key, a wrong type or a bad value,
 * or -errno (ENOENT, EACCES, EISDIR, EFBIG above 1 MiB...) when the file
 * cannot be read.  On failure cfg is left untouched and err, which must have
 * ND_CONFIG_ERR_LEN bytes, holds a one-line message such as
 * "FILE:LINE: key 'port': 70000 is out of range 0..65535" or
 * "FILE: cannot read: No such file or directory"; on success err is "".
 * Does not log.  Uses strerror(), so call it before threads start.
 * Besides each key on its own, it checks that the keys agree: tls other
 * than "off" needs tls_cert and tls_key.
 */
int nd_config_load(struct nd_config *cfg, const char *path, char *err);

#endif
