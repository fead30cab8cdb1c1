/*
 * nd_stat: the client's `stat` and `md5` commands.  Both send one STAT
 * request per REMOTE argument over a single session (one connect and one
 * login however many paths there are) and print one line per path on
 * stdout.  A path the server refuses, or, for md5, one that is not a
 * regular file, gets a one-line message on stderr and makes the exit
 * status ND_EXIT_REFUSED, but the other paths are still answered; a
 * network failure, or an ERROR after which the server closes the session,
 * ends the command.  Single-threaded, like the client.
 */
#ifndef ND_STAT_H
#define ND_STAT_H

#include "nd_cli.h"

/*
 * netdisk stat REMOTE...: for each path one line
 *
 *     TYPE SIZE MTIME MD5 NAME
 *
 * TYPE as ls prints it (f, d, l, ?), SIZE in bytes right-aligned in 12
 * columns, MTIME in UTC as 2026-01-31T12:00:00Z, MD5 as 32 lower-case hex
 * digits or "-" when there is none (anything but a regular file), and NAME
 * the path as given ("." for the root, ""), control bytes shown as '?'.
 * Fields are separated by single spaces.  Returns an exit status.
 */
int nd_stat_cmd(const struct nd_opts *o, char *const *paths, int n);

/*
 * netdisk md5 REMOTE...: for each regular file the line md5sum(1) would
 * print, "<32 hex digits>  <name>\n", where a name holding '\\', '\n' or
 * '\r' is escaped ("\\\\", "\\n", "\\r") and the line starts with '\\', as
 * md5sum does; so `netdisk md5 f | md5sum -c` checks a local copy of f.
 * Returns an exit status.
 */
int nd_stat_md5_cmd(const struct nd_opts *o, char *const *paths, int n);

#endif
