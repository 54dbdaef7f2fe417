#include "sets_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sft_open(sft *t)
{
    t->dir = rbt_tmpdir();
    t->store = rbt_fmt("%s/store", t->dir);
    t->log = rbt_fmt("%s/events.log", t->dir);
}

void sft_close(sft *t)
{
    rbt_rmtree(t->dir);
    free(t->dir);
    free(t->store);
    free(t->log);
}

static rbt_run vrun(const sft *t, const char *json, const char *fmt, va_list ap)
{
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    rbt_run r =
        rbt_rbhost(t->store, "--plugin-dir '%s' %s %s", rbt_fixture_plugin_dir(), json, args);
    free(args);
    return r;
}

rbt_run sft_rbhost(const sft *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rbt_run r = vrun(t, "", fmt, ap);
    va_end(ap);
    return r;
}

cJSON *sft_json(const sft *t, int *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rbt_run r = vrun(t, "--json", fmt, ap);
    va_end(ap);
    *code = r.code;
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "rbhost printed no JSON (exit %d): %s %s", r.code, r.out, r.err);
    rbt_run_free(&r);
    return j;
}

char *sft_spec(const sft *t, const char *name, const char *json)
{
    char *path = rbt_fmt("%s/%s", t->dir, name);
    rbt_spit(path, json);
    return path;
}

char *sft_gate(const sft *t, const char *name, const char *config, const char *extra)
{
    return rbt_fmt("{\"name\": \"%s\", \"type\": \"fixture_gate\", \"config\": {\"path\": "
                   "\"%s/%s\", \"log\": \"%s\"%s%s}%s%s}",
                   name, t->dir, name, t->log, *config ? ", " : "", config, *extra ? ", " : "",
                   extra);
}

char *sft_state(const sft *t, const char *name)
{
    char *path = rbt_fmt("%s/%s", t->dir, name);
    char *s = rbt_slurp(path);
    free(path);
    return s ? s : strdup("");
}

void sft_set_state(const sft *t, const char *name, const char *content)
{
    char *path = rbt_fmt("%s/%s", t->dir, name);
    rbt_spit(path, content);
    free(path);
}

int sft_event(const sft *t, const char *event)
{
    char *log = rbt_slurp(t->log);
    int line = 0, found = 0;
    for (char *save = NULL, *l = log ? strtok_r(log, "\n", &save) : NULL; l && !found;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        found = !strcmp(l, event);
    }
    free(log);
    return found ? line : 0;
}

void sft_wait_event(const sft *t, const char *event)
{
    for (int i = 0; i < 3000 && !sft_event(t, event); i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(sft_event(t, event), "'%s' never appeared in %s", event, t->log);
}

int sft_pending(const sft *t)
{
    int code;
    cJSON *j = sft_json(t, &code, "status");
    cr_assert_eq(code, 0);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "pending_rollbacks"));
    cJSON_Delete(j);
    return n;
}

const char *sft_str(const cJSON *j, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
    return v ? v : "";
}
