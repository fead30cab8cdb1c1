/*
 * netdiskd: parse the command line, load the configuration, open the storage
 * root and the listening socket, then hand over to the watchdog, which forks
 * the pool process (reactor + workers) defined here in pool_main().
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nd_config.h"
#include "nd_log.h"
#include "nd_net.h"
#include "nd_notify.h"
#include "nd_reactor.h"
#include "nd_store.h"
#include "nd_watchdog.h"

#ifndef ND_DEFAULT_CONFIG
#define ND_DEFAULT_CONFIG "/etc/netdisk/netdiskd.conf"
#endif

/* Everything the pool process inherits from the watchdog. */
struct daemon {
    struct nd_config cfg;
    struct nd_store store;
    int lfd;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: netdiskd [-c FILE] [-t]\n"
            "\n"
            "Serves the netdisk protocol from the storage root named in the\n"
            "configuration file, in the foreground (systemd supervises it).\n"
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

/* Raises the soft fd limit to the hard one: each connection is an fd. */
static void
raise_fd_limit(const struct nd_config *cfg)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t) cfg->max_connections + 64 > rl.rlim_cur)
        nd_log(ND_LOG_WARN,
               "max_connections=%d is close to the fd limit %llu: accept() "
               "may fail before it is reached",
               cfg->max_connections, (unsigned long long) rl.rlim_cur);
}

static int
pool_main(void *arg, int exit_fd)
{
    struct daemon *d = arg;
    struct nd_reactor r;
    long swept;
    int rc;

    swept = nd_store_sweep(&d->store);
    if (swept > 0)
        nd_log(ND_LOG_INFO, "removed %ld temporary files left by an "
                            "interrupted upload", swept);
    else if (swept < 0)
        nd_log(ND_LOG_WARN, "sweeping temporary files failed: %s",
               strerror((int) -swept));
    rc = nd_reactor_init(&r, &d->cfg, &d->store, d->lfd, exit_fd);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "cannot start the pool: %s", strerror(-rc));
        nd_reactor_destroy(&r);
        return 1;
    }
    nd_notify("READY=1");
    nd_log(ND_LOG_INFO, "ready: %d workers, queue %d, max_connections %d",
           d->cfg.workers, d->cfg.queue_capacity, d->cfg.max_connections);
    rc = nd_reactor_run(&r);
    nd_reactor_destroy(&r);
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
    if (optind != argc) {
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
    if (check_only) {
        printf("netdiskd: configuration %s is valid\n", conf);
        return 0;
    }
    /* Neither process may die of a write to a closed socket. */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(&d.cfg);
    rc = nd_store_open(&d.store, d.cfg.root);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "cannot open storage root \"%s\": %s", d.cfg.root,
               strerror(-rc));
        return 1;
    }
    if (!d.store.use_openat2)
        nd_log(ND_LOG_WARN, "openat2() unavailable: confining paths with an "
                            "O_NOFOLLOW walk (symlinks are refused)");
    d.lfd = nd_net_listen(d.cfg.listen, d.cfg.port, 511, bound, sizeof(bound),
                          nerr, sizeof(nerr));
    if (d.lfd < 0) {
        nd_log(ND_LOG_ERR, "cannot listen: %s", nerr);
        return 1;
    }
    nd_log(ND_LOG_INFO, "listening on %s", bound);
    nd_log(ND_LOG_INFO, "storage root \"%s\", config %s", d.cfg.root, conf);
    return nd_watchdog_run(pool_main, &d);
}
