#include "ctr_engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The newest API version whose behaviour this backend was written against;
 * a newer engine is asked to speak this one. */
#define CTR_API_MAX_MAJOR 1
#define CTR_API_MAX_MINOR 43
/* Oldest engine API with everything used here (rename, stop timeouts,
 * NetworkingConfig on create, image load and save). */
#define CTR_API_MIN_MINOR     25
#define CTR_CONNECT_TIMEOUT_S 10L

int rb_ctr_fail(rb_ctr_engine *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return e->host->error_set(code, RB_ERRCLASS_CONTAINER, "%s", e->err);
}

int rb_ctr_wrap(rb_ctr_engine *e, int code, const char *fmt, ...)
{
    char cause[sizeof e->err];
    snprintf(cause, sizeof cause, "%s", e->err);
    char context[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    return rb_ctr_fail(e, code, "%s: %s", context, cause);
}

static char *dup_str(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* A URL for messages and metadata: without any user:password@ part. */
static char *redacted_url(const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *end = auth + strcspn(auth, "/");
    const char *at = memchr(auth, '@', (size_t)(end - auth));
    if (!at)
        return strdup(url);
    size_t head = (size_t)(auth - url);
    char *out = malloc(strlen(url) + 1);
    if (out) {
        memcpy(out, url, head);
        strcpy(out + head, at + 1);
    }
    return out;
}

static int use_socket(rb_ctr_engine *e, const char *path)
{
    e->socket_path = strdup(path);
    e->where = strdup(path);
    e->base_url = strdup("http://localhost");
    if (!e->socket_path || !e->where || !e->base_url)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return rb_ctr_fail(e, RB_EIO,
                               "container engine socket %s does not exist: is the engine "
                               "running? (set the target's engine key to its socket or URL)",
                               path);
        if (errno == EACCES)
            return rb_ctr_fail(e, RB_EPERM,
                               "permission denied reaching container engine socket %s: run as "
                               "a user allowed to use the engine (e.g. in the docker group)",
                               path);
        return rb_ctr_fail(e, RB_EIO, "container engine socket %s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return rb_ctr_fail(e, RB_EINVAL, "container engine %s is not a socket", path);
    if (access(path, R_OK | W_OK) != 0 && errno == EACCES)
        return rb_ctr_fail(e, RB_EPERM,
                           "permission denied on container engine socket %s: run as a user "
                           "allowed to use the engine (e.g. in the docker group)",
                           path);
    return 0;
}

static int use_url(rb_ctr_engine *e, const char *url)
{
    e->where = redacted_url(url);
    if (!strncmp(url, "tcp://", 6)) {
        size_t n = strlen(url + 6);
        e->base_url = malloc(n + 8);
        if (e->base_url)
            snprintf(e->base_url, n + 8, "http://%s", url + 6);
    } else {
        e->base_url = strdup(url);
    }
    if (!e->where || !e->base_url)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    size_t n = strlen(e->base_url);
    while (n > 0 && e->base_url[n - 1] == '/')
        e->base_url[--n] = '\0';
    return 0;
}

/* Config first, then $DOCKER_HOST, then the sockets Docker and podman
 * listen on by default. */
static int locate(rb_ctr_engine *e, const char *engine)
{
    const char *spec = engine && *engine ? engine : getenv("DOCKER_HOST");
    if (!spec || !*spec) {
        char rootless[4096] = "";
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && *xdg)
            snprintf(rootless, sizeof rootless, "%s/podman/podman.sock", xdg);
        const char *candidates[] = {"/var/run/docker.sock", "/run/podman/podman.sock", rootless};
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
            struct stat st;
            if (*candidates[i] && stat(candidates[i], &st) == 0)
                return use_socket(e, candidates[i]);
        }
        return rb_ctr_fail(e, RB_ENOTFOUND,
                           "no container engine found: DOCKER_HOST is unset and neither "
                           "/var/run/docker.sock nor /run/podman/podman.sock exists; set the "
                           "target's engine key to the engine's socket or URL");
    }
    if (!strncmp(spec, "unix://", 7))
        return use_socket(e, spec + 7);
    if (spec[0] == '/')
        return use_socket(e, spec);
    if (!strncmp(spec, "tcp://", 6) || !strncmp(spec, "http://", 7) ||
        !strncmp(spec, "https://", 8))
        return use_url(e, spec);
    snprintf(e->err, sizeof e->err,
             "engine: '%s' is neither a socket (unix:///path or /path) nor a URL (tcp://, "
             "http://, https://)",
             spec);
    return e->host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG, "%s", e->err);
}

typedef struct membuf {
    char *data;
    size_t len;
} membuf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    membuf *b = ud;
    size_t n = size * nmemb;
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, ptr, n);
    b->len += n;
    nd[b->len] = '\0';
    b->data = nd;
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    rb_ctr_engine *e = ud;
    return e->op && !e->uncancellable && e->host->cancelled(e->op) ? 1 : 0;
}

static void prepare(rb_ctr_engine *e, const char *url, long timeout_s)
{
    curl_easy_reset(e->curl);
    curl_easy_setopt(e->curl, CURLOPT_URL, url);
    if (e->socket_path)
        curl_easy_setopt(e->curl, CURLOPT_UNIX_SOCKET_PATH, e->socket_path);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT, CTR_CONNECT_TIMEOUT_S);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e);
}

static int transport_error(rb_ctr_engine *e, CURLcode rc, const char *path)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return rb_ctr_fail(e, RB_ECANCELED, "cancelled while talking to the container engine");
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return rb_ctr_fail(e, RB_ETIMEOUT, "container engine at %s did not answer %s in time",
                           e->where, path);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        return rb_ctr_fail(e, RB_EIO,
                           "container engine at %s is unreachable (%s): is the engine running?",
                           e->where, curl_easy_strerror(rc));
    return rb_ctr_fail(e, RB_EIO, "container engine at %s: %s failed: %s", e->where, path,
                       curl_easy_strerror(rc));
}

static char *versioned_url(rb_ctr_engine *e, const char *path)
{
    size_t n = strlen(e->base_url) + strlen(e->api) + strlen(path) + 4;
    char *url = malloc(n);
    if (url) {
        if (e->api[0])
            snprintf(url, n, "%s/v%s%s", e->base_url, e->api, path);
        else
            snprintf(url, n, "%s%s", e->base_url, path);
    }
    return url;
}

static void finish_response(rb_ctr_engine *e, membuf *b, rb_ctr_response *resp)
{
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = b->data ? b->data : dup_str("", 0);
    resp->len = b->len;
    resp->json = NULL;
    if (resp->body && (resp->body[0] == '{' || resp->body[0] == '['))
        resp->json = cJSON_ParseWithLength(resp->body, resp->len);
}

int rb_ctr_call(rb_ctr_engine *e, const char *method, const char *path, const cJSON *body,
                long timeout_s, rb_ctr_response *resp)
{
    memset(resp, 0, sizeof *resp);
    char *url = versioned_url(e, path);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    if (!url || (body && !text)) {
        free(url);
        free(text);
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    }
    prepare(e, url, timeout_s);
    membuf b = {NULL, 0};
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(e->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
    if (text) {
        curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = curl_easy_perform(e->curl);
    curl_slist_free_all(headers);
    free(text);
    free(url);
    if (rc != CURLE_OK) {
        free(b.data);
        return transport_error(e, rc, path);
    }
    finish_response(e, &b, resp);
    return resp->body ? 0 : rb_ctr_fail(e, RB_ENOMEM, "out of memory");
}

typedef struct download {
    rb_ctr_engine *e;
    rb_ctr_sink sink;
    void *ud;
    int rc;
    membuf error_body;
} download;

static size_t on_download(char *ptr, size_t size, size_t nmemb, void *ud)
{
    download *d = ud;
    long status = 0;
    curl_easy_getinfo(d->e->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300)
        return on_body(ptr, size, nmemb, &d->error_body);
    d->rc = d->sink(d->ud, ptr, size * nmemb);
    return d->rc == 0 ? size * nmemb : 0;
}

int rb_ctr_download(rb_ctr_engine *e, const char *path, rb_ctr_sink sink, void *ud, long *status)
{
    char *url = versioned_url(e, path);
    if (!url)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    prepare(e, url, 0L);
    /* A stalled engine is given five minutes, an image of any size all the time it needs. */
    curl_easy_setopt(e->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e->curl, CURLOPT_LOW_SPEED_TIME, 300L);
    download d = {e, sink, ud, 0, {NULL, 0}};
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_download);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &d);
    CURLcode rc = curl_easy_perform(e->curl);
    free(url);
    *status = 0;
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, status);
    if (d.rc != 0) {
        free(d.error_body.data);
        return d.rc;
    }
    if (rc != CURLE_OK) {
        free(d.error_body.data);
        return transport_error(e, rc, path);
    }
    if (*status >= 300) {
        rb_ctr_response r = {*status, d.error_body.data, d.error_body.len, NULL};
        if (r.body && r.body[0] == '{')
            r.json = cJSON_ParseWithLength(r.body, r.len);
        snprintf(e->err, sizeof e->err, "%s", rb_ctr_response_message(&r));
        rb_ctr_response_free(&r);
    }
    return 0;
}

typedef struct upload {
    rb_ctr_source source;
    void *ud;
    int rc;
} upload;

static size_t on_upload(char *buf, size_t size, size_t nitems, void *ud)
{
    upload *u = ud;
    int64_t n = u->source(u->ud, buf, size * nitems);
    if (n < 0) {
        u->rc = (int)n;
        return CURL_READFUNC_ABORT;
    }
    return (size_t)n;
}

int rb_ctr_upload(rb_ctr_engine *e, const char *path, rb_ctr_source source, void *ud, int64_t size,
                  rb_ctr_response *resp)
{
    memset(resp, 0, sizeof *resp);
    char *url = versioned_url(e, path);
    if (!url)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    prepare(e, url, 0L);
    curl_easy_setopt(e->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e->curl, CURLOPT_LOW_SPEED_TIME, 300L);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/x-tar");
    headers = curl_slist_append(headers, "Expect:");
    upload u = {source, ud, 0};
    membuf b = {NULL, 0};
    curl_easy_setopt(e->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e->curl, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(e->curl, CURLOPT_READDATA, &u);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(e->curl);
    curl_slist_free_all(headers);
    free(url);
    if (u.rc != 0 || rc != CURLE_OK) {
        free(b.data);
        return u.rc != 0 ? u.rc : transport_error(e, rc, path);
    }
    finish_response(e, &b, resp);
    return resp->body ? 0 : rb_ctr_fail(e, RB_ENOMEM, "out of memory");
}

void rb_ctr_response_free(rb_ctr_response *resp)
{
    cJSON_Delete(resp->json);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

const char *rb_ctr_response_message(const rb_ctr_response *resp)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp->json, "message");
    if (cJSON_IsString(m) && m->valuestring[0])
        return m->valuestring;
    if (resp->body && resp->body[0])
        return resp->body;
    return "no message";
}

char *rb_ctr_escape(rb_ctr_engine *e, const char *s)
{
    /* Image references keep their '/' and ':': engines route
     * /images/{name}/... on the raw path. */
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@-") ==
        strlen(s))
        return strdup(s);
    char *c = curl_easy_escape(e->curl, s, 0);
    char *out = c ? strdup(c) : NULL;
    curl_free(c);
    return out;
}

static int parse_version(const char *v, int *major, int *minor)
{
    return v && sscanf(v, "%d.%d", major, minor) == 2 ? 0 : -1;
}

static int negotiate(rb_ctr_engine *e)
{
    rb_ctr_response r;
    int rc = rb_ctr_call(e, "GET", "/version", NULL, 30L, &r);
    if (rc < 0)
        return rc;
    if (r.status == 403 || r.status == 401) {
        rc = rb_ctr_fail(e, RB_EPERM, "container engine at %s refused access (HTTP %ld)", e->where,
                         r.status);
        rb_ctr_response_free(&r);
        return rc;
    }
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(r.json, "ApiVersion");
    int major = 0, minor = 0;
    if (r.status != 200 || !cJSON_IsString(api) ||
        parse_version(api->valuestring, &major, &minor) != 0) {
        rc = rb_ctr_fail(e, RB_EIO,
                         "%s does not answer like a Docker Engine API (GET /version: HTTP %ld)",
                         e->where, r.status);
        rb_ctr_response_free(&r);
        return rc;
    }
    if (major != CTR_API_MAX_MAJOR || minor < CTR_API_MIN_MINOR) {
        rc = rb_ctr_fail(e, RB_EUNSUPPORTED,
                         "container engine at %s speaks API %s; rbhost needs 1.%d or newer",
                         e->where, api->valuestring, CTR_API_MIN_MINOR);
        rb_ctr_response_free(&r);
        return rc;
    }
    if (minor > CTR_API_MAX_MINOR)
        minor = CTR_API_MAX_MINOR;
    snprintf(e->api, sizeof e->api, "%d.%d", major, minor);

    const char *name = "Docker Engine";
    const cJSON *comp;
    cJSON_ArrayForEach(comp, cJSON_GetObjectItemCaseSensitive(r.json, "Components"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(comp, "Name");
        if (cJSON_IsString(n) && strstr(n->valuestring, "Engine")) {
            name = n->valuestring;
            break;
        }
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(r.json, "Version");
    const char *v = cJSON_IsString(ver) ? ver->valuestring : "";
    size_t n = strlen(name) + strlen(v) + 2;
    e->product = malloc(n);
    if (e->product)
        snprintf(e->product, n, "%s %s", name, v);
    rb_ctr_response_free(&r);
    return e->product ? 0 : rb_ctr_fail(e, RB_ENOMEM, "out of memory");
}

int rb_ctr_engine_open(rb_ctr_engine *e, const rb_host_api *host, rb_op *op, const char *engine)
{
    memset(e, 0, sizeof *e);
    e->host = host;
    e->op = op;
    e->curl = curl_easy_init();
    if (!e->curl)
        return rb_ctr_fail(e, RB_ENOMEM, "cannot start an HTTP client (curl_easy_init)");
    int rc = locate(e, engine);
    if (rc == 0)
        rc = negotiate(e);
    if (rc < 0)
        rb_ctr_engine_close(e);
    return rc;
}

void rb_ctr_engine_close(rb_ctr_engine *e)
{
    if (e->curl)
        curl_easy_cleanup(e->curl);
    free(e->where);
    free(e->socket_path);
    free(e->base_url);
    free(e->product);
    e->curl = NULL;
    e->where = e->socket_path = e->base_url = e->product = NULL;
}
