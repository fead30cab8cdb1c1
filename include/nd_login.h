/*
 * nd_login: AUTH and PROOF, the SCRAM-SHA-256 login of a session, and
 * RESUME and TICKET, the login with a resumption ticket (nd_ticket), run
 * like the other handlers (see nd_handler.h; AUTH of a plaintext session
 * on the reactor).  On success c->authed
 * is set, c->user names the user and c->ustore is the user's directory;
 * on any failure the session ends (c->close_after), the answer to a wrong
 * proof after a delay held by the reactor (c->late).  Each function owns c
 * for the call, as a handler does, and logs one line per outcome.
 */
#ifndef ND_LOGIN_H
#define ND_LOGIN_H

#include "nd_handler.h"

/* AUTH (the frame in c): checks the address may try, looks the user up
 * (or makes a mock), and sends CHALLENGE. */
void nd_login_auth(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                   struct nd_scratch *sc);

/* PROOF (the frame in c): checks the address may try, then the proof;
 * sends WELCOME, or leaves ERROR AUTH for the reactor to send late. */
void nd_login_proof(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                    struct nd_scratch *sc);

/* RESUME (the frame in c): checks the address may try, takes the ticket
 * out of the table and checks the proof and that the user's password has
 * not changed since; sends RESUMED, or refuses as PROOF does (a ticket
 * unknown, used or expired at once, without counting a failure). */
void nd_login_resume(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                     struct nd_scratch *sc);

/* Takes the ticket that a complete RESUME in c names out of the table,
 * without answering: for a RESUME the server read but refuses unanswered
 * (its queue was full), which must not stay good for someone who recorded
 * it.  Does nothing for any other frame.  Thread-safe; c is only read. */
void nd_login_spend(const struct nd_handler_ctx *ctx, const struct nd_conn *c);

/* TICKET (the frame in c, logged in): issues a ticket from the session's
 * key and sends it, once per session; ERROR when none can be made or the
 * session had one (the session goes on). */
void nd_login_ticket(const struct nd_handler_ctx *ctx, struct nd_conn *c,
                     struct nd_scratch *sc);

/* Ends the session with ERROR st and msg, now. */
void nd_login_refuse(struct nd_conn *c, enum nd_status st, const char *msg);

#endif
