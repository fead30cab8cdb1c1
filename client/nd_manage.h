/*
 * nd_manage: the client's file management commands, mkdir [-p] DIR...,
 * rm [-r] PATH... and mv FROM TO.  One invocation is one session: connect
 * and log in once, then one MKDIR, REMOVE or RENAME request per operand.
 * A refused operand is reported in one line and the others still run; the
 * exit status is then 4.  put -r (nd_tree) makes its remote directories
 * with the same request.  Single-threaded, like the client.
 */
#ifndef ND_MANAGE_H
#define ND_MANAGE_H

#include <stdbool.h>

#include "nd_cli.h"

/* True when cmd is "mkdir", "rm" or "mv". */
bool nd_manage_is_cmd(const char *cmd);

/*
 * Runs the command cmd (nd_manage_is_cmd() must hold) with the argc words
 * that follow it in argv: its own options (-p, -r, "--") and operands.  May
 * rewrite argv's strings (trailing slashes are dropped).  Returns the exit
 * status for main() to hand to the shell.
 */
int nd_manage_run(const struct nd_opts *o, const char *cmd, int argc,
                  char **argv);

/*
 * Sends one request of type ND_T_MKDIR, ND_T_REMOVE or ND_T_RENAME with
 * flags (ND_MKDIR_PARENTS, ND_REMOVE_RECURSIVE or 0) for path over the open
 * session s, and reads its bare OK.  to is RENAME's new name, else NULL.
 * Points s at the request (see nd_sess_target()): path and to must outlive
 * it.  Returns an exit status, having reported any failure as the command
 * mkdir, rm or mv would; on a failure *fatal is set to whether the session
 * can carry no further request, and left alone on success.
 */
int nd_manage_request(struct nd_sess *s, uint8_t type, uint32_t flags,
                      const char *path, const char *to, bool *fatal);

#endif
