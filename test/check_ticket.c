/*
 * check_ticket: resumption tickets: the derivations agree between a real
 * SCRAM exchange's two sides, the frames round-trip and refuse anything but
 * their exact length, and the table gives each ticket out once, never
 * after its lifetime, never one it dropped for a newer ticket, and never
 * for an id it did not issue.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nd_proto.h"
#include "nd_scram.h"
#include "nd_ticket.h"

static const uint8_t stored[ND_SCRAM_KEY_LEN] = {7, 7, 7};
static const uint8_t session[ND_SCRAM_KEY_LEN] = {9, 8, 7, 6};

/* A whole SCRAM exchange; both sides' session keys in cs and ss. */
static void
exchange(const char *pw, const char *tried, uint8_t cs[ND_SCRAM_KEY_LEN],
         uint8_t ss[ND_SCRAM_KEY_LEN], int *server_rc, int *client_rc)
{
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    struct nd_scram_client c;
    char a[ND_SCRAM_MSG_MAX + 1], b[ND_SCRAM_MSG_MAX + 1];
    int n;

    ck_assert_int_eq(nd_scram_verifier_new(pw, strlen(pw), 4096, &v), 0);
    n = nd_scram_client_first(&c, "alice", NULL, a, sizeof(a));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(nd_scram_server_start(&s, a, (size_t)n), 0);
    n = nd_scram_server_challenge(&s, &v, NULL, b, sizeof(b));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(nd_scram_client_session(&c, cs), -EINVAL);
    n = nd_scram_client_final(&c, tried, strlen(tried), b, (size_t)n, a,
                              sizeof(a));
    ck_assert_int_gt(n, 0);
    /* Not before the server has checked the proof. */
    ck_assert_int_eq(nd_scram_server_session(&s, ss, NULL), -EINVAL);
    *server_rc = nd_scram_server_finish(&s, a, (size_t)n, b, sizeof(b));
    *client_rc = *server_rc < 0
                     ? -EACCES
                     : nd_scram_client_verify(&c, b, (size_t)*server_rc);
    if (*server_rc >= 0) {
        uint8_t sk[ND_SCRAM_KEY_LEN];

        ck_assert_int_eq(nd_scram_server_session(&s, ss, sk), 0);
        ck_assert_mem_eq(sk, v.stored_key, ND_SCRAM_KEY_LEN);
    } else {
        ck_assert_int_eq(nd_scram_server_session(&s, ss, NULL), -EINVAL);
    }
    if (*client_rc == 0)
        ck_assert_int_eq(nd_scram_client_session(&c, cs), 0);
    else
        ck_assert_int_eq(nd_scram_client_session(&c, cs), -EINVAL);
    nd_scram_server_clear(&s);
    nd_scram_client_clear(&c);
}

START_TEST(test_session_keys_agree)
{
    uint8_t cs[ND_SCRAM_KEY_LEN], ss[ND_SCRAM_KEY_LEN];
    uint8_t cs2[ND_SCRAM_KEY_LEN], ss2[ND_SCRAM_KEY_LEN];
    int src, crc;

    exchange("secret", "secret", cs, ss, &src, &crc);
    ck_assert_int_gt(src, 0);
    ck_assert_int_eq(crc, 0);
    ck_assert_mem_eq(cs, ss, ND_SCRAM_KEY_LEN);
    /* Each exchange has its own key (fresh nonces). */
    exchange("secret", "secret", cs2, ss2, &src, &crc);
    ck_assert_mem_eq(cs2, ss2, ND_SCRAM_KEY_LEN);
    ck_assert(memcmp(cs, cs2, ND_SCRAM_KEY_LEN) != 0);
    /* A wrong password: no key on either side. */
    exchange("secret", "wrong", cs, ss, &src, &crc);
    ck_assert_int_eq(src, -EACCES);
}
END_TEST

START_TEST(test_derivations)
{
    uint8_t id[ND_TICKET_ID_LEN] = {1, 2, 3}, nonce[ND_TICKET_NONCE_LEN] = {4};
    uint8_t k1[ND_TICKET_KEY_LEN], k2[ND_TICKET_KEY_LEN];
    uint8_t p1[ND_SCRAM_KEY_LEN], p2[ND_SCRAM_KEY_LEN], s1[ND_SCRAM_KEY_LEN];

    ck_assert_int_eq(nd_ticket_key(session, id, k1), 0);
    ck_assert_int_eq(nd_ticket_key(session, id, k2), 0);
    ck_assert_mem_eq(k1, k2, sizeof(k1));
    id[15] ^= 1;
    ck_assert_int_eq(nd_ticket_key(session, id, k2), 0);
    ck_assert(memcmp(k1, k2, sizeof(k1)) != 0);
    /* The client's and the server's proofs and the next session's key are
     * three different values. */
    ck_assert_int_eq(nd_ticket_proof(k1, false, id, nonce, p1), 0);
    ck_assert_int_eq(nd_ticket_proof(k1, true, id, nonce, p2), 0);
    ck_assert_int_eq(nd_ticket_session(k1, id, nonce, s1), 0);
    ck_assert(memcmp(p1, p2, sizeof(p1)) != 0);
    ck_assert(memcmp(p1, s1, sizeof(p1)) != 0);
    ck_assert(memcmp(p2, s1, sizeof(p1)) != 0);
    nonce[0] ^= 1;
    ck_assert_int_eq(nd_ticket_proof(k1, false, id, nonce, p2), 0);
    ck_assert(memcmp(p1, p2, sizeof(p1)) != 0);
}
END_TEST

START_TEST(test_frames)
{
    uint8_t buf[256], id[ND_TICKET_ID_LEN], nonce[ND_TICKET_NONCE_LEN];
    uint8_t proof[ND_SCRAM_KEY_LEN], id2[ND_TICKET_ID_LEN];
    uint8_t nonce2[ND_TICKET_NONCE_LEN], proof2[ND_SCRAM_KEY_LEN];
    struct nd_hdr h;
    uint32_t life = 0;
    long n;

    memset(id, 0x11, sizeof(id));
    memset(nonce, 0x22, sizeof(nonce));
    memset(proof, 0x33, sizeof(proof));
    n = nd_ticket_encode(buf, sizeof(buf), 600, id);
    ck_assert_int_eq(n, ND_HDR_LEN + 4 + ND_TICKET_ID_LEN);
    ck_assert_int_eq(nd_proto_hdr_decode(buf, &h), 0);
    ck_assert_uint_eq(h.type, ND_T_TICKET);
    ck_assert_int_eq(nd_ticket_decode(buf + ND_HDR_LEN, h.len, &life, id2), 0);
    ck_assert_uint_eq(life, 600);
    ck_assert_mem_eq(id2, id, sizeof(id));
    ck_assert_int_eq(nd_ticket_decode(buf + ND_HDR_LEN, h.len - 1, &life, id2),
                     -EBADMSG);
    n = nd_ticket_resume_encode(buf, sizeof(buf), id, nonce, proof);
    ck_assert_int_eq(n, ND_HDR_LEN + 64);
    ck_assert_int_eq(nd_proto_hdr_decode(buf, &h), 0);
    ck_assert_uint_eq(h.type, ND_T_RESUME);
    ck_assert_int_eq(
        nd_ticket_resume_decode(buf + ND_HDR_LEN, h.len, id2, nonce2, proof2),
        0);
    ck_assert_mem_eq(id2, id, sizeof(id));
    ck_assert_mem_eq(nonce2, nonce, sizeof(nonce));
    ck_assert_mem_eq(proof2, proof, sizeof(proof));
    ck_assert_int_eq(nd_ticket_resume_decode(buf + ND_HDR_LEN, h.len + 1, id2,
                                             nonce2, proof2),
                     -EBADMSG);
    ck_assert_int_eq(
        nd_ticket_resume_decode(buf + ND_HDR_LEN, 0, id2, nonce2, proof2),
        -EBADMSG);
    n = nd_ticket_resumed_encode(buf, sizeof(buf), proof);
    ck_assert_int_eq(n, ND_HDR_LEN + 32);
    ck_assert_int_eq(nd_proto_hdr_decode(buf, &h), 0);
    ck_assert_uint_eq(h.type, ND_T_RESUMED);
    ck_assert_int_eq(nd_ticket_resumed_decode(buf + ND_HDR_LEN, h.len, proof2),
                     0);
    ck_assert_mem_eq(proof2, proof, sizeof(proof));
    ck_assert_int_lt(nd_ticket_resume_encode(buf, 20, id, nonce, proof), 0);
    ck_assert_str_eq(nd_proto_type_name(ND_T_RESUME), "RESUME");
}
END_TEST

START_TEST(test_table_once)
{
    struct nd_tickets t;
    uint8_t id[ND_TICKET_ID_LEN], key[ND_TICKET_KEY_LEN];
    uint8_t want[ND_TICKET_KEY_LEN], sk[ND_SCRAM_KEY_LEN];
    char user[ND_USER_MAX + 1];

    ck_assert_int_eq(nd_tickets_init(&t, 8, 600), 0);
    /* An empty table (not even allocated) holds nothing. */
    memset(id, 0, sizeof(id));
    ck_assert_int_eq(nd_tickets_take(&t, id, 1.0, user, sk, key), -ENOENT);
    ck_assert_int_eq(nd_tickets_issue(&t, "alice", stored, session, 1.0, id),
                     0);
    ck_assert_int_eq(nd_tickets_take(&t, id, 2.0, user, sk, key), 0);
    ck_assert_str_eq(user, "alice");
    ck_assert_mem_eq(sk, stored, sizeof(sk));
    ck_assert_int_eq(nd_ticket_key(session, id, want), 0);
    ck_assert_mem_eq(key, want, sizeof(key));
    /* Good once. */
    ck_assert_int_eq(nd_tickets_take(&t, id, 2.0, user, sk, key), -ENOENT);
    /* An id it never issued: another random part, or a slot out of range. */
    ck_assert_int_eq(nd_tickets_issue(&t, "bob", stored, session, 1.0, id), 0);
    id[15] ^= 0x80;
    ck_assert_int_eq(nd_tickets_take(&t, id, 2.0, user, sk, key), -ENOENT);
    id[15] ^= 0x80;
    id[0] = 0xff;
    ck_assert_int_eq(nd_tickets_take(&t, id, 2.0, user, sk, key), -ENOENT);
    nd_tickets_destroy(&t);
}
END_TEST

START_TEST(test_table_expiry_and_turns)
{
    struct nd_tickets t;
    uint8_t id[ND_TICKET_ID_LEN], first[ND_TICKET_ID_LEN];
    uint8_t key[ND_TICKET_KEY_LEN], sk[ND_SCRAM_KEY_LEN];
    char user[ND_USER_MAX + 1];

    ck_assert_int_eq(nd_tickets_init(&t, 4, 10), 0);
    /* Expired: refused, and gone. */
    ck_assert_int_eq(nd_tickets_issue(&t, "alice", stored, session, 100.0, id),
                     0);
    ck_assert_int_eq(nd_tickets_take(&t, id, 110.0, user, sk, key), -ENOENT);
    ck_assert_int_eq(nd_tickets_take(&t, id, 105.0, user, sk, key), -ENOENT);
    ck_assert_int_eq(nd_tickets_issue(&t, "alice", stored, session, 100.0, id),
                     0);
    ck_assert_int_eq(nd_tickets_take(&t, id, 109.9, user, sk, key), 0);
    /* Four slots used in turn: the fifth ticket drops the oldest. */
    ck_assert_int_eq(
        nd_tickets_issue(&t, "alice", stored, session, 100.0, first), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(
            nd_tickets_issue(&t, "alice", stored, session, 100.0, id), 0);
    ck_assert_int_eq(nd_tickets_take(&t, first, 101.0, user, sk, key), -ENOENT);
    ck_assert_int_eq(nd_tickets_take(&t, id, 101.0, user, sk, key), 0);
    /* Bad arguments. */
    ck_assert_int_eq(nd_tickets_issue(&t, "a-name-longer-than-thirty-two-bytes",
                                      stored, session, 1.0, id),
                     -EINVAL);
    nd_tickets_destroy(&t);
    ck_assert_int_eq(nd_tickets_init(&t, 0, 10), -EINVAL);
    ck_assert_int_eq(nd_tickets_init(&t, 4, 0), -EINVAL);
}
END_TEST

static Suite *
ticket_suite(void)
{
    Suite *s = suite_create("nd_ticket");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_session_keys_agree);
    tcase_add_test(tc, test_derivations);
    tcase_add_test(tc, test_frames);
    tcase_add_test(tc, test_table_once);
    tcase_add_test(tc, test_table_expiry_and_turns);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ticket_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
