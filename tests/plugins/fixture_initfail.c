#include "fixture.h"

static int failing_init(const rb_host_api *h, void **state)
{
    (void)state;
    return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_BACKEND,
                        "fixture cannot start: widget registry /nonexistent/widgets missing");
}

static const rollback_plugin d = {RB_PLUGIN_HEADER,
                                  "fixture_initfail",
                                  "test fixture",
                                  "0.0.1",
                                  0,
                                  fixture_keys,
                                  failing_init,
                                  fixture_fini,
                                  fixture_snapshot,
                                  fixture_restore,
                                  fixture_verify,
                                  NULL,
                                  NULL,
                                  NULL};
RB_PLUGIN_DEFINE(d)
