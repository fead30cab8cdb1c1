/*
 * nd_notify: the sd_notify(3) protocol, for Type=notify units.
 *
 * systemd documents the protocol as stable and meant to be reimplemented:
 * one datagram with "KEY=VALUE" lines to the AF_UNIX socket named in
 * $NOTIFY_SOCKET (a leading '@' means the abstract namespace).  Outside
 * systemd the variable is unset and every call is a no-op.  Thread-safe.
 */
#ifndef ND_NOTIFY_H
#define ND_NOTIFY_H

/* Sends state (e.g. "READY=1").  Returns 0 (also when not under systemd)
 * or -errno. */
int nd_notify(const char *state);

#endif
