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
    char listen[64];         /* numeric IPv4 or IPv6 address */
    int port;                /* 0 asks the kernel for a free port */
    int workers;             /* worker threads */
    char root[4096];         /* storage root directory */
    int queue_capacity;      /* ready requests waiting for a worker */
    int max_connections;     /* open client connections */
    int idle_timeout;        /* seconds */
    int shutdown_timeout;    /* seconds */
    int log_level;           /* enum nd_log_level */
};

/* Fills cfg with the built-in defaults (documented in
 * docs/configuration.md). */
void nd_config_defaults(struct nd_config *cfg);

/*
 * Loads path over the defaults.  Returns 0, or -EINVAL for a syntax error,
 * unknown key, wrong type or bad value, or -errno when the file cannot be
 * read; on failure err (ND_CONFIG_ERR_LEN bytes) holds a one-line message
 * of the form "FILE:LINE: key 'port': ...".
 */
int nd_config_load(struct nd_config *cfg, const char *path, char *err);

#endif
