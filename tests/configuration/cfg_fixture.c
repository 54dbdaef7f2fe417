#include "cfg_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cft_open(cft *t)
{
    t->tmp = rbt_tmpdir();
    t->dir = rbt_fmt("%s/live", t->tmp);
    t->store = rbt_fmt("%s/store", t->tmp);
    cr_assert_eq(mkdir(t->dir, 0755), 0);
}

void cft_close(cft *t)
{
    if (t->tmp) {
        rbt_run r = rbt_sh("chattr -R -i '%s' 2>/dev/null", t->tmp);
        rbt_run_free(&r);
    }
    rbt_rmtree(t->tmp);
    free(t->tmp);
    free(t->dir);
    free(t->store);
    t->tmp = t->dir = t->store = NULL;
}

char *cft_path(const cft *t, const char *rel)
{
    return rbt_fmt("%s/%s", t->dir, rel);
}

void cft_write(const cft *t, const char *rel, const char *content)
{
    char *p = cft_path(t, rel);
    rbt_run r = rbt_sh("mkdir -p \"$(dirname '%s')\"", p);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    rbt_spit(p, content);
    free(p);
}

void cft_expect(const cft *t, const char *rel, const char *content)
{
    char *p = cft_path(t, rel);
    char *got = rbt_slurp(p);
    cr_assert_not_null(got, "%s is missing", p);
    cr_assert_str_eq(got, content, "%s holds '%s', expected '%s'", p, got, content);
    free(got);
    free(p);
}

void cft_expect_absent(const cft *t, const char *rel)
{
    char *p = cft_path(t, rel);
    struct stat st;
    cr_assert(lstat(p, &st) != 0 && errno == ENOENT, "%s exists, expected it absent", p);
    free(p);
}

struct stat cft_stat(const cft *t, const char *rel)
{
    char *p = cft_path(t, rel);
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0, "%s: %s", p, strerror(errno));
    free(p);
    return st;
}

char *cft_config(const cft *t, const char *rel_json)
{
    cJSON *rel = rbt_json(rel_json);
    cJSON *cfg = cJSON_CreateObject();
    cJSON *files = cJSON_AddArrayToObject(cfg, "config_files");
    const cJSON *r;
    cJSON_ArrayForEach(r, rel)
    {
        char *p = cft_path(t, cJSON_GetStringValue(r));
        cJSON_AddItemToArray(files, cJSON_CreateString(p));
        free(p);
    }
    char *text = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    cJSON_Delete(rel);
    return text;
}

static cJSON *run_json(const cft *t, int *code, const char *args)
{
    rbt_run r = rbt_rbhost(t->store, "--json %s", args);
    *code = r.code;
    cr_assert(r.out[0], "rbhost %s printed nothing (exit %d): %s", args, r.code, r.err);
    cJSON *j = rbt_json(r.out);
    rbt_run_free(&r);
    return j;
}

cJSON *cft_rbhost_json(const cft *t, int *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    cJSON *j = run_json(t, code, args);
    free(args);
    return j;
}

cJSON *cft_snapshot(const cft *t, const char *id, const char *rel_json)
{
    char *cfg = cft_config(t, rel_json);
    cJSON *j = cft_snapshot_config(t, id, cfg);
    free(cfg);
    return j;
}

cJSON *cft_snapshot_config(const cft *t, const char *id, const char *cfg)
{
    char *file = rbt_fmt("%s/config-%s.json", t->tmp, id);
    rbt_spit(file, cfg);
    int code;
    cJSON *j = cft_rbhost_json(t, &code,
                               "create-snapshot --id '%s' --type configuration "
                               "--config @'%s'",
                               id, file);
    cr_assert_eq(code, 0, "create-snapshot %s exited %d: %s", id, code,
                 cft_str(j, "error", NULL) ? cft_str(j, "error", NULL) : "");
    cr_assert_str_eq(cft_str(j, "status", NULL), "success");
    free(file);
    return j;
}

cJSON *cft_rollback(const cft *t, const char *id, int *code)
{
    return cft_rbhost_json(t, code, "execute-rollback --id '%s' --yes", id);
}

static cJSON *get_v(const cJSON *j, va_list ap)
{
    const char *key;
    while (j && (key = va_arg(ap, const char *)))
        j = cJSON_GetObjectItemCaseSensitive(j, key);
    return (cJSON *)j;
}

cJSON *cft_get(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = get_v(j, ap);
    va_end(ap);
    return r;
}

const char *cft_str(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = get_v(j, ap);
    va_end(ap);
    return cJSON_GetStringValue(r);
}

cJSON *cft_find(const cJSON *array, const char *key, const char *value)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, array)
    {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, key));
        if (v && !strcmp(v, value))
            return (cJSON *)e;
    }
    return NULL;
}

int cft_count_entries(const cft *t, const char *rel)
{
    char *p = cft_path(t, rel);
    DIR *d = opendir(p);
    cr_assert_not_null(d, "%s: %s", p, strerror(errno));
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    free(p);
    return n;
}

void cft_require_root(cft *t, const char *why)
{
    if (geteuid() == 0)
        return;
    cft_close(t);
    cr_skip_test("%s", why);
}
