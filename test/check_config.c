/*
 * Unit tests for nd_config: defaults, every key, the range boundaries of each
 * integer key, and one case per error class, checking that the message
 * starts with "FILE:LINE: " and names the key.  Each test writes its config
 * into a fresh mkdtemp() directory that the fixture removes afterwards.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_config.h"
#include "nd_log.h"

static char s_dir[64];
static char s_path[128];
static char s_err[ND_CONFIG_ERR_LEN];

static void
setup(void)
{
    strcpy(s_dir, "/tmp/check_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
    snprintf(s_path, sizeof(s_path), "%s/netdiskd.conf", s_dir);
    s_err[0] = '\0';
}

static void
teardown(void)
{
    unlink(s_path);
    rmdir(s_dir);
}

/* Writes len bytes of text as the config file. */
static void
write_conf_n(const char *text, size_t len)
{
    FILE *f = fopen(s_path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void
write_conf(const char *text)
{
    write_conf_n(text, strlen(text));
}

/* Loads text, which must succeed, into *cfg. */
static void
load_ok(const char *text, struct nd_config *cfg)
{
    int rc;

    write_conf(text);
    rc = nd_config_load(cfg, s_path, s_err);
    ck_assert_msg(rc == 0, "load of \"%s\" gave %d: %s", text, rc, s_err);
    ck_assert_str_eq(s_err, "");
}

/*
 * Loads text, which must fail with -EINVAL, leave the struct untouched, and
 * give a message that starts with "FILE:LINE: " and contains needle.
 */
static void
load_bad(const char *text, int line, const char *needle)
{
    struct nd_config cfg, before;
    char want[256];
    int rc;

    write_conf(text);
    memset(&cfg, 0x5a, sizeof(cfg));
    before = cfg;
    rc = nd_config_load(&cfg, s_path, s_err);
    ck_assert_msg(rc == -EINVAL, "load of \"%s\" gave %d, not -EINVAL", text,
                  rc);
    ck_assert_msg(memcmp(&cfg, &before, sizeof(cfg)) == 0,
                  "a failed load changed the struct");
    snprintf(want, sizeof(want), "%s:%d: ", s_path, line);
    ck_assert_msg(strncmp(s_err, want, strlen(want)) == 0,
                  "\"%s\" does not start with \"%s\"", s_err, want);
    ck_assert_msg(strstr(s_err, needle) != NULL,
                  "\"%s\" does not contain \"%s\"", s_err, needle);
}

/* The integer keys as the documentation states them. */
static const struct {
    const char *name;
    size_t offset;
    long long min, max;
} int_keys[] = {
    {"port", offsetof(struct nd_config, port), 0, 65535},
    {"workers", offsetof(struct nd_config, workers), 1, 256},
    {"queue_capacity", offsetof(struct nd_config, queue_capacity), 1, 65536},
    {"max_connections", offsetof(struct nd_config, max_connections), 1,
     100000},
    {"idle_timeout", offsetof(struct nd_config, idle_timeout), 1, 86400},
    {"shutdown_timeout", offsetof(struct nd_config, shutdown_timeout), 0,
     3600},
};

#define N_INT_KEYS ((int) (sizeof(int_keys) / sizeof(int_keys[0])))

START_TEST(test_defaults)
{
    struct nd_config cfg;

    nd_config_defaults(&cfg);
    ck_assert_str_eq(cfg.listen, "127.0.0.1");
    ck_assert_int_eq(cfg.port, 5678);
    ck_assert_int_eq(cfg.workers, 4);
    ck_assert_str_eq(cfg.root, "/var/lib/netdisk/files");
    ck_assert_int_eq(cfg.queue_capacity, 256);
    ck_assert_int_eq(cfg.max_connections, 1024);
    ck_assert_int_eq(cfg.idle_timeout, 300);
    ck_assert_int_eq(cfg.shutdown_timeout, 30);
    ck_assert_int_eq(cfg.log_level, ND_LOG_INFO);
}
END_TEST

START_TEST(test_empty_file_gives_defaults)
{
    static const char *const texts[] = {
        "", "\n\n", "# only a comment\n// another\n/* and\n a block */\n"};
    struct nd_config cfg, def;

    nd_config_defaults(&def);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        memset(&cfg, 0x5a, sizeof(cfg));
        load_ok(texts[i], &cfg);
        ck_assert_mem_eq(&cfg, &def, sizeof(cfg));
    }
}
END_TEST

START_TEST(test_every_key)
{
    struct nd_config cfg;

    load_ok("listen = \"::1\";\n"
            "port = 0;\n"
            "workers = 256;\n"
            "root = \"relative/dir\";\n"
            "queue_capacity = 1;\n"
            "max_connections = 100000;\n"
            "idle_timeout = 1;\n"
            "shutdown_timeout = 0;\n"
            "log_level = \"debug\";\n",
            &cfg);
    ck_assert_str_eq(cfg.listen, "::1");
    ck_assert_int_eq(cfg.port, 0);
    ck_assert_int_eq(cfg.workers, 256);
    ck_assert_str_eq(cfg.root, "relative/dir");
    ck_assert_int_eq(cfg.queue_capacity, 1);
    ck_assert_int_eq(cfg.max_connections, 100000);
    ck_assert_int_eq(cfg.idle_timeout, 1);
    ck_assert_int_eq(cfg.shutdown_timeout, 0);
    ck_assert_int_eq(cfg.log_level, ND_LOG_DEBUG);
}
END_TEST

START_TEST(test_partial_file_keeps_other_defaults)
{
    struct nd_config cfg, def;

    nd_config_defaults(&def);
    load_ok("workers = 8; // the rest stays as built in\n", &cfg);
    ck_assert_int_eq(cfg.workers, 8);
    cfg.workers = def.workers;
    ck_assert_mem_eq(&cfg, &def, sizeof(cfg));
}
END_TEST

START_TEST(test_log_levels)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"error", ND_LOG_ERR},
                  {"warn", ND_LOG_WARN},
                  {"info", ND_LOG_INFO},
                  {"debug", ND_LOG_DEBUG}};
    struct nd_config cfg;
    char text[64];

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        snprintf(text, sizeof(text), "log_level = \"%s\";\n", levels[i].name);
        load_ok(text, &cfg);
        ck_assert_int_eq(cfg.log_level, levels[i].level);
    }
}
END_TEST

/* A loop test: _i indexes int_keys. */
START_TEST(test_int_range_boundaries)
{
    const char *name = int_keys[_i].name;
    long long min = int_keys[_i].min, max = int_keys[_i].max;
    const long long ok[] = {min, max};
    const long long bad[] = {min - 1, max + 1};
    struct nd_config cfg;
    char text[128], needle[128];

    for (int j = 0; j < 2; j++) {
        snprintf(text, sizeof(text), "# boundary\n%s = %lld;\n", name, ok[j]);
        load_ok(text, &cfg);
        ck_assert_int_eq(*(int *) ((char *) &cfg + int_keys[_i].offset),
                         ok[j]);
    }
    for (int j = 0; j < 2; j++) {
        snprintf(text, sizeof(text), "# boundary\n%s = %lld;\n", name, bad[j]);
        snprintf(needle, sizeof(needle),
                 "key '%s': %lld is out of range %lld..%lld", name, bad[j],
                 min, max);
        load_bad(text, 2, needle);
    }
}
END_TEST

START_TEST(test_int64_literals)
{
    struct nd_config cfg;

    load_ok("port = 5678L;\nworkers = 16LL;\n", &cfg);
    ck_assert_int_eq(cfg.port, 5678);
    ck_assert_int_eq(cfg.workers, 16);
    load_ok("port = 0x162E;\n", &cfg);
    ck_assert_int_eq(cfg.port, 5678);
    load_bad("\nport = 70000L;\n", 2, "key 'port': 70000 is out of range");
    load_bad("port = 4294972974L;\n", 1,
             "key 'port': 4294972974 is out of range 0..65535");
}
END_TEST

/* libconfig 1.5 cuts these to 32 bits (4294972974 would become 5678). */
START_TEST(test_wide_literals_are_not_truncated)
{
    struct nd_config cfg;

    load_bad("port = 4294972974;\n", 1,
             "key 'port': 4294972974 is out of range 0..65535");
    load_bad("\nworkers = 4294967300;\n", 2,
             "key 'workers': 4294967300 is out of range 1..256");
    load_bad("port = -4294967296;\n", 1, "key 'port': -4294967296 is out");
    load_bad("port = 2147483648;\n", 1, "key 'port': 2147483648 is out");
    load_bad("port = 0x10000162E;\n", 1, "key 'port': 4294972974 is out");
    load_bad("port = 99999999999999999999999;\n", 1,
             "key 'port': 9223372036854775807 is out of range");
    /* The same digits inside comments and strings are left alone. */
    load_ok("# port = 4294972974;\n"
            "/* workers = 4294967300; */\n"
            "root = \"/srv/4294967300\";\n"
            "port = 5678;\n",
            &cfg);
    ck_assert_int_eq(cfg.port, 5678);
    ck_assert_str_eq(cfg.root, "/srv/4294967300");
}
END_TEST

START_TEST(test_listen_addresses)
{
    static const char *const good[] = {"::1", "::", "0.0.0.0", "10.1.2.3",
                                       "fe80::1", "::ffff:127.0.0.1"};
    static const char *const bad[] = {"localhost", "1.2.3", "1.2.3.4:80",
                                      "::1%lo", "256.1.1.1", " 127.0.0.1"};
    struct nd_config cfg;
    char text[128], needle[128];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), "listen = \"%s\";\n", good[i]);
        load_ok(text, &cfg);
        ck_assert_str_eq(cfg.listen, good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "port = 1;\nlisten = \"%s\";\n", bad[i]);
        snprintf(needle, sizeof(needle),
                 "key 'listen': \"%s\" is not a numeric IPv4 or IPv6 address",
                 bad[i]);
        load_bad(text, 2, needle);
    }
    load_bad("listen = \"\";\n", 1, "key 'listen': \"\" must not be empty");
}
END_TEST

START_TEST(test_root_values)
{
    static char text[8192];
    struct nd_config cfg;
    char *long_root = malloc(4097);

    load_bad("root = \"\";\n", 1, "key 'root': \"\" must not be empty");
    /* 4095 bytes fit the 4096-byte field with its NUL, 4096 do not. */
    memset(long_root, 'a', 4096);
    long_root[0] = '/';
    long_root[4095] = '\0';
    snprintf(text, sizeof(text), "root = \"%s\";\n", long_root);
    load_ok(text, &cfg);
    ck_assert_str_eq(cfg.root, long_root);
    long_root[4095] = 'a';
    long_root[4096] = '\0';
    snprintf(text, sizeof(text), "\nroot = \"%s\";\n", long_root);
    load_bad(text, 2, "key 'root': \"/aaa");
    ck_assert_ptr_nonnull(strstr(s_err, "is too long"));
    free(long_root);
}
END_TEST

START_TEST(test_bad_log_level)
{
    load_bad("port = 1;\n\nlog_level = \"verbose\";\n", 3,
             "key 'log_level': \"verbose\" is not one of error, warn, info, "
             "debug");
    load_bad("log_level = \"INFO\";\n", 1, "key 'log_level': \"INFO\"");
    load_bad("log_level = 7;\n", 1,
             "key 'log_level': expected a string, got an integer");
}
END_TEST

START_TEST(test_wrong_types)
{
    load_bad("# the port\n\nport = \"5678\";\n", 3,
             "key 'port': expected an integer, got a string");
    load_bad("port = 5678.0;\n", 1,
             "key 'port': expected an integer, got a float");
    load_bad("workers = true;\n", 1,
             "key 'workers': expected an integer, got a boolean");
    load_bad("listen = 127;\n", 1,
             "key 'listen': expected a string, got an integer");
    load_bad("root = [\"a\", \"b\"];\n", 1,
             "key 'root': expected a string, got an array");
}
END_TEST

START_TEST(test_groups_and_lists_rejected)
{
    load_bad("port = 1;\nport_range = { low = 1; high = 2; };\n", 2,
             "unknown key 'port_range'");
    load_bad("/* one\n   two */\nport = { value = 1; };\n", 3,
             "key 'port': expected an integer, got a group");
    load_bad("workers = (1, 2);\n", 1,
             "key 'workers': expected an integer, got a list");
    /* A key inside a group is not a top-level key. */
    load_bad("server = {\n  port = 4294972974;\n};\n", 1,
             "unknown key 'server'");
}
END_TEST

START_TEST(test_unknown_key)
{
    load_bad("port = 1;\nworkers = 2;\nthreads = 4;\n", 3,
             "unknown key 'threads'");
    load_bad("Port = 1;\n", 1, "unknown key 'Port'");
}
END_TEST

START_TEST(test_syntax_errors)
{
    char want[256];

    load_bad("port = 5678;\nworkers = ;\n", 2, "syntax error");
    snprintf(want, sizeof(want), "%s:2: syntax error", s_path);
    ck_assert_str_eq(s_err, want);
    load_bad("port = 5678;\n\nlisten = 127.0.0.1;\n", 3, "syntax error");
    load_bad("port = 5678;\nroot = \"/a\" /\n", 2, "syntax error");
}
END_TEST

START_TEST(test_duplicate_key)
{
    /* libconfig itself refuses a repeated setting while parsing. */
    load_bad("# c\nport = 1;\nport = 2;\n", 3,
             "syntax error: duplicate setting name");
}
END_TEST

START_TEST(test_include_refused)
{
    load_bad("port = 1;\n@include \"other.conf\"\n", 2,
             "@include is not supported");
}
END_TEST

START_TEST(test_nul_byte_refused)
{
    static const char text[] = "port = 1;\n\0workers = 0;\n";
    struct nd_config cfg, before;
    char want[256];

    write_conf_n(text, sizeof(text) - 1);
    memset(&cfg, 0, sizeof(cfg));
    before = cfg;
    ck_assert_int_eq(nd_config_load(&cfg, s_path, s_err), -EINVAL);
    ck_assert_mem_eq(&cfg, &before, sizeof(cfg));
    snprintf(want, sizeof(want), "%s:2: syntax error: NUL byte", s_path);
    ck_assert_str_eq(s_err, want);
}
END_TEST

START_TEST(test_missing_file)
{
    struct nd_config cfg;
    char want[256];

    ck_assert_int_eq(nd_config_load(&cfg, s_path, s_err), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot read: %s", s_path,
             strerror(ENOENT));
    ck_assert_str_eq(s_err, want);
}
END_TEST

START_TEST(test_directory)
{
    struct nd_config cfg;

    /* libconfig's scanner would exit(2) on the read error. */
    ck_assert_int_eq(nd_config_load(&cfg, s_dir, s_err), -EISDIR);
    ck_assert_ptr_nonnull(strstr(s_err, s_dir));
    ck_assert_ptr_nonnull(strstr(s_err, ": cannot read: "));
}
END_TEST

START_TEST(test_unreadable_file)
{
    struct nd_config cfg;
    int rc;

    write_conf("port = 1;\n");
    ck_assert_int_eq(chmod(s_path, 0), 0);
    /* Root reads anything, so drop the effective uid for the attempt; a
     * root without CAP_SETUID cannot run this test. */
    if (geteuid() == 0 && seteuid(65534) != 0)
        return;
    rc = nd_config_load(&cfg, s_path, s_err);
    if (getuid() == 0)
        ck_assert_int_eq(seteuid(0), 0);
    ck_assert_int_eq(rc, -EACCES);
    ck_assert_ptr_nonnull(strstr(s_err, s_path));
    ck_assert_ptr_nonnull(strstr(s_err, strerror(EACCES)));
}
END_TEST

START_TEST(test_too_large_file)
{
    struct nd_config cfg;
    size_t len = 1024 * 1024 + 1;
    char *text = malloc(len);

    memset(text, '\n', len);
    write_conf_n(text, len);
    free(text);
    ck_assert_int_eq(nd_config_load(&cfg, s_path, s_err), -EFBIG);
    ck_assert_ptr_nonnull(strstr(s_err, s_path));
}
END_TEST

START_TEST(test_shipped_config_is_the_defaults)
{
    const char *src = getenv("ND_TEST_SRC");
    static const char *const names[] = {
        "listen",          "port",         "workers",
        "root",            "queue_capacity", "max_connections",
        "idle_timeout",    "shutdown_timeout", "log_level",
        "max_per_ip", "users_file", "scram_iterations", "login_delay_ms",
        "login_ban_after", "login_ban_seconds", "login_timeout", "tls",
        "tls_cert", "tls_key",
        "allow_plaintext", "user", "group", "allow_root"};
    struct nd_config cfg, def;
    char path[PATH_MAX], text[16384], want[64];
    size_t len;
    FILE *f;

    ck_assert_msg(src != NULL, "ND_TEST_SRC is not set");
    snprintf(path, sizeof(path), "%s/../conf/netdiskd.conf", src);
    ck_assert_msg(nd_config_load(&cfg, path, s_err) == 0, "%s", s_err);
    nd_config_defaults(&def);
    ck_assert_str_eq(cfg.listen, def.listen);
    ck_assert_int_eq(cfg.port, def.port);
    ck_assert_int_eq(cfg.workers, def.workers);
    ck_assert_str_eq(cfg.root, def.root);
    ck_assert_int_eq(cfg.queue_capacity, def.queue_capacity);
    ck_assert_int_eq(cfg.max_connections, def.max_connections);
    ck_assert_int_eq(cfg.idle_timeout, def.idle_timeout);
    ck_assert_int_eq(cfg.shutdown_timeout, def.shutdown_timeout);
    ck_assert_int_eq(cfg.log_level, def.log_level);
    ck_assert_int_eq(cfg.max_per_ip, def.max_per_ip);
    ck_assert_str_eq(cfg.users_file, def.users_file);
    ck_assert_int_eq(cfg.scram_iterations, def.scram_iterations);
    ck_assert_int_eq(cfg.login_delay_ms, def.login_delay_ms);
    ck_assert_int_eq(cfg.login_ban_after, def.login_ban_after);
    ck_assert_int_eq(cfg.login_ban_seconds, def.login_ban_seconds);
    ck_assert_int_eq(cfg.login_timeout, def.login_timeout);
    ck_assert_int_eq(cfg.tls, def.tls);
    ck_assert_str_eq(cfg.tls_cert, def.tls_cert);
    ck_assert_str_eq(cfg.tls_key, def.tls_key);
    ck_assert_int_eq(cfg.allow_plaintext, def.allow_plaintext);
    ck_assert_str_eq(cfg.group, def.group);
    ck_assert_int_eq(cfg.allow_root, def.allow_root);
    /* The one deliberate difference: the sample names the account that
     * make run and the systemd unit use, so a start as root drops to it. */
    ck_assert_str_eq(def.user, "");
    ck_assert_str_eq(cfg.user, "netdisk");

    /* Every key is spelled out in the sample, not left to the default. */
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(want, sizeof(want), "\n%s = ", names[i]);
        ck_assert_msg(strstr(text, want) != NULL, "%s is missing", names[i]);
    }
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("nd_config");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_empty_file_gives_defaults);
    tcase_add_test(tc, test_every_key);
    tcase_add_test(tc, test_partial_file_keeps_other_defaults);
    tcase_add_test(tc, test_log_levels);
    tcase_add_loop_test(tc, test_int_range_boundaries, 0, N_INT_KEYS);
    tcase_add_test(tc, test_int64_literals);
    tcase_add_test(tc, test_wide_literals_are_not_truncated);
    tcase_add_test(tc, test_listen_addresses);
    tcase_add_test(tc, test_root_values);
    tcase_add_test(tc, test_bad_log_level);
    tcase_add_test(tc, test_wrong_types);
    tcase_add_test(tc, test_groups_and_lists_rejected);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_duplicate_key);
    tcase_add_test(tc, test_include_refused);
    tcase_add_test(tc, test_nul_byte_refused);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_directory);
    tcase_add_test(tc, test_unreadable_file);
    tcase_add_test(tc, test_too_large_file);
    tcase_add_test(tc, test_shipped_config_is_the_defaults);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
