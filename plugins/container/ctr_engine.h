/* The container backend's link to a Docker Engine API: Docker itself or
 * podman's compatible service, over a unix socket or TCP, with libcurl. */
#ifndef RB_CTR_ENGINE_H
#define RB_CTR_ENGINE_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include <rbhost/rbhost.h>

typedef struct rb_ctr_engine {
    const rb_host_api *host;
    rb_op *op;
    CURL *curl;
    char *where;       /* socket path or URL, for messages and metadata */
    char *socket_path; /* NULL over TCP */
    char *base_url;    /* scheme://host[:port] */
    char api[16];      /* negotiated API version, "1.41" */
    char *product;     /* "Docker Engine 24.0.7", "Podman Engine 4.3.1" */
    char err[1024];    /* the last error message, kept to compose later ones */
    int uncancellable; /* set while putting things back: an interrupt must not stop that */
} rb_ctr_engine;

typedef struct rb_ctr_response {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated, malloc'd */
    size_t len;
    cJSON *json; /* body parsed when it is JSON, else NULL */
} rb_ctr_response;

/* Byte sinks and sources for streamed transfers: return 0 or a negative rb_error. */
typedef int (*rb_ctr_sink)(void *ud, const void *data, size_t len);
typedef int64_t (*rb_ctr_source)(void *ud, void *buf, size_t len);

/* Finds the engine (`engine` config value, else $DOCKER_HOST, else the
 * usual sockets), connects and negotiates the API version. */
int rb_ctr_engine_open(rb_ctr_engine *e, const rb_host_api *host, rb_op *op, const char *engine);
void rb_ctr_engine_close(rb_ctr_engine *e);

/* Formats the message into e->err and hands it to host->error_set. */
int rb_ctr_fail(rb_ctr_engine *e, int code, const char *fmt, ...) RB_PRINTF(3, 4);

/* Puts "<context>: " before the last message (e->err). */
int rb_ctr_wrap(rb_ctr_engine *e, int code, const char *fmt, ...) RB_PRINTF(3, 4);

/* One request; `path` is below the version prefix ("/containers/x/json").
 * A body is sent as JSON. 0 when an HTTP answer came (whatever its status),
 * a negative rb_error (message set) when the engine could not be reached. */
int rb_ctr_call(rb_ctr_engine *e, const char *method, const char *path, const cJSON *body,
                long timeout_s, rb_ctr_response *resp);
/* GET streamed into `sink`; the status lands in *status. */
int rb_ctr_download(rb_ctr_engine *e, const char *path, rb_ctr_sink sink, void *ud, long *status);
/* POST of `size` bytes read from `source`, as application/x-tar. */
int rb_ctr_upload(rb_ctr_engine *e, const char *path, rb_ctr_source source, void *ud, int64_t size,
                  rb_ctr_response *resp);
void rb_ctr_response_free(rb_ctr_response *resp);

/* The engine's own words for a failed request: its "message", else the body. */
const char *rb_ctr_response_message(const rb_ctr_response *resp);
/* `s` escaped for a URL path or query value (names and image references
 * pass as they are); free() it. */
char *rb_ctr_escape(rb_ctr_engine *e, const char *s);

#endif
