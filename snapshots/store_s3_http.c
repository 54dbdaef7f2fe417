/* Signed S3 requests over libcurl, with retries and reused connections.
 *
 * libcurl 7.88 (Debian 12) signs with CURLOPT_AWS_SIGV4 but neither hashes
 * the payload nor sorts the query: the payload hash goes in
 * x-amz-content-sha256 from here, and callers pass the query already in
 * canonical form, so that what curl signs is what the server checks. */
#include "store_s3_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "rb_error.h"
#include "store_internal.h"

#define CONNECT_TIMEOUT_S 10L
/* A transfer slower than 1 byte/s for this long counts as a timeout. */
#define STALL_TIMEOUT_S 30L
#define BACKOFF_MS      250L
/* Packs go up in 1 MiB reads and sends rather than curl's default 64 KiB:
 * a 64 MiB pack is then 64 system calls each way, not a thousand. */
#define UPLOAD_BUFFER 1048576L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rb_s3_client_free(rb_s3 *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nhandles; i++)
        curl_easy_cleanup(c->handles[i]);
    free(c->handles);
    pthread_mutex_destroy(&c->mu);
    free(c->scheme_host);
    free(c->base_path);
    free(c->region);
    free(c->bucket);
    free(c->prefix);
    if (c->secret_key)
        memset(c->secret_key, 0, strlen(c->secret_key));
    free(c->access_key);
    free(c->secret_key);
    free(c->display);
    free(c->cache_name);
    free(c->ca_file);
    free(c);
}

void rb_s3_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    rb_store_hex(md, out);
}

int rb_s3_sha256_fd(int fd, uint64_t off, uint64_t len, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t *buf = malloc(1u << 20);
    int rc = !ctx || !buf ? rb_store_nomem() : 0;
    if (rc == 0 && !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        rc = rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "SHA-256 failed");
    while (rc == 0 && len > 0) {
        size_t want = len < (1u << 20) ? (size_t)len : (1u << 20);
        rc = rb_store_pread_all(fd, buf, want, off, "an upload");
        if (rc == 0)
            EVP_DigestUpdate(ctx, buf, want);
        off += want;
        len -= want;
    }
    uint8_t md[32];
    unsigned int n = 0;
    if (rc == 0 && !EVP_DigestFinal_ex(ctx, md, &n))
        rc = rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "SHA-256 failed");
    if (rc == 0)
        rb_store_hex(md, out);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

char *rb_s3_encode(const char *s, bool path)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || (path && ch == '/')) {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

static CURL *handle_get(rb_s3 *c)
{
    pthread_once(&curl_once, curl_init);
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->nhandles > 0)
        h = c->handles[--c->nhandles];
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_reset(h); /* keeps the handle's open connections */
    else
        h = curl_easy_init();
    return h;
}

static void handle_put(rb_s3 *c, CURL *h)
{
    pthread_mutex_lock(&c->mu);
    if (c->nhandles == c->handles_cap) {
        size_t ncap = c->handles_cap ? c->handles_cap * 2 : 8;
        void **n = realloc(c->handles, ncap * sizeof *n);
        if (n) {
            c->handles = n;
            c->handles_cap = ncap;
        }
    }
    if (c->nhandles < c->handles_cap) {
        c->handles[c->nhandles++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_cleanup(h);
}

typedef struct upload {
    const rb_s3_body *body;
    uint64_t pos;
    int err;
} upload;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    upload *u = arg;
    uint64_t left = u->body->len - u->pos;
    size_t want = size * nitems < left ? size * nitems : (size_t)left;
    if (want == 0)
        return 0;
    if (u->body->fd < 0) {
        memcpy(buf, u->body->mem + u->pos, want);
    } else {
        ssize_t n;
        do
            n = pread(u->body->fd, buf, want, (off_t)(u->body->off + u->pos));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            u->err = n < 0 ? errno : EIO;
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)n;
    }
    u->pos += want;
    return want;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    rb_s3_resp *r = arg;
    size_t n = size * nmemb;
    if (r->len + n + 1 > r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16384;
        while (ncap < r->len + n + 1)
            ncap *= 2;
        uint8_t *b = realloc(r->body, ncap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = 0;
    return n;
}

static void header_value(const char *line, size_t n, char *out, size_t cap)
{
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return;
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '"'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '"'))
        end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *arg)
{
    rb_s3_resp *r = arg;
    size_t n = size * nitems;
    if (n > 5 && !strncasecmp(line, "ETag:", 5))
        header_value(line, n, r->etag, sizeof r->etag);
    else if (n > 21 && !strncasecmp(line, "x-amz-meta-rb-sha256:", 21))
        header_value(line, n, r->meta_sha256, sizeof r->meta_sha256);
    return n;
}

static char *make_url(rb_s3 *c, const char *key, const char *query)
{
    char *full = NULL;
    if (key && asprintf(&full, "%s%s", c->prefix, key) < 0)
        return NULL;
    char *enc = full ? rb_s3_encode(full, true) : strdup("");
    free(full);
    if (!enc)
        return NULL;
    char *url = NULL;
    int n;
    const char *q = query && *query ? "?" : "";
    if (c->virtual_style) {
        const char *host = strstr(c->scheme_host, "://") + 3;
        n = asprintf(&url, "%.*s%s.%s%s/%s%s%s", (int)(host - c->scheme_host), c->scheme_host,
                     c->bucket, host, c->base_path, enc, q, query ? query : "");
    } else {
        n = asprintf(&url, "%s%s/%s%s%s%s%s", c->scheme_host, c->base_path, c->bucket,
                     key ? "/" : "", enc, q, query ? query : "");
    }
    free(enc);
    return n < 0 ? NULL : url;
}

static bool retryable(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
               cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
               cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST;
    return status >= 500 || status == 429;
}

static void backoff(int attempt)
{
    long ms = BACKOFF_MS << (attempt < 6 ? attempt : 6);
    ms += rand() % (ms / 2 + 1);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The text between <tag> and </tag> after `from`, copied into out. */
const char *rb_s3_xml_text(const char *from, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *s = from ? strstr(from, open) : NULL;
    const char *e = s ? strstr(s, close) : NULL;
    if (!s || !e)
        return NULL;
    s += strlen(open);
    size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return e + strlen(close);
}

static void error_code(rb_s3_resp *r)
{
    r->code[0] = '\0';
    const char *b = r->body ? (const char *)r->body : NULL;
    const char *s = b ? strstr(b, "<Code>") : NULL;
    const char *e = s ? strstr(s, "</Code>") : NULL;
    if (s && e) {
        s += 6;
        size_t n = (size_t)(e - s) < sizeof r->code - 1 ? (size_t)(e - s) : sizeof r->code - 1;
        memcpy(r->code, s, n);
        r->code[n] = '\0';
    }
}

static CURLcode perform(rb_s3 *c, CURL *h, const char *method, const char *url,
                        const rb_s3_body *body, const char *const *headers, rb_s3_resp *resp,
                        upload *up)
{
    struct curl_slist *hl = NULL;
    char line[160];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s",
             body ? body->sha256
                  : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hl = curl_slist_append(hl, line);
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    char sigv4[128];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", c->region);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    if (!strcmp(method, "PUT") || (!strcmp(method, "POST") && body)) {
        up->body = body;
        up->pos = 0;
        up->err = 0;
        if (!strcmp(method, "PUT")) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(body ? body->len : 0));
        } else {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
        }
        if (body && body->len > (uint64_t)UPLOAD_BUFFER)
            curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, up);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(hl);
    return cc;
}

int rb_s3_request(rb_s3 *c, const char *method, const char *key, const char *query,
                  const rb_s3_body *body, const char *const *headers, rb_s3_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    char *url = make_url(c, key, query);
    CURL *h = url ? handle_get(c) : NULL;
    if (!h) {
        free(url);
        return rb_store_nomem();
    }
    CURLcode cc = CURLE_OK;
    upload up = {0};
    for (int attempt = 0;; attempt++) {
        rb_s3_resp_free(resp);
        cc = perform(c, h, method, url, body, headers, resp, &up);
        if (up.err)
            break;
        if (!retryable(cc, resp->status) || attempt >= c->retries)
            break;
        backoff(attempt);
        /* A connection the server dropped is not reused. */
        curl_easy_reset(h);
    }
    int rc = 0;
    if (up.err) {
        errno = up.err;
        rc = rb_error_os("cannot read the data to upload to %s/%s%s", c->display, key ? key : "",
                         "");
    } else if (cc != CURLE_OK) {
        rc = rb_error_set(cc == CURLE_OPERATION_TIMEDOUT ? RB_ETIMEOUT : RB_EIO, RB_ERRCLASS_NET,
                          "S3 %s %s/%s failed after %d attempts: %s (endpoint %s%s)", method,
                          c->display, key ? key : "", c->retries + 1, curl_easy_strerror(cc),
                          c->scheme_host, c->base_path);
    } else {
        error_code(resp);
    }
    handle_put(c, h);
    free(url);
    return rc;
}

void rb_s3_resp_free(rb_s3_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    r->status = 0;
    r->etag[0] = r->meta_sha256[0] = r->code[0] = '\0';
}

int rb_s3_fail(rb_s3 *c, const char *what, const char *key, const rb_s3_resp *r)
{
    const char *code = r->code[0] ? r->code : "no error code";
    const char *k = key ? key : "";
    const char *sep = key ? "/" : "";
    if (r->status == 403 &&
        (!strcmp(code, "InvalidAccessKeyId") || !strcmp(code, "SignatureDoesNotMatch")))
        return rb_error_set(RB_EPERM, RB_ERRCLASS_NET,
                            "S3 endpoint %s%s rejected the credentials for %s (%s): check "
                            "RBHOST_S3_ACCESS_KEY and RBHOST_S3_SECRET_KEY (or "
                            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ~/.aws/credentials)",
                            c->scheme_host, c->base_path, c->display, code);
    if (r->status == 403)
        return rb_error_set(RB_EPERM, RB_ERRCLASS_NET, "cannot %s %s%s%s: access denied (%s)", what,
                            c->display, sep, k, code);
    if (r->status == 404 && !strcmp(code, "NoSuchBucket"))
        return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE,
                            "store %s does not exist: no bucket "
                            "'%s' at %s%s",
                            c->display, c->bucket, c->scheme_host, c->base_path);
    if (r->status == 404)
        return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "%s%s%s does not exist", c->display,
                            sep, k);
    if (r->status == 412)
        return rb_error_set(RB_EEXISTS, RB_ERRCLASS_STORE, "%s%s%s already exists", c->display, sep,
                            k);
    return rb_error_set(RB_EIO, RB_ERRCLASS_NET, "cannot %s %s%s%s: HTTP %ld (%s)", what,
                        c->display, sep, k, r->status, code);
}
