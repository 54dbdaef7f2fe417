#include "store_internal.h"

#include <stdlib.h>

#include "rb_error.h"

/* zstd contexts are costly to create (hundreds of KiB each) and a snapshot
 * stores tens of thousands of small blobs from several threads: each thread
 * borrows one from a pool instead. */

void rb_store_pool_init(rb_store_pool *p)
{
    pthread_mutex_init(&p->mu, NULL);
    p->items = NULL;
    p->count = p->cap = 0;
}

void rb_store_pool_destroy(rb_store_pool *p, void (*free_fn)(void *))
{
    for (size_t i = 0; i < p->count; i++)
        free_fn(p->items[i]);
    free(p->items);
    pthread_mutex_destroy(&p->mu);
}

static void *pool_take(rb_store_pool *p)
{
    void *item = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->count > 0)
        item = p->items[--p->count];
    pthread_mutex_unlock(&p->mu);
    return item;
}

static bool pool_give(rb_store_pool *p, void *item)
{
    bool kept = false;
    pthread_mutex_lock(&p->mu);
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        void **n = realloc(p->items, ncap * sizeof *n);
        if (n) {
            p->items = n;
            p->cap = ncap;
        }
    }
    if (p->count < p->cap) {
        p->items[p->count++] = item;
        kept = true;
    }
    pthread_mutex_unlock(&p->mu);
    return kept;
}

void rb_store_cctx_free(void *c)
{
    ZSTD_freeCCtx(c);
}

void rb_store_dctx_free(void *d)
{
    ZSTD_freeDCtx(d);
}

ZSTD_CCtx *rb_store_cctx_get(rb_store *s)
{
    ZSTD_CCtx *c = pool_take(&s->cctx_pool);
    return c ? c : ZSTD_createCCtx();
}

void rb_store_cctx_put(rb_store *s, ZSTD_CCtx *c)
{
    if (c && !pool_give(&s->cctx_pool, c))
        ZSTD_freeCCtx(c);
}

ZSTD_DCtx *rb_store_dctx_get(rb_store *s)
{
    ZSTD_DCtx *d = pool_take(&s->dctx_pool);
    return d ? d : ZSTD_createDCtx();
}

void rb_store_dctx_put(rb_store *s, ZSTD_DCtx *d)
{
    if (d && !pool_give(&s->dctx_pool, d))
        ZSTD_freeDCtx(d);
}

int rb_store_compress(rb_store *s, const void *data, size_t len, void **buf, const void **out,
                      size_t *out_len, uint32_t *flags)
{
    *buf = NULL;
    *out = data;
    *out_len = len;
    *flags = 0;
    /* Nothing this small gets smaller. */
    if (len < 32)
        return 0;
    size_t bound = ZSTD_compressBound(len);
    void *dst = malloc(bound);
    if (!dst)
        return rb_store_nomem();
    ZSTD_CCtx *c = rb_store_cctx_get(s);
    if (!c) {
        free(dst);
        return rb_store_nomem();
    }
    size_t n = ZSTD_compressCCtx(c, dst, bound, data, len, RB_STORE_ZSTD_LEVEL);
    rb_store_cctx_put(s, c);
    if (ZSTD_isError(n)) {
        free(dst);
        return rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "zstd compression failed: %s",
                            ZSTD_getErrorName(n));
    }
    if (n >= len) {
        free(dst);
        return 0;
    }
    *buf = dst;
    *out = dst;
    *out_len = n;
    *flags = RB_BLOB_ZSTD;
    return 0;
}
