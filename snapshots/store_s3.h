/* The S3 engine of the store: an S3 client, the lease lock
 * (store_s3_lock.c) and the mirror that keeps a local cache directory,
 * laid out like a local store, in step with the bucket (store_s3_mirror.c).
 *
 * The client needs libcurl, so it lives in a module of its own,
 * rbhost-s3.so (store_s3_url.c, store_s3_http.c, store_s3_ops.c,
 * store_s3_batch.c, store_s3_module.c); store_s3_load.c loads it when the
 * first s3:// store is opened and forwards the client calls below to it.
 *
 * Keys are relative to the store's prefix: "<id>_metadata.json",
 * "data/packs/<name>.pack" and so on, the same names as in a local store. */
#ifndef RB_STORE_S3_H
#define RB_STORE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb_store.h"

typedef struct rb_s3 rb_s3;

#define RB_S3_SCHEME "s3://"

/* One object of a listing; `key` is relative to the store's prefix. */
typedef struct rb_s3_object {
    char *key;
    int64_t size;
    char etag[80]; /* without the quotes */
} rb_s3_object;

/* --- locations and defaults (store_s3_settings.c) --- */
bool rb_s3_is_url(const char *location);
/* A copy of the defaults rb_store_s3_configure set, for a new client. */
int rb_store_s3_defaults(rb_store_s3_settings *out);
void rb_store_s3_defaults_free(rb_store_s3_settings *s);

/* --- the client (in rbhost-s3.so, reached through store_s3_load.c) --- */
/* Loads the module (RB_EUNSUPPORTED naming its path when it cannot), parses
 * s3://BUCKET[/PREFIX][?endpoint=URL&region=R&style=path|virtual] and
 * finds the credentials (environment or ~/.aws/credentials). */
int rb_s3_new(const char *url, rb_s3 **out);
void rb_s3_free(rb_s3 *c);
/* s3://BUCKET/PREFIX as the user names the store (no query, no secret). */
const char *rb_s3_display(const rb_s3 *c);
/* A stable name for the store's cache directory. */
const char *rb_s3_cache_name(const rb_s3 *c);

/* --- requests; all retry on 5xx, 429 and timeouts --- */
/* Checks the bucket is there and the credentials work; creates the bucket
 * when `create` and it is missing. */
int rb_s3_bucket_check(rb_s3 *c, bool create);
/* Stores `data` whole; when `noreplace`, only if `key` does not exist
 * (RB_EEXISTS otherwise). `etag_out` (80 bytes) may be NULL. */
int rb_s3_put(rb_s3 *c, const char *key, const void *data, size_t len, bool noreplace,
              char *etag_out);
/* Uploads a file, as a multipart upload in parallel parts when large. */
int rb_s3_put_file(rb_s3 *c, const char *key, const char *path);
/* Reads a whole object and checks it against the SHA-256 it was stored
 * with (RB_ECORRUPT when it differs); RB_ENOTFOUND when absent. */
int rb_s3_get(rb_s3 *c, const char *key, uint8_t **data, size_t *len);
/* Same, into `path` (written under a temporary name, then renamed). */
int rb_s3_get_file(rb_s3 *c, const char *key, const char *path);
/* Removes an object; an absent one is no error. */
int rb_s3_delete(rb_s3 *c, const char *key);
/* Every object whose key starts with `key_prefix`. */
int rb_s3_list(rb_s3 *c, const char *key_prefix, rb_s3_object **out, size_t *n_out);
void rb_s3_list_free(rb_s3_object *objs, size_t n);

/* --- parallel uploads --- */
typedef struct rb_s3_batch rb_s3_batch;
int rb_s3_batch_new(rb_s3 *c, rb_s3_batch **out);
/* Queues the upload of a file; it starts at once on a free worker. */
int rb_s3_batch_put_file(rb_s3_batch *b, const char *key, const char *path);
/* Waits for every upload; returns the first failure. Frees b. */
int rb_s3_batch_finish(rb_s3_batch *b);

/* --- the lease lock (store_s3_lock.c) --- */
typedef struct rb_s3_lock rb_s3_lock;
/* `owner` names the taker (one per open store): a holder of the shared
 * lock may take the exclusive one too. */
int rb_s3_lock_take(rb_s3 *c, bool exclusive, const char *owner, const char *command,
                    rb_s3_lock **out);
/* An owner name: host, pid and random bytes. */
void rb_s3_lock_owner(char out[128]);
void rb_s3_lock_release(rb_s3_lock *l);

/* --- the mirror (store_s3_mirror.c), called from the store's files --- */
/* Opens an s3:// location: the client, the bucket check, the cache
 * directory (returned in *cache_dir) and the download of what changed. */
int rb_store_s3_attach(rb_store *s, const char *url, bool create, char **cache_dir);
void rb_store_s3_detach(rb_store *s);
/* The store whose cache directory holds `path`, if any: small files
 * written there go to the bucket first. Returns 0 when `path` is not in an
 * S3 store's cache. */
int rb_store_s3_put_path(const char *path, const void *data, size_t len, bool noreplace);
int rb_store_s3_remove_path(const char *path);
/* Downloads pack `name` into the cache when it is not there. */
int rb_store_s3_fetch_pack(rb_store *s, const char *name);
/* Uploads the file at `path` if it lies in an S3 store's cache. */
int rb_store_s3_put_file_path(const char *path);
/* The bucket's lock beside the local one (store_s3_lock.c). */
int rb_store_s3_lock(rb_store *s, bool exclusive, const char *command);
void rb_store_s3_unlock(rb_store *s);
/* Starts the upload of a finished pack of transaction `t`. */
int rb_store_s3_pack_done(rb_store *s, void **batch, const char *name);
/* Waits for the uploads started for a transaction. */
int rb_store_s3_packs_wait(void **batch);

#endif
