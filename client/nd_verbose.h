/*
 * nd_verbose: the lines -v adds on stderr, one per file moved, after the
 * progress bar (if any) has ended its line.  Single-threaded, like the
 * client.
 */
#ifndef ND_VERBOSE_H
#define ND_VERBOSE_H

#include <stdint.h>

#include "nd_digest.h"

/*
 * Prints "OP FROM -> TO: SIZE bytes, md5 HEX" as one line on stderr, such
 * as "put report.pdf -> docs/report.pdf: 1048576 bytes, md5 0cc1...".
 * Control bytes in the names are shown as '?'.  Output errors are ignored:
 * the transfer itself succeeded.
 */
void nd_verbose_file(const char *op, const char *from, const char *to,
                     uint64_t size, const uint8_t md5[ND_DIGEST_LEN]);

#endif
