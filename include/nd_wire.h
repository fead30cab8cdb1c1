/*
 * nd_wire: whole frames over a blocking stream (plain or TLS), for the workers,
 * the client and the test tools.  It combines nd_proto (format) with nd_stream
 * (loops) and does nothing else: no logging, no state, safe from any thread.
 */
#ifndef ND_WIRE_H
#define ND_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "nd_proto.h"
#include "nd_stream.h"

/*
 * Reads one frame into *h and its body into body (capacity cap).  Returns 0;
 * -ENODATA when the peer closed cleanly before the first header byte;
 * -ECONNRESET when it closed mid-frame; the nd_proto_hdr_decode() errors; or
 * -EMSGSIZE when the body is longer than cap (the body is left unread, so the
 * session cannot continue); or -errno (-EAGAIN for a socket timeout).
 */
int nd_wire_recv(struct nd_stream *s, struct nd_hdr *h, void *body, size_t cap);

/* Sends a frame already encoded by nd_proto.  Returns 0 or -errno. */
int nd_wire_send(struct nd_stream *s, const void *frame, long len);

/* Encodes and sends an ERROR frame.  Returns 0 or -errno. */
int nd_wire_send_error(struct nd_stream *s, enum nd_status code,
                       const char *msg);

/*
 * Client side: receives one frame and classifies it.  Returns 0 when it is of
 * type want (body in body, its length in *len); a positive nd_status when the
 * peer sent ERROR (message copied to msg, NUL-terminated); -EBADMSG when the
 * frame is of another type or malformed; or a negative nd_wire_recv() error.
 */
int nd_wire_expect(struct nd_stream *s, uint8_t want, void *body, size_t cap,
                   size_t *len, char *msg, size_t msg_cap);

/*
 * Client side: sends HELLO and checks the server's HELLO.  Returns 0, a
 * positive nd_status (msg filled) when the server refused, or -errno.
 */
int nd_wire_hello(struct nd_stream *s, char *msg, size_t msg_cap);

/* The largest frame nd_wire_hello_with() sends behind HELLO: room for a
 * login step, a header and a SCRAM message of up to 1 KiB. */
#define ND_WIRE_BEHIND_MAX (ND_HDR_LEN + 1024)

/*
 * Client side: as nd_wire_hello(), with next (next_len bytes, an encoded
 * frame, at most ND_WIRE_BEHIND_MAX; the caller keeps it) sent behind HELLO
 * in the same send, before HELLO's reply is read: the first login step
 * saves a round trip.  The server reads next only once it has answered
 * HELLO; if it refused HELLO, next is never answered.  Returns as
 * nd_wire_hello() does, or -EMSGSIZE when next is too long.
 */
int nd_wire_hello_with(struct nd_stream *s, const void *next, size_t next_len,
                       char *msg, size_t msg_cap);

#endif
