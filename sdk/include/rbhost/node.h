/* rbhost plugin SDK: JSON-shaped values crossing the boundary.
 *
 * Config, metadata and results are trees of values owned by the host. A
 * backend sees them only as opaque rb_node pointers and reads or builds them
 * through the host-API table (host->node_*), so it may use any JSON library
 * or none. Pointers returned by the host stay valid for the whole operation,
 * except a member replaced by a node_add_* call with the same key. */
#ifndef RBHOST_NODE_H
#define RBHOST_NODE_H

typedef struct rb_node rb_node;

typedef enum rb_node_type {
    RB_NODE_MISSING = 0, /* a NULL node: the key or index does not exist */
    RB_NODE_NULL = 1,
    RB_NODE_BOOL = 2,
    RB_NODE_NUMBER = 3,
    RB_NODE_STRING = 4,
    RB_NODE_ARRAY = 5,
    RB_NODE_OBJECT = 6,
} rb_node_type;

#endif
