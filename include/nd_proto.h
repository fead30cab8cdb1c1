/*
 * nd_proto: the netdisk wire format, encode and decode only.
 *
 * Every control frame is an 8-byte header followed by a body:
 *
 *     u32 body_len | u8 version | u8 type | u16 flags (0)
 *
 * All integers are big-endian.  Strings are a u16 byte count followed by
 * that many bytes (no NUL).  File bytes are not framed: they follow a PUT
 * request's READY reply or a FILE reply as a raw run of exactly the declared
 * size, and a DIGEST frame (the trailer) comes after them.
 *
 * This module does no I/O and keeps no state, so it is safe from any thread.
 * docs/protocol.md is the normative description; keep the two in step.
 */
#ifndef ND_PROTO_H
#define ND_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define ND_PROTO_VERSION 1
#define ND_HDR_LEN 8
/* The largest body a peer may send; anything longer closes the session. */
#define ND_FRAME_MAX (256u * 1024u)
/* Longest path a request may carry, in bytes, and longest component. */
#define ND_PATH_MAX 4095
#define ND_NAME_MAX 255
/* Longest human message in an ERROR frame. */
#define ND_MSG_MAX 1024
#define ND_MD5_LEN 16
#define ND_MAGIC "NDSK"

enum nd_type {
    ND_T_HELLO = 0x01,     /* both ways: magic, versions */
    ND_T_OK = 0x02,        /* reply: u64 size, md5[16] (PUT); empty otherwise */
    ND_T_ERROR = 0x03,     /* reply: u16 code, str message */
    ND_T_DIGEST = 0x04,    /* trailer: u8 algorithm, md5[16] */
    ND_T_AUTH = 0x05,      /* request: SCRAM client-first-message */
    ND_T_CHALLENGE = 0x06, /* reply to AUTH: SCRAM server-first-message */
    ND_T_PROOF = 0x07,     /* request: SCRAM client-final-message */
    ND_T_WELCOME = 0x08,   /* reply to PROOF: SCRAM server-final-message */
    ND_T_TICKET = 0x09,    /* request: empty; reply: u32 lifetime, id[16] */
    ND_T_RESUME = 0x0a,    /* request: id[16], nonce[16], proof[32] */
    ND_T_RESUMED = 0x0b,   /* reply to RESUME: proof[32] */
    ND_T_PUT = 0x10,       /* request: u32 flags, u64 size, str path [mtime] */
    ND_T_READY = 0x11,     /* reply to PUT: u64 offset; send the rest now */
    ND_T_GET = 0x20,       /* request: u32 flags, str path [range] */
    ND_T_FILE = 0x21,      /* reply to GET: struct nd_fileinfo */
    ND_T_LIST = 0x30,      /* request: u32 flags, str path */
    ND_T_ENTRIES = 0x31,   /* reply to LIST: u32 n, n * entry */
    ND_T_END = 0x32,       /* reply to LIST: u64 total entries */
    ND_T_STAT = 0x40,      /* request: u32 flags, str path */
    ND_T_STATINFO = 0x41,  /* reply to STAT: type, size, mtime, md5 */
    ND_T_MKDIR = 0x50,     /* request: u32 flags, str path; bare OK */
    ND_T_REMOVE = 0x51,    /* request: u32 flags, str path; bare OK */
    ND_T_RENAME = 0x52,    /* request: u32 flags, str from, str to; OK */
};

/* The request flags PUT, GET, MKDIR and REMOVE may carry; every other bit
 * of every request's flags must be zero. */
#define ND_MKDIR_PARENTS 0x1u    /* MKDIR: create missing parents (-p) */
#define ND_REMOVE_RECURSIVE 0x1u /* REMOVE: a directory and all below it */
#define ND_PUT_MTIME 0x1u        /* PUT: i64 sec, u32 nsec follow the path */
#define ND_PUT_RESUME 0x2u       /* PUT: continue a partial (needs MTIME) */
#define ND_GET_RANGE 0x1u        /* GET: offset and validators follow */

/* The only digest algorithm of version 1. */
#define ND_DIGEST_MD5 1

/* Status codes carried by ERROR frames; 0 is never sent. */
enum nd_status {
    ND_OK = 0,
    ND_E_PROTO = 1,        /* malformed or unexpected frame */
    ND_E_VERSION = 2,      /* no common protocol version */
    ND_E_NOENT = 3,        /* no such file or directory */
    ND_E_ACCESS = 4,       /* path refused: outside the root or reserved */
    ND_E_ISDIR = 5,        /* is a directory */
    ND_E_NOTDIR = 6,       /* a path component is not a directory */
    ND_E_EXIST = 7,        /* name clash */
    ND_E_NOSPC = 8,        /* no space left on the server */
    ND_E_IO = 9,           /* server-side I/O error */
    ND_E_TOOBIG = 10,      /* frame or field over its limit */
    ND_E_DIGEST = 11,      /* digest mismatch: nothing was stored */
    ND_E_BUSY = 12,        /* server at its connection or queue limit */
    ND_E_SHUTDOWN = 13,    /* server is shutting down */
    ND_E_NAMETOOLONG = 14, /* path or component too long */
    ND_E_INTERNAL = 15,    /* a server bug or resource failure */
    ND_E_INVAL = 16,       /* invalid path or argument */
    ND_E_NOTREG = 17,      /* not a regular file */
    ND_E_AUTH = 18,        /* login failed, or a request before login */
    ND_E_BANNED = 19,      /* too many failed logins from this address */
    ND_E_PLAINTEXT = 20,   /* plaintext refused here: use TLS */
    ND_STATUS_MAX = 20,
};

struct nd_hdr {
    uint32_t len; /* body length, at most ND_FRAME_MAX */
    uint8_t version;
    uint8_t type;
    uint16_t flags;
};

/*
 * Decodes a frame header.  Returns 0, -EPROTONOSUPPORT when the version byte
 * is not ND_PROTO_VERSION, -EMSGSIZE when len exceeds ND_FRAME_MAX, or
 * -EBADMSG when the reserved flags are not zero.  h is filled in on every
 * path so that a caller can still report what it saw.
 */
int nd_proto_hdr_decode(const uint8_t buf[ND_HDR_LEN], struct nd_hdr *h);

/*
 * A bounded writer for one frame.  The header is reserved at the start of
 * buf; each put appends to the body.  Overflowing the buffer or the frame
 * limit sets err to -EMSGSIZE and turns later puts into no-ops, so callers
 * check once at nd_wbuf_finish().
 */
struct nd_wbuf {
    uint8_t *p;
    size_t cap;
    size_t len;
    int err;
};

void nd_wbuf_init(struct nd_wbuf *w, void *buf, size_t cap, uint8_t type);
void nd_wbuf_u8(struct nd_wbuf *w, uint8_t v);
void nd_wbuf_u16(struct nd_wbuf *w, uint16_t v);
void nd_wbuf_u32(struct nd_wbuf *w, uint32_t v);
void nd_wbuf_u64(struct nd_wbuf *w, uint64_t v);
void nd_wbuf_bytes(struct nd_wbuf *w, const void *p, size_t n);
/* Appends a u16-counted string; more than 65535 bytes sets err. */
void nd_wbuf_str(struct nd_wbuf *w, const char *s, size_t n);
/* Fills in the header.  Returns the whole frame length or w->err. */
long nd_wbuf_finish(struct nd_wbuf *w);

/*
 * A bounded reader over one frame body.  Reading past the end sets err to
 * -EBADMSG and yields zeroes; callers check nd_rbuf_done() once at the end.
 */
struct nd_rbuf {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err;
};

void nd_rbuf_init(struct nd_rbuf *r, const void *body, size_t len);
uint8_t nd_rbuf_u8(struct nd_rbuf *r);
uint16_t nd_rbuf_u16(struct nd_rbuf *r);
uint32_t nd_rbuf_u32(struct nd_rbuf *r);
uint64_t nd_rbuf_u64(struct nd_rbuf *r);
/* Copies n bytes out; on underflow sets err and zero-fills out. */
void nd_rbuf_bytes(struct nd_rbuf *r, void *out, size_t n);
/*
 * Returns a pointer into the body for a u16-counted string and its length
 * in *n (not NUL-terminated), or NULL with err set on underflow.
 */
const char *nd_rbuf_str(struct nd_rbuf *r, size_t *n);
/* Returns 0 when no read underflowed and every byte was consumed,
 * else -EBADMSG. */
int nd_rbuf_done(const struct nd_rbuf *r);

/*
 * What a FILE reply says about a file, and what a ranged GET sends back to
 * ask for the rest of it: the size, the modification time, where the bytes
 * that follow start, and the digest when the server has a trusted one
 * before sending (has_md5 1; zeroes and 0 otherwise).
 */
struct nd_fileinfo {
    uint64_t size;
    int64_t mtime_sec;
    uint32_t mtime_nsec; /* below 1e9 */
    uint64_t offset;     /* at most size */
    uint8_t has_md5;     /* 0 or 1 */
    uint8_t md5[ND_MD5_LEN];
};

/* A decoded client request (PUT, GET, LIST, STAT, MKDIR, REMOVE or
 * RENAME). */
struct nd_req {
    uint8_t type;
    uint32_t flags;
    uint64_t size;         /* PUT only */
    int64_t mtime_sec;     /* PUT with ND_PUT_MTIME: the file's mtime */
    uint32_t mtime_nsec;   /* below 1e9 */
    struct nd_fileinfo rg; /* GET with ND_GET_RANGE: offset, validators */
    size_t path_len;
    char path[ND_PATH_MAX + 1]; /* NUL-terminated; RENAME: the source */
    size_t path2_len;
    char path2[ND_PATH_MAX + 1]; /* RENAME: the target; else "" */
};

/*
 * Decodes the body of a request frame of the given type into req.  Returns 0,
 * -EBADMSG for a malformed body or an unknown request type, -EINVAL for a
 * flag bit the type does not define, ND_PUT_RESUME without ND_PUT_MTIME,
 * an mtime_nsec over 999999999, a range offset beyond its size, or a NUL
 * byte inside a path, -ENAMETOOLONG for a path over ND_PATH_MAX.
 * The paths are not otherwise checked here: nd_store owns the confinement
 * rules.
 */
int nd_proto_req_decode(uint8_t type, const void *body, size_t len,
                        struct nd_req *req);

/* Encodes a request frame with flags 0 into buf; returns its length or
 * -EMSGSIZE. */
long nd_proto_req_encode(void *buf, size_t cap, uint8_t type, uint64_t size,
                         const char *path);

/*
 * Encodes a PUT of size bytes to path.  flags may hold ND_PUT_MTIME (then
 * sec and nsec are sent) and ND_PUT_RESUME.  Returns the frame length,
 * -ENAMETOOLONG, or -EMSGSIZE.
 */
long nd_proto_put_encode(void *buf, size_t cap, uint32_t flags, uint64_t size,
                         const char *path, int64_t sec, uint32_t nsec);

/*
 * Encodes a GET of path: of the whole file when rg is NULL, else with
 * ND_GET_RANGE, asking for the bytes from rg->offset on if the file still
 * has rg's size, mtime and (when rg->has_md5) digest.  Returns the frame
 * length, -ENAMETOOLONG, or -EMSGSIZE.
 */
long nd_proto_get_encode(void *buf, size_t cap, const char *path,
                         const struct nd_fileinfo *rg);

/*
 * Encodes a MKDIR, REMOVE or RENAME request: u32 flags, str path and, for
 * RENAME, str to (ignored, and may be NULL, for the other two).  Returns the
 * frame length, -ENAMETOOLONG for a path over ND_PATH_MAX, or -EMSGSIZE.
 */
long nd_proto_fsreq_encode(void *buf, size_t cap, uint8_t type,
                           uint32_t flags, const char *path, const char *to);

/* HELLO: magic "NDSK", u16 lowest and u16 highest version spoken. */
long nd_proto_hello_encode(void *buf, size_t cap);
/*
 * Decodes a HELLO body and picks the version both sides speak.  Returns the
 * version, -EBADMSG when malformed or the magic is wrong, or
 * -EPROTONOSUPPORT when the ranges do not meet.
 */
int nd_proto_hello_decode(const void *body, size_t len);

/* ERROR: u16 code, str message (truncated to ND_MSG_MAX). */
long nd_proto_error_encode(void *buf, size_t cap, enum nd_status code,
                           const char *msg);
/* Copies the message NUL-terminated into msg (size msg_cap).  Returns the
 * code (1..65535) or -EBADMSG. */
int nd_proto_error_decode(const void *body, size_t len, char *msg,
                          size_t msg_cap);

/* DIGEST trailer: u8 ND_DIGEST_MD5, md5[16]. */
long nd_proto_digest_encode(void *buf, size_t cap,
                            const uint8_t md5[ND_MD5_LEN]);
int nd_proto_digest_decode(const void *body, size_t len,
                           uint8_t md5[ND_MD5_LEN]);

/*
 * FILE (reply to GET): u64 size, i64 mtime_sec, u32 mtime_nsec, u64 offset,
 * u8 has_md5, md5[16].  Decoding returns 0, or -EBADMSG for a body of
 * another length, has_md5 over 1, nsec over 999999999, size over
 * INT64_MAX or an offset beyond the size.
 */
#define ND_FILEINFO_LEN (8 + 8 + 4 + 8 + 1 + ND_MD5_LEN)
long nd_proto_file_encode(void *buf, size_t cap, const struct nd_fileinfo *fi);
int nd_proto_file_decode(const void *body, size_t len, struct nd_fileinfo *fi);

/* READY (reply to PUT): u64 offset, the bytes the server already holds
 * from an interrupted upload (0 without ND_PUT_RESUME).  The client sends
 * the file from there on. */
long nd_proto_ready_encode(void *buf, size_t cap, uint64_t offset);
int nd_proto_ready_decode(const void *body, size_t len, uint64_t *offset);

/* OK reply to PUT: u64 size stored, md5[16] of what was stored. */
long nd_proto_putok_encode(void *buf, size_t cap, uint64_t size,
                           const uint8_t md5[ND_MD5_LEN]);
int nd_proto_putok_decode(const void *body, size_t len, uint64_t *size,
                          uint8_t md5[ND_MD5_LEN]);

/* One directory entry inside an ENTRIES frame. */
enum nd_ftype {
    ND_FT_FILE = 'f',
    ND_FT_DIR = 'd',
    ND_FT_LINK = 'l',
    ND_FT_OTHER = '?',
};

struct nd_entry {
    uint8_t type; /* enum nd_ftype */
    uint64_t size;
    int64_t mtime;
    size_t name_len;
    char name[ND_NAME_MAX + 1]; /* NUL-terminated */
};

/* Worst-case encoded size of one entry. */
#define ND_ENTRY_MAX (1 + 8 + 8 + 2 + ND_NAME_MAX)

/*
 * ENTRIES frames are built incrementally: nd_wbuf_init(ND_T_ENTRIES), then
 * nd_proto_entries_begin() reserves the count, nd_proto_entries_add() appends
 * one entry (returns -EMSGSIZE, adding nothing, when it would not fit), and
 * nd_proto_entries_finish() patches the count and returns the frame length.
 */
void nd_proto_entries_begin(struct nd_wbuf *w);
int nd_proto_entries_add(struct nd_wbuf *w, const struct nd_entry *e);
long nd_proto_entries_finish(struct nd_wbuf *w, uint32_t n);
/*
 * Walks an ENTRIES body: call with *off = 0 after reading the count with
 * nd_proto_entries_count(); each call decodes the next entry.  Returns 0 or
 * -EBADMSG (also for a name with NUL, '/', over ND_NAME_MAX, "." or "..").
 */
int nd_proto_entries_count(const void *body, size_t len, uint32_t *n);
int nd_proto_entries_next(const void *body, size_t len, size_t *off,
                          struct nd_entry *e);

/*
 * STATINFO (reply to STAT): u8 type (enum nd_ftype), u64 size, i64 mtime,
 * u8 has_md5 (0 or 1), md5[16] (zeroes when has_md5 is 0).
 */
struct nd_statinfo {
    uint8_t type;
    uint64_t size;
    int64_t mtime;
    uint8_t has_md5;
    uint8_t md5[ND_MD5_LEN];
};

#define ND_STATINFO_LEN (1 + 8 + 8 + 1 + ND_MD5_LEN)

long nd_proto_statinfo_encode(void *buf, size_t cap,
                              const struct nd_statinfo *si);
/* Returns 0, or -EBADMSG for a body of another length or has_md5 > 1. */
int nd_proto_statinfo_decode(const void *body, size_t len,
                             struct nd_statinfo *si);

/* END (after the last ENTRIES): u64 total entries sent. */
long nd_proto_end_encode(void *buf, size_t cap, uint64_t total);
int nd_proto_end_decode(const void *body, size_t len, uint64_t *total);

/* Stores the low n bytes (1..8) of v at p, big-endian, and reads them
 * back: the byte order of every integer on the wire, and of the stored
 * digest records (nd_sum). */
void nd_proto_put_be(uint8_t *p, uint64_t v, int n);
uint64_t nd_proto_get_be(const uint8_t *p, int n);

/* Encodes a frame with an empty body (a bare OK). */
long nd_proto_empty_encode(void *buf, size_t cap, uint8_t type);

/* Encodes a frame whose body is len opaque bytes: the SCRAM messages of
 * AUTH, CHALLENGE, PROOF and WELCOME.  Returns the length or -EMSGSIZE. */
long nd_proto_raw_encode(void *buf, size_t cap, uint8_t type, const void *body,
                         size_t len);

/*
 * Linux has no errno for "not a regular file"; the store returns -ND_ENOTREG
 * (EMEDIUMTYPE, which nothing else here can produce) and it maps to
 * ND_E_NOTREG.
 */
#define ND_ENOTREG EMEDIUMTYPE

/*
 * A side that continues a transfer first hashes the bytes moved before (the
 * digest covers the whole file), which takes time the other side spends
 * waiting.  Both sides allow this many seconds more than their usual
 * timeout for the first bytes after a READY or FILE with a nonzero offset:
 * offset at 8 MiB/s, far below what a disk and MD5 manage.
 */
#define ND_HASH_RATE_MIN (8u * 1024u * 1024u)
static inline int
nd_proto_hash_slack(uint64_t offset)
{
    uint64_t s = offset / ND_HASH_RATE_MIN + 1;

    return s > 86400 * 7 ? 86400 * 7 : (int)s;
}

/* Maps a negative errno to the status a client should see. */
enum nd_status nd_proto_status_from_errno(int neg_errno);
/* A short English description of a status; never NULL. */
const char *nd_proto_status_str(int status);
/* The protocol's name of a status ("NOENT", as docs/protocol.md spells it),
 * or NULL for a code outside 1..ND_STATUS_MAX. */
const char *nd_proto_status_name(int status);
/* The name of a frame type ("PUT", ...) or "?"; never NULL. */
const char *nd_proto_type_name(uint8_t type);

#endif
