/* A container's configuration: turning a recorded inspect document back
 * into a create request, and telling two configurations apart. */
#ifndef RB_CTR_SPEC_H
#define RB_CTR_SPEC_H

#include <cjson/cJSON.h>

#include <rbhost/rbhost.h>

/* The body of POST /containers/create that recreates the container of
 * `inspect` on `image`: its Config, HostConfig and the endpoint of its
 * primary network. The networks to connect after creation go into
 * *extra_networks (an object: network name -> endpoint config). NULL when
 * out of memory. */
cJSON *rb_ctr_spec_create_body(const cJSON *inspect, const char *image, cJSON **extra_networks);

/* Appends to `changes` one {"item","field",<live_key>,<recorded_key>}
 * object per configuration field (env, cmd, labels, ports, mounts, ...)
 * that differs between the live container and the recorded one; "item" is
 * left out when `item` is NULL. Values of environment variables whose names
 * look secret are masked. Returns how many differ, or a negative rb_error. */
typedef struct rb_ctr_diff_keys {
    const char *item;
    const char *live_key;     /* "from" in a plan, "actual" in verify */
    const char *recorded_key; /* "to" in a plan, "expected" in verify */
} rb_ctr_diff_keys;

int rb_ctr_spec_diff(const rb_host_api *host, const cJSON *recorded, const cJSON *live,
                     const rb_ctr_diff_keys *keys, rb_node *changes);

#endif
