/*
 * nd_progress: draws the client's progress line.  All the arithmetic is in
 * doubles so that sizes near 2^63 never overflow, and every redraw writes one
 * whole line of the terminal's width, so nothing of a longer earlier line is
 * left behind.  Terminal control is limited to '\r' and '\n'.
 */
#include "nd_progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nd_io.h"

/* Seconds between redraws, so a fast transfer costs no terminal time. */
#define REDRAW_INTERVAL 0.1
/* The bar is left out below this width and never grows past the other. */
#define BAR_MIN 10
#define BAR_MAX 50
/* Lines are kept within this many bytes whatever the terminal says. */
#define LINE_MAX_W 512

void
nd_progress_start(struct nd_progress *p, const char *label, uint64_t total,
                  bool enabled)
{
    nd_progress_start_batch(p, label, total, enabled, NULL);
}

void
nd_progress_start_batch(struct nd_progress *p, const char *label,
                        uint64_t total, bool enabled,
                        const struct nd_progress_batch *b)
{
    size_t i;

    memset(p, 0, sizeof(*p));
    if (b != NULL && b->files > 1)
        p->batch = *b;
    /* The label may be a remote name: keep control bytes off the terminal. */
    for (i = 0; label[i] != '\0' && i < ND_PROGRESS_LABEL_MAX; i++) {
        unsigned char c = (unsigned char) label[i];
        p->label[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
    p->label[i] = '\0';
    p->total = total;
    p->enabled = enabled;
    p->start = nd_io_now();
    if (enabled)
        nd_progress_update(p, 0);
}

/* The terminal width behind stderr, or 80 when it cannot be asked. */
static size_t
term_width(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Formats a byte count with a binary unit: "512 B", "1.5 MiB". */
static void
human(double v, char *out, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
    size_t u = 0;

    if (v < 1024) {
        snprintf(out, cap, "%.0f B", v);
        return;
    }
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

/* The smallest integer not below x, for 0 <= x < 2^63. */
static double
round_up(double x)
{
    double i = (double) (uint64_t) x;

    return i < x ? i + 1 : i;
}

void
nd_human_size(uint64_t v, char *out, size_t cap)
{
    static const char units[] = "KMGTPE";
    double x = (double)v;
    size_t u = 0;

    if (v < 1024) {
        snprintf(out, cap, "%" PRIu64, v);
        return;
    }
    x /= 1024;
    for (;;) {
        /* Round up as ls -h does: 1025 bytes is "1.1K", never "1.0K". */
        double r = x < 10 ? round_up(x * 10) / 10 : round_up(x);

        if (r < 1024 || u + 1 >= sizeof(units) - 1) {
            if (r < 10)
                snprintf(out, cap, "%.1f%c", r, units[u]);
            else
                snprintf(out, cap, "%.0f%c", r, units[u]);
            return;
        }
        x /= 1024;
        u++;
    }
}

/* Formats seconds as mm:ss or h:mm:ss; "--:--" when unknown or huge. */
static void
clock_str(double secs, char *out, size_t cap)
{
    unsigned long s;

    if (secs < 0 || secs > 99 * 3600.0) {
        snprintf(out, cap, "--:--");
        return;
    }
    s = (unsigned long) secs;
    if (s >= 3600)
        snprintf(out, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, cap, "%02lu:%02lu", s / 60, s % 60);
}

/* Formats the right-hand part: percent, bytes, rate and time. */
static size_t
stats_str(const struct nd_progress *p, bool final, char *out, size_t cap)
{
    double elapsed = nd_io_now() - p->start;
    double frac = p->total > 0 ? (double) p->done / (double) p->total : 1.0;
    double rate = elapsed > 0.001 ? (double) p->done / elapsed : 0;
    char done[32], speed[32], when[32];
    int n;

    if (frac > 1.0)
        frac = 1.0;
    human((double) p->done, done, sizeof(done));
    human(rate, speed, sizeof(speed));
    if (final)
        clock_str(elapsed, when, sizeof(when));
    else if (rate > 0 && elapsed >= 0.5)
        clock_str((double) (p->total - p->done) / rate, when, sizeof(when));
    else
        clock_str(-1, when, sizeof(when));
    n = snprintf(out, cap, "%3u%% %10s %10s/s %8s %3s",
                 (unsigned) (frac * 100.0), done, speed, when,
                 final ? "" : "ETA");
    if (n > 0 && (size_t) n < cap && p->batch.files > 1) {
        /* The batch: files finished of all, bytes moved of all. */
        const struct nd_progress_batch *b = &p->batch;
        char all[16], of[16];
        unsigned files = b->done_files + (final && p->done >= p->total);
        int m;

        nd_human_size(b->bytes_before + p->done, all, sizeof(all));
        if (b->bytes_total > 0)
            nd_human_size(b->bytes_total, of, sizeof(of));
        else
            snprintf(of, sizeof(of), "?");
        m = snprintf(out + n, cap - (size_t) n, " [%u/%u %s/%s]", files,
                     b->files, all, of);
        n = m < 0 ? n : n + m;
    }
    return n < 0 ? 0 : ((size_t) n < cap ? (size_t) n : cap - 1);
}

/* Appends n copies of c to line at *len, within LINE_MAX_W. */
static void
fill(char *line, size_t *len, char c, size_t n)
{
    while (n-- > 0 && *len < LINE_MAX_W)
        line[(*len)++] = c;
}

/*
 * Appends the label, cut to at most w bytes on a UTF-8 boundary.  A label
 * that is too long loses its start, shown as "...", since the end of a
 * path names the file.
 */
static void
put_label(const struct nd_progress *p, char *line, size_t *len, size_t w)
{
    size_t n = strlen(p->label), start = 0;

    if (n > w && w > 3) {
        memcpy(line + *len, "...", 3);
        *len += 3;
        start = n - (w - 3);
        while (start < n && ((unsigned char) p->label[start] & 0xc0) == 0x80)
            start++;
    } else if (n > w) {
        n = w;
        while (n > 0 && ((unsigned char) p->label[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(line + *len, p->label + start, n - start);
    *len += n - start;
}

/* Appends " [===>    ]" of bar_w inner columns. */
static void
put_bar(const struct nd_progress *p, char *line, size_t *len, size_t bar_w)
{
    double frac = p->total > 0 ? (double) p->done / (double) p->total : 1.0;
    size_t full = (size_t) ((frac > 1.0 ? 1.0 : frac) * (double) bar_w);

    fill(line, len, ' ', 1);
    fill(line, len, '[', 1);
    fill(line, len, '=', full);
    if (full < bar_w) {
        fill(line, len, '>', 1);
        fill(line, len, ' ', bar_w - full - 1);
    }
    fill(line, len, ']', 1);
}

static void
draw(struct nd_progress *p, bool final)
{
    char line[LINE_MAX_W + 2], stats[128];
    size_t width = term_width(), len = 0, slen, avail, label_w, bar_w = 0;

    /* Stay off the last column so no terminal wraps the line. */
    width = width > LINE_MAX_W ? LINE_MAX_W - 1 : width - 1;
    slen = stats_str(p, final, stats, sizeof(stats));
    line[len++] = '\r';
    avail = width > slen + 1 ? width - slen - 1 : 0;
    label_w = strlen(p->label);
    if (avail >= label_w + 3 + BAR_MIN) {
        bar_w = avail - label_w - 3;
        bar_w = bar_w > BAR_MAX ? BAR_MAX : bar_w;
    } else if (avail >= 8 + 3 + BAR_MIN) {
        label_w = avail - 3 - BAR_MIN;
        bar_w = BAR_MIN;
    } else if (label_w > avail) {
        label_w = avail;
    }
    put_label(p, line, &len, label_w);
    if (bar_w > 0)
        put_bar(p, line, &len, bar_w);
    /* Right-align the numbers; on a tiny terminal they are simply cut. */
    fill(line, &len, ' ',
         width > slen + len - 1 ? width - slen - (len - 1) : 1);
    avail = width > len - 1 ? width - (len - 1) : 0;
    slen = slen < avail ? slen : avail;
    memcpy(line + len, stats, slen);
    len += slen;
    if (final)
        line[len++] = '\n';
    (void) nd_io_write_full(STDERR_FILENO, line, len);
    p->last_draw = nd_io_now();
}

void
nd_progress_update(struct nd_progress *p, uint64_t done)
{
    double now;

    if (!p->enabled)
        return;
    p->done = done;
    now = nd_io_now();
    if (p->last_draw > 0 && now - p->last_draw < REDRAW_INTERVAL &&
        done < p->total)
        return;
    draw(p, false);
}

void
nd_progress_finish(struct nd_progress *p, bool ok)
{
    if (!p->enabled)
        return;
    if (ok)
        p->done = p->total;
    draw(p, true);
    /* A second finish, or an update after it, must not draw again. */
    p->enabled = false;
}
