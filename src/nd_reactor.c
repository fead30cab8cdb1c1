/*
 * nd_reactor: the epoll loop, connection ownership and graceful shutdown.
 *
 * Connections are registered EPOLLONESHOT: an event disarms the fd, the
 * reactor reads what is there, and re-arms it only while the frame is still
 * incomplete.  A complete frame goes to the queue with the fd disarmed, so
 * no event can arrive while a worker owns it; the hand-back re-arms it, and
 * because EPOLL_CTL_MOD re-checks readiness, a pipelined next request is
 * seen at once; a worker whose connection only goes back to waiting
 * re-arms it itself and lets the reactor take it back without waking it.
 * HELLO and AUTH of a plaintext session are answered here, not queued.
 * Idle deadlines are set only when a connection becomes idle,
 * so the idle list stays sorted by appending, and a client dripping a frame
 * byte by byte cannot extend its deadline.
 *
 * TLS is implicit: with tls = "optional" the first byte of a connection
 * (peeked, never consumed) tells a TLS ClientHello (0x16) from a plaintext
 * HELLO; the handshake then runs here, non-blocking, under the same idle
 * deadline as a request frame.  A TLS socket is O_NONBLOCK while the
 * reactor owns it and blocking (with timeouts) while a worker does.  OpenSSL
 * may hold decrypted bytes that epoll cannot see, so a TLS connection handed
 * back with such bytes is read at once instead of waiting for an event.
 */
#include "nd_reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nd_io.h"
#include "nd_log.h"
#include "nd_login.h"
#include "nd_net.h"
#include "nd_notify.h"
#include "nd_tls.h"

/* Tags for the non-connection fds in epoll's data.ptr. */
static char s_tag_listen, s_tag_exit, s_tag_wake;

#define MAX_EVENTS 128
/* The largest frame accepted before the login: the SCRAM messages are
 * at most ND_SCRAM_MSG_MAX bytes. */
#define PREAUTH_MAX 4096
/* Requests a worker answers in a row on one connection, after the one it
 * was given, when each is already waiting (worker_run); then the reactor
 * takes a turn. */
#define FOLLOW_MAX 16
/* How much of such a request a worker peeks at: a frame that fits (most
 * requests: a GET, a STAT, a TICKET) is then received in one call. */
#define PEEK_MAX 1024
/* Accepts per listener event, so a flood cannot starve the other fds. */
#define ACCEPT_BATCH 64

static void
list_init(struct nd_conn *head)
{
    head->prev = head->next = head;
}

static void
list_append(struct nd_conn *head, struct nd_conn *c)
{
    c->prev = head->prev;
    c->next = head;
    head->prev->next = c;
    head->prev = c;
}

/* Inserts c into a list kept sorted by deadline, walking from its end,
 * where a new deadline usually belongs. */
static void
list_insert_sorted(struct nd_conn *head, struct nd_conn *c)
{
    struct nd_conn *at = head->prev;

    while (at != head && at->deadline > c->deadline)
        at = at->prev;
    c->prev = at;
    c->next = at->next;
    at->next->prev = c;
    at->next = c;
}

static void
list_remove(struct nd_conn *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = c;
}

static int
ep_ctl(struct nd_reactor *r, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};

    return epoll_ctl(r->ep, op, fd, &ev) < 0 ? -errno : 0;
}

static void
resume_accept(struct nd_reactor *r)
{
    if (!r->accept_paused || r->lfd < 0)
        return;
    if (ep_ctl(r, EPOLL_CTL_MOD, r->lfd, EPOLLIN, &s_tag_listen) == 0)
        r->accept_paused = false;
}

static void
conn_close(struct nd_reactor *r, struct nd_conn *c)
{
    list_remove(c);
    if (c->guarded)
        nd_guard_disconnect(&r->guard, c->addr);
    nd_handler_conn_free(c);
    /* Closing also removes the fd from epoll: no dup of it exists.  A TLS
     * socket is non-blocking here, so close_notify cannot stall us. */
    nd_stream_close(&c->st);
    free(c->body);
    free(c);
    r->nconns--;
    resume_accept(r);
}

/* Watches c for what it waits for: a readable socket, or for TLS maybe a
 * writable one.  Closes c when epoll refuses.  Returns 0 or -1 (closed). */
static int
conn_arm(struct nd_reactor *r, struct nd_conn *c, int op)
{
    uint32_t ev = c->tls_want == ND_TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;

    if (c->ep_off)
        op = EPOLL_CTL_ADD; /* taken out of epoll when a transfer expired */
    if (ep_ctl(r, op, c->st.fd, ev | EPOLLONESHOT, c) < 0) {
        conn_close(r, c);
        return -1;
    }
    c->ep_off = false;
    return 0;
}

static void conn_read(struct nd_reactor *r, struct nd_conn *c);

/* Forgets the request frame just answered, ready for the next. */
static void
frame_reset(struct nd_conn *c)
{
    free(c->body);
    c->body = NULL;
    c->hdr_got = c->body_got = 0;
    c->rx_err = 0;
    c->tls_want = 0;
}

/* Puts c among the connections awaiting a request, with its deadline. */
static void
conn_idle(struct nd_reactor *r, struct nd_conn *c)
{
    c->deadline = nd_io_now() + r->cfg->idle_timeout;
    if (c->authed) {
        list_append(&r->idle, c);
    } else {
        /* Before the login the deadline is also bounded by login_timeout
         * from accept, so these deadlines differ: keep them apart, sorted. */
        if (c->login_by < c->deadline)
            c->deadline = c->login_by;
        list_insert_sorted(&r->prelogin, c);
    }
}

/* Makes c idle: resets its frame state, deadline, and re-arms it. */
static void
conn_make_idle(struct nd_reactor *r, struct nd_conn *c, int op)
{
    frame_reset(c);
    conn_idle(r, c);
    /* Bytes OpenSSL already decrypted never wake epoll: read them now.
     * The fd stays disarmed (conn_read arms it when it must wait), so no
     * event can arrive once the next frame went to a worker. */
    if (c->st.ssl != NULL && SSL_has_pending(c->st.ssl))
        conn_read(r, c);
    else
        (void)conn_arm(r, c, op);
}

/* Best-effort send from the reactor, which must not block: over TLS once
 * the handshake is done, in plaintext when TLS was not seen (c may be NULL
 * before there is a connection). */
static void
send_nowait(struct nd_conn *c, int fd, const void *buf, size_t len)
{
    if (c == NULL || c->st.ssl == NULL)
        (void)nd_io_send_nowait(fd, buf, len);
    else if (SSL_is_init_finished(c->st.ssl) &&
             nd_tls_write_nowait(c->st.ssl, buf, len, NULL) != (ssize_t)len)
        c->st.broken = true; /* a torn record: no close_notify after it */
}

/* Refuses with ERROR st (msg, or the status's own text). */
static void
refuse(struct nd_conn *c, int fd, enum nd_status st, const char *msg)
{
    uint8_t buf[ND_HDR_LEN + 4 + 128];
    long len = nd_proto_error_encode(
        buf, sizeof(buf), st, msg != NULL ? msg : nd_proto_status_str(st));

    if (len > 0)
        send_nowait(c, fd, buf, (size_t)len);
}

/* Sends a delayed refusal (see nd_conn.late) and closes. */
static void
late_send(struct nd_reactor *r, struct nd_conn *c)
{
    send_nowait(c, c->st.fd, c->late, c->late_len);
    conn_close(r, c);
}

/* Parks c, with its fd disarmed, until its late reply is due. */
static void
late_park(struct nd_reactor *r, struct nd_conn *c)
{
    c->deadline = c->late_at;
    /* Delays differ, so the list is kept sorted. */
    list_insert_sorted(&r->late, c);
}

static void
warn_busy(struct nd_reactor *r, const char *peer, const char *why)
{
    double now = nd_io_now();

    /* At most one line a second: a flood must not flood the journal too. */
    if (now - r->last_busy_warn >= 1.0) {
        nd_log(ND_LOG_WARN, "refusing peer=%s: %s", peer, why);
        r->last_busy_warn = now;
    }
}

static void
dispatch(struct nd_reactor *r, struct nd_conn *c)
{
    /* Everything the reactor changes in c happens before the push: from
     * then on a worker may own it.  The worker does blocking, timed I/O,
     * on a TLS socket too. */
    list_remove(c);
    if (c->st.ssl != NULL)
        (void)nd_io_set_nonblock(c->st.fd, false);
    c->busy = true;
    list_append(&r->busy, c);
    r->nbusy++;
    if (nd_queue_push_below(&r->queue, c, (size_t)r->cfg->queue_capacity) < 0) {
        c->busy = false;
        r->nbusy--;
        if (c->st.ssl != NULL)
            (void)nd_io_set_nonblock(c->st.fd, true);
        warn_busy(r, c->peer, "task queue full");
        nd_login_spend(&r->hctx, c);
        refuse(c, c->st.fd, ND_E_BUSY, NULL);
        conn_close(r, c);
    }
}

/* True when addr (nd_guard form) is a loopback address. */
static bool
is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "[::1]") == 0;
}

/*
 * Looks at the first byte without consuming it.  Returns 1 when c may go
 * on reading frames (TLS set up, or plaintext allowed), 0 when it must wait
 * for more, -1 when c was closed.
 */
static int
conn_detect(struct nd_reactor *r, struct nd_conn *c)
{
    uint8_t b;
    ssize_t n;

    do
        n = recv(c->st.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return conn_arm(r, c, EPOLL_CTL_MOD) < 0 ? -1 : 0;
    if (n <= 0) {
        conn_close(r, c);
        return -1;
    }
    if (b == ND_TLS_RECORD_HANDSHAKE) {
        c->st.ssl = nd_tls_new_server(r->tls, c->st.fd);
        if (c->st.ssl == NULL || nd_io_set_nonblock(c->st.fd, true) < 0) {
            conn_close(r, c);
            return -1;
        }
        c->phase = ND_PH_HANDSHAKE;
        return 1;
    }
    /* Plaintext: only where the configuration allows it. */
    if (r->cfg->tls == ND_TLS_REQUIRED ||
        (!r->cfg->allow_plaintext && !is_loopback(c->addr))) {
        nd_log(ND_LOG_INFO, "peer=%s plaintext session refused: %s", c->peer,
               r->cfg->tls == ND_TLS_REQUIRED
                   ? "tls = \"required\""
                   : "not loopback and allow_plaintext is false");
        refuse(c, c->st.fd, ND_E_PLAINTEXT, NULL);
        conn_close(r, c);
        return -1;
    }
    c->phase = ND_PH_FRAMES;
    return 1;
}

/* Advances the TLS handshake.  Returns as conn_detect() does. */
static int
conn_handshake(struct nd_reactor *r, struct nd_conn *c)
{
    char err[256], desc[96];
    int rc = nd_tls_accept_step(c->st.ssl, err, sizeof(err));

    if (rc > 0) {
        c->tls_want = rc;
        return conn_arm(r, c, EPOLL_CTL_MOD) < 0 ? -1 : 0;
    }
    if (rc < 0) {
        nd_log(ND_LOG_INFO, "peer=%s TLS handshake failed: %s", c->peer, err);
        c->st.broken = true;
        conn_close(r, c);
        return -1;
    }
    c->tls_want = 0;
    c->phase = ND_PH_FRAMES;
    nd_log(ND_LOG_DEBUG, "peer=%s TLS established: %s, kernel TLS send %s",
           c->peer, nd_tls_describe(c->st.ssl, desc, sizeof(desc)),
           nd_stream_zero_copy(&c->st) ? "on" : "off");
    return 1;
}

/*
 * Takes the header now whole in c->hdr_buf: decodes it into c->hdr, refuses
 * (rx_err) what may not come now, and allocates the body.  Returns true
 * when the frame ends here (refused, or without a body).
 */
static bool
frame_header(struct nd_conn *c)
{
    c->hdr_got = ND_HDR_LEN;
    c->rx_err = nd_proto_hdr_decode(c->hdr_buf, &c->hdr);
    /* Before the login nothing needs a large frame, and a stranger must
     * not make us hold 256 KiB per connection. */
    if (c->rx_err == 0 && !c->authed && c->hdr.len > PREAUTH_MAX)
        c->rx_err = -EMSGSIZE;
    if (c->rx_err == 0 && c->hdr.len > 0) {
        /* hdr.len was checked against ND_FRAME_MAX above. */
        c->body = malloc(c->hdr.len);
        if (c->body == NULL)
            c->rx_err = -ENOMEM;
    }
    return c->rx_err != 0 || c->hdr.len == 0;
}

/*
 * Reads what is there of c's request frame without blocking, into c's frame
 * state (hdr_buf/hdr, body), exactly up to its end, never into the file
 * bytes or the next request behind it.  Returns 1 when the frame is complete or
 * was refused from its header (rx_err set), 0 when the socket has no more for
 * now, or -1 when the peer closed or the read failed (st.broken set).  Used
 * by the reactor, and by a worker for a frame it saw complete.
 */
static int
frame_read(struct nd_conn *c)
{
    for (;;) {
        uint8_t *at;
        size_t want;
        ssize_t n;

        if (c->hdr_got < ND_HDR_LEN) {
            at = c->hdr_buf + c->hdr_got;
            want = ND_HDR_LEN - c->hdr_got;
        } else {
            at = c->body + c->body_got;
            want = c->hdr.len - c->body_got;
        }
        c->tls_want = 0;
        if (c->st.ssl != NULL)
            n = nd_tls_read_nowait(c->st.ssl, at, want, &c->tls_want);
        else
            n = nd_io_recv_nowait(c->st.fd, at, want);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0) {
            if (n < 0)
                c->st.broken = true;
            return -1;
        }
        if (c->hdr_got < ND_HDR_LEN) {
            c->hdr_got += (size_t)n;
            if (c->hdr_got < ND_HDR_LEN)
                continue;
            if (frame_header(c))
                return 1;
        } else {
            c->body_got += (size_t)n;
            if (c->body_got == c->hdr.len)
                return 1;
        }
    }
}

/*
 * Whether the reactor answers c's complete frame itself rather than a
 * worker: the two steps of a plaintext session before anything is read
 * from the store, HELLO and AUTH.  Their answers need no file (the users
 * file is parsed once and kept; a change is seen by its stat) and no
 * waiting, and a session per file spends most of its time handing such
 * steps to a worker and back.  PROOF goes to a worker: it opens the user's
 * directory, and the first request usually rides behind it.
 */
static bool
answered_here(const struct nd_conn *c)
{
    return c->st.ssl == NULL && c->rx_err == 0 && !c->close_after &&
           (!c->hello_done ||
            (!c->authed && c->scram == NULL && c->hdr.type == ND_T_AUTH));
}

/*
 * Answers c's complete frame, and those behind it, while answered_here()
 * says so; their replies leave in one send (HELLO's with the CHALLENGE),
 * made without blocking: this early the socket's buffer is empty, so a
 * connection that cannot take a few hundred bytes is closed.  Returns what
 * frame_read() returned for the frame after them, or -2 when c was closed.
 */
static int
answer_here(struct nd_reactor *r, struct nd_conn *c)
{
    int rc = 1, want = 0;

    nd_stream_hold(&c->st, r->scratch->hold, ND_HOLD_CAP);
    while (rc > 0 && answered_here(c)) {
        nd_handler_run(&r->hctx, c, r->scratch);
        if (c->close_after)
            break;
        frame_reset(c);
        rc = frame_read(c);
    }
    /* A frame for a worker follows: a short reply goes with the worker's
     * (see worker_run) rather than in a send of its own. */
    if (rc > 0 && !c->close_after && c->st.held_len <= sizeof(c->pend)) {
        memcpy(c->pend, c->st.held, c->st.held_len);
        c->pend_len = c->st.held_len;
        c->st.held_len = 0;
    }
    if (nd_stream_flush_nowait(&c->st, &want) < 0 && !c->close_after) {
        nd_log(ND_LOG_INFO, "peer=%s does not take the login's reply: closing",
               c->peer);
        c->close_after = true;
    }
    nd_stream_hold(&c->st, NULL, 0);
    if (c->close_after) {
        conn_close(r, c);
        return -2;
    }
    return rc;
}

static void
conn_read(struct nd_reactor *r, struct nd_conn *c)
{
    int rc;

    if (c->phase == ND_PH_DETECT && (rc = conn_detect(r, c)) <= 0)
        return;
    if (c->phase == ND_PH_HANDSHAKE && (rc = conn_handshake(r, c)) <= 0)
        return;
    rc = frame_read(c);
    if (rc > 0 && answered_here(c) && (rc = answer_here(r, c)) == -2)
        return;
    if (rc > 0) {
        dispatch(r, c);
    } else if (rc == 0) {
        (void)conn_arm(r, c, EPOLL_CTL_MOD);
    } else {
        if (c->hdr_got > 0)
            nd_log(ND_LOG_DEBUG, "peer=%s closed mid-frame", c->peer);
        conn_close(r, c);
    }
}

/*
 * Gives an accepted connection its options, unless it has them from the
 * listener, which was given them at the start: three system calls fewer
 * per connection.  Whether it has is checked on the first connection.
 * Returns 0 or -errno.
 */
static int
conn_options(struct nd_reactor *r, int fd)
{
    if (r->conn_opts == 0)
        r->conn_opts =
            nd_net_has_conn_options(fd, r->cfg->idle_timeout) ? 1 : -1;
    return r->conn_opts > 0 ? 0 : nd_net_conn_options(fd, r->cfg->idle_timeout);
}

static void
accept_some(struct nd_reactor *r)
{
    for (int i = 0; i < ACCEPT_BATCH && r->lfd >= 0; i++) {
        char peer[ND_ADDR_LEN];
        struct nd_conn *c;
        int fd = nd_net_accept(r->lfd, peer, sizeof(peer));

        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            /* Out of fds or memory: stop watching the listener for a while
             * instead of spinning on a socket we cannot accept from. */
            nd_log(ND_LOG_WARN, "accept() failed: %s; pausing for 1s",
                   strerror(-fd));
            if (ep_ctl(r, EPOLL_CTL_MOD, r->lfd, 0, &s_tag_listen) == 0) {
                r->accept_paused = true;
                r->accept_resume = nd_io_now() + 1.0;
            }
            return;
        }
        if (fd < 0) /* EAGAIN: drained; others concern that one peer */
            return;
        /* A refusal before TLS was seen can only be plaintext, which a
         * TLS client cannot read: with tls = "required" just close. */
        bool say = r->cfg->tls != ND_TLS_REQUIRED;
        char addr[ND_ADDR_LEN];

        nd_guard_addr(peer, addr, sizeof(addr));
        if (r->nconns >= r->cfg->max_connections) {
            warn_busy(r, peer, "max_connections reached");
            if (say)
                refuse(NULL, fd, ND_E_BUSY, NULL);
            close(fd);
            continue;
        }
        int counted = nd_guard_connect(&r->guard, addr);

        if (counted < 0) {
            warn_busy(r, peer, "max_per_ip reached");
            if (say)
                refuse(NULL, fd, ND_E_BUSY,
                       "too many connections from your address");
            close(fd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL || conn_options(r, fd) < 0) {
            if (counted == 0)
                nd_guard_disconnect(&r->guard, addr);
            free(c);
            close(fd);
            continue;
        }
        nd_stream_init(&c->st, fd);
        c->guarded = counted == 0;
        c->ustore.root_fd = -1;
        c->phase = r->tls != NULL ? ND_PH_DETECT : ND_PH_FRAMES;
        c->login_by = nd_io_now() + r->cfg->login_timeout;
        memcpy(c->peer, peer, sizeof(peer));
        memcpy(c->addr, addr, sizeof(addr));
        c->prev = c->next = c;
        r->nconns++;
        nd_log(ND_LOG_DEBUG, "peer=%s connected (%d open)", peer, r->nconns);
        /* A client sends its first frames right behind the TCP handshake,
         * and by the time we accept they are often there: read them now
         * rather than after another turn of the loop.  The fd is not in
         * epoll yet; the first arming adds it. */
        conn_idle(r, c);
        c->ep_off = true;
        conn_read(r, c);
    }
}

/*
 * Worker side: returns c to the reactor.  Called on worker threads.
 *
 * A plaintext connection that only goes back to waiting for its next
 * request (the common case) is re-armed here, and the reactor is not woken
 * for it: it takes c back at the end of its next turn, which comes at the
 * latest with the next event or within a second.  Waking it would cost a
 * switch to the reactor and back for every request.  An event for c that
 * comes before the reactor took it back is noted (ev_seen) and c is read
 * then; one that comes before c is even on the back list makes this wake
 * the reactor after all, decided under back_mu, where the reactor notes it.
 * Anything else (a close, a parked transfer, a late reply, TLS, a stop)
 * wakes the reactor, which does the rest.
 */
static void
hand_back(struct nd_reactor *r, struct nd_conn *c)
{
    uint64_t one = 1;
    bool quiet = c->st.ssl == NULL && c->park_want == 0 && c->late_len == 0 &&
                 !c->close_after && !atomic_load(&r->stop_seen);
    bool wake;

    if (quiet) {
        frame_reset(c);
        quiet = ep_ctl(r, c->ep_off ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->st.fd,
                       EPOLLIN | EPOLLONESHOT, c) == 0;
        if (quiet)
            c->ep_off = false;
    }
    c->rearmed = quiet;
    pthread_mutex_lock(&r->back_mu);
    c->back_next = r->back;
    r->back = c;
    /* c is the reactor's from here on: only the flags below are read. */
    wake = !quiet || c->ev_seen || atomic_load(&r->stop_seen);
    pthread_mutex_unlock(&r->back_mu);
    /* An eventfd write only fails when the counter would overflow. */
    if (wake)
        (void)!write(r->wake_fd, &one, sizeof(one));
}

/*
 * Queues a parked transfer's connection again: its socket is ready, or
 * (expired) its wait ran out and a worker must end it.  The ring has room
 * for every connection beyond queue_capacity (a connection is queued at
 * most once), so a flood of new requests cannot push a transfer out; the
 * queue only refuses after it was closed, which happens once nothing is
 * in flight.
 */
static void
unpark(struct nd_reactor *r, struct nd_conn *c, bool expired)
{
    list_remove(c);
    c->parked = false;
    c->park_want = 0;
    c->park_expired = expired;
    if (c->st.ssl != NULL)
        (void)nd_io_set_nonblock(c->st.fd, false);
    list_append(&r->busy, c);
    if (nd_queue_push(&r->queue, c) < 0) {
        c->busy = false;
        r->nbusy--;
        if (c->st.ssl != NULL)
            (void)nd_io_set_nonblock(c->st.fd, true);
        nd_log(ND_LOG_ERR, "peer=%s cannot queue a parked transfer: closing",
               c->peer);
        conn_close(r, c);
    }
}

/*
 * Watches a transfer that waits for its socket, holding no worker, until
 * the socket is ready or idle_timeout has passed (and park_until, which a
 * resumed transfer sets while its peer hashes).  It stays in flight (busy,
 * counted in nbusy), so a shutdown waits for it.
 */
static void
park(struct nd_reactor *r, struct nd_conn *c)
{
    uint32_t ev = c->park_want == ND_TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;

    c->busy = true;
    r->nbusy++;
    c->parked = true;
    c->deadline = nd_io_now() + r->cfg->idle_timeout;
    if (c->deadline < c->park_until)
        c->deadline = c->park_until;
    list_insert_sorted(&r->parked, c);
    if (ep_ctl(r, c->ep_off ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->st.fd,
               ev | EPOLLONESHOT, c) < 0) {
        unpark(r, c, true);
        return;
    }
    c->ep_off = false;
}

/*
 * An event for a connection that is busy: its worker re-armed it while
 * handing it back (hand_back), and the reactor has not taken it back yet.
 * Noted, under back_mu, for take_back(), or for that worker to wake us.
 */
static void
ev_for_busy(struct nd_reactor *r, struct nd_conn *c)
{
    pthread_mutex_lock(&r->back_mu);
    c->ev_seen = true;
    pthread_mutex_unlock(&r->back_mu);
}

/*
 * Takes back what the workers handed back.  Called between batches of
 * events, never inside one: closing c here must not leave an event for it
 * in the batch at hand.
 */
static void
take_back(struct nd_reactor *r)
{
    struct nd_conn *c;
    uint64_t n;

    if (r->wake_seen) {
        r->wake_seen = false;
        (void)!read(r->wake_fd, &n, sizeof(n));
    }
    pthread_mutex_lock(&r->back_mu);
    c = r->back;
    r->back = NULL;
    pthread_mutex_unlock(&r->back_mu);
    while (c != NULL) {
        struct nd_conn *next = c->back_next;

        c->busy = false;
        r->nbusy--;
        list_remove(c);
        if (c->st.ssl != NULL)
            (void)nd_io_set_nonblock(c->st.fd, true);
        if (c->rearmed) {
            /* Re-armed by its worker (hand_back): awaiting its next
             * request, and read now if an event came meanwhile. */
            c->rearmed = false;
            if (r->stopping) {
                conn_close(r, c);
            } else {
                conn_idle(r, c);
                if (c->ev_seen) {
                    c->ev_seen = false;
                    conn_read(r, c);
                }
            }
            c = next;
            continue;
        }
        /* A transfer under way goes on even while stopping. */
        if (c->park_want != 0)
            park(r, c);
        else if (c->late_len > 0 && !r->stopping)
            late_park(r, c);
        else if (c->late_len > 0)
            late_send(r, c);
        else if (c->close_after || r->stopping)
            conn_close(r, c);
        else
            conn_make_idle(r, c, EPOLL_CTL_MOD);
        c = next;
    }
}

/*
 * Worker side: whether the next request of c, just answered, is already
 * complete in its socket and may be answered by this same worker, saving
 * the two hand-offs through the reactor (a client that pipelines, or the
 * next step of a login sent before the reply was read).  Only plaintext
 * connections with nothing left to do (no transfer parked, no late reply,
 * not closing), only while no other work waits for a worker, and never
 * once the pool is stopping (no new request is started then); a frame
 * the header check refuses, or one not all there yet, is the reactor's.
 * Peeking consumes nothing, so the reactor sees the socket as it was.
 * Peeks at up to PEEK_MAX bytes into peek.  Returns 0 (no frame to take),
 * 1 when the whole frame, *len bytes, is among them (frame_take() gets it
 * in one receive), or 2 when it is complete but longer (frame_read()).
 */
static int
frame_waiting(struct nd_reactor *r, struct nd_conn *c, uint8_t *peek,
              size_t *len)
{
    struct nd_hdr h;
    ssize_t n;
    int avail = 0;

    if (c->st.ssl != NULL || c->park_want != 0 || c->late_len > 0 ||
        c->close_after || c->st.broken || atomic_load(&r->stop_seen) ||
        nd_queue_len(&r->queue) > 0)
        return 0;
    n = recv(c->st.fd, peek, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
    if (n < ND_HDR_LEN || nd_proto_hdr_decode(peek, &h) < 0 ||
        (!c->authed && h.len > PREAUTH_MAX))
        return 0;
    *len = ND_HDR_LEN + (size_t)h.len;
    if (*len <= (size_t)n)
        return 1;
    return ioctl(c->st.fd, FIONREAD, &avail) == 0 && (size_t)avail >= *len ? 2
                                                                           : 0;
}

/*
 * Receives the frame frame_waiting() saw whole among the peeked bytes, len
 * of them, in one call, into c's frame state, as frame_read() would have.
 * Returns 1, or -1 when the receive did not bring them all.
 */
static int
frame_take(struct nd_conn *c, uint8_t *buf, size_t len)
{
    if (nd_io_recv_nowait(c->st.fd, buf, len) != (ssize_t)len)
        return -1;
    memcpy(c->hdr_buf, buf, ND_HDR_LEN);
    if (!frame_header(c)) {
        memcpy(c->body, buf + ND_HDR_LEN, c->hdr.len);
        c->body_got = c->hdr.len;
    }
    return 1;
}

static void
worker_run(void *item, void *arg, void *scratch)
{
    struct nd_reactor *r = arg;
    struct nd_conn *c = item;
    struct nd_scratch *sc = scratch;

    /* The replies of this run go out together when it ends (or sooner,
     * before any transfer moves file bytes): the reply to the HELLO with
     * the CHALLENGE behind it, WELCOME with the FILE that was pipelined
     * behind PROOF, a small file with its header and trailer.  One send
     * wakes the client once. */
    nd_stream_hold(&c->st, sc->hold, ND_HOLD_CAP);
    /* The hold buffer is empty and larger than pend: this only copies. */
    if (c->pend_len > 0)
        (void)nd_stream_send_full(&c->st, c->pend, c->pend_len);
    c->pend_len = 0;
    nd_handler_run(&r->hctx, c, sc);
    for (int i = 0; i < FOLLOW_MAX; i++) {
        uint8_t peek[PEEK_MAX];
        size_t len = 0;
        int w = frame_waiting(r, c, peek, &len);

        if (w == 0)
            break;
        frame_reset(c);
        if ((w == 1 ? frame_take(c, peek, len) : frame_read(c)) <= 0) {
            /* Not expected after the peek; the framing is lost either
             * way, so the connection goes. */
            c->close_after = true;
            break;
        }
        nd_handler_run(&r->hctx, c, sc);
    }
    /* The buffer is this worker's: nothing stays held past the hand-back
     * (a parked transfer sent what was held before it parked). */
    if (nd_stream_release(&c->st) < 0)
        c->close_after = true;
    hand_back(r, c);
}

static void *
worker_init(void *arg)
{
    struct nd_reactor *r = arg;

    return nd_handler_scratch_new(&r->queue);
}

static const struct nd_pool_ops s_pool_ops = {
    .thread_init = worker_init,
    .run = worker_run,
    .thread_fini = nd_handler_scratch_free,
};

/*
 * Starts the graceful shutdown.  requested is true when the exit pipe asked
 * for it; only then is the listening socket itself stopped, because after
 * an internal failure the watchdog restarts a pool on that same socket.
 */
static void
begin_stop(struct nd_reactor *r, bool requested)
{
    if (r->stopping)
        return;
    r->stopping = true;
    atomic_store(&r->stop_seen, true);
    r->stop_deadline = nd_io_now() + r->cfg->shutdown_timeout;
    nd_notify("STOPPING=1");
    nd_log(ND_LOG_INFO, "shutting down: %d connections, %d requests in flight",
           r->nconns, r->nbusy);
    /* The watchdog holds the same listening socket for restarts, so
     * closing our fd alone would leave the kernel completing handshakes
     * that nobody accepts.  shutdown() stops the socket itself listening:
     * queued and new connections are reset, and clients fail at once. */
    /* The fd must leave epoll explicitly: the watchdog's copy keeps the
     * socket alive, and a shut-down listener reports EPOLLHUP forever. */
    (void)ep_ctl(r, EPOLL_CTL_DEL, r->lfd, 0, NULL);
    if (requested)
        (void)shutdown(r->lfd, SHUT_RDWR);
    nd_io_close(&r->lfd);
    (void)ep_ctl(r, EPOLL_CTL_DEL, r->exit_fd, 0, NULL);
    while (r->idle.next != &r->idle)
        conn_close(r, r->idle.next);
    while (r->prelogin.next != &r->prelogin)
        conn_close(r, r->prelogin.next);
    while (r->late.next != &r->late)
        late_send(r, r->late.next);
    /* Connections a worker handed back quietly just before stop_seen was
     * set would otherwise wait for the next turn of the loop (up to a
     * second) to be closed. */
    take_back(r);
    /* The queue stays open: parked transfers still need workers.  It is
     * closed once nothing is in flight. */
}

/* Cuts the connections still busy once shutdown_timeout has passed. */
static void
force_stop(struct nd_reactor *r)
{
    r->forced = true;
    nd_log(ND_LOG_WARN,
           "shutdown_timeout (%ds) passed: cutting %d transfers short",
           r->cfg->shutdown_timeout, r->nbusy);
    for (struct nd_conn *c = r->busy.next; c != &r->busy; c = c->next)
        (void)shutdown(c->st.fd, SHUT_RDWR);
    /* A parked one sees the hang-up as an event and a worker ends it. */
    for (struct nd_conn *c = r->parked.next; c != &r->parked; c = c->next)
        (void)shutdown(c->st.fd, SHUT_RDWR);
}

static void
expire_idle(struct nd_reactor *r, double now)
{
    while (r->idle.next != &r->idle && r->idle.next->deadline <= now) {
        struct nd_conn *c = r->idle.next;

        nd_log(c->hdr_got > 0 ? ND_LOG_INFO : ND_LOG_DEBUG,
               "peer=%s %s: closing", c->peer,
               c->hdr_got > 0 ? "request not complete within idle_timeout"
                              : "idle_timeout");
        conn_close(r, c);
    }
    while (r->prelogin.next != &r->prelogin &&
           r->prelogin.next->deadline <= now) {
        struct nd_conn *c = r->prelogin.next;

        nd_log(ND_LOG_INFO, "peer=%s no login within %s: closing", c->peer,
               c->deadline >= c->login_by ? "login_timeout" : "idle_timeout");
        conn_close(r, c);
    }
    while (r->late.next != &r->late && r->late.next->deadline <= now)
        late_send(r, r->late.next);
    while (r->parked.next != &r->parked && r->parked.next->deadline <= now) {
        struct nd_conn *c = r->parked.next;

        /* Out of epoll first: a MOD to no events would still report
         * EPOLLHUP and EPOLLERR, level-triggered, for a connection a
         * worker owns (the reactor would spin on them), or after it was
         * freed.  Whoever arms it next adds it back. */
        if (ep_ctl(r, EPOLL_CTL_DEL, c->st.fd, 0, NULL) == 0)
            c->ep_off = true;
        unpark(r, c, true);
    }
}

/* Milliseconds until the next deadline of any kind, at most one second. */
static int
next_timeout(const struct nd_reactor *r, double now)
{
    double next = now + 1.0;

    if (r->idle.next != &r->idle && r->idle.next->deadline < next)
        next = r->idle.next->deadline;
    if (r->prelogin.next != &r->prelogin && r->prelogin.next->deadline < next)
        next = r->prelogin.next->deadline;
    if (r->late.next != &r->late && r->late.next->deadline < next)
        next = r->late.next->deadline;
    if (r->parked.next != &r->parked && r->parked.next->deadline < next)
        next = r->parked.next->deadline;
    if (r->stopping && !r->forced && r->stop_deadline < next)
        next = r->stop_deadline;
    if (r->accept_paused && r->accept_resume < next)
        next = r->accept_resume;
    return next <= now ? 0 : (int)((next - now) * 1000.0) + 1;
}

int
nd_reactor_init(struct nd_reactor *r, const struct nd_config *cfg,
                const struct nd_store *store, SSL_CTX *tls, int lfd,
                int exit_fd)
{
    int rc;

    memset(r, 0, sizeof(*r));
    atomic_init(&r->stop_seen, false);
    r->cfg = cfg;
    r->lfd = lfd;
    r->exit_fd = exit_fd;
    r->wake_fd = -1;
    r->ep = -1;
    r->tls = tls;
    r->hctx.store = store;
    r->hctx.cfg = cfg;
    r->hctx.guard = &r->guard;
    r->hctx.users = &r->users;
    r->hctx.tickets = &r->tickets;
    nd_users_cache_init(&r->users);
    (void)nd_tickets_init(&r->tickets, ND_TICKET_SLOTS, ND_TICKET_LIFETIME);
    list_init(&r->idle);
    list_init(&r->busy);
    list_init(&r->late);
    list_init(&r->prelogin);
    list_init(&r->parked);
    pthread_mutex_init(&r->back_mu, NULL);
    rc = nd_guard_init(&r->guard, cfg->max_per_ip, cfg->login_delay_ms,
                       cfg->login_ban_after, cfg->login_ban_seconds);
    if (rc < 0)
        return rc;
    r->scratch = nd_handler_scratch_new(NULL);
    if (r->scratch == NULL)
        return -ENOMEM;
    if (nd_net_conn_options(lfd, cfg->idle_timeout) < 0)
        r->conn_opts = -1;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->ep < 0)
        return -errno;
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->wake_fd < 0)
        return -errno;
    if ((rc = ep_ctl(r, EPOLL_CTL_ADD, lfd, EPOLLIN, &s_tag_listen)) < 0 ||
        (rc = ep_ctl(r, EPOLL_CTL_ADD, exit_fd, EPOLLIN, &s_tag_exit)) < 0 ||
        (rc = ep_ctl(r, EPOLL_CTL_ADD, r->wake_fd, EPOLLIN, &s_tag_wake)) < 0)
        return rc;
    /* Room for every connection beyond queue_capacity: see unpark(). */
    rc = nd_queue_init(&r->queue, (size_t)cfg->queue_capacity +
                                      (size_t)cfg->max_connections);
    if (rc < 0)
        return rc;
    return nd_pool_start(&r->pool, cfg->workers, &r->queue, &s_pool_ops, r);
}

int
nd_reactor_run(struct nd_reactor *r)
{
    struct epoll_event evs[MAX_EVENTS];
    int rc = 0;

    while (!r->stopping || r->nbusy > 0) {
        double now = nd_io_now();
        int n = epoll_wait(r->ep, evs, MAX_EVENTS, next_timeout(r, now));

        if (n < 0 && errno != EINTR) {
            rc = -errno;
            nd_log(ND_LOG_ERR, "epoll_wait() failed: %s", strerror(errno));
            begin_stop(r, false);
            force_stop(r);
            break;
        }
        bool stop = false;

        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;

            /* Stopping closes idle connections that may still have events
             * later in this batch, so it waits until the batch is done. */
            if (p == &s_tag_exit)
                stop = true;
            else if (p == &s_tag_wake)
                r->wake_seen = true;
            else if (p == &s_tag_listen)
                accept_some(r);
            else if (((struct nd_conn *)p)->parked)
                unpark(r, p, false);
            else if (((struct nd_conn *)p)->busy)
                ev_for_busy(r, p);
            else if (((struct nd_conn *)p)->late_len == 0)
                conn_read(r, p);
        }
        take_back(r);
        if (stop)
            begin_stop(r, true);
        now = nd_io_now();
        expire_idle(r, now);
        if (r->accept_paused && now >= r->accept_resume)
            resume_accept(r);
        if (r->stopping && !r->forced && now >= r->stop_deadline)
            force_stop(r);
    }
    /* Workers see the closed, empty queue and return. */
    nd_queue_close(&r->queue);
    nd_pool_join(&r->pool);
    take_back(r); /* anything a worker returned after the loop ended */
    /* Only after epoll failed can transfers be left parked: end them. */
    while (r->parked.next != &r->parked) {
        struct nd_conn *c = r->parked.next;

        c->parked = c->busy = false;
        r->nbusy--;
        conn_close(r, c);
    }
    while (r->idle.next != &r->idle)
        conn_close(r, r->idle.next);
    while (r->prelogin.next != &r->prelogin)
        conn_close(r, r->prelogin.next);
    while (r->late.next != &r->late)
        late_send(r, r->late.next);
    return rc;
}

void
nd_reactor_destroy(struct nd_reactor *r)
{
    struct nd_conn *c;

    /* Connections still queued were never popped: close them here. */
    while ((c = nd_queue_try_pop(&r->queue)) != NULL) {
        r->nbusy--;
        conn_close(r, c);
    }
    if (r->queue.ring != NULL)
        nd_queue_destroy(&r->queue);
    nd_io_close(&r->lfd);
    nd_io_close(&r->wake_fd);
    nd_io_close(&r->ep);
    nd_guard_destroy(&r->guard);
    nd_users_cache_destroy(&r->users);
    nd_tickets_destroy(&r->tickets);
    nd_handler_scratch_free(r->scratch);
    r->scratch = NULL;
    pthread_mutex_destroy(&r->back_mu);
}
