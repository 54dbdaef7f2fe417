/* An S3 store works through a cache directory laid out like a local store:
 * every command runs the local store code on it, and this file keeps it in
 * step with the bucket.
 *
 * - Opening lists the prefix once and downloads the small objects that
 *   changed (metadata documents, rollback records, pack indexes, journals,
 *   the audit log); pack indexes never change, so after the first time only
 *   new ones come down. Documents another host removed are removed here.
 * - A small file written with rb_store_file_write under the cache goes to
 *   the bucket first (a conditional write when it must not replace one),
 *   then to the cache: the bucket is the store, the cache only a copy.
 * - Packs go up as soon as they are full, in parallel, and all of them
 *   before their indexes, and the indexes before the metadata document
 *   naming their blobs: a snapshot is visible only once it is complete.
 * - A pack needed for reading and missing from the cache comes down whole
 *   and is checked against the hash it was stored with. */
#include "store_s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_internal.h"

#define MARKER_KEY "rbhost-store.json"
#define MARKER_DOC "{\"format\": \"rbhost-store\", \"version\": 1}\n"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static rb_store **reg;
static size_t nreg, reg_cap;

static int reg_add(rb_store *s)
{
    pthread_mutex_lock(&reg_mu);
    int rc = 0;
    if (nreg == reg_cap) {
        size_t ncap = reg_cap ? reg_cap * 2 : 4;
        rb_store **n = realloc(reg, ncap * sizeof *n);
        if (n) {
            reg = n;
            reg_cap = ncap;
        } else {
            rc = rb_store_nomem();
        }
    }
    if (rc == 0)
        reg[nreg++] = s;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static void reg_remove(rb_store *s)
{
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nreg; i++) {
        if (reg[i] == s) {
            reg[i] = reg[--nreg];
            break;
        }
    }
    if (nreg == 0) {
        free(reg);
        reg = NULL;
        reg_cap = 0;
    }
    pthread_mutex_unlock(&reg_mu);
}

/* The client of the S3 store whose cache holds `path`, and the key. The
 * client outlives the call: a store is not closed while it is in use. */
static rb_s3 *reg_find(const char *path, const char **key)
{
    rb_s3 *c = NULL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nreg && !c; i++) {
        size_t n = strlen(reg[i]->dir);
        if (!strncmp(path, reg[i]->dir, n) && path[n] == '/') {
            c = reg[i]->s3;
            *key = path + n + 1;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    return c;
}

static char *cache_root(void)
{
    const char *v = getenv("RBHOST_CACHE_DIR");
    if (v && *v)
        return rb_fs_join(v, "s3");
    if (geteuid() == 0)
        return strdup("/var/cache/rbhost/s3");
    if ((v = getenv("XDG_CACHE_HOME")) && *v == '/')
        return rb_fs_join(v, "rbhost/s3");
    if ((v = getenv("HOME")) && *v)
        return rb_fs_join(v, ".cache/rbhost/s3");
    return NULL;
}

/* The MD5 of a file, which is the ETag S3 gives an object uploaded whole. */
static bool md5_matches(const char *path, const char *etag)
{
    if (strlen(etag) != 32)
        return false;
    char *data;
    size_t len;
    if (rb_fs_read_all(path, &data, &len) < 0) {
        rb_error_clear();
        return false;
    }
    uint8_t md[16];
    unsigned int n = 0;
    bool ok = EVP_Digest(data, len, md, &n, EVP_md5(), NULL) == 1;
    free(data);
    char hex[33];
    for (int i = 0; ok && i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return ok && strcmp(hex, etag) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Objects that are not mirrored: the lock, the marker, and packs (which
 * come down only when read). */
static bool not_mirrored(const char *key)
{
    return !strncmp(key, "lock/", 5) || !strcmp(key, MARKER_KEY) || ends_with(key, ".pack");
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const rb_s3_object *)a)->key, ((const rb_s3_object *)b)->key);
}

static bool listed(const rb_s3_object *objs, size_t n, const char *key)
{
    rb_s3_object probe = {(char *)key, 0, ""};
    return n > 0 && bsearch(&probe, objs, n, sizeof *objs, cmp_key) != NULL;
}

static int download_changed(rb_store *s, const rb_s3_object *objs, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const rb_s3_object *o = &objs[i];
        if (not_mirrored(o->key) || strstr(o->key, "..") || o->key[0] == '/')
            continue;
        char *path = rb_fs_join(s->dir, o->key);
        if (!path)
            return rb_store_nomem();
        struct stat st;
        bool have = stat(path, &st) == 0;
        /* Index files never change once written. */
        bool fresh = have && (ends_with(o->key, ".idx")
                                  ? true
                                  : st.st_size == o->size && md5_matches(path, o->etag));
        if (!fresh) {
            char *slash = strrchr(path, '/');
            *slash = '\0';
            rc = rb_fs_mkdir_p(path, RB_STORE_DIR_MODE);
            *slash = '/';
            if (rc == 0)
                rc = rb_s3_get_file(s->s3, o->key, path);
        }
        free(path);
    }
    return rc;
}

/* Removes cached documents and indexes the bucket no longer has (another
 * host deleted the snapshot or collected the pack). */
static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* A file changed after the listing began may belong to a command running
 * beside us on this host, which writes the bucket first: it stays. */
static void drop_gone(rb_store *s, const char *subdir, const char *suffix, const rb_s3_object *objs,
                      size_t n, const struct timespec *listed_at)
{
    char *dir = subdir[0] ? rb_fs_join(s->dir, subdir) : strdup(s->dir);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix))
            continue;
        char key[600];
        snprintf(key, sizeof key, "%s%s%s", subdir, subdir[0] ? "/" : "", e->d_name);
        if (listed(objs, n, key))
            continue;
        char *path = rb_fs_join(dir, e->d_name);
        struct stat st;
        if (path && stat(path, &st) == 0 && before(&st.st_mtim, listed_at))
            unlink(path);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
}

static int sync_down(rb_store *s, bool create)
{
    struct timespec listed_at;
    clock_gettime(CLOCK_REALTIME, &listed_at);
    rb_s3_object *objs;
    size_t n;
    int rc = rb_s3_list(s->s3, "", &objs, &n);
    if (rc < 0)
        return rc;
    if (n > 1)
        qsort(objs, n, sizeof *objs, cmp_key);
    if (!listed(objs, n, MARKER_KEY)) {
        if (!create && n > 0)
            rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_STORE,
                              "%s is not an rbhost store: it holds objects but no %s",
                              rb_s3_display(s->s3), MARKER_KEY);
        else if (!create)
            rc = rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "store %s does not exist",
                              rb_s3_display(s->s3));
        else
            rc = rb_s3_put(s->s3, MARKER_KEY, MARKER_DOC, strlen(MARKER_DOC), true, NULL);
        if (rc == RB_EEXISTS) {
            rb_error_clear();
            rc = 0;
        }
    }
    if (rc == 0)
        rc = download_changed(s, objs, n);
    if (rc == 0) {
        drop_gone(s, "", "_metadata.json", objs, n, &listed_at);
        drop_gone(s, "rollbacks", ".json", objs, n, &listed_at);
        drop_gone(s, "journal", ".json", objs, n, &listed_at);
        drop_gone(s, "data/packs", ".idx", objs, n, &listed_at);
    }
    rb_s3_list_free(objs, n);
    return rc;
}

int rb_store_s3_attach(rb_store *s, const char *url, bool create, char **cache_dir)
{
    *cache_dir = NULL;
    int rc = rb_s3_new(url, &s->s3);
    if (rc == 0)
        rc = rb_s3_bucket_check(s->s3, create);
    if (rc < 0)
        return rc;
    char *root = cache_root();
    if (!root)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "no cache directory for S3 store %s: set RBHOST_CACHE_DIR or HOME",
                            rb_s3_display(s->s3));
    char *dir = rb_fs_join(root, rb_s3_cache_name(s->s3));
    free(root);
    if (!dir)
        return rb_store_nomem();
    rc = rb_fs_mkdir_p(dir, RB_STORE_DIR_MODE);
    if (rc < 0) {
        free(dir);
        return rc;
    }
    s->url = strdup(rb_s3_display(s->s3));
    rb_s3_lock_owner(s->s3_owner);
    if (!s->url) {
        free(dir);
        return rb_store_nomem();
    }
    /* The cache directory is the store's directory from here on. */
    free(s->dir);
    s->dir = dir;
    rc = sync_down(s, create);
    if (rc == 0)
        rc = reg_add(s);
    if (rc == 0)
        s->s3_registered = true;
    *cache_dir = dir;
    return rc;
}

void rb_store_s3_detach(rb_store *s)
{
    if (s->s3_registered)
        reg_remove(s);
    s->s3_registered = false;
    rb_s3_free(s->s3);
    s->s3 = NULL;
    free(s->url);
    s->url = NULL;
}

int rb_store_s3_put_path(const char *path, const void *data, size_t len, bool noreplace)
{
    const char *key;
    rb_s3 *c = reg_find(path, &key);
    return c ? rb_s3_put(c, key, data, len, noreplace, NULL) : 0;
}

int rb_store_s3_put_file_path(const char *path)
{
    const char *key;
    rb_s3 *c = reg_find(path, &key);
    return c ? rb_s3_put_file(c, key, path) : 0;
}

int rb_store_s3_remove_path(const char *path)
{
    const char *key;
    rb_s3 *c = reg_find(path, &key);
    return c ? rb_s3_delete(c, key) : 0;
}

int rb_store_s3_fetch_pack(rb_store *s, const char *name)
{
    if (!s->s3)
        return RB_ENOTFOUND;
    char key[64];
    snprintf(key, sizeof key, "data/packs/%s.pack", name);
    char *path = rb_fs_join(s->dir, key);
    int rc = path ? rb_s3_get_file(s->s3, key, path) : rb_store_nomem();
    free(path);
    return rc;
}

int rb_store_s3_pack_done(rb_store *s, void **batch, const char *name)
{
    if (!s->s3)
        return 0;
    int rc = *batch ? 0 : rb_s3_batch_new(s->s3, (rb_s3_batch **)batch);
    char key[64];
    snprintf(key, sizeof key, "data/packs/%s.pack", name);
    char *path = rc == 0 ? rb_fs_join(s->dir, key) : NULL;
    if (rc == 0 && !path)
        rc = rb_store_nomem();
    if (rc == 0)
        rc = rb_s3_batch_put_file(*batch, key, path);
    free(path);
    return rc;
}

int rb_store_s3_packs_wait(void **batch)
{
    rb_s3_batch *b = *batch;
    *batch = NULL;
    return b ? rb_s3_batch_finish(b) : 0;
}

int rb_store_s3_lock(rb_store *s, bool exclusive, const char *command)
{
    if (!s->s3)
        return 0;
    if (exclusive ? s->s3_excl != NULL : (s->s3_shared != NULL || s->s3_excl != NULL))
        return 0;
    return rb_s3_lock_take(s->s3, exclusive, s->s3_owner, command,
                           exclusive ? &s->s3_excl : &s->s3_shared);
}

void rb_store_s3_unlock(rb_store *s)
{
    rb_s3_lock_release(s->s3_excl);
    rb_s3_lock_release(s->s3_shared);
    s->s3_excl = s->s3_shared = NULL;
}
