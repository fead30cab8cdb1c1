/*
 * nd_priv: who the daemon runs as.
 *
 * Started as root, netdiskd binds its port and opens its storage root (and
 * TLS keys) first, then gives up root for good by switching every user and
 * group id to an unprivileged account named in the configuration.  The
 * switch happens before the watchdog forks, so the watchdog and every pool
 * process run unprivileged.  Started as any other user (under systemd the
 * unit uses DynamicUser), there is nothing to drop.
 *
 * The work is split in two so that a bad name is caught early: the plan
 * resolves the names and decides, right after the configuration is loaded
 * (and by "netdiskd -t"); the drop carries the plan out once everything that
 * needs root is open.  Nothing here logs: failures come back as -errno with
 * a one-line message in the caller's buffer.
 */
#ifndef ND_PRIV_H
#define ND_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Room for any message nd_priv_plan() or nd_priv_drop() writes. */
#define ND_PRIV_ERR_LEN 256

/* What to become; filled by nd_priv_plan(), read by nd_priv_drop(). */
struct nd_priv {
    bool drop;      /* true: switch to uid and gid; false: stay as we are */
    uid_t uid;      /* the target user, meaningful only when drop is set */
    gid_t gid;      /* the target (and only) group, likewise */
    char user[64];  /* the target user's name, for the log line */
};

/*
 * Decides from the configured user and group names, allow_root and the
 * caller's effective uid (pass geteuid(); the tests pass others) what the
 * daemon must do, resolving the names with getpwnam_r()/getgrnam_r():
 *
 *   - user set: it must exist; group, when set, must exist too, and when ""
 *     the user's primary group is used.  A group without a user is refused
 *     whatever euid is, since it can never take effect.
 *   - euid 0, user set to a non-root account: p->drop is true.
 *   - euid 0, no user (or a user whose uid is 0): refused unless allow_root,
 *     in which case p->drop is false and warn says so.
 *   - euid not 0: p->drop is false; if user (or group) names an id other
 *     than the current one, warn says it is ignored.
 *
 * Returns 0 with p filled and warn holding a one-line warning to log, or ""
 * when there is none.  Otherwise returns, with err holding a one-line
 * message that names the key and the value:
 *   -ENOENT  the user or the group does not exist;
 *   -EINVAL  group is set without user;
 *   -EPERM   started as root with nothing to drop to and allow_root unset
 *            (only after both names resolved, so a caller that merely checks
 *            the configuration may ignore this one);
 *   other -errno (-EIO, -ENOMEM...) when the lookup itself failed.
 * The first three are configuration errors; the others are not.  err and
 * warn should have ND_PRIV_ERR_LEN bytes; each is always NUL-terminated.
 * Name lookups may read /etc/passwd, /etc/group or NSS modules, and the
 * messages use strerror(): call it before threads start.
 */
int nd_priv_plan(const char *user, const char *group, bool allow_root,
                 uid_t euid, struct nd_priv *p, char *err, size_t err_len,
                 char *warn, size_t warn_len);

/*
 * Carries out a plan: does nothing and returns 0 when p->drop is false, and
 * refuses a p->uid of 0 with -EINVAL.  Otherwise clears PR_SET_KEEPCAPS,
 * sets the supplementary groups to p->gid alone (not initgroups():
 * the daemon needs none of the account's other groups, so least privilege
 * says it gets none of them), then setresgid() and setresuid() to the
 * targets, and then checks the result: real, effective and saved ids all
 * equal the targets, getgroups() lists p->gid only, no capability is left
 * in the effective or permitted set, and neither setuid(0) nor
 * setresuid(0, 0, 0) works any more (nor setgid(0) when p->gid is not 0).
 *
 * Returns 0, or -errno (-EPERM when a check fails) with a one-line message
 * in err (ND_PRIV_ERR_LEN bytes).  A failure may leave the process half
 * switched, so the caller must exit, never carry on.
 *
 * The kernel clears the dumpable flag when the effective uid changes; this
 * leaves it cleared, so the daemon dumps no core (memory that may hold TLS
 * keys read as root) and its /proc files stay owned by root.
 *
 * Changes the ids of the whole process: call it before any thread starts
 * (glibc would otherwise have to signal every thread) and after every file
 * that needs root is open.
 */
int nd_priv_drop(const struct nd_priv *p, char *err, size_t err_len);

/*
 * Checks, with the caller's current (real) ids, that dir_fd (any directory
 * fd, O_PATH included) is a directory the process may create and remove
 * files in.  Returns 0 or -errno (-EACCES, -EROFS...).  Meant for right after
 * nd_priv_drop(): as root the check would always pass.  Thread-safe.
 */
int nd_priv_check_writable(int dir_fd);

#endif
