/* Containers as the backend sees them: live ones read from the engine, and
 * recorded ones read back from a snapshot's metadata and inspect blobs. */
#ifndef RB_CTR_CONTAINER_H
#define RB_CTR_CONTAINER_H

#include "ctr_engine.h"

/* A container a rollback sets aside is renamed <name><infix><rollback id>. */
#define RB_CTR_KEPT_INFIX ".rbhost-pre-"

/* One container of a snapshot, in the order a rollback starts them. */
typedef struct rb_ctr_recorded {
    const char *name;  /* as recorded, without the leading '/' */
    const char *id;    /* the container id then */
    const char *image; /* the image reference it was created from */
    const char *image_id;
    const char *image_blob; /* the saved image, or NULL */
    const char *kept_as;    /* a safety snapshot's renamed container, or NULL */
    int running;
    /* The whole inspect document; NULL in a safety snapshot, whose
     * containers are kept by the engine itself (kept_as). */
    cJSON *inspect;
} rb_ctr_recorded;

typedef struct rb_ctr_recorded_set {
    rb_ctr_recorded *items;
    size_t count;
} rb_ctr_recorded_set;

/* GET /containers/{name}/json. RB_ENOTFOUND (message naming the container)
 * when the engine has no such container. */
int rb_ctr_inspect(rb_ctr_engine *e, const char *name, cJSON **out);
/* Like rb_ctr_inspect, but a missing container is *out = NULL and 0. */
int rb_ctr_inspect_optional(rb_ctr_engine *e, const char *name, cJSON **out);
/* GET /images/{id}/json; RB_ENOTFOUND when the engine lacks it. */
int rb_ctr_image_inspect(rb_ctr_engine *e, const char *image_id, cJSON **out);
/* 1 when the engine has the image, 0 when not, or a negative rb_error. */
int rb_ctr_image_present(rb_ctr_engine *e, const char *image_id);
/* The image id a reference ("repo:tag") resolves to now, or NULL. malloc'd. */
char *rb_ctr_image_resolve(rb_ctr_engine *e, const char *ref);

/* Facts from an inspect document; strings point into it. */
const char *rb_ctr_name(const cJSON *inspect); /* without the leading '/' */
const char *rb_ctr_id(const cJSON *inspect);
const char *rb_ctr_image_id(const cJSON *inspect);
const char *rb_ctr_image_ref(const cJSON *inspect);
int rb_ctr_running(const cJSON *inspect);
/* "healthy", "unhealthy", "starting", or NULL without a healthcheck. */
const char *rb_ctr_health(const cJSON *inspect);
/* Seconds the engine gives the container to stop before killing it. */
long rb_ctr_stop_timeout(const cJSON *inspect);
const char *rb_ctr_label(const cJSON *inspect, const char *key);

/* The containers of a snapshot's (or safety snapshot's) metadata, with
 * their inspect documents read back from the store. */
int rb_ctr_recorded_load(rb_ctr_engine *e, const rb_node *metadata, rb_ctr_recorded_set *set);
void rb_ctr_recorded_free(rb_ctr_recorded_set *set);

/* Records one container in a metadata "containers" array: identifying
 * fields, state, and (with_blob) the inspect document as a blob. The image
 * blob is added by the caller. Returns the new member, or NULL (error set). */
rb_node *rb_ctr_record(rb_ctr_engine *e, rb_node *containers, const cJSON *inspect,
                       const cJSON *image, int with_blob);

#endif
