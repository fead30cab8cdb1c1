/*
 * nd_ticket: resumption tickets: the derivations both sides make, the three
 * frames, and the server's table of tickets not used yet.
 */
#include "nd_ticket.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "nd_io.h"
#include "nd_proto.h"

struct nd_ticket_slot {
    bool live;
    double expires; /* monotonic */
    uint8_t id[ND_TICKET_ID_LEN];
    uint8_t key[ND_TICKET_KEY_LEN];
    uint8_t stored_key[ND_SCRAM_KEY_LEN];
    char user[ND_USER_MAX + 1];
};

/* HMAC(key, label || a || b); b may be NULL. */
static int
mac(const uint8_t *key, const char *label, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen, uint8_t out[ND_SCRAM_KEY_LEN])
{
    const void *p[3] = {label, a, b};
    size_t len[3] = {strlen(label), alen, blen};

    return nd_scram_hmac(key, ND_SCRAM_KEY_LEN, p, len, b != NULL ? 3 : 2,
                         out) < 0
               ? -EIO
               : 0;
}

int
nd_ticket_key(const uint8_t session[ND_SCRAM_KEY_LEN],
              const uint8_t id[ND_TICKET_ID_LEN],
              uint8_t key[ND_TICKET_KEY_LEN])
{
    return mac(session, "netdisk ticket", id, ND_TICKET_ID_LEN, NULL, 0, key);
}

int
nd_ticket_proof(const uint8_t key[ND_TICKET_KEY_LEN], bool server,
                const uint8_t id[ND_TICKET_ID_LEN],
                const uint8_t nonce[ND_TICKET_NONCE_LEN],
                uint8_t proof[ND_SCRAM_KEY_LEN])
{
    return mac(key, server ? "netdisk resumed" : "netdisk resume", id,
               ND_TICKET_ID_LEN, nonce, ND_TICKET_NONCE_LEN, proof);
}

int
nd_ticket_session(const uint8_t key[ND_TICKET_KEY_LEN],
                  const uint8_t id[ND_TICKET_ID_LEN],
                  const uint8_t nonce[ND_TICKET_NONCE_LEN],
                  uint8_t session[ND_SCRAM_KEY_LEN])
{
    return mac(key, "netdisk session", id, ND_TICKET_ID_LEN, nonce,
               ND_TICKET_NONCE_LEN, session);
}

long
nd_ticket_encode(void *buf, size_t cap, uint32_t lifetime,
                 const uint8_t id[ND_TICKET_ID_LEN])
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_TICKET);
    nd_wbuf_u32(&w, lifetime);
    nd_wbuf_bytes(&w, id, ND_TICKET_ID_LEN);
    return nd_wbuf_finish(&w);
}

int
nd_ticket_decode(const void *body, size_t len, uint32_t *lifetime,
                 uint8_t id[ND_TICKET_ID_LEN])
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    *lifetime = nd_rbuf_u32(&r);
    nd_rbuf_bytes(&r, id, ND_TICKET_ID_LEN);
    return nd_rbuf_done(&r);
}

long
nd_ticket_resume_encode(void *buf, size_t cap,
                        const uint8_t id[ND_TICKET_ID_LEN],
                        const uint8_t nonce[ND_TICKET_NONCE_LEN],
                        const uint8_t proof[ND_SCRAM_KEY_LEN])
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_RESUME);
    nd_wbuf_bytes(&w, id, ND_TICKET_ID_LEN);
    nd_wbuf_bytes(&w, nonce, ND_TICKET_NONCE_LEN);
    nd_wbuf_bytes(&w, proof, ND_SCRAM_KEY_LEN);
    return nd_wbuf_finish(&w);
}

int
nd_ticket_resume_decode(const void *body, size_t len,
                        uint8_t id[ND_TICKET_ID_LEN],
                        uint8_t nonce[ND_TICKET_NONCE_LEN],
                        uint8_t proof[ND_SCRAM_KEY_LEN])
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    nd_rbuf_bytes(&r, id, ND_TICKET_ID_LEN);
    nd_rbuf_bytes(&r, nonce, ND_TICKET_NONCE_LEN);
    nd_rbuf_bytes(&r, proof, ND_SCRAM_KEY_LEN);
    return nd_rbuf_done(&r);
}

long
nd_ticket_resumed_encode(void *buf, size_t cap,
                         const uint8_t proof[ND_SCRAM_KEY_LEN])
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_RESUMED);
    nd_wbuf_bytes(&w, proof, ND_SCRAM_KEY_LEN);
    return nd_wbuf_finish(&w);
}

int
nd_ticket_resumed_decode(const void *body, size_t len,
                         uint8_t proof[ND_SCRAM_KEY_LEN])
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    nd_rbuf_bytes(&r, proof, ND_SCRAM_KEY_LEN);
    return nd_rbuf_done(&r);
}

int
nd_tickets_init(struct nd_tickets *t, uint32_t cap, int lifetime)
{
    if (cap == 0 || cap > (UINT32_C(1) << 31) || lifetime <= 0)
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    t->cap = cap;
    t->lifetime = lifetime;
    pthread_mutex_init(&t->mu, NULL);
    return 0;
}

void
nd_tickets_destroy(struct nd_tickets *t)
{
    if (t->slot != NULL) {
        OPENSSL_cleanse(t->slot, (size_t)t->cap * sizeof(*t->slot));
        free(t->slot);
        t->slot = NULL;
    }
    pthread_mutex_destroy(&t->mu);
}

/* The slot an id names: its first four bytes, big-endian. */
static uint32_t
slot_of(const uint8_t id[ND_TICKET_ID_LEN])
{
    return (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 |
           (uint32_t)id[2] << 8 | id[3];
}

int
nd_tickets_issue(struct nd_tickets *t, const char *user,
                 const uint8_t stored_key[ND_SCRAM_KEY_LEN],
                 const uint8_t session[ND_SCRAM_KEY_LEN], double now,
                 uint8_t id[ND_TICKET_ID_LEN])
{
    struct nd_ticket_slot *s;
    uint32_t i;
    int rc = 0;

    if (strlen(user) > ND_USER_MAX)
        return -EINVAL;
    pthread_mutex_lock(&t->mu);
    /* Allocated on first use: a daemon nobody asks for tickets keeps none. */
    if (t->slot == NULL)
        t->slot = calloc(t->cap, sizeof(*t->slot));
    if (t->slot == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    i = t->next;
    t->next = (t->next + 1) % t->cap;
    id[0] = (uint8_t)(i >> 24);
    id[1] = (uint8_t)(i >> 16);
    id[2] = (uint8_t)(i >> 8);
    id[3] = (uint8_t)i;
    s = &t->slot[i];
    OPENSSL_cleanse(s, sizeof(*s));
    /* The rest of the id is random: an id cannot be guessed, and one used
     * once never comes back for its slot's next ticket. */
    if (nd_io_random(id + 4, ND_TICKET_ID_LEN - 4) < 0 ||
        nd_ticket_key(session, id, s->key) < 0) {
        OPENSSL_cleanse(s, sizeof(*s));
        rc = -EIO;
        goto out;
    }
    memcpy(s->id, id, ND_TICKET_ID_LEN);
    memcpy(s->stored_key, stored_key, ND_SCRAM_KEY_LEN);
    memcpy(s->user, user, strlen(user) + 1);
    s->expires = now + t->lifetime;
    s->live = true;
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int
nd_tickets_take(struct nd_tickets *t, const uint8_t id[ND_TICKET_ID_LEN],
                double now, char *user, uint8_t stored_key[ND_SCRAM_KEY_LEN],
                uint8_t key[ND_TICKET_KEY_LEN])
{
    uint32_t i = slot_of(id);
    struct nd_ticket_slot *s;
    int rc = -ENOENT;

    pthread_mutex_lock(&t->mu);
    if (t->slot == NULL || i >= t->cap)
        goto out;
    s = &t->slot[i];
    if (!s->live || CRYPTO_memcmp(s->id, id, ND_TICKET_ID_LEN) != 0)
        goto out;
    if (now < s->expires) {
        memcpy(user, s->user, sizeof(s->user));
        memcpy(stored_key, s->stored_key, ND_SCRAM_KEY_LEN);
        memcpy(key, s->key, ND_TICKET_KEY_LEN);
        rc = 0;
    }
    /* Good once, and an expired one is gone too. */
    OPENSSL_cleanse(s, sizeof(*s));
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}
