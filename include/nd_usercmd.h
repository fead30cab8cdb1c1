/*
 * nd_usercmd: "netdiskd [-c FILE] user add|passwd|del NAME | user list",
 * the administrator's way to manage the users file named in the
 * configuration.  The new password is asked twice on the terminal with echo
 * off, or, when stdin is not a terminal, read as one line from stdin.
 * Messages go to stderr prefixed "netdiskd: "; "user list" prints one name
 * a line on stdout.
 */
#ifndef ND_USERCMD_H
#define ND_USERCMD_H

#include "nd_config.h"

/* The longest password accepted, in bytes (the client's limit too). */
#define ND_USERCMD_PASS_MAX 1023

/*
 * Runs the command in argv, where argv[0] is "user" and argc counts from
 * there (main() passes argc - optind, argv + optind).  cfg is the loaded
 * configuration: users_file, scram_iterations and root are used.  Returns
 * the exit status: 0 on success, 1 on failure (such as "user alice already
 * exists" or "no user alice"), 2 for a usage error (including an invalid
 * name), ND_EX_CONFIG when the configuration cannot be used.  May prompt on
 * /dev/tty and change its modes, restoring them on every path, including
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT, which end the process after the
 * restore; SIGTSTP, SIGTTIN and SIGTTOU are held while echo is off.
 * Installs and removes signal handlers, so call it only from the
 * single-threaded command line.
 */
int nd_usercmd_main(const struct nd_config *cfg, int argc, char **argv);

#endif
