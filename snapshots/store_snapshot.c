#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

#define META_SUFFIX "_metadata.json"

char *rb_store_meta_path(rb_store *s, const char *id)
{
    return rb_store_path(s->dir, "%s" META_SUFFIX, id);
}

static int not_found(rb_store *s, const char *id)
{
    return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "snapshot '%s' not found in store %s", id,
                        s->dir);
}

int rb_store_snapshot_read(rb_store *store, const char *id, cJSON **doc_out)
{
    *doc_out = NULL;
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc < 0)
        return rc;
    char *path = rb_store_meta_path(store, id);
    if (!path)
        return rb_store_nomem();
    char *text;
    rc = rb_fs_read_all(path, &text, NULL);
    if (rc == RB_ENOTFOUND)
        rc = not_found(store, id);
    if (rc == 0) {
        *doc_out = cJSON_Parse(text);
        free(text);
        if (!*doc_out)
            rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                              "metadata of snapshot '%s' (%s) is not valid JSON", id, path);
    }
    free(path);
    return rc;
}

int rb_store_snapshot_update(rb_store *store, const char *id, const cJSON *doc)
{
    cJSON *old;
    int rc = rb_store_snapshot_read(store, id, &old);
    if (rc < 0)
        return rc;
    cJSON *copy = cJSON_Duplicate(doc, 1);
    if (!copy) {
        cJSON_Delete(old);
        return rb_store_nomem();
    }
    /* The store object is the store's own record of what the snapshot
     * uses: a rewrite of the document by its owner keeps it. */
    cJSON *store_obj = cJSON_DetachItemFromObjectCaseSensitive(old, "store");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "store");
    if (store_obj)
        cJSON_AddItemToObject(copy, "store", store_obj);
    cJSON_Delete(old);
    char *text = cJSON_Print(copy);
    char *path = rb_store_meta_path(store, id);
    rc = !text || !path ? rb_store_nomem() : rb_store_file_write(path, text, strlen(text), false);
    free(text);
    free(path);
    cJSON_Delete(copy);
    return rc;
}

int rb_store_snapshot_delete(rb_store *store, const char *id)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc < 0)
        return rc;
    char *path = rb_store_meta_path(store, id);
    if (!path)
        return rb_store_nomem();
    struct stat st;
    if (stat(path, &st) < 0)
        rc = errno == ENOENT ? not_found(store, id)
                             : rb_error_os("cannot remove snapshot '%s' (%s)", id, path);
    else
        rc = rb_store_file_remove(path);
    free(path);
    return rc == 0 ? rb_fs_fsync_dir(store->dir) : rc;
}

void rb_store_free_list(char **ids, size_t count)
{
    for (size_t i = 0; ids && i < count; i++)
        free(ids[i]);
    free(ids);
}

typedef struct listed {
    char *id;
    double at;
} listed;

static int cmp_listed(const void *a, const void *b)
{
    const listed *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Lists `dir` entries named <id><suffix>, sorted by the number `key` in
 * each document, then by id. Shared with the rollback records. */
int rb_store_list_docs(const char *dir, const char *suffix, const char *key, char ***ids_out,
                       size_t *count_out)
{
    *ids_out = NULL;
    *count_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : rb_error_os("cannot read %s", dir);
    listed *items = NULL;
    size_t n = 0, cap = 0, slen = strlen(suffix);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        char *id = strndup(e->d_name, len - slen);
        if (!id) {
            rc = rb_store_nomem();
            break;
        }
        if (rb_store_id_validate(id, "id") < 0) {
            rb_error_clear();
            free(id);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            listed *g = realloc(items, ncap * sizeof *g);
            if (!g) {
                free(id);
                rc = rb_store_nomem();
                break;
            }
            items = g;
            cap = ncap;
        }
        double at = 0;
        char *path = rb_fs_join(dir, e->d_name), *text = NULL;
        if (path && rb_fs_read_all(path, &text, NULL) == 0) {
            cJSON *doc = cJSON_Parse(text);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
            if (cJSON_IsNumber(v))
                at = v->valuedouble;
            cJSON_Delete(doc);
        }
        rb_error_clear();
        free(text);
        free(path);
        items[n].id = id;
        items[n].at = at;
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0)
        qsort(items, n, sizeof *items, cmp_listed);
    char **ids = rc == 0 ? malloc((n ? n : 1) * sizeof *ids) : NULL;
    if (rc == 0 && !ids)
        rc = rb_store_nomem();
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            ids[i] = items[i].id;
        else
            free(items[i].id);
    }
    free(items);
    if (rc < 0)
        return rc;
    *ids_out = ids;
    *count_out = n;
    return 0;
}

int rb_store_snapshot_list(rb_store *store, char ***ids_out, size_t *count_out)
{
    return rb_store_list_docs(store->dir, META_SUFFIX, "created_at", ids_out, count_out);
}

static int read_content(rb_store *s, const char *hex, uint8_t **out, size_t *len)
{
    rb_store_reader *r;
    int rc = rb_store_reader_open(s, hex, &r);
    if (rc < 0)
        return rc;
    size_t cap = 4096, used = 0;
    uint8_t *buf = malloc(cap);
    while (rc == 0 && buf) {
        if (used == cap) {
            uint8_t *g = realloc(buf, cap * 2);
            if (!g)
                break;
            buf = g;
            cap *= 2;
        }
        int64_t n = rb_store_reader_read(r, buf + used, cap - used);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            break;
        else
            used += (size_t)n;
    }
    rb_store_reader_close(r);
    if (rc == 0 && (!buf || used == cap))
        rc = rb_store_nomem();
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = used;
    return 0;
}

int rb_store_snapshot_refs(rb_store *s, const cJSON *doc, uint8_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(doc, "store");
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(store, "refs");
    uint8_t raw[32];
    if (!cJSON_IsString(refs) || rb_store_unhex(refs->valuestring, raw) < 0)
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "the document has no valid \"store\".\"refs\" blob id");
    rb_blob_loc loc;
    int rc = rb_store_index_lookup(s, raw, &loc, true);
    uint8_t *list = NULL, *chunks = NULL;
    size_t len = 0, nchunks = 0;
    if (rc == 0 && (loc.flags & RB_BLOB_CHUNKLIST))
        rc = rb_store_chunklist_load(s, &loc, &chunks, &nchunks);
    if (rc == 0)
        rc = read_content(s, refs->valuestring, &list, &len);
    if (rc == 0 && len % 32 != 0)
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "refs blob %s has a bad length",
                          refs->valuestring);
    uint8_t *all = NULL;
    size_t total = len / 32 + 1 + nchunks;
    if (rc == 0 && !(all = malloc(total * 32)))
        rc = rb_store_nomem();
    if (rc == 0) {
        memcpy(all, list, len);
        memcpy(all + len, raw, 32);
        if (nchunks)
            memcpy(all + len + 32, chunks, nchunks * 32);
        *ids = all;
        *n = total;
    }
    free(list);
    free(chunks);
    return rc;
}
