#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const uint8_t id[32], size_t mask)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)h & mask;
}

rb_blob_loc *rb_idtab_find(const rb_idtab *t, const uint8_t id[32])
{
    if (t->cap == 0)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = slot_of(id, mask);; i = (i + 1) & mask) {
        rb_blob_loc *e = &t->slots[i];
        if (!e->used)
            return NULL;
        if (memcmp(e->id, id, 32) == 0)
            return e;
    }
}

static int resize(rb_idtab *t, size_t ncap)
{
    rb_blob_loc *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].used)
            continue;
        size_t j = slot_of(t->slots[i].id, mask);
        while (ns[j].used)
            j = (j + 1) & mask;
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

rb_blob_loc *rb_idtab_insert(rb_idtab *t, const uint8_t id[32], bool *fresh)
{
    rb_blob_loc *e = rb_idtab_find(t, id);
    if (e) {
        *fresh = false;
        return e;
    }
    /* Keep the load under 1/2 so probes stay short. */
    if ((t->count + 1) * 2 > t->cap && resize(t, t->cap ? t->cap * 2 : 1024) < 0)
        return NULL;
    size_t mask = t->cap - 1;
    size_t i = slot_of(id, mask);
    while (t->slots[i].used)
        i = (i + 1) & mask;
    e = &t->slots[i];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, 32);
    e->used = 1;
    t->count++;
    *fresh = true;
    return e;
}

int rb_idtab_reserve(rb_idtab *t, size_t n)
{
    size_t cap = t->cap ? t->cap : 1024;
    while (n * 2 > cap)
        cap *= 2;
    return cap == t->cap ? 0 : resize(t, cap);
}

void rb_idtab_free(rb_idtab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}
