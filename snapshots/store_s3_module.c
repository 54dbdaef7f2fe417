/* The entry of the S3 client module (rbhost-s3.so): its table. */
#include "store_s3_module.h"

#include <rbhost/abi.h>

#include "store_s3_client.h"

static const rb_s3_module table = {
    .version = RB_S3_MODULE_VERSION,
    .client_new = rb_s3_client_new,
    .client_free = rb_s3_client_free,
    .display = rb_s3_client_display,
    .cache_name = rb_s3_client_cache_name,
    .bucket_check = rb_s3_client_bucket_check,
    .put = rb_s3_client_put,
    .put_file = rb_s3_client_put_file,
    .get = rb_s3_client_get,
    .get_file = rb_s3_client_get_file,
    .remove = rb_s3_client_delete,
    .list = rb_s3_client_list,
    .list_free = rb_s3_client_list_free,
    .batch_new = rb_s3_client_batch_new,
    .batch_put_file = rb_s3_client_batch_put_file,
    .batch_finish = rb_s3_client_batch_finish,
};

RB_EXPORT const rb_s3_module *rb_s3_module_entry(void);
RB_EXPORT const rb_s3_module *rb_s3_module_entry(void)
{
    return &table;
}
