/*
 * nd_priv: resolving the configured account and dropping root for it.
 *
 * The drop follows the usual order: supplementary groups first, then the
 * group ids, then the user ids last, because once the user ids are gone the
 * process may no longer change its groups.  It then checks the outcome
 * instead of trusting the return codes, as a drop that silently kept a
 * saved uid of 0 would be worse than none.
 */
#include "nd_priv.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The most a getpwnam_r()/getgrnam_r() buffer may grow to: a group with
 * thousands of members needs more than the usual hint. */
#define LOOKUP_BUF_MAX (1024 * 1024)

/* Formats a message into err and returns rc, so a failure is one line. */
static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err_len > 0) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The first buffer size for a lookup: the libc's hint, or a page. */
static size_t
lookup_buf_start(int name)
{
    long hint = sysconf(name);

    return hint > 0 && hint < LOOKUP_BUF_MAX ? (size_t)hint : 4096;
}

/*
 * getpwnam_r() and getgrnam_r() report "no such entry" either as 0 with a
 * NULL result or, depending on the NSS module, as one of these errors
 * (see getpwnam(3)).
 */
static bool
lookup_not_found(int rc)
{
    return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

/* What a lookup found: the ids of a user, or the gid of a group. */
struct ids {
    uid_t uid;
    gid_t gid;
};

/* One getpwnam_r() or getgrnam_r() into buf: 0 found, ENOENT-like not
 * found (see lookup_not_found()), or an errno such as ERANGE. */
typedef int (*lookup_fn)(const char *name, char *buf, size_t len,
                         struct ids *out, bool *found);

static int
get_user(const char *name, char *buf, size_t len, struct ids *out, bool *found)
{
    struct passwd pw, *res = NULL;
    int rc = getpwnam_r(name, &pw, buf, len, &res);

    *found = res != NULL;
    if (*found) {
        out->uid = pw.pw_uid;
        out->gid = pw.pw_gid;
    }
    return rc;
}

static int
get_group(const char *name, char *buf, size_t len, struct ids *out, bool *found)
{
    struct group gr, *res = NULL;
    int rc = getgrnam_r(name, &gr, buf, len, &res);

    *found = res != NULL;
    if (*found)
        out->gid = gr.gr_gid;
    return rc;
}

/*
 * Runs fn with a buffer that grows while the entry does not fit (ERANGE),
 * up to LOOKUP_BUF_MAX.  Returns 0 with *out filled, -ENOENT when there is
 * no such name, or -errno when the lookup failed.
 */
static int
lookup(lookup_fn fn, int sc, const char *name, struct ids *out)
{
    size_t len = lookup_buf_start(sc);
    char *buf = NULL, *nbuf;
    bool found = false;
    int rc;

    for (;;) {
        nbuf = realloc(buf, len);
        if (nbuf == NULL) {
            free(buf);
            return -ENOMEM;
        }
        buf = nbuf;
        rc = fn(name, buf, len, out, &found);
        if (rc != ERANGE || len >= LOOKUP_BUF_MAX)
            break;
        len *= 2;
    }
    free(buf);
    if (found)
        return 0;
    return lookup_not_found(rc) ? -ENOENT : -rc;
}

/* Looks up a user: 0 with *uid and *gid (the primary group), -ENOENT, or
 * -errno. */
static int
lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    struct ids ids;
    int rc = lookup(get_user, _SC_GETPW_R_SIZE_MAX, name, &ids);

    if (rc == 0) {
        *uid = ids.uid;
        *gid = ids.gid;
    }
    return rc;
}

/* Looks up a group: 0 with *gid, -ENOENT, or -errno. */
static int
lookup_group(const char *name, gid_t *gid)
{
    struct ids ids;
    int rc = lookup(get_group, _SC_GETGR_R_SIZE_MAX, name, &ids);

    if (rc == 0)
        *gid = ids.gid;
    return rc;
}

int
nd_priv_plan(const char *user, const char *group, bool allow_root, uid_t euid,
             struct nd_priv *p, char *err, size_t err_len, char *warn,
             size_t warn_len)
{
    bool has_user = user != NULL && user[0] != '\0';
    bool has_group = group != NULL && group[0] != '\0';
    uid_t uid = 0;
    gid_t gid = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    if (err_len > 0)
        err[0] = '\0';
    if (warn_len > 0)
        warn[0] = '\0';

    /* Refused even when not root: -t should say so wherever it runs. */
    if (has_group && !has_user)
        return fail(err, err_len, -EINVAL,
                    "key 'group': group = \"%s\" needs user = \"...\" too",
                    group);
    if (has_user) {
        rc = lookup_user(user, &uid, &gid);
        /* Not root, the key changes nothing: an account that exists only
         * where the daemon runs as root is no reason to refuse to start. */
        if (rc == -ENOENT && euid != 0) {
            fail(warn, warn_len, 0,
                 "user = %s ignored: not started as root (and no such user "
                 "here)",
                 user);
            return 0;
        }
        if (rc == -ENOENT)
            return fail(err, err_len, rc, "key 'user': no such user \"%s\"",
                        user);
        if (rc < 0)
            return fail(err, err_len, rc,
                        "key 'user': cannot look up user \"%s\": %s", user,
                        strerror(-rc));
    }
    if (has_group) {
        rc = lookup_group(group, &gid);
        if (rc == -ENOENT)
            return fail(err, err_len, rc, "key 'group': no such group \"%s\"",
                        group);
        if (rc < 0)
            return fail(err, err_len, rc,
                        "key 'group': cannot look up group \"%s\": %s", group,
                        strerror(-rc));
    }

    if (euid != 0) {
        /* Only root can switch: say so rather than fail, since the same
         * file may serve a root start and a DynamicUser one. */
        if (has_user && uid != euid)
            fail(warn, warn_len, 0, "user = %s ignored: not started as root",
                 user);
        else if (has_group && gid != getegid())
            fail(warn, warn_len, 0, "group = %s ignored: not started as root",
                 group);
        return 0;
    }
    if (has_user && uid != 0 && gid == 0 && !allow_root)
        return fail(err, err_len, -EPERM,
                    "refusing to run with group 0 (root) after dropping to "
                    "user = \"%s\": set group = \"...\" to an unprivileged "
                    "group, or allow_root = true",
                    user);
    if (has_user && uid != 0) {
        p->drop = true;
        p->uid = uid;
        p->gid = gid;
        snprintf(p->user, sizeof(p->user), "%s", user);
        return 0;
    }
    if (!allow_root) {
        if (has_user)
            return fail(err, err_len, -EPERM,
                        "refusing to serve as root: user = \"%s\" is uid 0; "
                        "name an unprivileged account or set "
                        "allow_root = true",
                        user);
        return fail(err, err_len, -EPERM,
                    "refusing to serve as root: set user = \"...\" to an "
                    "unprivileged account to drop to, or allow_root = true");
    }
    fail(warn, warn_len, 0, "serving as root (allow_root = true)");
    return 0;
}

/* Sets *empty to whether the effective and permitted capability sets are
 * both empty.  Returns 0 or -errno. */
static int
caps_empty(bool *empty)
{
    struct __user_cap_header_struct hdr = {
        .version = _LINUX_CAPABILITY_VERSION_3,
        .pid = 0,
    };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    *empty = true;
    for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (data[i].effective != 0 || data[i].permitted != 0)
            *empty = false;
    return 0;
}

/* Checks that a drop took: see nd_priv_drop() for the list. */
static int
verify_drop(const struct nd_priv *p, char *err, size_t err_len)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg, groups[1];
    bool empty = false;
    int n, rc;

    if (getresuid(&ru, &eu, &su) < 0)
        return fail(err, err_len, -errno, "getresuid(): %s", strerror(errno));
    if (ru != p->uid || eu != p->uid || su != p->uid)
        return fail(err, err_len, -EPERM,
                    "uids are %u/%u/%u after the drop, not %u", (unsigned)ru,
                    (unsigned)eu, (unsigned)su, (unsigned)p->uid);
    if (getresgid(&rg, &eg, &sg) < 0)
        return fail(err, err_len, -errno, "getresgid(): %s", strerror(errno));
    if (rg != p->gid || eg != p->gid || sg != p->gid)
        return fail(err, err_len, -EPERM,
                    "gids are %u/%u/%u after the drop, not %u", (unsigned)rg,
                    (unsigned)eg, (unsigned)sg, (unsigned)p->gid);
    n = getgroups(0, NULL);
    if (n < 0)
        return fail(err, err_len, -errno, "getgroups(): %s", strerror(errno));
    if (n > 1)
        return fail(err, err_len, -EPERM,
                    "%d supplementary groups are left after the drop", n);
    if (n == 1) {
        if (getgroups(1, groups) != 1)
            return fail(err, err_len, -EPERM,
                        "the supplementary groups changed during the check");
        if (groups[0] != p->gid)
            return fail(err, err_len, -EPERM,
                        "supplementary group %u is left after the drop",
                        (unsigned)groups[0]);
    }
    rc = caps_empty(&empty);
    if (rc < 0)
        return fail(err, err_len, rc, "capget(): %s", strerror(-rc));
    if (!empty)
        return fail(err, err_len, -EPERM,
                    "capabilities are left after the drop");
    /* The real test: root must be out of reach.  If any of these works we
     * are root again, which the caller turns into an exit. */
    if (setuid(0) == 0)
        return fail(err, err_len, -EPERM, "setuid(0) works after the drop");
    if (setresuid(0, 0, 0) == 0)
        return fail(err, err_len, -EPERM,
                    "setresuid(0, 0, 0) works after the drop");
    if (p->gid != 0 && setgid(0) == 0)
        return fail(err, err_len, -EPERM, "setgid(0) works after the drop");
    return 0;
}

int
nd_priv_drop(const struct nd_priv *p, char *err, size_t err_len)
{
    if (err_len > 0)
        err[0] = '\0';
    if (!p->drop)
        return 0;
    /* nd_priv_plan() never asks for this; dropping "to root" would fail
     * every check below in a confusing way. */
    if (p->uid == 0)
        return fail(err, err_len, -EINVAL, "refusing to drop to uid 0");
    /* With keep-caps set, the permitted capabilities would survive
     * setresuid(); clear it in case something set it before us. */
    if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
        return fail(err, err_len, -errno, "prctl(PR_SET_KEEPCAPS): %s",
                    strerror(errno));
    /* Only the target group, not initgroups(): the daemon needs none of
     * the account's other groups, so least privilege says it gets none. */
    if (setgroups(1, &p->gid) < 0)
        return fail(err, err_len, -errno, "setgroups() to gid %u: %s",
                    (unsigned)p->gid, strerror(errno));
    if (setresgid(p->gid, p->gid, p->gid) < 0)
        return fail(err, err_len, -errno, "setresgid() to gid %u: %s",
                    (unsigned)p->gid, strerror(errno));
    if (setresuid(p->uid, p->uid, p->uid) < 0)
        return fail(err, err_len, -errno, "setresuid() to uid %u: %s",
                    (unsigned)p->uid, strerror(errno));
    /* The kernel has now cleared the dumpable flag; it stays cleared (see
     * nd_priv.h). */
    return verify_drop(p, err, err_len);
}

int
nd_priv_check_writable(int dir_fd)
{
    /* "." relative to the fd is the directory itself, which works for an
     * O_PATH fd too.  Flags 0 checks with the real ids, which after a drop
     * are the effective ones. */
    if (faccessat(dir_fd, ".", W_OK | X_OK, 0) < 0)
        return -errno;
    return 0;
}
