/* The backend registry cache: what loading a backend told us, keyed by the
 * file's identity, so that listing backends needs no dlopen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "rb_registry.h"

#define CACHE_FORMAT 2

cJSON *rb_plugin_cache_read(const char *path)
{
    char *text = NULL;
    if (!path || rb_fs_read_all(path, &text, NULL) < 0) {
        rb_error_clear();
        return NULL;
    }
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "format");
    const cJSON *abi = cJSON_GetObjectItemCaseSensitive(doc, "host_abi");
    /* A cache written by another host version may describe checks this one
     * makes differently: start afresh. */
    if (!cJSON_IsNumber(fmt) || fmt->valueint != CACHE_FORMAT || !cJSON_IsNumber(abi) ||
        abi->valueint != RB_ABI_MAJOR * 1000 + RB_PLUGIN_VERSION) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static int64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* File identities (nanosecond times, inodes, device numbers) exceed what a
 * JSON number (a double) holds exactly, so they are kept as decimal text. */
static int same_identity(const cJSON *o, const char *k, uint64_t value)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    return v && !strcmp(v, buf);
}

static void add_identity(cJSON *o, const char *k, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    cJSON_AddStringToObject(o, k, buf);
}

static char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

int rb_plugin_cache_lookup(const cJSON *cache, rb_plugin_entry *e)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cache, "plugins");
    const cJSON *c;
    cJSON_ArrayForEach(c, list)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "path");
        if (!cJSON_IsString(p) || strcmp(p->valuestring, e->path))
            continue;
        if (!same_identity(c, "dev", e->dev) || !same_identity(c, "ino", e->ino) ||
            !same_identity(c, "size", e->size) ||
            !same_identity(c, "mtime_ns", (uint64_t)e->mtime_ns) ||
            !same_identity(c, "ctime_ns", (uint64_t)e->ctime_ns))
            return 0;
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(c, "error");
        if (err) {
            e->failed = e->probe_failed = 1;
            e->err_code = (int)num(err, "code");
            e->err_class = (rb_error_class)num(err, "class");
            e->err_message = str(err, "message");
            return e->err_message != NULL;
        }
        e->name = str(c, "name");
        e->description = str(c, "description");
        e->plugin_version = str(c, "plugin_version");
        e->struct_version = (unsigned)num(c, "struct_version");
        e->abi_major = (unsigned)num(c, "abi_major");
        e->abi_minor = (unsigned)num(c, "abi_minor");
        e->capabilities = (unsigned)num(c, "capabilities");
        e->has_plan = num(c, "has_plan") == 1;
        e->has_status = num(c, "has_status") == 1;
        e->has_destroy = num(c, "has_destroy") == 1;
        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(c, "keys");
        e->keys = cJSON_IsArray(keys) ? cJSON_Duplicate(keys, 1) : NULL;
        if (!e->name || !e->description || !e->plugin_version || !e->keys) {
            free(e->name);
            free(e->description);
            free(e->plugin_version);
            cJSON_Delete(e->keys);
            e->name = e->description = e->plugin_version = NULL;
            e->keys = NULL;
            return 0;
        }
        return 1;
    }
    return 0;
}

cJSON *rb_plugin_cache_build(const rb_registry *reg)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "format", CACHE_FORMAT);
    cJSON_AddNumberToObject(doc, "host_abi", RB_ABI_MAJOR * 1000 + RB_PLUGIN_VERSION);
    cJSON *list = cJSON_AddArrayToObject(doc, "plugins");
    for (size_t i = 0; i < reg->count; i++) {
        const rb_plugin_entry *e = &reg->items[i];
        /* Only what the file itself decides is cached: not a failed init,
         * not a refusal for permissions or a duplicate name. */
        if (!e->probe_failed && (!e->name || !e->keys))
            continue;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(list, c);
        cJSON_AddStringToObject(c, "path", e->path);
        add_identity(c, "dev", e->dev);
        add_identity(c, "ino", e->ino);
        add_identity(c, "size", e->size);
        add_identity(c, "mtime_ns", (uint64_t)e->mtime_ns);
        add_identity(c, "ctime_ns", (uint64_t)e->ctime_ns);
        if (e->probe_failed) {
            cJSON *err = cJSON_AddObjectToObject(c, "error");
            cJSON_AddNumberToObject(err, "code", e->err_code);
            cJSON_AddNumberToObject(err, "class", e->err_class);
            cJSON_AddStringToObject(err, "message", e->err_message);
            continue;
        }
        cJSON_AddStringToObject(c, "name", e->name);
        cJSON_AddStringToObject(c, "description", e->description);
        cJSON_AddStringToObject(c, "plugin_version", e->plugin_version);
        cJSON_AddNumberToObject(c, "struct_version", e->struct_version);
        cJSON_AddNumberToObject(c, "abi_major", e->abi_major);
        cJSON_AddNumberToObject(c, "abi_minor", e->abi_minor);
        cJSON_AddNumberToObject(c, "capabilities", e->capabilities);
        cJSON_AddNumberToObject(c, "has_plan", e->has_plan);
        cJSON_AddNumberToObject(c, "has_status", e->has_status);
        cJSON_AddNumberToObject(c, "has_destroy", e->has_destroy);
        cJSON_AddItemToObject(c, "keys", cJSON_Duplicate(e->keys, 1));
    }
    return doc;
}
