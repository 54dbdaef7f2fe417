#include "ctr_action.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* prefix + escaped id + suffix + escaped query value. */
static char *path_for(rb_ctr_engine *e, const char *prefix, const char *id, const char *suffix,
                      const char *query_value)
{
    char *eid = rb_ctr_escape(e, id);
    char *eq = query_value ? rb_ctr_escape(e, query_value) : NULL;
    char *path = NULL;
    if (eid && (eq || !query_value)) {
        size_t n = strlen(prefix) + strlen(eid) + strlen(suffix) + (eq ? strlen(eq) : 0) + 2;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s%s%s%s", prefix, eid, suffix, eq ? eq : "");
    }
    free(eid);
    free(eq);
    if (!path)
        rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    return path;
}

static int simple(rb_ctr_engine *e, const char *method, char *path, long timeout_s,
                  rb_ctr_response *r)
{
    if (!path)
        return RB_ENOMEM;
    int rc = rb_ctr_call(e, method, path, NULL, timeout_s, r);
    free(path);
    return rc;
}

static int status_error(rb_ctr_engine *e, const rb_ctr_response *r, const char *what,
                        const char *name)
{
    int code = r->status == 404 ? RB_ENOTFOUND : r->status == 409 ? RB_EEXISTS : RB_EIO;
    return rb_ctr_fail(e, code, "%s container %s failed (HTTP %ld): %s", what, name, r->status,
                       rb_ctr_response_message(r));
}

int rb_ctr_stop(rb_ctr_engine *e, const char *id, const char *name, long timeout_s)
{
    char t[32];
    snprintf(t, sizeof t, "%ld", timeout_s);
    rb_ctr_response r;
    int rc = simple(e, "POST", path_for(e, "/containers/", id, "/stop?t=", t), timeout_s + 60, &r);
    if (rc < 0)
        return rc;
    if (r.status != 204 && r.status != 304)
        rc = status_error(e, &r, "stopping", name);
    rb_ctr_response_free(&r);
    return rc;
}

int rb_ctr_start(rb_ctr_engine *e, const char *id, const char *name)
{
    rb_ctr_response r;
    int rc = simple(e, "POST", path_for(e, "/containers/", id, "/start", NULL), 120L, &r);
    if (rc < 0)
        return rc;
    if (r.status != 204 && r.status != 304)
        rc = status_error(e, &r, "starting", name);
    rb_ctr_response_free(&r);
    return rc;
}

int rb_ctr_rename(rb_ctr_engine *e, const char *id, const char *name, const char *new_name)
{
    rb_ctr_response r;
    int rc = simple(e, "POST", path_for(e, "/containers/", id, "/rename?name=", new_name), 60L, &r);
    if (rc < 0)
        return rc;
    if (r.status == 409)
        rc = rb_ctr_fail(e, RB_EEXISTS,
                         "cannot rename container %s to %s: that name is taken by another "
                         "container",
                         name, new_name);
    else if (r.status != 204 && r.status != 200)
        rc = status_error(e, &r, "renaming", name);
    rb_ctr_response_free(&r);
    return rc;
}

int rb_ctr_remove(rb_ctr_engine *e, const char *id, const char *name)
{
    rb_ctr_response r;
    int rc = simple(e, "DELETE", path_for(e, "/containers/", id, "?force=1", NULL), 120L, &r);
    if (rc < 0)
        return rc;
    if (r.status != 204 && r.status != 200 && r.status != 404)
        rc = status_error(e, &r, "removing", name);
    rb_ctr_response_free(&r);
    return rc;
}

int rb_ctr_create(rb_ctr_engine *e, const char *name, const cJSON *body, char **id_out)
{
    *id_out = NULL;
    char *path = path_for(e, "/containers/create?name=", name, "", NULL);
    if (!path)
        return RB_ENOMEM;
    rb_ctr_response r;
    int rc = rb_ctr_call(e, "POST", path, body, 120L, &r);
    free(path);
    if (rc < 0)
        return rc;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.json, "Id");
    if (r.status == 409)
        rc = rb_ctr_fail(e, RB_EEXISTS,
                         "cannot create container %s: the name is taken by another container "
                         "(%s)",
                         name, rb_ctr_response_message(&r));
    else if (r.status != 201 || !cJSON_IsString(id))
        rc = status_error(e, &r, "creating", name);
    else if (!(*id_out = strdup(id->valuestring)))
        rc = rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    rb_ctr_response_free(&r);
    return rc;
}

int rb_ctr_connect(rb_ctr_engine *e, const char *network, const char *id, const char *name,
                   const cJSON *endpoint)
{
    cJSON *body = cJSON_CreateObject();
    char *path = path_for(e, "/networks/", network, "/connect", NULL);
    if (!body || !path || !cJSON_AddStringToObject(body, "Container", id) ||
        !cJSON_AddItemToObject(body, "EndpointConfig", cJSON_Duplicate(endpoint, 1))) {
        cJSON_Delete(body);
        free(path);
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    }
    rb_ctr_response r;
    int rc = rb_ctr_call(e, "POST", path, body, 60L, &r);
    cJSON_Delete(body);
    free(path);
    if (rc < 0)
        return rc;
    if (r.status != 200 && r.status != 204)
        rc = rb_ctr_fail(e, r.status == 404 ? RB_ENOTFOUND : RB_EIO,
                         "connecting container %s to network %s failed (HTTP %ld): %s", name,
                         network, r.status, rb_ctr_response_message(&r));
    rb_ctr_response_free(&r);
    return rc;
}
