/*
 * nd_stat: `netdisk stat` and `netdisk md5`.  One session, one STAT request
 * per path; the server answers from its stored digest or hashes the file
 * once and stores the digest, so repeating a command is cheap.
 */
#include "nd_stat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nd_digest.h"
#include "nd_net.h"
#include "nd_wire.h"

/*
 * How long a STATINFO may take.  Without a stored digest the server hashes
 * the whole file before it answers: minutes for a file of hundreds of GiB,
 * far beyond ND_IO_TIMEOUT_S, which still applies to everything else.
 */
#define STAT_TIMEOUT_S (6 * 3600)

/*
 * Sends STAT for path and reads the STATINFO into si.  Returns an exit
 * status, having reported any failure; *fatal is set when the session
 * cannot carry another request.
 */
static int
query(struct nd_sess *s, const char *op, const char *path,
      struct nd_statinfo *si, bool *fatal)
{
    uint8_t body[ND_REPLY_MAX];
    size_t len;
    int rc;

    nd_sess_target(s, op, path);
    rc = nd_sess_request(s, ND_T_STAT, 0);
    if (rc != ND_EXIT_OK) {
        *fatal = true;
        return rc;
    }
    (void)nd_net_set_timeouts(s->st.fd, STAT_TIMEOUT_S);
    rc = nd_wire_expect(&s->st, ND_T_STATINFO, body, sizeof(body), &len, s->msg,
                        sizeof(s->msg));
    (void)nd_net_set_timeouts(s->st.fd, ND_IO_TIMEOUT_S);
    if (rc == 0 && nd_proto_statinfo_decode(body, len, si) < 0)
        rc = -EBADMSG;
    if (rc == 0)
        return ND_EXIT_OK;
    *fatal = rc < 0 || nd_cli_session_ends(rc);
    return nd_cli_fail_wire(s, rc);
}

/* The stat line of one path. */
static void
print_stat(const struct nd_statinfo *si, const char *path)
{
    char when[32] = "----------T--:--:--Z", hex[ND_DIGEST_HEX_LEN] = "-";
    char type = si->type == ND_FT_FILE || si->type == ND_FT_DIR ||
                        si->type == ND_FT_LINK
                    ? (char)si->type
                    : '?';
    time_t t = (time_t)si->mtime;
    struct tm tm;

    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (si->has_md5)
        nd_digest_hex(si->md5, hex);
    printf("%c %12" PRIu64 " %s %s ", type, si->size, when, hex);
    if (path[0] == '\0')
        path = ".";
    for (const char *p = path; *p != '\0'; p++)
        putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
    putchar('\n');
}

/* The md5sum line of one file, escaped as md5sum escapes names. */
static void
print_md5(const uint8_t md5[ND_MD5_LEN], const char *path)
{
    char hex[ND_DIGEST_HEX_LEN];
    bool esc = strpbrk(path, "\\\n\r") != NULL;

    nd_digest_hex(md5, hex);
    printf("%s%s  ", esc ? "\\" : "", hex);
    for (const char *p = path; *p != '\0'; p++) {
        if (!esc)
            putchar(*p);
        else if (*p == '\\')
            fputs("\\\\", stdout);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\r')
            fputs("\\r", stdout);
        else
            putchar(*p);
    }
    putchar('\n');
}

/* Answers one path for stat or md5.  Returns an exit status. */
static int
one(struct nd_sess *s, bool md5, const char *path, bool *fatal)
{
    struct nd_statinfo si;
    int rc = query(s, md5 ? "md5" : "stat", path, &si, fatal);

    if (rc != ND_EXIT_OK)
        return rc;
    if (!md5) {
        print_stat(&si, path);
    } else if (si.type != ND_FT_FILE) {
        nd_cli_err("%s: %s", s->ctx,
                   si.type == ND_FT_DIR ? "Is a directory"
                                        : "not a regular file");
        return ND_EXIT_REFUSED;
    } else if (!si.has_md5) {
        nd_cli_err("%s: malformed reply from server: no digest", s->ctx);
        *fatal = true;
        return ND_EXIT_NET;
    } else {
        print_md5(si.md5, path);
    }
    /* Keep stdout and the messages on stderr in order. */
    if (fflush(stdout) != 0)
        *fatal = true;
    return ND_EXIT_OK;
}

static int
run(const struct nd_opts *o, bool md5, char *const *paths, int n)
{
    const char *op = md5 ? "md5" : "stat";
    struct nd_sess s;
    int rc, worst = ND_EXIT_OK;
    bool fatal = false;

    for (int i = 0; i < n; i++)
        if (strlen(paths[i]) > ND_PATH_MAX)
            return nd_cli_usage(op, ": remote path longer than 4095 bytes");
    rc = nd_sess_init(&s, o, op, paths[0]);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_open(o, &s);
    for (int i = 0; rc == ND_EXIT_OK && !fatal && i < n; i++) {
        int one_rc = one(&s, md5, paths[i], &fatal);

        if (one_rc != ND_EXIT_OK && worst == ND_EXIT_OK)
            worst = one_rc;
    }
    nd_sess_close(&s);
    if (rc != ND_EXIT_OK)
        return rc;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* A closed pipe (md5 ... | head) is the reader's choice. */
        if (errno != EPIPE)
            nd_cli_err("cannot write to standard output: %s", strerror(errno));
        return worst != ND_EXIT_OK ? worst : ND_EXIT_LOCAL;
    }
    return worst;
}

int
nd_stat_cmd(const struct nd_opts *o, char *const *paths, int n)
{
    return run(o, false, paths, n);
}

int
nd_stat_md5_cmd(const struct nd_opts *o, char *const *paths, int n)
{
    return run(o, true, paths, n);
}
