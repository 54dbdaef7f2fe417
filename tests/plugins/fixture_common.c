/* A minimal working backend: records the length of a string from its
 * config, "restores" by doing nothing, verifies by succeeding. */
#include <string.h>

#include "fixture.h"

const rb_host_api *fixture_host;

const rb_config_key fixture_keys[] = {
    RB_CONFIG_KEY("value", RB_KEY_STRING, 0, "\"v\"", "a value to record"),
    RB_CONFIG_KEY_END,
};

int fixture_init(const rb_host_api *h, void **state)
{
    fixture_host = h;
    *state = 0;
    return 0;
}

void fixture_fini(void *state)
{
    (void)state;
}

int fixture_snapshot(void *state, rb_op *op)
{
    (void)state;
    const char *v =
        fixture_host->node_string(fixture_host->node_get(fixture_host->config(op), "value"));
    fixture_host->node_add_int(fixture_host->metadata(op), "length", v ? (int64_t)strlen(v) : 0);
    return 0;
}

int fixture_restore(void *state, rb_op *op)
{
    (void)state;
    fixture_host->node_add_string(fixture_host->result(op), "method", "fixture");
    return 0;
}

int fixture_verify(void *state, rb_op *op)
{
    (void)state;
    (void)op;
    return 0;
}
