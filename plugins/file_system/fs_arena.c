#include "fs_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (1u << 20)

struct fs_arena_block {
    fs_arena_block *next;
    size_t used;
    size_t cap;
    void *external; /* an adopted buffer; the block then has no room of its own */
    max_align_t data[];
};

void *rb_fs_arena_alloc(rb_fs_arena *a, size_t size)
{
    size = (size + 7u) & ~(size_t)7u;
    fs_arena_block *b = a->head;
    if (!b || b->external || b->cap - b->used < size) {
        size_t cap = size > BLOCK_SIZE / 4 ? size : BLOCK_SIZE;
        fs_arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->external = NULL;
        if (size > BLOCK_SIZE / 4 && b) {
            /* A large request gets a block of its own behind the head, so
             * the head's free room stays usable. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

void *rb_fs_arena_copy(rb_fs_arena *a, const void *data, size_t size)
{
    void *p = rb_fs_arena_alloc(a, size ? size : 1);
    if (p && size)
        memcpy(p, data, size);
    return p;
}

char *rb_fs_arena_strndup(rb_fs_arena *a, const char *s, size_t len)
{
    char *p = rb_fs_arena_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

int rb_fs_arena_adopt_buffer(rb_fs_arena *a, void *buffer)
{
    fs_arena_block *nb = malloc(sizeof *nb);
    if (!nb)
        return -1;
    nb->used = 0;
    nb->cap = 0;
    nb->external = buffer;
    nb->next = a->head;
    a->head = nb;
    return 0;
}

void rb_fs_arena_merge(rb_fs_arena *dst, rb_fs_arena *src)
{
    if (!src->head)
        return;
    fs_arena_block *tail = src->head;
    while (tail->next)
        tail = tail->next;
    tail->next = dst->head;
    dst->head = src->head;
    src->head = NULL;
}

void rb_fs_arena_free(rb_fs_arena *a)
{
    fs_arena_block *b = a->head;
    while (b) {
        fs_arena_block *next = b->next;
        free(b->external);
        free(b);
        b = next;
    }
    a->head = NULL;
}
