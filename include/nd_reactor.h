/*
 * nd_reactor: the pool process's main thread (the "half-reactor").
 *
 * One epoll instance watches the listening socket, the exit pipe, an
 * eventfd the workers use to hand connections back, and every connection
 * that is waiting for its next request.  The reactor reads request frames
 * without blocking into per-connection buffers and queues a connection only
 * when a whole frame has arrived, so a slow or idle client holds no worker.
 * A transfer whose socket is not ready is parked here the same way: the
 * reactor watches the socket and queues the connection again when it is
 * ready, or, after idle_timeout, so that a worker ends the transfer.
 * It owns every connection: workers borrow one for a request and hand it
 * back; only the reactor closes them.  All epoll calls live in this module.
 *
 * Shutdown starts when the exit pipe is readable (a byte, or EOF because the
 * watchdog died): close the listener, close idle connections, let queued,
 * running and parked requests finish, after shutdown_timeout cut the
 * remaining connections with shutdown(2), join the workers.
 */
#ifndef ND_REACTOR_H
#define ND_REACTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <openssl/ssl.h>

#include "nd_config.h"
#include "nd_guard.h"
#include "nd_handler.h"
#include "nd_pool.h"
#include "nd_queue.h"

struct nd_reactor {
    const struct nd_config *cfg; /* borrowed */
    int ep;                      /* epoll, owned */
    int lfd;                     /* listener, owned from init on */
    int exit_fd;                 /* exit pipe read end, borrowed */
    int wake_fd;                 /* eventfd, owned */
    struct nd_queue queue;
    struct nd_pool pool;
    struct nd_handler_ctx hctx;
    struct nd_guard guard;       /* per-address connections and failed logins */
    struct nd_users_cache users; /* the users file, parsed */
    struct nd_tickets tickets;   /* resumption tickets not used yet */
    SSL_CTX *tls;                /* borrowed; NULL when tls = "off" */

    pthread_mutex_t back_mu; /* guards back */
    struct nd_conn *back;    /* connections handed back by workers */

    struct nd_conn idle;     /* sentinel: connections awaiting a request,
                                oldest deadline first */
    struct nd_conn busy;     /* sentinel: connections queued or on a worker */
    struct nd_conn late;     /* sentinel: refusals waiting out a login delay,
                                earliest first */
    struct nd_conn parked;   /* sentinel: transfers waiting for their
                                socket, earliest deadline first */
    struct nd_conn prelogin; /* sentinel: idle connections not logged in
                                yet, earliest deadline first */
    int nconns;
    int nbusy; /* queued, on a worker or parked: in flight */

    bool stopping;
    /* stopping, for the workers: set with it, read without the reactor's
     * state (a worker answers no pipelined request once it is set). */
    atomic_bool stop_seen;
    bool forced;
    double stop_deadline;
    bool accept_paused;
    double accept_resume;
    double last_busy_warn;
    bool wake_seen; /* the eventfd fired: take back after the batch */
    /* Whether accepted connections inherit the options set on the
     * listener (nd_net_conn_options): 0 not known yet, 1 they do, -1
     * they are set on each. */
    int conn_opts;
    /* The reactor's own scratch, for the frames it answers itself (HELLO
     * and AUTH of a plaintext session); owned. */
    struct nd_scratch *scratch;
};

/*
 * Sets up epoll, the queue and the workers.  Takes ownership of lfd (also
 * on failure); exit_fd and tls (NULL when cfg->tls is "off") stay the
 * caller's.  Returns 0 or -errno; on failure
 * nothing is left running.  Call from the thread that will run the loop,
 * after blocking signals, because the workers inherit its signal mask.
 */
int nd_reactor_init(struct nd_reactor *r, const struct nd_config *cfg,
                    const struct nd_store *store, SSL_CTX *tls, int lfd,
                    int exit_fd);

/*
 * Runs the loop until a shutdown has completed: every connection closed and
 * every worker joined.  Returns 0, or -errno if epoll itself failed (the
 * workers are still joined).
 */
int nd_reactor_run(struct nd_reactor *r);

/* Frees what init allocated.  Call after nd_reactor_run() returned. */
void nd_reactor_destroy(struct nd_reactor *r);

#endif
