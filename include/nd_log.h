/*
 * nd_log: one line per event on stderr, written with a single write(2) so
 * lines from different threads never interleave.  Under systemd (when
 * JOURNAL_STREAM is set) each line starts with a "<N>" syslog priority that
 * journald turns into the entry's level; elsewhere it starts with a UTC
 * timestamp and the pid.  The level check comes first, so filtered-out calls
 * never evaluate or format their arguments.
 */
#ifndef ND_LOG_H
#define ND_LOG_H

#include <stddef.h>

/* syslog(3) priorities, so the journal prefix is the level itself. */
enum nd_log_level {
    ND_LOG_ERR = 3,
    ND_LOG_WARN = 4,
    ND_LOG_INFO = 6,
    ND_LOG_DEBUG = 7,
};

/* Set once at start-up, before threads exist; read freely afterwards. */
extern int nd_log_max_level;

#define nd_log(level, ...)                                                     \
    do {                                                                       \
        if ((level) <= nd_log_max_level)                                       \
            nd_log_write((level), __VA_ARGS__);                                \
    } while (0)

/* Chooses the line format from the environment and notes the pid that
 * lines carry (noted again in the child of each fork()).  Call once at
 * start-up, before any thread; not thread-safe. */
void nd_log_init(void);

/* Formats and writes one line (truncated at 4 KiB).  Thread-safe. */
void nd_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses "error", "warn", "info" or "debug".  Returns the level or -EINVAL. */
int nd_log_level_parse(const char *name);

/*
 * Copies s into out (capacity cap, always NUL-terminated) with '"', '\\' and
 * control bytes escaped, so a client-chosen path cannot forge a log line.
 * Returns out.
 */
char *nd_log_quote(const char *s, char *out, size_t cap);

#endif
