/*
 * nd_resume: reads and writes LOCAL.part.state.  The line is
 *
 *     netdisk-resume 1 SIZE SEC NSEC MD5|- ORIGIN
 *
 * with ORIGIN last, so that it may hold spaces.
 */
#include "nd_resume.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nd_cli.h"
#include "nd_digest.h"
#include "nd_io.h"

#define MAGIC "netdisk-resume 1 "
#define SUFFIX ".state"
#define STATE_PATH_MAX (ND_LOCAL_MAX + sizeof(SUFFIX ".tmp"))
#define LINE_MAX_LEN (ND_ORIGIN_MAX + 128)

/* The state's file name; -ENAMETOOLONG when it does not fit. */
static int
state_path(const char *part, const char *suffix, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s%s", part, SUFFIX, suffix);

    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Decodes 32 hex digits into md5; returns 0 or -1. */
static int
unhex(const char *s, uint8_t md5[ND_MD5_LEN])
{
    for (int i = 0; i < ND_MD5_LEN; i++) {
        unsigned v;

        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        md5[i] = (uint8_t)v;
    }
    return 0;
}

int
nd_resume_load(const char *part, const char *origin, struct nd_fileinfo *fi)
{
    char path[STATE_PATH_MAX], line[LINE_MAX_LEN + 1], hex[40];
    unsigned long long size, nsec;
    long long sec;
    ssize_t n;
    int fd, used = 0, rc = state_path(part, "", path, sizeof(path));

    if (rc < 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    n = nd_io_read_full(fd, line, sizeof(line) - 1);
    close(fd);
    if (n < 0)
        return (int)n;
    line[n] = '\0';
    memset(fi, 0, sizeof(*fi));
    if (n == 0 || line[n - 1] != '\n' ||
        strncmp(line, MAGIC, sizeof(MAGIC) - 1) != 0 ||
        sscanf(line + sizeof(MAGIC) - 1, "%llu %lld %llu %39s %n", &size, &sec,
               &nsec, hex, &used) != 4 ||
        used == 0 || size > INT64_MAX || nsec > 999999999ull)
        return -ESTALE;
    line[n - 1] = '\0';
    if (strcmp(line + sizeof(MAGIC) - 1 + used, origin) != 0)
        return -ESTALE;
    if (strcmp(hex, "-") != 0) {
        if (strlen(hex) != 2 * ND_MD5_LEN || unhex(hex, fi->md5) < 0)
            return -ESTALE;
        fi->has_md5 = 1;
    }
    fi->size = size;
    fi->mtime_sec = sec;
    fi->mtime_nsec = (uint32_t)nsec;
    return 0;
}

int
nd_resume_save(const char *part, const char *origin,
               const struct nd_fileinfo *fi)
{
    char path[STATE_PATH_MAX], tmp[STATE_PATH_MAX];
    char line[LINE_MAX_LEN + 1], hex[ND_DIGEST_HEX_LEN] = "-";
    int fd, n, rc = state_path(part, "", path, sizeof(path));

    if (rc == 0)
        rc = state_path(part, ".tmp", tmp, sizeof(tmp));
    if (rc < 0)
        return rc;
    if (fi->has_md5)
        nd_digest_hex(fi->md5, hex);
    n = snprintf(line, sizeof(line),
                 MAGIC "%" PRIu64 " %" PRId64 " %" PRIu32 " %s %s\n", fi->size,
                 fi->mtime_sec, fi->mtime_nsec, hex, origin);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    rc = (int)nd_io_write_full(fd, line, (size_t)n);
    rc = rc < 0 ? rc : 0;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

void
nd_resume_drop(const char *part)
{
    char path[STATE_PATH_MAX];

    if (state_path(part, "", path, sizeof(path)) == 0)
        unlink(path);
}
