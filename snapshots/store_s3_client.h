/* Inside the S3 client module (rbhost-s3.so): the connection settings,
 * one signed request, and the operations the module's table offers
 * (store_s3_module.h), each with the contract of the store_s3.h function
 * of the same name without "client_". */
#ifndef RB_STORE_S3_CLIENT_H
#define RB_STORE_S3_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb_store.h"
#include "store_s3.h"

struct rb_s3 {
    char *scheme_host; /* http://127.0.0.1:8000, no trailing slash */
    char *base_path;   /* path of the endpoint URL, "" or "/x" */
    char *region;
    char *bucket;
    char *prefix; /* "" or "dir/sub/" (with the trailing slash) */
    bool virtual_style;
    char *access_key;
    char *secret_key;
    char *ca_file;      /* CA bundle for https endpoints, or NULL */
    char *display;      /* s3://bucket/prefix */
    char *cache_name;   /* bucket-<hash> */
    int retries;        /* attempts after the first */
    int jobs;           /* parallel transfers */
    pthread_mutex_t mu; /* handles */
    void **handles;     /* idle CURL handles: their connections stay open */
    size_t nhandles, handles_cap;
};

/* Uploads of files (packs) send their body unsigned: the content's
 * SHA-256 goes with the object (x-amz-meta-rb-sha256) and is checked on
 * every read, so hashing each body again for the signature, and the
 * server hashing it to check that signature, would only cost CPU. */
#define RB_S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* A request body: memory, or a range of a file. */
typedef struct rb_s3_body {
    const uint8_t *mem;
    int fd; /* -1 for memory */
    uint64_t off, len;
    char sha256[65]; /* the payload hash signed: the hex SHA-256 of the body,
                        or RB_S3_UNSIGNED_PAYLOAD */
} rb_s3_body;

typedef struct rb_s3_resp {
    long status;
    uint8_t *body;
    size_t len, cap;
    char etag[80];
    char meta_sha256[65]; /* x-amz-meta-rb-sha256 */
    char code[64];        /* <Code> of an error document */
} rb_s3_resp;

/* One request, retried on 5xx, 429 and network failures. `key` is the
 * object's key under the prefix (NULL: the bucket itself); `query` is
 * already canonical (sorted, encoded, "name=" for empty values); `headers`
 * is a NULL-terminated list of extra "Name: value" lines. Returns 0 with
 * resp->status set whatever it is, or a negative error when no answer came
 * (the message names the operation). */
int rb_s3_request(rb_s3 *c, const char *method, const char *key, const char *query,
                  const rb_s3_body *body, const char *const *headers, rb_s3_resp *resp);
void rb_s3_resp_free(rb_s3_resp *r);
/* Turns a failed answer into an rb_error with a clear message. */
int rb_s3_fail(rb_s3 *c, const char *what, const char *key, const rb_s3_resp *r);
/* The text between <tag> and </tag> at or after `from` (truncated to
 * fit `cap`); returns where the closing tag ends, NULL when absent. */
const char *rb_s3_xml_text(const char *from, const char *tag, char *out, size_t cap);
/* Uploads `size` bytes of `fd` as a multipart upload whose object carries
 * `sha256` (store_s3_multipart.c). */
int rb_s3_multipart(rb_s3 *c, const char *key, int fd, uint64_t size, const char *sha256);
/* Percent-encodes for a query value or a path (keeping '/' when `path`). */
char *rb_s3_encode(const char *s, bool path);
void rb_s3_sha256_hex(const void *data, size_t len, char out[65]);
/* The hex SHA-256 of a file range. */
int rb_s3_sha256_fd(int fd, uint64_t off, uint64_t len, char out[65]);

/* store_s3_url.c, store_s3_http.c */
int rb_s3_client_new(const char *url, const rb_store_s3_settings *defaults, rb_s3 **out);
void rb_s3_client_free(rb_s3 *c);
const char *rb_s3_client_display(const rb_s3 *c);
const char *rb_s3_client_cache_name(const rb_s3 *c);
/* store_s3_ops.c */
int rb_s3_client_bucket_check(rb_s3 *c, bool create);
int rb_s3_client_put(rb_s3 *c, const char *key, const void *data, size_t len, bool noreplace,
                     char *etag_out);
int rb_s3_client_put_file(rb_s3 *c, const char *key, const char *path);
int rb_s3_client_get(rb_s3 *c, const char *key, uint8_t **data, size_t *len);
int rb_s3_client_get_file(rb_s3 *c, const char *key, const char *path);
int rb_s3_client_delete(rb_s3 *c, const char *key);
int rb_s3_client_list(rb_s3 *c, const char *key_prefix, rb_s3_object **out, size_t *n_out);
void rb_s3_client_list_free(rb_s3_object *objs, size_t n);
/* store_s3_batch.c */
int rb_s3_client_batch_new(rb_s3 *c, rb_s3_batch **out);
int rb_s3_client_batch_put_file(rb_s3_batch *b, const char *key, const char *path);
int rb_s3_client_batch_finish(rb_s3_batch *b);

#endif
