#include "ctr_container.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int inspect_path(rb_ctr_engine *e, const char *kind, const char *name, cJSON **out,
                        int *missing)
{
    *out = NULL;
    *missing = 0;
    char *esc = rb_ctr_escape(e, name);
    if (!esc)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    size_t n = strlen(esc) + strlen(kind) + 16;
    char *path = malloc(n);
    if (!path) {
        free(esc);
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    }
    snprintf(path, n, "/%s/%s/json", kind, esc);
    free(esc);
    rb_ctr_response r;
    int rc = rb_ctr_call(e, "GET", path, NULL, 60L, &r);
    free(path);
    if (rc < 0)
        return rc;
    if (r.status == 404) {
        *missing = 1;
    } else if (r.status != 200 || !cJSON_IsObject(r.json)) {
        rc = rb_ctr_fail(e, RB_EIO, "inspecting %s %s on %s failed (HTTP %ld): %s",
                         !strcmp(kind, "images") ? "image" : "container", name, e->where, r.status,
                         rb_ctr_response_message(&r));
    } else {
        *out = r.json;
        r.json = NULL;
    }
    rb_ctr_response_free(&r);
    return rc;
}

int rb_ctr_inspect_optional(rb_ctr_engine *e, const char *name, cJSON **out)
{
    int missing;
    return inspect_path(e, "containers", name, out, &missing);
}

int rb_ctr_inspect(rb_ctr_engine *e, const char *name, cJSON **out)
{
    int missing;
    int rc = inspect_path(e, "containers", name, out, &missing);
    if (rc == 0 && missing)
        return rb_ctr_fail(e, RB_ENOTFOUND, "container %s not found on the engine at %s", name,
                           e->where);
    return rc;
}

int rb_ctr_image_inspect(rb_ctr_engine *e, const char *image_id, cJSON **out)
{
    int missing;
    int rc = inspect_path(e, "images", image_id, out, &missing);
    if (rc == 0 && missing)
        return rb_ctr_fail(e, RB_ENOTFOUND, "image %s not found on the engine at %s", image_id,
                           e->where);
    return rc;
}

int rb_ctr_image_present(rb_ctr_engine *e, const char *image_id)
{
    cJSON *img;
    int missing;
    int rc = inspect_path(e, "images", image_id, &img, &missing);
    cJSON_Delete(img);
    return rc < 0 ? rc : !missing;
}

char *rb_ctr_image_resolve(rb_ctr_engine *e, const char *ref)
{
    cJSON *img;
    int missing;
    if (!ref || !*ref || inspect_path(e, "images", ref, &img, &missing) < 0 || missing)
        return NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(img, "Id");
    char *out = cJSON_IsString(id) ? strdup(id->valuestring) : NULL;
    cJSON_Delete(img);
    return out;
}

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *rb_ctr_name(const cJSON *inspect)
{
    const char *n = str_at(inspect, "Name", NULL);
    return n && n[0] == '/' ? n + 1 : n;
}

const char *rb_ctr_id(const cJSON *inspect)
{
    return str_at(inspect, "Id", NULL);
}

const char *rb_ctr_image_id(const cJSON *inspect)
{
    return str_at(inspect, "Image", NULL);
}

const char *rb_ctr_image_ref(const cJSON *inspect)
{
    return str_at(inspect, "Config", "Image");
}

int rb_ctr_running(const cJSON *inspect)
{
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(inspect, "State");
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "Running"));
}

const char *rb_ctr_health(const cJSON *inspect)
{
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(inspect, "State");
    const cJSON *health = cJSON_GetObjectItemCaseSensitive(state, "Health");
    const char *status = str_at(health, "Status", NULL);
    if (status && *status)
        return status;
    /* A container that is not running has no health state yet, but it
     * still has a healthcheck when its config declares one. */
    const cJSON *hc = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(inspect, "Config"), "Healthcheck");
    const cJSON *test = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hc, "Test"), 0);
    if (cJSON_IsString(test) && strcmp(test->valuestring, "NONE") != 0)
        return "starting";
    return NULL;
}

long rb_ctr_stop_timeout(const cJSON *inspect)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(inspect, "Config"), "StopTimeout");
    return cJSON_IsNumber(t) && t->valuedouble >= 0 ? (long)t->valuedouble : 10L;
}

const char *rb_ctr_label(const cJSON *inspect, const char *key)
{
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(inspect, "Config"), "Labels");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *read_blob(rb_ctr_engine *e, const char *id, const char *name)
{
    const rb_host_api *h = e->host;
    int64_t size = h->blob_size(e->op, id);
    rb_blob_reader *rd = NULL;
    if (size < 0 || h->blob_reader_open(e->op, id, &rd) < 0) {
        rb_ctr_fail(e, RB_ECORRUPT, "the snapshot's record of container %s (blob %s) is missing",
                    name, id);
        return NULL;
    }
    char *buf = malloc((size_t)size + 1);
    size_t len = 0;
    int64_t n = 0;
    while (buf && (n = h->blob_read(rd, buf + len, (size_t)size - len)) > 0)
        len += (size_t)n;
    h->blob_reader_close(rd);
    if (!buf || n < 0 || len != (size_t)size) {
        free(buf);
        rb_ctr_fail(e, n < 0 ? (int)n : RB_ECORRUPT,
                    "cannot read the snapshot's record of container %s (blob %s)", name, id);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static const char *node_str(const rb_host_api *h, const rb_node *obj, const char *key)
{
    return h->node_string(h->node_get(obj, key));
}

int rb_ctr_recorded_load(rb_ctr_engine *e, const rb_node *metadata, rb_ctr_recorded_set *set)
{
    const rb_host_api *h = e->host;
    const rb_node *list = h->node_get(metadata, "containers");
    set->count = 0;
    set->items = calloc(h->node_count(list) + 1, sizeof *set->items);
    if (!set->items)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    for (size_t i = 0; i < h->node_count(list); i++) {
        const rb_node *c = h->node_at(list, i);
        rb_ctr_recorded *r = &set->items[set->count];
        r->name = node_str(h, c, "name");
        r->id = node_str(h, c, "id");
        r->image = node_str(h, c, "image");
        r->image_id = node_str(h, c, "image_id");
        r->image_blob = node_str(h, c, "image_blob");
        r->kept_as = node_str(h, c, "kept_as");
        r->running = h->node_bool(h->node_get(c, "running"));
        const char *blob = node_str(h, c, "inspect_blob");
        if (!r->name || !r->id || !r->image_id)
            return rb_ctr_fail(e, RB_ECORRUPT,
                               "snapshot %s: container record %zu lacks its name, id or image",
                               h->op_snapshot_id(e->op), i);
        set->count++;
        if (!blob)
            continue;
        char *text = read_blob(e, blob, r->name);
        if (!text)
            return RB_ECORRUPT;
        r->inspect = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsObject(r->inspect))
            return rb_ctr_fail(e, RB_ECORRUPT,
                               "the snapshot's inspect document of container %s is not JSON",
                               r->name);
    }
    return 0;
}

void rb_ctr_recorded_free(rb_ctr_recorded_set *set)
{
    for (size_t i = 0; set->items && i <= set->count; i++)
        cJSON_Delete(set->items[i].inspect);
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

rb_node *rb_ctr_record(rb_ctr_engine *e, rb_node *containers, const cJSON *inspect,
                       const cJSON *image, int with_blob)
{
    const rb_host_api *h = e->host;
    const char *name = rb_ctr_name(inspect);
    char blob[RB_BLOB_ID_SIZE] = "";
    if (with_blob) {
        char *text = cJSON_PrintUnformatted(inspect);
        if (!text)
            return rb_ctr_fail(e, RB_ENOMEM, "out of memory"), NULL;
        int rc = h->blob_put(e->op, text, strlen(text), blob);
        free(text);
        if (rc < 0)
            return NULL;
    }
    rb_node *c = h->node_add_object(containers, NULL);
    if (!c || !h->node_add_string(c, "name", name ? name : "") ||
        !h->node_add_string(c, "id", rb_ctr_id(inspect)) ||
        !h->node_add_string(c, "image",
                            rb_ctr_image_ref(inspect) ? rb_ctr_image_ref(inspect) : "") ||
        !h->node_add_string(c, "image_id", rb_ctr_image_id(inspect)) ||
        !h->node_add_bool(c, "running", rb_ctr_running(inspect)) ||
        (with_blob && !h->node_add_string(c, "inspect_blob", blob)))
        return NULL;
    rb_node *digests = h->node_add_array(c, "repo_digests");
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(image, "RepoDigests"))
    {
        if (cJSON_IsString(d) && (!digests || !h->node_add_string(digests, NULL, d->valuestring)))
            return NULL;
    }
    const char *health = rb_ctr_health(inspect);
    if (health && !h->node_add_string(c, "health", health))
        return NULL;
    const char *service = rb_ctr_label(inspect, "com.docker.compose.service");
    if (service && !h->node_add_string(c, "compose_service", service))
        return NULL;
    return c;
}
