/* Checking a backend's descriptor against the ABI rules, and copying what
 * the host needs from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "rb_registry.h"

static const char *key_type_name(rb_key_type t)
{
    switch (t) {
    case RB_KEY_STRING:
        return "string";
    case RB_KEY_INT:
        return "int";
    case RB_KEY_BOOL:
        return "bool";
    case RB_KEY_NUMBER:
        return "number";
    case RB_KEY_STRING_LIST:
        return "string_list";
    case RB_KEY_OBJECT:
        return "object";
    case RB_KEY_ARRAY:
        return "array";
    case RB_KEY_ANY:
        return "any";
    }
    return NULL;
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

static int describe_keys(rb_plugin_entry *e, const rb_config_key *keys)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (size_t i = 0; keys && keys[i].name; i++) {
        const rb_config_key *k = &keys[i];
        if (k->version < 1 || k->version > RB_CONFIG_KEY_VERSION) {
            cJSON_Delete(arr);
            return rb_error_set(RB_EUNSUPPORTED, RB_ERRCLASS_PLUGIN,
                                "%s: invalid version %u on rb_config_key '%s' (this host accepts "
                                "1..%d)",
                                e->path, k->version, k->name, RB_CONFIG_KEY_VERSION);
        }
        const char *tn = key_type_name(k->type);
        if (!tn) {
            cJSON_Delete(arr);
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                                "%s: config key '%s' has unknown type %d", e->path, k->name,
                                (int)k->type);
        }
        cJSON *def = NULL;
        if (k->default_json && !(def = cJSON_Parse(k->default_json))) {
            cJSON_Delete(arr);
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                                "%s: config key '%s' has a default that is not JSON: %s", e->path,
                                k->name, k->default_json);
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON_AddStringToObject(o, "type", tn);
        cJSON_AddBoolToObject(o, "required", k->required != 0);
        if (def)
            cJSON_AddItemToObject(o, "default", def);
        cJSON_AddStringToObject(o, "description", k->description ? k->description : "");
        cJSON_AddBoolToObject(o, "secret", k->secret != 0);
    }
    cJSON_Delete(e->keys);
    e->keys = arr;
    return 0;
}

int rb_plugin_describe(rb_plugin_entry *e, const rollback_plugin *d)
{
    if (!d)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                            "%s: rbhost_plugin_entry returned no descriptor", e->path);
    /* The first three fields are the same in every ABI major, so they can
     * be read before knowing whether the rest is understood. */
    if (d->abi_major != RB_ABI_MAJOR)
        return rb_error_set(RB_EUNSUPPORTED, RB_ERRCLASS_PLUGIN,
                            "%s: built for plugin ABI %u, this host provides ABI %d", e->path,
                            d->abi_major, RB_ABI_MAJOR);
    if (d->version < 1 || d->version > RB_PLUGIN_VERSION)
        return rb_error_set(RB_EUNSUPPORTED, RB_ERRCLASS_PLUGIN,
                            "%s: invalid version %u on rollback_plugin (this host accepts 1..%d)",
                            e->path, d->version, RB_PLUGIN_VERSION);
    if (!valid_name(d->name))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                            "%s: invalid backend name '%s' (lowercase letters, digits and _)",
                            e->path, d->name ? d->name : "(null)");
    if (!d->init || !d->snapshot || !d->restore || !d->verify)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                            "%s: backend '%s' lacks a required function (init, snapshot, restore "
                            "and verify are required)",
                            e->path, d->name);
    int rc = describe_keys(e, d->config_keys);
    if (rc)
        return rc;
    free(e->name);
    free(e->description);
    free(e->plugin_version);
    e->name = strdup(d->name);
    e->description = strdup(d->description ? d->description : "");
    e->plugin_version = strdup(d->plugin_version ? d->plugin_version : "");
    e->struct_version = d->version;
    e->abi_major = d->abi_major;
    e->abi_minor = d->abi_minor;
    e->capabilities = d->capabilities;
    e->has_plan = d->plan != NULL;
    e->has_status = d->status != NULL;
    e->has_destroy = d->destroy != NULL;
    if (!e->name || !e->description || !e->plugin_version)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return 0;
}
