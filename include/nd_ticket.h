/*
 * nd_ticket: resumption tickets, so that a client that opens a session per
 * file logs in with one round trip instead of SCRAM's two.
 *
 * A logged-in session asks for a ticket (TICKET); the server answers with a
 * random id and keeps, under that id, the user, the StoredKey the login
 * matched and a key derived from the session's key (nd_scram_server_session,
 * which never travels): key = HMAC(session, "netdisk ticket" || id).  The
 * client derives the same key.  A new connection then sends HELLO, RESUME
 * (id, a fresh nonce, and HMAC(key, "netdisk resume" || id || nonce)) and its
 * first request together; the server takes the ticket out of its table (a
 * ticket is good once), checks the proof and answers RESUMED with
 * HMAC(key, "netdisk resumed" || id || nonce), which proves to the client
 * that it holds the key too.  The resumed session's own key is
 * HMAC(key, "netdisk session" || id || nonce), so it may ask for the next
 * ticket.  See docs/protocol.md and docs/security.md.
 *
 * The table lives in the pool process's memory: a restart forgets every
 * ticket, and clients log in again.  It has a fixed number of slots, used
 * in turn, so the oldest ticket makes room for the newest; the slot is part
 * of the id, so finding a ticket is one comparison.  The crypto functions
 * keep no state and are thread-safe; the table has its own mutex.
 */
#ifndef ND_TICKET_H
#define ND_TICKET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_scram.h"

#define ND_TICKET_ID_LEN 16
#define ND_TICKET_NONCE_LEN 16
#define ND_TICKET_KEY_LEN ND_SCRAM_KEY_LEN
/* How long a ticket is good for, in seconds, and how many the table holds.
 * Short: tickets serve connections opened one after another, and a RESUME
 * the server never read (refused before its first byte) stays good for
 * someone who recorded it until the ticket expires. */
#define ND_TICKET_LIFETIME 120
#define ND_TICKET_SLOTS 4096

/* ---- both sides: derivations, each HMAC-SHA-256; 0 or -EIO -------------- */

/* The ticket's key, from the key of the session that asked for it. */
int nd_ticket_key(const uint8_t session[ND_SCRAM_KEY_LEN],
                  const uint8_t id[ND_TICKET_ID_LEN],
                  uint8_t key[ND_TICKET_KEY_LEN]);

/* The client's proof in RESUME (server false) or the server's in RESUMED
 * (server true), over the id and the client's nonce. */
int nd_ticket_proof(const uint8_t key[ND_TICKET_KEY_LEN], bool server,
                    const uint8_t id[ND_TICKET_ID_LEN],
                    const uint8_t nonce[ND_TICKET_NONCE_LEN],
                    uint8_t proof[ND_SCRAM_KEY_LEN]);

/* The key of the session a ticket resumed. */
int nd_ticket_session(const uint8_t key[ND_TICKET_KEY_LEN],
                      const uint8_t id[ND_TICKET_ID_LEN],
                      const uint8_t nonce[ND_TICKET_NONCE_LEN],
                      uint8_t session[ND_SCRAM_KEY_LEN]);

/* ---- frames (types in nd_proto.h); encoders return the frame's length or
 * -ENOSPC, decoders 0 or -EBADMSG for a body that does not parse exactly -- */

/* TICKET from the server: u32 lifetime (seconds), id[16]. */
long nd_ticket_encode(void *buf, size_t cap, uint32_t lifetime,
                      const uint8_t id[ND_TICKET_ID_LEN]);
int nd_ticket_decode(const void *body, size_t len, uint32_t *lifetime,
                     uint8_t id[ND_TICKET_ID_LEN]);

/* RESUME: id[16], nonce[16], proof[32]. */
long nd_ticket_resume_encode(void *buf, size_t cap,
                             const uint8_t id[ND_TICKET_ID_LEN],
                             const uint8_t nonce[ND_TICKET_NONCE_LEN],
                             const uint8_t proof[ND_SCRAM_KEY_LEN]);
int nd_ticket_resume_decode(const void *body, size_t len,
                            uint8_t id[ND_TICKET_ID_LEN],
                            uint8_t nonce[ND_TICKET_NONCE_LEN],
                            uint8_t proof[ND_SCRAM_KEY_LEN]);

/* RESUMED: proof[32]. */
long nd_ticket_resumed_encode(void *buf, size_t cap,
                              const uint8_t proof[ND_SCRAM_KEY_LEN]);
int nd_ticket_resumed_decode(const void *body, size_t len,
                             uint8_t proof[ND_SCRAM_KEY_LEN]);

/* ---- the server's table ------------------------------------------------ */

struct nd_ticket_slot;

struct nd_tickets {
    pthread_mutex_t mu;
    struct nd_ticket_slot *slot; /* owned; allocated at the first issue */
    uint32_t cap;                /* slots */
    uint32_t next;               /* the slot the next ticket takes */
    int lifetime;                /* seconds */
};

/* An empty table of cap slots (1..2^31) whose tickets last lifetime
 * seconds.  Returns 0 or -EINVAL. */
int nd_tickets_init(struct nd_tickets *t, uint32_t cap, int lifetime);

/* Wipes and frees the table. */
void nd_tickets_destroy(struct nd_tickets *t);

/*
 * Issues a ticket for user (whose login matched stored_key) from the key of
 * its session, good until now + lifetime (now: nd_io_now()); writes its id.
 * Takes the next slot in turn, dropping the ticket that held it.  Returns
 * 0, -ENOMEM, or -EIO when there is no randomness.  Thread-safe.
 */
int nd_tickets_issue(struct nd_tickets *t, const char *user,
                     const uint8_t stored_key[ND_SCRAM_KEY_LEN],
                     const uint8_t session[ND_SCRAM_KEY_LEN], double now,
                     uint8_t id[ND_TICKET_ID_LEN]);

/*
 * Takes the ticket id out of the table, whatever comes next: a ticket is
 * good once.  On success copies its user (ND_USER_MAX + 1 bytes), the
 * StoredKey and the ticket's key.  Returns 0, or -ENOENT when the table
 * holds no such ticket (never issued, already used, dropped for a newer
 * one) or it has expired.  Thread-safe.
 */
int nd_tickets_take(struct nd_tickets *t, const uint8_t id[ND_TICKET_ID_LEN],
                    double now, char *user,
                    uint8_t stored_key[ND_SCRAM_KEY_LEN],
                    uint8_t key[ND_TICKET_KEY_LEN]);

#endif
