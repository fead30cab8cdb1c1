/*
 * nd_handler: the protocol handlers that run on worker threads.
 *
 * The reactor assembles one whole request frame per connection and queues
 * it; a worker calls nd_handler_run(), which answers the frame and moves any
 * file bytes that belong to it, then returns.  A transfer whose socket is
 * not ready parks (park_want) and the reactor queues the connection again
 * when it is.  The
 * handler never closes the connection: it sets close_after and the reactor,
 * which owns every connection, closes it.  It logs one line per request
 * that moved or refused a file (peer, op, path, bytes, seconds, md5,
 * result).
 */
#ifndef ND_HANDLER_H
#define ND_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_config.h"
#include "nd_digest.h"
#include "nd_queue.h"
#include "nd_guard.h"
#include "nd_net.h"
#include "nd_proto.h"
#include "nd_scram.h"
#include "nd_store.h"
#include "nd_stream.h"
#include "nd_ticket.h"
#include "nd_users.h"

/* Where a connection is before its requests can be read. */
enum nd_phase {
    ND_PH_DETECT,    /* tls = optional: the first byte tells TLS or not */
    ND_PH_HANDSHAKE, /* the TLS handshake is under way */
    ND_PH_FRAMES,    /* reading request frames */
};

struct nd_scram_server;
struct nd_transfer;

struct nd_conn {
    struct nd_stream st;    /* blocking socket with timeouts, maybe TLS */
    char peer[ND_ADDR_LEN]; /* "ip:port", for the log */
    char addr[ND_ADDR_LEN]; /* the peer without its port: nd_guard's key */
    bool guarded;           /* counted by nd_guard_connect() */
    enum nd_phase phase;
    int tls_want;    /* what a non-blocking TLS call waits for */
    bool hello_done; /* the version handshake has happened */

    /* The login, done by the handlers. */
    struct nd_scram_server *scram; /* the exchange under way, owned */
    bool mock;                     /* ... against a made-up account */
    bool authed;                   /* logged in: the fields below are set */
    char user[ND_USER_MAX + 1];
    struct nd_store ustore; /* the user's own directory; root_fd owned */
    /* The session's key (nd_scram_server_session, or nd_ticket_session for
     * a resumed one) and the StoredKey the login matched: what a ticket
     * this session asks for is made from.  Wiped when c is freed. */
    uint8_t session[ND_SCRAM_KEY_LEN];
    uint8_t stored_key[ND_SCRAM_KEY_LEN];
    bool ticketed; /* this session has had its ticket */

    /* A refusal the reactor sends at late_at, then closes: the answer to
     * a failed login waits out its delay without holding a worker. */
    double late_at;
    uint8_t late[ND_HDR_LEN + 4 + 128];
    size_t late_len;

    /* The request being assembled by the reactor, then handled. */
    uint8_t hdr_buf[ND_HDR_LEN];
    size_t hdr_got;
    struct nd_hdr hdr;
    uint8_t *body; /* hdr.len bytes, owned by the connection */
    size_t body_got;
    int rx_err; /* nonzero: the header was refused; reply and close */

    bool close_after; /* set by the handler: end the session */

    /* A reply the reactor held for the worker to send first, with its own
     * (HELLO's, when a RESUME came behind it): one send, not two. */
    uint8_t pend[64];
    size_t pend_len;

    /* A PUT or GET under way (nd_transfer); made by the first one and
     * kept, owned, for the connection's life. */
    struct nd_transfer *xfer;
    /* Set by the handler when a transfer must wait for its socket: what
     * for (ND_TLS_WANT_READ or _WRITE; 0: not waiting), and a time before
     * which the wait may not expire even when idle_timeout would (a
     * resumed transfer's peer hashes first).  The reactor watches the
     * socket meanwhile, holding no worker, and sets park_expired when the
     * wait ran out. */
    int park_want;
    double park_until; /* monotonic; 0: idle_timeout alone */
    bool park_expired;

    /* Reactor bookkeeping; the handler does not touch these. */
    bool busy;       /* queued, on a worker, or parked */
    bool rearmed;    /* handed back by a worker that re-armed it itself */
    bool ev_seen;    /* an event came while rearmed and not taken back yet
                        (guarded by the reactor's back_mu) */
    bool parked;     /* a transfer waits for the socket: on the parked
                        list, watched by epoll */
    bool ep_off;     /* taken out of epoll: the next arming adds it */
    double deadline; /* monotonic time the next request must be in by */
    double login_by; /* ...and, before the login, the login be done by */
    struct nd_conn *prev, *next; /* the idle or the busy list */
    struct nd_conn *back_next;   /* the hand-back list */
};

struct nd_handler_ctx {
    const struct nd_store *store; /* borrowed, shared read-only */
    const struct nd_config *cfg;  /* borrowed: users_file, iterations */
    struct nd_guard *guard;       /* borrowed: failed logins by address */
    struct nd_users_cache *users; /* borrowed: the parsed users file */
    struct nd_tickets *tickets;   /* borrowed: resumption tickets */
};

/* Releases what the login left in c (the exchange, the user's directory).
 * Called by the reactor when it closes c. */
void nd_handler_conn_free(struct nd_conn *c);

/* What a worker holds back of its replies to send them together (see
 * nd_stream_hold): room for the replies to a run of pipelined requests,
 * and for a small file with its header and trailer. */
#define ND_HOLD_CAP (64 * 1024)

/* Per-worker scratch: a transfer buffer, a digest context, and the buffer
 * that holds replies while the worker owns a connection. */
struct nd_scratch {
    uint8_t *buf;
    size_t cap;
    uint8_t *hold; /* ND_HOLD_CAP bytes */
    struct nd_digest md5;
    struct nd_queue *queue; /* borrowed: work waiting for a worker, or NULL */
};

/* Allocates a worker's scratch; NULL on failure.  arg is the task queue
 * (struct nd_queue *, borrowed; NULL: none) whose waiting work makes a
 * transfer park at once instead of waiting briefly for its socket. */
void *nd_handler_scratch_new(void *arg);
void nd_handler_scratch_free(void *scratch);

/*
 * Answers the request frame in c (and, for PUT and GET, moves the file), or
 * goes on with c's parked transfer.  Runs on a worker thread that owns c
 * until it returns; uses sc exclusively.  On return c->park_want says
 * whether the transfer waits for the socket, else c->close_after whether
 * the session must end.
 */
void nd_handler_run(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                    struct nd_scratch *sc);

#endif
