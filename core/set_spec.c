/* Checking a set spec and ordering its targets by depends_on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_set.h"
#include "rb_store.h"

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int find(const cJSON *targets, const char *name)
{
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        const char *n = str(t, "name");
        if (n && !strcmp(n, name))
            return i;
        i++;
    }
    return -1;
}

int rb_set_on_failure_parse(const char *text, const char *what, rb_on_failure *out)
{
    if (text && !strcmp(text, "revert"))
        *out = RB_ON_FAILURE_REVERT;
    else if (text && !strcmp(text, "continue"))
        *out = RB_ON_FAILURE_CONTINUE;
    else
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "%s: expected \"revert\" or \"continue\", got \"%s\"", what,
                            text ? text : "(not a string)");
    return 0;
}

const char *rb_set_on_failure_name(rb_on_failure f)
{
    return f == RB_ON_FAILURE_CONTINUE ? "continue" : "revert";
}

static int bad(const char *name, const char *fmt, const char *detail)
{
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "spec: target '%s': %s%s", name, fmt,
                        detail ? detail : "");
}

static int check_number(const char *name, const cJSON *v, const char *key, double min)
{
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "spec: target '%s': %s must be a number >= %g", name, key, min);
    return 0;
}

static int check_retry(const char *name, const cJSON *retry)
{
    if (!retry)
        return 0;
    if (!cJSON_IsObject(retry))
        return bad(name,
                   "retry must be an object {max_attempts, backoff_multiplier, "
                   "initial_delay}",
                   NULL);
    const cJSON *m;
    cJSON_ArrayForEach(m, retry)
    {
        if (strcmp(m->string, "max_attempts") && strcmp(m->string, "backoff_multiplier") &&
            strcmp(m->string, "initial_delay"))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "spec: target '%s': unknown key 'retry.%s' (known: "
                                "max_attempts, backoff_multiplier, initial_delay)",
                                name, m->string);
    }
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(retry, "max_attempts");
    if (max && (!cJSON_IsNumber(max) || max->valuedouble != floor(max->valuedouble) ||
                max->valuedouble < 1 || max->valuedouble > 100))
        return bad(name, "retry.max_attempts must be a whole number from 1 to 100", NULL);
    int rc = check_number(name, cJSON_GetObjectItemCaseSensitive(retry, "backoff_multiplier"),
                          "retry.backoff_multiplier", 1);
    if (rc == 0)
        rc = check_number(name, cJSON_GetObjectItemCaseSensitive(retry, "initial_delay"),
                          "retry.initial_delay", 0);
    return rc;
}

static int check_target(const cJSON *targets, const cJSON *t, int index)
{
    if (!cJSON_IsObject(t))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "spec: targets[%d] is not an object",
                            index);
    const char *name = str(t, "name");
    const char *type = str(t, "type");
    if (!name || !type)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "spec: targets[%d] needs a \"name\" and a \"type\" (strings)", index);
    const cJSON *m;
    cJSON_ArrayForEach(m, t)
    {
        static const char *const known[] = {"name",    "type",  "config", "depends_on",
                                            "timeout", "retry", NULL};
        int ok = 0;
        for (int k = 0; known[k] && !ok; k++)
            ok = !strcmp(m->string, known[k]);
        if (!ok)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "spec: target '%s': unknown key '%s' (known: name, type, config, "
                                "depends_on, timeout, retry)",
                                name, m->string);
    }
    int rc = rb_store_id_validate(name, "target name");
    if (rc)
        return rc;
    if (find(targets, name) != index)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "spec: target name '%s' is used twice",
                            name);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(t, "config");
    if (config && !cJSON_IsObject(config))
        return bad(name, "config must be an object", NULL);
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(t, "depends_on");
    if (deps && !cJSON_IsArray(deps))
        return bad(name, "depends_on must be an array of target names", NULL);
    const cJSON *d;
    cJSON_ArrayForEach(d, deps)
    {
        if (!cJSON_IsString(d))
            return bad(name, "depends_on must be an array of target names", NULL);
        if (!strcmp(d->valuestring, name))
            return bad(name, "depends on itself", NULL);
        if (find(targets, d->valuestring) < 0)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "spec: target '%s' depends on '%s', which is not a target of "
                                "the spec",
                                name, d->valuestring);
    }
    if ((rc = check_number(name, cJSON_GetObjectItemCaseSensitive(t, "timeout"), "timeout", 0)))
        return rc;
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(t, "timeout");
    if (timeout && timeout->valuedouble <= 0)
        return bad(name, "timeout must be more than 0 seconds", NULL);
    return check_retry(name, cJSON_GetObjectItemCaseSensitive(t, "retry"));
}

int rb_set_spec_check(const cJSON *spec)
{
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(spec, "targets");
    if (!cJSON_IsObject(spec) || !cJSON_IsArray(targets) || cJSON_GetArraySize(targets) == 0)
        return rb_error_set(
            RB_EINVAL, RB_ERRCLASS_INVALID,
            "spec: expected {\"targets\": [{\"name\", \"type\", \"config\"}, ...]}");
    const cJSON *m;
    cJSON_ArrayForEach(m, spec)
    {
        if (strcmp(m->string, "targets") && strcmp(m->string, "on_failure") &&
            strcmp(m->string, "hooks") && strcmp(m->string, "notify"))
            return rb_error_set(
                RB_EINVAL, RB_ERRCLASS_INVALID,
                "spec: unknown key '%s' (known: targets, on_failure, hooks, notify)", m->string);
    }
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(spec, "on_failure");
    rb_on_failure f;
    int rc = of ? rb_set_on_failure_parse(cJSON_GetStringValue(of), "spec: on_failure", &f) : 0;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        if (rc == 0)
            rc = check_target(targets, t, i++);
    }
    if (rc)
        return rc;
    int *order = malloc((size_t)cJSON_GetArraySize(targets) * sizeof *order);
    if (!order)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    rc = rb_set_order(targets, order);
    free(order);
    return rc;
}

static int depends_on(const cJSON *t, const char *name)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(t, "depends_on"))
    {
        if (cJSON_IsString(d) && !strcmp(d->valuestring, name))
            return 1;
    }
    return 0;
}

/* Names the targets of one cycle among those left unplaced, following
 * depends_on from the first of them until a target repeats. */
static int report_cycle(const cJSON *targets, const char *placed, int n)
{
    int *path = malloc((size_t)n * sizeof *path);
    if (!path)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int len = 0, cur = 0;
    while (placed[cur])
        cur++;
    for (;;) {
        for (int k = 0; k < len; k++) {
            if (path[k] != cur)
                continue;
            char msg[1024] = "";
            size_t used = 0;
            for (int j = k; j < len && used < sizeof msg; j++)
                used += (size_t)snprintf(msg + used, sizeof msg - used, "'%s' -> ",
                                         str(cJSON_GetArrayItem(targets, path[j]), "name"));
            if (used < sizeof msg)
                snprintf(msg + used, sizeof msg - used, "'%s'",
                         str(cJSON_GetArrayItem(targets, cur), "name"));
            free(path);
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "spec: target '%s': depends_on forms a cycle: %s",
                                str(cJSON_GetArrayItem(targets, cur), "name"), msg);
        }
        path[len++] = cur;
        const cJSON *t = cJSON_GetArrayItem(targets, cur);
        int next = -1;
        for (int j = 0; j < n && next < 0; j++)
            if (!placed[j] && depends_on(t, str(cJSON_GetArrayItem(targets, j), "name")))
                next = j;
        if (next < 0 || len == n) {
            free(path);
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "spec: target '%s': depends_on forms a cycle",
                                str(cJSON_GetArrayItem(targets, cur), "name"));
        }
        cur = next;
    }
}

int rb_set_order(const cJSON *targets, int *order)
{
    int n = cJSON_GetArraySize(targets);
    char *placed = calloc((size_t)n + 1, 1);
    if (!placed)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (int done = 0; done < n;) {
        int pick = -1;
        for (int i = 0; i < n && pick < 0; i++) {
            if (placed[i])
                continue;
            const cJSON *t = cJSON_GetArrayItem(targets, i);
            int ready = 1;
            const cJSON *d;
            cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(t, "depends_on"))
            {
                int j = cJSON_IsString(d) ? find(targets, d->valuestring) : -1;
                if (j < 0) {
                    free(placed);
                    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                        "target '%s' depends on an unknown target", str(t, "name"));
                }
                if (!placed[j])
                    ready = 0;
            }
            if (ready)
                pick = i;
        }
        if (pick < 0) {
            int rc = report_cycle(targets, placed, n);
            free(placed);
            return rc;
        }
        placed[pick] = 1;
        order[done++] = pick;
    }
    free(placed);
    return 0;
}

void rb_set_policy(const cJSON *target, rb_step_policy *out)
{
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(target, "timeout");
    const cJSON *retry = cJSON_GetObjectItemCaseSensitive(target, "retry");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(retry, "max_attempts");
    const cJSON *mult = cJSON_GetObjectItemCaseSensitive(retry, "backoff_multiplier");
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(retry, "initial_delay");
    out->timeout = cJSON_IsNumber(timeout) && timeout->valuedouble > 0 ? timeout->valuedouble : 0;
    out->max_attempts = cJSON_IsNumber(max) && max->valueint >= 1 ? max->valueint : 1;
    out->backoff_multiplier =
        cJSON_IsNumber(mult) && mult->valuedouble >= 1 ? mult->valuedouble : 2.0;
    out->initial_delay =
        cJSON_IsNumber(delay) && delay->valuedouble >= 0 ? delay->valuedouble : 1.0;
}
