/*
 * gen_corpus: writes the seed corpora of test/fuzz/corpus/ with the real
 * encoders and the real SCRAM code, so the fuzzers start from what peers
 * actually send rather than from what someone typed.  Not run by make fuzz:
 * the seeds are checked in, and this program is how they were made.
 *
 *   build-fuzz/test/fuzz/gen_corpus test/fuzz/corpus conf/netdiskd.conf
 *
 * Each seed is a small file named after what it holds.  Writing a seed that
 * already exists replaces it; seeds added by hand are left alone.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_proto.h"
#include "nd_scram.h"

static const char *s_out;
static uint8_t s_buf[ND_HDR_LEN + ND_FRAME_MAX];

static void
die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
seed(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", s_out, dir);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof(path), "%s/%s/%s", s_out, dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path);
}

/* A frame made by an encoder; a failed encode is a bug in this program. */
static void
frame(const char *name, long n)
{
    if (n < 0) {
        fprintf(stderr, "gen_corpus: encoding %s failed: %ld\n", name, n);
        exit(1);
    }
    seed("proto", name, s_buf, (size_t)n);
}

static void
proto_seeds(void)
{
    static const uint8_t md5[ND_MD5_LEN] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00,
                                            0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98,
                                            0xec, 0xf8, 0x42, 0x7e};
    struct nd_fileinfo fi = {1048576, 1764446400, 123456789, 0, 1, {0}};
    struct nd_statinfo si = {ND_FT_FILE, 5, 1764446400, 1, {0}};
    struct nd_entry e[3] = {
        {ND_FT_DIR, 4096, 1764446400, 4, "docs"},
        {ND_FT_FILE, 1048576, 1764446401, 9, "photo.jpg"},
        {ND_FT_LINK, 7, 1764446402, 6, "latest"},
    };
    static const char scram[][160] = {
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    };
    static const uint8_t scram_types[] = {ND_T_AUTH, ND_T_CHALLENGE, ND_T_PROOF,
                                          ND_T_WELCOME};
    static const char *const scram_names[] = {"auth", "challenge", "proof",
                                              "welcome"};
    struct nd_fileinfo rg = fi;
    struct nd_wbuf w;
    char name[64];
    uint8_t raw[ND_HDR_LEN + 8];
    long n;

    memcpy(fi.md5, md5, sizeof(md5));
    memcpy(si.md5, md5, sizeof(md5));
    rg.offset = 524288;
    rg.has_md5 = 0;
    memset(rg.md5, 0, sizeof(rg.md5));

    frame("hello", nd_proto_hello_encode(s_buf, sizeof(s_buf)));
    frame("ok-bare", nd_proto_empty_encode(s_buf, sizeof(s_buf), ND_T_OK));
    frame("ok-put", nd_proto_putok_encode(s_buf, sizeof(s_buf), 5, md5));
    frame("error-noent", nd_proto_error_encode(s_buf, sizeof(s_buf), ND_E_NOENT,
                                               "no such file or directory"));
    frame("error-control",
          nd_proto_error_encode(s_buf, sizeof(s_buf), ND_E_ACCESS,
                                "path \x1b[31mrefused\x1b[0m\n"));
    frame("error-empty",
          nd_proto_error_encode(s_buf, sizeof(s_buf), ND_E_BUSY, ""));
    frame("digest", nd_proto_digest_encode(s_buf, sizeof(s_buf), md5));
    frame("put", nd_proto_put_encode(s_buf, sizeof(s_buf), 0, 5,
                                     "docs/2026/report.pdf", 0, 0));
    frame("put-mtime",
          nd_proto_put_encode(s_buf, sizeof(s_buf), ND_PUT_MTIME, 1048576,
                              "photo.jpg", 1764446400, 999999999));
    frame("put-resume", nd_proto_put_encode(s_buf, sizeof(s_buf),
                                            ND_PUT_MTIME | ND_PUT_RESUME,
                                            1073741824, "disk.img", -1, 0));
    frame("get", nd_proto_get_encode(s_buf, sizeof(s_buf), "photo.jpg", NULL));
    frame("get-range",
          nd_proto_get_encode(s_buf, sizeof(s_buf), "disk.img", &rg));
    frame("list-root",
          nd_proto_req_encode(s_buf, sizeof(s_buf), ND_T_LIST, 0, ""));
    frame("list-dir",
          nd_proto_req_encode(s_buf, sizeof(s_buf), ND_T_LIST, 0, "photos/"));
    frame("stat",
          nd_proto_req_encode(s_buf, sizeof(s_buf), ND_T_STAT, 0, "a/b.txt"));
    frame("mkdir-p",
          nd_proto_fsreq_encode(s_buf, sizeof(s_buf), ND_T_MKDIR,
                                ND_MKDIR_PARENTS, "2026/summer", NULL));
    frame("remove-r", nd_proto_fsreq_encode(s_buf, sizeof(s_buf), ND_T_REMOVE,
                                            ND_REMOVE_RECURSIVE, "old", NULL));
    frame("rename", nd_proto_fsreq_encode(s_buf, sizeof(s_buf), ND_T_RENAME, 0,
                                          "draft.txt", "final/report.txt"));
    frame("rename-dotdot",
          nd_proto_fsreq_encode(s_buf, sizeof(s_buf), ND_T_RENAME, 0, "../x",
                                "/etc/passwd"));
    frame("ready", nd_proto_ready_encode(s_buf, sizeof(s_buf), 0));
    frame("ready-offset", nd_proto_ready_encode(s_buf, sizeof(s_buf), 524288));
    frame("file", nd_proto_file_encode(s_buf, sizeof(s_buf), &fi));
    frame("file-ranged", nd_proto_file_encode(s_buf, sizeof(s_buf), &rg));
    frame("statinfo", nd_proto_statinfo_encode(s_buf, sizeof(s_buf), &si));
    si.type = ND_FT_DIR;
    si.has_md5 = 0;
    frame("statinfo-dir", nd_proto_statinfo_encode(s_buf, sizeof(s_buf), &si));
    frame("end", nd_proto_end_encode(s_buf, sizeof(s_buf), 3));

    nd_wbuf_init(&w, s_buf, sizeof(s_buf), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    for (int i = 0; i < 3; i++)
        nd_proto_entries_add(&w, &e[i]);
    frame("entries", nd_proto_entries_finish(&w, 3));
    nd_wbuf_init(&w, s_buf, sizeof(s_buf), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    frame("entries-empty", nd_proto_entries_finish(&w, 0));
    /* A count that promises more than the frame holds. */
    nd_wbuf_init(&w, s_buf, sizeof(s_buf), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    nd_proto_entries_add(&w, &e[1]);
    frame("entries-short", nd_proto_entries_finish(&w, 1000));

    /* At the limits: a name of ND_NAME_MAX bytes, a path of ND_PATH_MAX,
     * a message of ND_MSG_MAX; one byte more must be refused. */
    memset(e[0].name, 'n', ND_NAME_MAX);
    e[0].name[ND_NAME_MAX] = '\0';
    e[0].name_len = ND_NAME_MAX;
    nd_wbuf_init(&w, s_buf, sizeof(s_buf), ND_T_ENTRIES);
    nd_proto_entries_begin(&w);
    nd_proto_entries_add(&w, &e[0]);
    frame("entries-long-name", nd_proto_entries_finish(&w, 1));
    {
        char path[ND_PATH_MAX + 1], msg[ND_MSG_MAX + 1];

        memset(path, 'p', ND_PATH_MAX);
        for (int i = 255; i < ND_PATH_MAX; i += 256)
            path[i] = '/';
        path[ND_PATH_MAX] = '\0';
        frame("get-long-path",
              nd_proto_get_encode(s_buf, sizeof(s_buf), path, NULL));
        memset(msg, 'm', ND_MSG_MAX);
        msg[ND_MSG_MAX] = '\0';
        frame("error-long",
              nd_proto_error_encode(s_buf, sizeof(s_buf), ND_E_IO, msg));
    }

    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "scram-%s", scram_names[i]);
        frame(name, nd_proto_raw_encode(s_buf, sizeof(s_buf), scram_types[i],
                                        scram[i], strlen(scram[i])));
    }

    /* Headers no encoder makes: the version, the flags, the length. */
    n = nd_proto_ready_encode(raw, sizeof(raw), 1);
    raw[4] = 2;
    seed("proto", "bad-version", raw, (size_t)n);
    raw[4] = ND_PROTO_VERSION;
    raw[7] = 1;
    seed("proto", "bad-flags", raw, (size_t)n);
    raw[7] = 0;
    nd_proto_put_be(raw, ND_FRAME_MAX + 1, 4);
    seed("proto", "bad-length", raw, (size_t)n);
    seed("proto", "short-header", raw, 5);
}

static void
path_seeds(void)
{
    /* The option byte: '0' checks as a request path, '1' as LIST does
     * ("" and one trailing '/' allowed). */
    static const char *const paths[][2] = {
        {"file", "0file"},
        {"deep", "0dir/sub/deep.txt"},
        {"list-root", "1"},
        {"list-dir", "1dir/"},
        {"list-subdir", "1dir/sub/"},
        {"dotdot", "0../outside/secret"},
        {"absolute", "0/etc/passwd"},
        {"list-slash", "1/"},
        {"link-up", "0up/outside/secret"},
        {"link-escape", "0dir/escape/secret"},
        {"link-back", "0dir/back/file"},
        {"link-back-up", "0dir/back/up/outside"},
        {"link-in", "0in-link/deep.txt"},
        {"link-file", "0file-link"},
        {"link-deep", "0dir/deep-link"},
        {"link-loop", "0loop"},
        {"link-dangling", "0dangling"},
        {"fifo", "0fifo"},
        {"link-abs", "0abs/etc/passwd"},
        {"link-passwd", "0passwd"},
        {"link-far", "0dir/sub/far"},
        {"link-base", "0base/outside/secret"},
        {"link-proc", "0proc-cwd/etc"},
        {"reserved-dir", "0.netdisk-partial/part"},
        {"reserved-file", "0dir/.netdisk-0123456789abcdef"},
        {"dot-component", "0dir/./sub"},
        {"empty-component", "0dir//sub"},
        {"trailing-dotdot", "0dir/sub/.."},
        {"dot", "0."},
        {"dotdot-alone", "0.."},
        {"three-dots", "0..."},
        {"reserved-prefix", "0.netdisk-"},
        {"almost-reserved", "0.netdisk"},
        {"space", "0 "},
        {"backslash", "0dir\\sub"},
        {"trailing-slash", "0dir/"},
        {"list-double-slash", "1dir//"},
        {"bad-utf8", "0\xff\xfe\xc0\xaf"},
        {"utf8-bidi", "0caf\xc3\xa9/\xe2\x80\xae"},
        {"surrogate", "0\xed\xa0\x80"},
    };
    char buf[8192];

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        seed("path", paths[i][0], paths[i][1], strlen(paths[i][1]));
    /* A NUL inside the path, which the request decoder must refuse. */
    seed("path", "nul", "0dir\0/etc/passwd", 16);
    /* Lengths at and over the limits: a path of ND_PATH_MAX and one more,
     * a component of ND_NAME_MAX and one more. */
    buf[0] = '0';
    memset(buf + 1, 'a', ND_PATH_MAX + 1);
    for (size_t i = 256; i < ND_PATH_MAX; i += 256)
        buf[i] = '/';
    seed("path", "long-path", buf, 1 + ND_PATH_MAX);
    seed("path", "too-long-path", buf, 1 + ND_PATH_MAX + 1);
    memset(buf + 1, 'b', ND_NAME_MAX + 1);
    seed("path", "long-name", buf, 1 + ND_NAME_MAX);
    seed("path", "too-long-name", buf, 1 + ND_NAME_MAX + 1);
}

/* A SCRAM seed: the mode character, then one or two messages. */
static void
scram_seed(const char *name, char mode, const char *m1, const char *m2)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%c%s%s%s", mode, m1,
                     m2 != NULL ? "\n" : "", m2 != NULL ? m2 : "");

    seed("scram", name, buf, (size_t)n);
}

static void
scram_seeds(void)
{
    static const uint8_t salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12,
                                   0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14,
                                   0x12, 0x36, 0xfa, 0x81};
    struct nd_scram_verifier v;
    struct nd_scram_server s;
    struct nd_scram_client c;
    char first[ND_SCRAM_MSG_MAX + 1], chal[ND_SCRAM_MSG_MAX + 1];
    char final[ND_SCRAM_MSG_MAX + 1], fin[ND_SCRAM_MSG_MAX + 1];
    char text[ND_SCRAM_VERIFIER_MAX], bad[ND_SCRAM_MSG_MAX + 1];
    uint8_t big[ND_SCRAM_SALT_MAX];

    /* RFC 7677's exchange, made by our client and our server. */
    if (nd_scram_verifier_derive("pencil", 6, salt, sizeof(salt), 4096, &v) !=
            0 ||
        nd_scram_client_first(&c, "user", "rOprNGfwEbeRWgbNEkqO", first,
                              sizeof(first)) < 0 ||
        nd_scram_server_start(&s, first, strlen(first)) != 0 ||
        nd_scram_server_challenge(&s, &v, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
                                  chal, sizeof(chal)) < 0 ||
        nd_scram_client_final(&c, "pencil", 6, chal, strlen(chal), final,
                              sizeof(final)) < 0 ||
        nd_scram_server_finish(&s, final, strlen(final), fin, sizeof(fin)) <
            0 ||
        nd_scram_verifier_format(&v, text, sizeof(text)) < 0) {
        fprintf(stderr, "gen_corpus: the RFC 7677 exchange failed\n");
        exit(1);
    }

    /* The server's side: client-first, client-final. */
    scram_seed("server-rfc", '0', first, final);
    scram_seed("server-first-only", '0', first, NULL);
    snprintf(bad, sizeof(bad), "%s", final);
    bad[strlen(bad) - 5] ^= 1;
    scram_seed("server-wrong-proof", '0', first, bad);
    scram_seed("server-y-flag", '0', "y,,n=user,r=rOprNGfwEbeRWgbNEkqO",
               "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    scram_seed("server-extension", '0',
               "n,,n=user,r=rOprNGfwEbeRWgbNEkqO,x=ext", final);
    scram_seed("server-escapes", '0', "n,,n=a=2Cb=3Dc,r=abc", "c=biws,r=abc");
    scram_seed("server-bad-escape", '0', "n,,n=a=2Xb,r=abc", NULL);
    scram_seed("server-mock-user", '0', "n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL",
               "c=biws,r=fyko+d2lbbFgONRv9qkxdawL%hvYDpWUa2RaTCAfuxFIlj)hNlF$"
               "k0,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    scram_seed("server-utf8-user", '0', "n,,n=caf\xc3\xa9,r=n0nce", NULL);
    scram_seed("server-bad-utf8", '0', "n,,n=\xc0\xaf\xed\xa0\x80,r=n0nce",
               NULL);
    scram_seed("server-channel-binding", '0', "p=tls-unique,,n=user,r=abc",
               NULL);
    scram_seed("server-authzid", '0', "n,a=admin,n=user,r=abc", NULL);
    scram_seed("server-reserved-m", '0', "n,,m=x,n=user,r=abc", NULL);
    scram_seed("server-empty-user", '0', "n,,n=,r=abc", NULL);
    scram_seed("server-no-nonce", '0', "n,,n=user", NULL);

    /* The client's side: server-first, server-final. */
    scram_seed("client-rfc", '1', chal, fin);
    scram_seed("client-first-only", '1', chal, NULL);
    scram_seed("client-error", '1', chal, "e=invalid-proof");
    scram_seed("client-wrong-signature", '1', chal,
               "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    scram_seed("client-low-count", '1',
               "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
               NULL);
    scram_seed("client-huge-count", '1',
               "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999",
               NULL);
    scram_seed("client-extension", '1',
               "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=ext",
               NULL);
    scram_seed("client-foreign-nonce", '1',
               "r=somebodyelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL);
    scram_seed("client-bad-salt", '1',
               "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gR==,i=4096",
               NULL);
    scram_seed("client-reserved-m", '1',
               "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
               NULL);

    /* Verifiers: the RFC's, the largest, and near misses. */
    scram_seed("verifier-rfc", '2', text, NULL);
    memset(big, 0xa5, sizeof(big));
    if (nd_scram_verifier_derive("pw", 2, big, sizeof(big), 10000000, &v) ==
            0 &&
        nd_scram_verifier_format(&v, bad, sizeof(bad)) > 0)
        scram_seed("verifier-max", '2', bad, NULL);
    snprintf(bad, sizeof(bad), "%s", text);
    bad[strlen("SCRAM-SHA-256$")] = '0';
    scram_seed("verifier-leading-zero", '2', bad, NULL);
    snprintf(bad, sizeof(bad), "%s ", text);
    scram_seed("verifier-trailing", '2', bad, NULL);
    scram_seed("verifier-short-key", '2',
               "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA", NULL);
    scram_seed("verifier-mock-tag", '2',
               "@mock:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1"
               "c1d1e1f",
               NULL);
    nd_scram_server_clear(&s);
    nd_scram_client_clear(&c);
}

static void
config_seed(const char *name, const char *text)
{
    seed("config", name, text, strlen(text));
}

static void
config_seeds(const char *conf)
{
    char buf[65536];
    size_t n = 0;
    FILE *f = conf != NULL ? fopen(conf, "rb") : NULL;

    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        seed("config", "netdiskd.conf", buf, n);
    }
    config_seed("empty", "");
    config_seed("comments",
                "# only a comment\n// another\n/* and\n a block */\n");
    config_seed("all-set", "listen = \"::1\";\nport = 0;\nworkers = 256;\n"
                           "root = \"relative/dir\";\nqueue_capacity = 1;\n"
                           "max_connections = 100000;\nidle_timeout = 1;\n"
                           "shutdown_timeout = 0;\nlog_level = \"debug\";\n");
    config_seed("int64", "port = 5678L;\nworkers = 16LL;\n");
    config_seed("hex", "port = 0x162E;\n");
    config_seed("wraps", "port = 4294972974;\nworkers = 4294967300;\n");
    config_seed("negative", "port = -4294967296;\n");
    config_seed("huge", "port = 99999999999999999999999;\n");
    config_seed("float", "port = 5678.0;\nlogin_delay_ms = 1e3;\n");
    config_seed("wrong-types",
                "workers = true;\nlog_level = 7;\nport = \"5678\";\n");
    config_seed("tls",
                "tls = \"required\";\ntls_cert = \"/etc/netdisk/c.pem\";\n"
                "tls_key = \"/etc/netdisk/k.pem\";\n"
                "allow_plaintext = true;\nlisten = \"0.0.0.0\";\n");
    config_seed("tls-no-key", "tls = \"optional\";\ntls_cert = \"c.pem\";\n");
    config_seed("accounts", "users_file = \"/var/lib/netdisk/users\";\n"
                            "scram_iterations = 10000000;\n"
                            "login_ban_after = 1000;\nlogin_ban_seconds = 0;\n"
                            "user = \"netdisk\";\ngroup = \"\";\n"
                            "allow_root = false;\npartial_ttl = 2592000;\n");
    config_seed("include", "@include \"/etc/passwd\"\n");
    config_seed("duplicate", "port = 1;\nport = 2;\n");
    config_seed("unknown", "prot = 5678;\n");
    config_seed("group", "limits = { port = 1; };\nlist = (1, \"a\");\n"
                         "array = [1, 2];\n");
    config_seed("escapes", "root = \"/srv/\\x41\\\"q\\\\\\n\\t\";\n");
    config_seed("colon", "port: 5678\nworkers: 2,\n");
    config_seed("unterminated", "root = \"/srv\n");
    config_seed("bad-address", "listen = \"localhost\";\n");
    seed("config", "nul", "port = 1;\0workers = 0;\n", 23);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR [netdiskd.conf]\n");
        return 2;
    }
    s_out = argv[1];
    if (mkdir(s_out, 0755) < 0 && errno != EEXIST)
        die(s_out);
    proto_seeds();
    path_seeds();
    scram_seeds();
    config_seeds(argc > 2 ? argv[2] : NULL);
    return 0;
}
