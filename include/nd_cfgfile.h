/*
 * nd_cfgfile: reads a flat libconfig file safely, for the daemon's
 * configuration (nd_config) and the client's (client/nd_clientconf).
 *
 * libconfig 1.5 converts an integer literal without an L suffix with atoi(),
 * so "port = 4294972974;" silently becomes 5678, and a read error in its
 * scanner (a directory given as the file) calls exit(2).  So the file is
 * read into memory here, a pre-pass finds the true value of any top-level
 * literal that does not fit in an int, and @include, which would escape
 * both, is refused.  The caller keeps its own key table and checks each
 * setting; this module knows no key.  It never logs.
 */
#ifndef ND_CFGFILE_H
#define ND_CFGFILE_H

#include <stddef.h>

#include <libconfig.h>

/* A config file larger than this is surely a mistake. */
#define ND_CFGFILE_MAX (1024 * 1024)

/* Returns the index in the caller's key table of the key called name (len
 * bytes, not NUL-terminated), or -1 for an unknown key. */
typedef int (*nd_cfgfile_find_fn)(const char *name, size_t len);

/*
 * Reads path and parses it into lc, which the caller has set up with
 * config_init() and destroys with config_destroy() on every path.  A
 * top-level integer literal without an L suffix that does not fit in an
 * int has its true value stored in wide[find(name)] (wide is indexed like
 * the caller's table and zeroed by the caller; such a value is never 0).
 * Returns 0, or -EINVAL for a syntax error (including a repeated key),
 * @include or a NUL byte, or -errno (ENOENT, EACCES, EISDIR, EFBIG above
 * ND_CFGFILE_MAX...) when the file cannot be read.  On failure err (err_len
 * bytes) holds one line such as "FILE:LINE: syntax error" or "FILE: cannot
 * read: No such file or directory".  Uses strerror(): call it before any
 * thread starts.
 */
int nd_cfgfile_parse(config_t *lc, const char *path, nd_cfgfile_find_fn find,
                     long long *wide, char *err, size_t err_len);

/* Names a libconfig value type (CONFIG_TYPE_*) for messages: "an integer",
 * "a string", "a boolean"... */
const char *nd_cfgfile_type_name(int type);

#endif
