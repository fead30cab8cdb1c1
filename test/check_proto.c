/*
 * Unit tests for nd_proto (frame headers, every encoder and decoder, request
 * bodies cut at every byte, ENTRIES frames filled to the last byte, status
 * mapping) and nd_digest (the RFC 1321 test suite, split updates, hex).
 * Everything here is pure computation: no sockets, no files.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_digest.h"
#include "nd_proto.h"

/* Room for any frame. */
#define BUF_MAX (ND_HDR_LEN + ND_FRAME_MAX)

/* Larger than any frame, so that the frame limit, not the buffer, is what
 * stops an encoder that fills it. */
static uint8_t frame[BUF_MAX + 4096];

/* Checks the header of an encoded frame and returns its body. */
static const uint8_t *
body_of(const uint8_t *buf, long len, uint8_t type)
{
    struct nd_hdr h;

    ck_assert_int_ge(len, ND_HDR_LEN);
    ck_assert_int_eq(nd_proto_hdr_decode(buf, &h), 0);
    ck_assert_uint_eq(h.type, type);
    ck_assert_uint_eq(h.version, ND_PROTO_VERSION);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_uint_eq(h.len, (unsigned long) len - ND_HDR_LEN);
    return buf + ND_HDR_LEN;
}

static void
put_hdr(uint8_t *b, uint32_t len, uint8_t version, uint8_t type, uint16_t flags)
{
    b[0] = (uint8_t) (len >> 24);
    b[1] = (uint8_t) (len >> 16);
    b[2] = (uint8_t) (len >> 8);
    b[3] = (uint8_t) len;
    b[4] = version;
    b[5] = type;
    b[6] = (uint8_t) (flags >> 8);
    b[7] = (uint8_t) flags;
}

START_TEST(test_hdr_decode)
{
    uint8_t b[ND_HDR_LEN];
    struct nd_hdr h;

    put_hdr(b, 17, 1, ND_T_GET, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), 0);
    ck_assert_uint_eq(h.len, 17);
    ck_assert_uint_eq(h.type, ND_T_GET);
    put_hdr(b, 0, 1, ND_T_READY, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), 0);
    ck_assert_uint_eq(h.len, 0);

    put_hdr(b, 17, 2, ND_T_GET, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), -EPROTONOSUPPORT);
    ck_assert_uint_eq(h.version, 2); /* filled in on errors too */
    put_hdr(b, 17, 0, ND_T_GET, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), -EPROTONOSUPPORT);

    put_hdr(b, ND_FRAME_MAX, 1, ND_T_ENTRIES, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), 0);
    ck_assert_uint_eq(h.len, ND_FRAME_MAX);
    put_hdr(b, ND_FRAME_MAX + 1, 1, ND_T_ENTRIES, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), -EMSGSIZE);
    put_hdr(b, 0xFFFFFFFFu, 1, ND_T_ENTRIES, 0);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), -EMSGSIZE);
    ck_assert_uint_eq(h.len, 0xFFFFFFFFu);

    put_hdr(b, 4, 1, ND_T_LIST, 1);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), -EBADMSG);
    put_hdr(b, 4, 1, ND_T_LIST, 0x8000);
    ck_assert_int_eq(nd_proto_hdr_decode(b, &h), -EBADMSG);
    ck_assert_uint_eq(h.flags, 0x8000);
}
END_TEST

START_TEST(test_wbuf_rbuf_limits)
{
    uint8_t small[ND_HDR_LEN + 3], in[3] = {1, 2, 3}, out[4];
    struct nd_wbuf w;
    struct nd_rbuf r;
    char *big = calloc(1, 70000);

    /* A buffer smaller than a header fails at once. */
    nd_wbuf_init(&w, small, ND_HDR_LEN - 1, ND_T_OK);
    ck_assert_int_eq(nd_wbuf_finish(&w), -EMSGSIZE);
    /* Overflow sets err and later puts do nothing. */
    nd_wbuf_init(&w, small, sizeof(small), ND_T_OK);
    nd_wbuf_u16(&w, 7);
    nd_wbuf_u16(&w, 8);
    ck_assert_int_eq(w.err, -EMSGSIZE);
    nd_wbuf_u8(&w, 9);
    ck_assert_uint_eq(w.len, ND_HDR_LEN + 2);
    ck_assert_int_eq(nd_wbuf_finish(&w), -EMSGSIZE);
    /* A string over 65535 bytes cannot be counted in a u16. */
    ck_assert_ptr_nonnull(big);
    nd_wbuf_init(&w, frame, sizeof(frame), ND_T_OK);
    nd_wbuf_str(&w, big, 65536);
    ck_assert_int_eq(nd_wbuf_finish(&w), -EMSGSIZE);
    free(big);

    /* Reading past the end yields zeroes and -EBADMSG at done. */
    nd_rbuf_init(&r, in, sizeof(in));
    ck_assert_uint_eq(nd_rbuf_u16(&r), 0x0102);
    ck_assert_uint_eq(nd_rbuf_u16(&r), 0);
    memset(out, 0xAA, sizeof(out));
    nd_rbuf_bytes(&r, out, sizeof(out));
    ck_assert_uint_eq(out[0] | out[1] | out[2] | out[3], 0);
    ck_assert_int_eq(nd_rbuf_done(&r), -EBADMSG);
    /* Unconsumed bytes are an error too. */
    nd_rbuf_init(&r, in, sizeof(in));
    nd_rbuf_u8(&r);
    ck_assert_int_eq(nd_rbuf_done(&r), -EBADMSG);
    nd_rbuf_u16(&r);
    ck_assert_int_eq(nd_rbuf_done(&r), 0);
}
END_TEST

START_TEST(test_hello)
{
    long n = nd_proto_hello_encode(frame, sizeof(frame));
    const uint8_t *b = body_of(frame, n, ND_T_HELLO);
    uint8_t body[9];

    ck_assert_int_eq(n, ND_HDR_LEN + 8);
    ck_assert_int_eq(memcmp(b, ND_MAGIC, 4), 0);
    ck_assert_int_eq(nd_proto_hello_decode(b, 8), ND_PROTO_VERSION);
    ck_assert_int_eq(nd_proto_hello_decode(b, 7), -EBADMSG);
    memcpy(body, b, 8);
    body[8] = 0;
    ck_assert_int_eq(nd_proto_hello_decode(body, 9), -EBADMSG);
    body[0] = 'X';
    ck_assert_int_eq(nd_proto_hello_decode(body, 8), -EBADMSG);

    /* The ranges: lo > hi is malformed, a range without 1 unsupported. */
    memcpy(body, ND_MAGIC "\0\2\0\3", 8);
    ck_assert_int_eq(nd_proto_hello_decode(body, 8), -EPROTONOSUPPORT);
    memcpy(body, ND_MAGIC "\0\0\0\0", 8);
    ck_assert_int_eq(nd_proto_hello_decode(body, 8), -EPROTONOSUPPORT);
    memcpy(body, ND_MAGIC "\0\3\0\1", 8);
    ck_assert_int_eq(nd_proto_hello_decode(body, 8), -EBADMSG);
    memcpy(body, ND_MAGIC "\0\0\0\5", 8);
    ck_assert_int_eq(nd_proto_hello_decode(body, 8), ND_PROTO_VERSION);
    ck_assert_int_eq(nd_proto_hello_encode(frame, ND_HDR_LEN + 7), -EMSGSIZE);
}
END_TEST

START_TEST(test_error)
{
    char msg[ND_MSG_MAX + 1], big[ND_MSG_MAX + 500];
    long n =
        nd_proto_error_encode(frame, sizeof(frame), ND_E_NOENT, "no such file");
    const uint8_t *b = body_of(frame, n, ND_T_ERROR);

    ck_assert_int_eq(
        nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN, msg, sizeof(msg)),
        ND_E_NOENT);
    ck_assert_str_eq(msg, "no such file");
    ck_assert_int_eq(
        nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN - 1, msg, sizeof(msg)),
        -EBADMSG);

    /* The sender truncates at ND_MSG_MAX. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    n = nd_proto_error_encode(frame, sizeof(frame), ND_E_IO, big);
    b = body_of(frame, n, ND_T_ERROR);
    ck_assert_int_eq(n, ND_HDR_LEN + 4 + ND_MSG_MAX);
    ck_assert_int_eq(
        nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN, msg, sizeof(msg)),
        ND_E_IO);
    ck_assert_uint_eq(strlen(msg), ND_MSG_MAX);

    /* The receiver truncates to its buffer, always NUL-terminated. */
    ck_assert_int_eq(nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN, msg, 5),
                     ND_E_IO);
    ck_assert_str_eq(msg, "xxxx");
    msg[0] = 'K';
    ck_assert_int_eq(nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN, msg, 0),
                     ND_E_IO);
    ck_assert_int_eq(msg[0], 'K');

    /* Control bytes never reach a terminal. */
    n = nd_proto_error_encode(frame, sizeof(frame), ND_E_PROTO,
                              "a\x1b[2Jb\x7f"
                              "c\n\td");
    b = body_of(frame, n, ND_T_ERROR);
    ck_assert_int_eq(
        nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN, msg, sizeof(msg)),
        ND_E_PROTO);
    ck_assert_str_eq(msg, "a?[2Jb?c??d");

    /* Code 0 is never sent. */
    n = nd_proto_error_encode(frame, sizeof(frame), ND_OK, "");
    b = body_of(frame, n, ND_T_ERROR);
    ck_assert_int_eq(
        nd_proto_error_decode(b, (size_t) n - ND_HDR_LEN, msg, sizeof(msg)),
        -EBADMSG);
}
END_TEST

START_TEST(test_digest_frame)
{
    uint8_t md5[ND_MD5_LEN], out[ND_MD5_LEN], body[ND_MD5_LEN + 2];
    long n;
    const uint8_t *b;

    for (int i = 0; i < ND_MD5_LEN; i++)
        md5[i] = (uint8_t) (0xF0 + i);
    n = nd_proto_digest_encode(frame, sizeof(frame), md5);
    ck_assert_int_eq(n, ND_HDR_LEN + 1 + ND_MD5_LEN);
    b = body_of(frame, n, ND_T_DIGEST);
    ck_assert_int_eq(nd_proto_digest_decode(b, 1 + ND_MD5_LEN, out), 0);
    ck_assert_int_eq(memcmp(md5, out, ND_MD5_LEN), 0);
    ck_assert_int_eq(nd_proto_digest_decode(b, ND_MD5_LEN, out), -EBADMSG);

    memcpy(body, b, 1 + ND_MD5_LEN);
    body[1 + ND_MD5_LEN] = 0;
    ck_assert_int_eq(nd_proto_digest_decode(body, sizeof(body), out), -EBADMSG);
    body[0] = 2; /* an algorithm version 1 does not know */
    ck_assert_int_eq(nd_proto_digest_decode(body, 1 + ND_MD5_LEN, out),
                     -EBADMSG);
    body[0] = 0;
    ck_assert_int_eq(nd_proto_digest_decode(body, 1 + ND_MD5_LEN, out),
                     -EBADMSG);
}
END_TEST

START_TEST(test_file_frame)
{
    static const uint64_t sizes[] = {0, 1, (1ull << 32) + 1, INT64_MAX};
    static const int64_t mtimes[] = {0, -1, 1700000000, INT64_MIN};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct nd_fileinfo fi = {sizes[i], mtimes[i], 999999999u, sizes[i] / 2,
                                 (uint8_t)(i & 1), {0}}, out;
        long n;
        const uint8_t *b;

        memset(fi.md5, 0xA0 + (int)i, sizeof(fi.md5));
        n = nd_proto_file_encode(frame, sizeof(frame), &fi);
        b = body_of(frame, n, ND_T_FILE);
        ck_assert_int_eq(n, ND_HDR_LEN + ND_FILEINFO_LEN);
        ck_assert_int_eq(nd_proto_file_decode(b, ND_FILEINFO_LEN, &out), 0);
        ck_assert_uint_eq(out.size, sizes[i]);
        ck_assert_int_eq(out.mtime_sec, mtimes[i]);
        ck_assert_uint_eq(out.mtime_nsec, 999999999u);
        ck_assert_uint_eq(out.offset, sizes[i] / 2);
        ck_assert_uint_eq(out.has_md5, i & 1);
        ck_assert_int_eq(memcmp(out.md5, fi.md5, ND_MD5_LEN), 0);
        ck_assert_int_eq(nd_proto_file_decode(b, ND_FILEINFO_LEN - 1, &out),
                         -EBADMSG);
        ck_assert_int_eq(nd_proto_file_decode(b, ND_FILEINFO_LEN + 1, &out),
                         -EBADMSG);
    }
}
END_TEST

/* Values no file can have are refused, not passed on. */
START_TEST(test_file_frame_bad)
{
    struct nd_fileinfo good = {100, 5, 0, 100, 1, {0}}, bad, out;
    long n;

    n = nd_proto_file_encode(frame, sizeof(frame), &good);
    ck_assert_int_eq(nd_proto_file_decode(body_of(frame, n, ND_T_FILE),
                                          ND_FILEINFO_LEN, &out),
                     0);
    bad = good;
    bad.offset = 101; /* beyond the size */
    n = nd_proto_file_encode(frame, sizeof(frame), &bad);
    ck_assert_int_eq(nd_proto_file_decode(frame + ND_HDR_LEN, ND_FILEINFO_LEN,
                                          &out),
                     -EBADMSG);
    bad = good;
    bad.has_md5 = 2;
    n = nd_proto_file_encode(frame, sizeof(frame), &bad);
    ck_assert_int_eq(nd_proto_file_decode(frame + ND_HDR_LEN, ND_FILEINFO_LEN,
                                          &out),
                     -EBADMSG);
    bad = good;
    bad.mtime_nsec = 1000000000u;
    n = nd_proto_file_encode(frame, sizeof(frame), &bad);
    ck_assert_int_eq(nd_proto_file_decode(frame + ND_HDR_LEN, ND_FILEINFO_LEN,
                                          &out),
                     -EBADMSG);
    bad = good;
    bad.size = bad.offset = (uint64_t)INT64_MAX + 1;
    n = nd_proto_file_encode(frame, sizeof(frame), &bad);
    ck_assert_int_eq(n, ND_HDR_LEN + ND_FILEINFO_LEN);
    ck_assert_int_eq(nd_proto_file_decode(frame + ND_HDR_LEN, ND_FILEINFO_LEN,
                                          &out),
                     -EBADMSG);
}
END_TEST

START_TEST(test_putok_end_empty)
{
    uint8_t md5[ND_MD5_LEN], out[ND_MD5_LEN];
    uint64_t v;
    long n;
    const uint8_t *b;

    memset(md5, 0x5A, sizeof(md5));
    n = nd_proto_putok_encode(frame, sizeof(frame), (1ull << 32) + 1, md5);
    b = body_of(frame, n, ND_T_OK);
    ck_assert_int_eq(nd_proto_putok_decode(b, 8 + ND_MD5_LEN, &v, out), 0);
    ck_assert_uint_eq(v, (1ull << 32) + 1);
    ck_assert_int_eq(memcmp(md5, out, ND_MD5_LEN), 0);
    ck_assert_int_eq(nd_proto_putok_decode(b, 8 + ND_MD5_LEN - 1, &v, out),
                     -EBADMSG);
    ck_assert_int_eq(nd_proto_putok_decode(b, 0, &v, out), -EBADMSG);

    n = nd_proto_end_encode(frame, sizeof(frame), 123456789012ull);
    b = body_of(frame, n, ND_T_END);
    ck_assert_int_eq(nd_proto_end_decode(b, 8, &v), 0);
    ck_assert_uint_eq(v, 123456789012ull);
    ck_assert_int_eq(nd_proto_end_decode(b, 7, &v), -EBADMSG);
    ck_assert_int_eq(nd_proto_end_decode(b, 9, &v), -EBADMSG);

    n = nd_proto_ready_encode(frame, sizeof(frame), (1ull << 40) + 3);
    ck_assert_int_eq(n, ND_HDR_LEN + 8);
    b = body_of(frame, n, ND_T_READY);
    ck_assert_int_eq(nd_proto_ready_decode(b, 8, &v), 0);
    ck_assert_uint_eq(v, (1ull << 40) + 3);
    ck_assert_int_eq(nd_proto_ready_decode(b, 7, &v), -EBADMSG);
    ck_assert_int_eq(nd_proto_ready_decode(b, 0, &v), -EBADMSG);

    n = nd_proto_empty_encode(frame, sizeof(frame), ND_T_OK);
    ck_assert_int_eq(n, ND_HDR_LEN);
    body_of(frame, n, ND_T_OK);
}
END_TEST

/* STAT has GET's body: u32 flags, str path; "" names the root. */
START_TEST(test_stat_req)
{
    static struct nd_req req;
    const uint8_t *b;
    size_t len;
    long n;

    n = nd_proto_req_encode(frame, sizeof(frame), ND_T_STAT, 99, "d/f.txt");
    b = body_of(frame, n, ND_T_STAT);
    len = (size_t)n - ND_HDR_LEN;
    ck_assert_uint_eq(len, 4 + 2 + 7);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_STAT, b, len, &req), 0);
    ck_assert_uint_eq(req.type, ND_T_STAT);
    ck_assert_uint_eq(req.size, 0);
    ck_assert_str_eq(req.path, "d/f.txt");
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(nd_proto_req_decode(ND_T_STAT, b, cut, &req),
                         -EBADMSG);

    n = nd_proto_req_encode(frame, sizeof(frame), ND_T_STAT, 0, "");
    b = body_of(frame, n, ND_T_STAT);
    ck_assert_int_eq(
        nd_proto_req_decode(ND_T_STAT, b, (size_t)n - ND_HDR_LEN, &req), 0);
    ck_assert_str_eq(req.path, "");

    /* A PUT body (with its size) is not a STAT body; flags must be 0. */
    n = nd_proto_req_encode(frame, sizeof(frame), ND_T_PUT, 1, "a");
    b = body_of(frame, n, ND_T_PUT);
    ck_assert_int_eq(
        nd_proto_req_decode(ND_T_STAT, b, (size_t)n - ND_HDR_LEN, &req),
        -EBADMSG);
    n = nd_proto_req_encode(frame, sizeof(frame), ND_T_STAT, 0, "a");
    frame[ND_HDR_LEN + 3] = 1;
    ck_assert_int_eq(nd_proto_req_decode(ND_T_STAT, frame + ND_HDR_LEN,
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);
    ck_assert_str_eq(nd_proto_type_name(ND_T_STAT), "STAT");
    ck_assert_str_eq(nd_proto_type_name(ND_T_STATINFO), "STATINFO");
}
END_TEST

START_TEST(test_statinfo)
{
    static const uint8_t zero[ND_MD5_LEN];
    struct nd_statinfo in = {.type = ND_FT_FILE,
                             .size = (1ull << 33) + 5,
                             .mtime = -7,
                             .has_md5 = 1},
                       out;
    uint8_t body[ND_STATINFO_LEN + 1];
    const uint8_t *b;
    long n;

    memset(in.md5, 0xC3, ND_MD5_LEN);
    n = nd_proto_statinfo_encode(frame, sizeof(frame), &in);
    ck_assert_int_eq(n, ND_HDR_LEN + ND_STATINFO_LEN);
    b = body_of(frame, n, ND_T_STATINFO);
    ck_assert_int_eq(nd_proto_statinfo_decode(b, ND_STATINFO_LEN, &out), 0);
    ck_assert_uint_eq(out.type, ND_FT_FILE);
    ck_assert_uint_eq(out.size, in.size);
    ck_assert_int_eq(out.mtime, -7);
    ck_assert_uint_eq(out.has_md5, 1);
    ck_assert_mem_eq(out.md5, in.md5, ND_MD5_LEN);
    ck_assert_int_eq(nd_proto_statinfo_decode(b, ND_STATINFO_LEN - 1, &out),
                     -EBADMSG);
    memcpy(body, b, ND_STATINFO_LEN);
    body[ND_STATINFO_LEN] = 0;
    ck_assert_int_eq(nd_proto_statinfo_decode(body, sizeof(body), &out),
                     -EBADMSG);

    /* A directory: no digest, and zeroes where it would be. */
    in.type = ND_FT_DIR;
    in.has_md5 = 0;
    n = nd_proto_statinfo_encode(frame, sizeof(frame), &in);
    b = body_of(frame, n, ND_T_STATINFO);
    ck_assert_mem_eq(b + 18, zero, ND_MD5_LEN);
    ck_assert_int_eq(nd_proto_statinfo_decode(b, ND_STATINFO_LEN, &out), 0);
    ck_assert_uint_eq(out.type, ND_FT_DIR);
    ck_assert_uint_eq(out.has_md5, 0);

    /* has_md5 is a boolean on the wire. */
    memcpy(body, b, ND_STATINFO_LEN);
    body[17] = 2;
    ck_assert_int_eq(nd_proto_statinfo_decode(body, ND_STATINFO_LEN, &out),
                     -EBADMSG);
    ck_assert_int_eq(nd_proto_statinfo_encode(frame, ND_HDR_LEN + 10, &in),
                     -EMSGSIZE);
}
END_TEST

/* Encodes a request body by hand, so that flags and paths can be wrong. */
static size_t
req_body(uint8_t *buf, uint8_t type, uint32_t flags, uint64_t size,
         const char *path, size_t path_len)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, BUF_MAX, type);
    nd_wbuf_u32(&w, flags);
    if (type == ND_T_PUT)
        nd_wbuf_u64(&w, size);
    nd_wbuf_str(&w, path, path_len);
    ck_assert_int_gt(nd_wbuf_finish(&w), 0);
    memmove(buf, buf + ND_HDR_LEN, w.len - ND_HDR_LEN);
    return w.len - ND_HDR_LEN;
}

static const uint8_t req_types[] = {ND_T_PUT, ND_T_GET, ND_T_LIST};

START_TEST(test_req_roundtrip)
{
    uint8_t type = req_types[_i];
    static struct nd_req req;
    long n = nd_proto_req_encode(frame, sizeof(frame), type, (1ull << 32) + 7,
                                 "dir/name.txt");
    const uint8_t *b = body_of(frame, n, type);
    size_t len = (size_t) n - ND_HDR_LEN;

    ck_assert_int_eq(nd_proto_req_decode(type, b, len, &req), 0);
    ck_assert_uint_eq(req.type, type);
    ck_assert_uint_eq(req.flags, 0);
    ck_assert_uint_eq(req.size, type == ND_T_PUT ? (1ull << 32) + 7 : 0);
    ck_assert_str_eq(req.path, "dir/name.txt");
    ck_assert_uint_eq(req.path_len, 12);

    /* Every proper prefix is truncated, and so malformed. */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(nd_proto_req_decode(type, b, cut, &req), -EBADMSG);
    /* So is a body with a byte left over. */
    memcpy(frame + n, "!", 1);
    ck_assert_int_eq(nd_proto_req_decode(type, b, len + 1, &req), -EBADMSG);
    /* The same body under another request type does not parse either. */
    if (type == ND_T_PUT)
        ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, b, len, &req), -EBADMSG);
}
END_TEST

START_TEST(test_req_paths)
{
    uint8_t type = req_types[_i];
    static uint8_t body[BUF_MAX];
    static char path[ND_PATH_MAX + 2];
    static struct nd_req req;
    size_t len;

    memset(path, 'p', sizeof(path));
    len = req_body(body, type, 0, 1, path, 0);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), 0);
    ck_assert_uint_eq(req.path_len, 0);
    ck_assert_str_eq(req.path, "");

    len = req_body(body, type, 0, 1, path, ND_PATH_MAX);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), 0);
    ck_assert_uint_eq(req.path_len, ND_PATH_MAX);
    ck_assert_uint_eq(strlen(req.path), ND_PATH_MAX);

    len = req_body(body, type, 0, 1, path, ND_PATH_MAX + 1);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -ENAMETOOLONG);
    path[ND_PATH_MAX + 1] = '\0';
    ck_assert_int_eq(nd_proto_req_encode(frame, sizeof(frame), type, 0, path),
                     -ENAMETOOLONG);

    len = req_body(body, type, 0, 1, "a\0b", 3);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -EINVAL);
    len = req_body(body, type, 0, 1, "\0", 1);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -EINVAL);

    /* Bit 2 is defined for no request (bits 0 and 1 are PUT's, bit 0
     * GET's). */
    len = req_body(body, type, 0x4, 1, "a", 1);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -EINVAL);
    len = req_body(body, type, 0x80000000u, 1, "a", 1);
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -EINVAL);

    /* A string count claiming more bytes than the body holds. */
    len = req_body(body, type, 0, 1, "abc", 3);
    body[len - 5] = 0;
    body[len - 4] = 4;
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -EBADMSG);
    body[len - 5] = 0xFF;
    body[len - 4] = 0xFF;
    ck_assert_int_eq(nd_proto_req_decode(type, body, len, &req), -EBADMSG);
}
END_TEST

START_TEST(test_req_unknown_type)
{
    static const uint8_t others[] = {
        0,         ND_T_HELLO,   ND_T_OK,  ND_T_ERROR, ND_T_DIGEST, ND_T_READY,
        ND_T_FILE, ND_T_ENTRIES, ND_T_END, 0x99,       0xFF};
    static struct nd_req req;
    uint8_t body[64];
    size_t len = req_body(body, ND_T_GET, 0, 0, "a", 1);

    for (size_t i = 0; i < sizeof(others); i++)
        ck_assert_int_eq(nd_proto_req_decode(others[i], body, len, &req),
                         -EBADMSG);
}
END_TEST

/* MKDIR, REMOVE and RENAME: the loop index picks the type. */
static const uint8_t fsreq_types[] = {ND_T_MKDIR, ND_T_REMOVE, ND_T_RENAME};

START_TEST(test_fsreq_roundtrip)
{
    uint8_t type = fsreq_types[_i];
    uint32_t flag = type == ND_T_MKDIR    ? ND_MKDIR_PARENTS
                    : type == ND_T_REMOVE ? ND_REMOVE_RECURSIVE
                                          : 0;
    static struct nd_req req;
    long n = nd_proto_fsreq_encode(frame, sizeof(frame), type, flag, "a/b",
                                   "c/d.txt");
    const uint8_t *b = body_of(frame, n, type);
    size_t len = (size_t) n - ND_HDR_LEN;

    /* u32 flags, str path, and for RENAME str to. */
    ck_assert_uint_eq(len, 4 + 2 + 3 + (type == ND_T_RENAME ? 2 + 7 : 0));
    memset(&req, 'x', sizeof(req));
    ck_assert_int_eq(nd_proto_req_decode(type, b, len, &req), 0);
    ck_assert_uint_eq(req.type, type);
    ck_assert_uint_eq(req.flags, flag);
    ck_assert_uint_eq(req.size, 0);
    ck_assert_str_eq(req.path, "a/b");
    ck_assert_uint_eq(req.path_len, 3);
    ck_assert_str_eq(req.path2, type == ND_T_RENAME ? "c/d.txt" : "");
    ck_assert_uint_eq(req.path2_len, type == ND_T_RENAME ? 7 : 0);

    /* Every proper prefix is truncated, and a byte left over is refused. */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(nd_proto_req_decode(type, b, cut, &req), -EBADMSG);
    memcpy(frame + n, "!", 1);
    ck_assert_int_eq(nd_proto_req_decode(type, b, len + 1, &req), -EBADMSG);
    /* RENAME's body is not a one-path request, nor the other way round;
     * RENAME defines no flag, and the flags are checked first. */
    ck_assert_int_eq(nd_proto_req_decode(type == ND_T_RENAME ? ND_T_REMOVE
                                                              : ND_T_RENAME,
                                         b, len, &req),
                     flag != 0 ? -EINVAL : -EBADMSG);

    /* Without the flag, and a bare request of every type decodes too. */
    n = nd_proto_fsreq_encode(frame, sizeof(frame), type, 0, "x", "y");
    b = body_of(frame, n, type);
    ck_assert_int_eq(nd_proto_req_decode(type, b, (size_t) n - ND_HDR_LEN,
                                         &req),
                     0);
    ck_assert_uint_eq(req.flags, 0);
}
END_TEST

START_TEST(test_fsreq_flags)
{
    static uint8_t body[BUF_MAX];
    static struct nd_req req;
    size_t len;

    /* Each type accepts exactly its documented bits. */
    len = req_body(body, ND_T_MKDIR, ND_MKDIR_PARENTS, 0, "d", 1);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_MKDIR, body, len, &req), 0);
    ck_assert_uint_eq(req.flags, ND_MKDIR_PARENTS);
    len = req_body(body, ND_T_REMOVE, ND_REMOVE_RECURSIVE, 0, "d", 1);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_REMOVE, body, len, &req), 0);
    ck_assert_uint_eq(req.flags, ND_REMOVE_RECURSIVE);
    for (uint32_t bit = 1; bit != 0; bit <<= 1) {
        if (bit != ND_MKDIR_PARENTS) {
            len = req_body(body, ND_T_MKDIR, bit | ND_MKDIR_PARENTS, 0, "d",
                           1);
            ck_assert_int_eq(nd_proto_req_decode(ND_T_MKDIR, body, len, &req),
                             -EINVAL);
        }
        if (bit != ND_REMOVE_RECURSIVE) {
            len = req_body(body, ND_T_REMOVE, bit, 0, "d", 1);
            ck_assert_int_eq(
                nd_proto_req_decode(ND_T_REMOVE, body, len, &req), -EINVAL);
        }
    }
    /* RENAME, LIST and STAT take no flags at all; GET takes RANGE only. */
    ck_assert_int_eq(nd_proto_fsreq_encode(body, BUF_MAX, ND_T_RENAME, 1, "a",
                                           "b"),
                     ND_HDR_LEN + 4 + 3 + 3);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_RENAME, body + ND_HDR_LEN,
                                         4 + 3 + 3, &req),
                     -EINVAL);
    len = req_body(body, ND_T_GET, 0x2, 0, "d", 1);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body, len, &req), -EINVAL);
    /* RANGE announces a fileinfo: without one the body is short. */
    len = req_body(body, ND_T_GET, ND_GET_RANGE, 0, "d", 1);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body, len, &req), -EBADMSG);
    len = req_body(body, ND_T_LIST, ND_MKDIR_PARENTS, 0, "d", 1);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_LIST, body, len, &req), -EINVAL);
}
END_TEST

/* RENAME's second path has the limits of the first. */
START_TEST(test_fsreq_rename_paths)
{
    static char path[ND_PATH_MAX + 2];
    static struct nd_req req;
    long n;

    memset(path, 'p', sizeof(path) - 1);
    path[ND_PATH_MAX] = '\0';
    n = nd_proto_fsreq_encode(frame, sizeof(frame), ND_T_RENAME, 0, path,
                              path);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_RENAME, frame + ND_HDR_LEN,
                                         (size_t) n - ND_HDR_LEN, &req),
                     0);
    ck_assert_uint_eq(req.path_len, ND_PATH_MAX);
    ck_assert_uint_eq(req.path2_len, ND_PATH_MAX);
    ck_assert_uint_eq(strlen(req.path2), ND_PATH_MAX);
    path[ND_PATH_MAX] = 'p';
    ck_assert_int_eq(nd_proto_fsreq_encode(frame, sizeof(frame), ND_T_RENAME,
                                           0, "a", path),
                     -ENAMETOOLONG);
    ck_assert_int_eq(nd_proto_fsreq_encode(frame, sizeof(frame), ND_T_MKDIR,
                                           0, path, NULL),
                     -ENAMETOOLONG);
    /* An empty target is a valid encoding: nd_store refuses it later. */
    n = nd_proto_fsreq_encode(frame, sizeof(frame), ND_T_RENAME, 0, "a", "");
    ck_assert_int_eq(nd_proto_req_decode(ND_T_RENAME, frame + ND_HDR_LEN,
                                         (size_t) n - ND_HDR_LEN, &req),
                     0);
    ck_assert_str_eq(req.path2, "");

    /* Hand-made bodies: a NUL or an over-long count in the target. */
    {
        static uint8_t body[BUF_MAX];
        struct nd_wbuf w;
        size_t len;

        nd_wbuf_init(&w, body, BUF_MAX, ND_T_RENAME);
        nd_wbuf_u32(&w, 0);
        nd_wbuf_str(&w, "a", 1);
        nd_wbuf_str(&w, "b\0c", 3);
        len = (size_t) nd_wbuf_finish(&w) - ND_HDR_LEN;
        ck_assert_int_eq(nd_proto_req_decode(ND_T_RENAME, body + ND_HDR_LEN,
                                             len, &req),
                         -EINVAL);
        nd_wbuf_init(&w, body, BUF_MAX, ND_T_RENAME);
        nd_wbuf_u32(&w, 0);
        nd_wbuf_str(&w, "a", 1);
        nd_wbuf_str(&w, path, ND_PATH_MAX + 1);
        len = (size_t) nd_wbuf_finish(&w) - ND_HDR_LEN;
        ck_assert_int_eq(nd_proto_req_decode(ND_T_RENAME, body + ND_HDR_LEN,
                                             len, &req),
                         -ENAMETOOLONG);
    }
    ck_assert_str_eq(nd_proto_type_name(ND_T_MKDIR), "MKDIR");
    ck_assert_str_eq(nd_proto_type_name(ND_T_REMOVE), "REMOVE");
    ck_assert_str_eq(nd_proto_type_name(ND_T_RENAME), "RENAME");
}
END_TEST

static void
make_entry(struct nd_entry *e, uint8_t type, uint64_t size, int64_t mtime,
           char fill, size_t name_len)
{
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->size = size;
    e->mtime = mtime;
    e->name_len = name_len;
    memset(e->name, fill, name_len);
}

START_TEST(test_entries_roundtrip)
{
    struct nd_entry in[4], out;
    struct nd_wbuf w;
    size_t off = 0;
    uint32_t count;
    long n;
    const uint8_t *b;

    make_entry(&in[0], ND_FT_FILE, 0, 0, 'a', 1);
    make_entry(&in[1], ND_FT_DIR, 4096, -1, 'b', ND_NAME_MAX);
    make_entry(&in[2], ND_FT_LINK, UINT64_MAX, INT64_MIN, 'c', 7);
    make_entry(&in[3], ND_FT_OTHER, 1ull << 40, 1700000000, 'd', 2);
    nd_wbuf_init(&w, frame, sizeof(frame), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(nd_proto_entries_add(&w, &in[i]), 0);
    n = nd_proto_entries_finish(&w, 4);
    b = body_of(frame, n, ND_T_ENTRIES);

    ck_assert_int_eq(nd_proto_entries_count(b, (size_t) n - ND_HDR_LEN, &count),
                     0);
    ck_assert_uint_eq(count, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(
            nd_proto_entries_next(b, (size_t) n - ND_HDR_LEN, &off, &out), 0);
        ck_assert_uint_eq(out.type, in[i].type);
        ck_assert_uint_eq(out.size, in[i].size);
        ck_assert_int_eq(out.mtime, in[i].mtime);
        ck_assert_uint_eq(out.name_len, in[i].name_len);
        ck_assert_uint_eq(strlen(out.name), in[i].name_len);
        ck_assert_int_eq(memcmp(out.name, in[i].name, in[i].name_len), 0);
    }
    ck_assert_uint_eq(off, (size_t) n - ND_HDR_LEN);
    /* One more is past the end. */
    ck_assert_int_eq(
        nd_proto_entries_next(b, (size_t) n - ND_HDR_LEN, &off, &out),
        -EBADMSG);
    ck_assert_int_eq(nd_proto_entries_count(b, 3, &count), -EBADMSG);

    /* An empty frame is just the count. */
    nd_wbuf_init(&w, frame, sizeof(frame), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    n = nd_proto_entries_finish(&w, 0);
    ck_assert_int_eq(n, ND_HDR_LEN + 4);

    /* A name over ND_NAME_MAX is refused before anything is written. */
    nd_wbuf_init(&w, frame, sizeof(frame), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    make_entry(&out, ND_FT_FILE, 0, 0, 'x', ND_NAME_MAX);
    out.name_len = ND_NAME_MAX + 1;
    ck_assert_int_eq(nd_proto_entries_add(&w, &out), -ENAMETOOLONG);
    ck_assert_uint_eq(w.len, ND_HDR_LEN + 4);
}
END_TEST

/* Decodes a whole ENTRIES frame and checks it holds exactly want entries. */
static void
check_entries(long n, uint32_t want)
{
    const uint8_t *b = body_of(frame, n, ND_T_ENTRIES);
    size_t len = (size_t) n - ND_HDR_LEN, off = 0;
    static struct nd_entry e;
    uint32_t count;

    ck_assert_int_eq(nd_proto_entries_count(b, len, &count), 0);
    ck_assert_uint_eq(count, want);
    for (uint32_t i = 0; i < count; i++)
        ck_assert_int_eq(nd_proto_entries_next(b, len, &off, &e), 0);
    ck_assert_uint_eq(off, len);
}

START_TEST(test_entries_fill_frame)
{
    /* 956 entries of 274 bytes and one of 196 fill 262,140 + 4 exactly. */
    size_t big = 1 + 8 + 8 + 2 + ND_NAME_MAX;
    size_t full = (ND_FRAME_MAX - 4) / big, rest = (ND_FRAME_MAX - 4) % big;
    struct nd_entry e;
    struct nd_wbuf w;
    uint32_t added = 0;
    long n;

    ck_assert_uint_ge(rest, 1 + 8 + 8 + 2 + 1);
    nd_wbuf_init(&w, frame, sizeof(frame), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    make_entry(&e, ND_FT_FILE, 1, 2, 'n', ND_NAME_MAX);
    for (size_t i = 0; i < full; i++, added++)
        ck_assert_int_eq(nd_proto_entries_add(&w, &e), 0);
    make_entry(&e, ND_FT_DIR, 3, 4, 'm', rest - (1 + 8 + 8 + 2));
    ck_assert_int_eq(nd_proto_entries_add(&w, &e), 0);
    added++;
    ck_assert_uint_eq(w.len, ND_HDR_LEN + ND_FRAME_MAX);

    /* Full: the next entry is refused and the frame stays intact. */
    make_entry(&e, ND_FT_FILE, 5, 6, 'z', 1);
    ck_assert_int_eq(nd_proto_entries_add(&w, &e), -EMSGSIZE);
    ck_assert_int_eq(nd_proto_entries_add(&w, &e), -EMSGSIZE);
    ck_assert_uint_eq(w.len, ND_HDR_LEN + ND_FRAME_MAX);
    n = nd_proto_entries_finish(&w, added);
    ck_assert_int_eq(n, ND_HDR_LEN + ND_FRAME_MAX);
    check_entries(n, added);
}
END_TEST

START_TEST(test_entries_fill_buffer)
{
    /* A buffer cap, not the frame limit, is the bound here. */
    size_t one = 1 + 8 + 8 + 2 + 1;
    struct nd_entry e;
    struct nd_wbuf w;
    long n;

    nd_wbuf_init(&w, frame, ND_HDR_LEN + 4 + 3 * one, ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    make_entry(&e, ND_FT_FILE, 1, 2, 'q', 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(nd_proto_entries_add(&w, &e), 0);
    ck_assert_int_eq(nd_proto_entries_add(&w, &e), -EMSGSIZE);
    make_entry(&e, ND_FT_FILE, 1, 2, 'q', ND_NAME_MAX);
    ck_assert_int_eq(nd_proto_entries_add(&w, &e), -EMSGSIZE);
    n = nd_proto_entries_finish(&w, 3);
    ck_assert_int_eq(n, (long) (ND_HDR_LEN + 4 + 3 * one));
    check_entries(n, 3);
}
END_TEST

/* Builds an ENTRIES body of one entry whose name is given raw. */
static size_t
entries_raw(uint8_t *buf, const char *name, size_t name_len)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, BUF_MAX, ND_T_ENTRIES);
    nd_wbuf_u32(&w, 1);
    nd_wbuf_u8(&w, ND_FT_FILE);
    nd_wbuf_u64(&w, 1);
    nd_wbuf_u64(&w, 1);
    nd_wbuf_str(&w, name, name_len);
    ck_assert_int_gt(nd_wbuf_finish(&w), 0);
    memmove(buf, buf + ND_HDR_LEN, w.len - ND_HDR_LEN);
    return w.len - ND_HDR_LEN;
}

START_TEST(test_entries_bad_names)
{
    static uint8_t body[BUF_MAX];
    static char name[ND_NAME_MAX + 2];
    static struct nd_entry e;
    size_t len, off;

    memset(name, 'k', sizeof(name));
    len = entries_raw(body, name, ND_NAME_MAX);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), 0);
    ck_assert_uint_eq(e.name_len, ND_NAME_MAX);

    len = entries_raw(body, name, ND_NAME_MAX + 1);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    len = entries_raw(body, "", 0);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    len = entries_raw(body, "a/b", 3);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    len = entries_raw(body, "/", 1);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    len = entries_raw(body, "a\0b", 3);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    /* "." and "..", which would lead a tree copy out of its directory;
     * longer names of dots are ordinary names. */
    len = entries_raw(body, ".", 1);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    len = entries_raw(body, "..", 2);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    len = entries_raw(body, "...", 3);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), 0);
    len = entries_raw(body, ".a", 2);
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), 0);

    /* A name count past the end of the body. */
    len = entries_raw(body, "abc", 3);
    body[len - 5] = 0;
    body[len - 4] = 4;
    off = 0;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
    /* Every truncation of a good entry is refused. */
    len = entries_raw(body, "abc", 3);
    for (size_t cut = 4; cut < len; cut++) {
        off = 0;
        ck_assert_int_eq(nd_proto_entries_next(body, cut, &off, &e), -EBADMSG);
    }
    /* An offset beyond the body. */
    off = len + 1;
    ck_assert_int_eq(nd_proto_entries_next(body, len, &off, &e), -EBADMSG);
}
END_TEST

START_TEST(test_status_from_errno)
{
    static const struct {
        int err;
        enum nd_status st;
    } map[] = {
        {0, ND_OK},
        {ENOENT, ND_E_NOENT},
        {EACCES, ND_E_ACCESS},
        {EPERM, ND_E_ACCESS},
        {EXDEV, ND_E_ACCESS},
        {ELOOP, ND_E_ACCESS},
        {EISDIR, ND_E_ISDIR},
        {ENOTDIR, ND_E_NOTDIR},
        {EEXIST, ND_E_EXIST},
        {ENOTEMPTY, ND_E_EXIST},
        {ENOSPC, ND_E_NOSPC},
        {EDQUOT, ND_E_NOSPC},
        {EFBIG, ND_E_NOSPC},
        {EIO, ND_E_IO},
        {EROFS, ND_E_IO},
        {EMSGSIZE, ND_E_TOOBIG},
        {EBADMSG, ND_E_PROTO},
        {EPROTO, ND_E_PROTO},
        {EPROTONOSUPPORT, ND_E_VERSION},
        {ENAMETOOLONG, ND_E_NAMETOOLONG},
        {EINVAL, ND_E_INVAL},
        {EBUSY, ND_E_BUSY},
        {EAGAIN, ND_E_BUSY},
        {ESHUTDOWN, ND_E_SHUTDOWN},
        {ND_ENOTREG, ND_E_NOTREG},
        {ENOMEM, ND_E_INTERNAL},
        {EMFILE, ND_E_INTERNAL},
        {12345, ND_E_INTERNAL},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        ck_assert_int_eq(nd_proto_status_from_errno(-map[i].err), map[i].st);
}
END_TEST

START_TEST(test_status_str_and_names)
{
    for (int st = -1; st <= 100; st++) {
        const char *s = nd_proto_status_str(st);

        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
    }
    ck_assert_str_eq(nd_proto_status_str(ND_E_NOENT),
                     "no such file or directory");
    ck_assert_str_eq(nd_proto_type_name(ND_T_PUT), "PUT");
    ck_assert_str_eq(nd_proto_type_name(ND_T_ENTRIES), "ENTRIES");
    for (int t = 0; t < 256; t++)
        ck_assert_ptr_nonnull(nd_proto_type_name((uint8_t) t));
    ck_assert_str_eq(nd_proto_type_name(0x99), "?");
    ck_assert_ptr_null(nd_proto_status_name(0));
    ck_assert_ptr_null(nd_proto_status_name(ND_STATUS_MAX + 1));
}
END_TEST

/* Every status name and code stands in docs/protocol.md's table. */
START_TEST(test_status_names_match_doc)
{
    const char *src = getenv("ND_TEST_SRC");
    char path[4096], doc[65536], row[64];
    size_t n;
    FILE *f;

    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/../docs/protocol.md", src);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    for (int st = 1; st <= ND_STATUS_MAX; st++) {
        snprintf(row, sizeof(row), "| %d | %s |", st,
                 nd_proto_status_name(st));
        ck_assert_msg(strstr(doc, row) != NULL, "protocol.md lacks \"%s\"",
                      row);
    }
}
END_TEST

/* RFC 1321, appendix A.5. */
static const struct {
    const char *in;
    const char *hex;
} md5_vectors[] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"1234567890123456789012345678901234567890123456789012345678901234567890"
     "1234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

START_TEST(test_md5_vectors)
{
    const char *in = md5_vectors[_i].in;
    size_t len = strlen(in);
    uint8_t md5[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN];
    struct nd_digest d;

    ck_assert_int_eq(nd_digest_init(&d), 0);
    ck_assert_int_eq(nd_digest_update(&d, in, len), 0);
    ck_assert_int_eq(nd_digest_final(&d, md5), 0);
    nd_digest_hex(md5, hex);
    ck_assert_str_eq(hex, md5_vectors[_i].hex);

    /* Any split gives the same digest; final leaves the context reusable. */
    for (size_t cut = 0; cut <= len; cut++) {
        ck_assert_int_eq(nd_digest_update(&d, in, cut), 0);
        ck_assert_int_eq(nd_digest_update(&d, in + cut, 0), 0);
        ck_assert_int_eq(nd_digest_update(&d, in + cut, len - cut), 0);
        ck_assert_int_eq(nd_digest_final(&d, md5), 0);
        nd_digest_hex(md5, hex);
        ck_assert_str_eq(hex, md5_vectors[_i].hex);
    }
    /* One byte at a time, after a reset that discards junk. */
    ck_assert_int_eq(nd_digest_update(&d, "junk", 4), 0);
    ck_assert_int_eq(nd_digest_reset(&d), 0);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(nd_digest_update(&d, in + i, 1), 0);
    ck_assert_int_eq(nd_digest_final(&d, md5), 0);
    nd_digest_hex(md5, hex);
    ck_assert_str_eq(hex, md5_vectors[_i].hex);
    nd_digest_free(&d);
    nd_digest_free(&d); /* a second free is harmless */
}
END_TEST

START_TEST(test_digest_hex)
{
    uint8_t md5[ND_DIGEST_LEN];
    char hex[ND_DIGEST_HEX_LEN];
    struct nd_digest zero = {0};

    for (int i = 0; i < ND_DIGEST_LEN; i++)
        md5[i] = (uint8_t) (i * 17);
    memset(hex, 'X', sizeof(hex));
    nd_digest_hex(md5, hex);
    ck_assert_str_eq(hex, "00112233445566778899aabbccddeeff");
    memset(md5, 0xFF, sizeof(md5));
    nd_digest_hex(md5, hex);
    ck_assert_str_eq(hex, "ffffffffffffffffffffffffffffffff");
    nd_digest_free(&zero); /* safe on a zeroed struct */
}
END_TEST

/* Checks every field of a decoded range against want. */
static void
assert_fileinfo_eq(const struct nd_fileinfo *got,
                   const struct nd_fileinfo *want)
{
    ck_assert_uint_eq(got->size, want->size);
    ck_assert_int_eq(got->mtime_sec, want->mtime_sec);
    ck_assert_uint_eq(got->mtime_nsec, want->mtime_nsec);
    ck_assert_uint_eq(got->offset, want->offset);
    ck_assert_uint_eq(got->has_md5, want->has_md5);
    ck_assert_int_eq(memcmp(got->md5, want->md5, ND_MD5_LEN), 0);
}

/* PUT with ND_PUT_MTIME | ND_PUT_RESUME: the mtime follows the path. */
START_TEST(test_put_mtime_resume)
{
    static const char path[] = "dir/f.bin";
    const uint32_t flags = ND_PUT_MTIME | ND_PUT_RESUME;
    const int64_t sec = -1234567890123LL;
    static struct nd_req req;
    long n = nd_proto_put_encode(frame, sizeof(frame), flags, (1ull << 40) + 3,
                                 path, sec, 999999999u);
    const uint8_t *b = body_of(frame, n, ND_T_PUT);
    size_t len = (size_t)n - ND_HDR_LEN;
    const struct nd_fileinfo zero = {0};

    ck_assert_uint_eq(len, 4 + 8 + 2 + strlen(path) + 8 + 4);
    /* The wire layout: flags, size, path, then sec and nsec big-endian. */
    ck_assert_uint_eq(nd_proto_get_be(b, 4), flags);
    ck_assert_uint_eq(nd_proto_get_be(b + 4, 8), (1ull << 40) + 3);
    ck_assert_uint_eq(nd_proto_get_be(b + 12, 2), strlen(path));
    ck_assert_uint_eq(nd_proto_get_be(b + len - 12, 8), (uint64_t)sec);
    ck_assert_uint_eq(nd_proto_get_be(b + len - 4, 4), 999999999u);

    memset(&req, 0xAB, sizeof(req));
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, b, len, &req), 0);
    ck_assert_uint_eq(req.type, ND_T_PUT);
    ck_assert_uint_eq(req.flags, flags);
    ck_assert_uint_eq(req.size, (1ull << 40) + 3);
    ck_assert_str_eq(req.path, path);
    ck_assert_uint_eq(req.path_len, strlen(path));
    ck_assert_int_eq(req.mtime_sec, sec);
    ck_assert_uint_eq(req.mtime_nsec, 999999999u);
    ck_assert_str_eq(req.path2, "");
    assert_fileinfo_eq(&req.rg, &zero);

    /* Every proper prefix is truncated, a byte more is left over. */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_msg(nd_proto_req_decode(ND_T_PUT, b, cut, &req) == -EBADMSG,
                      "cut at %zu", cut);
    frame[n] = 0;
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, b, len + 1, &req), -EBADMSG);

    /* MTIME alone, at the extremes of the i64. */
    n = nd_proto_put_encode(frame, sizeof(frame), ND_PUT_MTIME, 0, "a",
                            INT64_MIN, 0);
    b = body_of(frame, n, ND_T_PUT);
    ck_assert_int_eq(
        nd_proto_req_decode(ND_T_PUT, b, (size_t)n - ND_HDR_LEN, &req), 0);
    ck_assert_uint_eq(req.flags, ND_PUT_MTIME);
    ck_assert_int_eq(req.mtime_sec, INT64_MIN);
    ck_assert_uint_eq(req.mtime_nsec, 0);
    n = nd_proto_put_encode(frame, sizeof(frame), ND_PUT_MTIME, 0, "a",
                            INT64_MAX, 1);
    b = body_of(frame, n, ND_T_PUT);
    ck_assert_int_eq(
        nd_proto_req_decode(ND_T_PUT, b, (size_t)n - ND_HDR_LEN, &req), 0);
    ck_assert_int_eq(req.mtime_sec, INT64_MAX);
    ck_assert_uint_eq(req.mtime_nsec, 1);

    /* Without MTIME the encoder sends no mtime, and the decoder reads 0. */
    n = nd_proto_put_encode(frame, sizeof(frame), 0, 5, "a", 77, 88);
    b = body_of(frame, n, ND_T_PUT);
    ck_assert_int_eq(n, ND_HDR_LEN + 4 + 8 + 2 + 1);
    memset(&req, 0xAB, sizeof(req));
    ck_assert_int_eq(
        nd_proto_req_decode(ND_T_PUT, b, (size_t)n - ND_HDR_LEN, &req), 0);
    ck_assert_uint_eq(req.flags, 0);
    ck_assert_int_eq(req.mtime_sec, 0);
    ck_assert_uint_eq(req.mtime_nsec, 0);
    assert_fileinfo_eq(&req.rg, &zero);
}
END_TEST

START_TEST(test_put_mtime_resume_bad)
{
    static struct nd_req req;
    uint8_t body[64];
    long n;

    /* RESUME needs MTIME (the partial is keyed by it). */
    n = nd_proto_put_encode(frame, sizeof(frame), ND_PUT_RESUME, 5, "a", 1, 2);
    ck_assert_int_eq(n, ND_HDR_LEN + 4 + 8 + 2 + 1);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, body_of(frame, n, ND_T_PUT),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);

    /* nsec must be below one second, with or without RESUME. */
    n = nd_proto_put_encode(frame, sizeof(frame), ND_PUT_MTIME | ND_PUT_RESUME,
                            5, "a", 1, 1000000000u);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, body_of(frame, n, ND_T_PUT),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);
    n = nd_proto_put_encode(frame, sizeof(frame), ND_PUT_MTIME, 5, "a", 1,
                            UINT32_MAX);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, body_of(frame, n, ND_T_PUT),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);

    /* An unknown bit is refused before the body is read: a body that ends
     * right after the flags says -EINVAL, not -EBADMSG. */
    nd_proto_put_be(body, ND_PUT_MTIME | 0x4u, 4);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, body, 4, &req), -EINVAL);
    nd_proto_put_be(body, 0x80000000u, 4);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_PUT, body, 4, &req), -EINVAL);

    /* The encoders' own limits. */
    ck_assert_int_eq(nd_proto_put_encode(frame, ND_HDR_LEN + 4 + 8 + 2 + 1,
                                         ND_PUT_MTIME, 5, "a", 1, 2),
                     -EMSGSIZE);
    ck_assert_int_gt(nd_proto_put_encode(frame, ND_HDR_LEN + 4 + 8 + 2 + 1 + 12,
                                         ND_PUT_MTIME, 5, "a", 1, 2),
                     0);
}
END_TEST

/* GET with ND_GET_RANGE: a struct nd_fileinfo follows the path. */
START_TEST(test_get_range)
{
    static struct nd_req req;
    static char longpath[ND_PATH_MAX + 2];
    struct nd_fileinfo rg = {.size = (1ull << 33) + 5,
                             .mtime_sec = -42,
                             .mtime_nsec = 999999999u,
                             .offset = 1ull << 32,
                             .has_md5 = 1};
    long n;
    const uint8_t *b;
    size_t len;

    for (int i = 0; i < ND_MD5_LEN; i++)
        rg.md5[i] = (uint8_t)(0xF0 - i);
    n = nd_proto_get_encode(frame, sizeof(frame), "a/b", &rg);
    b = body_of(frame, n, ND_T_GET);
    len = (size_t)n - ND_HDR_LEN;
    ck_assert_uint_eq(len, 4 + 2 + 3 + ND_FILEINFO_LEN);
    ck_assert_uint_eq(nd_proto_get_be(b, 4), ND_GET_RANGE);
    memset(&req, 0xAB, sizeof(req));
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, b, len, &req), 0);
    ck_assert_uint_eq(req.type, ND_T_GET);
    ck_assert_uint_eq(req.flags, ND_GET_RANGE);
    ck_assert_uint_eq(req.size, 0);
    ck_assert_int_eq(req.mtime_sec, 0);
    ck_assert_uint_eq(req.mtime_nsec, 0);
    ck_assert_str_eq(req.path, "a/b");
    ck_assert_uint_eq(req.path_len, 3);
    assert_fileinfo_eq(&req.rg, &rg);

    /* The range is laid out as in a FILE frame. */
    {
        struct nd_fileinfo fi;

        ck_assert_int_eq(nd_proto_file_decode(b + len - ND_FILEINFO_LEN,
                                              ND_FILEINFO_LEN, &fi),
                         0);
        assert_fileinfo_eq(&fi, &rg);
    }

    for (size_t cut = 0; cut < len; cut++)
        ck_assert_msg(nd_proto_req_decode(ND_T_GET, b, cut, &req) == -EBADMSG,
                      "cut at %zu", cut);
    frame[n] = 0;
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, b, len + 1, &req), -EBADMSG);

    /* The limits themselves are valid: offset == size, has_md5 0, size
     * INT64_MAX. */
    rg.offset = rg.size;
    rg.has_md5 = 0;
    n = nd_proto_get_encode(frame, sizeof(frame), "a/b", &rg);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body_of(frame, n, ND_T_GET),
                                         (size_t)n - ND_HDR_LEN, &req),
                     0);
    assert_fileinfo_eq(&req.rg, &rg);
    rg.size = rg.offset = INT64_MAX;
    n = nd_proto_get_encode(frame, sizeof(frame), "a/b", &rg);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body_of(frame, n, ND_T_GET),
                                         (size_t)n - ND_HDR_LEN, &req),
                     0);
    ck_assert_uint_eq(req.rg.size, INT64_MAX);

    memset(longpath, 'p', ND_PATH_MAX + 1);
    ck_assert_int_eq(nd_proto_get_encode(frame, sizeof(frame), longpath, &rg),
                     -ENAMETOOLONG);
    ck_assert_int_eq(nd_proto_put_encode(frame, sizeof(frame), ND_PUT_MTIME, 0,
                                         longpath, 0, 0),
                     -ENAMETOOLONG);
    ck_assert_int_eq(
        nd_proto_get_encode(frame, ND_HDR_LEN + 4 + 2 + 3 + ND_FILEINFO_LEN - 1,
                            "a/b", &rg),
        -EMSGSIZE);
}
END_TEST

START_TEST(test_get_range_bad)
{
    static const struct nd_fileinfo good = {100, 5, 0, 100, 1, {0}};
    static struct nd_req req;
    struct nd_fileinfo bad;
    uint8_t body[64];
    long n;

    bad = good;
    bad.offset = 101; /* beyond the size */
    n = nd_proto_get_encode(frame, sizeof(frame), "f", &bad);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body_of(frame, n, ND_T_GET),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);
    bad = good;
    bad.has_md5 = 2;
    n = nd_proto_get_encode(frame, sizeof(frame), "f", &bad);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body_of(frame, n, ND_T_GET),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);
    bad = good;
    bad.mtime_nsec = 1000000000u;
    n = nd_proto_get_encode(frame, sizeof(frame), "f", &bad);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body_of(frame, n, ND_T_GET),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);
    bad = good;
    bad.size = (uint64_t)INT64_MAX + 1;
    bad.offset = 0;
    n = nd_proto_get_encode(frame, sizeof(frame), "f", &bad);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body_of(frame, n, ND_T_GET),
                                         (size_t)n - ND_HDR_LEN, &req),
                     -EINVAL);

    /* PUT's bits mean nothing to GET, and are refused before the body is
     * read. */
    nd_proto_put_be(body, ND_GET_RANGE | ND_PUT_RESUME, 4);
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, body, 4, &req), -EINVAL);
    /* RANGE announced, no range sent. */
    n = nd_proto_get_encode(frame, sizeof(frame), "f", NULL);
    memcpy(body, frame + ND_HDR_LEN, (size_t)n - ND_HDR_LEN);
    nd_proto_put_be(body, ND_GET_RANGE, 4);
    ck_assert_int_eq(
        nd_proto_req_decode(ND_T_GET, body, (size_t)n - ND_HDR_LEN, &req),
        -EBADMSG);
}
END_TEST

/* GET without a range: flags 0, and the decoded range is all zeroes. */
START_TEST(test_get_no_range)
{
    static struct nd_req req;
    const struct nd_fileinfo zero = {0};
    long n = nd_proto_get_encode(frame, sizeof(frame), "x/y.txt", NULL);
    const uint8_t *b = body_of(frame, n, ND_T_GET);
    size_t len = (size_t)n - ND_HDR_LEN;

    ck_assert_uint_eq(len, 4 + 2 + 7);
    ck_assert_uint_eq(nd_proto_get_be(b, 4), 0);
    memset(&req, 0xAB, sizeof(req));
    ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, b, len, &req), 0);
    ck_assert_uint_eq(req.flags, 0);
    ck_assert_str_eq(req.path, "x/y.txt");
    ck_assert_int_eq(req.mtime_sec, 0);
    ck_assert_uint_eq(req.mtime_nsec, 0);
    assert_fileinfo_eq(&req.rg, &zero);
    /* The same bytes as the generic request encoder. */
    ck_assert_int_eq(nd_proto_req_encode(frame + BUF_MAX / 2, BUF_MAX / 2,
                                         ND_T_GET, 0, "x/y.txt"),
                     n);
    ck_assert_int_eq(memcmp(frame, frame + BUF_MAX / 2, (size_t)n), 0);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(nd_proto_req_decode(ND_T_GET, b, cut, &req), -EBADMSG);
}
END_TEST

static Suite *
proto_suite(void)
{
    Suite *s = suite_create("nd_proto");
    TCase *codec = tcase_create("codec");
    TCase *req = tcase_create("requests");
    TCase *ent = tcase_create("entries");
    TCase *dig = tcase_create("digest");

    tcase_add_test(codec, test_hdr_decode);
    tcase_add_test(codec, test_wbuf_rbuf_limits);
    tcase_add_test(codec, test_hello);
    tcase_add_test(codec, test_error);
    tcase_add_test(codec, test_digest_frame);
    tcase_add_test(codec, test_file_frame);
    tcase_add_test(codec, test_file_frame_bad);
    tcase_add_test(codec, test_putok_end_empty);
    tcase_add_test(codec, test_stat_req);
    tcase_add_test(codec, test_statinfo);
    tcase_add_test(codec, test_status_from_errno);
    tcase_add_test(codec, test_status_str_and_names);
    tcase_add_test(codec, test_status_names_match_doc);
    suite_add_tcase(s, codec);

    tcase_add_loop_test(req, test_req_roundtrip, 0, 3);
    tcase_add_loop_test(req, test_req_paths, 0, 3);
    tcase_add_test(req, test_req_unknown_type);
    tcase_add_loop_test(req, test_fsreq_roundtrip, 0, 3);
    tcase_add_test(req, test_fsreq_flags);
    tcase_add_test(req, test_fsreq_rename_paths);
    tcase_add_test(req, test_put_mtime_resume);
    tcase_add_test(req, test_put_mtime_resume_bad);
    tcase_add_test(req, test_get_range);
    tcase_add_test(req, test_get_range_bad);
    tcase_add_test(req, test_get_no_range);
    suite_add_tcase(s, req);

    tcase_add_test(ent, test_entries_roundtrip);
    tcase_add_test(ent, test_entries_fill_frame);
    tcase_add_test(ent, test_entries_fill_buffer);
    tcase_add_test(ent, test_entries_bad_names);
    suite_add_tcase(s, ent);

    tcase_add_loop_test(dig, test_md5_vectors, 0,
                        sizeof(md5_vectors) / sizeof(md5_vectors[0]));
    tcase_add_test(dig, test_digest_hex);
    suite_add_tcase(s, dig);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(proto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
