/* A bump allocator for the index: paths, link targets, xattrs and extents
 * of hundreds of thousands of entries without one malloc each, freed at once. */
#ifndef FS_ARENA_H
#define FS_ARENA_H

#include <stddef.h>

typedef struct fs_arena_block fs_arena_block;

typedef struct rb_fs_arena {
    fs_arena_block *head;
} rb_fs_arena;

/* 8-byte aligned memory valid until rb_fs_arena_free; NULL when out of memory. */
void *rb_fs_arena_alloc(rb_fs_arena *a, size_t size);
void *rb_fs_arena_copy(rb_fs_arena *a, const void *data, size_t size);
/* A NUL-terminated copy of the first `len` bytes of `s`. */
char *rb_fs_arena_strndup(rb_fs_arena *a, const char *s, size_t len);
/* Hands a malloc'd buffer to the arena, which frees it with the rest. */
int rb_fs_arena_adopt_buffer(rb_fs_arena *a, void *buffer);
/* Moves every block of `src` into `dst`; src is left empty. */
void rb_fs_arena_merge(rb_fs_arena *dst, rb_fs_arena *src);
void rb_fs_arena_free(rb_fs_arena *a);

#endif
