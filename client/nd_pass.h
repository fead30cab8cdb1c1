/*
 * nd_pass: where the client's password comes from, in this order:
 * --password-file FILE (its first line), $NETDISK_PASSWORD, or a prompt on
 * the controlling terminal with echo off.  Single-threaded, like the client.
 */
#ifndef ND_PASS_H
#define ND_PASS_H

#include <stddef.h>

/* The longest password accepted, in bytes. */
#define ND_PASS_MAX 1023

/*
 * Gets the password for user@host into buf (cap > ND_PASS_MAX bytes),
 * NUL-terminated.  Returns its length, or -errno with a one-line reason in
 * err: -ENXIO when there is no source (no file, no variable, no
 * terminal), -EINVAL for an empty or over-long password, or the error of
 * reading the file or the terminal.  The caller wipes buf after use.
 */
int nd_pass_get(const char *file, const char *user, const char *host, char *buf,
                size_t cap, char *err, size_t err_len);

#endif
