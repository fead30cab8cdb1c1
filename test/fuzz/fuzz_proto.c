/*
 * fuzz_proto: libFuzzer target for every nd_proto decoder that the daemon
 * or the client applies to a peer's bytes.
 *
 * The input is one frame as it arrives on the wire: an 8-byte header, then
 * a body.  The header goes through nd_proto_hdr_decode() as the reactor and
 * nd_wire_recv() see it.  The body goes to the decoders of the header's
 * type byte whatever the header said, so the decoders also meet lengths no
 * well-formed header would announce (they must not trust the header).
 *
 * Besides "no crash, no sanitizer report", each decoder's answer is checked:
 * whatever decodes is encoded again with the real encoders and must give
 * back the very same bytes, and values drawn from the input are encoded and
 * must decode to themselves (or be refused for a reason the docs give).
 * Encoders write into heap buffers of exactly the frame's length, so ASan
 * sees any write past the end, and must fail cleanly one byte short.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nd_proto.h"
#include "nd_ticket.h"

/* Room for the largest frame any encoder may produce. */
#define FRAME_CAP (ND_HDR_LEN + ND_FRAME_MAX)

static uint8_t s_frame[FRAME_CAP];
/* The body check_hdr() hands the writer: any bytes will do. */
static const uint8_t s_zero[ND_FRAME_MAX];

/* An encoder under test, with its arguments bound in arg. */
typedef long (*encode_fn)(void *buf, size_t cap, const void *arg);

/*
 * Encodes with enc and checks that the frame is exactly type, then body
 * (len bytes).  The encoder writes into a heap buffer of exactly that size,
 * so ASan catches any write past it; one byte less must give -EMSGSIZE.
 */
static void
expect_frame(encode_fn enc, const void *arg, uint8_t type, const uint8_t *body,
             size_t len)
{
    size_t want = ND_HDR_LEN + len;
    uint8_t *buf = malloc(want);
    long n;

    FUZZ_ASSERT(buf != NULL);
    n = enc(buf, want, arg);
    FUZZ_ASSERT_MSG(n == (long)want, "encoded %ld bytes, decoded %zu", n, want);
    FUZZ_ASSERT(nd_proto_get_be(buf, 4) == len);
    FUZZ_ASSERT(buf[4] == ND_PROTO_VERSION && buf[5] == type);
    FUZZ_ASSERT(buf[6] == 0 && buf[7] == 0);
    FUZZ_ASSERT(len == 0 || memcmp(buf + ND_HDR_LEN, body, len) == 0);
    free(buf);

    buf = malloc(want - 1);
    FUZZ_ASSERT(buf != NULL);
    FUZZ_ASSERT(enc(buf, want - 1, arg) == -EMSGSIZE);
    free(buf);
}

/* Draws values from the input for the encode-then-decode checks. */
struct draw {
    const uint8_t *p;
    size_t n;
};

static uint64_t
draw_int(struct draw *d, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes && d->n > 0; i++, d->p++, d->n--)
        v = v << 8 | *d->p;
    return v;
}

/* Copies up to max bytes (stopping after a NUL, or at a 0xff marker that
 * ends a string early) into out, NUL-terminated. */
static size_t
draw_str(struct draw *d, char *out, size_t max)
{
    size_t n = 0;

    while (n < max && d->n > 0 && *d->p != 0xff) {
        out[n++] = (char)*d->p;
        d->p++, d->n--;
    }
    if (d->n > 0 && *d->p == 0xff)
        d->p++, d->n--;
    out[n] = '\0';
    return strlen(out);
}

/* ---- the header ---------------------------------------------------- */

static void
check_hdr(const uint8_t *data)
{
    struct nd_hdr h;
    uint8_t again[ND_HDR_LEN];
    int rc = nd_proto_hdr_decode(data, &h), want;
    struct nd_wbuf w;

    /* h is filled on every path: it must say what the bytes say. */
    nd_proto_put_be(again, h.len, 4);
    again[4] = h.version;
    again[5] = h.type;
    nd_proto_put_be(again + 6, h.flags, 2);
    FUZZ_ASSERT(memcmp(again, data, ND_HDR_LEN) == 0);
    want = h.version != ND_PROTO_VERSION ? -EPROTONOSUPPORT
           : h.len > ND_FRAME_MAX        ? -EMSGSIZE
           : h.flags != 0                ? -EBADMSG
                                         : 0;
    FUZZ_ASSERT_MSG(rc == want, "rc %d, want %d", rc, want);
    FUZZ_ASSERT(nd_proto_type_name(h.type) != NULL);
    if (rc < 0)
        return;
    /* The writer makes the same header for a body of that length. */
    nd_wbuf_init(&w, s_frame, sizeof(s_frame), h.type);
    nd_wbuf_bytes(&w, s_zero, h.len);
    FUZZ_ASSERT(nd_wbuf_finish(&w) == (long)(ND_HDR_LEN + h.len));
    FUZZ_ASSERT(memcmp(s_frame, data, ND_HDR_LEN) == 0);
}

/* ---- requests ------------------------------------------------------ */

static bool
is_request(uint8_t type)
{
    return type == ND_T_PUT || type == ND_T_GET || type == ND_T_LIST ||
           type == ND_T_STAT || type == ND_T_MKDIR || type == ND_T_REMOVE ||
           type == ND_T_RENAME;
}

static uint32_t
allowed_flags(uint8_t type)
{
    switch (type) {
    case ND_T_PUT:
        return ND_PUT_MTIME | ND_PUT_RESUME;
    case ND_T_GET:
        return ND_GET_RANGE;
    case ND_T_MKDIR:
        return ND_MKDIR_PARENTS;
    case ND_T_REMOVE:
        return ND_REMOVE_RECURSIVE;
    default:
        return 0;
    }
}

static bool
fileinfo_ok(const struct nd_fileinfo *fi)
{
    return fi->has_md5 <= 1 && fi->mtime_nsec <= 999999999u &&
           fi->size <= (uint64_t)INT64_MAX && fi->offset <= fi->size;
}

/* Encodes req with the encoder the client uses for its type. */
static long
req_encode(void *buf, size_t cap, const void *arg)
{
    const struct nd_req *req = arg;

    switch (req->type) {
    case ND_T_PUT:
        return nd_proto_put_encode(buf, cap, req->flags, req->size, req->path,
                                   req->mtime_sec, req->mtime_nsec);
    case ND_T_GET:
        return nd_proto_get_encode(buf, cap, req->path,
                                   (req->flags & ND_GET_RANGE) != 0 ? &req->rg
                                                                    : NULL);
    case ND_T_LIST:
    case ND_T_STAT:
        return nd_proto_req_encode(buf, cap, req->type, 0, req->path);
    default:
        return nd_proto_fsreq_encode(buf, cap, req->type, req->flags, req->path,
                                     req->path2);
    }
}

/* What every successfully decoded request must look like. */
static void
check_req_fields(const struct nd_req *req)
{
    static const struct nd_fileinfo zero;

    FUZZ_ASSERT(is_request(req->type));
    FUZZ_ASSERT((req->flags & ~allowed_flags(req->type)) == 0);
    FUZZ_ASSERT(req->path_len <= ND_PATH_MAX &&
                strlen(req->path) == req->path_len);
    FUZZ_ASSERT(req->path2_len <= ND_PATH_MAX &&
                strlen(req->path2) == req->path2_len);
    FUZZ_ASSERT(req->type == ND_T_RENAME || req->path2_len == 0);
    FUZZ_ASSERT(req->type == ND_T_PUT || req->size == 0);
    FUZZ_ASSERT(req->mtime_nsec <= 999999999u);
    if (req->type != ND_T_PUT || (req->flags & ND_PUT_MTIME) == 0)
        FUZZ_ASSERT(req->mtime_sec == 0 && req->mtime_nsec == 0);
    FUZZ_ASSERT((req->flags & ND_PUT_RESUME) == 0 || req->type != ND_T_PUT ||
                (req->flags & ND_PUT_MTIME) != 0);
    if (req->type == ND_T_GET && (req->flags & ND_GET_RANGE) != 0)
        FUZZ_ASSERT(fileinfo_ok(&req->rg));
    else
        FUZZ_ASSERT(memcmp(&req->rg, &zero, sizeof(zero)) == 0);
}

static void
check_req(uint8_t type, const uint8_t *body, size_t len)
{
    static struct nd_req req;
    int rc = nd_proto_req_decode(type, body, len, &req);

    if (!is_request(type)) {
        FUZZ_ASSERT(rc == -EBADMSG);
        return;
    }
    FUZZ_ASSERT_MSG(rc == 0 || rc == -EBADMSG || rc == -EINVAL ||
                        rc == -ENAMETOOLONG,
                    "rc %d", rc);
    if (rc != 0)
        return;
    check_req_fields(&req);
    expect_frame(req_encode, &req, type, body, len);
}

/* decode(encode(x)) == x for a request drawn from the input, of type pick
 * when that is a request type, else of one pick selects; a request the
 * decoder refuses must break a rule the header documents. */
static void
check_req_reverse(uint8_t pick, const uint8_t *body, size_t len)
{
    static const uint8_t types[] = {ND_T_PUT,   ND_T_GET,   ND_T_LIST,
                                    ND_T_STAT,  ND_T_MKDIR, ND_T_REMOVE,
                                    ND_T_RENAME};
    static struct nd_req in, out;
    struct draw d = {body, len};
    long n;
    int rc;
    bool valid;

    memset(&in, 0, sizeof(in));
    in.type = is_request(pick) ? pick : types[pick % sizeof(types)];
    in.flags = (uint32_t)draw_int(&d, 1);
    if (in.type == ND_T_GET)
        in.flags &= ND_GET_RANGE; /* the encoder sets only this bit */
    if (in.type == ND_T_LIST || in.type == ND_T_STAT)
        in.flags = 0; /* nd_proto_req_encode() always sends 0 */
    if (in.type == ND_T_PUT) {
        in.size = draw_int(&d, 8);
        if ((in.flags & ND_PUT_MTIME) != 0) {
            in.mtime_sec = (int64_t)draw_int(&d, 8);
            in.mtime_nsec = (uint32_t)draw_int(&d, 4);
        }
    }
    if (in.type == ND_T_GET && (in.flags & ND_GET_RANGE) != 0) {
        in.rg.size = draw_int(&d, 8);
        in.rg.mtime_sec = (int64_t)draw_int(&d, 8);
        in.rg.mtime_nsec = (uint32_t)draw_int(&d, 4);
        in.rg.offset = draw_int(&d, 8);
        in.rg.has_md5 = (uint8_t)draw_int(&d, 1);
        for (int i = 0; i < ND_MD5_LEN; i++)
            in.rg.md5[i] = (uint8_t)draw_int(&d, 1);
    }
    in.path_len = draw_str(&d, in.path, ND_PATH_MAX);
    if (in.type == ND_T_RENAME)
        in.path2_len = draw_str(&d, in.path2, ND_PATH_MAX);

    n = req_encode(s_frame, sizeof(s_frame), &in);
    FUZZ_ASSERT_MSG(n > ND_HDR_LEN, "encode gave %ld", n);
    FUZZ_ASSERT(nd_proto_get_be(s_frame, 4) == (uint64_t)n - ND_HDR_LEN);
    rc = nd_proto_req_decode(in.type, s_frame + ND_HDR_LEN,
                             (size_t)n - ND_HDR_LEN, &out);
    valid = (in.flags & ~allowed_flags(in.type)) == 0 &&
            in.mtime_nsec <= 999999999u &&
            (in.type != ND_T_PUT || (in.flags & ND_PUT_RESUME) == 0 ||
             (in.flags & ND_PUT_MTIME) != 0) &&
            (in.type != ND_T_GET || (in.flags & ND_GET_RANGE) == 0 ||
             fileinfo_ok(&in.rg));
    FUZZ_ASSERT_MSG(valid ? rc == 0 : rc == -EINVAL, "rc %d valid %d", rc,
                    valid);
    if (rc != 0)
        return;
    FUZZ_ASSERT(out.type == in.type && out.flags == in.flags);
    FUZZ_ASSERT(out.size == in.size && out.mtime_sec == in.mtime_sec &&
                out.mtime_nsec == in.mtime_nsec);
    FUZZ_ASSERT(memcmp(&out.rg, &in.rg, sizeof(in.rg)) == 0);
    FUZZ_ASSERT(out.path_len == in.path_len && strcmp(out.path, in.path) == 0);
    FUZZ_ASSERT(out.path2_len == in.path2_len &&
                strcmp(out.path2, in.path2) == 0);
}

/* ---- replies ------------------------------------------------------- */

static void
check_hello(const uint8_t *body, size_t len)
{
    int rc = nd_proto_hello_decode(body, len);

    FUZZ_ASSERT_MSG(rc == ND_PROTO_VERSION || rc == -EBADMSG ||
                        rc == -EPROTONOSUPPORT,
                    "rc %d", rc);
    if (rc == -EBADMSG)
        return;
    FUZZ_ASSERT(len == 8 && memcmp(body, ND_MAGIC, 4) == 0);
    if (rc == ND_PROTO_VERSION)
        FUZZ_ASSERT(nd_proto_get_be(body + 4, 2) <= ND_PROTO_VERSION &&
                    nd_proto_get_be(body + 6, 2) >= ND_PROTO_VERSION);
}

struct error_arg {
    int code;
    const char *msg;
};

static long
error_encode(void *buf, size_t cap, const void *arg)
{
    const struct error_arg *a = arg;

    return nd_proto_error_encode(buf, cap, (enum nd_status)a->code, a->msg);
}

/* ERROR: the message lands in the caller's buffer of any size, cleaned of
 * control bytes, so each cap gets a heap buffer of exactly that size. */
static void
check_error(const uint8_t *body, size_t len)
{
    static const size_t caps[] = {0, 1, 2, 16, 256, ND_MSG_MAX + 1};
    size_t n = len >= 4 ? (size_t)nd_proto_get_be(body + 2, 2) : 0;
    bool whole = len >= 4 && len == 4 + n;
    int first = 0;

    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        size_t cap = caps[i];
        char *msg = malloc(cap > 0 ? cap : 1);
        int rc;

        FUZZ_ASSERT(msg != NULL);
        rc = nd_proto_error_decode(body, len, cap > 0 ? msg : NULL, cap);
        if (i == 0)
            first = rc;
        /* The answer does not depend on the room for the message. */
        FUZZ_ASSERT(rc == first);
        FUZZ_ASSERT_MSG(rc == -EBADMSG || (rc >= 1 && rc <= 65535), "rc %d",
                        rc);
        if (rc > 0) {
            size_t got;

            FUZZ_ASSERT(whole);
            FUZZ_ASSERT(nd_proto_status_str(rc) != NULL);
            FUZZ_ASSERT((nd_proto_status_name(rc) != NULL) ==
                        (rc <= ND_STATUS_MAX));
            if (cap == 0) {
                free(msg);
                continue;
            }
            got = strnlen(msg, cap);
            FUZZ_ASSERT(got < cap);
            FUZZ_ASSERT(got == (n < cap - 1 ? n : cap - 1));
            for (size_t k = 0; k < got; k++) {
                unsigned char c = (unsigned char)msg[k];

                FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
                FUZZ_ASSERT(c == '?' || c == body[4 + k]);
            }
            /* A clean message of legal length encodes back to the body. */
            if (cap == ND_MSG_MAX + 1 && n <= ND_MSG_MAX &&
                memcmp(msg, body + 4, n) == 0) {
                struct error_arg a = {rc, msg};

                expect_frame(error_encode, &a, ND_T_ERROR, body, len);
            }
        }
        free(msg);
    }
}

static long
digest_encode(void *buf, size_t cap, const void *arg)
{
    return nd_proto_digest_encode(buf, cap, arg);
}

static void
check_digest(const uint8_t *body, size_t len)
{
    uint8_t md5[ND_MD5_LEN];
    int rc = nd_proto_digest_decode(body, len, md5);

    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    if (rc == 0)
        expect_frame(digest_encode, md5, ND_T_DIGEST, body, len);
}

static long
file_encode(void *buf, size_t cap, const void *arg)
{
    return nd_proto_file_encode(buf, cap, arg);
}

static void
check_file(const uint8_t *body, size_t len)
{
    struct nd_fileinfo fi;
    int rc = nd_proto_file_decode(body, len, &fi);

    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    if (rc != 0)
        return;
    FUZZ_ASSERT(len == ND_FILEINFO_LEN && fileinfo_ok(&fi));
    expect_frame(file_encode, &fi, ND_T_FILE, body, len);
}

/* The resumption frames (nd_ticket): exact lengths, and what parses
 * encodes back to the same bytes. */
struct ticket_arg {
    uint8_t type;
    uint32_t life;
    uint8_t id[ND_TICKET_ID_LEN], nonce[ND_TICKET_NONCE_LEN];
    uint8_t proof[ND_SCRAM_KEY_LEN];
};

static long
ticket_encode(void *buf, size_t cap, const void *arg)
{
    const struct ticket_arg *a = arg;

    switch (a->type) {
    case ND_T_TICKET:
        return nd_ticket_encode(buf, cap, a->life, a->id);
    case ND_T_RESUME:
        return nd_ticket_resume_encode(buf, cap, a->id, a->nonce, a->proof);
    default:
        return nd_ticket_resumed_encode(buf, cap, a->proof);
    }
}

static void
check_ticket(uint8_t type, const uint8_t *body, size_t len)
{
    struct ticket_arg a = {.type = type};
    size_t want;
    int rc;

    switch (type) {
    case ND_T_TICKET:
        /* The client's request is empty; the server's reply is not. */
        rc = nd_ticket_decode(body, len, &a.life, a.id);
        want = 4 + ND_TICKET_ID_LEN;
        break;
    case ND_T_RESUME:
        rc = nd_ticket_resume_decode(body, len, a.id, a.nonce, a.proof);
        want = ND_TICKET_ID_LEN + ND_TICKET_NONCE_LEN + ND_SCRAM_KEY_LEN;
        break;
    default:
        rc = nd_ticket_resumed_decode(body, len, a.proof);
        want = ND_SCRAM_KEY_LEN;
        break;
    }
    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    FUZZ_ASSERT((rc == 0) == (len == want));
    if (rc == 0)
        expect_frame(ticket_encode, &a, type, body, len);
}

struct u64_arg {
    uint8_t type;
    uint64_t v;
};

static long
u64_encode(void *buf, size_t cap, const void *arg)
{
    const struct u64_arg *a = arg;

    return a->type == ND_T_READY ? nd_proto_ready_encode(buf, cap, a->v)
                                 : nd_proto_end_encode(buf, cap, a->v);
}

static void
check_u64(uint8_t type, const uint8_t *body, size_t len)
{
    struct u64_arg a = {type, 0};
    int rc = type == ND_T_READY ? nd_proto_ready_decode(body, len, &a.v)
                                : nd_proto_end_decode(body, len, &a.v);

    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    FUZZ_ASSERT((rc == 0) == (len == 8));
    if (rc == 0)
        expect_frame(u64_encode, &a, type, body, len);
}

struct putok_arg {
    uint64_t size;
    uint8_t md5[ND_MD5_LEN];
};

static long
putok_encode(void *buf, size_t cap, const void *arg)
{
    const struct putok_arg *a = arg;

    return nd_proto_putok_encode(buf, cap, a->size, a->md5);
}

static long
empty_ok_encode(void *buf, size_t cap, const void *arg)
{
    (void)arg;
    return nd_proto_empty_encode(buf, cap, ND_T_OK);
}

/* OK: a bare OK (MKDIR, REMOVE, RENAME, WELCOME's sibling) or a PUT's. */
static void
check_ok(const uint8_t *body, size_t len)
{
    struct putok_arg a;
    int rc = nd_proto_putok_decode(body, len, &a.size, a.md5);

    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    FUZZ_ASSERT((rc == 0) == (len == 8 + ND_MD5_LEN));
    if (rc == 0)
        expect_frame(putok_encode, &a, ND_T_OK, body, len);
    if (len == 0)
        expect_frame(empty_ok_encode, NULL, ND_T_OK, body, len);
}

static long
statinfo_encode(void *buf, size_t cap, const void *arg)
{
    return nd_proto_statinfo_encode(buf, cap, arg);
}

static void
check_statinfo(const uint8_t *body, size_t len)
{
    static const uint8_t zero[ND_MD5_LEN];
    struct nd_statinfo si;
    uint8_t *want;
    int rc = nd_proto_statinfo_decode(body, len, &si);

    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    if (rc != 0)
        return;
    FUZZ_ASSERT(len == ND_STATINFO_LEN && si.has_md5 <= 1);
    /* The encoder sends zeroes for the digest when has_md5 is 0; the
     * decoder does not insist on them (the client ignores the bytes), so
     * the round trip holds with those bytes zeroed. */
    want = malloc(len);
    FUZZ_ASSERT(want != NULL);
    memcpy(want, body, len);
    if (si.has_md5 == 0)
        memcpy(want + len - ND_MD5_LEN, zero, ND_MD5_LEN);
    expect_frame(statinfo_encode, &si, ND_T_STATINFO, want, len);
    free(want);
}

struct entries_arg {
    const struct nd_entry *e;
    uint32_t n;
    uint32_t count;
};

static long
entries_encode(void *buf, size_t cap, const void *arg)
{
    const struct entries_arg *a = arg;
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    for (uint32_t i = 0; i < a->n; i++) {
        int rc = nd_proto_entries_add(&w, &a->e[i]);

        if (rc < 0)
            return rc;
    }
    return nd_proto_entries_finish(&w, a->count);
}

/* The entries of one body; each takes at least 20 bytes, so a body of
 * ND_FRAME_MAX holds fewer than this. */
#define ENTRIES_MAX (ND_FRAME_MAX / 20 + 1)

/* True for a name the client may join to a local path. */
static bool
entry_name_ok(const char *name, size_t n)
{
    return n >= 1 && n <= ND_NAME_MAX && strlen(name) == n &&
           strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

/* ENTRIES, walked as the client's ls does: count, then entries until the
 * count or an error, and nothing may follow. */
static void
check_entries(const uint8_t *body, size_t len)
{
    static struct nd_entry e[ENTRIES_MAX];
    struct entries_arg a = {e, 0, 0};
    size_t off = 4;
    uint32_t count;
    int rc = nd_proto_entries_count(body, len, &count);

    FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
    FUZZ_ASSERT((rc == 0) == (len >= 4));
    if (rc != 0)
        return;
    a.count = count;
    while (a.n < count && a.n < ENTRIES_MAX) {
        size_t before = off;

        rc = nd_proto_entries_next(body, len, &off, &e[a.n]);
        FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
        if (rc != 0) {
            FUZZ_ASSERT(off == before); /* a failure consumes nothing */
            break;
        }
        FUZZ_ASSERT(off > before && off <= len);
        FUZZ_ASSERT(off - before == 19 + e[a.n].name_len);
        FUZZ_ASSERT(entry_name_ok(e[a.n].name, e[a.n].name_len));
        a.n++;
    }
    /* The client accepts the frame only when every announced entry decoded
     * and nothing is left over: then it re-encodes to the same bytes. */
    if (rc == 0 && a.n == count && off == len)
        expect_frame(entries_encode, &a, ND_T_ENTRIES, body, len);
}

/* An entry drawn from the input, whose name may be one byte over the
 * limit, which struct nd_entry cannot hold. */
struct rev_entry {
    uint8_t type;
    uint64_t size;
    int64_t mtime;
    size_t name_len;
    char name[ND_NAME_MAX + 2];
};

/* decode(encode(x)) for entries drawn from the input, written with the raw
 * writer so that names of every length up to ND_NAME_MAX + 1 go out: any
 * name a directory could hold must come back, and the others (empty, '/',
 * ".", "..", too long) must be refused. */
static void
check_entries_reverse(const uint8_t *body, size_t len)
{
    static struct rev_entry e[8];
    struct draw d = {body, len};
    struct nd_wbuf w;
    size_t off = 0, n = 0;
    uint32_t count;
    long flen;

    while (n < 8 && d.n > 0) {
        struct rev_entry *x = &e[n++];

        x->type = (uint8_t)draw_int(&d, 1);
        x->size = draw_int(&d, 8);
        x->mtime = (int64_t)draw_int(&d, 8);
        x->name_len = draw_str(&d, x->name, ND_NAME_MAX + 1);
    }
    nd_wbuf_init(&w, s_frame, sizeof(s_frame), ND_T_ENTRIES);
    nd_wbuf_u32(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        nd_wbuf_u8(&w, e[i].type);
        nd_wbuf_u64(&w, e[i].size);
        nd_wbuf_u64(&w, (uint64_t)e[i].mtime);
        nd_wbuf_str(&w, e[i].name, e[i].name_len);
    }
    flen = nd_wbuf_finish(&w);
    FUZZ_ASSERT_MSG(flen > 0, "encode gave %ld", flen);
    FUZZ_ASSERT(nd_proto_entries_count(s_frame + ND_HDR_LEN,
                                       (size_t)flen - ND_HDR_LEN, &count) == 0);
    FUZZ_ASSERT(count == n);
    for (size_t i = 0; i < n; i++) {
        struct nd_entry got;
        int rc = nd_proto_entries_next(s_frame + ND_HDR_LEN,
                                       (size_t)flen - ND_HDR_LEN, &off, &got);

        if (!entry_name_ok(e[i].name, e[i].name_len)) {
            FUZZ_ASSERT_MSG(rc == -EBADMSG, "a name of %zu bytes decoded",
                            e[i].name_len);
            return;
        }
        FUZZ_ASSERT(rc == 0);
        FUZZ_ASSERT(got.type == e[i].type && got.size == e[i].size &&
                    got.mtime == e[i].mtime);
        FUZZ_ASSERT(got.name_len == e[i].name_len &&
                    strcmp(got.name, e[i].name) == 0);
    }
    FUZZ_ASSERT(off == (size_t)flen - ND_HDR_LEN || n == 0);
}

/* decode(encode(x)) for a FILE and a STATINFO drawn from the input. */
static void
check_fileinfo_reverse(const uint8_t *body, size_t len)
{
    struct draw d = {body, len};
    struct nd_fileinfo fi, fo;
    struct nd_statinfo si, so;
    long n;
    int rc;

    /* memcmp() below compares padding too, so it must be zero in all. */
    memset(&fi, 0, sizeof(fi));
    memset(&fo, 0, sizeof(fo));
    memset(&so, 0, sizeof(so));
    fi.size = draw_int(&d, 8);
    fi.mtime_sec = (int64_t)draw_int(&d, 8);
    fi.mtime_nsec = (uint32_t)draw_int(&d, 4);
    fi.offset = draw_int(&d, 8);
    fi.has_md5 = (uint8_t)draw_int(&d, 1);
    for (int i = 0; i < ND_MD5_LEN; i++)
        fi.md5[i] = (uint8_t)draw_int(&d, 1);
    n = nd_proto_file_encode(s_frame, sizeof(s_frame), &fi);
    FUZZ_ASSERT(n == ND_HDR_LEN + ND_FILEINFO_LEN);
    rc = nd_proto_file_decode(s_frame + ND_HDR_LEN, ND_FILEINFO_LEN, &fo);
    FUZZ_ASSERT(rc == (fileinfo_ok(&fi) ? 0 : -EBADMSG));
    if (rc == 0)
        FUZZ_ASSERT(memcmp(&fi, &fo, sizeof(fi)) == 0);

    memset(&si, 0, sizeof(si));
    si.type = (uint8_t)fi.mtime_nsec;
    si.size = fi.size;
    si.mtime = fi.mtime_sec;
    si.has_md5 = fi.has_md5 & 1;
    memcpy(si.md5, fi.md5, ND_MD5_LEN);
    if (!si.has_md5)
        memset(si.md5, 0, sizeof(si.md5));
    n = nd_proto_statinfo_encode(s_frame, sizeof(s_frame), &si);
    FUZZ_ASSERT(n == ND_HDR_LEN + ND_STATINFO_LEN);
    FUZZ_ASSERT(nd_proto_statinfo_decode(s_frame + ND_HDR_LEN, ND_STATINFO_LEN,
                                         &so) == 0);
    FUZZ_ASSERT(memcmp(&si, &so, sizeof(si)) == 0);
}

struct raw_arg {
    uint8_t type;
    const uint8_t *body;
    size_t len;
};

static long
raw_encode(void *buf, size_t cap, const void *arg)
{
    const struct raw_arg *a = arg;

    return nd_proto_raw_encode(buf, cap, a->type, a->body, a->len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *body = data + ND_HDR_LEN;
    size_t len;
    uint8_t type;

    if (size < ND_HDR_LEN || size - ND_HDR_LEN > ND_FRAME_MAX)
        return 0;
    len = size - ND_HDR_LEN;
    type = data[5];
    check_hdr(data);
    check_req(type, body, len);
    switch (type) {
    case ND_T_HELLO:
        check_hello(body, len);
        break;
    case ND_T_OK:
        check_ok(body, len);
        break;
    case ND_T_ERROR:
        check_error(body, len);
        break;
    case ND_T_DIGEST:
        check_digest(body, len);
        break;
    case ND_T_AUTH:
    case ND_T_CHALLENGE:
    case ND_T_PROOF:
    case ND_T_WELCOME: {
        /* SCRAM messages travel as opaque bodies (fuzz_scram parses
         * them); the framing must carry any bytes unchanged. */
        struct raw_arg a = {type, body, len};

        expect_frame(raw_encode, &a, type, body, len);
        break;
    }
    case ND_T_READY:
    case ND_T_END:
        check_u64(type, body, len);
        break;
    case ND_T_TICKET:
    case ND_T_RESUME:
    case ND_T_RESUMED:
        check_ticket(type, body, len);
        break;
    case ND_T_FILE:
        check_file(body, len);
        break;
    case ND_T_ENTRIES:
        check_entries(body, len);
        break;
    case ND_T_STATINFO:
        check_statinfo(body, len);
        break;
    default:
        break;
    }
    /* The other direction, with values drawn from the body: a request of
     * the frame's own type, entries for ENTRIES, FILE and STATINFO for
     * those; any other frame lets its flags byte pick one. */
    if (is_request(type))
        check_req_reverse(type, body, len);
    else if (type == ND_T_ENTRIES)
        check_entries_reverse(body, len);
    else if (type == ND_T_FILE || type == ND_T_STATINFO)
        check_fileinfo_reverse(body, len);
    else if (data[7] % 3 == 0)
        check_req_reverse(data[6], body, len);
    else if (data[7] % 3 == 1)
        check_entries_reverse(body, len);
    else
        check_fileinfo_reverse(body, len);
    return 0;
}
