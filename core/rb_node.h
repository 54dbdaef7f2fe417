/* The host side of the rb_node accessors (see sdk host.h). */
#ifndef RB_NODE_IMPL_H
#define RB_NODE_IMPL_H

#include <cjson/cJSON.h>
#include <rbhost/host.h>

rb_node_type rb_node_type_of(const rb_node *node);
const rb_node *rb_node_get(const rb_node *object, const char *key);
size_t rb_node_count(const rb_node *node);
const rb_node *rb_node_at(const rb_node *node, size_t index);
const char *rb_node_key(const rb_node *member);
const char *rb_node_string(const rb_node *node);
int64_t rb_node_int(const rb_node *node);
double rb_node_number(const rb_node *node);
int rb_node_bool(const rb_node *node);
char *rb_node_to_json(const rb_node *node);
rb_node *rb_node_add_object(rb_node *parent, const char *key);
rb_node *rb_node_add_array(rb_node *parent, const char *key);
rb_node *rb_node_add_string(rb_node *parent, const char *key, const char *value);
rb_node *rb_node_add_int(rb_node *parent, const char *key, int64_t value);
rb_node *rb_node_add_number(rb_node *parent, const char *key, double value);
rb_node *rb_node_add_bool(rb_node *parent, const char *key, int value);
rb_node *rb_node_add_null(rb_node *parent, const char *key);
rb_node *rb_node_add_json(rb_node *parent, const char *key, const char *json);

#endif
