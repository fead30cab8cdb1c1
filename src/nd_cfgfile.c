/*
 * nd_cfgfile: the safe way into libconfig 1.5 shared by the daemon's and the
 * client's configuration loaders: read the file into memory, lex it once to
 * catch what libconfig gets wrong or does not survive, then let libconfig
 * parse the text.  Checking each key is the caller's business.
 */
#include "nd_cfgfile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Formats the message into err and returns -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/*
 * Reads the whole file into a NUL-terminated *text, which the caller frees
 * even on failure.  Returns 0, or -errno with err set: EISDIR for a
 * directory, EFBIG for a file over the limit.
 */
static int
read_file(const char *path, char **text, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "re");
    int rc = f == NULL ? -errno : 0;

    *text = rc == 0 ? malloc(ND_CFGFILE_MAX + 2) : NULL;
    if (rc == 0 && *text == NULL)
        rc = -ENOMEM;
    if (rc == 0) {
        /* Asking for a byte over the limit shows if the file exceeds it. */
        errno = 0;
        *len = fread(*text, 1, ND_CFGFILE_MAX + 1, f);
        if (ferror(f))
            rc = errno != 0 ? -errno : -EIO;
        else if (*len > ND_CFGFILE_MAX)
            rc = -EFBIG;
        else
            (*text)[*len] = '\0';
    }
    if (f != NULL)
        fclose(f);
    if (rc < 0)
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(-rc));
    return rc;
}

/*
 * Lexes the len bytes of text by libconfig 1.5's rules, just far enough to
 * skip comments and strings, follow nesting, and see top-level names and
 * integer literals.  A literal without an L suffix that does not fit in an
 * int has its true value stored in wide[] (indexed like the
 * caller's table, and never 0
 * for such a literal) under the key it follows.  Returns 0, or -EINVAL with
 * err set for @include or a NUL byte.
 */
static int
prescan(const char *text, size_t len, const char *path, nd_cfgfile_find_fn find,
        long long *wide, char *err, size_t err_len)
{
    const char *p = text;
    unsigned line = 1;
    int depth = 0, key = -1;

    while (*p != '\0') {
        if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            p += *p != '\0' ? 2 : 0;
        } else if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                line += *p == '\n';
            }
            p += *p != '\0';
        } else if (strncmp(p, "@include", 8) == 0) {
            return fail(err, err_len, "%s:%u: @include is not supported", path,
                        line);
        } else if (isalpha((unsigned char)*p) || *p == '*') {
            size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*");

            if (depth == 0)
                key = find(p, n);
            p += n;
        } else if (isdigit((unsigned char)p[*p == '-' || *p == '+'])) {
            /* An integer or a float, maybe signed. */
            int hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
            char *end;
            long long v;

            /* Overflow gives LLONG_MIN or LLONG_MAX, out of range too. */
            v = strtoll(p, &end, hex ? 16 : 10);
            if (*end == '.' || *end == 'e' || *end == 'E') {
                end += strspn(end, "0123456789.eE+-"); /* a float */
            } else if (*end == 'L') {
                end += strspn(end, "L"); /* int64: libconfig keeps it whole */
            } else if (depth == 0 && key >= 0 && (v < INT_MIN || v > INT_MAX)) {
                wide[key] = v;
            }
            p = end;
        } else {
            depth += *p == '{' || *p == '(' || *p == '[';
            depth -= *p == '}' || *p == ')' || *p == ']';
            line += *p == '\n';
            p++;
        }
    }
    /* libconfig would silently ignore everything after a NUL byte. */
    if ((size_t)(p - text) < len)
        return fail(err, err_len, "%s:%u: syntax error: NUL byte", path, line);
    return 0;
}

int
nd_cfgfile_parse(config_t *lc, const char *path, nd_cfgfile_find_fn find,
                 long long *wide, char *err, size_t err_len)
{
    char *text;
    size_t len;
    int rc;

    err[0] = '\0';
    rc = read_file(path, &text, &len, err, err_len);
    if (rc == 0)
        rc = prescan(text, len, path, find, wide, err, err_len);
    /* A repeated key is a parse error here: "duplicate setting name". */
    if (rc == 0 && config_read_string(lc, text) != CONFIG_TRUE) {
        const char *what = config_error_text(lc);
        int plain = strcmp(what, "syntax error") == 0; /* say it only once */

        rc = fail(err, err_len, "%s:%d: syntax error%s%s", path,
                  config_error_line(lc), plain ? "" : ": ", plain ? "" : what);
    }
    free(text);
    return rc;
}

const char *
nd_cfgfile_type_name(int type)
{
    static const char *const names[] = {"nothing",    "a group",  "an integer",
                                        "an integer", "a float",  "a string",
                                        "a boolean",  "an array", "a list"};

    if (type < 0 || (size_t)type >= sizeof(names) / sizeof(names[0]))
        return "something else";
    return names[type];
}
