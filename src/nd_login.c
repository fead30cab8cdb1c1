/*
 * nd_login: the login steps of a session, on a worker: AUTH (look the user
 * up, send the SCRAM challenge) and PROOF (check it; on success open the
 * user's own directory).  An unknown user is answered with a made-up salt
 * and fails exactly like a wrong password.  A failed login is answered only
 * after a delay that grows with the address's failures; the reactor holds
 * the answer, not the worker (see nd_conn.late).  The address must wait out
 * that delay, or a ban, before its next AUTH or PROOF is checked.
 */
#include "nd_login.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_io.h"
#include "nd_log.h"
#include "nd_ticket.h"
#include "nd_users.h"
#include "nd_wire.h"

/* Sends a reply; a failure ends the session. */
static void
send_reply(struct nd_conn *c, const void *frame, long len)
{
    if (nd_wire_send(&c->st, frame, len) < 0)
        c->close_after = true;
}

/* Sends ERROR st with msg; the session goes on unless the send failed. */
static void
send_error(struct nd_conn *c, enum nd_status st, const char *msg)
{
    if (nd_wire_send_error(&c->st, st, msg) < 0)
        c->close_after = true;
}

void
nd_login_refuse(struct nd_conn *c, enum nd_status st, const char *msg)
{
    nd_wire_send_error(&c->st, st, msg);
    c->close_after = true;
}

/*
 * Refuses the login when the address must first wait out a failed login's
 * delay or a ban.  Checked at AUTH and again at PROOF, so that sessions
 * opened in parallel cannot have their guesses checked all at once.
 * Returns true when it refused (and set close_after).
 */
static bool
login_must_wait(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                const char *step)
{
    char msg[128];
    bool banned;
    int left = nd_guard_wait(ctx->guard, c->addr, nd_io_now(), &banned);

    if (left == 0)
        return false;
    nd_log(banned ? ND_LOG_WARN : ND_LOG_INFO,
           "login refused at %s peer=%s: %s for %d s", step, c->peer,
           banned ? "address banned" : "waiting after a failed login", left);
    snprintf(msg, sizeof(msg), "%s; try again in %d seconds",
             banned ? "too many failed logins" : "a login just failed", left);
    nd_login_refuse(c, ND_E_BANNED, msg);
    return true;
}

/* Writes a user name for the log: quoted when it is a valid name, else
 * only its length, so a hostile name cannot forge log text. */
static const char *
user_for_log(const char *user, char *out, size_t cap)
{
    if (nd_scram_user_ok(user))
        snprintf(out, cap, "\"%s\"", user);
    else
        snprintf(out, cap, "(invalid, %zu bytes)", strlen(user));
    return out;
}

void
nd_login_auth(const struct nd_handler_ctx *ctx, struct nd_conn *c,
              struct nd_scratch *sc)
{
    struct nd_scram_verifier v;
    uint8_t secret[ND_USERS_SECRET_LEN];
    char msg[ND_SCRAM_MSG_MAX + 1], quoted[2 * ND_USER_MAX + 8];
    const char *user;
    long len;
    int rc, line = 0;

    if (login_must_wait(ctx, c, "AUTH"))
        return;
    if (c->hdr.len > ND_SCRAM_MSG_MAX) {
        nd_log(ND_LOG_INFO, "peer=%s AUTH of %u bytes refused", c->peer,
               c->hdr.len);
        nd_login_refuse(c, ND_E_TOOBIG, "AUTH message too long");
        return;
    }
    c->scram = calloc(1, sizeof(*c->scram));
    if (c->scram == NULL) {
        nd_login_refuse(c, ND_E_INTERNAL, nd_proto_status_str(ND_E_INTERNAL));
        return;
    }
    rc = nd_scram_server_start(c->scram, (const char *)c->body, c->hdr.len);
    if (rc < 0) {
        nd_log(ND_LOG_INFO, "peer=%s malformed AUTH: %s", c->peer,
               rc == -ENOTSUP ? "channel binding or authzid requested"
                              : strerror(-rc));
        nd_login_refuse(c, ND_E_PROTO,
                        rc == -ENOTSUP
                            ? "channel binding is not supported"
                            : "malformed SCRAM client-first-message");
        return;
    }
    user = nd_scram_server_user(c->scram);
    /* An invalid name has no record either: it gets a mock like any
     * unknown user, so the reply never says which names exist. */
    rc = nd_users_cache_lookup(ctx->users, ctx->cfg->users_file, user, &v,
                               secret, &line);
    c->mock = rc == -ENOENT;
    if (c->mock) {
        /* The count most real users have, so i= gives nothing away. */
        nd_scram_verifier_mock(
            secret, sizeof(secret), user,
            v.iterations > 0 ? v.iterations : ctx->cfg->scram_iterations, &v);
    } else if (rc < 0) {
        if (rc == -EINVAL)
            nd_log(ND_LOG_ERR,
                   "users_file %s:%d: malformed record; login "
                   "refused peer=%s user=%s",
                   ctx->cfg->users_file, line, c->peer,
                   user_for_log(user, quoted, sizeof(quoted)));
        else
            nd_log(ND_LOG_ERR, "users_file %s: %s; login refused peer=%s",
                   ctx->cfg->users_file, strerror(-rc), c->peer);
        OPENSSL_cleanse(secret, sizeof(secret));
        nd_login_refuse(c, ND_E_INTERNAL, "the server cannot check logins");
        return;
    }
    rc = nd_scram_server_challenge(c->scram, &v, NULL, msg, sizeof(msg));
    OPENSSL_cleanse(&v, sizeof(v));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "peer=%s cannot make a SCRAM challenge: %s", c->peer,
               strerror(-rc));
        nd_login_refuse(c, ND_E_INTERNAL, nd_proto_status_str(ND_E_INTERNAL));
        return;
    }
    len =
        nd_proto_raw_encode(sc->buf, sc->cap, ND_T_CHALLENGE, msg, (size_t)rc);
    send_reply(c, sc->buf, len);
}

/*
 * The login succeeded: opens the user's own directory and marks c logged
 * in (how: "password" or "ticket", for the log).  Returns 0, or -1 when
 * the directory cannot be opened (c is then refused).
 */
static int
login_open(const struct nd_handler_ctx *ctx, struct nd_conn *c,
           const char *user, const char *quoted, const char *how)
{
    struct nd_store us;
    int rc;

    snprintf(c->user, sizeof(c->user), "%s", user);
    rc = nd_store_open_user(ctx->store, c->user, &us);
    if (rc < 0) {
        nd_log(ND_LOG_ERR,
               "login peer=%s user=%s: cannot open the "
               "user's directory: %s",
               c->peer, quoted, strerror(-rc));
        nd_login_refuse(c, ND_E_IO, "cannot open your directory");
        return -1;
    }
    c->ustore = us;
    c->authed = true;
    nd_log(ND_LOG_INFO, "login peer=%s user=%s result=ok by=%s", c->peer,
           quoted, how);
    return 0;
}

/* A failed login: counted against the address, and answered only after
 * the delay that follows from it, by the reactor (c->late). */
static void
login_failed(const struct nd_handler_ctx *ctx, struct nd_conn *c,
             const char *quoted, const char *why)
{
    double delay;
    int failures, ban;
    long len;

    delay = nd_guard_fail(ctx->guard, c->addr, nd_io_now(), &failures, &ban);
    if (ban > 0)
        nd_log(ND_LOG_WARN,
               "login failed peer=%s user=%s reason=\"%s\" failures=%d; "
               "address banned for %d s",
               c->peer, quoted, why, failures, ban);
    else
        nd_log(ND_LOG_WARN,
               "login failed peer=%s user=%s reason=\"%s\" failures=%d",
               c->peer, quoted, why, failures);
    /* One answer for every failure, so none tells which it was. */
    len = nd_proto_error_encode(c->late, sizeof(c->late), ND_E_AUTH,
                                nd_proto_status_str(ND_E_AUTH));
    c->late_len = len > 0 ? (size_t)len : 0;
    c->late_at = nd_io_now() + delay;
    c->close_after = true;
}

void
nd_login_proof(const struct nd_handler_ctx *ctx, struct nd_conn *c,
               struct nd_scratch *sc)
{
    char out[ND_SCRAM_MSG_MAX + 1], quoted[2 * ND_USER_MAX + 8];
    const char *user = nd_scram_server_user(c->scram);
    int rc = -EINVAL;
    long len;

    user_for_log(user, quoted, sizeof(quoted));
    if (login_must_wait(ctx, c, "PROOF"))
        return;
    if (c->hdr.len <= ND_SCRAM_MSG_MAX)
        rc = nd_scram_server_finish(c->scram, (const char *)c->body, c->hdr.len,
                                    out, sizeof(out));
    if (rc >= 0 && !c->mock) {
        /* The session's key, for the tickets it may ask for. */
        if (nd_scram_server_session(c->scram, c->session, c->stored_key) < 0) {
            nd_login_refuse(c, ND_E_INTERNAL,
                            nd_proto_status_str(ND_E_INTERNAL));
            return;
        }
        if (login_open(ctx, c, user, quoted, "password") < 0)
            return;
        nd_scram_server_clear(c->scram);
        free(c->scram);
        c->scram = NULL;
        len = nd_proto_raw_encode(sc->buf, sc->cap, ND_T_WELCOME, out,
                                  (size_t)rc);
        send_reply(c, sc->buf, len);
        return;
    }
    login_failed(ctx, c, quoted,
                 c->mock         ? "unknown user"
                 : rc == -EACCES ? "wrong password"
                 : rc >= 0       ? "unknown user"
                                 : "malformed proof");
}

void
nd_login_spend(const struct nd_handler_ctx *ctx, const struct nd_conn *c)
{
    uint8_t id[ND_TICKET_ID_LEN], nonce[ND_TICKET_NONCE_LEN];
    uint8_t proof[ND_SCRAM_KEY_LEN], key[ND_TICKET_KEY_LEN];
    uint8_t stored[ND_SCRAM_KEY_LEN];
    char user[ND_USER_MAX + 1];

    if (c->rx_err != 0 || c->authed || c->hdr.type != ND_T_RESUME ||
        nd_ticket_resume_decode(c->body, c->hdr.len, id, nonce, proof) < 0)
        return;
    if (nd_tickets_take(ctx->tickets, id, nd_io_now(), user, stored, key) == 0)
        nd_log(ND_LOG_INFO, "peer=%s user=\"%s\" ticket spent unanswered",
               c->peer, user);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(stored, sizeof(stored));
}

void
nd_login_resume(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                struct nd_scratch *sc)
{
    uint8_t id[ND_TICKET_ID_LEN], nonce[ND_TICKET_NONCE_LEN];
    uint8_t proof[ND_SCRAM_KEY_LEN], want[ND_SCRAM_KEY_LEN];
    uint8_t key[ND_TICKET_KEY_LEN], stored[ND_SCRAM_KEY_LEN];
    uint8_t secret[ND_USERS_SECRET_LEN];
    char user[ND_USER_MAX + 1], quoted[2 * ND_USER_MAX + 8];
    struct nd_scram_verifier v;
    int rc, taken, line = 0;
    long len;

    memset(&v, 0, sizeof(v));
    if (nd_ticket_resume_decode(c->body, c->hdr.len, id, nonce, proof) < 0) {
        nd_log(ND_LOG_INFO, "peer=%s malformed RESUME", c->peer);
        nd_login_refuse(c, ND_E_PROTO, "malformed RESUME");
        return;
    }
    /* The ticket is taken out before anything else, whatever follows: the
     * proof covers no nonce of the server's, so a RESUME the server read
     * and refused for another reason (a wait, a ban) must not stay good
     * for someone who recorded it. */
    taken = nd_tickets_take(ctx->tickets, id, nd_io_now(), user, stored, key);
    memset(want, 0, sizeof(want));
    if (login_must_wait(ctx, c, "RESUME"))
        goto out;
    /* A ticket the table does not hold is refused at once and is not a
     * failed login: it was used, dropped for newer ones, outlived, or the
     * daemon restarted; the client logs in again.  Ids cannot be guessed. */
    if (taken < 0) {
        nd_log(ND_LOG_INFO,
               "login refused peer=%s: ticket unknown, used or expired",
               c->peer);
        nd_login_refuse(c, ND_E_AUTH, "ticket not valid: log in again");
        goto out;
    }
    user_for_log(user, quoted, sizeof(quoted));
    rc = nd_ticket_proof(key, false, id, nonce, want);
    if (rc < 0 || CRYPTO_memcmp(want, proof, sizeof(want)) != 0) {
        login_failed(ctx, c, quoted,
                     rc < 0 ? "ticket not checked" : "wrong ticket proof");
        goto out;
    }
    /* A password changed (or a user removed) since the ticket was issued
     * ends what the old password opened. */
    rc = nd_users_cache_lookup(ctx->users, ctx->cfg->users_file, user, &v,
                               secret, &line);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc < 0 || CRYPTO_memcmp(v.stored_key, stored, sizeof(stored)) != 0) {
        nd_log(ND_LOG_INFO, "login refused peer=%s user=%s: ticket of a %s",
               c->peer, quoted,
               rc == -ENOENT ? "user no longer there"
               : rc < 0      ? "user the users file cannot tell about"
                             : "password since changed");
        nd_login_refuse(c, ND_E_AUTH, "ticket not valid: log in again");
        goto out;
    }
    rc = nd_ticket_session(key, id, nonce, c->session);
    if (rc == 0)
        rc = nd_ticket_proof(key, true, id, nonce, want);
    if (rc < 0) {
        nd_login_refuse(c, ND_E_INTERNAL, nd_proto_status_str(ND_E_INTERNAL));
        goto out;
    }
    memcpy(c->stored_key, stored, sizeof(stored));
    if (login_open(ctx, c, user, quoted, "ticket") < 0)
        goto out;
    len = nd_ticket_resumed_encode(sc->buf, sc->cap, want);
    send_reply(c, sc->buf, len);
out:
    OPENSSL_cleanse(&v, sizeof(v));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(stored, sizeof(stored));
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(proof, sizeof(proof));
}

void
nd_login_ticket(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                struct nd_scratch *sc)
{
    uint8_t id[ND_TICKET_ID_LEN];
    long len;
    int rc;

    if (c->hdr.len != 0) {
        nd_log(ND_LOG_INFO, "peer=%s malformed TICKET: closing", c->peer);
        nd_login_refuse(c, ND_E_PROTO, "malformed TICKET");
        return;
    }
    /* One ticket per session: a client needs one for its next connection,
     * and a session asking for thousands would push everyone else's out
     * of the table. */
    if (c->ticketed) {
        nd_log(ND_LOG_INFO, "peer=%s user=\"%s\" second TICKET refused",
               c->peer, c->user);
        send_error(c, ND_E_INVAL, "one ticket per session");
        return;
    }
    rc = nd_tickets_issue(ctx->tickets, c->user, c->stored_key, c->session,
                          nd_io_now(), id);
    if (rc < 0) {
        nd_log(ND_LOG_ERR, "peer=%s user=\"%s\" cannot issue a ticket: %s",
               c->peer, c->user, strerror(-rc));
        send_error(c, ND_E_INTERNAL, "cannot issue a ticket");
        return;
    }
    c->ticketed = true;
    nd_log(ND_LOG_DEBUG, "peer=%s user=\"%s\" ticket issued", c->peer, c->user);
    len = nd_ticket_encode(sc->buf, sc->cap, (uint32_t)ctx->tickets->lifetime,
                           id);
    send_reply(c, sc->buf, len);
}
