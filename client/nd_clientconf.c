/*
 * nd_clientconf: loads the client's configuration file through nd_cfgfile
 * (so libconfig 1.5's quirks are handled as for the daemon), checks each
 * setting against a small key table, and fills in struct nd_opts in order
 * of precedence.  Every problem is one line on stderr through nd_cli_err()
 * and the usage exit status; nothing is reported as a warning and ignored.
 */
#include "nd_clientconf.h"

#include <errno.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nd_cfgfile.h"

enum key_type {
    KEY_STR,  /* a non-empty string */
    KEY_PATH, /* a non-empty string naming a file: "~/" is the home
                 directory, and a relative path is taken relative to the
                 directory of the configuration file */
    KEY_PORT, /* an integer 1..65535 */
    KEY_BOOL, /* true or false */
};

/* The settings, in the order netdisk(1) lists them. */
enum key_id {
    K_HOST,
    K_PORT,
    K_USER,
    K_PASSWORD_FILE,
    K_TLS,
    K_CACERT,
    K_INSECURE,
    K_QUIET,
    K_VERBOSE,
    NKEYS
};

static const struct key {
    const char *name;
    enum key_type type;
} keys[NKEYS] = {
    [K_HOST] = {"host", KEY_STR},
    [K_PORT] = {"port", KEY_PORT},
    [K_USER] = {"user", KEY_STR},
    [K_PASSWORD_FILE] = {"password_file", KEY_PATH},
    [K_TLS] = {"tls", KEY_BOOL},
    [K_CACERT] = {"cacert", KEY_PATH},
    [K_INSECURE] = {"insecure", KEY_BOOL},
    [K_QUIET] = {"quiet", KEY_BOOL},
    [K_VERBOSE] = {"verbose", KEY_BOOL},
};

/* What the file set; the strings must outlive the parse, as o keeps them. */
static struct setting {
    bool set;
    bool on;                /* KEY_BOOL */
    char str[ND_LOCAL_MAX]; /* the others; a port as decimal digits */
} s_conf[NKEYS];

/* The login name, the default user. */
static char s_login[256];

/* Returns the index of the key called name (len bytes), or -1. */
static int
find_key(const char *name, size_t len)
{
    for (int i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
            return i;
    return -1;
}

/* The home directory: $HOME, else the password database's; NULL if none. */
static const char *
home_dir(void)
{
    const char *home = getenv("HOME");
    struct passwd *pw;

    if (home != NULL && home[0] == '/')
        return home;
    pw = getpwuid(geteuid());
    return pw != NULL && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/*
 * Stores the path str for the file at path: "~/x" becomes $HOME/x, and a
 * relative path is prefixed with the file's directory.  Returns 0, or
 * -ENAMETOOLONG, or -ENOENT when "~/" is used without a home directory.
 */
static int
store_path(char *out, size_t cap, const char *str, const char *path)
{
    const char *home = home_dir(), *slash = strrchr(path, '/');
    int n;

    if (str[0] == '/')
        n = snprintf(out, cap, "%s", str);
    else if (strncmp(str, "~/", 2) == 0 && home == NULL)
        return -ENOENT;
    else if (strncmp(str, "~/", 2) == 0)
        n = snprintf(out, cap, "%s%s", home, str + 1);
    else if (slash == NULL)
        n = snprintf(out, cap, "%s", str);
    else
        n = snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, str);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/*
 * Checks one top-level setting of the file at path and records it in
 * s_conf.  wide holds nd_cfgfile's true values of over-wide integers.
 * Returns ND_EXIT_OK, or ND_EXIT_USAGE after reporting the problem.
 */
static int
apply(const config_setting_t *st, const char *path, const long long *wide)
{
    const char *name = config_setting_name(st), *str;
    unsigned line = config_setting_source_line(st);
    int i = find_key(name, strlen(name)), type = config_setting_type(st);
    long long v;

    if (i < 0 && strcmp(name, "password") == 0) {
        nd_cli_err("%s:%u: key 'password': a password does not belong in the "
                   "configuration file; put it in a file of its own (mode "
                   "0600) and name that file with password_file",
                   path, line);
        return ND_EXIT_USAGE;
    }
    if (i < 0) {
        nd_cli_err("%s:%u: unknown key '%s'", path, line, name);
        return ND_EXIT_USAGE;
    }
    if (keys[i].type == KEY_BOOL) {
        if (type != CONFIG_TYPE_BOOL) {
            nd_cli_err("%s:%u: key '%s': expected true or false, got %s", path,
                       line, name, nd_cfgfile_type_name(type));
            return ND_EXIT_USAGE;
        }
        s_conf[i].on = config_setting_get_bool(st) != 0;
    } else if (keys[i].type == KEY_PORT) {
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
            nd_cli_err("%s:%u: key '%s': expected an integer, got %s", path,
                       line, name, nd_cfgfile_type_name(type));
            return ND_EXIT_USAGE;
        }
        v = type == CONFIG_TYPE_INT64 ? config_setting_get_int64(st)
            : wide[i] != 0            ? wide[i]
                                      : config_setting_get_int(st);
        if (v < 1 || v > 65535) {
            nd_cli_err("%s:%u: key '%s': %lld is out of range 1..65535", path,
                       line, name, v);
            return ND_EXIT_USAGE;
        }
        snprintf(s_conf[i].str, sizeof(s_conf[i].str), "%lld", v);
    } else {
        if (type != CONFIG_TYPE_STRING) {
            nd_cli_err("%s:%u: key '%s': expected a string, got %s", path, line,
                       name, nd_cfgfile_type_name(type));
            return ND_EXIT_USAGE;
        }
        str = config_setting_get_string(st);
        if (str[0] == '\0') {
            nd_cli_err("%s:%u: key '%s': must not be empty", path, line, name);
            return ND_EXIT_USAGE;
        }
        if (keys[i].type == KEY_PATH) {
            int rc =
                store_path(s_conf[i].str, sizeof(s_conf[i].str), str, path);

            if (rc < 0) {
                nd_cli_err("%s:%u: key '%s': %s", path, line, name,
                           rc == -ENOENT ? "no home directory for \"~/\""
                                         : "path too long");
                return ND_EXIT_USAGE;
            }
        } else if (strlen(str) >= sizeof(s_conf[i].str)) {
            nd_cli_err("%s:%u: key '%s': too long", path, line, name);
            return ND_EXIT_USAGE;
        } else {
            memcpy(s_conf[i].str, str, strlen(str) + 1);
        }
    }
    s_conf[i].set = true;
    return ND_EXIT_OK;
}

/*
 * Loads the file at path into s_conf.  A missing file is fine when it was
 * not named explicitly.  Returns ND_EXIT_OK, or ND_EXIT_USAGE after
 * reporting the problem.
 */
static int
load(const char *path, bool explicit)
{
    long long wide[NKEYS] = {0};
    char err[ND_LOCAL_MAX + 256];
    config_setting_t *root;
    config_t lc;
    int rc;

    config_init(&lc);
    rc = nd_cfgfile_parse(&lc, path, find_key, wide, err, sizeof(err));
    if (rc == -ENOENT && !explicit) {
        rc = ND_EXIT_OK;
    } else if (rc < 0) {
        nd_cli_err("%s", err);
        rc = ND_EXIT_USAGE;
    } else {
        root = config_root_setting(&lc);
        for (int i = 0; rc == ND_EXIT_OK && i < config_setting_length(root);
             i++)
            rc = apply(config_setting_get_elem(root, (unsigned)i), path, wide);
    }
    if (rc == ND_EXIT_OK && s_conf[K_QUIET].set && s_conf[K_VERBOSE].set &&
        s_conf[K_QUIET].on && s_conf[K_VERBOSE].on) {
        nd_cli_err("%s: quiet and verbose are both true", path);
        rc = ND_EXIT_USAGE;
    }
    config_destroy(&lc);
    return rc;
}

/*
 * Finds and loads the configuration file: conf (from --config), else
 * $NETDISK_CONFIG, else the default, which may be missing.  Returns an
 * exit status.
 */
static int
load_config(const char *conf)
{
    static char path[ND_LOCAL_MAX];
    const char *env = getenv("NETDISK_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home;
    int n;

    if (conf != NULL && conf[0] == '\0')
        return nd_cli_usage("--config: empty file name", "");
    if (conf != NULL)
        return load(conf, true);
    if (env != NULL && env[0] != '\0')
        return load(env, true);
    /* The XDG base directory specification ignores a relative value. */
    if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(path, sizeof(path), "%s/" ND_CLIENTCONF_NAME, xdg);
    } else {
        home = home_dir();
        if (home == NULL)
            return ND_EXIT_OK;
        n = snprintf(path, sizeof(path), "%s/.config/" ND_CLIENTCONF_NAME,
                     home);
    }
    if (n < 0 || (size_t)n >= sizeof(path))
        return ND_EXIT_OK; /* no such file can exist */
    return load(path, false);
}

/* Returns the value of the environment variable name, or NULL when it is
 * unset or empty. */
static const char *
env_str(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Reads $NETDISK_TLS into *on.  Returns 1 when set, 0 when unset or empty,
 * or -1 when it is neither a yes nor a no. */
static int
env_bool(const char *name, bool *on)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    const char *v = env_str(name);

    if (v == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *on = strcasecmp(v, yes[i]) == 0;
            return 1;
        }
    }
    return -1;
}

/* Whether port is a decimal TCP port number, 1..65535. */
static bool
valid_port(const char *port)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(port, &end, 10);
    return port[0] >= '0' && port[0] <= '9' && *end == '\0' && errno == 0 &&
           v >= 1 && v <= 65535;
}

/* The first of a, b and c that is not NULL. */
static const char *
first(const char *a, const char *b, const char *c)
{
    return a != NULL ? a : b != NULL ? b : c;
}

/* The file's string value of key i, or NULL when it did not set it. */
static const char *
conf_str(enum key_id i)
{
    return s_conf[i].set ? s_conf[i].str : NULL;
}

/* The login name, or NULL when the password database has none. */
static const char *
login_name(void)
{
    struct passwd *pw = getpwuid(geteuid());

    if (pw == NULL)
        return NULL;
    snprintf(s_login, sizeof(s_login), "%s", pw->pw_name);
    return s_login;
}

int
nd_clientconf_resolve(struct nd_opts *o, const char *conf)
{
    /* What the command line said about TLS, before the others fill in. */
    const char *tls_flag = o->insecure         ? "--insecure"
                           : o->cacert != NULL ? "--cacert"
                                               : NULL;
    bool tls_env = false;
    int rc = load_config(conf);

    if (rc != ND_EXIT_OK)
        return rc;
    o->host = first(o->host, env_str("NETDISK_HOST"),
                    first(conf_str(K_HOST), ND_DEFAULT_HOST, NULL));
    if (o->port == NULL && env_str("NETDISK_PORT") != NULL &&
        !valid_port(env_str("NETDISK_PORT"))) {
        nd_cli_err("invalid port \"%s\" in NETDISK_PORT (try 'netdisk "
                   "--help')",
                   env_str("NETDISK_PORT"));
        return ND_EXIT_USAGE;
    }
    o->port = first(o->port, env_str("NETDISK_PORT"),
                    first(conf_str(K_PORT), ND_DEFAULT_PORT, NULL));
    o->user = first(o->user, env_str("NETDISK_USER"), conf_str(K_USER));
    if (o->user == NULL)
        o->user = login_name();
    /* NETDISK_PASSWORD is the environment's password source, so it beats
     * the file's password_file, as every variable beats the file. */
    if (o->password_file == NULL && getenv("NETDISK_PASSWORD") == NULL)
        o->password_file = conf_str(K_PASSWORD_FILE);
    if (!o->tls) {
        rc = env_bool("NETDISK_TLS", &tls_env);
        if (rc < 0) {
            nd_cli_err("invalid NETDISK_TLS \"%s\": use 1 or 0 (try 'netdisk "
                       "--help')",
                       getenv("NETDISK_TLS"));
            return ND_EXIT_USAGE;
        }
        o->tls = rc > 0 ? tls_env : s_conf[K_TLS].set && s_conf[K_TLS].on;
    }
    o->cacert = first(o->cacert, env_str("NETDISK_CACERT"), conf_str(K_CACERT));
    if (!o->insecure && s_conf[K_INSECURE].set && s_conf[K_INSECURE].on) {
        /* A CA named for this command must never be overruled in silence
         * by a file that turns checking off. */
        if (o->cacert != NULL && o->cacert != conf_str(K_CACERT)) {
            nd_cli_err("a CA file is given but the config file says insecure "
                       "= true: remove one (try 'netdisk --help')");
            return ND_EXIT_USAGE;
        }
        o->insecure = true;
    }
    if (!o->quiet && !o->verbose) {
        o->quiet = s_conf[K_QUIET].set && s_conf[K_QUIET].on;
        o->verbose = s_conf[K_VERBOSE].set && s_conf[K_VERBOSE].on;
    }
    /* Only an option given on this command line is worth a complaint: a
     * cacert kept in the file or the environment simply waits for TLS. */
    if (tls_flag != NULL && !o->tls)
        return nd_cli_usage(tls_flag, " needs --tls");
    return -1;
}
