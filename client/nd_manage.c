/*
 * nd_manage: mkdir, rm and mv on the server.  Parses the command's own
 * options, normalizes the operands, then runs one request per operand over
 * a single session.  Success is silent, like mkdir(1), rm(1) and mv(1).
 */
#include "nd_manage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nd_wire.h"

/* One command: its request type and its single option letter. */
struct manage_cmd {
    const char *name;
    uint8_t type;
    char opt;         /* the short option, or 0 */
    const char *lopt; /* its long form, or NULL */
    uint32_t flag;    /* the request flag the option sets */
    const char *what; /* the operand's name in usage errors */
};

static const struct manage_cmd s_cmds[] = {
    {"mkdir", ND_T_MKDIR, 'p', "--parents", ND_MKDIR_PARENTS, "DIR"},
    {"rm", ND_T_REMOVE, 'r', "--recursive", ND_REMOVE_RECURSIVE, "PATH"},
    {"mv", ND_T_RENAME, 0, NULL, 0, "FROM and TO"},
};

static const struct manage_cmd *
find_cmd(const char *name)
{
    for (size_t i = 0; i < sizeof(s_cmds) / sizeof(s_cmds[0]); i++)
        if (strcmp(s_cmds[i].name, name) == 0)
            return &s_cmds[i];
    return NULL;
}

bool
nd_manage_is_cmd(const char *cmd)
{
    return find_cmd(cmd) != NULL;
}

/* Drops trailing slashes ("dir/" names dir), keeping at least one byte so
 * that "/" stays an absolute path for the server to refuse. */
static void
trim_slashes(char *path)
{
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
}

/*
 * Checks and normalizes the operands before anything is sent: mv's TO
 * ending in '/' gets FROM's last component appended (into that directory,
 * as put does).  Returns 0, or -1 after reporting a usage error.
 */
static int
prepare(const struct manage_cmd *mc, int n, char **ops, char *to_buf,
        size_t to_cap)
{
    if (n == 0 || (mc->type == ND_T_RENAME && n == 1)) {
        char what[64];

        snprintf(what, sizeof(what), "%s: missing %s", mc->name,
                 n == 0 ? mc->what : "TO");
        nd_cli_usage(what, "");
        return -1;
    }
    if (mc->type == ND_T_RENAME && n > 2) {
        nd_cli_usage(mc->name, ": too many operands");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(ops[i]);

        if (mc->type == ND_T_RENAME && i == 1 && len > 0 &&
            ops[1][len - 1] == '/') {
            const char *base = strrchr(ops[0], '/');

            base = base != NULL ? base + 1 : ops[0];
            snprintf(to_buf, to_cap, "%s%s", ops[1], base);
            ops[1] = to_buf;
        } else {
            trim_slashes(ops[i]);
        }
        if (strlen(ops[i]) > ND_PATH_MAX) {
            nd_cli_usage(mc->name, ": remote path longer than 4095 bytes");
            return -1;
        }
    }
    return 0;
}

int
nd_manage_request(struct nd_sess *s, uint8_t type, uint32_t flags,
                  const char *path, const char *to, bool *fatal)
{
    /* Static keeps room for two paths off the stack; the client is
     * single-threaded, so one frame serves every request. */
    static uint8_t frame[ND_HDR_LEN + 8 + 2 * ND_PATH_MAX];
    const char *name = "?";
    uint8_t body[ND_REPLY_MAX];
    size_t len;
    int rc;

    for (size_t i = 0; i < sizeof(s_cmds) / sizeof(s_cmds[0]); i++)
        if (s_cmds[i].type == type)
            name = s_cmds[i].name;
    s->path = path;
    s->msg[0] = '\0';
    if (to != NULL)
        snprintf(s->ctx, sizeof(s->ctx), "%s \"%s\" \"%s\"", name, path, to);
    else
        snprintf(s->ctx, sizeof(s->ctx), "%s \"%s\"", name, path);
    rc = nd_wire_send(
        &s->st, frame,
        nd_proto_fsreq_encode(frame, sizeof(frame), type, flags, path, to));
    if (rc < 0) {
        *fatal = true;
        return nd_cli_fail_send(s, rc);
    }
    rc = nd_wire_expect(&s->st, ND_T_OK, body, sizeof(body), &len, s->msg,
                        sizeof(s->msg));
    if (rc == 0 && len != 0)
        rc = -EBADMSG; /* these requests get a bare OK */
    if (rc == 0)
        return ND_EXIT_OK;
    *fatal = rc < 0 || nd_cli_session_ends(rc);
    return nd_cli_fail_wire(s, rc);
}

int
nd_manage_run(const struct nd_opts *o, const char *cmd, int argc, char **argv)
{
    static char to_buf[ND_PATH_MAX + ND_NAME_MAX + 2];
    const struct manage_cmd *mc = find_cmd(cmd);
    struct nd_sess s;
    const struct nd_cli_opt opt = {mc->opt, mc->lopt, mc->flag};
    unsigned flags;
    bool fatal = false;
    int n, rc, status = ND_EXIT_OK;

    n = nd_cli_cmd_opts(mc->name, &opt, mc->opt != 0, argc, argv, &flags);
    if (n < 0 || prepare(mc, n, argv, to_buf, sizeof(to_buf)) < 0)
        return ND_EXIT_USAGE;
    rc = nd_sess_init(&s, o, cmd, argv[0]);
    if (rc == ND_EXIT_OK)
        rc = nd_sess_open(o, &s);
    if (rc != ND_EXIT_OK) {
        nd_sess_close(&s);
        return rc;
    }
    if (mc->type == ND_T_RENAME) {
        status =
            nd_manage_request(&s, mc->type, flags, argv[0], argv[1], &fatal);
    } else {
        for (int i = 0; i < n && !fatal; i++) {
            rc = nd_manage_request(&s, mc->type, flags, argv[i], NULL, &fatal);
            /* A refusal of one operand does not stop the others; a lost
             * session does, and its status wins. */
            if (rc != ND_EXIT_OK && (fatal || status == ND_EXIT_OK))
                status = rc;
        }
    }
    nd_sess_close(&s);
    return status;
}
