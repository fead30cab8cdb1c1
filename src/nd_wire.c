/*
 * nd_wire: blocking frame send and receive on top of nd_proto and nd_stream.
 */
#include "nd_wire.h"

#include <errno.h>
#include <string.h>

int
nd_wire_recv(struct nd_stream *s, struct nd_hdr *h, void *body, size_t cap)
{
    uint8_t hdr[ND_HDR_LEN];
    ssize_t n;
    int rc;

    n = nd_stream_read_full(s, hdr, sizeof(hdr));
    if (n < 0)
        return (int)n;
    if (n == 0)
        return -ENODATA;
    if ((size_t)n < sizeof(hdr))
        return -ECONNRESET;
    rc = nd_proto_hdr_decode(hdr, h);
    if (rc < 0)
        return rc;
    if (h->len > cap)
        return -EMSGSIZE;
    n = nd_stream_read_full(s, body, h->len);
    if (n < 0)
        return (int)n;
    if ((size_t)n < h->len)
        return -ECONNRESET;
    return 0;
}

int
nd_wire_send(struct nd_stream *s, const void *frame, long len)
{
    ssize_t n;

    if (len < 0)
        return (int)len;
    n = nd_stream_send_full(s, frame, (size_t)len);
    return n < 0 ? (int)n : 0;
}

int
nd_wire_send_error(struct nd_stream *s, enum nd_status code, const char *msg)
{
    uint8_t buf[ND_HDR_LEN + 4 + ND_MSG_MAX];

    return nd_wire_send(s, buf,
                        nd_proto_error_encode(buf, sizeof(buf), code, msg));
}

int
nd_wire_expect(struct nd_stream *s, uint8_t want, void *body, size_t cap,
               size_t *len, char *msg, size_t msg_cap)
{
    struct nd_hdr h;
    int rc = nd_wire_recv(s, &h, body, cap);

    if (rc < 0)
        return rc;
    *len = h.len;
    if (h.type == want)
        return 0;
    if (h.type == ND_T_ERROR) {
        rc = nd_proto_error_decode(body, h.len, msg, msg_cap);
        return rc < 0 ? -EBADMSG : rc;
    }
    return -EBADMSG;
}

int
nd_wire_hello(struct nd_stream *s, char *msg, size_t msg_cap)
{
    return nd_wire_hello_with(s, NULL, 0, msg, msg_cap);
}

int
nd_wire_hello_with(struct nd_stream *s, const void *next, size_t next_len,
                   char *msg, size_t msg_cap)
{
    /* Room for an ERROR with a full message, so a refusal keeps its reason,
     * and for the frame that rides behind HELLO. */
    uint8_t buf[ND_HDR_LEN + 4 + ND_MSG_MAX + ND_WIRE_BEHIND_MAX];
    long hello = nd_proto_hello_encode(buf, sizeof(buf));
    size_t len;
    int rc;

    if (next_len > ND_WIRE_BEHIND_MAX)
        return -EMSGSIZE;
    if (hello > 0 && next_len > 0) {
        memcpy(buf + hello, next, next_len);
        hello += (long)next_len;
    }
    rc = nd_wire_send(s, buf, hello);
    if (rc < 0)
        return rc;
    rc = nd_wire_expect(s, ND_T_HELLO, buf, sizeof(buf), &len, msg, msg_cap);
    if (rc != 0)
        return rc;
    rc = nd_proto_hello_decode(buf, len);
    return rc < 0 ? rc : 0;
}
