/* Stores blobs, then dies inside snapshot: the store must show no
 * snapshot afterwards and stay consistent. */
#include <signal.h>
#include <string.h>

#include "fixture.h"

static int crashing_snapshot(void *state, rb_op *op)
{
    (void)state;
    char block[4096];
    char id[RB_BLOB_ID_SIZE];
    for (int i = 0; i < 64; i++) {
        memset(block, 'a' + i % 26, sizeof block);
        block[0] = (char)i;
        if (fixture_host->blob_put(op, block, sizeof block, id) < 0)
            return RB_EIO;
    }
    fixture_host->node_add_string(fixture_host->metadata(op), "last", id);
    raise(SIGSEGV);
    return 0;
}

static const rollback_plugin d = {RB_PLUGIN_HEADER,
                                  "fixture_crash",
                                  "test fixture",
                                  "0.0.1",
                                  0,
                                  fixture_keys,
                                  fixture_init,
                                  fixture_fini,
                                  crashing_snapshot,
                                  fixture_restore,
                                  fixture_verify,
                                  NULL,
                                  NULL,
                                  NULL};
RB_PLUGIN_DEFINE(d)
