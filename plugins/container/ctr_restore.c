/* Rollback: every recorded container is recreated under its name from its
 * recorded config on its recorded image. The containers it replaces are
 * stopped and renamed <name>.rbhost-pre-<rollback_id> rather than removed:
 * they are the safety snapshot, and the way back if any step fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctr_action.h"
#include "ctr_container.h"
#include "ctr_image.h"
#include "ctr_ops.h"
#include "ctr_spec.h"

typedef struct item {
    rb_ctr_recorded *rec;
    cJSON *live;     /* the container now under rec->name, or NULL */
    int same;        /* live is the recorded container itself */
    int kept;        /* rec->kept_as still holds the recorded container */
    char *image;     /* what to create from */
    int loaded;      /* the image had to be loaded */
    char *kept_name; /* <name>.rbhost-pre-<rollback_id> */
    /* What has been done, for the way back. */
    int stopped, renamed, kept_back, started, same_stopped;
    char *new_id;
} item;

typedef struct rollback {
    const rb_host_api *h;
    rb_op *op;
    rb_ctr_engine e;
    rb_ctr_recorded_set set;
    item *items;
    size_t n;
} rollback;

static int prepare_item(rollback *rb, item *it, const char *rollback_id)
{
    rb_ctr_engine *e = &rb->e;
    rb_ctr_recorded *rec = it->rec;
    int rc = rb_ctr_inspect_optional(e, rec->name, &it->live);
    if (rc < 0)
        return rc;
    it->same = it->live && !strcmp(rb_ctr_id(it->live), rec->id);
    if (!it->same && rec->kept_as) {
        cJSON *kept = NULL;
        rc = rb_ctr_inspect_optional(e, rec->kept_as, &kept);
        it->kept = kept && !strcmp(rb_ctr_id(kept), rec->id);
        cJSON_Delete(kept);
        if (rc < 0)
            return rc;
    }
    if (!it->same && !it->kept && !rec->inspect)
        return rb_ctr_fail(e, RB_ENOTFOUND,
                           "container %s was kept as %s by an earlier rollback, and that "
                           "container is gone: this safety snapshot cannot bring it back",
                           rec->name, rec->kept_as ? rec->kept_as : rec->id);
    if (!it->same && !it->kept) {
        rc = rb_ctr_image_ensure(e, rec, &it->image, &it->loaded);
        if (rc < 0)
            return rc;
    }
    if (!it->live || it->same)
        return 0;
    size_t n = strlen(rec->name) + strlen(rollback_id) + 16;
    it->kept_name = malloc(n);
    if (!it->kept_name)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    snprintf(it->kept_name, n, "%s" RB_CTR_KEPT_INFIX "%s", rec->name, rollback_id);
    cJSON *taken = NULL;
    rc = rb_ctr_inspect_optional(e, it->kept_name, &taken);
    int is_taken = taken != NULL;
    cJSON_Delete(taken);
    if (rc == 0 && is_taken)
        rc = rb_ctr_fail(e, RB_EEXISTS,
                         "cannot keep container %s as %s: that name is taken by another "
                         "container; remove it or roll back under another id",
                         rec->name, it->kept_name);
    return rc;
}

/* Dependents stop first: walk the start order backwards. */
static int stop_phase(rollback *rb)
{
    for (size_t i = rb->n; i-- > 0;) {
        item *it = &rb->items[i];
        const char *id = it->live ? rb_ctr_id(it->live) : NULL;
        int rc = 0;
        if (it->same && !it->rec->running && rb_ctr_running(it->live)) {
            rc = rb_ctr_stop(&rb->e, id, it->rec->name, rb_ctr_stop_timeout(it->live));
            it->same_stopped = rc == 0;
        } else if (it->live && !it->same) {
            if (rb_ctr_running(it->live)) {
                rc = rb_ctr_stop(&rb->e, id, it->rec->name, rb_ctr_stop_timeout(it->live));
                it->stopped = rc == 0;
            }
            if (rc == 0) {
                rc = rb_ctr_rename(&rb->e, id, it->rec->name, it->kept_name);
                it->renamed = rc == 0;
            }
        }
        if (rc < 0)
            return rb_ctr_wrap(&rb->e, rc, "rolling back container %s", it->rec->name);
    }
    return 0;
}

static int create_item(rollback *rb, item *it)
{
    rb_ctr_engine *e = &rb->e;
    cJSON *extra = NULL;
    cJSON *body = rb_ctr_spec_create_body(it->rec->inspect, it->image, &extra);
    if (!body) {
        cJSON_Delete(extra);
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    }
    int rc = rb_ctr_create(e, it->rec->name, body, &it->new_id);
    cJSON_Delete(body);
    const cJSON *net;
    cJSON_ArrayForEach(net, (rc == 0 ? extra : NULL))
    {
        rc = rb_ctr_connect(e, net->string, it->new_id, it->rec->name, net);
        if (rc < 0)
            break;
    }
    cJSON_Delete(extra);
    return rc;
}

static int start_phase(rollback *rb)
{
    rb_ctr_engine *e = &rb->e;
    for (size_t i = 0; i < rb->n; i++) {
        item *it = &rb->items[i];
        rb_ctr_recorded *rec = it->rec;
        const char *id = NULL;
        int rc = 0;
        if (it->same) {
            id = rb_ctr_id(it->live);
        } else if (it->kept) {
            rc = rb_ctr_rename(e, rec->id, rec->kept_as, rec->name);
            it->kept_back = rc == 0;
            id = rec->id;
        } else {
            rc = create_item(rb, it);
            id = it->new_id;
        }
        int running_now = it->same && rb_ctr_running(it->live) && !it->same_stopped;
        if (rc == 0 && rec->running && !running_now) {
            rc = rb_ctr_start(e, id, rec->name);
            it->started = rc == 0;
        }
        if (rc < 0)
            return rb_ctr_wrap(e, rc, "rolling back container %s", rec->name);
    }
    return 0;
}

/* Appends one failure of the way back to `left`. */
static void note(rollback *rb, char *left, size_t size)
{
    size_t len = strlen(left);
    snprintf(left + len, size - len, "%s%s", len ? "; " : "", rb->e.err);
}

/* The way back after a failed step: new containers removed, the old ones
 * given their names back and started again where they ran. */
static void undo(rollback *rb, char *left, size_t size)
{
    rb_ctr_engine *e = &rb->e;
    e->uncancellable = 1;
    left[0] = '\0';
    for (size_t i = rb->n; i-- > 0;) {
        item *it = &rb->items[i];
        rb_ctr_recorded *rec = it->rec;
        if (it->new_id && rb_ctr_remove(e, it->new_id, rec->name) < 0)
            note(rb, left, size);
        if (it->kept_back) {
            if ((it->started &&
                 rb_ctr_stop(e, rec->id, rec->name, rb_ctr_stop_timeout(rec->inspect)) < 0) ||
                rb_ctr_rename(e, rec->id, rec->name, rec->kept_as) < 0)
                note(rb, left, size);
        } else if (it->same && it->started &&
                   rb_ctr_stop(e, rec->id, rec->name, rb_ctr_stop_timeout(it->live)) < 0) {
            note(rb, left, size);
        }
    }
    for (size_t i = 0; i < rb->n; i++) {
        item *it = &rb->items[i];
        const char *id = it->live ? rb_ctr_id(it->live) : NULL;
        if (it->renamed && rb_ctr_rename(e, id, it->kept_name, it->rec->name) < 0)
            note(rb, left, size);
        if ((it->stopped || it->same_stopped) && rb_ctr_start(e, id, it->rec->name) < 0)
            note(rb, left, size);
    }
}

/* The safety snapshot: the replaced containers, described like a snapshot
 * of them, each with the name it is kept under. The kept container holds
 * its own config (and its writable layer, which a recreated one would
 * lose), so no inspect document is stored: restoring the safety snapshot
 * gives it its name back. */
static int describe_safety(rollback *rb, rb_node *sm)
{
    const rb_host_api *h = rb->h;
    if (!h->node_add_string(sm, "method", "container_recreate") ||
        !h->node_add_string(sm, "engine", rb->e.where) ||
        !h->node_add_string(sm, "engine_version", rb->e.product) ||
        !h->node_add_string(sm, "api_version", rb->e.api))
        return RB_ENOMEM;
    /* The containers are already changed: a safety snapshot without the
     * engine's identity still undoes the rollback, only unchecked. */
    if (rb_ctr_identity_record(&rb->e, sm) < 0)
        h->log(RB_LOG_WARN, "the safety snapshot does not record the engine's identity: %s",
               rb->e.err);
    rb_node *list = h->node_add_array(sm, "containers");
    if (!list)
        return RB_ENOMEM;
    for (size_t i = 0; i < rb->n; i++) {
        item *it = &rb->items[i];
        if (!it->live)
            continue;
        rb_node *c = rb_ctr_record(&rb->e, list, it->live, NULL, 0);
        if (!c || (it->kept_name && !h->node_add_string(c, "kept_as", it->kept_name)))
            return RB_ENOMEM;
    }
    return 0;
}

static const char *action_of(const item *it)
{
    if (it->same)
        return it->started ? "started" : it->same_stopped ? "stopped" : "unchanged";
    if (it->kept)
        return "renamed_back";
    return it->live ? "recreated" : "created";
}

static int report(rollback *rb, rb_node *sm)
{
    const rb_host_api *h = rb->h;
    rb_node *res = h->result(rb->op);
    if (!h->node_add_string(res, "status", "success") ||
        !h->node_add_string(res, "method", "container_recreate"))
        return RB_ENOMEM;
    rb_node *list = h->node_add_array(res, "containers");
    for (size_t i = 0; list && i < rb->n; i++) {
        item *it = &rb->items[i];
        rb_node *c = h->node_add_object(list, NULL);
        const char *id = it->new_id ? it->new_id : it->rec->id;
        if (!c || !h->node_add_string(c, "name", it->rec->name) ||
            !h->node_add_string(c, "action", action_of(it)) ||
            !h->node_add_string(c, "container_id", id) ||
            !h->node_add_string(c, "image_id", it->rec->image_id) ||
            !h->node_add_bool(c, "image_loaded", it->loaded) ||
            !h->node_add_bool(c, "running", it->rec->running) ||
            (sm && it->kept_name && !h->node_add_string(c, "kept_as", it->kept_name)))
            return RB_ENOMEM;
    }
    return list ? 0 : RB_ENOMEM;
}

/* Without a safety snapshot nothing needs the replaced containers. */
static void drop_replaced(rollback *rb)
{
    for (size_t i = 0; i < rb->n; i++) {
        item *it = &rb->items[i];
        if (it->renamed && rb_ctr_remove(&rb->e, rb_ctr_id(it->live), it->kept_name) < 0)
            rb->h->log(RB_LOG_WARN, "the replaced container %s stays as %s: %s", it->rec->name,
                       it->kept_name, rb->e.err);
    }
}

static int run(rollback *rb)
{
    const rb_host_api *h = rb->h;
    const char *rid = h->op_rollback_id(rb->op);
    if (!rid)
        rid = h->op_snapshot_id(rb->op);
    int rc = rb_ctr_recorded_load(&rb->e, h->metadata(rb->op), &rb->set);
    if (rc < 0)
        return rc;
    rb->n = rb->set.count;
    rb->items = calloc(rb->n + 1, sizeof *rb->items);
    if (!rb->items)
        return rb_ctr_fail(&rb->e, RB_ENOMEM, "out of memory");
    for (size_t i = 0; i < rb->n; i++) {
        rb->items[i].rec = &rb->set.items[i];
        rc = prepare_item(rb, &rb->items[i], rid);
        if (rc < 0)
            return rc;
    }
    rc = stop_phase(rb);
    if (rc == 0)
        rc = start_phase(rb);
    if (rc < 0) {
        char cause[sizeof rb->e.err], left[2048];
        snprintf(cause, sizeof cause, "%s", rb->e.err);
        undo(rb, left, sizeof left);
        if (left[0])
            return rb_ctr_fail(&rb->e, rc,
                               "%s; putting the containers back failed too, they are NOT as "
                               "before: %s",
                               cause, left);
        return rb_ctr_fail(&rb->e, rc, "%s; every container was put back as it was", cause);
    }
    rb_node *sm = h->safety_metadata ? h->safety_metadata(rb->op) : NULL;
    if (sm)
        rc = describe_safety(rb, sm);
    else
        drop_replaced(rb);
    return rc < 0 ? rc : report(rb, sm);
}

int rb_ctr_restore(const rb_host_api *h, rb_op *op)
{
    rollback rb;
    memset(&rb, 0, sizeof rb);
    rb.h = h;
    rb.op = op;
    int rc = rb_ctr_open_target(&rb.e, h, op);
    if (rc < 0)
        return rc;
    rc = run(&rb);
    for (size_t i = 0; rb.items && i < rb.n; i++) {
        cJSON_Delete(rb.items[i].live);
        free(rb.items[i].image);
        free(rb.items[i].kept_name);
        free(rb.items[i].new_id);
    }
    free(rb.items);
    rb_ctr_recorded_free(&rb.set);
    rb_ctr_engine_close(&rb.e);
    return rc;
}
