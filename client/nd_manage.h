/*
 * nd_manage: the client's file management commands, mkdir [-p] DIR...,
 * rm [-r] PATH... and mv FROM TO.  One invocation is one session: connect
 * and log in once, then one MKDIR, REMOVE or RENAME request per operand.
 * A refused operand is reported in one line and the others still run; the
 * exit status is then 4.  Single-threaded, like the client.
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

#endif
