/*
 * Unit tests for nd_users on real files: add, passwd and del with their
 * errors, the mode and owner of every new file, atomicity (a failed write
 * leaves the old file as it was and no temporary file behind), the @mock
 * secret, comments kept, malformed files refused with the right line, and
 * concurrent updates that must not lose each other's change.  Each test
 * works in a fresh mkdtemp() directory that the fixture removes.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nd_scram.h"
#include "nd_users.h"

/* An unprivileged account for the tests that need one when run as root. */
#define NOBODY 65534

static char s_dir[64];
static char s_path[128];
/* Two verifiers made once per test (PBKDF2 is the slow part). */
static struct nd_scram_verifier s_v1, s_v2;

static void
setup(void)
{
    strcpy(s_dir, "/tmp/check_users.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
    snprintf(s_path, sizeof(s_path), "%s/users", s_dir);
    ck_assert_int_eq(nd_scram_verifier_new("one", 3, 4096, &s_v1), 0);
    ck_assert_int_eq(nd_scram_verifier_new("two", 3, 4096, &s_v2), 0);
}

static void
teardown(void)
{
    DIR *d;
    struct dirent *e;

    chmod(s_dir, 0700);
    d = opendir(s_dir);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(s_dir);
}

/* The whole file at path, NUL-terminated (caller frees), or NULL. */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void
write_str(const char *text)
{
    write_text(s_path, text, strlen(text));
}

static unsigned
mode_of(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* The number of entries in the test directory besides "." and "..". */
static int
entries(void)
{
    DIR *d = opendir(s_dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The number of lines of text starting with prefix. */
static int
count_lines(const char *text, const char *prefix)
{
    int n = 0;

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return n;
}

static bool
same_verifier(const struct nd_scram_verifier *a,
              const struct nd_scram_verifier *b)
{
    return a->iterations == b->iterations && a->salt_len == b->salt_len &&
           memcmp(a->salt, b->salt, a->salt_len) == 0 &&
           memcmp(a->stored_key, b->stored_key, ND_SCRAM_KEY_LEN) == 0 &&
           memcmp(a->server_key, b->server_key, ND_SCRAM_KEY_LEN) == 0;
}

static int
lookup(const char *name, struct nd_scram_verifier *v, uint8_t *secret,
       int *line)
{
    struct nd_scram_verifier tv;
    uint8_t ts[ND_USERS_SECRET_LEN];
    int tl;

    return nd_users_lookup(s_path, name, v != NULL ? v : &tv,
                           secret != NULL ? secret : ts,
                           line != NULL ? line : &tl);
}

/* A record line for name with verifier v, with its newline. */
static void
record(char *out, size_t cap, const char *name,
       const struct nd_scram_verifier *v)
{
    char text[ND_SCRAM_VERIFIER_MAX];

    ck_assert_int_gt(nd_scram_verifier_format(v, text, sizeof(text)), 0);
    snprintf(out, cap, "%s:%s\n", name, text);
}

START_TEST(test_add_creates_file)
{
    struct nd_scram_verifier v;
    char *text, line[512];

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_uint_eq(mode_of(s_path), 0600);
    ck_assert_int_eq(entries(), 1);
    text = slurp(s_path);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(text[0], '#');
    ck_assert_int_eq(count_lines(text, "@mock:"), 1);
    ck_assert_ptr_nonnull(strstr(text, "\n@mock:"));
    record(line, sizeof(line), "alice", &s_v1);
    ck_assert_ptr_nonnull(strstr(text, line));
    ck_assert_ptr_nonnull(strstr(text, "\nalice:SCRAM-SHA-256$4096:"));
    /* The @mock line: 64 hex digits. */
    {
        const char *m = strstr(text, "@mock:") + 6;

        ck_assert_uint_eq(strspn(m, "0123456789abcdef"), 64);
        ck_assert_int_eq(m[64], '\n');
    }
    free(text);

    ck_assert_int_eq(lookup("alice", &v, NULL, NULL), 0);
    ck_assert(same_verifier(&v, &s_v1));
}
END_TEST

START_TEST(test_add_existing)
{
    char *before, *after;

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    before = slurp(s_path);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v2),
                     -EEXIST);
    after = slurp(s_path);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(entries(), 1);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_passwd)
{
    struct nd_scram_verifier v;
    char *text;

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", &s_v1),
                     -ENOENT);
    ck_assert_int_eq(access(s_path, F_OK), -1); /* not created */
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v1), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", &s_v2),
                     0);
    ck_assert_uint_eq(mode_of(s_path), 0600);
    ck_assert_int_eq(lookup("alice", &v, NULL, NULL), 0);
    ck_assert(same_verifier(&v, &s_v2));
    ck_assert_int_eq(lookup("bob", &v, NULL, NULL), 0);
    ck_assert(same_verifier(&v, &s_v1));
    /* The record keeps its place. */
    text = slurp(s_path);
    ck_assert(strstr(text, "\nalice:") < strstr(text, "\nbob:"));
    free(text);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "carol", &s_v2),
                     -ENOENT);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", NULL),
                     -EINVAL);
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(test_del)
{
    char *text;

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL),
                     -ENOENT);
    ck_assert_int_eq(access(s_path, F_OK), -1);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL), 0);
    ck_assert_uint_eq(mode_of(s_path), 0600);
    ck_assert_int_eq(lookup("alice", NULL, NULL, NULL), -ENOENT);
    ck_assert_int_eq(lookup("bob", NULL, NULL, NULL), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL),
                     -ENOENT);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "bob", &s_v1), 0);
    text = slurp(s_path);
    ck_assert_int_eq(count_lines(text, "@mock:"), 1);
    ck_assert_ptr_null(strstr(text, "alice"));
    ck_assert_ptr_null(strstr(text, "bob"));
    free(text);
    /* And back again. */
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v2), 0);
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(test_mock_secret_stable)
{
    uint8_t s1[ND_USERS_SECRET_LEN], s2[ND_USERS_SECRET_LEN];
    uint8_t proc[ND_USERS_SECRET_LEN];
    char *text;

    /* No file: the per-process secret, the same on every call. */
    ck_assert_int_eq(lookup("alice", NULL, proc, NULL), -ENOENT);
    ck_assert_int_eq(lookup("bob", NULL, s1, NULL), -ENOENT);
    ck_assert_mem_eq(proc, s1, sizeof(s1));

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_int_eq(lookup("alice", NULL, s1, NULL), 0);
    ck_assert(memcmp(s1, proc, sizeof(s1)) != 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v1), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", &s_v2),
                     0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "bob", NULL), 0);
    ck_assert_int_eq(lookup("nobody", NULL, s2, NULL), -ENOENT);
    ck_assert_mem_eq(s1, s2, sizeof(s1));
    ck_assert_int_eq(lookup("alice", NULL, s2, NULL), 0);
    ck_assert_mem_eq(s1, s2, sizeof(s1));
    text = slurp(s_path);
    ck_assert_int_eq(count_lines(text, "@mock:"), 1);
    free(text);

    /* The secret is the one written in the file. */
    {
        char line[80] = "@mock:";

        for (int i = 0; i < 32; i++)
            snprintf(line + 6 + 2 * i, 3, "%02x", 0xa0 + i);
        strcat(line, "\n");
        write_str(line);
        ck_assert_int_eq(lookup("x", NULL, s2, NULL), -ENOENT);
        for (int i = 0; i < 32; i++)
            ck_assert_uint_eq(s2[i], 0xa0 + i);
    }

    /* A file without one: the per-process secret again. */
    write_str("# no mock line\n");
    ck_assert_int_eq(lookup("x", NULL, s2, NULL), -ENOENT);
    ck_assert_mem_eq(s2, proc, sizeof(s2));
}
END_TEST

START_TEST(test_comments_preserved)
{
    char r1[512], r2[512], text[2048], want[2048];
    char *got;

    record(r1, sizeof(r1), "alice", &s_v1);
    record(r2, sizeof(r2), "bob", &s_v1);
    snprintf(text, sizeof(text),
             "# header comment\n"
             "\n"
             "@mock:%s\n"
             "   \t \n"
             "%s"
             "# about bob\n"
             "%s"
             "# trailer\n",
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
             r1, r2);
    write_str(text);

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", &s_v2),
                     0);
    record(r1, sizeof(r1), "alice", &s_v2);
    snprintf(want, sizeof(want),
             "# header comment\n"
             "\n"
             "@mock:%s\n"
             "   \t \n"
             "%s"
             "# about bob\n"
             "%s"
             "# trailer\n",
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
             r1, r2);
    got = slurp(s_path);
    ck_assert_str_eq(got, want);
    free(got);

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "bob", NULL), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "carol", &s_v1), 0);
    record(r2, sizeof(r2), "carol", &s_v1);
    snprintf(want, sizeof(want),
             "# header comment\n"
             "\n"
             "@mock:%s\n"
             "   \t \n"
             "%s"
             "# about bob\n"
             "# trailer\n"
             "%s",
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
             r1, r2);
    got = slurp(s_path);
    ck_assert_str_eq(got, want);
    free(got);
    ck_assert_uint_eq(mode_of(s_path), 0600);
}
END_TEST

START_TEST(test_missing_mock_and_newline)
{
    char r1[512], text[1024];
    char *got;

    /* A hand-written file without @mock and without a final newline. */
    record(r1, sizeof(r1), "alice", &s_v1);
    r1[strlen(r1) - 1] = '\0';
    snprintf(text, sizeof(text), "# mine\n%s", r1);
    write_str(text);
    ck_assert_int_eq(lookup("alice", NULL, NULL, NULL), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2), 0);
    got = slurp(s_path);
    ck_assert(strncmp(got, text, strlen(text)) == 0);
    ck_assert_int_eq(got[strlen(text)], '\n');
    ck_assert_int_eq(count_lines(got, "@mock:"), 1);
    ck_assert_int_eq(count_lines(got, "bob:"), 1);
    free(got);
    ck_assert_int_eq(lookup("alice", NULL, NULL, NULL), 0);
    ck_assert_int_eq(lookup("bob", NULL, NULL, NULL), 0);

    /* Deleting the last line, which has no newline, keeps the rest. */
    snprintf(text, sizeof(text), "# mine\n%s", r1);
    write_str(text);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL), 0);
    got = slurp(s_path);
    ck_assert(strncmp(got, "# mine\n@mock:", 13) == 0);
    free(got);
}
END_TEST

/* Copies fmt into out with "{V}" replaced by v and "{M}" by m. */
static void
expand(char *out, size_t cap, const char *fmt, const char *v, const char *m)
{
    size_t n = 0;

    for (const char *p = fmt; *p != '\0';) {
        const char *put = NULL;

        if (strncmp(p, "{V}", 3) == 0)
            put = v;
        else if (strncmp(p, "{M}", 3) == 0)
            put = m;
        if (put != NULL) {
            ck_assert_uint_lt(n + strlen(put), cap);
            memcpy(out + n, put, strlen(put));
            n += strlen(put);
            p += 3;
        } else {
            ck_assert_uint_lt(n + 1, cap);
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

START_TEST(test_malformed)
{
    static const char mock[] =
        "@mock:"
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char good[512], text[4096], longc[1100];
    static const struct {
        const char *fmt; /* {V}: a good verifier text, {M}: the mock line */
        int line;
    } cases[] = {
        {"# x\nAlice:{V}\n", 2},
        {"# x\n../x:{V}\n", 2},
        {"a:b:{V}\n", 1},
        {"alice {V}\n", 1},
        {"alice:\n", 1},
        {"alice:SCRAM-SHA-256$4095:W22ZaJ0SNY7soEsUEjb6gQ==$"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
         1},
        {"alice:{V}\r\n", 1},
        {" alice:{V}\n", 1},
        {"alice:{V} \n", 1},
        {":{V}\n", 1},
        {"abcdefghijklmnopqrstuvwxyz0123456:{V}\n", 1},
        {"alice:{V}\nbob:{V}\nalice:{V}\n", 3},
        {"{M}\n{M}\n", 2},
        {"@mock:0011\n", 1},
        {"@mock:"
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
         1},
        {"@other:1\n", 1},
        {"# ok\n\nalice:{V}\nbogus\n", 4},
        {"bogus\n# ok\nalso bogus\n", 1},
    };
    uint8_t secret[ND_USERS_SECRET_LEN], proc[ND_USERS_SECRET_LEN];
    char *before, *after;
    int line;

    ck_assert_int_eq(lookup("x", NULL, proc, NULL), -ENOENT);
    record(good, sizeof(good), "", &s_v1);
    /* record() wrote ":VERIFIER\n": keep VERIFIER only. */
    memmove(good, good + 1, strlen(good));
    good[strlen(good) - 1] = '\0';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expand(text, sizeof(text), cases[i].fmt, good, mock);
        write_str(text);
        line = -1;
        ck_assert_msg(lookup("alice", NULL, secret, &line) == -EINVAL,
                      "case %zu accepted", i);
        ck_assert_msg(line == cases[i].line, "case %zu: line %d, not %d", i,
                      line, cases[i].line);
        ck_assert_int_eq(lookup("zed", NULL, NULL, &line), -EINVAL);
        /* Updates refuse to touch it. */
        before = slurp(s_path);
        ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "zed", &s_v1),
                         -EINVAL);
        ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL),
                         -EINVAL);
        after = slurp(s_path);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
        ck_assert_int_eq(entries(), 1);
    }

    /* A malformed file with a good @mock line still yields that secret. */
    snprintf(text, sizeof(text), "%s\nbogus\n", mock);
    write_str(text);
    ck_assert_int_eq(lookup("alice", NULL, secret, &line), -EINVAL);
    ck_assert_int_eq(line, 2);
    ck_assert_uint_eq(secret[0], 0x00);
    ck_assert_uint_eq(secret[1], 0x11);
    ck_assert_uint_eq(secret[31], 0xff);

    /* A bad first @mock line: the second is not used either. */
    snprintf(text, sizeof(text), "@mock:0011\n%s\n", mock);
    write_str(text);
    ck_assert_int_eq(lookup("alice", NULL, secret, &line), -EINVAL);
    ck_assert_int_eq(line, 1);
    ck_assert_mem_eq(secret, proc, sizeof(proc));

    /* A NUL byte. */
    write_text(s_path, "# a\0b\n", 6);
    ck_assert_int_eq(lookup("alice", NULL, NULL, &line), -EINVAL);
    ck_assert_int_eq(line, 1);

    /* Lines up to 1024 bytes are fine, longer ones are not. */
    memset(longc, 'c', sizeof(longc));
    longc[0] = '#';
    write_text(s_path, longc, ND_USERS_LINE_MAX);
    ck_assert_int_eq(lookup("alice", NULL, NULL, &line), -ENOENT);
    longc[ND_USERS_LINE_MAX] = '\n';
    write_text(s_path, longc, ND_USERS_LINE_MAX + 1);
    ck_assert_int_eq(lookup("alice", NULL, NULL, &line), -ENOENT);
    longc[ND_USERS_LINE_MAX + 1] = '#'; /* a second line, a comment */
    write_text(s_path, longc, ND_USERS_LINE_MAX + 1 + 1);
    ck_assert_int_eq(lookup("alice", NULL, NULL, &line), -ENOENT);
    longc[ND_USERS_LINE_MAX] = 'c';
    longc[ND_USERS_LINE_MAX + 1] = '\n';
    write_text(s_path, longc, ND_USERS_LINE_MAX + 2);
    ck_assert_int_eq(lookup("alice", NULL, NULL, &line), -EINVAL);
    ck_assert_int_eq(line, 1);
}
END_TEST

START_TEST(test_not_a_file)
{
    uint8_t secret[ND_USERS_SECRET_LEN];
    int line = -1;
    int fd;

    ck_assert_int_eq(mkdir(s_path, 0700), 0);
    ck_assert_int_eq(lookup("alice", NULL, secret, &line), -EISDIR);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1),
                     -EISDIR);
    ck_assert_int_eq(rmdir(s_path), 0);

    /* A FIFO must not hang the reader. */
    ck_assert_int_eq(mkfifo(s_path, 0600), 0);
    ck_assert_int_eq(lookup("alice", NULL, secret, &line), -EINVAL);
    ck_assert_int_eq(line, 0);
    ck_assert_int_eq(unlink(s_path), 0);

    /* Over ND_USERS_FILE_MAX. */
    fd = open(s_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, ND_USERS_FILE_MAX + 1), 0);
    close(fd);
    ck_assert_int_eq(lookup("alice", NULL, secret, &line), -EFBIG);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1),
                     -EFBIG);
}
END_TEST

START_TEST(test_bad_arguments)
{
    char name[64];

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "Alice", &s_v1),
                     -EINVAL);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "../x", &s_v1),
                     -EINVAL);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "a:b", &s_v1),
                     -EINVAL);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "", &s_v1), -EINVAL);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", NULL),
                     -EINVAL);
    memset(name, 'a', 33);
    name[33] = '\0';
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, name, &s_v1),
                     -EINVAL);
    name[32] = '\0';
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, name, &s_v1), 0);
    ck_assert_int_eq(lookup(name, NULL, NULL, NULL), 0);
    ck_assert_int_eq(entries(), 1);

    /* Invalid names are simply unknown to lookup. */
    ck_assert_int_eq(lookup("../x", NULL, NULL, NULL), -ENOENT);
    ck_assert_int_eq(lookup("", NULL, NULL, NULL), -ENOENT);
    ck_assert_int_eq(lookup("a\nb", NULL, NULL, NULL), -ENOENT);

    /* A path naming a directory entry that cannot be a file name. */
    ck_assert_int_eq(nd_users_update("/tmp/", ND_USERS_ADD, "alice", &s_v1),
                     -EINVAL);
    ck_assert_int_eq(
        nd_users_update("/no/such/dir/users", ND_USERS_ADD, "alice", &s_v1),
        -ENOENT);
}
END_TEST

/* Collects names for test_list; stops with 7 after stop names, if set. */
struct list_ctx {
    char got[4][ND_USER_MAX + 1];
    int n, stop;
};

static int
collect(const char *name, void *arg)
{
    struct list_ctx *x = arg;

    ck_assert_int_lt(x->n, 4);
    snprintf(x->got[x->n], sizeof(x->got[x->n]), "%s", name);
    x->n++;
    return x->stop != 0 && x->n == x->stop ? 7 : 0;
}

START_TEST(test_list)
{
    static const char *want[] = {"carol", "alice", "bob"};
    struct list_ctx c = {.n = 0};
    int line = -1;

    ck_assert_int_eq(nd_users_list(s_path, collect, &c, &line), -ENOENT);
    ck_assert_int_eq(c.n, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, want[i], &s_v1),
                         0);
    ck_assert_int_eq(nd_users_list(s_path, collect, &c, &line), 0);
    ck_assert_int_eq(line, 0);
    ck_assert_int_eq(c.n, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(c.got[i], want[i]);
    c.n = 0;
    c.stop = 2;
    ck_assert_int_eq(nd_users_list(s_path, collect, &c, &line), 7);
    ck_assert_int_eq(c.n, 2);

    write_str("alice:x\n");
    c.n = 0;
    ck_assert_int_eq(nd_users_list(s_path, collect, &c, &line), -EINVAL);
    ck_assert_int_eq(line, 1);
    ck_assert_int_eq(c.n, 0);
}
END_TEST

/*
 * A write that fails midway leaves the old file.  The failure is a file size
 * limit, set in a child process so that it cannot touch the test runner.
 */
START_TEST(test_atomic_on_write_failure)
{
    char *before, *after;
    struct stat st;
    pid_t pid;
    int status;

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    before = slurp(s_path);
    ck_assert_int_eq(stat(s_path, &st), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The new file would be longer than the old one: let it not fit. */
        struct rlimit rl;

        signal(SIGXFSZ, SIG_IGN);
        if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(2);
        rl.rlim_cur = (rlim_t)st.st_size + 10;
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(3);
        _exit(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2) == -EFBIG
                  ? 0
                  : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    after = slurp(s_path);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(entries(), 1); /* no temporary file left */
    ck_assert_int_eq(lookup("bob", NULL, NULL, NULL), -ENOENT);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2), 0);
    ck_assert_int_eq(entries(), 1);
    free(before);
    free(after);
}
END_TEST

/* Drops to an unprivileged account when root (in the forked test only). */
static bool
become_nobody(void)
{
    if (geteuid() != 0)
        return true;
    if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0)
        return false;
    ck_assert_int_eq(chown(s_dir, NOBODY, NOBODY), 0);
    if (access(s_path, F_OK) == 0)
        ck_assert_int_eq(chown(s_path, NOBODY, NOBODY), 0);
    ck_assert_int_eq(setgroups(0, NULL), 0);
    ck_assert_int_eq(setresgid(NOBODY, NOBODY, NOBODY), 0);
    ck_assert_int_eq(setresuid(NOBODY, NOBODY, NOBODY), 0);
    return true;
}

START_TEST(test_read_only_directory)
{
    char *before, *after;

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    if (!become_nobody())
        return;
    before = slurp(s_path);
    ck_assert_int_eq(chmod(s_dir, 0500), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2),
                     -EACCES);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL),
                     -EACCES);
    after = slurp(s_path);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(entries(), 1);
    ck_assert_int_eq(lookup("alice", NULL, NULL, NULL), 0);
    ck_assert_int_eq(chmod(s_dir, 0700), 0);
    /* As the owner of the directory but not root, updates work. */
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2), 0);
    ck_assert_uint_eq(mode_of(s_path), 0600);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_owner)
{
    struct stat st;

    if (geteuid() != 0)
        return; /* chown needs root */
    ck_assert_int_eq(chown(s_dir, NOBODY, NOBODY), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_int_eq(stat(s_path, &st), 0);
    ck_assert_uint_eq(st.st_uid, NOBODY);
    ck_assert_uint_eq(st.st_gid, NOBODY);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);

    ck_assert_int_eq(chown(s_path, 12345, 12346), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", &s_v2),
                     0);
    ck_assert_int_eq(stat(s_path, &st), 0);
    ck_assert_uint_eq(st.st_uid, 12345);
    ck_assert_uint_eq(st.st_gid, 12346);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_mode_despite_umask)
{
    mode_t old = umask(0277);

    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_uint_eq(mode_of(s_path), 0600);
    ck_assert_int_eq(chmod(s_path, 0644), 0);
    umask(0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v1), 0);
    ck_assert_uint_eq(mode_of(s_path), 0600);
    umask(old);
}
END_TEST

START_TEST(test_symlink_refused)
{
    char target[160], *text;

    snprintf(target, sizeof(target), "%s/real", s_dir);
    ck_assert_int_eq(nd_users_update(target, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_int_eq(symlink("real", s_path), 0);
    /* Reading follows it; replacing it would break it, so that is refused. */
    ck_assert_int_eq(lookup("alice", NULL, NULL, NULL), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v1),
                     -ELOOP);
    text = slurp(target);
    ck_assert_ptr_null(strstr(text, "bob:"));
    free(text);
}
END_TEST

/* Writers in several processes at once: the flock keeps every change. */
START_TEST(test_concurrent_updates)
{
    enum { PROCS = 6, EACH = 8 };
    pid_t pids[PROCS];
    char *text;

    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            for (int i = 0; i < EACH; i++) {
                char name[32];

                snprintf(name, sizeof(name), "u%d_%d", p, i);
                if (nd_users_update(s_path, ND_USERS_ADD, name, &s_v1) != 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;

        ck_assert_int_eq(waitpid(pids[p], &st, 0), pids[p]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < EACH; i++) {
            char name[32];

            snprintf(name, sizeof(name), "u%d_%d", p, i);
            ck_assert_msg(lookup(name, NULL, NULL, NULL) == 0, "%s lost", name);
        }
    text = slurp(s_path);
    ck_assert_int_eq(count_lines(text, "@mock:"), 1);
    ck_assert_int_eq(count_lines(text, "u"), PROCS * EACH);
    free(text);
    ck_assert_int_eq(entries(), 1);
}
END_TEST

/* An unknown user's CHALLENGE must carry the i= most real users have. */
START_TEST(test_mock_iterations_follow_the_records)
{
    struct nd_scram_verifier v, hi;
    uint8_t salt[16] = {1, 2, 3};

    v.iterations = -1;
    ck_assert_int_eq(lookup("nobody", &v, NULL, NULL), -ENOENT);
    ck_assert_int_eq(v.iterations, 0); /* no file: the caller's default */
    ck_assert_int_eq(nd_scram_verifier_derive("pw", 2, salt, sizeof(salt),
                                              8192, &hi),
                     0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &hi), 0);
    ck_assert_int_eq(lookup("nobody", &v, NULL, NULL), -ENOENT);
    ck_assert_int_eq(v.iterations, 8192);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v1), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "carol", &s_v2),
                     0);
    ck_assert_int_eq(lookup("nobody", &v, NULL, NULL), -ENOENT);
    ck_assert_int_eq(v.iterations, s_v1.iterations);
    ck_assert_int_eq(s_v1.iterations, s_v2.iterations);
}
END_TEST

/* The daemon's cache answers like a fresh read after every kind of change:
 * an update (a new inode), an edit in place, a damaged file, a removal. */
START_TEST(test_cache_follows_the_file)
{
    struct nd_users_cache c;
    struct nd_scram_verifier v;
    uint8_t secret[ND_USERS_SECRET_LEN], secret2[ND_USERS_SECRET_LEN];
    char *text;
    int line = -1;

    nd_users_cache_init(&c);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret, &line),
        -ENOENT);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "alice", &s_v1), 0);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret, &line), 0);
    ck_assert(same_verifier(&v, &s_v1));
    /* The same answer again from the cache, secret included. */
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret2, &line), 0);
    ck_assert_mem_eq(secret, secret2, sizeof(secret));
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "bob", &v, secret, &line), -ENOENT);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_ADD, "bob", &s_v2), 0);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "bob", &v, secret, &line), 0);
    ck_assert(same_verifier(&v, &s_v2));
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_PASSWD, "alice", &s_v2),
                     0);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret, &line), 0);
    ck_assert(same_verifier(&v, &s_v2));
    /* Damaged in place (same inode): refused with the line, then mended. */
    text = slurp(s_path);
    write_str("garbage line\n");
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret, &line),
        -EINVAL);
    ck_assert_int_eq(line, 1);
    write_str(text);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret, &line), 0);
    ck_assert_int_eq(nd_users_update(s_path, ND_USERS_DEL, "alice", NULL), 0);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "alice", &v, secret, &line),
        -ENOENT);
    ck_assert_int_eq(unlink(s_path), 0);
    ck_assert_int_eq(
        nd_users_cache_lookup(&c, s_path, "bob", &v, secret, &line), -ENOENT);
    free(text);
    nd_users_cache_destroy(&c);
}
END_TEST

static Suite *
users_suite(void)
{
    Suite *s = suite_create("nd_users");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add_creates_file);
    tcase_add_test(tc, test_add_existing);
    tcase_add_test(tc, test_passwd);
    tcase_add_test(tc, test_del);
    tcase_add_test(tc, test_mock_secret_stable);
    tcase_add_test(tc, test_comments_preserved);
    tcase_add_test(tc, test_missing_mock_and_newline);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_not_a_file);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_atomic_on_write_failure);
    tcase_add_test(tc, test_read_only_directory);
    tcase_add_test(tc, test_owner);
    tcase_add_test(tc, test_mode_despite_umask);
    tcase_add_test(tc, test_symlink_refused);
    tcase_add_test(tc, test_concurrent_updates);
    tcase_add_test(tc, test_cache_follows_the_file);
    tcase_add_test(tc, test_mock_iterations_follow_the_records);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(users_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
