/*
 * nd_log: formatting and emitting log lines.  Formats into a stack buffer and
 * hands it to the kernel in one write(2), so there is no lock and no stdio.
 */
#include "nd_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int nd_log_max_level = ND_LOG_INFO;
static bool s_journal;
/* The pid every line carries, kept rather than asked for per line: set
 * before any thread logs, and again in a child of fork() before it has
 * threads. */
static long s_pid;

static void
note_pid(void)
{
    s_pid = (long) getpid();
}

void
nd_log_init(void)
{
    s_journal = getenv("JOURNAL_STREAM") != NULL;
    note_pid();
    (void) pthread_atfork(NULL, NULL, note_pid);
}

static const char *
level_name(int level)
{
    switch (level) {
    case ND_LOG_ERR:
        return "error";
    case ND_LOG_WARN:
        return "warn";
    case ND_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void
nd_log_write(int level, const char *fmt, ...)
{
    char line[4096];
    size_t n;
    int k;
    va_list ap;

    if (s_journal) {
        k = snprintf(line, sizeof(line), "<%d>%s: ", level, level_name(level));
    } else {
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        k = snprintf(line, sizeof(line), "%s.%03ldZ netdiskd[%ld] %s: ", when,
                     ts.tv_nsec / 1000000, s_pid != 0 ? s_pid : (long) getpid(),
                     level_name(level));
    }
    n = k > 0 ? (size_t) k : 0;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t) k;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line; a failure to log has nowhere to be reported. */
    (void) !write(STDERR_FILENO, line, n);
}

int
nd_log_level_parse(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"error", ND_LOG_ERR},
        {"warn", ND_LOG_WARN},
        {"info", ND_LOG_INFO},
        {"debug", ND_LOG_DEBUG},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].level;
    return -EINVAL;
}

char *
nd_log_quote(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return out;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;
        char esc[5];
        size_t k;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char) c;
            k = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            k = 4;
        } else {
            esc[0] = (char) c;
            k = 1;
        }
        if (o + k + 1 > cap)
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o] = '\0';
    return out;
}
