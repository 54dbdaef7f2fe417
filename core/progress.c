#include "rb_progress.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "rb_log.h"

/* A terminal is redrawn ten times a second: smooth enough to read, rare
 * enough not to cost anything. */
#define TTY_PERIOD       0.1
#define DEFAULT_INTERVAL 5.0
#define BAR_WIDTH        20

/* Drawing happens on a thread of its own, on a clock: a backend that goes
 * quiet for a minute (a database dump) still shows time passing, and
 * backend threads never write to stderr. */
struct rb_progress {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t ticker;
    int running, stop;
    char label[128];
    int tty;
    double period, start;
    atomic_uint_least64_t bytes;
    uint64_t done, total; /* as the backend reported them */
    char unit[32];
    int drawn;
};

/* One reading of the counters, and what follows from it. */
typedef struct view {
    double elapsed, rate, fraction, eta; /* fraction, eta: -1 when unknown */
    uint64_t bytes, bytes_total, done, total;
    const char *unit; /* a count other than bytes, or NULL */
} view;

double rb_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double rb_progress_interval(void)
{
    const char *env = getenv("RBHOST_PROGRESS_INTERVAL");
    if (!env || !*env)
        return DEFAULT_INTERVAL;
    char *end;
    errno = 0;
    double v = strtod(env, &end);
    if (errno || *end || !isfinite(v) || v < 0) {
        static atomic_flag warned = ATOMIC_FLAG_INIT;
        if (!atomic_flag_test_and_set(&warned))
            rb_log(RB_LOG_WARN,
                   "RBHOST_PROGRESS_INTERVAL=%s is not a number of seconds (0 or more); "
                   "using %.0f",
                   env, DEFAULT_INTERVAL);
        return DEFAULT_INTERVAL;
    }
    return v;
}

static void human_bytes(char *buf, size_t len, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void clock_text(char *buf, size_t len, double seconds)
{
    long s = lround(seconds);
    if (s >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

static view read_view(rb_progress *p, double now)
{
    view v = {.fraction = -1, .eta = -1};
    v.elapsed = now - p->start;
    v.done = p->done;
    v.total = p->total;
    if (!strcmp(p->unit, "bytes")) {
        v.bytes = p->done;
        v.bytes_total = p->total;
    } else {
        v.bytes = atomic_load(&p->bytes);
        v.unit = p->unit[0] ? p->unit : NULL;
    }
    v.rate = v.elapsed > 0 ? (double)v.bytes / v.elapsed : 0;
    if (v.total)
        v.fraction = v.done >= v.total ? 1 : (double)v.done / (double)v.total;
    if (v.fraction > 0 && v.fraction < 1)
        v.eta = v.elapsed * (1 - v.fraction) / v.fraction;
    return v;
}

/* "rbhost: progress: snapshot site: 1048576 bytes (1.0 MiB) at 512.0 KiB/s,
 * 120/400 files (30%), ETA 4.7 s, 2.0 s elapsed": exact numbers, for logs
 * and for whatever reads them. */
static void print_line(const rb_progress *p, const view *v)
{
    char h[32], ht[32], r[32], text[512];
    size_t n = 0;
    human_bytes(h, sizeof h, (double)v->bytes);
    human_bytes(r, sizeof r, v->rate);
    if (v->bytes_total) {
        human_bytes(ht, sizeof ht, (double)v->bytes_total);
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%llu/%llu bytes (%s of %s, %.0f%%) at %s/s",
                              (unsigned long long)v->bytes, (unsigned long long)v->bytes_total, h,
                              ht, 100 * v->fraction, r);
    } else {
        n += (size_t)snprintf(text + n, sizeof text - n, "%llu bytes (%s) at %s/s",
                              (unsigned long long)v->bytes, h, r);
    }
    if (v->unit && v->total)
        n += (size_t)snprintf(text + n, sizeof text - n, ", %llu/%llu %s (%.0f%%)",
                              (unsigned long long)v->done, (unsigned long long)v->total, v->unit,
                              100 * v->fraction);
    else if (v->unit)
        n += (size_t)snprintf(text + n, sizeof text - n, ", %llu %s", (unsigned long long)v->done,
                              v->unit);
    if (v->eta >= 0 && n < sizeof text)
        n += (size_t)snprintf(text + n, sizeof text - n, ", ETA %.1f s", v->eta);
    if (n < sizeof text)
        snprintf(text + n, sizeof text - n, ", %.1f s elapsed", v->elapsed);
    fprintf(stderr, "rbhost: progress: %s: %s\n", p->label, text);
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* "snapshot site [######--------------]  30%  12.5 MiB  4.2 MiB/s  ETA 0:07",
 * or without a total "snapshot site  12.5 MiB  4.2 MiB/s  8192 entries  0:03";
 * cut to the terminal's width so that \r returns to the start of it. */
static void draw_bar(rb_progress *p, const view *v)
{
    char h[32], r[32], t[32], line[512];
    size_t n = 0;
    human_bytes(h, sizeof h, (double)v->bytes);
    human_bytes(r, sizeof r, v->rate);
    n += (size_t)snprintf(line + n, sizeof line - n, "%s", p->label);
    if (v->fraction >= 0) {
        int fill = (int)(v->fraction * BAR_WIDTH);
        line[n++] = ' ';
        line[n++] = '[';
        for (int i = 0; i < BAR_WIDTH; i++)
            line[n++] = i < fill ? '#' : '-';
        n += (size_t)snprintf(line + n, sizeof line - n, "] %3.0f%%", 100 * v->fraction);
    }
    n += (size_t)snprintf(line + n, sizeof line - n, "  %s  %s/s", h, r);
    if (v->unit && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, "  %llu %s", (unsigned long long)v->done,
                              v->unit);
    if (v->eta >= 0 && n < sizeof line) {
        clock_text(t, sizeof t, v->eta);
        n += (size_t)snprintf(line + n, sizeof line - n, "  ETA %s", t);
    } else if (n < sizeof line) {
        clock_text(t, sizeof t, v->elapsed);
        n += (size_t)snprintf(line + n, sizeof line - n, "  %s", t);
    }
    size_t width = (size_t)term_width() - 1;
    if (n > width)
        n = width;
    if (n >= sizeof line)
        n = sizeof line - 1;
    line[n] = '\0';
    /* Clearing after the text, not before, keeps the line from flickering. */
    fprintf(stderr, "\r%s\033[K", line);
    p->drawn = 1;
}

static void *tick(void *arg)
{
    rb_progress *p = arg;
    pthread_mutex_lock(&p->lock);
    double next = p->start + p->period;
    while (!p->stop) {
        struct timespec ts;
        ts.tv_sec = (time_t)next;
        ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
        int rc = pthread_cond_timedwait(&p->wake, &p->lock, &ts);
        if (p->stop)
            break;
        if (rc != ETIMEDOUT)
            continue;
        double now = rb_monotonic();
        view v = read_view(p, now);
        if (p->tty)
            draw_bar(p, &v);
        else
            print_line(p, &v);
        /* A slow terminal or a suspended process skips ticks, not piles them. */
        while (next <= now)
            next += p->period;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

rb_progress *rb_progress_new(const char *label, int enabled, int tty)
{
    double period = tty ? TTY_PERIOD : rb_progress_interval();
    if (!enabled || period <= 0)
        return NULL;
    rb_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&p->lock, NULL);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->tty = tty;
    p->period = period;
    p->start = rb_monotonic();
    atomic_init(&p->bytes, 0);
    /* Without the thread there is no progress, and the work goes on. */
    p->running = pthread_create(&p->ticker, NULL, tick, p) == 0;
    return p;
}

void rb_progress_update(rb_progress *p, uint64_t done, uint64_t total, const char *unit)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->done = done;
    p->total = total;
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    pthread_mutex_unlock(&p->lock);
}

void rb_progress_add_bytes(rb_progress *p, uint64_t n)
{
    if (p)
        atomic_fetch_add(&p->bytes, n);
}

void rb_progress_done(rb_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->running)
        pthread_join(p->ticker, NULL);
    double now = rb_monotonic();
    if (p->tty && p->drawn) {
        fputs("\r\033[K", stderr);
    } else if (!p->tty && p->running && now - p->start >= p->period) {
        view v = read_view(p, now);
        char h[32], r[32];
        human_bytes(h, sizeof h, (double)v.bytes);
        human_bytes(r, sizeof r, v.rate);
        if (v.unit)
            fprintf(stderr,
                    "rbhost: progress: %s: done, %llu bytes (%s) in %.1f s at %s/s, %llu %s\n",
                    p->label, (unsigned long long)v.bytes, h, v.elapsed, r,
                    (unsigned long long)v.done, v.unit);
        else
            fprintf(stderr, "rbhost: progress: %s: done, %llu bytes (%s) in %.1f s at %s/s\n",
                    p->label, (unsigned long long)v.bytes, h, v.elapsed, r);
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
