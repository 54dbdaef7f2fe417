#include "store_archive.h"
#include "store_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

/* Archive format (tar, zstd-compressed):
 *   metadata.json    the snapshot document, first
 *   blobs/<id>       the whole content of every blob the snapshot names,
 *                    chunked ones as one entry; chunks and the refs blob
 *                    are rebuilt by the importing store. */

static int arch_error(struct archive *a, const char *path)
{
    return rb_error_set(RB_EIO, RB_ERRCLASS_STORE, "cannot write archive %s: %s", path,
                        archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

static int add_entry(struct archive *a, const char *path, const char *name, int64_t size)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return rb_store_nomem();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : arch_error(a, path);
    archive_entry_free(e);
    return rc;
}

static int add_blob(rb_store *s, struct archive *a, const char *path, const rb_blob_loc *loc,
                    char *buf, size_t cap)
{
    char hex[RB_BLOB_ID_SIZE], name[80];
    rb_store_hex(loc->id, hex);
    snprintf(name, sizeof name, "blobs/%s", hex);
    int rc = add_entry(a, path, name, (int64_t)loc->orig_len);
    rb_store_reader *r = NULL;
    if (rc == 0)
        rc = rb_store_reader_open(s, hex, &r);
    while (rc == 0) {
        int64_t n = rb_store_reader_read(r, buf, cap);
        if (n < 0)
            rc = (int)n;
        if (n <= 0)
            break;
        if (archive_write_data(a, buf, (size_t)n) != n)
            rc = arch_error(a, path);
    }
    rb_store_reader_close(r);
    return rc;
}

/* The blobs to export: every id the snapshot uses except chunks of a
 * chunked blob and the refs blob (and its chunks). */
static int export_set(rb_store *s, const cJSON *doc, rb_idtab *out)
{
    uint8_t *ids;
    size_t n;
    int rc = rb_store_snapshot_refs(s, doc, &ids, &n);
    if (rc < 0)
        return rc;
    rb_idtab skip = {NULL, 0, 0};
    bool fresh;
    /* The refs blob and its chunks come after the refs themselves. */
    const cJSON *refs =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "store"), "refs");
    uint8_t refs_id[32];
    rc = rb_store_unhex(refs->valuestring, refs_id);
    if (rc == 0 && !rb_idtab_insert(&skip, refs_id, &fresh))
        rc = rb_store_nomem();
    rb_blob_loc *locs = calloc(n ? n : 1, sizeof *locs);
    if (rc == 0 && !locs)
        rc = rb_store_nomem();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = rb_store_index_lookup(s, ids + 32 * i, &locs[i], true);
        if (rc == 0 && (locs[i].flags & RB_BLOB_CHUNKLIST)) {
            uint8_t *chunks;
            size_t nc;
            rc = rb_store_chunklist_load(s, &locs[i], &chunks, &nc);
            for (size_t k = 0; rc == 0 && k < nc; k++)
                if (!rb_idtab_insert(&skip, chunks + 32 * k, &fresh))
                    rc = rb_store_nomem();
            free(chunks);
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (rb_idtab_find(&skip, locs[i].id))
            continue;
        rb_blob_loc *e = rb_idtab_insert(out, locs[i].id, &fresh);
        if (!e)
            rc = rb_store_nomem();
        else
            *e = locs[i];
    }
    free(locs);
    free(ids);
    rb_idtab_free(&skip);
    return rc;
}

int rb_store_archive_export(rb_store *store, const char *id, const char *archive_path)
{
    cJSON *doc;
    int rc = rb_store_snapshot_read(store, id, &doc);
    if (rc < 0)
        return rc;
    rb_idtab set = {NULL, 0, 0};
    rc = export_set(store, doc, &set);
    char *text = rc == 0 ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (rc == 0 && !text)
        rc = rb_store_nomem();
    char *tmp = NULL;
    if (rc == 0 && asprintf(&tmp, "%s.tmp.%ld", archive_path, (long)getpid()) < 0) {
        tmp = NULL;
        rc = rb_store_nomem();
    }
    struct archive *a = rc == 0 ? archive_write_new() : NULL;
    if (rc == 0 && !a)
        rc = rb_store_nomem();
    if (rc == 0 && (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
                    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
                    archive_write_open_filename(a, tmp) != ARCHIVE_OK))
        rc = arch_error(a, archive_path);
    bool opened = rc == 0;
    if (rc == 0)
        rc = add_entry(a, archive_path, "metadata.json", (int64_t)strlen(text));
    if (rc == 0 && archive_write_data(a, text, strlen(text)) != (la_ssize_t)strlen(text))
        rc = arch_error(a, archive_path);
    size_t cap = 1 << 20;
    char *buf = rc == 0 ? malloc(cap) : NULL;
    if (rc == 0 && !buf)
        rc = rb_store_nomem();
    for (size_t i = 0; rc == 0 && i < set.cap; i++)
        if (set.slots[i].used)
            rc = add_blob(store, a, archive_path, &set.slots[i], buf, cap);
    free(buf);
    if (opened && archive_write_close(a) != ARCHIVE_OK && rc == 0)
        rc = arch_error(a, archive_path);
    if (a)
        archive_write_free(a);
    if (rc == 0 && chmod(tmp, RB_STORE_FILE_MODE) < 0)
        rc = rb_error_os("cannot set the mode of %s", tmp);
    if (rc == 0 && rename(tmp, archive_path) < 0)
        rc = rb_error_os("cannot rename %s to %s", tmp, archive_path);
    if (rc < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(text);
    rb_idtab_free(&set);
    return rc;
}

static const rb_store_archive_module archive_module = {
    RB_STORE_ARCHIVE_VERSION, rb_store_archive_export, rb_store_archive_import};

RB_EXPORT const rb_store_archive_module *rb_store_archive_entry(void);
RB_EXPORT const rb_store_archive_module *rb_store_archive_entry(void)
{
    return &archive_module;
}
