/* S3 operations: bucket check, put, get, delete, list.
 * Every object carries the SHA-256 of its content in x-amz-meta-rb-sha256,
 * checked on every read. */
#include "store_s3_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "store_internal.h"

/* Larger files go up as multipart uploads (store_s3_multipart.c). */
#define MULTIPART_MIN (16u * 1024u * 1024u)

int rb_s3_client_bucket_check(rb_s3 *c, bool create)
{
    rb_s3_resp r;
    int rc = rb_s3_request(c, "HEAD", NULL, NULL, NULL, NULL, &r);
    if (rc == 0 && r.status == 404 && create) {
        /* Outside us-east-1, AWS wants the region in the body; S3
         * implementations with one region (RGW) accept an empty body. */
        char xml[256] = "";
        if (strcmp(c->region, "us-east-1") != 0 && strstr(c->scheme_host, "amazonaws.com"))
            snprintf(xml, sizeof xml,
                     "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
                     "</CreateBucketConfiguration>",
                     c->region);
        rb_s3_body b = {(const uint8_t *)xml, -1, 0, strlen(xml), ""};
        rb_s3_sha256_hex(xml, b.len, b.sha256);
        rb_s3_resp_free(&r);
        rc = rb_s3_request(c, "PUT", NULL, NULL, &b, NULL, &r);
        if (rc == 0 && r.status == 409 && !strcmp(r.code, "BucketAlreadyOwnedByYou"))
            r.status = 200;
        if (rc == 0 && r.status / 100 != 2)
            rc = rb_s3_fail(c, "create the bucket of", NULL, &r);
    } else if (rc == 0 && r.status == 404) {
        snprintf(r.code, sizeof r.code, "NoSuchBucket");
        rc = rb_s3_fail(c, "open", NULL, &r);
    } else if (rc == 0 && r.status == 403) {
        /* HEAD answers carry no body: ask again with a GET that does, so
         * that the message says which credential problem it is. */
        rb_s3_resp_free(&r);
        rc = rb_s3_request(c, "GET", NULL, "list-type=2&max-keys=1", NULL, NULL, &r);
        if (rc == 0)
            rc = rb_s3_fail(c, "open", NULL, &r);
    } else if (rc == 0 && r.status / 100 != 2) {
        rc = rb_s3_fail(c, "open", NULL, &r);
    }
    rb_s3_resp_free(&r);
    return rc;
}

/* `sha256` is the content's hash, stored with the object; the body's
 * payload hash may be UNSIGNED-PAYLOAD instead. */
static int put_body(rb_s3 *c, const char *key, const rb_s3_body *b, const char *sha256,
                    bool noreplace, char *etag_out)
{
    char meta[96];
    snprintf(meta, sizeof meta, "x-amz-meta-rb-sha256: %s", sha256);
    const char *headers[] = {meta, noreplace ? "If-None-Match: *" : NULL, NULL};
    rb_s3_resp r;
    int rc = rb_s3_request(c, "PUT", key, NULL, b, headers, &r);
    if (rc == 0 && r.status / 100 != 2)
        rc = rb_s3_fail(c, "write", key, &r);
    if (rc == 0 && etag_out)
        snprintf(etag_out, 80, "%s", r.etag);
    rb_s3_resp_free(&r);
    return rc;
}

int rb_s3_client_put(rb_s3 *c, const char *key, const void *data, size_t len, bool noreplace,
                     char *etag_out)
{
    rb_s3_body b = {data ? data : (const uint8_t *)"", -1, 0, len, ""};
    rb_s3_sha256_hex(b.mem, len, b.sha256);
    return put_body(c, key, &b, b.sha256, noreplace, etag_out);
}

int rb_s3_client_put_file(rb_s3 *c, const char *key, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rb_error_os("cannot open %s", path);
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? rb_error_os("cannot stat %s", path) : 0;
    /* The file is read twice: once here for the hash stored with the
     * object, once by the upload, whose payload goes unsigned so that
     * neither side hashes it again. */
    rb_s3_body b = {NULL, fd, 0, rc == 0 ? (uint64_t)st.st_size : 0, RB_S3_UNSIGNED_PAYLOAD};
    char sha[65];
    if (rc == 0)
        rc = rb_s3_sha256_fd(fd, 0, b.len, sha);
    if (rc == 0 && b.len >= MULTIPART_MIN)
        rc = rb_s3_multipart(c, key, fd, b.len, sha);
    else if (rc == 0)
        rc = put_body(c, key, &b, sha, false, NULL);
    close(fd);
    return rc;
}

int rb_s3_client_get(rb_s3 *c, const char *key, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    rb_s3_resp r;
    int rc = rb_s3_request(c, "GET", key, NULL, NULL, NULL, &r);
    if (rc == 0 && r.status / 100 != 2)
        rc = rb_s3_fail(c, "read", key, &r);
    if (rc == 0) {
        char got[65];
        rb_s3_sha256_hex(r.body ? r.body : (const uint8_t *)"", r.len, got);
        if (!r.meta_sha256[0])
            rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                              "%s/%s has no rbhost checksum: it was not written by rbhost",
                              c->display, key);
        else if (strcmp(got, r.meta_sha256) != 0)
            rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                              "%s/%s is corrupt: its content hashes to %.16s..., stored with "
                              "%.16s...",
                              c->display, key, got, r.meta_sha256);
    }
    if (rc == 0) {
        *data = r.body ? r.body : calloc(1, 1);
        *len = r.len;
        r.body = NULL;
        if (!*data)
            rc = rb_store_nomem();
    }
    rb_s3_resp_free(&r);
    return rc;
}

int rb_s3_client_get_file(rb_s3 *c, const char *key, const char *path)
{
    uint8_t *data;
    size_t len;
    int rc = rb_s3_client_get(c, key, &data, &len);
    if (rc < 0)
        return rc;
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.part.%ld.%lx", path, (long)getpid(), (unsigned long)pthread_self()) <
        0) {
        free(data);
        return rb_store_nomem();
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, RB_STORE_FILE_MODE);
    if (fd < 0)
        rc = rb_error_os("cannot create %s", tmp);
    if (rc == 0)
        rc = rb_store_pwrite_all(fd, data, len, 0, tmp);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = rb_error_os("cannot write %s", tmp);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = rb_error_os("cannot rename %s to %s", tmp, path);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    free(data);
    return rc;
}

int rb_s3_client_delete(rb_s3 *c, const char *key)
{
    rb_s3_resp r;
    int rc = rb_s3_request(c, "DELETE", key, NULL, NULL, NULL, &r);
    if (rc == 0 && r.status / 100 != 2 && r.status != 404)
        rc = rb_s3_fail(c, "remove", key, &r);
    rb_s3_resp_free(&r);
    return rc;
}

void rb_s3_client_list_free(rb_s3_object *objs, size_t n)
{
    for (size_t i = 0; objs && i < n; i++)
        free(objs[i].key);
    free(objs);
}

/* Adds the <Contents> of one listing page. */
static int parse_page(rb_s3 *c, const char *xml, rb_s3_object **objs, size_t *n, size_t *cap)
{
    size_t plen = strlen(c->prefix);
    const char *p = xml;
    while ((p = strstr(p, "<Contents>"))) {
        const char *end = strstr(p, "</Contents>");
        if (!end)
            break;
        char key[1200], size[32] = "0", etag[80] = "";
        size_t seg = (size_t)(end - p);
        char *one = strndup(p, seg);
        if (!one)
            return rb_store_nomem();
        bool ok = rb_s3_xml_text(one, "Key", key, sizeof key) != NULL;
        rb_s3_xml_text(one, "Size", size, sizeof size);
        rb_s3_xml_text(one, "ETag", etag, sizeof etag);
        free(one);
        p = end;
        if (!ok || strncmp(key, c->prefix, plen) != 0)
            continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            rb_s3_object *no = realloc(*objs, ncap * sizeof *no);
            if (!no)
                return rb_store_nomem();
            *objs = no;
            *cap = ncap;
        }
        rb_s3_object *o = &(*objs)[*n];
        o->key = strdup(key + plen);
        if (!o->key)
            return rb_store_nomem();
        o->size = strtoll(size, NULL, 10);
        /* ETags come quoted, as &quot; in XML. */
        const char *e = etag;
        if (!strncmp(e, "&quot;", 6))
            e += 6;
        else if (*e == '"')
            e++;
        snprintf(o->etag, sizeof o->etag, "%s", e);
        char *q = strstr(o->etag, "&quot;");
        if (!q)
            q = strchr(o->etag, '"');
        if (q)
            *q = '\0';
        (*n)++;
    }
    return 0;
}

int rb_s3_client_list(rb_s3 *c, const char *key_prefix, rb_s3_object **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    char *full = NULL;
    if (asprintf(&full, "%s%s", c->prefix, key_prefix ? key_prefix : "") < 0)
        return rb_store_nomem();
    char *enc_prefix = rb_s3_encode(full, false);
    free(full);
    if (!enc_prefix)
        return rb_store_nomem();
    rb_s3_object *objs = NULL;
    size_t n = 0, cap = 0;
    char token[1024] = "";
    int rc = 0;
    for (;;) {
        char *enc_token = token[0] ? rb_s3_encode(token, false) : NULL;
        char *query = NULL;
        int qn = token[0] ? asprintf(&query, "continuation-token=%s&list-type=2&prefix=%s",
                                     enc_token ? enc_token : "", enc_prefix)
                          : asprintf(&query, "list-type=2&prefix=%s", enc_prefix);
        free(enc_token);
        if (qn < 0) {
            rc = rb_store_nomem();
            break;
        }
        rb_s3_resp r;
        rc = rb_s3_request(c, "GET", NULL, query, NULL, NULL, &r);
        free(query);
        if (rc == 0 && r.status / 100 != 2)
            rc = rb_s3_fail(c, "list", NULL, &r);
        if (rc == 0 && r.body)
            rc = parse_page(c, (const char *)r.body, &objs, &n, &cap);
        char truncated[16] = "false";
        if (rc == 0 && r.body) {
            rb_s3_xml_text((const char *)r.body, "IsTruncated", truncated, sizeof truncated);
            if (!rb_s3_xml_text((const char *)r.body, "NextContinuationToken", token, sizeof token))
                token[0] = '\0';
        }
        rb_s3_resp_free(&r);
        if (rc < 0 || strcmp(truncated, "true") != 0 || !token[0])
            break;
    }
    free(enc_prefix);
    if (rc < 0) {
        rb_s3_client_list_free(objs, n);
        return rc;
    }
    *out = objs;
    *n_out = n;
    return 0;
}
