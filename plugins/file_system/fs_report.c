#include "fs_report.h"

#include <stdio.h>
#include <string.h>

uint64_t rb_fs_report_total(const rb_fs_diff *d)
{
    return d->counts[RB_FS_META] + d->counts[RB_FS_REWRITE] + d->counts[RB_FS_CREATE] + d->n_extras;
}

static void reasons(unsigned why, char *buf, size_t n)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {RB_FS_WHY_MISSING, "missing"}, {RB_FS_WHY_TYPE, "type"},   {RB_FS_WHY_CONTENT, "content"},
        {RB_FS_WHY_MODE, "mode"},       {RB_FS_WHY_OWNER, "owner"}, {RB_FS_WHY_MTIME, "mtime"},
        {RB_FS_WHY_XATTR, "xattrs"},    {RB_FS_WHY_LINK, "link"},
    };
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (why & names[i].bit) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s%s", len ? "," : "", names[i].name);
        }
    }
}

static int add_change(const rb_host_api *h, rb_node *list, const char *action, const char *item,
                      uint64_t bytes, const char *why)
{
    rb_node *c = h->node_add_object(list, NULL);
    return c && h->node_add_string(c, "action", action) && h->node_add_string(c, "item", item) &&
                   h->node_add_int(c, "bytes", (int64_t)bytes) &&
                   (!why || h->node_add_string(c, "reason", why))
               ? 0
               : RB_ENOMEM;
}

int rb_fs_report_diff(const rb_host_api *h, rb_node *obj, const rb_fs_diff *d, const char *list_key)
{
    char summary[512];
    uint64_t total = rb_fs_report_total(d);
    if (!total)
        snprintf(summary, sizeof summary, "no differences in %zu entries", d->ix.count);
    else
        snprintf(
            summary, sizeof summary,
            "%llu to rewrite (%llu bytes), %llu metadata only, %llu to create (%llu "
            "bytes), %zu to remove (%llu bytes)",
            (unsigned long long)d->counts[RB_FS_REWRITE],
            (unsigned long long)d->bytes[RB_FS_REWRITE], (unsigned long long)d->counts[RB_FS_META],
            (unsigned long long)d->counts[RB_FS_CREATE], (unsigned long long)d->bytes[RB_FS_CREATE],
            d->n_extras, (unsigned long long)d->extra_bytes);
    rb_node *counts, *bytes, *list;
    if (!h->node_add_string(obj, "summary", summary) ||
        !(counts = h->node_add_object(obj, "counts")) ||
        !h->node_add_int(counts, "rewrite", (int64_t)d->counts[RB_FS_REWRITE]) ||
        !h->node_add_int(counts, "metadata", (int64_t)d->counts[RB_FS_META]) ||
        !h->node_add_int(counts, "create", (int64_t)d->counts[RB_FS_CREATE]) ||
        !h->node_add_int(counts, "remove", (int64_t)d->n_extras) ||
        !h->node_add_int(counts, "unchanged", (int64_t)d->counts[RB_FS_OK]) ||
        !(bytes = h->node_add_object(obj, "bytes")) ||
        !h->node_add_int(bytes, "rewrite", (int64_t)d->bytes[RB_FS_REWRITE]) ||
        !h->node_add_int(bytes, "create", (int64_t)d->bytes[RB_FS_CREATE]) ||
        !h->node_add_int(bytes, "remove", (int64_t)d->extra_bytes) ||
        !(list = h->node_add_array(obj, list_key)))
        return RB_ENOMEM;
    size_t listed = 0;
    char item[8192], why[128];
    for (size_t i = 0; i < d->ix.count && listed < RB_FS_REPORT_MAX_ITEMS; i++) {
        const rb_fs_live *l = &d->live[i];
        if (l->action == RB_FS_OK)
            continue;
        const rb_fs_entry *e = rb_fs_index_at(&d->ix, i);
        snprintf(item, sizeof item, "%s/%s%s%s", d->bases[e->root], d->cfg.roots[e->root].name,
                 *e->path ? "/" : "", e->path);
        reasons(l->why, why, sizeof why);
        const char *action = l->action == RB_FS_CREATE ? "create" : "rewrite";
        uint64_t b = l->action == RB_FS_META ? 0 : e->size;
        if (add_change(h, list, action, item, b, why))
            return RB_ENOMEM;
        listed++;
    }
    for (size_t i = 0; i < d->n_extras && listed < RB_FS_REPORT_MAX_ITEMS; i++) {
        const rb_fs_extra *x = &d->extras[i];
        snprintf(item, sizeof item, "%s/%s/%s", d->bases[x->root], d->cfg.roots[x->root].name,
                 x->path);
        if (add_change(h, list, "remove", item, x->size, x->is_dir ? "directory" : NULL))
            return RB_ENOMEM;
        listed++;
    }
    return h->node_add_bool(obj, "truncated", listed < total) ? 0 : RB_ENOMEM;
}
