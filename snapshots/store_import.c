#include "store_archive.h"
#include "store_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rb_error.h"

/* Reads what rb_store_export writes, trusting nothing in it: every name,
 * type and blob is checked, and the snapshot becomes visible only when the
 * set of blobs it names came out identical to the exporter's. */

#define META_MAX (64u * 1024u * 1024u)

typedef struct importer {
    rb_store *store;
    const char *path;
    struct archive *a;
    rb_store_txn *txn;
    cJSON *doc;
    char *id;
} importer;

static int refuse(importer *im, const char *entry, const char *why)
{
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_STORE, "refusing to import %s: entry '%s' %s",
                        im->path, entry, why);
}

static int read_error(importer *im)
{
    const char *why = archive_error_string(im->a);
    int code = archive_errno(im->a) == ENOENT ? RB_ENOTFOUND : RB_EINVAL;
    return rb_error_set(code, RB_ERRCLASS_STORE, "cannot read archive %s: %s", im->path,
                        why ? why : "unknown error");
}

static bool has_dotdot(const char *name)
{
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return true;
        if (!slash)
            break;
        p = slash + 1;
    }
    return false;
}

static int check_name(importer *im, struct archive_entry *e, const char *name)
{
    if (!name || !*name)
        return refuse(im, "", "has no name");
    if (name[0] == '/')
        return refuse(im, name, "has an absolute path");
    if (has_dotdot(name))
        return refuse(im, name, "contains '..'");
    if (archive_entry_hardlink(e))
        return refuse(im, name, "is a hard link");
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        return 0;
    case AE_IFDIR:
        return strcmp(name, "blobs/") == 0 || strcmp(name, "blobs") == 0
                   ? 0
                   : refuse(im, name, "is an unknown directory");
    case AE_IFLNK:
        return refuse(im, name, "is a symbolic link");
    case AE_IFCHR:
    case AE_IFBLK:
        return refuse(im, name, "is a device");
    default:
        return refuse(im, name, "is not a regular file");
    }
}

static int read_metadata(importer *im, struct archive_entry *e)
{
    if (im->doc)
        return refuse(im, "metadata.json", "appears twice");
    int64_t size = archive_entry_size(e);
    if (size < 0 || size > (int64_t)META_MAX)
        return refuse(im, "metadata.json", "has a bad size");
    char *text = malloc((size_t)size + 1);
    if (!text)
        return rb_store_nomem();
    la_ssize_t got = archive_read_data(im->a, text, (size_t)size);
    if (got != size) {
        free(text);
        return got < 0 ? read_error(im) : refuse(im, "metadata.json", "is truncated");
    }
    text[size] = '\0';
    im->doc = cJSON_Parse(text);
    free(text);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(im->doc, "id");
    if (!cJSON_IsObject(im->doc))
        return refuse(im, "metadata.json", "is not a JSON object");
    if (!cJSON_IsString(id))
        return refuse(im, "metadata.json", "has no snapshot id");
    int rc = rb_store_id_validate(id->valuestring, "snapshot id");
    if (rc < 0) {
        rb_error_prefix("refusing to import %s", im->path);
        return rc;
    }
    if (!(im->id = strdup(id->valuestring)))
        return rb_store_nomem();
    char *meta = rb_store_meta_path(im->store, im->id);
    struct stat st;
    rc = !meta ? rb_store_nomem() : 0;
    if (rc == 0 && lstat(meta, &st) == 0)
        rc = rb_error_set(RB_EEXISTS, RB_ERRCLASS_STORE,
                          "refusing to import %s: snapshot '%s' already exists in store %s",
                          im->path, im->id, im->store->dir);
    free(meta);
    return rc;
}

static int read_blob(importer *im, const char *name)
{
    const char *hex = name + strlen("blobs/");
    uint8_t raw[32];
    if (rb_store_unhex(hex, raw) < 0) {
        rb_error_clear();
        return refuse(im, name, "is not a blob this store knows how to read");
    }
    rb_store_writer *w;
    int rc = rb_store_writer_open(im->txn, &w);
    if (rc < 0)
        return rc;
    const void *buf;
    size_t len;
    la_int64_t off;
    for (;;) {
        int r = archive_read_data_block(im->a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            rc = read_error(im);
            break;
        }
        rc = rb_store_writer_write(w, buf, len);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        rb_store_writer_abort(w);
        return rc;
    }
    char got[RB_BLOB_ID_SIZE];
    rc = rb_store_writer_commit(w, got);
    if (rc == 0 && strcmp(got, hex) != 0)
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                          "refusing to import %s: blob %s does not match its content (%s)",
                          im->path, hex, got);
    return rc;
}

static int read_entries(importer *im)
{
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(im->a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r != ARCHIVE_OK)
            return read_error(im);
        const char *name = archive_entry_pathname(e);
        int rc = check_name(im, e, name);
        if (rc < 0)
            return rc;
        if (archive_entry_filetype(e) == AE_IFDIR)
            continue;
        if (strcmp(name, "metadata.json") == 0)
            rc = read_metadata(im, e);
        else if (strncmp(name, "blobs/", 6) == 0 && im->doc)
            rc = read_blob(im, name);
        else if (strncmp(name, "blobs/", 6) == 0)
            rc = refuse(im, name, "comes before metadata.json");
        else
            rc = refuse(im, name, "is unknown");
        if (rc < 0)
            return rc;
    }
}

int rb_store_archive_import(rb_store *store, const char *archive_path, char **id_out)
{
    if (id_out)
        *id_out = NULL;
    importer im = {store, archive_path, archive_read_new(), NULL, NULL, NULL};
    if (!im.a)
        return rb_store_nomem();
    int rc = 0;
    if (archive_read_support_filter_zstd(im.a) != ARCHIVE_OK ||
        archive_read_support_format_tar(im.a) != ARCHIVE_OK ||
        archive_read_open_filename(im.a, archive_path, 1 << 16) != ARCHIVE_OK)
        rc = read_error(&im);
    if (rc == 0)
        rc = rb_store_txn_begin(store, &im.txn);
    if (rc == 0)
        rc = read_entries(&im);
    if (rc == 0 && !im.doc)
        rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_STORE,
                          "refusing to import %s: it holds no metadata.json", archive_path);
    char *declared = NULL;
    if (rc == 0) {
        const cJSON *refs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(im.doc, "store"), "refs");
        if (!cJSON_IsString(refs) || !(declared = strdup(refs->valuestring)))
            rc = cJSON_IsString(refs) ? rb_store_nomem()
                                      : refuse(&im, "metadata.json", "has no store.refs");
    }
    if (rc == 0) {
        rc = rb_store_import_commit(im.txn, im.id, im.doc, declared);
        im.txn = NULL;
    }
    if (im.txn)
        rb_store_txn_abort(im.txn);
    archive_read_free(im.a);
    cJSON_Delete(im.doc);
    free(declared);
    if (rc == 0 && id_out)
        *id_out = im.id;
    else
        free(im.id);
    return rc;
}
