/*
 * nd_clientconf: the client's settings from its configuration file and the
 * environment.  The command line wins over the NETDISK_* environment
 * variables, which win over the configuration file, which wins over the
 * built-in defaults.  The file is read once, before anything connects; it
 * holds flat libconfig settings like the daemon's (see nd_cfgfile) and never
 * a password.  Single-threaded, like the client.
 */
#ifndef ND_CLIENTCONF_H
#define ND_CLIENTCONF_H

#include "nd_cli.h"

/* Where the file is looked for, under $XDG_CONFIG_HOME or ~/.config. */
#define ND_CLIENTCONF_NAME "netdisk/client.conf"

/*
 * Completes o, which holds only what the command line set (NULL or false
 * for anything it did not), from the environment, then the configuration
 * file, then the defaults.  conf is the --config argument, or NULL: then
 * $NETDISK_CONFIG, else $XDG_CONFIG_HOME/netdisk/client.conf (by default
 * ~/.config/netdisk/client.conf), which may be missing.  The strings o
 * points to afterwards live until exit.  Returns -1 to go on, or the exit
 * status after reporting the problem in one line: ND_EXIT_USAGE for an
 * unreadable or invalid file ("FILE:LINE: ..."), a bad variable, or
 * --cacert or --insecure without TLS.
 */
int nd_clientconf_resolve(struct nd_opts *o, const char *conf);

#endif
