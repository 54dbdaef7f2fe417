#include "ctr_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *at(const cJSON *obj, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

/* The hostname an engine gives a container by default is the start of its
 * id; passing it back would pin the new container to the old id's name. */
static const char *default_hostname(const cJSON *inspect, char buf[13])
{
    const cJSON *id = at(inspect, "Id", NULL);
    if (!cJSON_IsString(id) || strlen(id->valuestring) < 12)
        return NULL;
    memcpy(buf, id->valuestring, 12);
    buf[12] = '\0';
    const cJSON *hn = at(inspect, "Config", "Hostname");
    return cJSON_IsString(hn) && !strcmp(hn->valuestring, buf) ? buf : NULL;
}

static void drop_default_hostname(const cJSON *inspect, cJSON *config)
{
    char buf[13];
    const char *hn = default_hostname(inspect, buf);
    if (!hn)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(config, "Hostname");
    cJSON *env = cJSON_GetObjectItemCaseSensitive(config, "Env");
    for (int i = cJSON_GetArraySize(env) - 1; i >= 0; i--) {
        const cJSON *v = cJSON_GetArrayItem(env, i);
        if (cJSON_IsString(v) && !strncmp(v->valuestring, "HOSTNAME=", 9) &&
            !strcmp(v->valuestring + 9, hn))
            cJSON_DeleteItemFromArray(env, i);
    }
}

/* podman reports ulimits by their kernel names (RLIMIT_NOFILE) but only
 * accepts the short ones (nofile) that Docker uses in both directions. */
static void normalize_ulimits(cJSON *host_config)
{
    cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(host_config, "Ulimits"))
    {
        cJSON *name = cJSON_GetObjectItemCaseSensitive(u, "Name");
        if (!cJSON_IsString(name) || strncmp(name->valuestring, "RLIMIT_", 7) != 0)
            continue;
        char shortname[64];
        size_t i = 0;
        for (const char *p = name->valuestring + 7; *p && i + 1 < sizeof shortname; p++)
            shortname[i++] = (char)tolower((unsigned char)*p);
        shortname[i] = '\0';
        cJSON_SetValuestring(name, shortname);
    }
}

/* podman reports devices without cgroup permissions and refuses them so
 * on create; "rwm" is what both engines give a device by default. */
static void normalize_devices(cJSON *host_config)
{
    cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(host_config, "Devices"))
    {
        cJSON *perm = cJSON_GetObjectItemCaseSensitive(d, "CgroupPermissions");
        if (!cJSON_IsString(perm) || !perm->valuestring[0])
            cJSON_ReplaceItemInObjectCaseSensitive(d, "CgroupPermissions",
                                                   cJSON_CreateString("rwm"));
    }
}

static int is_detached_mode(const char *mode)
{
    return !mode || !*mode || !strcmp(mode, "none") || !strcmp(mode, "host") ||
           !strncmp(mode, "container:", 10) || !strncmp(mode, "ns:", 3);
}

/* The parts of an endpoint a user chose: aliases (less the engine's own
 * short-id alias), fixed addresses, links and driver options. */
static cJSON *endpoint_config(const cJSON *inspect, const cJSON *endpoint)
{
    cJSON *out = cJSON_CreateObject();
    if (!out)
        return NULL;
    char shortid[13];
    const cJSON *id = at(inspect, "Id", NULL);
    snprintf(shortid, sizeof shortid, "%s", cJSON_IsString(id) ? id->valuestring : "");
    const cJSON *aliases = at(endpoint, "Aliases", NULL);
    if (cJSON_GetArraySize(aliases) > 0) {
        cJSON *a = cJSON_AddArrayToObject(out, "Aliases");
        const cJSON *v;
        cJSON_ArrayForEach(v, aliases)
        {
            if (a && cJSON_IsString(v) && strcmp(v->valuestring, shortid) != 0)
                cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
        }
    }
    static const char *const keep[] = {"IPAMConfig", "Links", "DriverOpts"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const cJSON *v = at(endpoint, keep[i], NULL);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(out, keep[i], cJSON_Duplicate(v, 1));
    }
    return out;
}

cJSON *rb_ctr_spec_create_body(const cJSON *inspect, const char *image, cJSON **extra_networks)
{
    *extra_networks = NULL;
    cJSON *body = cJSON_Duplicate(at(inspect, "Config", NULL), 1);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        body = cJSON_CreateObject();
    }
    cJSON *hc = cJSON_Duplicate(at(inspect, "HostConfig", NULL), 1);
    cJSON *extra = cJSON_CreateObject();
    if (!body || !extra) {
        cJSON_Delete(body);
        cJSON_Delete(hc);
        cJSON_Delete(extra);
        return NULL;
    }
    drop_default_hostname(inspect, body);
    cJSON_DeleteItemFromObjectCaseSensitive(body, "Image");
    cJSON_AddStringToObject(body, "Image", image);
    if (hc) {
        normalize_ulimits(hc);
        normalize_devices(hc);
        cJSON_AddItemToObject(body, "HostConfig", hc);
    }

    const cJSON *mode = at(inspect, "HostConfig", "NetworkMode");
    const char *mode_s = cJSON_IsString(mode) ? mode->valuestring : NULL;
    const cJSON *networks = at(inspect, "NetworkSettings", "Networks");
    if (!is_detached_mode(mode_s) && cJSON_GetArraySize(networks) > 0) {
        /* Docker names its default network "bridge" in Networks but
         * "default" in NetworkMode. */
        const cJSON *primary = cJSON_GetObjectItemCaseSensitive(networks, mode_s);
        if (!primary)
            primary = networks->child;
        cJSON *endpoints = cJSON_CreateObject();
        cJSON *nc = cJSON_AddObjectToObject(body, "NetworkingConfig");
        if (nc && endpoints)
            cJSON_AddItemToObject(nc, "EndpointsConfig", endpoints);
        else
            cJSON_Delete(endpoints);
        const cJSON *n;
        cJSON_ArrayForEach(n, networks)
        {
            cJSON *ep = endpoint_config(inspect, n);
            cJSON_AddItemToObject(n == primary ? endpoints : extra, n->string, ep);
        }
    }
    *extra_networks = extra;
    return body;
}

static int is_empty(const cJSON *v)
{
    return !v || cJSON_IsNull(v) || ((cJSON_IsArray(v) || cJSON_IsObject(v)) && !v->child) ||
           (cJSON_IsString(v) && !v->valuestring[0]);
}

static int same(const cJSON *a, const cJSON *b)
{
    if (is_empty(a) || is_empty(b))
        return is_empty(a) && is_empty(b);
    return cJSON_Compare(a, b, 1);
}

static int secret_name(const char *entry)
{
    static const char *const words[] = {"PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH"};
    size_t n = strcspn(entry, "=");
    char upper[256];
    if (n >= sizeof upper)
        n = sizeof upper - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)entry[i]);
    upper[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(upper, words[i]))
            return 1;
    return 0;
}

static int contains_string(const cJSON *arr, const char *s)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, s))
            return 1;
    }
    return 0;
}

/* Entries of `a` that `b` lacks, masked where secret; HOSTNAME= is left
 * out because every container gets its own. */
static cJSON *env_only_in(const cJSON *a, const cJSON *b)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!out || !cJSON_IsString(v) || !strncmp(v->valuestring, "HOSTNAME=", 9) ||
            contains_string(b, v->valuestring))
            continue;
        if (secret_name(v->valuestring)) {
            char masked[300];
            snprintf(masked, sizeof masked, "%.*s=***", (int)strcspn(v->valuestring, "="),
                     v->valuestring);
            cJSON_AddItemToArray(out, cJSON_CreateString(masked));
        } else {
            cJSON_AddItemToArray(out, cJSON_CreateString(v->valuestring));
        }
    }
    return out;
}

static cJSON *labels_only_in(const cJSON *a, const cJSON *b)
{
    cJSON *out = cJSON_CreateObject();
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(b, v->string);
        if (out && (!other || !cJSON_Compare(v, other, 1)))
            cJSON_AddItemToObject(out, v->string, cJSON_Duplicate(v, 1));
    }
    return out;
}

static cJSON *network_names(const cJSON *inspect)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *n;
    cJSON_ArrayForEach(n, at(inspect, "NetworkSettings", "Networks"))
    {
        if (out)
            cJSON_AddItemToArray(out, cJSON_CreateString(n->string));
    }
    return out;
}

static int add_change(const rb_host_api *h, const rb_ctr_diff_keys *k, rb_node *changes,
                      const char *field, const cJSON *from, const cJSON *to)
{
    rb_node *c = h->node_add_object(changes, NULL);
    char *f = from ? cJSON_PrintUnformatted(from) : NULL;
    char *t = to ? cJSON_PrintUnformatted(to) : NULL;
    int ok =
        c && (f || !from) && (t || !to) && (!k->item || h->node_add_string(c, "item", k->item)) &&
        h->node_add_string(c, "field", field) && h->node_add_json(c, k->live_key, f ? f : "null") &&
        h->node_add_json(c, k->recorded_key, t ? t : "null");
    free(f);
    free(t);
    return ok ? 1 : RB_ENOMEM;
}

typedef struct field {
    const char *name;
    const char *section; /* "Config" or "HostConfig" */
    const char *key;
} field;

static const field fields[] = {
    {"cmd", "Config", "Cmd"},
    {"entrypoint", "Config", "Entrypoint"},
    {"user", "Config", "User"},
    {"working_dir", "Config", "WorkingDir"},
    {"exposed_ports", "Config", "ExposedPorts"},
    {"healthcheck", "Config", "Healthcheck"},
    {"stop_signal", "Config", "StopSignal"},
    {"binds", "HostConfig", "Binds"},
    {"mounts", "HostConfig", "Mounts"},
    {"port_bindings", "HostConfig", "PortBindings"},
    {"restart_policy", "HostConfig", "RestartPolicy"},
    {"network_mode", "HostConfig", "NetworkMode"},
    {"privileged", "HostConfig", "Privileged"},
    {"cap_add", "HostConfig", "CapAdd"},
    {"cap_drop", "HostConfig", "CapDrop"},
};

int rb_ctr_spec_diff(const rb_host_api *h, const cJSON *recorded, const cJSON *live,
                     const rb_ctr_diff_keys *keys, rb_node *changes)
{
    int count = 0;
    const cJSON *renv = at(recorded, "Config", "Env"), *lenv = at(live, "Config", "Env");
    cJSON *env_from = env_only_in(lenv, renv), *env_to = env_only_in(renv, lenv);
    int rc = 0;
    if (!env_from || !env_to)
        rc = RB_ENOMEM;
    else if (env_from->child || env_to->child)
        rc = add_change(h, keys, changes, "env", env_from, env_to);
    cJSON_Delete(env_from);
    cJSON_Delete(env_to);
    if (rc < 0)
        return rc;
    count += rc;

    const cJSON *rl = at(recorded, "Config", "Labels"), *ll = at(live, "Config", "Labels");
    cJSON *lab_from = labels_only_in(ll, rl), *lab_to = labels_only_in(rl, ll);
    rc = 0;
    if (!lab_from || !lab_to)
        rc = RB_ENOMEM;
    else if (lab_from->child || lab_to->child)
        rc = add_change(h, keys, changes, "labels", lab_from, lab_to);
    cJSON_Delete(lab_from);
    cJSON_Delete(lab_to);
    if (rc < 0)
        return rc;
    count += rc;

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *r = at(recorded, fields[i].section, fields[i].key);
        const cJSON *l = at(live, fields[i].section, fields[i].key);
        if (same(r, l))
            continue;
        rc = add_change(h, keys, changes, fields[i].name, l, r);
        if (rc < 0)
            return rc;
        count += rc;
    }

    cJSON *rn = network_names(recorded), *ln = network_names(live);
    rc = 0;
    if (!rn || !ln)
        rc = RB_ENOMEM;
    else if (!same(rn, ln))
        rc = add_change(h, keys, changes, "networks", ln, rn);
    cJSON_Delete(rn);
    cJSON_Delete(ln);
    return rc < 0 ? rc : count + rc;
}
