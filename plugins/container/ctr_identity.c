/* Which container engine a snapshot is of. A deployment re-creates
 * containers under the same names, so a new container id is the normal
 * case for a rollback and says nothing; what must not change is the engine
 * behind the connection (DOCKER_HOST or a socket now reaching another
 * machine's or another user's engine), where a rollback would create the
 * recorded containers next to unrelated ones.
 *
 * Docker's /info ID is the engine's own id, kept in its data root across
 * restarts. podman's compatible service answers a new random ID on every
 * call, so for podman (and any engine without an ID) the identity is the
 * host name and the storage root (/info Name and DockerRootDir): another
 * podman engine, rootful or rootless or with another storage.conf, has
 * another root, and one on another machine another name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctr_engine.h"
#include "ctr_ops.h"

static const char *info_string(const cJSON *info, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(info, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The live engine's identity into out; "" when it gives nothing stable. */
static int identity_read(rb_ctr_engine *e, char *out, size_t size)
{
    rb_ctr_response r;
    int rc = rb_ctr_call(e, "GET", "/info", NULL, 30L, &r);
    if (rc < 0)
        return rc;
    if (r.status != 200 || !cJSON_IsObject(r.json)) {
        rc = rb_ctr_fail(e, RB_EIO, "container engine at %s: GET /info failed (HTTP %ld): %s",
                         e->where, r.status, rb_ctr_response_message(&r));
        rb_ctr_response_free(&r);
        return rc;
    }
    const char *id = info_string(r.json, "ID");
    const char *name = info_string(r.json, "Name");
    const char *root = info_string(r.json, "DockerRootDir");
    int podman = e->product && !strncmp(e->product, "Podman", 6);
    if (!podman && *id)
        snprintf(out, size, "%s", id);
    else if (*name || *root)
        snprintf(out, size, "%s:%s", name, root);
    else
        out[0] = '\0';
    rb_ctr_response_free(&r);
    return 0;
}

int rb_ctr_identity_record(rb_ctr_engine *e, rb_node *meta)
{
    const rb_host_api *h = e->host;
    char id[1024];
    int rc = identity_read(e, id, sizeof id);
    if (rc < 0 || !id[0])
        return rc;
    rb_node *node = h->node_add_object(meta, "identity");
    if (!node || !h->node_add_string(node, "engine_id", id))
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    return 0;
}

/* "web, worker" from the recorded containers, for the message. */
static void recorded_names(const rb_host_api *h, const rb_node *meta, char *out, size_t size)
{
    const rb_node *list = h->node_get(meta, "containers");
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < h->node_count(list) && used < size; i++) {
        const char *name = h->node_string(h->node_get(h->node_at(list, i), "name"));
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", name ? name : "?");
        used += n > 0 ? (size_t)n : 0;
    }
}

int rb_ctr_identity_check(rb_ctr_engine *e, const rb_node *meta)
{
    const rb_host_api *h = e->host;
    const char *recorded = h->node_string(h->node_get(h->node_get(meta, "identity"), "engine_id"));
    /* Snapshots taken before the identity was recorded roll back as they
     * always did. */
    if (!recorded)
        return 0;
    char live[1024];
    int rc = identity_read(e, live, sizeof live);
    if (rc < 0 || !strcmp(live, recorded))
        return rc;
    char names[1024];
    recorded_names(h, meta, names, sizeof names);
    if (h->op_flags(e->op) & RB_OP_FORCE) {
        h->log(RB_LOG_WARN,
               "container %s: the connection now reaches another Docker engine (%s, recorded "
               "%s); going on because of --force",
               names, live, recorded);
        return h->node_add_bool(h->result(e->op), "identity_differs", 1)
                   ? 0
                   : rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    }
    return rb_ctr_fail(e, RB_ECONFLICT,
                       "container %s: the connection now reaches another Docker engine than the "
                       "one snapshotted: %s at %s is engine %s, the snapshot recorded engine %s",
                       names, e->product ? e->product : "the engine", e->where,
                       live[0] ? live : "(no identity)", recorded);
}
