#include "rb_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_error.h"

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "null";
}

static int type_ok(const char *type, const cJSON *v)
{
    if (!strcmp(type, "string"))
        return cJSON_IsString(v);
    if (!strcmp(type, "int"))
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (!strcmp(type, "bool"))
        return cJSON_IsBool(v);
    if (!strcmp(type, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(type, "object"))
        return cJSON_IsObject(v);
    if (!strcmp(type, "array"))
        return cJSON_IsArray(v);
    if (!strcmp(type, "string_list")) {
        if (cJSON_IsString(v))
            return 1;
        if (!cJSON_IsArray(v))
            return 0;
        const cJSON *i;
        cJSON_ArrayForEach(i, v) if (!cJSON_IsString(i)) return 0;
        return 1;
    }
    return !strcmp(type, "any");
}

static const cJSON *find_key(const cJSON *keys, const char *name)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(k, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return k;
    }
    return NULL;
}

static void known_keys(const cJSON *keys, char *buf, size_t len)
{
    buf[0] = '\0';
    const cJSON *k;
    size_t used = 0;
    cJSON_ArrayForEach(k, keys)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(k, "name");
        if (!cJSON_IsString(n))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", n->valuestring);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

int rb_config_validate(const cJSON *keys, const char *type, const cJSON *config, cJSON **effective)
{
    if (!cJSON_IsObject(config))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "config for type '%s' must be a JSON object, not %s", type,
                            json_type_name(config));
    const cJSON *member;
    cJSON_ArrayForEach(member, config)
    {
        const cJSON *k = find_key(keys, member->string);
        if (!k) {
            char known[1024];
            known_keys(keys, known, sizeof known);
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                "unknown config key '%s' for type '%s' (known keys: %s)",
                                member->string, type, known[0] ? known : "none");
        }
        const char *kt = cJSON_GetObjectItemCaseSensitive(k, "type")->valuestring;
        if (!type_ok(kt, member))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                "config key '%s' for type '%s' must be of type %s, not %s",
                                member->string, type, kt, json_type_name(member));
    }
    cJSON *eff = cJSON_Duplicate(config, 1);
    if (!eff)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(k, "name")->valuestring;
        const char *kt = cJSON_GetObjectItemCaseSensitive(k, "type")->valuestring;
        cJSON *v = cJSON_GetObjectItemCaseSensitive(eff, name);
        if (!v) {
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "required"))) {
                cJSON_Delete(eff);
                return rb_error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                    "missing required config key '%s' for type '%s'", name, type);
            }
            const cJSON *def = cJSON_GetObjectItemCaseSensitive(k, "default");
            if (def)
                cJSON_AddItemToObject(eff, name, cJSON_Duplicate(def, 1));
            continue;
        }
        if (!strcmp(kt, "string_list") && cJSON_IsString(v)) {
            cJSON *list = cJSON_CreateArray();
            cJSON_AddItemToArray(list, cJSON_CreateString(v->valuestring));
            cJSON_ReplaceItemInObjectCaseSensitive(eff, name, list);
        }
    }
    *effective = eff;
    return 0;
}

void rb_config_redact_string(char *s)
{
    /* scheme://user:password@host -> scheme://user@host */
    char *scheme = strstr(s, "://");
    if (scheme) {
        char *auth = scheme + 3;
        char *end = auth + strcspn(auth, "/?#");
        char *at = NULL;
        for (char *p = auth; p < end; p++)
            if (*p == '@')
                at = p;
        char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon)
            memmove(colon, at, strlen(at) + 1);
    }
    /* password=... in key=value strings and URL queries */
    for (char *p = s; (p = strstr(p, "password=")) != NULL;) {
        int at_start = p == s || p[-1] == ' ' || p[-1] == '?' || p[-1] == '&' || p[-1] == ';';
        p += strlen("password=");
        if (!at_start)
            continue;
        char *end = p;
        if (*end == '\'') {
            end++;
            while (*end && *end != '\'')
                end += (*end == '\\' && end[1]) ? 2 : 1;
            if (*end)
                end++;
        } else {
            end += strcspn(end, " &;");
        }
        memmove(p, end, strlen(end) + 1);
    }
}

static void redact_tree(cJSON *v)
{
    if (cJSON_IsString(v)) {
        rb_config_redact_string(v->valuestring);
        return;
    }
    cJSON *c;
    cJSON_ArrayForEach(c, v) redact_tree(c);
}

cJSON *rb_config_redact(const cJSON *keys, const cJSON *config)
{
    cJSON *copy = cJSON_Duplicate(config, 1);
    if (!copy)
        return NULL;
    for (cJSON *member = copy->child; member; member = member->next) {
        const cJSON *k = find_key(keys, member->string);
        if (k && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "secret"))) {
            /* In place: replacing the item would free what the loop walks. */
            cJSON *r = cJSON_CreateString("<redacted>");
            if (!r)
                continue;
            cJSON_Delete(member->child);
            free(member->valuestring);
            member->child = NULL;
            member->type = cJSON_String;
            member->valuestring = r->valuestring;
            r->valuestring = NULL;
            cJSON_Delete(r);
        }
    }
    redact_tree(copy);
    return copy;
}
