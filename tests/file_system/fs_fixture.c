#include "fs_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fst_open(fst *t)
{
    t->tmp = rbt_tmpdir();
    t->tree = rbt_fmt("%s/tree", t->tmp);
    t->store = rbt_fmt("%s/store", t->tmp);
    fst_sh("mkdir '%s'", t->tree);
}

void fst_close(fst *t)
{
    rbt_rmtree(t->tmp);
    free(t->tmp);
    free(t->tree);
    free(t->store);
}

void fst_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_sh("%s", cmd);
    cr_assert_eq(r.code, 0, "command failed (%d): %s\n%s%s", r.code, cmd, r.out, r.err);
    rbt_run_free(&r);
    free(cmd);
}

char *fst_manifest(const char *dir)
{
    rbt_run r = rbt_sh("'%s' '%s'", FST_MANIFEST, dir);
    cr_assert_eq(r.code, 0, "manifest of %s failed: %s", dir, r.err);
    free(r.err);
    return r.out;
}

void fst_expect_manifest(const char *dir, const char *expected, const char *when)
{
    char *now = fst_manifest(dir);
    cr_assert_str_eq(now, expected, "%s: %s differs from the snapshot", when, dir);
    free(now);
}

cJSON *fst_rbhost_json(const fst *t, int *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(t->store, "--json %s", args);
    *code = r.code;
    if (r.code != 0)
        cr_log_info("rbhost %s exited %d: %s", args, r.code, r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "rbhost %s printed no JSON (exit %d): %s\n%s", args, r.code, r.out,
                       r.err);
    free(args);
    rbt_run_free(&r);
    return j;
}

char *fst_config(const fst *t)
{
    return rbt_fmt("{\"paths\": [\"%s\"]}", t->tree);
}

cJSON *fst_snapshot(const fst *t, const char *id, const char *config, cJSON **resp)
{
    char *cfg_file = rbt_fmt("%s/%s.json", t->tmp, id);
    rbt_spit(cfg_file, config);
    int code;
    cJSON *j = fst_rbhost_json(
        t, &code, "create-snapshot --id '%s' --type file_system --config @'%s'", id, cfg_file);
    free(cfg_file);
    cr_assert_eq(code, 0, "create-snapshot %s exited %d: %s", id, code,
                 fst_str(j, "error", NULL) ? fst_str(j, "error", NULL) : "");
    cr_assert_str_eq(fst_str(j, "status", NULL), "success");
    *resp = j;
    return fst_get(j, "metadata", NULL);
}

cJSON *fst_rollback(const fst *t, const char *id, const char *extra, int *code)
{
    return fst_rbhost_json(t, code, "execute-rollback --id '%s' --yes %s", id, extra ? extra : "");
}

static cJSON *vget(const cJSON *j, va_list ap)
{
    const cJSON *cur = j;
    for (const char *k = va_arg(ap, const char *); k && cur; k = va_arg(ap, const char *))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    return (cJSON *)cur;
}

cJSON *fst_get(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = vget(j, ap);
    va_end(ap);
    return r;
}

double fst_num(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = vget(j, ap);
    va_end(ap);
    cr_assert(cJSON_IsNumber(r), "expected a number in %s", cJSON_PrintUnformatted(j));
    return cJSON_GetNumberValue(r);
}

const char *fst_str(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = vget(j, ap);
    va_end(ap);
    return cJSON_IsString(r) ? r->valuestring : NULL;
}
