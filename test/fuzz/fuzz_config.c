/*
 * fuzz_config: libFuzzer target for the daemon's configuration loader,
 * nd_config_load(), and through it nd_cfgfile (the pre-scan that works
 * around libconfig 1.5) and libconfig's own parser.
 *
 * Each input is written to one temporary file made once per process (under
 * $TMPDIR, else /tmp), truncated first, and loaded as netdiskd -c would.
 * The loader reads the file into a fresh buffer and frees it on every path,
 * so libFuzzer's leak check (-detect_leaks=1) sees any leak from one input.
 *
 * Invariants, beyond sanitizer silence:
 *   - the answer is 0 or -EINVAL, and the same when loaded twice;
 *   - a failure leaves the struct untouched and explains itself in err: one
 *     printable line starting with the file's name;
 *   - a success leaves err empty and every key within its documented range,
 *     and the keys agree (tls other than "off" has a certificate and key);
 *   - what loads, written back out as a config file, loads to the same
 *     values (decode(encode(decode(x))) == decode(x)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "nd_config.h"
#include "nd_log.h"

static char s_path[PATH_MAX];  /* the fuzz input, as a file */
static char s_path2[PATH_MAX]; /* a loaded config, written back out */
static int s_fd = -1, s_fd2 = -1;

static void
remove_files(void)
{
    if (s_path[0] != '\0')
        unlink(s_path);
    if (s_path2[0] != '\0')
        unlink(s_path2);
}

static int
make_file(char *path, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int fd;

    snprintf(path, cap, "%s/nd-fuzz-%s.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", name);
    fd = mkstemp(path);
    FUZZ_ASSERT(fd >= 0);
    return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    s_fd = make_file(s_path, sizeof(s_path), "config");
    s_fd2 = make_file(s_path2, sizeof(s_path2), "config2");
    atexit(remove_files);
    return 0;
}

/* Replaces the file's contents with the n bytes at p. */
static void
rewrite(int fd, const void *p, size_t n)
{
    size_t done = 0;

    FUZZ_ASSERT(ftruncate(fd, 0) == 0);
    while (done < n) {
        ssize_t k = pwrite(fd, (const char *)p + done, n - done, (off_t)done);

        FUZZ_ASSERT(k > 0);
        done += (size_t)k;
    }
}

/* The keys as include/nd_config.h and docs/configuration.md describe them,
 * for the checks and for writing a loaded config back out. */
enum kind { K_INT, K_STR, K_PATH, K_ADDR, K_LEVEL, K_BOOL, K_TLS };

struct key {
    const char *name;
    enum kind kind;
    size_t offset, size;
    long min, max;
};

#define FIELD(m)                                                               \
    offsetof(struct nd_config, m), sizeof(((struct nd_config *)0)->m)

static const struct key keys[] = {
    {"listen", K_ADDR, FIELD(listen), 0, 0},
    {"port", K_INT, FIELD(port), 0, 65535},
    {"workers", K_INT, FIELD(workers), 1, 256},
    {"root", K_PATH, FIELD(root), 0, 0},
    {"queue_capacity", K_INT, FIELD(queue_capacity), 1, 65536},
    {"max_connections", K_INT, FIELD(max_connections), 1, 100000},
    {"idle_timeout", K_INT, FIELD(idle_timeout), 1, 86400},
    {"shutdown_timeout", K_INT, FIELD(shutdown_timeout), 0, 3600},
    {"partial_ttl", K_INT, FIELD(partial_ttl), 0, 2592000},
    {"log_level", K_LEVEL, FIELD(log_level), 0, 0},
    {"max_per_ip", K_INT, FIELD(max_per_ip), 1, 100000},
    {"users_file", K_PATH, FIELD(users_file), 0, 0},
    {"scram_iterations", K_INT, FIELD(scram_iterations), 4096, 10000000},
    {"login_delay_ms", K_INT, FIELD(login_delay_ms), 0, 30000},
    {"login_ban_after", K_INT, FIELD(login_ban_after), 1, 1000},
    {"login_ban_seconds", K_INT, FIELD(login_ban_seconds), 0, 86400},
    {"login_timeout", K_INT, FIELD(login_timeout), 1, 3600},
    {"tls", K_TLS, FIELD(tls), 0, 0},
    {"tls_cert", K_STR, FIELD(tls_cert), 0, 0},
    {"tls_key", K_STR, FIELD(tls_key), 0, 0},
    {"allow_plaintext", K_BOOL, FIELD(allow_plaintext), 0, 0},
    {"user", K_STR, FIELD(user), 0, 0},
    {"group", K_STR, FIELD(group), 0, 0},
    {"allow_root", K_BOOL, FIELD(allow_root), 0, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

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
    case ND_LOG_DEBUG:
        return "debug";
    default:
        return NULL;
    }
}

static const char *const tls_names[] = {"off", "optional", "required"};

/* Checks what a successful load promises about every key. */
static void
check_values(const struct nd_config *cfg)
{
    unsigned char addr[16];

    for (size_t i = 0; i < NKEYS; i++) {
        const char *field = (const char *)cfg + keys[i].offset;
        int v = 0;

        if (keys[i].kind != K_STR && keys[i].kind != K_PATH &&
            keys[i].kind != K_ADDR)
            memcpy(&v, field, sizeof(v));
        switch (keys[i].kind) {
        case K_INT:
            FUZZ_ASSERT_MSG(v >= keys[i].min && v <= keys[i].max, "%s = %d",
                            keys[i].name, v);
            break;
        case K_LEVEL:
            FUZZ_ASSERT(level_name(v) != NULL);
            break;
        case K_BOOL:
            FUZZ_ASSERT(v == 0 || v == 1);
            break;
        case K_TLS:
            FUZZ_ASSERT(v >= ND_TLS_OFF && v <= ND_TLS_REQUIRED);
            break;
        case K_PATH:
        case K_ADDR:
        case K_STR:
            FUZZ_ASSERT(memchr(field, '\0', keys[i].size) != NULL);
            if (keys[i].kind != K_STR)
                FUZZ_ASSERT(field[0] != '\0');
            if (keys[i].kind == K_ADDR)
                FUZZ_ASSERT(inet_pton(AF_INET, field, addr) == 1 ||
                            inet_pton(AF_INET6, field, addr) == 1);
            break;
        }
    }
    if (cfg->tls != ND_TLS_OFF)
        FUZZ_ASSERT(cfg->tls_cert[0] != '\0' && cfg->tls_key[0] != '\0');
}

/* Appends s as a libconfig string literal: quotes and backslashes escaped,
 * every byte outside printable ASCII as \xHH. */
static void
put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Writes cfg as a config file that sets every key. */
static char *
write_back(const struct nd_config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    FUZZ_ASSERT(f != NULL);
    for (size_t i = 0; i < NKEYS; i++) {
        const char *field = (const char *)cfg + keys[i].offset;
        int v = 0;

        if (keys[i].kind != K_STR && keys[i].kind != K_PATH &&
            keys[i].kind != K_ADDR)
            memcpy(&v, field, sizeof(v));
        fprintf(f, "%s = ", keys[i].name);
        switch (keys[i].kind) {
        case K_INT:
            fprintf(f, "%d", v);
            break;
        case K_LEVEL:
            fprintf(f, "\"%s\"", level_name(v));
            break;
        case K_BOOL:
            fputs(v ? "true" : "false", f);
            break;
        case K_TLS:
            fprintf(f, "\"%s\"", tls_names[v]);
            break;
        default:
            put_string(f, field);
            break;
        }
        fputs(";\n", f);
    }
    FUZZ_ASSERT(fclose(f) == 0);
    return text;
}

/* Compares the keys of two configs, strings as strings. */
static void
check_same(const struct nd_config *a, const struct nd_config *b)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *fa = (const char *)a + keys[i].offset;
        const char *fb = (const char *)b + keys[i].offset;
        bool same = keys[i].kind == K_STR || keys[i].kind == K_PATH ||
                            keys[i].kind == K_ADDR
                        ? strcmp(fa, fb) == 0
                        : memcmp(fa, fb, sizeof(int)) == 0;

        FUZZ_ASSERT_MSG(same, "key '%s' changed when written back",
                        keys[i].name);
    }
}

/* Checks a failure's message: one printable line naming the file. */
static void
check_err(const char *err)
{
    size_t n = strnlen(err, ND_CONFIG_ERR_LEN), plen = strlen(s_path);

    FUZZ_ASSERT(n < ND_CONFIG_ERR_LEN);
    FUZZ_ASSERT_MSG(n > plen && strncmp(err, s_path, plen) == 0 &&
                        err[plen] == ':',
                    "\"%s\"", err);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT_MSG((unsigned char)err[i] >= 0x20 &&
                            (unsigned char)err[i] != 0x7f,
                        "control byte 0x%02x in \"%s\"", err[i], err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nd_config cfg, before, again;
    static char err[ND_CONFIG_ERR_LEN], err2[ND_CONFIG_ERR_LEN];
    char *text;
    size_t len;
    int rc, rc2;

    rewrite(s_fd, data, size);
    /* A pattern no load would write, to see that a failure writes nothing. */
    memset(&cfg, 0xa5, sizeof(cfg));
    before = cfg;
    memset(err, 0x5a, sizeof(err));
    rc = nd_config_load(&cfg, s_path, err);
    FUZZ_ASSERT_MSG(rc == 0 || rc == -EINVAL, "rc %d: %s", rc, err);

    /* Loading the same file again gives the same answer. */
    memset(&again, 0xa5, sizeof(again));
    rc2 = nd_config_load(&again, s_path, err2);
    FUZZ_ASSERT(rc2 == rc && strcmp(err, err2) == 0);

    if (rc < 0) {
        FUZZ_ASSERT(memcmp(&cfg, &before, sizeof(cfg)) == 0);
        check_err(err);
        return 0;
    }
    FUZZ_ASSERT(err[0] == '\0');
    check_values(&cfg);
    check_same(&cfg, &again);

    /* Written back out, it loads to the same values. */
    text = write_back(&cfg, &len);
    rewrite(s_fd2, text, len);
    memset(&again, 0xa5, sizeof(again));
    rc = nd_config_load(&again, s_path2, err2);
    FUZZ_ASSERT_MSG(rc == 0, "written back, it fails: %s\n%s", err2, text);
    check_same(&cfg, &again);
    free(text);
    return 0;
}
