/* Progress of long work on stderr: a redrawn line on a terminal, a line
 * every few seconds otherwise (with -v), nothing when quiet. */
#ifndef RB_PROGRESS_H
#define RB_PROGRESS_H

#include <stdint.h>

typedef struct rb_progress rb_progress;

rb_progress *rb_progress_new(const char *label, int enabled, int tty);
void rb_progress_update(rb_progress *p, uint64_t done, uint64_t total, const char *unit);
void rb_progress_done(rb_progress *p);
double rb_monotonic(void);

#endif
