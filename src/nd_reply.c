/*
 * nd_reply: what every request handler shares: the ERROR reply, sending a
 * frame, and the one log line per request.
 */
#include "nd_reply.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nd_io.h"
#include "nd_log.h"
#include "nd_wire.h"

void
nd_reply_log(const struct nd_conn *c, const struct nd_reqlog *x)
{
    char path[2 * ND_PATH_MAX + 1];
    char hex[ND_DIGEST_HEX_LEN] = "-";
    char why[160];

    if (x->md5 != NULL)
        nd_digest_hex(x->md5, hex);
    if (x->result == NULL)
        snprintf(why, sizeof(why), "ok");
    else if (x->err != 0)
        snprintf(why, sizeof(why), "\"%s: %s\"", x->result, strerror(-x->err));
    else
        snprintf(why, sizeof(why), "\"%s\"", x->result);
    nd_log(x->result == NULL ? ND_LOG_INFO : ND_LOG_WARN,
           "transfer peer=%s op=%s path=\"%s\" from=%" PRIu64 " bytes=%" PRIu64
           " seconds=%.3f md5=%s result=%s",
           c->peer, x->op, nd_log_quote(x->path, path, sizeof(path)), x->from,
           x->bytes, nd_io_now() - x->t0, hex, why);
}

const char *
nd_reply_record_state(int rc)
{
    switch (-rc) {
    case 0:
        return "trusted";
    case ENODATA:
        return "none";
    case ESTALE:
        return "stale";
    case EBADMSG:
        return "corrupt";
    case EOPNOTSUPP:
        return "unsupported";
    default:
        return "unreadable";
    }
}

void
nd_reply_log_digest(const struct nd_conn *c, const char *path, const char *from,
                    const char *had, int store_err)
{
    char q[2 * ND_PATH_MAX + 1], why[96];

    if (nd_log_max_level < ND_LOG_DEBUG)
        return;
    if (strcmp(from, "record") == 0)
        snprintf(why, sizeof(why), "-");
    else if (store_err == 0)
        snprintf(why, sizeof(why), "yes");
    else
        snprintf(why, sizeof(why), "\"no: %s\"",
                 store_err == -ESTALE   ? "the file changed while read"
                 : store_err == -EAGAIN ? "the file changed too recently"
                                        : strerror(-store_err));
    nd_log(ND_LOG_DEBUG, "digest peer=%s path=\"%s\" from=%s had=%s stored=%s",
           c->peer, nd_log_quote(path, q, sizeof(q)), from, had, why);
}

void
nd_reply_error(struct nd_conn *c, int rc)
{
    enum nd_status st = nd_proto_status_from_errno(rc);

    if (nd_wire_send_error(&c->st, st, nd_proto_status_str(st)) < 0)
        c->close_after = true;
}

int
nd_reply_send(struct nd_conn *c, const void *frame, long len)
{
    int rc = nd_wire_send(&c->st, frame, len);

    if (rc < 0)
        c->close_after = true;
    return rc;
}

int
nd_reply_peer_gone(void *arg)
{
    const struct nd_conn *c = arg;
    char b;
    ssize_t n = recv(c->st.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n == 0)
        return -ECONNRESET;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
    return 0;
}
