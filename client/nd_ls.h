/*
 * nd_ls: `netdisk ls [-l] [-R] [DIR]`, over one session.
 */
#ifndef ND_LS_H
#define ND_LS_H

#include "nd_cli.h"

/* ls -R refuses to go deeper than this many levels below DIR.  The 4095-
 * byte path limit already stops it near 2048; this bounds the recursion
 * whatever that limit becomes. */
#define ND_LS_MAX_DEPTH 4096

/*
 * Runs ls with the words after the command (its options -l and -R,
 * anywhere before "--", and at most one DIR).  Prints the
 * listing on stdout and returns the exit status: with -R a directory that
 * fails is reported in one line and the others are still listed; the
 * status is then the highest of the failures.
 */
int nd_ls_cmd(const struct nd_opts *o, int argc, char **argv);

#endif
