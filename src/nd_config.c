/*
 * nd_config: reads the daemon's libconfig file into struct nd_config.  One
 * table lists every key with its type, field, range and default; defaults,
 * parsing and validation are all driven by it.  The module never logs: a
 * failure is a one-line message in the caller's buffer, and the caller
 * decides how to report it and exits with ND_EX_CONFIG.
 *
 * nd_cfgfile reads and parses the file, working around libconfig 1.5's
 * quirks (int overflow, @include, read errors); this module checks the keys.
 */
#include "nd_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_cfgfile.h"
#include "nd_log.h"

enum key_type {
    KEY_INT,   /* an int field, range-checked against min..max */
    KEY_PATH,  /* a char array field, non-empty */
    KEY_ADDR,  /* a char array field holding a numeric IPv4/IPv6 address */
    KEY_LEVEL, /* an int field holding enum nd_log_level */
    KEY_BOOL,  /* an int field holding 0 or 1 */
    KEY_STR,   /* a char array field that may be empty */
    KEY_TLS,   /* an int field holding enum nd_tls_mode */
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset, size; /* where the field is in struct nd_config */
    long long min, max;  /* the range of KEY_INT values */
    long long def;       /* the default of KEY_INT and KEY_LEVEL keys */
    const char *sdef;    /* the default of KEY_PATH and KEY_ADDR keys */
};

/* The offset and size of a struct nd_config member, for the table. */
#define FIELD(m)                                                               \
    offsetof(struct nd_config, m), sizeof(((struct nd_config *)0)->m)

/* Every key; docs/configuration.md and conf/netdiskd.conf must agree. */
static const struct key keys[] = {
    {"listen", KEY_ADDR, FIELD(listen), 0, 0, 0, "127.0.0.1"},
    {"port", KEY_INT, FIELD(port), 0, 65535, 5678, NULL},
    {"workers", KEY_INT, FIELD(workers), 1, 256, 4, NULL},
    {"root", KEY_PATH, FIELD(root), 0, 0, 0, "/var/lib/netdisk/files"},
    {"queue_capacity", KEY_INT, FIELD(queue_capacity), 1, 65536, 256, NULL},
    {"max_connections", KEY_INT, FIELD(max_connections), 1, 100000, 1024, NULL},
    {"idle_timeout", KEY_INT, FIELD(idle_timeout), 1, 86400, 300, NULL},
    {"shutdown_timeout", KEY_INT, FIELD(shutdown_timeout), 0, 3600, 30, NULL},
    {"partial_ttl", KEY_INT, FIELD(partial_ttl), 0, 2592000, 86400, NULL},
    {"log_level", KEY_LEVEL, FIELD(log_level), 0, 0, ND_LOG_INFO, NULL},
    {"max_per_ip", KEY_INT, FIELD(max_per_ip), 1, 100000, 32, NULL},
    {"users_file", KEY_PATH, FIELD(users_file), 0, 0, 0,
     "/var/lib/netdisk/users"},
    {"scram_iterations", KEY_INT, FIELD(scram_iterations), 4096, 10000000, 4096,
     NULL},
    {"login_delay_ms", KEY_INT, FIELD(login_delay_ms), 0, 30000, 500, NULL},
    {"login_ban_after", KEY_INT, FIELD(login_ban_after), 1, 1000, 5, NULL},
    {"login_ban_seconds", KEY_INT, FIELD(login_ban_seconds), 0, 86400, 300,
     NULL},
    {"login_timeout", KEY_INT, FIELD(login_timeout), 1, 3600, 30, NULL},
    {"tls", KEY_TLS, FIELD(tls), 0, 0, ND_TLS_OFF, NULL},
    {"tls_cert", KEY_STR, FIELD(tls_cert), 0, 0, 0, ""},
    {"tls_key", KEY_STR, FIELD(tls_key), 0, 0, 0, ""},
    {"allow_plaintext", KEY_BOOL, FIELD(allow_plaintext), 0, 0, 0, NULL},
    {"user", KEY_STR, FIELD(user), 0, 0, 0, ""},
    {"group", KEY_STR, FIELD(group), 0, 0, 0, ""},
    {"allow_root", KEY_BOOL, FIELD(allow_root), 0, 0, 0, NULL},
};

/* The values of the tls key, indexed by enum nd_tls_mode. */
static const char *const tls_modes[] = {"off", "optional", "required"};

static int
tls_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, tls_modes[i]) == 0)
            return i;
    return -1;
}

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Returns the index of the key called name (len bytes long), or -1. */
static int
find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* Formats the message into err and returns -EINVAL. */
static int __attribute__((format(printf, 2, 3)))
fail(char *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, ND_CONFIG_ERR_LEN, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Checks one top-level setting and stores it in cfg: 0 or -EINVAL. */
static int
apply(struct nd_config *cfg, const config_setting_t *s, const char *path,
      const long long *wide, char *err)
{
    const char *name = config_setting_name(s), *str, *why = NULL;
    unsigned line = config_setting_source_line(s);
    int i = find_key(name, strlen(name)), type = config_setting_type(s), level;
    char *field = (char *)cfg, quoted[80];
    unsigned char addr[sizeof(struct in6_addr)];
    long long v;

    if (i < 0)
        return fail(err, "%s:%u: unknown key '%s'", path, line, name);
    field += keys[i].offset;
    if (keys[i].type == KEY_BOOL) {
        if (type != CONFIG_TYPE_BOOL)
            return fail(err, "%s:%u: key '%s': expected true or false, got %s",
                        path, line, name, nd_cfgfile_type_name(type));
        *(int *)field = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    }
    if (keys[i].type == KEY_INT) {
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
            return fail(err, "%s:%u: key '%s': expected an integer, got %s",
                        path, line, name, nd_cfgfile_type_name(type));
        v = type == CONFIG_TYPE_INT64 ? config_setting_get_int64(s)
            : wide[i] != 0            ? wide[i]
                                      : config_setting_get_int(s);
        if (v < keys[i].min || v > keys[i].max)
            return fail(err, "%s:%u: key '%s': %lld is out of range %lld..%lld",
                        path, line, name, v, keys[i].min, keys[i].max);
        *(int *)field = (int)v;
        return 0;
    }
    if (type != CONFIG_TYPE_STRING)
        return fail(err, "%s:%u: key '%s': expected a string, got %s", path,
                    line, name, nd_cfgfile_type_name(type));
    str = config_setting_get_string(s);
    level = keys[i].type == KEY_TLS ? tls_parse(str) : nd_log_level_parse(str);
    if (keys[i].type == KEY_LEVEL && level < 0)
        why = "is not one of error, warn, info, debug";
    else if (keys[i].type == KEY_TLS && level < 0)
        why = "is not one of off, optional, required";
    else if (str[0] == '\0' && keys[i].type != KEY_STR)
        why = "must not be empty";
    else if (keys[i].type == KEY_ADDR && inet_pton(AF_INET, str, addr) != 1 &&
             inet_pton(AF_INET6, str, addr) != 1)
        why = "is not a numeric IPv4 or IPv6 address";
    else if (keys[i].type != KEY_LEVEL && keys[i].type != KEY_TLS &&
             strlen(str) >= keys[i].size)
        why = "is too long";
    if (why != NULL)
        return fail(err, "%s:%u: key '%s': \"%s\" %s", path, line, name,
                    nd_log_quote(str, quoted, sizeof(quoted)), why);
    if (keys[i].type == KEY_LEVEL || keys[i].type == KEY_TLS)
        *(int *)field = level;
    else
        memcpy(field, str, strlen(str) + 1);
    return 0;
}

void
nd_config_defaults(struct nd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++) {
        char *field = (char *)cfg + keys[i].offset;

        if (keys[i].sdef != NULL)
            snprintf(field, keys[i].size, "%s", keys[i].sdef);
        else
            *(int *)field = (int)keys[i].def;
    }
}

int
nd_config_load(struct nd_config *cfg, const char *path, char *err)
{
    long long wide[NKEYS] = {0};
    struct nd_config tmp;
    config_setting_t *root;
    config_t lc;
    int rc;

    config_init(&lc);
    rc = nd_cfgfile_parse(&lc, path, find_key, wide, err, ND_CONFIG_ERR_LEN);
    if (rc < 0)
        goto out;
    nd_config_defaults(&tmp);
    root = config_root_setting(&lc);
    for (int i = 0; rc == 0 && i < config_setting_length(root); i++)
        rc = apply(&tmp, config_setting_get_elem(root, (unsigned)i), path, wide,
                   err);
    if (rc == 0 && tmp.tls != ND_TLS_OFF &&
        (tmp.tls_cert[0] == '\0' || tmp.tls_key[0] == '\0'))
        rc = fail(err, "%s: tls = \"%s\" needs both tls_cert and tls_key", path,
                  tls_modes[tmp.tls]);
    if (rc == 0)
        *cfg = tmp; /* only a fully valid file changes cfg */
out:
    config_destroy(&lc);
    return rc;
}
