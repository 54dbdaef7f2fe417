/* Snapshot: each container's whole inspect document, its image id and
 * digests, whether it ran, and (save_image) the image itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctr_container.h"
#include "ctr_image.h"
#include "ctr_ops.h"
#include "ctr_order.h"

#define PROJECT_LABEL "com.docker.compose.project"

int rb_ctr_open_target(rb_ctr_engine *e, const rb_host_api *host, rb_op *op)
{
    const char *engine = host->node_string(host->node_get(host->config(op), "engine"));
    return rb_ctr_engine_open(e, host, op, engine);
}

static int list_project(rb_ctr_engine *e, const char *project, cJSON *out)
{
    cJSON *filters = cJSON_CreateObject();
    cJSON *labels = filters ? cJSON_AddArrayToObject(filters, "label") : NULL;
    size_t n = strlen(project) + sizeof PROJECT_LABEL + 2;
    char *label = malloc(n);
    if (label)
        snprintf(label, n, "%s=%s", PROJECT_LABEL, project);
    char *text = NULL;
    if (labels && label && cJSON_AddItemToArray(labels, cJSON_CreateString(label)))
        text = cJSON_PrintUnformatted(filters);
    cJSON_Delete(filters);
    free(label);
    char *esc = text ? rb_ctr_escape(e, text) : NULL;
    free(text);
    char *path = esc ? malloc(strlen(esc) + 40) : NULL;
    if (!path) {
        free(esc);
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    }
    sprintf(path, "/containers/json?all=1&filters=%s", esc);
    free(esc);
    rb_ctr_response r;
    int rc = rb_ctr_call(e, "GET", path, NULL, 60L, &r);
    free(path);
    if (rc < 0)
        return rc;
    if (r.status != 200 || !cJSON_IsArray(r.json))
        rc = rb_ctr_fail(e, RB_EIO,
                         "listing the containers of compose project %s failed (HTTP "
                         "%ld): %s",
                         project, r.status, rb_ctr_response_message(&r));
    const cJSON *c;
    cJSON_ArrayForEach(c, (rc == 0 ? r.json : NULL))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "Id");
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "Names"), 0);
        /* Containers an earlier rollback set aside keep their compose
         * labels but are no longer part of the project. */
        if (cJSON_IsString(first) && strstr(first->valuestring, RB_CTR_KEPT_INFIX))
            continue;
        cJSON *doc = NULL;
        if (cJSON_IsString(id))
            rc = rb_ctr_inspect(e, id->valuestring, &doc);
        if (rc < 0)
            break;
        if (doc)
            cJSON_AddItemToArray(out, doc);
    }
    rb_ctr_response_free(&r);
    if (rc == 0 && cJSON_GetArraySize(out) == 0)
        rc = rb_ctr_fail(e, RB_ENOTFOUND,
                         "compose project %s has no containers on the engine at %s (none is "
                         "labelled " PROJECT_LABEL "=%s)",
                         project, e->where, project);
    return rc;
}

static int collect(rb_ctr_engine *e, const rb_host_api *h, const rb_node *cfg, cJSON *out)
{
    const rb_node *names = h->node_get(cfg, "containers");
    const char *project = h->node_string(h->node_get(cfg, "compose_project"));
    size_t count = h->node_count(names);
    if ((count > 0) == (project && *project))
        return h->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "set either containers (a list of container names or ids) or "
                            "compose_project, not %s",
                            count > 0 ? "both" : "neither");
    if (project && *project)
        return list_project(e, project, out);
    for (size_t i = 0; i < count; i++) {
        const char *name = h->node_string(h->node_at(names, i));
        cJSON *doc = NULL;
        int rc = name && *name
                     ? rb_ctr_inspect(e, name, &doc)
                     : h->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG, "containers[%zu] is empty", i);
        if (rc < 0)
            return rc;
        cJSON_AddItemToArray(out, doc);
    }
    return 0;
}

/* The blob an earlier snapshot of the same target stored for this image. */
static const char *previous_image_blob(const rb_host_api *h, rb_op *op, const char *image_id)
{
    const rb_node *prev = h->previous_metadata(op);
    const rb_node *list = h->node_get(prev, "containers");
    for (size_t i = 0; i < h->node_count(list); i++) {
        const rb_node *c = h->node_at(list, i);
        const char *id = h->node_string(h->node_get(c, "image_id"));
        const char *blob = h->node_string(h->node_get(c, "image_blob"));
        if (id && blob && !strcmp(id, image_id))
            return blob;
    }
    return NULL;
}

static int record_all(rb_ctr_engine *e, const rb_host_api *h, rb_op *op, cJSON *docs)
{
    const rb_node *cfg = h->config(op);
    rb_node *md = h->metadata(op);
    const char *project = h->node_string(h->node_get(cfg, "compose_project"));
    if (!h->node_add_string(md, "method", "container_recreate") ||
        !h->node_add_string(md, "engine", e->where) ||
        !h->node_add_string(md, "engine_version", e->product) ||
        !h->node_add_string(md, "api_version", e->api) ||
        (project && *project && !h->node_add_string(md, "compose_project", project)))
        return RB_ENOMEM;
    int rc = rb_ctr_identity_record(e, md);
    if (rc < 0)
        return rc;
    rb_node *list = h->node_add_array(md, "containers");
    if (!list)
        return RB_ENOMEM;
    int save = h->node_bool(h->node_get(cfg, "save_image"));
    const cJSON *doc;
    cJSON_ArrayForEach(doc, docs)
    {
        const char *name = rb_ctr_name(doc);
        const char *image_id = rb_ctr_image_id(doc);
        if (!name || !image_id || !rb_ctr_id(doc))
            return rb_ctr_fail(e, RB_EIO,
                               "the engine's inspect document of a container lacks "
                               "its name, id or image");
        cJSON *image = NULL;
        rc = rb_ctr_image_inspect(e, image_id, &image);
        if (rc < 0)
            return rb_ctr_wrap(e, rc, "container %s", name);
        rb_node *c = rb_ctr_record(e, list, doc, image, 1);
        cJSON_Delete(image);
        if (!c)
            return RB_ENOMEM;
        if (!save)
            continue;
        char blob[RB_BLOB_ID_SIZE];
        h->log(RB_LOG_INFO, "saving image %s of container %s", image_id, name);
        rc = rb_ctr_image_save(e, image_id, name, previous_image_blob(h, op, image_id), blob);
        if (rc < 0)
            return rc;
        int64_t size = h->blob_size(op, blob);
        if (!h->node_add_string(c, "image_blob", blob) ||
            !h->node_add_int(c, "image_bytes", size > 0 ? size : 0))
            return RB_ENOMEM;
    }
    return 0;
}

int rb_ctr_snapshot(const rb_host_api *h, rb_op *op)
{
    rb_ctr_engine e;
    int rc = rb_ctr_open_target(&e, h, op);
    if (rc < 0)
        return rc;
    cJSON *docs = cJSON_CreateArray();
    rc = docs ? collect(&e, h, h->config(op), docs) : RB_ENOMEM;
    if (rc == 0)
        rc = rb_ctr_order(h, docs);
    if (rc == 0)
        rc = record_all(&e, h, op, docs);
    cJSON_Delete(docs);
    rb_ctr_engine_close(&e);
    return rc;
}
