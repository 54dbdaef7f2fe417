/* rb_node accessors of the host-API table: the nodes are cJSON items, but
 * backends never see that. */
#include "rb_node.h"

#include <stdlib.h>
#include <string.h>

#include "rb_error.h"

#define J(n)  ((cJSON *)(n))
#define CJ(n) ((const cJSON *)(n))

rb_node_type rb_node_type_of(const rb_node *node)
{
    const cJSON *j = CJ(node);
    if (!j || cJSON_IsInvalid(j))
        return RB_NODE_MISSING;
    if (cJSON_IsNull(j))
        return RB_NODE_NULL;
    if (cJSON_IsBool(j))
        return RB_NODE_BOOL;
    if (cJSON_IsNumber(j))
        return RB_NODE_NUMBER;
    if (cJSON_IsString(j))
        return RB_NODE_STRING;
    if (cJSON_IsArray(j))
        return RB_NODE_ARRAY;
    return RB_NODE_OBJECT;
}

const rb_node *rb_node_get(const rb_node *object, const char *key)
{
    if (!cJSON_IsObject(CJ(object)) || !key)
        return NULL;
    return (const rb_node *)cJSON_GetObjectItemCaseSensitive(CJ(object), key);
}

size_t rb_node_count(const rb_node *node)
{
    if (!cJSON_IsArray(CJ(node)) && !cJSON_IsObject(CJ(node)))
        return 0;
    return (size_t)cJSON_GetArraySize(CJ(node));
}

const rb_node *rb_node_at(const rb_node *node, size_t index)
{
    if (!cJSON_IsArray(CJ(node)) && !cJSON_IsObject(CJ(node)))
        return NULL;
    /* cJSON lists are linked; walking from the head keeps this O(index),
     * which is what iterating backends need for small documents. */
    const cJSON *c = CJ(node)->child;
    for (size_t i = 0; c && i < index; i++)
        c = c->next;
    return (const rb_node *)c;
}

const char *rb_node_key(const rb_node *member)
{
    return member ? CJ(member)->string : NULL;
}

const char *rb_node_string(const rb_node *node)
{
    return cJSON_IsString(CJ(node)) ? CJ(node)->valuestring : NULL;
}

int64_t rb_node_int(const rb_node *node)
{
    if (!cJSON_IsNumber(CJ(node)))
        return 0;
    double d = CJ(node)->valuedouble;
    if (d != d)
        return 0;
    if (d >= 9.2233720368547758e18)
        return INT64_MAX;
    if (d <= -9.2233720368547758e18)
        return INT64_MIN;
    return (int64_t)d;
}

double rb_node_number(const rb_node *node)
{
    return cJSON_IsNumber(CJ(node)) ? CJ(node)->valuedouble : 0.0;
}

int rb_node_bool(const rb_node *node)
{
    return cJSON_IsTrue(CJ(node));
}

char *rb_node_to_json(const rb_node *node)
{
    if (!node)
        return NULL;
    char *out = cJSON_PrintUnformatted(CJ(node));
    if (!out)
        rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return out;
}

static rb_node *attach(rb_node *parent, const char *key, cJSON *item)
{
    if (!item) {
        rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        return NULL;
    }
    cJSON *p = J(parent);
    if (cJSON_IsObject(p) && key) {
        if (cJSON_GetObjectItemCaseSensitive(p, key))
            cJSON_ReplaceItemInObjectCaseSensitive(p, key, item);
        else if (!cJSON_AddItemToObject(p, key, item))
            goto fail;
        return (rb_node *)item;
    }
    if (cJSON_IsArray(p) && !key) {
        if (!cJSON_AddItemToArray(p, item))
            goto fail;
        return (rb_node *)item;
    }
    cJSON_Delete(item);
    rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                 key ? "cannot add member '%s': the parent node is not an object"
                     : "cannot append%s: the parent node is not an array",
                 key ? key : "");
    return NULL;
fail:
    cJSON_Delete(item);
    rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return NULL;
}

rb_node *rb_node_add_object(rb_node *parent, const char *key)
{
    return attach(parent, key, cJSON_CreateObject());
}

rb_node *rb_node_add_array(rb_node *parent, const char *key)
{
    return attach(parent, key, cJSON_CreateArray());
}

rb_node *rb_node_add_string(rb_node *parent, const char *key, const char *value)
{
    return attach(parent, key, value ? cJSON_CreateString(value) : cJSON_CreateNull());
}

rb_node *rb_node_add_int(rb_node *parent, const char *key, int64_t value)
{
    return attach(parent, key, cJSON_CreateNumber((double)value));
}

rb_node *rb_node_add_number(rb_node *parent, const char *key, double value)
{
    return attach(parent, key, cJSON_CreateNumber(value));
}

rb_node *rb_node_add_bool(rb_node *parent, const char *key, int value)
{
    return attach(parent, key, cJSON_CreateBool(value != 0));
}

rb_node *rb_node_add_null(rb_node *parent, const char *key)
{
    return attach(parent, key, cJSON_CreateNull());
}

rb_node *rb_node_add_json(rb_node *parent, const char *key, const char *json)
{
    cJSON *item = json ? cJSON_Parse(json) : NULL;
    if (!item) {
        rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN, "node_add_json: not valid JSON");
        return NULL;
    }
    return attach(parent, key, item);
}
