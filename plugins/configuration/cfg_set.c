/* The set of recorded paths: a sorted array, so lookups are binary searches
 * and a parent directory always comes before what it contains. */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

cfg_entry *rb_cfg_set_add(cfg_set *s, const char *path, cfg_kind kind)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        cfg_entry *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    cfg_entry *e = &s->v[s->n];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (!e->path)
        return NULL;
    e->kind = kind;
    s->n++;
    return e;
}

int rb_cfg_set_add_pattern(cfg_set *s, const char *pattern, int64_t matched)
{
    if (s->npatterns == s->patterns_cap) {
        size_t cap = s->patterns_cap ? s->patterns_cap * 2 : 4;
        cfg_pattern *v = realloc(s->patterns, cap * sizeof *v);
        if (!v)
            return rb_cfg_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY,
                                          "configuration: out of memory");
        s->patterns = v;
        s->patterns_cap = cap;
    }
    char *copy = strdup(pattern);
    if (!copy)
        return rb_cfg_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY,
                                      "configuration: out of memory");
    s->patterns[s->npatterns].pattern = copy;
    s->patterns[s->npatterns].matched = matched;
    s->npatterns++;
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const cfg_entry *)a)->path, ((const cfg_entry *)b)->path);
}

static void entry_free(cfg_entry *e)
{
    free(e->path);
    free(e->target);
}

void rb_cfg_set_sort(cfg_set *s)
{
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof *s->v, by_path);
    size_t w = 0;
    for (size_t r = 1; r < s->n; r++) {
        cfg_entry *kept = &s->v[w];
        if (strcmp(kept->path, s->v[r].path) == 0) {
            /* A directory seen both as a parent and as a listed directory
             * keeps the stronger claim: its whole contents. */
            if (s->v[r].contents)
                kept->contents = 1;
            entry_free(&s->v[r]);
            continue;
        }
        s->v[++w] = s->v[r];
    }
    s->n = w + 1;
}

const cfg_entry *rb_cfg_set_find(const cfg_set *s, const char *path)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, s->v[mid].path);
        if (c == 0)
            return &s->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void rb_cfg_set_free(cfg_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        entry_free(&s->v[i]);
    for (size_t i = 0; i < s->npatterns; i++)
        free(s->patterns[i].pattern);
    free(s->v);
    free(s->patterns);
    free(s->exclude);
    memset(s, 0, sizeof *s);
}

void rb_cfg_entry_from_stat(cfg_entry *e, const struct stat *st)
{
    e->mode = st->st_mode & 07777;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->size = (int64_t)st->st_size;
}

int rb_cfg_set_exclude_backup(rb_op *op, cfg_set *s)
{
    const rb_host_api *h = rb_cfg_host;
    const char *location = h->node_string(h->node_get(h->config(op), "backup_location"));
    if (!location || !*location)
        return 0;
    s->exclude = rb_cfg_path_absolute(location);
    if (!s->exclude)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "configuration: out of memory");
    return 0;
}

int rb_cfg_set_excludes(const cfg_set *s, const char *path)
{
    return s->exclude && (!strcmp(path, s->exclude) || rb_cfg_path_is_below(path, s->exclude));
}
