/* Verify (does each container exist, run, use the recorded image and
 * config, and report healthy?) and plan (what a rollback would do). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctr_container.h"
#include "ctr_ops.h"
#include "ctr_spec.h"

static int add_difference(const rb_host_api *h, rb_node *diffs, const char *item, const char *field,
                          const char *expected, const char *actual)
{
    rb_node *d = h->node_add_object(diffs, NULL);
    if (!d || !h->node_add_string(d, "item", item) || !h->node_add_string(d, "field", field) ||
        !h->node_add_string(d, "expected", expected) || !h->node_add_string(d, "actual", actual))
        return RB_ENOMEM;
    return 1;
}

/* Waits for a running container with a healthcheck to report healthy;
 * the container's inspect document is refreshed into *live. */
static int wait_healthy(rb_ctr_engine *e, const char *name, long timeout_s, cJSON **live)
{
    time_t deadline = time(NULL) + timeout_s;
    for (;;) {
        const char *health = rb_ctr_health(*live);
        if (!health || !strcmp(health, "healthy") || !rb_ctr_running(*live) ||
            time(NULL) >= deadline)
            return 0;
        if (e->host->cancelled(e->op))
            return rb_ctr_fail(e, RB_ECANCELED, "cancelled waiting for container %s to be healthy",
                               name);
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
        cJSON *again = NULL;
        int rc = rb_ctr_inspect_optional(e, name, &again);
        if (rc < 0)
            return rc;
        if (!again)
            return 0;
        cJSON_Delete(*live);
        *live = again;
    }
}

static int verify_one(rb_ctr_engine *e, const rb_ctr_recorded *rec, long health_timeout,
                      rb_node *diffs)
{
    const rb_host_api *h = e->host;
    cJSON *live = NULL;
    int rc = rb_ctr_inspect_optional(e, rec->name, &live);
    if (rc < 0)
        return rc;
    if (!live)
        return add_difference(h, diffs, rec->name, "exists", "true", "false");
    int count = 0;
    const char *image_id = rb_ctr_image_id(live);
    if (!image_id || strcmp(image_id, rec->image_id) != 0) {
        rc = add_difference(h, diffs, rec->name, "image_id", rec->image_id,
                            image_id ? image_id : "");
        count += rc > 0 ? rc : 0;
    }
    if (rc >= 0 && rec->running)
        rc = wait_healthy(e, rec->name, health_timeout, &live);
    int running = rb_ctr_running(live);
    if (rc >= 0 && running != rec->running) {
        rc = add_difference(h, diffs, rec->name, "running", rec->running ? "true" : "false",
                            running ? "true" : "false");
        count += rc > 0 ? rc : 0;
    }
    const char *health = rb_ctr_health(live);
    if (rc >= 0 && rec->running && running && health && strcmp(health, "healthy") != 0) {
        rc = add_difference(h, diffs, rec->name, "health", "healthy", health);
        count += rc > 0 ? rc : 0;
    }
    /* The recorded container itself cannot have another config. */
    if (rc >= 0 && rec->inspect && strcmp(rb_ctr_id(live), rec->id) != 0) {
        const rb_ctr_diff_keys keys = {rec->name, "actual", "expected"};
        rc = rb_ctr_spec_diff(h, rec->inspect, live, &keys, diffs);
        count += rc > 0 ? rc : 0;
    }
    cJSON_Delete(live);
    return rc < 0 ? rc : count;
}

int rb_ctr_verify(const rb_host_api *h, rb_op *op)
{
    rb_ctr_engine e;
    int rc = rb_ctr_open_target(&e, h, op);
    if (rc < 0)
        return rc;
    rb_ctr_recorded_set set = {NULL, 0};
    long timeout = (long)h->node_int(h->node_get(h->config(op), "health_timeout"));
    rb_node *diffs = h->node_add_array(h->result(op), "differences");
    rc = diffs ? rb_ctr_recorded_load(&e, h->metadata(op), &set) : RB_ENOMEM;
    int total = 0;
    for (size_t i = 0; rc >= 0 && i < set.count; i++) {
        rc = verify_one(&e, &set.items[i], timeout, diffs);
        total += rc > 0 ? rc : 0;
    }
    if (rc >= 0 && total > 0)
        rc = h->error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                          "%d difference(s) between the live containers and snapshot %s", total,
                          h->op_snapshot_id(op));
    rb_ctr_recorded_free(&set);
    rb_ctr_engine_close(&e);
    return rc < 0 ? rc : 0;
}

static const char *plan_action(const rb_ctr_recorded *rec, const cJSON *live, int kept)
{
    if (live && !strcmp(rb_ctr_id(live), rec->id)) {
        if (rec->running != rb_ctr_running(live))
            return rec->running ? "start" : "stop";
        return "none";
    }
    if (kept)
        return "rename_back";
    return live ? "recreate" : "create";
}

static int plan_one(rb_ctr_engine *e, const rb_ctr_recorded *rec, rb_node *changes, int *to_change)
{
    const rb_host_api *h = e->host;
    cJSON *live = NULL, *kept = NULL;
    int rc = rb_ctr_inspect_optional(e, rec->name, &live);
    if (rc == 0 && rec->kept_as)
        rc = rb_ctr_inspect_optional(e, rec->kept_as, &kept);
    int is_kept = kept && !strcmp(rb_ctr_id(kept), rec->id);
    cJSON_Delete(kept);
    int present = rc == 0 ? rb_ctr_image_present(e, rec->image_id) : 0;
    if (present < 0)
        rc = present;
    const char *action = plan_action(rec, live, is_kept);
    rb_node *c = rc == 0 ? h->node_add_object(changes, NULL) : NULL;
    if (rc == 0 && (!c || !h->node_add_string(c, "action", action) ||
                    !h->node_add_string(c, "item", rec->name) ||
                    !(live ? h->node_add_string(c, "image_from", rb_ctr_image_id(live))
                           : h->node_add_null(c, "image_from")) ||
                    !h->node_add_string(c, "image_to", rec->image_id) ||
                    !h->node_add_string(c, "image_ref", rec->image ? rec->image : "") ||
                    !h->node_add_bool(c, "load_image", !present && !is_kept) ||
                    !h->node_add_bool(c, "running", rec->running)))
        rc = RB_ENOMEM;
    rb_node *fields = rc == 0 ? h->node_add_array(c, "fields") : NULL;
    if (rc == 0 && !fields)
        rc = RB_ENOMEM;
    if (rc == 0 && live && rec->inspect && strcmp(action, "none") != 0 &&
        strcmp(action, "start") != 0 && strcmp(action, "stop") != 0) {
        const rb_ctr_diff_keys keys = {NULL, "from", "to"};
        int n = rb_ctr_spec_diff(h, rec->inspect, live, &keys, fields);
        rc = n < 0 ? n : 0;
    }
    if (rc == 0 && strcmp(action, "none") != 0)
        (*to_change)++;
    cJSON_Delete(live);
    return rc;
}

int rb_ctr_plan(const rb_host_api *h, rb_op *op)
{
    rb_ctr_engine e;
    int rc = rb_ctr_open_target(&e, h, op);
    if (rc < 0)
        return rc;
    /* The engine is the target's identity; a pre-flight asks for nothing else. */
    rc = rb_ctr_identity_check(&e, h->metadata(op));
    if (rc < 0 || (h->op_flags(op) & RB_OP_PREFLIGHT)) {
        rb_ctr_engine_close(&e);
        return rc;
    }
    rb_ctr_recorded_set set = {NULL, 0};
    rb_node *res = h->result(op);
    rb_node *changes = h->node_add_array(res, "changes");
    rc = changes ? rb_ctr_recorded_load(&e, h->metadata(op), &set) : RB_ENOMEM;
    int to_change = 0;
    for (size_t i = 0; rc == 0 && i < set.count; i++)
        rc = plan_one(&e, &set.items[i], changes, &to_change);
    if (rc == 0) {
        char summary[160];
        snprintf(summary, sizeof summary, "%d of %zu container(s) would change", to_change,
                 set.count);
        if (!h->node_add_string(res, "summary", summary))
            rc = RB_ENOMEM;
    }
    rb_ctr_recorded_free(&set);
    rb_ctr_engine_close(&e);
    return rc;
}
