/* Shared by the store suites: a fresh store in a temporary directory and
 * shortcuts for the common store calls. */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "rb_store.h"

typedef struct sf_store {
    char *tmp; /* temporary directory holding the store */
    char *dir; /* the store: <tmp>/store */
    rb_store *store;
} sf_store;

void sf_open(sf_store *f);
void sf_close(sf_store *f);
/* Deterministic pseudo-random bytes; `seed` picks the sequence. */
void sf_fill(void *buf, size_t len, uint64_t seed);
/* Commits a snapshot made of the given buffers; ids_out (may be NULL) gets
 * their blob ids. */
void sf_snapshot(sf_store *f, const char *id, double created_at, const void *const *bufs,
                 const size_t *lens, size_t n, char (*ids_out)[RB_BLOB_ID_SIZE]);
/* Reads a whole blob through a reader; asserts it matches `expect`. */
void sf_expect_blob(rb_store *s, const char *id, const void *expect, size_t len);
/* Number of files under `dir`, recursively. */
size_t sf_count_files(const char *dir);
/* The error message of the last failed store call. */
const char *sf_msg(void);

#endif
