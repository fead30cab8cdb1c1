/*
 * nd_proto: encoders and decoders for the netdisk wire format.  Every length
 * is checked against the bytes actually present before it is used, and no
 * function here allocates, so a hostile frame can at worst be refused.
 */
#include "nd_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

void
nd_proto_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t
nd_proto_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int
nd_proto_hdr_decode(const uint8_t buf[ND_HDR_LEN], struct nd_hdr *h)
{
    h->len = (uint32_t)nd_proto_get_be(buf, 4);
    h->version = buf[4];
    h->type = buf[5];
    h->flags = (uint16_t)nd_proto_get_be(buf + 6, 2);
    if (h->version != ND_PROTO_VERSION)
        return -EPROTONOSUPPORT;
    if (h->len > ND_FRAME_MAX)
        return -EMSGSIZE;
    if (h->flags != 0)
        return -EBADMSG;
    return 0;
}

void
nd_wbuf_init(struct nd_wbuf *w, void *buf, size_t cap, uint8_t type)
{
    w->p = buf;
    w->cap = cap;
    w->len = ND_HDR_LEN;
    w->err = 0;
    if (cap < ND_HDR_LEN) {
        w->err = -EMSGSIZE;
        return;
    }
    memset(w->p, 0, ND_HDR_LEN);
    w->p[4] = ND_PROTO_VERSION;
    w->p[5] = type;
}

/* Reserves n bytes of body; NULL (and err set) when they would not fit. */
static uint8_t *
wbuf_room(struct nd_wbuf *w, size_t n)
{
    uint8_t *at;

    if (w->err != 0)
        return NULL;
    if (n > w->cap - w->len || w->len - ND_HDR_LEN + n > ND_FRAME_MAX) {
        w->err = -EMSGSIZE;
        return NULL;
    }
    at = w->p + w->len;
    w->len += n;
    return at;
}

static void
wbuf_int(struct nd_wbuf *w, uint64_t v, int n)
{
    uint8_t *at = wbuf_room(w, (size_t)n);

    if (at != NULL)
        nd_proto_put_be(at, v, n);
}

void
nd_wbuf_u8(struct nd_wbuf *w, uint8_t v)
{
    wbuf_int(w, v, 1);
}

void
nd_wbuf_u16(struct nd_wbuf *w, uint16_t v)
{
    wbuf_int(w, v, 2);
}

void
nd_wbuf_u32(struct nd_wbuf *w, uint32_t v)
{
    wbuf_int(w, v, 4);
}

void
nd_wbuf_u64(struct nd_wbuf *w, uint64_t v)
{
    wbuf_int(w, v, 8);
}

void
nd_wbuf_bytes(struct nd_wbuf *w, const void *p, size_t n)
{
    uint8_t *at = wbuf_room(w, n);

    if (at != NULL && n > 0)
        memcpy(at, p, n);
}

void
nd_wbuf_str(struct nd_wbuf *w, const char *s, size_t n)
{
    if (n > UINT16_MAX) {
        if (w->err == 0)
            w->err = -EMSGSIZE;
        return;
    }
    nd_wbuf_u16(w, (uint16_t)n);
    nd_wbuf_bytes(w, s, n);
}

long
nd_wbuf_finish(struct nd_wbuf *w)
{
    if (w->err != 0)
        return w->err;
    nd_proto_put_be(w->p, w->len - ND_HDR_LEN, 4);
    return (long)w->len;
}

void
nd_rbuf_init(struct nd_rbuf *r, const void *body, size_t len)
{
    r->p = body;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

/* Consumes n bytes; NULL (and err set) when fewer remain. */
static const uint8_t *
rbuf_take(struct nd_rbuf *r, size_t n)
{
    const uint8_t *at;

    if (r->err != 0)
        return NULL;
    if (n > r->len - r->off) {
        r->err = -EBADMSG;
        return NULL;
    }
    at = r->p + r->off;
    r->off += n;
    return at;
}

static uint64_t
rbuf_int(struct nd_rbuf *r, int n)
{
    const uint8_t *at = rbuf_take(r, (size_t)n);

    return at != NULL ? nd_proto_get_be(at, n) : 0;
}

uint8_t
nd_rbuf_u8(struct nd_rbuf *r)
{
    return (uint8_t)rbuf_int(r, 1);
}

uint16_t
nd_rbuf_u16(struct nd_rbuf *r)
{
    return (uint16_t)rbuf_int(r, 2);
}

uint32_t
nd_rbuf_u32(struct nd_rbuf *r)
{
    return (uint32_t)rbuf_int(r, 4);
}

uint64_t
nd_rbuf_u64(struct nd_rbuf *r)
{
    return rbuf_int(r, 8);
}

void
nd_rbuf_bytes(struct nd_rbuf *r, void *out, size_t n)
{
    const uint8_t *at = rbuf_take(r, n);

    if (at != NULL)
        memcpy(out, at, n);
    else
        memset(out, 0, n);
}

const char *
nd_rbuf_str(struct nd_rbuf *r, size_t *n)
{
    size_t len = nd_rbuf_u16(r);
    const uint8_t *at = rbuf_take(r, len);

    *n = at != NULL ? len : 0;
    return (const char *)at;
}

int
nd_rbuf_done(const struct nd_rbuf *r)
{
    if (r->err != 0 || r->off != r->len)
        return -EBADMSG;
    return 0;
}

/* The flag bits a request type defines; every other bit must be zero. */
static uint32_t
req_flags_allowed(uint8_t type)
{
    switch (type) {
    case ND_T_MKDIR:
        return ND_MKDIR_PARENTS;
    case ND_T_REMOVE:
        return ND_REMOVE_RECURSIVE;
    case ND_T_PUT:
        return ND_PUT_MTIME | ND_PUT_RESUME;
    case ND_T_GET:
        return ND_GET_RANGE;
    default:
        return 0;
    }
}

/* Writes and reads the fields of a struct nd_fileinfo in wire order: the
 * FILE body, and the tail of a ranged GET. */
static void
fileinfo_put(struct nd_wbuf *w, const struct nd_fileinfo *fi)
{
    nd_wbuf_u64(w, fi->size);
    nd_wbuf_u64(w, (uint64_t)fi->mtime_sec);
    nd_wbuf_u32(w, fi->mtime_nsec);
    nd_wbuf_u64(w, fi->offset);
    nd_wbuf_u8(w, fi->has_md5);
    nd_wbuf_bytes(w, fi->md5, ND_MD5_LEN);
}

static void
fileinfo_get(struct nd_rbuf *r, struct nd_fileinfo *fi)
{
    fi->size = nd_rbuf_u64(r);
    fi->mtime_sec = (int64_t)nd_rbuf_u64(r);
    fi->mtime_nsec = nd_rbuf_u32(r);
    fi->offset = nd_rbuf_u64(r);
    fi->has_md5 = nd_rbuf_u8(r);
    nd_rbuf_bytes(r, fi->md5, ND_MD5_LEN);
}

/* True when a decoded nd_fileinfo holds values no file can have. */
static bool
fileinfo_bad(const struct nd_fileinfo *fi)
{
    return fi->has_md5 > 1 || fi->mtime_nsec > 999999999u ||
           fi->size > (uint64_t)INT64_MAX || fi->offset > fi->size;
}

/* Copies a request's path string of n bytes NUL-terminated into out (room
 * for ND_PATH_MAX + 1).  Returns 0, -ENAMETOOLONG or -EINVAL (a NUL). */
static int
req_path(const char *s, size_t n, char *out, size_t *out_len)
{
    if (n > ND_PATH_MAX)
        return -ENAMETOOLONG;
    if (n > 0 && memchr(s, '\0', n) != NULL)
        return -EINVAL;
    if (n > 0)
        memcpy(out, s, n);
    out[n] = '\0';
    *out_len = n;
    return 0;
}

int
nd_proto_req_decode(uint8_t type, const void *body, size_t len,
                    struct nd_req *req)
{
    struct nd_rbuf r;
    const char *path, *to = NULL;
    size_t n, to_n = 0;
    int rc;

    if (type != ND_T_PUT && type != ND_T_GET && type != ND_T_LIST &&
        type != ND_T_MKDIR && type != ND_T_REMOVE && type != ND_T_RENAME &&
        type != ND_T_STAT)
        return -EBADMSG;
    nd_rbuf_init(&r, body, len);
    memset(&req->rg, 0, sizeof(req->rg));
    req->type = type;
    req->flags = nd_rbuf_u32(&r);
    /* An unknown bit may announce fields this version cannot parse, so it
     * is refused before the rest of the body is read. */
    if ((req->flags & ~req_flags_allowed(type)) != 0)
        return -EINVAL;
    req->size = type == ND_T_PUT ? nd_rbuf_u64(&r) : 0;
    path = nd_rbuf_str(&r, &n);
    if (type == ND_T_RENAME)
        to = nd_rbuf_str(&r, &to_n);
    req->mtime_sec = 0;
    req->mtime_nsec = 0;
    if (type == ND_T_PUT && (req->flags & ND_PUT_MTIME) != 0) {
        req->mtime_sec = (int64_t)nd_rbuf_u64(&r);
        req->mtime_nsec = nd_rbuf_u32(&r);
    }
    if (type == ND_T_GET && (req->flags & ND_GET_RANGE) != 0)
        fileinfo_get(&r, &req->rg);
    if (nd_rbuf_done(&r) < 0)
        return -EBADMSG;
    if (type == ND_T_PUT && (req->flags & ND_PUT_RESUME) != 0 &&
        (req->flags & ND_PUT_MTIME) == 0)
        return -EINVAL;
    if (req->mtime_nsec > 999999999u || fileinfo_bad(&req->rg))
        return -EINVAL;
    req->path2[0] = '\0';
    req->path2_len = 0;
    rc = req_path(path, n, req->path, &req->path_len);
    if (rc == 0 && to != NULL)
        rc = req_path(to, to_n, req->path2, &req->path2_len);
    return rc;
}

long
nd_proto_req_encode(void *buf, size_t cap, uint8_t type, uint64_t size,
                    const char *path)
{
    struct nd_wbuf w;
    size_t n = strlen(path);

    if (n > ND_PATH_MAX)
        return -ENAMETOOLONG;
    nd_wbuf_init(&w, buf, cap, type);
    nd_wbuf_u32(&w, 0);
    if (type == ND_T_PUT)
        nd_wbuf_u64(&w, size);
    nd_wbuf_str(&w, path, n);
    return nd_wbuf_finish(&w);
}

long
nd_proto_put_encode(void *buf, size_t cap, uint32_t flags, uint64_t size,
                    const char *path, int64_t sec, uint32_t nsec)
{
    struct nd_wbuf w;
    size_t n = strlen(path);

    if (n > ND_PATH_MAX)
        return -ENAMETOOLONG;
    nd_wbuf_init(&w, buf, cap, ND_T_PUT);
    nd_wbuf_u32(&w, flags);
    nd_wbuf_u64(&w, size);
    nd_wbuf_str(&w, path, n);
    if ((flags & ND_PUT_MTIME) != 0) {
        nd_wbuf_u64(&w, (uint64_t)sec);
        nd_wbuf_u32(&w, nsec);
    }
    return nd_wbuf_finish(&w);
}

long
nd_proto_get_encode(void *buf, size_t cap, const char *path,
                    const struct nd_fileinfo *rg)
{
    struct nd_wbuf w;
    size_t n = strlen(path);

    if (n > ND_PATH_MAX)
        return -ENAMETOOLONG;
    nd_wbuf_init(&w, buf, cap, ND_T_GET);
    nd_wbuf_u32(&w, rg != NULL ? ND_GET_RANGE : 0);
    nd_wbuf_str(&w, path, n);
    if (rg != NULL)
        fileinfo_put(&w, rg);
    return nd_wbuf_finish(&w);
}

long
nd_proto_fsreq_encode(void *buf, size_t cap, uint8_t type, uint32_t flags,
                      const char *path, const char *to)
{
    struct nd_wbuf w;
    size_t n = strlen(path);
    size_t to_n = type == ND_T_RENAME && to != NULL ? strlen(to) : 0;

    if (n > ND_PATH_MAX || to_n > ND_PATH_MAX)
        return -ENAMETOOLONG;
    nd_wbuf_init(&w, buf, cap, type);
    nd_wbuf_u32(&w, flags);
    nd_wbuf_str(&w, path, n);
    if (type == ND_T_RENAME)
        nd_wbuf_str(&w, to != NULL ? to : "", to_n);
    return nd_wbuf_finish(&w);
}

long
nd_proto_hello_encode(void *buf, size_t cap)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_HELLO);
    nd_wbuf_bytes(&w, ND_MAGIC, 4);
    nd_wbuf_u16(&w, ND_PROTO_VERSION);
    nd_wbuf_u16(&w, ND_PROTO_VERSION);
    return nd_wbuf_finish(&w);
}

int
nd_proto_hello_decode(const void *body, size_t len)
{
    struct nd_rbuf r;
    char magic[4];
    uint16_t lo, hi;

    nd_rbuf_init(&r, body, len);
    nd_rbuf_bytes(&r, magic, 4);
    lo = nd_rbuf_u16(&r);
    hi = nd_rbuf_u16(&r);
    if (nd_rbuf_done(&r) < 0 || memcmp(magic, ND_MAGIC, 4) != 0 || lo > hi)
        return -EBADMSG;
    if (lo > ND_PROTO_VERSION || hi < ND_PROTO_VERSION)
        return -EPROTONOSUPPORT;
    return ND_PROTO_VERSION;
}

long
nd_proto_error_encode(void *buf, size_t cap, enum nd_status code,
                      const char *msg)
{
    struct nd_wbuf w;
    size_t n = strlen(msg);

    if (n > ND_MSG_MAX)
        n = ND_MSG_MAX;
    nd_wbuf_init(&w, buf, cap, ND_T_ERROR);
    nd_wbuf_u16(&w, (uint16_t)code);
    nd_wbuf_str(&w, msg, n);
    return nd_wbuf_finish(&w);
}

int
nd_proto_error_decode(const void *body, size_t len, char *msg, size_t msg_cap)
{
    struct nd_rbuf r;
    uint16_t code;
    const char *s;
    size_t n, i, o = 0;

    nd_rbuf_init(&r, body, len);
    code = nd_rbuf_u16(&r);
    s = nd_rbuf_str(&r, &n);
    if (nd_rbuf_done(&r) < 0 || code == 0)
        return -EBADMSG;
    /* Control bytes from the peer never reach the user's terminal. */
    for (i = 0; i < n && o + 1 < msg_cap; i++)
        msg[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (msg_cap > 0)
        msg[o] = '\0';
    return code;
}

long
nd_proto_digest_encode(void *buf, size_t cap, const uint8_t md5[ND_MD5_LEN])
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_DIGEST);
    nd_wbuf_u8(&w, ND_DIGEST_MD5);
    nd_wbuf_bytes(&w, md5, ND_MD5_LEN);
    return nd_wbuf_finish(&w);
}

int
nd_proto_digest_decode(const void *body, size_t len, uint8_t md5[ND_MD5_LEN])
{
    struct nd_rbuf r;
    uint8_t algo;

    nd_rbuf_init(&r, body, len);
    algo = nd_rbuf_u8(&r);
    nd_rbuf_bytes(&r, md5, ND_MD5_LEN);
    if (nd_rbuf_done(&r) < 0 || algo != ND_DIGEST_MD5)
        return -EBADMSG;
    return 0;
}

long
nd_proto_file_encode(void *buf, size_t cap, const struct nd_fileinfo *fi)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_FILE);
    fileinfo_put(&w, fi);
    return nd_wbuf_finish(&w);
}

int
nd_proto_file_decode(const void *body, size_t len, struct nd_fileinfo *fi)
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    fileinfo_get(&r, fi);
    if (nd_rbuf_done(&r) < 0 || fileinfo_bad(fi))
        return -EBADMSG;
    return 0;
}

/* READY and END: frames whose body is one u64. */
static long
u64_encode(void *buf, size_t cap, uint8_t type, uint64_t v)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, type);
    nd_wbuf_u64(&w, v);
    return nd_wbuf_finish(&w);
}

static int
u64_decode(const void *body, size_t len, uint64_t *v)
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    *v = nd_rbuf_u64(&r);
    return nd_rbuf_done(&r);
}

long
nd_proto_ready_encode(void *buf, size_t cap, uint64_t offset)
{
    return u64_encode(buf, cap, ND_T_READY, offset);
}

int
nd_proto_ready_decode(const void *body, size_t len, uint64_t *offset)
{
    return u64_decode(body, len, offset);
}

long
nd_proto_putok_encode(void *buf, size_t cap, uint64_t size,
                      const uint8_t md5[ND_MD5_LEN])
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_OK);
    nd_wbuf_u64(&w, size);
    nd_wbuf_bytes(&w, md5, ND_MD5_LEN);
    return nd_wbuf_finish(&w);
}

int
nd_proto_putok_decode(const void *body, size_t len, uint64_t *size,
                      uint8_t md5[ND_MD5_LEN])
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    *size = nd_rbuf_u64(&r);
    nd_rbuf_bytes(&r, md5, ND_MD5_LEN);
    return nd_rbuf_done(&r);
}

void
nd_proto_entries_begin(struct nd_wbuf *w)
{
    nd_wbuf_u32(w, 0);
}

int
nd_proto_entries_add(struct nd_wbuf *w, const struct nd_entry *e)
{
    size_t need = 1 + 8 + 8 + 2 + e->name_len;

    if (w->err != 0)
        return w->err;
    if (e->name_len > ND_NAME_MAX)
        return -ENAMETOOLONG;
    if (need > w->cap - w->len || w->len - ND_HDR_LEN + need > ND_FRAME_MAX)
        return -EMSGSIZE;
    nd_wbuf_u8(w, e->type);
    nd_wbuf_u64(w, e->size);
    nd_wbuf_u64(w, (uint64_t)e->mtime);
    nd_wbuf_str(w, e->name, e->name_len);
    return w->err;
}

long
nd_proto_entries_finish(struct nd_wbuf *w, uint32_t n)
{
    if (w->err == 0 && w->len >= ND_HDR_LEN + 4)
        nd_proto_put_be(w->p + ND_HDR_LEN, n, 4);
    return nd_wbuf_finish(w);
}

int
nd_proto_entries_count(const void *body, size_t len, uint32_t *n)
{
    if (len < 4)
        return -EBADMSG;
    *n = (uint32_t)nd_proto_get_be(body, 4);
    return 0;
}

int
nd_proto_entries_next(const void *body, size_t len, size_t *off,
                      struct nd_entry *e)
{
    struct nd_rbuf r;
    const char *name;
    size_t n;

    if (*off == 0)
        *off = 4;
    nd_rbuf_init(&r, body, len);
    r.off = *off;
    if (r.off > len)
        return -EBADMSG;
    e->type = nd_rbuf_u8(&r);
    e->size = nd_rbuf_u64(&r);
    e->mtime = (int64_t)nd_rbuf_u64(&r);
    name = nd_rbuf_str(&r, &n);
    /* "." and ".." name no entry of their own: a client joining them to
     * a local path would leave the directory being copied. */
    if (r.err != 0 || n == 0 || n > ND_NAME_MAX ||
        memchr(name, '\0', n) != NULL || memchr(name, '/', n) != NULL ||
        (n <= 2 && memcmp(name, "..", n) == 0))
        return -EBADMSG;
    memcpy(e->name, name, n);
    e->name[n] = '\0';
    e->name_len = n;
    *off = r.off;
    return 0;
}

long
nd_proto_statinfo_encode(void *buf, size_t cap, const struct nd_statinfo *si)
{
    static const uint8_t none[ND_MD5_LEN];
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, ND_T_STATINFO);
    nd_wbuf_u8(&w, si->type);
    nd_wbuf_u64(&w, si->size);
    nd_wbuf_u64(&w, (uint64_t)si->mtime);
    nd_wbuf_u8(&w, si->has_md5 ? 1 : 0);
    nd_wbuf_bytes(&w, si->has_md5 ? si->md5 : none, ND_MD5_LEN);
    return nd_wbuf_finish(&w);
}

int
nd_proto_statinfo_decode(const void *body, size_t len, struct nd_statinfo *si)
{
    struct nd_rbuf r;

    nd_rbuf_init(&r, body, len);
    si->type = nd_rbuf_u8(&r);
    si->size = nd_rbuf_u64(&r);
    si->mtime = (int64_t)nd_rbuf_u64(&r);
    si->has_md5 = nd_rbuf_u8(&r);
    nd_rbuf_bytes(&r, si->md5, ND_MD5_LEN);
    if (nd_rbuf_done(&r) < 0 || si->has_md5 > 1)
        return -EBADMSG;
    return 0;
}

long
nd_proto_end_encode(void *buf, size_t cap, uint64_t total)
{
    return u64_encode(buf, cap, ND_T_END, total);
}

int
nd_proto_end_decode(const void *body, size_t len, uint64_t *total)
{
    return u64_decode(body, len, total);
}

long
nd_proto_empty_encode(void *buf, size_t cap, uint8_t type)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, type);
    return nd_wbuf_finish(&w);
}

long
nd_proto_raw_encode(void *buf, size_t cap, uint8_t type, const void *body,
                    size_t len)
{
    struct nd_wbuf w;

    nd_wbuf_init(&w, buf, cap, type);
    nd_wbuf_bytes(&w, body, len);
    return nd_wbuf_finish(&w);
}

enum nd_status
nd_proto_status_from_errno(int neg_errno)
{
    switch (-neg_errno) {
    case 0:
        return ND_OK;
    case ENOENT:
        return ND_E_NOENT;
    case EACCES:
    case EPERM:
    case EXDEV: /* openat2(RESOLVE_BENEATH) refusing an escape */
    case ELOOP: /* a symlink where none may be */
        return ND_E_ACCESS;
    case EISDIR:
        return ND_E_ISDIR;
    case ENOTDIR:
        return ND_E_NOTDIR;
    case EEXIST:
    case ENOTEMPTY:
        return ND_E_EXIST;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return ND_E_NOSPC;
    case EIO:
    case EROFS:
        return ND_E_IO;
    case EMSGSIZE:
        return ND_E_TOOBIG;
    case EBADMSG:
    case EPROTO:
        return ND_E_PROTO;
    case EPROTONOSUPPORT:
        return ND_E_VERSION;
    case ENAMETOOLONG:
        return ND_E_NAMETOOLONG;
    case EINVAL:
        return ND_E_INVAL;
    case EBUSY:
    case EAGAIN:
        return ND_E_BUSY;
    case ESHUTDOWN:
        return ND_E_SHUTDOWN;
    case ND_ENOTREG:
        return ND_E_NOTREG;
    default:
        return ND_E_INTERNAL;
    }
}

const char *
nd_proto_status_str(int status)
{
    static const char *const names[] = {
        [ND_OK] = "success",
        [ND_E_PROTO] = "protocol error",
        [ND_E_VERSION] = "unsupported protocol version",
        [ND_E_NOENT] = "no such file or directory",
        [ND_E_ACCESS] = "path refused",
        [ND_E_ISDIR] = "is a directory",
        [ND_E_NOTDIR] = "not a directory",
        [ND_E_EXIST] = "already exists",
        [ND_E_NOSPC] = "no space left on server",
        [ND_E_IO] = "server I/O error",
        [ND_E_TOOBIG] = "frame too large",
        [ND_E_DIGEST] = "digest mismatch",
        [ND_E_BUSY] = "server busy",
        [ND_E_SHUTDOWN] = "server shutting down",
        [ND_E_NAMETOOLONG] = "name too long",
        [ND_E_INTERNAL] = "internal server error",
        [ND_E_INVAL] = "invalid path or argument",
        [ND_E_NOTREG] = "not a regular file",
        [ND_E_AUTH] = "authentication failed",
        [ND_E_BANNED] = "too many failed logins",
        [ND_E_PLAINTEXT] = "plaintext refused: use TLS",
    };

    if (status < 0 || status > ND_STATUS_MAX)
        return "unknown error";
    return names[status];
}

const char *
nd_proto_status_name(int status)
{
    /* In code order, 1 to ND_STATUS_MAX. */
    static const char *const names[] = {
        "PROTO",  "VERSION", "NOENT",    "ACCESS",      "ISDIR",
        "NOTDIR", "EXIST",   "NOSPC",    "IO",          "TOOBIG",
        "DIGEST", "BUSY",    "SHUTDOWN", "NAMETOOLONG", "INTERNAL",
        "INVAL",  "NOTREG",  "AUTH",     "BANNED",      "PLAINTEXT",
    };
    _Static_assert(sizeof(names) / sizeof(names[0]) == ND_STATUS_MAX,
                   "one name per status");

    return status >= 1 && status <= ND_STATUS_MAX ? names[status - 1] : NULL;
}

const char *
nd_proto_type_name(uint8_t type)
{
    switch (type) {
    case ND_T_HELLO:
        return "HELLO";
    case ND_T_OK:
        return "OK";
    case ND_T_ERROR:
        return "ERROR";
    case ND_T_DIGEST:
        return "DIGEST";
    case ND_T_AUTH:
        return "AUTH";
    case ND_T_CHALLENGE:
        return "CHALLENGE";
    case ND_T_PROOF:
        return "PROOF";
    case ND_T_WELCOME:
        return "WELCOME";
    case ND_T_TICKET:
        return "TICKET";
    case ND_T_RESUME:
        return "RESUME";
    case ND_T_RESUMED:
        return "RESUMED";
    case ND_T_PUT:
        return "PUT";
    case ND_T_READY:
        return "READY";
    case ND_T_GET:
        return "GET";
    case ND_T_FILE:
        return "FILE";
    case ND_T_LIST:
        return "LIST";
    case ND_T_ENTRIES:
        return "ENTRIES";
    case ND_T_END:
        return "END";
    case ND_T_STAT:
        return "STAT";
    case ND_T_STATINFO:
        return "STATINFO";
    case ND_T_MKDIR:
        return "MKDIR";
    case ND_T_REMOVE:
        return "REMOVE";
    case ND_T_RENAME:
        return "RENAME";
    default:
        return "?";
    }
}
