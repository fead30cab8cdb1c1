/*
 * nd_verbose: formats the per-file lines of -v.  Names may come from the
 * server, so they are scrubbed of control bytes before they reach a
 * terminal, as ls does.
 */
#include "nd_verbose.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "nd_io.h"

/* Appends s to line at *len (within cap), control bytes as '?'. */
static void
put_name(char *line, size_t *len, size_t cap, const char *s)
{
    for (; *s != '\0' && *len < cap; s++) {
        unsigned char c = (unsigned char)*s;

        line[(*len)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
}

void
nd_verbose_file(const char *op, const char *from, const char *to, uint64_t size,
                const uint8_t md5[ND_DIGEST_LEN])
{
    /* Two paths of up to 8 KiB each, and room for the rest. */
    char line[2 * 8192 + 128], hex[ND_DIGEST_HEX_LEN];
    size_t len = 0, tail = 96, cap = sizeof(line) - tail;
    int n;

    nd_digest_hex(md5, hex);
    n = snprintf(line, cap, "%s ", op);
    len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    put_name(line, &len, cap, from);
    put_name(line, &len, cap, " -> ");
    put_name(line, &len, cap, to);
    n = snprintf(line + len, tail, ": %" PRIu64 " bytes, md5 %s\n", size, hex);
    if (n > 0)
        len += (size_t)n < tail ? (size_t)n : tail - 1;
    /* One write, so the line cannot interleave with anything else. */
    (void)nd_io_write_full(STDERR_FILENO, line, len);
}
