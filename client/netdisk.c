/*
 * netdisk: the command-line client.  One invocation is one session: connect,
 * (TLS,) HELLO, login, the command's requests, close.  The wire format is
 * nd_proto's, the session and error reports are nd_cli's; this file parses
 * the command line and hands the command to its module: put and get to
 * nd_xfer (with -r, put to nd_tree and get to nd_treeget), ls to nd_ls,
 * stat and md5 to nd_stat, mkdir, rm and mv to nd_manage.  Each returns the
 * exit status that main() hands to the shell.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_cli.h"
#include "nd_clientconf.h"
#include "nd_ls.h"
#include "nd_manage.h"
#include "nd_proto.h"
#include "nd_stat.h"
#include "nd_tree.h"
#include "nd_treeget.h"
#include "nd_xfer.h"

static const char usage_text[] =
    "Usage: netdisk [OPTIONS] put [-r] LOCAL [REMOTE]\n"
    "       netdisk [OPTIONS] put [-r] LOCAL... REMOTE_DIR/\n"
    "       netdisk [OPTIONS] put -r LOCAL... [REMOTE]\n"
    "       netdisk [OPTIONS] get [-r] REMOTE [LOCAL]\n"
    "       netdisk [OPTIONS] get [-r] REMOTE... LOCAL_DIR\n"
    "       netdisk [OPTIONS] ls [-l] [-R] [DIR]\n"
    "       netdisk [OPTIONS] stat REMOTE...\n"
    "       netdisk [OPTIONS] md5 REMOTE...\n"
    "       netdisk [OPTIONS] mkdir [-p] DIR...\n"
    "       netdisk [OPTIONS] rm [-r] PATH...\n"
    "       netdisk [OPTIONS] mv FROM TO\n"
    "       netdisk --help | --version\n"
    "\n"
    "Copy files to and from a netdiskd server, or list a directory on it.\n"
    "\n"
    "  put LOCAL [REMOTE]  upload the regular file LOCAL as REMOTE (default:\n"
    "                      the base name of LOCAL; a REMOTE ending in '/'\n"
    "                      gets that base name appended)\n"
    "  get REMOTE [LOCAL]  download REMOTE as LOCAL (default: the base name\n"
    "                      of REMOTE; into LOCAL if it is a directory); the\n"
    "                      bytes go to LOCAL.part, renamed to LOCAL only\n"
    "                      when their MD5 digest matches the server's;\n"
    "                      an interrupted put or get continues where it\n"
    "                      stopped when run again, and files keep their\n"
    "                      modification times\n"
    "  put LOCAL... REMOTE_DIR/\n"
    "                      upload each LOCAL into REMOTE_DIR ('./': the\n"
    "                      root); with more than one LOCAL the last\n"
    "                      operand must end in '/'\n"
    "  get REMOTE... LOCAL_DIR\n"
    "                      download each REMOTE into LOCAL_DIR, which must\n"
    "                      be an existing directory; put and get of several\n"
    "                      files log in once, a file that fails does not\n"
    "                      stop the others (unless the connection is lost),\n"
    "                      and the exit status is the highest of the\n"
    "                      failures\n"
    "  put -r LOCAL... [REMOTE]\n"
    "                      upload each directory LOCAL with everything\n"
    "                      below it (other LOCALs as without -r): one LOCAL\n"
    "                      and a REMOTE not ending in '/' make the tree's\n"
    "                      contents land at REMOTE (made if missing); else\n"
    "                      each goes to REMOTE/ (default: the root) under\n"
    "                      its base name; directories are made on the\n"
    "                      server, empty ones too, and files keep their\n"
    "                      mtimes (directories do not)\n"
    "  get -r REMOTE... [LOCAL]\n"
    "                      download each remote directory REMOTE with\n"
    "                      everything below it (files as without -r): to\n"
    "                      ./BASE, to LOCAL/BASE if LOCAL is an existing\n"
    "                      directory, else to LOCAL (made); several REMOTEs\n"
    "                      need an existing directory LOCAL; files and\n"
    "                      directories keep their mtimes; put -r and get\n"
    "                      -r log in once, skip symbolic links and special\n"
    "                      files with a note, and copy at most 256 levels\n"
    "                      deep\n"
    "  ls [-l] [-R] [DIR]  list DIR (default: the root) sorted by name: type\n"
    "                      (f file, d directory, l link, ? other), size,\n"
    "                      modification time (UTC) and name; -l: sizes as\n"
    "                      1.5K, 12M (powers of 1024) and local time\n"
    "                      (YYYY-MM-DD hh:mm); -R: every directory below\n"
    "                      DIR too, each after a 'PATH:' line, never\n"
    "                      through a symbolic link\n"
    "  stat REMOTE...      one line per REMOTE: type, size, modification\n"
    "                      time (UTC), MD5 digest ('-' if not a file), name\n"
    "  md5 REMOTE...       the MD5 digest of each file REMOTE in md5sum's\n"
    "                      format, so 'netdisk md5 f | md5sum -c' checks a\n"
    "                      local copy of f; stat and md5 use one session for\n"
    "                      all REMOTEs, and a REMOTE that fails (exit 4)\n"
    "                      does not stop the others\n"
    "  mkdir [-p] DIR...   make each directory DIR; -p: make missing parents\n"
    "                      too, and an existing directory DIR is no error\n"
    "  rm [-r] PATH...     remove each file, symbolic link (never what it\n"
    "                      points to) or empty directory PATH; -r: remove a\n"
    "                      directory and everything below it\n"
    "  mv FROM TO          rename FROM to TO atomically; an existing TO is\n"
    "                      refused, and a TO ending in '/' gets FROM's base\n"
    "                      name appended; mkdir and rm use one session for\n"
    "                      all operands, and one that fails (exit 4) does\n"
    "                      not stop the others\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   read settings from FILE (default: $NETDISK_CONFIG,\n"
    "                      else $XDG_CONFIG_HOME/netdisk/client.conf or\n"
    "                      ~/.config/netdisk/client.conf, if it exists)\n"
    "  -H, --host HOST     server name or IPv4/IPv6 address (default:\n"
    "                      $NETDISK_HOST, else " ND_DEFAULT_HOST ")\n"
    "  -p, --port PORT     server TCP port (default: $NETDISK_PORT, "
    "else " ND_DEFAULT_PORT ")\n"
    "  -q, --quiet         print nothing but errors: no progress bar (it is\n"
    "                      drawn only when stderr is a terminal)\n"
    "  -v, --verbose       after each file put or get, print a line with its\n"
    "                      names, size and MD5 digest on stderr\n"
    "  -u, --user USER     log in as USER (default: $NETDISK_USER, else\n"
    "                      your login name)\n"
    "      --password-file FILE\n"
    "                      read the password from the first line of FILE\n"
    "                      (else $NETDISK_PASSWORD, else a prompt on the\n"
    "                      terminal, without echo)\n"
    "      --tls           use TLS; the server's certificate must be valid\n"
    "                      for HOST\n"
    "      --cacert FILE   trust the CA certificates in FILE (PEM) instead\n"
    "                      of the system's trust store\n"
    "      --insecure      with --tls, do not check the certificate at all\n"
    "                      (encrypted, but anyone could be at the far end)\n"
    "  -h, --help          show this help and exit\n"
    "  -V, --version       show the version and exit\n"
    "\n"
    "Options win over the environment (NETDISK_HOST, NETDISK_PORT,\n"
    "NETDISK_USER, NETDISK_PASSWORD, NETDISK_TLS=1|0, NETDISK_CACERT), which\n"
    "wins over the config file (keys host, port, user, password_file, tls,\n"
    "cacert, insecure, quiet, verbose), which wins over the defaults.\n"
    "\n"
    "Exit status:\n"
    "  0  success (put and get: the MD5 digests matched)\n"
    "  1  local file error (cannot read LOCAL or the password file,\n"
    "     cannot write the destination)\n"
    "  2  usage error, or an unreadable or invalid config file\n"
    "  3  connection, network or protocol failure (cannot connect,\n"
    "     connection lost, malformed reply, timeout, TLS handshake\n"
    "     failed or server certificate refused)\n"
    "  4  the server refused the request (its message and code are shown)\n"
    "  5  digest mismatch: the data was corrupted in transit; nothing was "
    "kept\n"
    "  6  login failed (wrong user or password, or too many failures from\n"
    "     this address), or the server could not prove it knows the\n"
    "     password\n";

/* Checks a port number and returns 0, or a usage error. */
static int
check_port(const char *port, const char *where)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 ||
        v == 0 || v > 65535) {
        nd_cli_err("invalid port \"%s\"%s (try 'netdisk --help')", port, where);
        return ND_EXIT_USAGE;
    }
    return ND_EXIT_OK;
}

/* Fills in o from argv, then the environment and the config file.  Returns
 * -1 to go on, else the exit status (--help, --version, usage errors). */
static int
parse_opts(int argc, char **argv, struct nd_opts *o)
{
    static const struct option longs[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"config", required_argument, NULL, 'c'},
        {"user", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'P'},
        {"tls", no_argument, NULL, 'T'},
        {"cacert", required_argument, NULL, 'C'},
        {"insecure", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *port_from = "", *conf = NULL;
    int c;

    opterr = 0;
    /* '+': stop at the command word, so the options after it (mkdir -p,
     * rm -r) are the command's own, not taken for -p PORT. */
    while ((c = getopt_long(argc, argv, "+:H:p:qvc:u:hV", longs, NULL)) != -1) {
        switch (c) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            o->port = optarg;
            port_from = "";
            break;
        case 'q':
            o->quiet = true;
            o->verbose = false;
            break;
        case 'v':
            o->verbose = true;
            o->quiet = false;
            break;
        case 'c':
            conf = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'P':
            o->password_file = optarg;
            break;
        case 'T':
            o->tls = true;
            break;
        case 'C':
            o->cacert = optarg;
            break;
        case 'I':
            o->insecure = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? ND_EXIT_OK : ND_EXIT_LOCAL;
        case 'V':
            printf("netdisk %s\n", ND_VERSION);
            return fflush(stdout) == 0 ? ND_EXIT_OK : ND_EXIT_LOCAL;
        case ':':
            return nd_cli_usage("option requires an argument: ",
                                argv[optind - 1]);
        default:
            if (optopt != 0) {
                char opt[3] = {'-', (char)optopt, '\0'};
                return nd_cli_usage("unknown option: ", opt);
            }
            return nd_cli_usage("unknown option: ", argv[optind - 1]);
        }
    }
    c = nd_clientconf_resolve(o, conf);
    if (c >= 0)
        return c;
    if (o->host[0] == '\0')
        return nd_cli_usage("empty host name", "");
    if (o->user == NULL || o->user[0] == '\0')
        return nd_cli_usage("no user name: use -u USER", "");
    return check_port(o->port, port_from) == ND_EXIT_OK ? -1 : ND_EXIT_USAGE;
}

/*
 * stat and md5 have no options of their own, put and get only -r (taken
 * out before this runs).  An operand that looks like one is refused
 * rather than taken for a name: "put f --tls" must not upload in
 * plaintext to a file called "--tls".  The global options go before the
 * command; "--" lets a name start with '-'.  Returns -1 to go on (with
 * "--" removed), else the exit status.
 */
static int
plain_operands(const char *cmd, int *n, char **args)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(args[i], "--") == 0) {
            memmove(&args[i], &args[i + 1],
                    (size_t)(*n - i - 1) * sizeof(*args));
            (*n)--;
            return -1;
        }
        if (args[i][0] == '-' && args[i][1] != '\0') {
            nd_cli_err("%s: unknown option %s: options go before the "
                       "command, and -- before a name that starts with '-' "
                       "(try 'netdisk --help')",
                       cmd, args[i]);
            return ND_EXIT_USAGE;
        }
    }
    return -1;
}

int
main(int argc, char **argv)
{
    struct nd_opts o = {0};
    const char *cmd;
    bool recursive = false;
    int rc, nargs;
    char **args;

    signal(SIGPIPE, SIG_IGN);
    rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return nd_cli_usage("missing command", "");
    cmd = argv[optind];
    args = argv + optind + 1;
    nargs = argc - optind - 1;
    /* -r is put's and get's only option; anything else that looks like
     * one is still refused below. */
    if (strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0)
        recursive = nd_tree_take_flag(&nargs, args);
    if (strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0 ||
        strcmp(cmd, "stat") == 0 || strcmp(cmd, "md5") == 0) {
        rc = plain_operands(cmd, &nargs, args);
        if (rc >= 0)
            return rc;
    }
    if (strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0) {
        if (nargs < 1)
            return nd_cli_usage(cmd, cmd[0] == 'p' ? ": missing LOCAL"
                                                   : ": missing REMOTE");
        if (recursive)
            return cmd[0] == 'p' ? nd_tree_put(&o, nargs, args)
                                 : nd_treeget_cmd(&o, nargs, args);
        if (cmd[0] == 'p')
            return nd_xfer_put(&o, nargs, args);
        return nd_xfer_get(&o, nargs, args);
    }
    if (strcmp(cmd, "ls") == 0)
        return nd_ls_cmd(&o, nargs, args);
    if (strcmp(cmd, "stat") == 0 || strcmp(cmd, "md5") == 0) {
        if (nargs < 1)
            return nd_cli_usage(cmd, ": missing REMOTE");
        if (cmd[0] == 's')
            return nd_stat_cmd(&o, args, nargs);
        return nd_stat_md5_cmd(&o, args, nargs);
    }
    if (nd_manage_is_cmd(cmd))
        return nd_manage_run(&o, cmd, nargs, args);
    return nd_cli_usage("unknown command: ", cmd);
}
