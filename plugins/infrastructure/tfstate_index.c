/* The address -> attribute hash map a snapshot records, moved across the
 * host boundary as JSON text in one piece. Adding thousands of members to a
 * host object one by one, or looking them up one by one, costs a scan of
 * the members each time; large states have tens of thousands of instances,
 * so the map is built and indexed here instead. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tfstate.h"

static int oom(void)
{
    return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

int rb_tfstate_index_json(const rb_tfstate *st, char **json)
{
    cJSON *map = cJSON_CreateObject();
    for (size_t i = 0; map && i < st->instance_count; i++) {
        cJSON *hash = cJSON_CreateString(st->instances[i].hash);
        /* Addresses are unique and sorted: appending needs no lookup. */
        if (!hash || !cJSON_AddItemToObject(map, st->instances[i].address, hash)) {
            cJSON_Delete(hash);
            cJSON_Delete(map);
            map = NULL;
        }
    }
    *json = map ? cJSON_PrintUnformatted(map) : NULL;
    cJSON_Delete(map);
    return *json ? 0 : oom();
}

int rb_tfstate_index_parse(const char *json, rb_tfstate *st)
{
    memset(st, 0, sizeof *st);
    cJSON *map = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(map);
        return rb_infra_host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                                        "the snapshot's resources are not an object of hashes");
    }
    size_t n = (size_t)cJSON_GetArraySize(map);
    st->instances = n ? calloc(n, sizeof *st->instances) : NULL;
    int rc = n && !st->instances ? oom() : 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, map)
    {
        if (rc < 0)
            break;
        rb_tfstate_instance *inst = &st->instances[st->instance_count];
        inst->address = strdup(m->string ? m->string : "");
        if (!inst->address) {
            rc = oom();
            break;
        }
        /* A hash of the wrong form matches nothing: that instance then
         * shows as changed rather than being skipped. */
        const char *hash = cJSON_GetStringValue(m);
        if (hash && strlen(hash) == RB_TFSTATE_HASH_SIZE - 1)
            memcpy(inst->hash, hash, RB_TFSTATE_HASH_SIZE);
        st->instance_count++;
    }
    cJSON_Delete(map);
    if (rc == 0)
        rb_tfstate_sort(st);
    if (rc < 0)
        rb_tfstate_free(st);
    return rc;
}
