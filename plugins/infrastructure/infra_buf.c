/* Byte buffers, and reading a whole blob of the store into one. */
#include <stdlib.h>
#include <string.h>

#include "infra.h"

void rb_infra_buf_free(rb_infra_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int rb_infra_buf_set(rb_infra_buf *b, const char *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    memcpy(copy, data, len);
    copy[len] = '\0';
    b->data = copy;
    b->len = len;
    return 0;
}

int rb_infra_blob_read(rb_op *op, const char *id, rb_infra_buf *out)
{
    const rb_host_api *h = rb_infra_host;
    int64_t size = h->blob_size(op, id);
    if (size < 0)
        return (int)size;
    char *data = malloc((size_t)size + 1);
    if (!data)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    rb_blob_reader *r = NULL;
    int rc = h->blob_reader_open(op, id, &r);
    size_t got = 0;
    while (rc == 0) {
        /* Reading one byte past the expected size lets the reader reach
         * its end, where it checks the content against the id. */
        char extra;
        int64_t n = got < (size_t)size ? h->blob_read(r, data + got, (size_t)size - got)
                                       : h->blob_read(r, &extra, 1);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            break;
        else if (got >= (size_t)size)
            rc =
                h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "blob %s is longer than recorded", id);
        else
            got += (size_t)n;
    }
    if (r)
        h->blob_reader_close(r);
    if (rc == 0 && got != (size_t)size)
        rc = h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "blob %s is shorter than recorded", id);
    if (rc < 0) {
        free(data);
        return rc;
    }
    data[got] = '\0';
    out->data = data;
    out->len = got;
    return 0;
}
