/* The interface between the store and the S3 client module (rbhost-s3.so),
 * which holds everything that needs libcurl: the signed requests, the
 * operations on objects, multipart and parallel uploads. The module is
 * loaded the first time an s3:// store is opened (store_s3_load.c), so
 * that commands on a local store never load libcurl and what it links.
 * Both sides are built from this tree; the version guards against a
 * module left behind by another build. */
#ifndef RB_STORE_S3_MODULE_H
#define RB_STORE_S3_MODULE_H

#include "rb_store.h"
#include "store_s3.h"

#define RB_S3_MODULE_VERSION 1
#define RB_S3_MODULE_FILE    "rbhost-s3.so"
#define RB_S3_MODULE_ENTRY   "rb_s3_module_entry"

/* Each member has the contract of the store_s3.h function of the same
 * name; client_new takes the [s3] defaults explicitly. */
typedef struct rb_s3_module {
    unsigned int version;
    int (*client_new)(const char *url, const rb_store_s3_settings *defaults, rb_s3 **out);
    void (*client_free)(rb_s3 *c);
    const char *(*display)(const rb_s3 *c);
    const char *(*cache_name)(const rb_s3 *c);
    int (*bucket_check)(rb_s3 *c, bool create);
    int (*put)(rb_s3 *c, const char *key, const void *data, size_t len, bool noreplace,
               char *etag_out);
    int (*put_file)(rb_s3 *c, const char *key, const char *path);
    int (*get)(rb_s3 *c, const char *key, uint8_t **data, size_t *len);
    int (*get_file)(rb_s3 *c, const char *key, const char *path);
    int (*remove)(rb_s3 *c, const char *key);
    int (*list)(rb_s3 *c, const char *key_prefix, rb_s3_object **out, size_t *n_out);
    void (*list_free)(rb_s3_object *objs, size_t n);
    int (*batch_new)(rb_s3 *c, rb_s3_batch **out);
    int (*batch_put_file)(rb_s3_batch *b, const char *key, const char *path);
    int (*batch_finish)(rb_s3_batch *b);
} rb_s3_module;

#endif
