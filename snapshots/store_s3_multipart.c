/* Multipart uploads. A large file goes up in PART_SIZE parts, several at
 * once over the client's connections: the last pack of a snapshot has
 * nothing left to overlap with, and its parts sent one after another
 * would make the commit wait for as many round trips. */
#include "store_s3_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "store_internal.h"

#define PART_SIZE (8u * 1024u * 1024u)

typedef struct parts {
    rb_s3 *c;
    const char *key;
    const char *enc_id; /* the upload id, percent-encoded */
    int fd;
    uint64_t size;
    size_t nparts;
    char (*etags)[80];
    pthread_mutex_t mu;
    size_t next;
    /* The first failure, carried to the thread that started the upload
     * (errors are per thread). */
    int rc;
    rb_error_class klass;
    char *msg;
} parts;

static int put_part(parts *p, size_t i)
{
    uint64_t off = (uint64_t)i * PART_SIZE;
    rb_s3_body b = {NULL, p->fd, off, p->size - off < PART_SIZE ? p->size - off : PART_SIZE,
                    RB_S3_UNSIGNED_PAYLOAD};
    char query[600];
    snprintf(query, sizeof query, "partNumber=%zu&uploadId=%s", i + 1, p->enc_id);
    rb_s3_resp r;
    int rc = rb_s3_request(p->c, "PUT", p->key, query, &b, NULL, &r);
    if (rc == 0 && r.status / 100 != 2)
        rc = rb_s3_fail(p->c, "upload a part of", p->key, &r);
    if (rc == 0 && !r.etag[0])
        rc = rb_error_set(RB_EIO, RB_ERRCLASS_NET, "S3 gave no ETag for part %zu of %s/%s", i + 1,
                          p->c->display, p->key);
    if (rc == 0)
        memcpy(p->etags[i], r.etag, sizeof p->etags[i]);
    rb_s3_resp_free(&r);
    return rc;
}

static void *part_worker(void *arg)
{
    parts *p = arg;
    pthread_mutex_lock(&p->mu);
    while (p->rc == 0 && p->next < p->nparts) {
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        int rc = put_part(p, i);
        char *msg = rc < 0 ? strdup(rb_error_last()->message) : NULL;
        rb_error_class klass = rb_error_last()->klass;
        pthread_mutex_lock(&p->mu);
        if (rc < 0 && p->rc == 0) {
            p->rc = rc;
            p->klass = klass;
            p->msg = msg;
            msg = NULL;
        }
        free(msg);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Sends every part on up to c->jobs threads, this one included. */
static int put_parts(parts *p)
{
    size_t nthreads = p->nparts < (size_t)p->c->jobs ? p->nparts : (size_t)p->c->jobs;
    pthread_t *threads = nthreads > 1 ? calloc(nthreads - 1, sizeof *threads) : NULL;
    size_t started = 0;
    pthread_mutex_init(&p->mu, NULL);
    /* Fewer threads than asked (none at all, even) only makes it slower. */
    while (threads && started < nthreads - 1 &&
           pthread_create(&threads[started], NULL, part_worker, p) == 0)
        started++;
    part_worker(p);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    pthread_mutex_destroy(&p->mu);
    int rc = p->rc;
    if (rc < 0)
        rc = p->msg ? rb_error_set(rc, p->klass, "%s", p->msg) : rb_store_nomem();
    free(p->msg);
    return rc;
}

static int start(rb_s3 *c, const char *key, const char *sha256, char *upload_id, size_t cap)
{
    char meta[96];
    snprintf(meta, sizeof meta, "x-amz-meta-rb-sha256: %s", sha256);
    const char *headers[] = {meta, NULL};
    rb_s3_resp r;
    int rc = rb_s3_request(c, "POST", key, "uploads=", NULL, headers, &r);
    if (rc == 0 && r.status / 100 != 2)
        rc = rb_s3_fail(c, "start an upload of", key, &r);
    if (rc == 0 && !rb_s3_xml_text((const char *)r.body, "UploadId", upload_id, cap))
        rc = rb_error_set(RB_EIO, RB_ERRCLASS_NET, "S3 gave no upload id for %s/%s", c->display,
                          key);
    rb_s3_resp_free(&r);
    return rc;
}

static int complete(rb_s3 *c, const char *key, const char *enc_id, const parts *p)
{
    size_t cap = 128 + p->nparts * 160;
    char *xml = malloc(cap);
    if (!xml)
        return rb_store_nomem();
    size_t xl = (size_t)snprintf(xml, cap, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < p->nparts; i++)
        xl += (size_t)snprintf(xml + xl, cap - xl,
                               "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>",
                               i + 1, p->etags[i]);
    xl += (size_t)snprintf(xml + xl, cap - xl, "</CompleteMultipartUpload>");
    rb_s3_body b = {(const uint8_t *)xml, -1, 0, xl, ""};
    rb_s3_sha256_hex(xml, xl, b.sha256);
    char query[600];
    snprintf(query, sizeof query, "uploadId=%s", enc_id);
    rb_s3_resp r;
    int rc = rb_s3_request(c, "POST", key, query, &b, NULL, &r);
    /* Completion can fail with a 200 whose body is an error. */
    if (rc == 0 && (r.status / 100 != 2 || (r.body && strstr((char *)r.body, "<Error>"))))
        rc = rb_s3_fail(c, "complete the upload of", key, &r);
    rb_s3_resp_free(&r);
    free(xml);
    return rc;
}

/* Parts of an abandoned upload cost space until aborted; the caller's
 * error stays. */
static void abort_upload(rb_s3 *c, const char *key, const char *enc_id, int rc)
{
    const rb_error_info *e = rb_error_last();
    rb_error_class klass = e->klass;
    char *msg = strdup(e->message);
    char query[600];
    snprintf(query, sizeof query, "uploadId=%s", enc_id);
    rb_s3_resp r;
    if (rb_s3_request(c, "DELETE", key, query, NULL, NULL, &r) == 0)
        rb_s3_resp_free(&r);
    if (msg)
        rb_error_set(rc, klass, "%s", msg);
    else
        rb_store_nomem();
    free(msg);
}

int rb_s3_multipart(rb_s3 *c, const char *key, int fd, uint64_t size, const char *sha256)
{
    char upload_id[512];
    int rc = start(c, key, sha256, upload_id, sizeof upload_id);
    if (rc < 0)
        return rc;
    parts p = {.c = c, .key = key, .fd = fd, .size = size};
    p.nparts = (size_t)((size + PART_SIZE - 1) / PART_SIZE);
    p.etags = calloc(p.nparts ? p.nparts : 1, sizeof *p.etags);
    char *enc_id = rb_s3_encode(upload_id, false);
    p.enc_id = enc_id;
    if (!p.etags || !enc_id)
        rc = rb_store_nomem();
    if (rc == 0)
        rc = put_parts(&p);
    if (rc == 0)
        rc = complete(c, key, enc_id, &p);
    if (rc < 0 && enc_id)
        abort_upload(c, key, enc_id, rc);
    free(enc_id);
    free(p.etags);
    return rc;
}
