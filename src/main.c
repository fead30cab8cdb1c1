/*
 * netdiskd: parse the command line, load the configuration, open the storage
 * root and the listening socket, then hand over to the watchdog, which forks
 * the pool process (reactor + workers) defined here in pool_main().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_config.h"
#include "nd_log.h"
#include "nd_net.h"
#include "nd_notify.h"
#include "nd_priv.h"
#include "nd_reactor.h"
#include "nd_store.h"
#include "nd_sum.h"
#include "nd_sweep.h"
#include "nd_tls.h"
#include "nd_usercmd.h"
#include "nd_watchdog.h"

#ifndef ND_DEFAULT_CONFIG
#define ND_DEFAULT_CONFIG "/etc/netdisk/netdiskd.conf"
#endif

/* Everything the pool process inherits from the watchdog. */
struct daemon {
    struct nd_config cfg;
    struct nd_store store;
    SSL_CTX *tls; /* NULL when tls = "off" */
    int lfd;
};

static void
usage(FILE *out)
{
    fprintf(
        out,
        "usage: netdiskd [-c FILE] [-t]\n"
        "       netdiskd [-c FILE] user add|passwd|del NAME | user list\n"
        "\n"
        "Serves the netdisk protocol from the storage root named in the\n"
        "configuration file, in the foreground (systemd supervises it).\n"
        "Started as root, it opens what it needs, then switches to the\n"
        "account in the user key (or refuses unless allow_root = true).\n"
        "\n"
        "  -c, --config FILE   configuration file (default %s)\n"
        "  -t, --check-config  check the configuration and exit\n"
        "  -h, --help          show this help and exit\n"
        "  -V, --version       show the version and exit\n"
        "\n"
        "Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 78 for\n"
        "a bad configuration, 1 for any other failure.\n",
        ND_DEFAULT_CONFIG);
}

/* Raises the soft fd limit to the hard one: a logged-in session holds two
 * fds (its socket and its user's directory), a transfer one or two more. */
static void
raise_fd_limit(const struct nd_config *cfg)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY &&
        2 * (rlim_t)cfg->max_connections + 64 > rl.rlim_cur)
        nd_log(ND_LOG_WARN,
               "max_connections=%d needs about %d fds (2 per session), close "
               "to the fd limit %llu: logins and transfers may fail before "
               "it is reached",
               cfg->max_connections, 2 * cfg->max_connections,
               (unsigned long long)rl.rlim_cur);
}

/*
 * Gives the storage root just made as root to the account the daemon will
 * run as.  The directory is opened without following links, checked to be
 * root's, and changed through its fd, never by name.
 */
static void
give_root(const char *root, const struct nd_priv *priv)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const char *why = NULL;
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (st.st_uid != 0)
        why = "it is not the directory just made";
    else if (fchown(fd, priv->uid, priv->gid) < 0)
        why = strerror(errno);
    if (why != NULL)
        nd_log(ND_LOG_WARN, "cannot give storage root \"%s\" to user %s: %s",
               root, priv->user, why);
    if (fd >= 0)
        close(fd);
}

/*
 * Carries out the privilege plan, then checks what the account must be able
 * to use from now on.  Returns 0, or -1 after logging why the daemon must
 * not serve.
 */
static int
become_unprivileged(const struct daemon *d, const struct nd_priv *priv)
{
    char err[ND_PRIV_ERR_LEN];
    int rc = nd_priv_drop(priv, err, sizeof(err));

    if (rc < 0) {
        nd_log(ND_LOG_ERR, "cannot drop privileges to user=%s: %s", priv->user,
               err);
        return -1;
    }
    if (!priv->drop)
        return 0;
    nd_log(ND_LOG_INFO, "dropped privileges to user=%s uid=%u gid=%u",
           priv->user, (unsigned)priv->uid, (unsigned)priv->gid);
    /* As root this always passed; now every upload depends on it. */
    rc = nd_priv_check_writable(d->store.root_fd);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "storage root \"%s\" is not writable by user %s: %s",
               d->cfg.root, priv->user, strerror(-rc));
        return -1;
    }
    /* Logins read it, now as this user.  A missing file is not this
     * check's business: it refuses logins on its own. */
    if (d->cfg.users_file[0] != '\0' && access(d->cfg.users_file, R_OK) < 0 &&
        errno != ENOENT) {
        nd_log(ND_LOG_ERR, "users_file \"%s\" is not readable by user %s: %s",
               d->cfg.users_file, priv->user, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Makes the storage root when it is missing (its parent must exist), owned
 * by the account the daemon will run as.  When that account can write the
 * parent, the directory is made with its file system ids, so it is never
 * root's and needs no chown (which the account could race by swapping the
 * new directory for another); otherwise only root can touch the parent,
 * and root's new directory is given away through its fd.  Returns true
 * when it made the root.
 */
static bool
make_root(const char *root, const struct nd_priv *priv)
{
    if (priv->drop) {
        int err;

        (void)setfsgid(priv->gid);
        (void)setfsuid(priv->uid);
        err = mkdir(root, 0700) == 0 ? 0 : errno;
        (void)setfsuid(0);
        (void)setfsgid(0);
        if (err != EACCES)
            return err == 0;
    }
    if (mkdir(root, 0700) < 0)
        return false;
    if (priv->drop)
        give_root(root, priv);
    return true;
}

/* True when addr, a numeric address, is a loopback one. */
static bool
listen_is_loopback(const char *addr)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * Applies the plaintext policy: beyond loopback, sessions without TLS are
 * refused unless allow_plaintext is set.  With tls = "off" that would be
 * every session, so it is a configuration error.  Returns 0 or -EINVAL.
 */
static int
check_transport(const struct nd_config *cfg, const char *conf, bool quiet)
{
    static const char *const modes[] = {"off", "optional", "required"};
    bool local = listen_is_loopback(cfg->listen);

    if (!local && cfg->tls == ND_TLS_OFF && !cfg->allow_plaintext) {
        nd_log(ND_LOG_ERR,
               "%s: listen = \"%s\" is not a loopback address and tls = "
               "\"off\": every session would travel in plaintext.  Set tls "
               "(with tls_cert and tls_key), or allow_plaintext = true",
               conf, cfg->listen);
        return -EINVAL;
    }
    if (quiet)
        return 0;
    if (local || cfg->tls == ND_TLS_REQUIRED)
        nd_log(ND_LOG_INFO, "tls = \"%s\"", modes[cfg->tls]);
    else if (cfg->allow_plaintext)
        nd_log(ND_LOG_WARN,
               "tls = \"%s\", allow_plaintext = true: plaintext sessions from "
               "the network are served; passwords never cross it (SCRAM), but "
               "a recorded login can be attacked offline, and file contents "
               "and names cross it unencrypted",
               modes[cfg->tls]);
    else
        nd_log(ND_LOG_INFO,
               "tls = \"%s\": plaintext sessions are refused except from "
               "loopback (allow_plaintext = false)",
               modes[cfg->tls]);
    return 0;
}

static int
pool_main(void *arg, int exit_fd)
{
    struct daemon *d = arg;
    struct nd_reactor r;
    struct nd_sweep sweep;
    long swept;
    int rc;

    swept = nd_store_sweep(&d->store);
    if (swept > 0)
        nd_log(ND_LOG_INFO,
               "removed %ld temporary files left by an "
               "interrupted upload",
               swept);
    else if (swept < 0)
        nd_log(ND_LOG_WARN, "sweeping temporary files failed: %s",
               strerror((int)-swept));
    rc = nd_reactor_init(&r, &d->cfg, &d->store, d->tls, d->lfd, exit_fd);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "cannot start the pool: %s", strerror(-rc));
        nd_reactor_destroy(&r);
        return 1;
    }
    rc = nd_sweep_start(&sweep, &d->store, d->cfg.partial_ttl);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "cannot start the sweeper: %s", strerror(-rc));
        nd_reactor_destroy(&r);
        return 1;
    }
    nd_notify("READY=1");
    nd_log(ND_LOG_INFO, "ready: %d workers, queue %d, max_connections %d",
           d->cfg.workers, d->cfg.queue_capacity, d->cfg.max_connections);
    rc = nd_reactor_run(&r);
    nd_reactor_destroy(&r);
    nd_sweep_stop(&sweep);
    nd_store_close(&d->store);
    nd_log(ND_LOG_INFO, "pool process stopped");
    return rc < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static struct daemon d;
    const char *conf = ND_DEFAULT_CONFIG;
    char err[ND_CONFIG_ERR_LEN], bound[ND_ADDR_LEN], nerr[256];
    int opt, check_only = 0, rc;
    struct nd_priv priv;
    char perr[ND_PRIV_ERR_LEN], pwarn[ND_PRIV_ERR_LEN];

    while ((opt = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            check_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("netdiskd %s\n", ND_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc && strcmp(argv[optind], "user") != 0) {
        usage(stderr);
        return 2;
    }
    nd_log_init();
    rc = nd_config_load(&d.cfg, conf, err);
    if (rc < 0) {
        fprintf(stderr, "netdiskd: %s\n", err);
        return ND_EX_CONFIG;
    }
    nd_log_max_level = d.cfg.log_level;
    /* Managing accounts needs the configuration only, and may run as root. */
    if (optind < argc && strcmp(argv[optind], "user") == 0)
        return nd_usercmd_main(&d.cfg, argc - optind, argv + optind);
    /* Resolve user and group now, so that -t catches a misspelt name and a
     * refusal to serve as root comes before anything is bound.  -t only
     * checks the names: whether it would run as root is not its business. */
    rc = nd_priv_plan(d.cfg.user, d.cfg.group, d.cfg.allow_root, geteuid(),
                      &priv, perr, sizeof(perr), pwarn, sizeof(pwarn));
    if (rc < 0 && !(check_only && rc == -EPERM)) {
        nd_log(ND_LOG_ERR, "%s: %s", conf, perr);
        return rc == -ENOENT || rc == -EINVAL || rc == -EPERM ? ND_EX_CONFIG
                                                              : 1;
    }
    if (check_transport(&d.cfg, conf, check_only) < 0)
        return ND_EX_CONFIG;
    /* Certificates are read now, as root if started so: keys are often
     * readable by root alone. */
    if (d.cfg.tls != ND_TLS_OFF) {
        char terr[512];

        rc = nd_tls_server_ctx(&d.tls, d.cfg.tls_cert, d.cfg.tls_key, terr,
                               sizeof(terr));
        if (rc < 0) {
            nd_log(ND_LOG_ERR, "%s: %s", conf, terr);
            return ND_EX_CONFIG;
        }
    }
    if (check_only) {
        printf("netdiskd: configuration %s is valid\n", conf);
        return 0;
    }
    /* Neither process may die of a write to a closed socket. */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(&d.cfg);
    /* The root's parent must exist; the root itself is made on the first
     * start (under systemd, inside StateDirectory), owned by the account
     * the daemon will run as. */
    if (make_root(d.cfg.root, &priv))
        nd_log(ND_LOG_INFO, "created storage root \"%s\"", d.cfg.root);
    rc = nd_store_open(&d.store, d.cfg.root);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "cannot open storage root \"%s\": %s", d.cfg.root,
               strerror(-rc));
        return 1;
    }
    if (!d.store.use_openat2)
        nd_log(ND_LOG_WARN, "openat2() unavailable: confining paths with an "
                            "O_NOFOLLOW walk (symlinks are refused)");
    if (nd_sum_probe(d.store.root_fd) == -EOPNOTSUPP)
        nd_log(ND_LOG_WARN,
               "storage root \"%s\": no user extended attributes (tmpfs "
               "before Linux 6.6?): digests are not stored, every download "
               "is hashed",
               d.cfg.root);
    d.lfd = nd_net_listen(d.cfg.listen, d.cfg.port, 511, bound, sizeof(bound),
                          nerr, sizeof(nerr));
    if (d.lfd < 0) {
        nd_log(ND_LOG_ERR, "cannot listen: %s", nerr);
        return 1;
    }
    nd_log(ND_LOG_INFO, "listening on %s", bound);
    nd_log(ND_LOG_INFO, "storage root \"%s\", config %s", d.cfg.root, conf);
    if (pwarn[0] != '\0')
        nd_log(ND_LOG_WARN, "%s", pwarn);
    /* Last, once everything that needs root is open, and before the fork,
     * so that the watchdog and every pool process run unprivileged. */
    if (become_unprivileged(&d, &priv) < 0)
        return 1;
    return nd_watchdog_run(pool_main, &d);
}
