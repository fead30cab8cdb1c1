/*
 * nd_tty: reading a secret from the terminal without echo, and reading one
 * line from any fd, for the client's login and "netdiskd user".
 *
 * While echo is off, SIGINT, SIGTERM, SIGHUP and SIGQUIT restore the
 * terminal before they end the process, and the stop signals (SIGTSTP,
 * SIGTTIN, SIGTTOU) are held, so an interrupted prompt never leaves the
 * shell blind.  The handlers and the saved modes are process-wide: use
 * these functions only from a single-threaded command-line program.
 * Nothing here prints except the prompt, on the terminal itself.
 */
#ifndef ND_TTY_H
#define ND_TTY_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads one line from fd into buf (capacity cap), a byte at a time so that
 * nothing after the line is consumed, and strips one trailing "\n" or
 * "\r\n".  buf is NUL-terminated.  Returns the length, -EFBIG when the line
 * does not fit in cap - 1 bytes, or -errno.
 */
ssize_t nd_tty_read_line(int fd, char *buf, size_t cap);

/*
 * Opens the controlling terminal (/dev/tty) for a prompt.  Returns the fd
 * (caller closes it) or -errno (-ENXIO or -ENOENT when there is none).
 */
int nd_tty_open(void);

/*
 * Writes prompt to the terminal tty, reads one line with echo off as
 * nd_tty_read_line() does, restores the modes and ends the line the user
 * could not see.  Returns the length or -errno (-ENOTTY when tty is not a
 * terminal).
 */
ssize_t nd_tty_ask_secret(int tty, const char *prompt, char *buf, size_t cap);

#endif
