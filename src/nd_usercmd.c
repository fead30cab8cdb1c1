/*
 * nd_usercmd: the "netdiskd user" command line.  It checks its arguments,
 * reads the new password (from the terminal with echo off, or one line of
 * stdin), derives a verifier with nd_scram and hands the change to
 * nd_users, which rewrites the file atomically.  This is a boundary module:
 * it prints its own messages, on stderr, prefixed "netdiskd: ".
 */
#include "nd_usercmd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nd_io.h"
#include "nd_log.h"
#include "nd_scram.h"
#include "nd_tty.h"
#include "nd_users.h"

#define EX_OK 0
#define EX_FAIL 1
#define EX_USAGE 2

static void
usage(void)
{
    fprintf(stderr,
            "usage: netdiskd [-c FILE] user add NAME\n"
            "       netdiskd [-c FILE] user passwd NAME\n"
            "       netdiskd [-c FILE] user del NAME\n"
            "       netdiskd [-c FILE] user list\n"
            "\n"
            "Manages the users_file named in the configuration.  add and\n"
            "passwd ask for the password twice on the terminal, or read one\n"
            "line from stdin when it is not a terminal.  del keeps the\n"
            "user's files.  A NAME is 1 to %d characters of a-z, 0-9, '_',\n"
            "'.' and '-', starting with a letter or '_'.\n",
            ND_USER_MAX);
}

/*
 * Asks for the password twice on the terminal.  Returns its length, or
 * -1 after printing why.
 */
static int
password_from_tty(const char *name, char *buf, size_t cap)
{
    char again[ND_USERCMD_PASS_MAX + 1], prompt[128];
    ssize_t n, m = 0;
    int fd = nd_tty_open(), rc = -1;

    if (fd < 0) {
        fprintf(stderr, "netdiskd: cannot open /dev/tty: %s\n", strerror(-fd));
        return -1;
    }
    snprintf(prompt, sizeof(prompt), "New password for %s: ", name);
    n = nd_tty_ask_secret(fd, prompt, buf, cap);
    if (n > 0)
        m = nd_tty_ask_secret(fd, "Retype the new password: ", again,
                              sizeof(again));
    if (n == -EFBIG || m == -EFBIG)
        fprintf(stderr, "netdiskd: the password is longer than %d bytes\n",
                ND_USERCMD_PASS_MAX);
    else if (n < 0 || m < 0)
        fprintf(stderr, "netdiskd: cannot read the password: %s\n",
                strerror((int)-(n < 0 ? n : m)));
    else if (n == 0)
        fprintf(stderr, "netdiskd: empty password refused\n");
    else if (n != m || memcmp(buf, again, (size_t)n) != 0)
        fprintf(stderr, "netdiskd: the passwords do not match\n");
    else
        rc = (int)n;
    OPENSSL_cleanse(again, sizeof(again));
    close(fd);
    return rc;
}

/*
 * Reads the new password for name into buf (capacity cap): from the
 * terminal when stdin is one, else one line of stdin.  Returns its length,
 * or -1 after printing why.
 */
static int
read_password(const char *name, char *buf, size_t cap)
{
    ssize_t n;

    if (isatty(STDIN_FILENO))
        n = password_from_tty(name, buf, cap);
    else {
        n = nd_tty_read_line(STDIN_FILENO, buf, cap);
        if (n == -EFBIG)
            fprintf(stderr, "netdiskd: the password is longer than %d bytes\n",
                    ND_USERCMD_PASS_MAX);
        else if (n < 0)
            fprintf(stderr,
                    "netdiskd: cannot read the password from stdin: "
                    "%s\n",
                    strerror((int)-n));
        else if (n == 0)
            fprintf(stderr, "netdiskd: empty password refused\n");
        if (n <= 0)
            return -1;
    }
    if (n > 0 && memchr(buf, '\0', (size_t)n) != NULL) {
        fprintf(stderr, "netdiskd: the password contains a NUL byte\n");
        return -1;
    }
    return (int)n;
}

/* Reports a malformed users file with the line nd_users_lookup() names. */
static void
report_malformed(const char *path)
{
    struct nd_scram_verifier v;
    uint8_t secret[ND_USERS_SECRET_LEN];
    int line = 0;

    (void)nd_users_lookup(path, "_", &v, secret, &line);
    OPENSSL_cleanse(&v, sizeof(v));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (line > 0)
        fprintf(stderr,
                "netdiskd: %s:%d: malformed line; fix or remove it "
                "by hand\n",
                path, line);
    else
        fprintf(stderr, "netdiskd: %s is not a regular file\n", path);
}

/*
 * Tells whether name has a record.  Returns 1 (it has), 0 (it has not), or
 * -1 after printing why the file cannot be read.
 */
static int
user_exists(const char *path, const char *name)
{
    struct nd_scram_verifier v;
    uint8_t secret[ND_USERS_SECRET_LEN];
    int line = 0, rc;

    rc = nd_users_lookup(path, name, &v, secret, &line);
    OPENSSL_cleanse(&v, sizeof(v));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc == 0)
        return 1;
    if (rc == -ENOENT)
        return 0;
    if (rc == -EINVAL)
        report_malformed(path);
    else if (rc == -EFBIG)
        fprintf(stderr, "netdiskd: %s is larger than %ld bytes\n", path,
                ND_USERS_FILE_MAX);
    else
        fprintf(stderr, "netdiskd: cannot read %s: %s\n", path, strerror(-rc));
    return -1;
}

/* Prints why an nd_users_update() failed.  Returns EX_FAIL. */
static int
report_update(const char *path, const char *name, int rc)
{
    if (rc == -EEXIST)
        fprintf(stderr, "netdiskd: user %s already exists\n", name);
    else if (rc == -ENOENT && access(path, F_OK) == 0)
        fprintf(stderr, "netdiskd: no user %s\n", name);
    else if (rc == -EINVAL)
        report_malformed(path);
    else if (rc == -ELOOP)
        fprintf(stderr,
                "netdiskd: %s is a symbolic link; refusing to "
                "replace it\n",
                path);
    else if (rc == -EFBIG)
        fprintf(stderr, "netdiskd: %s is larger than %ld bytes\n", path,
                ND_USERS_FILE_MAX);
    else
        fprintf(stderr, "netdiskd: cannot update %s: %s\n", path,
                strerror(-rc));
    return EX_FAIL;
}

/* "user add NAME" and "user passwd NAME". */
static int
set_password(const struct nd_config *cfg, enum nd_users_op op, const char *name)
{
    struct nd_scram_verifier v;
    char pw[ND_USERCMD_PASS_MAX + 1];
    int n, rc, exists;

    /* Say so before asking for a password that could not be used. */
    exists = user_exists(cfg->users_file, name);
    if (exists < 0)
        return EX_FAIL;
    if (op == ND_USERS_ADD && exists) {
        fprintf(stderr, "netdiskd: user %s already exists\n", name);
        return EX_FAIL;
    }
    if (op == ND_USERS_PASSWD && !exists) {
        fprintf(stderr, "netdiskd: no user %s\n", name);
        return EX_FAIL;
    }
    n = read_password(name, pw, sizeof(pw));
    if (n < 0) {
        OPENSSL_cleanse(pw, sizeof(pw));
        return EX_FAIL;
    }
    rc = nd_scram_verifier_new(pw, (size_t)n, cfg->scram_iterations, &v);
    OPENSSL_cleanse(pw, sizeof(pw));
    if (rc == -EINVAL) {
        fprintf(stderr,
                "netdiskd: scram_iterations = %d is out of range "
                "%d..%d\n",
                cfg->scram_iterations, ND_SCRAM_MIN_ITERATIONS,
                ND_SCRAM_MAX_ITERATIONS);
        return ND_EX_CONFIG;
    }
    if (rc < 0) {
        fprintf(stderr, "netdiskd: cannot derive the verifier: %s\n",
                strerror(-rc));
        return EX_FAIL;
    }
    rc = nd_users_update(cfg->users_file, op, name, &v);
    OPENSSL_cleanse(&v, sizeof(v));
    if (rc < 0)
        return report_update(cfg->users_file, name, rc);
    fprintf(stderr, "netdiskd: %s user %s in %s\n",
            op == ND_USERS_ADD ? "added" : "changed the password of", name,
            cfg->users_file);
    return EX_OK;
}

/* "user del NAME". */
static int
delete_user(const struct nd_config *cfg, const char *name)
{
    int rc, exists;

    exists = user_exists(cfg->users_file, name);
    if (exists < 0)
        return EX_FAIL;
    if (!exists) {
        fprintf(stderr, "netdiskd: no user %s\n", name);
        return EX_FAIL;
    }
    rc = nd_users_update(cfg->users_file, ND_USERS_DEL, name, NULL);
    if (rc < 0)
        return report_update(cfg->users_file, name, rc);
    fprintf(stderr,
            "netdiskd: removed user %s from %s; the files under %s/%s/ are "
            "left in place (remove them by hand if they are not needed)\n",
            name, cfg->users_file, cfg->root, name);
    return EX_OK;
}

static int
print_name(const char *name, void *arg)
{
    (void)arg;
    return printf("%s\n", name) < 0 ? -EIO : 0;
}

/* "user list". */
static int
list_users(const struct nd_config *cfg)
{
    int line = 0, rc;

    rc = nd_users_list(cfg->users_file, print_name, NULL, &line);
    if (rc == -ENOENT) {
        fprintf(stderr, "netdiskd: %s does not exist yet: no users\n",
                cfg->users_file);
        return EX_OK;
    }
    if (rc == -EINVAL) {
        if (line > 0)
            fprintf(stderr,
                    "netdiskd: %s:%d: malformed line; fix or remove "
                    "it by hand\n",
                    cfg->users_file, line);
        else
            fprintf(stderr, "netdiskd: %s is not a regular file\n",
                    cfg->users_file);
        return EX_FAIL;
    }
    if (rc < 0) {
        fprintf(stderr, "netdiskd: cannot read %s: %s\n", cfg->users_file,
                strerror(-rc));
        return EX_FAIL;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "netdiskd: cannot write the list: %s\n",
                strerror(errno));
        return EX_FAIL;
    }
    return EX_OK;
}

int
nd_usercmd_main(const struct nd_config *cfg, int argc, char **argv)
{
    const char *sub, *name;
    char quoted[4 * ND_USER_MAX + 8];

    if (argc < 2) {
        usage();
        return EX_USAGE;
    }
    sub = argv[1];
    if (strcmp(sub, "list") == 0) {
        if (argc != 2) {
            usage();
            return EX_USAGE;
        }
        return list_users(cfg);
    }
    if (strcmp(sub, "add") != 0 && strcmp(sub, "passwd") != 0 &&
        strcmp(sub, "del") != 0) {
        fprintf(stderr, "netdiskd: unknown user command \"%s\"\n",
                nd_log_quote(sub, quoted, sizeof(quoted)));
        usage();
        return EX_USAGE;
    }
    if (argc != 3) {
        usage();
        return EX_USAGE;
    }
    name = argv[2];
    if (!nd_scram_user_ok(name)) {
        fprintf(stderr,
                "netdiskd: invalid user name \"%s\": use 1 to %d characters "
                "of a-z, 0-9, '_', '.' and '-', starting with a letter or "
                "'_'\n",
                nd_log_quote(name, quoted, sizeof(quoted)), ND_USER_MAX);
        return EX_USAGE;
    }
    if (strcmp(sub, "del") == 0)
        return delete_user(cfg, name);
    return set_password(
        cfg, strcmp(sub, "add") == 0 ? ND_USERS_ADD : ND_USERS_PASSWD, name);
}
