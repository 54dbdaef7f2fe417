/* Shared by the fixture backends: one small working backend whose
 * descriptor each fixture bends in one way. */
#ifndef RB_FIXTURE_H
#define RB_FIXTURE_H

#include <rbhost/rbhost.h>

extern const rb_host_api *fixture_host;
extern const rb_config_key fixture_keys[];
int fixture_init(const rb_host_api *h, void **state);
void fixture_fini(void *state);
int fixture_snapshot(void *state, rb_op *op);
int fixture_restore(void *state, rb_op *op);
int fixture_verify(void *state, rb_op *op);

#define FIXTURE_DESCRIPTOR(var, name, version, abi)                                                \
    static const rollback_plugin var = {(version),                                                 \
                                        (abi),                                                     \
                                        0,                                                         \
                                        (name),                                                    \
                                        "test fixture",                                            \
                                        "0.0.1",                                                   \
                                        0,                                                         \
                                        fixture_keys,                                              \
                                        fixture_init,                                              \
                                        fixture_fini,                                              \
                                        fixture_snapshot,                                          \
                                        fixture_restore,                                           \
                                        fixture_verify,                                            \
                                        NULL,                                                      \
                                        NULL,                                                      \
                                        NULL}

#endif
