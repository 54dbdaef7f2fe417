#include "ctr_order.h"

#include <stdlib.h>
#include <string.h>

#include "ctr_container.h"

#define DEPENDS_LABEL "com.docker.compose.depends_on"
#define SERVICE_LABEL "com.docker.compose.service"

/* The label lists "service:condition:restart" entries separated by commas;
 * older compose versions write just the service names. */
int rb_ctr_depends_on(const cJSON *inspect, const char *service)
{
    const char *deps = rb_ctr_label(inspect, DEPENDS_LABEL);
    size_t n = service ? strlen(service) : 0;
    while (deps && *deps && n) {
        size_t len = strcspn(deps, ",");
        size_t name_len = strcspn(deps, ":,");
        if (name_len == n && !strncmp(deps, service, n))
            return 1;
        deps += len;
        if (*deps == ',')
            deps++;
    }
    return 0;
}

/* Whether `c` depends on the service of a container not placed yet. */
static int waits(const cJSON *c, cJSON *const *items, const int *placed, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (placed[j] || items[j] == c)
            continue;
        if (rb_ctr_depends_on(c, rb_ctr_label(items[j], SERVICE_LABEL)))
            return 1;
    }
    return 0;
}

int rb_ctr_order(const rb_host_api *host, cJSON *inspects)
{
    size_t n = (size_t)cJSON_GetArraySize(inspects);
    if (n < 2)
        return 0;
    cJSON **items = calloc(n, sizeof *items);
    int *placed = calloc(n, sizeof *placed);
    if (!items || !placed) {
        free(items);
        free(placed);
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    size_t k = 0;
    for (cJSON *c = inspects->child; c; c = c->next)
        items[k++] = c;
    for (size_t i = 0; i < n; i++)
        cJSON_DetachItemViaPointer(inspects, items[i]);
    for (size_t round = 0; round < n; round++) {
        size_t pick = n;
        for (size_t j = 0; j < n && pick == n; j++)
            if (!placed[j] && !waits(items[j], items, placed, n))
                pick = j;
        if (pick == n) {
            for (pick = 0; placed[pick]; pick++)
                ;
            host->log(RB_LOG_WARN,
                      "containers depend on each other in a cycle; starting %s before the "
                      "services it depends on",
                      rb_ctr_name(items[pick]));
        }
        placed[pick] = 1;
        cJSON_AddItemToArray(inspects, items[pick]);
    }
    free(items);
    free(placed);
    return 0;
}
