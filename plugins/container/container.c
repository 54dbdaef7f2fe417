/* The container backend: Docker or podman containers, through the Docker
 * Engine API. */
#include <curl/curl.h>

#include "ctr_ops.h"

static const rb_config_key ctr_keys[] = {
    RB_CONFIG_KEY("containers", RB_KEY_STRING_LIST, 0, NULL,
                  "names or ids of the containers to snapshot (or use compose_project)"),
    RB_CONFIG_KEY("compose_project", RB_KEY_STRING, 0, NULL,
                  "every container labelled com.docker.compose.project=<this>"),
    RB_CONFIG_KEY("engine", RB_KEY_STRING, 0, NULL,
                  "engine socket path or URL (unix:///path, tcp://host:port); default "
                  "$DOCKER_HOST, /var/run/docker.sock, then /run/podman/podman.sock"),
    RB_CONFIG_KEY("save_image", RB_KEY_BOOL, 0, "true",
                  "store each container's image, so a rollback works after it was deleted"),
    RB_CONFIG_KEY("health_timeout", RB_KEY_INT, 0, "60",
                  "seconds verify waits for a container with a healthcheck to report healthy"),
    RB_CONFIG_KEY_END,
};

static const rb_host_api *host;

static int ctr_init(const rb_host_api *h, void **state)
{
    host = h;
    *state = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return h->error_set(RB_ERROR, RB_ERRCLASS_PLUGIN, "libcurl failed to initialise");
    return 0;
}

static void ctr_fini(void *state)
{
    (void)state;
    curl_global_cleanup();
}

static int ctr_snapshot(void *state, rb_op *op)
{
    (void)state;
    return rb_ctr_snapshot(host, op);
}

static int ctr_restore(void *state, rb_op *op)
{
    (void)state;
    return rb_ctr_restore(host, op);
}

static int ctr_verify(void *state, rb_op *op)
{
    (void)state;
    return rb_ctr_verify(host, op);
}

static int ctr_plan(void *state, rb_op *op)
{
    (void)state;
    return rb_ctr_plan(host, op);
}

static int ctr_destroy(void *state, rb_op *op)
{
    (void)state;
    return rb_ctr_destroy(host, op);
}

static const rollback_plugin ctr_plugin = {
    RB_PLUGIN_HEADER,
    "container",
    "Docker and podman containers through the Docker Engine API",
    "1.0.0",
    RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY,
    ctr_keys,
    ctr_init,
    ctr_fini,
    ctr_snapshot,
    ctr_restore,
    ctr_verify,
    ctr_plan,
    NULL,
    ctr_destroy,
};

RB_PLUGIN_DEFINE(ctr_plugin)
