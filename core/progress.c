#include "rb_progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rb_progress {
    pthread_mutex_t lock;
    char label[128];
    int tty;
    double start, last;
    int drawn;
};

double rb_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

rb_progress *rb_progress_new(const char *label, int enabled, int tty)
{
    if (!enabled)
        return NULL;
    rb_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->tty = tty;
    p->start = p->last = rb_monotonic();
    return p;
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

void rb_progress_update(rb_progress *p, uint64_t done, uint64_t total, const char *unit)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    double now = rb_monotonic();
    /* A terminal is redrawn ten times a second; a log gets a line every 5 s. */
    if (now - p->last < (p->tty ? 0.1 : 5.0)) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->last = now;
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    int bytes = unit && !strcmp(unit, "bytes");
    char d[32], t[32], r[32], eta[32] = "";
    if (bytes) {
        human_bytes(d, sizeof d, (double)done);
        human_bytes(t, sizeof t, (double)total);
        human_bytes(r, sizeof r, rate);
        strcat(r, "/s");
    } else {
        snprintf(d, sizeof d, "%llu", (unsigned long long)done);
        snprintf(t, sizeof t, "%llu %s", (unsigned long long)total, unit ? unit : "");
        snprintf(r, sizeof r, "%.0f/s", rate);
    }
    if (total > done && rate > 0)
        snprintf(eta, sizeof eta, " ETA %.0fs", (double)(total - done) / rate);
    if (total)
        fprintf(stderr, "%s%s: %s / %s (%.0f%%) %s%s%s", p->tty ? "\r\033[K" : "", p->label, d, t,
                100.0 * (double)done / (double)total, r, eta, p->tty ? "" : "\n");
    else
        fprintf(stderr, "%s%s: %s %s%s", p->tty ? "\r\033[K" : "", p->label, d, r,
                p->tty ? "" : "\n");
    p->drawn = 1;
    pthread_mutex_unlock(&p->lock);
}

void rb_progress_done(rb_progress *p)
{
    if (!p)
        return;
    if (p->tty && p->drawn)
        fputs("\r\033[K", stderr);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
