/* rbhost plugin SDK: the rollback_plugin vtable a backend exports.
 *
 * A backend is a shared object exporting exactly one symbol,
 * rbhost_plugin_entry, defined with RB_PLUGIN_DEFINE. The host calls it,
 * checks abi_major and the struct versions, then init(). */
#ifndef RBHOST_PLUGIN_H
#define RBHOST_PLUGIN_H

#include "abi.h"
#include "config.h"
#include "errors.h"
#include "host.h"

/* Capabilities a backend announces in rb_plugin.capabilities. */
/* restore() itself keeps the replaced state (renamed database, renamed
 * container) and describes it in host->safety_metadata(); the host then
 * does not call snapshot() for the safety snapshot. */
#define RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY 0x1u
/* restore() honours host->op_restore_to(). */
#define RB_PLUGIN_CAP_RESTORE_TO 0x2u

typedef struct rollback_plugin {
    /* --- version 1 --- */
    unsigned int version;   /* RB_PLUGIN_VERSION the backend was built with */
    unsigned int abi_major; /* RB_ABI_MAJOR the backend was built with */
    unsigned int abi_minor;
    const char *name;                 /* the target type it handles, e.g. "file_system" */
    const char *description;          /* one line */
    const char *plugin_version;       /* the backend's own version */
    unsigned int capabilities;        /* RB_PLUGIN_CAP_* */
    const rb_config_key *config_keys; /* ended by RB_CONFIG_KEY_END */

    /* Called once after loading. *state is passed to every other call.
     * Return 0, or a negative rb_error after host->error_set(). */
    int (*init)(const rb_host_api *host, void **state);
    void (*fini)(void *state);

    /* Required. Record the target's current state: fill host->metadata(op),
     * store bytes with host->blob_*. */
    int (*snapshot)(void *state, rb_op *op);
    /* Required. Bring the target back to the recorded state; describe what
     * was done in host->result(op). */
    int (*restore)(void *state, rb_op *op);
    /* Required. 0 when the live state equals the recorded one; RB_EDRIFT
     * with the differences in host->result(op) when not. */
    int (*verify)(void *state, rb_op *op);

    /* Optional (NULL). What restore would change, without changing it. */
    int (*plan)(void *state, rb_op *op);
    /* Optional. Health and facts about the backend for `rbhost status`. */
    int (*status)(void *state, rb_op *op);
    /* Optional. Remove what snapshot() kept outside the store (git refs,
     * database copies) when the snapshot is deleted. */
    int (*destroy)(void *state, rb_op *op);
} rollback_plugin;

typedef const rollback_plugin *(*rb_plugin_entry_fn)(void);

/* Defines the entry symbol. Use once per backend:
 *     static const rollback_plugin my_backend = { RB_PLUGIN_HEADER, "name", ... };
 *     RB_PLUGIN_DEFINE(my_backend)                                              */
#define RB_PLUGIN_HEADER RB_PLUGIN_VERSION, RB_ABI_MAJOR, RB_ABI_MINOR
#define RB_PLUGIN_DEFINE(descriptor)                                                               \
    RB_EXPORT const rollback_plugin *rbhost_plugin_entry(void);                                    \
    RB_EXPORT const rollback_plugin *rbhost_plugin_entry(void)                                     \
    {                                                                                              \
        return &(descriptor);                                                                      \
    }

#endif
