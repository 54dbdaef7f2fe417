#include "s3_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void s3t_open(s3t *t)
{
    t->endpoint = rbt_server_env("RBT_S3_ENDPOINT");
    t->access_key = rbt_server_env("RBT_S3_ACCESS_KEY");
    t->secret_key = rbt_server_env("RBT_S3_SECRET_KEY");
    t->tmp = rbt_tmpdir();
    unsigned char rnd[6];
    cr_assert_eq(getrandom(rnd, sizeof rnd, 0), (ssize_t)sizeof rnd);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "t%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    t->plain = rbt_fmt("s3://rbtest/%s", prefix);
    t->url = rbt_fmt("%s?endpoint=%s&region=default", t->plain, t->endpoint);
}

void s3t_close(s3t *t)
{
    rbt_rmtree(t->tmp);
    free(t->tmp);
    free(t->url);
    free(t->plain);
}

rbt_run s3t_rbhost(const s3t *t, const char *host, const char *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r =
        rbt_sh("RBHOST_CACHE_DIR='%s/cache-%s' RBHOST_S3_ACCESS_KEY='%s' "
               "RBHOST_S3_SECRET_KEY='%s' %s '%s' --store '%s' %s",
               t->tmp, host, t->access_key, t->secret_key, env, rbt_rbhost_bin(), t->url, args);
    free(args);
    return r;
}

char *s3t_ids(const s3t *t, const char *host)
{
    rbt_run r = s3t_rbhost(t, host, "", "--json list-snapshots");
    cr_assert_eq(r.code, 0, "list-snapshots failed: %s %s", r.out, r.err);
    cJSON *j = rbt_json(r.out);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "snapshots");
    if (!list)
        list = j;
    size_t n = (size_t)cJSON_GetArraySize(list);
    char **ids = calloc(n + 1, sizeof *ids);
    size_t k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "snapshot_id"));
        if (!id)
            id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id"));
        if (id)
            ids[k++] = strdup(id);
    }
    for (size_t i = 1; i < k; i++)
        for (size_t j2 = i; j2 > 0 && strcmp(ids[j2 - 1], ids[j2]) > 0; j2--) {
            char *x = ids[j2];
            ids[j2] = ids[j2 - 1];
            ids[j2 - 1] = x;
        }
    char *out = strdup("");
    for (size_t i = 0; i < k; i++) {
        char *next = rbt_fmt("%s%s%s", out, i ? "," : "", ids[i]);
        free(out);
        free(ids[i]);
        out = next;
    }
    free(ids);
    cJSON_Delete(j);
    rbt_run_free(&r);
    return out;
}

void s3t_ceph(const char *action)
{
    const char *script = rbt_server_env("RBT_CEPH_SCRIPT");
    const char *rundir = rbt_server_env("RBT_CEPH_RUNDIR");
    rbt_run r = rbt_sh("bash '%s' %s '%s'", script, action, rundir);
    cr_assert_eq(r.code, 0, "ceph.sh %s failed: %s %s", action, r.out, r.err);
    rbt_run_free(&r);
}
