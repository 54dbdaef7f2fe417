/* The store's side of the S3 client: loads rbhost-s3.so when the first
 * s3:// store is opened and forwards store_s3.h's client calls to it. Every
 * call but rb_s3_new takes a client or a batch the module made, so the
 * module is loaded by then. */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "rb_error.h"
#include "rb_module.h"
#include "store_s3_module.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const rb_s3_module *loaded;
static char load_error[PATH_MAX + 512];

static void load(void)
{
    loaded = rb_module_load(RB_MODULE_RELDIR, RB_S3_MODULE_FILE, RB_S3_MODULE_ENTRY,
                            RB_S3_MODULE_VERSION, load_error, sizeof load_error);
}

int rb_s3_new(const char *url, rb_s3 **out)
{
    *out = NULL;
    pthread_once(&once, load);
    /* Not RB_ENOTFOUND: that would read as "no store there yet". */
    if (!loaded)
        return rb_error_set(RB_EUNSUPPORTED, RB_ERRCLASS_STORE,
                            "S3 store %.*s needs the S3 client module: %s", (int)strcspn(url, "?"),
                            url, load_error);
    rb_store_s3_settings defaults;
    int rc = rb_store_s3_defaults(&defaults);
    if (rc == 0)
        rc = loaded->client_new(url, &defaults, out);
    rb_store_s3_defaults_free(&defaults);
    return rc;
}

void rb_s3_free(rb_s3 *c)
{
    if (c)
        loaded->client_free(c);
}

const char *rb_s3_display(const rb_s3 *c)
{
    return loaded->display(c);
}

const char *rb_s3_cache_name(const rb_s3 *c)
{
    return loaded->cache_name(c);
}

int rb_s3_bucket_check(rb_s3 *c, bool create)
{
    return loaded->bucket_check(c, create);
}

int rb_s3_put(rb_s3 *c, const char *key, const void *data, size_t len, bool noreplace,
              char *etag_out)
{
    return loaded->put(c, key, data, len, noreplace, etag_out);
}

int rb_s3_put_file(rb_s3 *c, const char *key, const char *path)
{
    return loaded->put_file(c, key, path);
}

int rb_s3_get(rb_s3 *c, const char *key, uint8_t **data, size_t *len)
{
    return loaded->get(c, key, data, len);
}

int rb_s3_get_file(rb_s3 *c, const char *key, const char *path)
{
    return loaded->get_file(c, key, path);
}

int rb_s3_delete(rb_s3 *c, const char *key)
{
    return loaded->remove(c, key);
}

int rb_s3_list(rb_s3 *c, const char *key_prefix, rb_s3_object **out, size_t *n_out)
{
    return loaded->list(c, key_prefix, out, n_out);
}

void rb_s3_list_free(rb_s3_object *objs, size_t n)
{
    if (objs)
        loaded->list_free(objs, n);
}

int rb_s3_batch_new(rb_s3 *c, rb_s3_batch **out)
{
    return loaded->batch_new(c, out);
}

int rb_s3_batch_put_file(rb_s3_batch *b, const char *key, const char *path)
{
    return loaded->batch_put_file(b, key, path);
}

int rb_s3_batch_finish(rb_s3_batch *b)
{
    return loaded->batch_finish(b);
}
