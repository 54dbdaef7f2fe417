/* Progress of one long operation (a backend's snapshot, restore, ...) on
 * stderr: a bar redrawn in place on a terminal, a plain line every
 * RBHOST_PROGRESS_INTERVAL seconds (default 5) when stderr is a file or a
 * pipe, nothing when quiet. Bytes are the bytes the operation moves
 * through the store; backends add their own count (files, entries) and,
 * when they know it, a total that gives the percentage and the ETA. */
#ifndef RB_PROGRESS_H
#define RB_PROGRESS_H

#include <stdint.h>

typedef struct rb_progress rb_progress;

/* NULL when !enabled; every function below accepts NULL and does nothing.
 * `tty` chooses the redrawn bar over periodic lines. */
rb_progress *rb_progress_new(const char *label, int enabled, int tty);
/* What the backend reports. With unit "bytes" this is the byte count
 * itself; otherwise it is shown beside the bytes the store saw. */
void rb_progress_update(rb_progress *p, uint64_t done, uint64_t total, const char *unit);
/* Bytes written to or read from the store; any thread. */
void rb_progress_add_bytes(rb_progress *p, uint64_t n);
/* Stops drawing: clears the bar, or prints a last line when the operation
 * lasted at least one interval. Frees p. */
void rb_progress_done(rb_progress *p);
/* Seconds between lines when stderr is not a terminal:
 * RBHOST_PROGRESS_INTERVAL, or 5; 0 turns the lines off. */
double rb_progress_interval(void);
double rb_monotonic(void);

#endif
