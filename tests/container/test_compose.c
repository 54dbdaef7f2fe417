/* A compose-style project: two containers found by their project label,
 * rolled back with the service they depend on started first. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctr_fixture.h"

static void run_service(const char *project, const char *service, const char *depends,
                        const char *env, const char *image)
{
    char *name = rbt_fmt("%s-%s", project, service);
    char *opts =
        rbt_fmt("-e %s --label com.docker.compose.project=%s "
                "--label com.docker.compose.service=%s %s%s",
                env, project, service, depends ? "--label com.docker.compose.depends_on=" : "",
                depends ? depends : "");
    ctr_run(name, opts, image);
    free(opts);
    free(name);
}

/* Seconds since the epoch with nanoseconds, from an RFC 3339 StartedAt. */
static double started_at(const cJSON *inspect)
{
    const char *s = ctr_str(inspect, "State.StartedAt");
    int y, mo, d, h, mi, sec;
    char frac[16] = "0";
    cr_assert_geq(sscanf(s, "%d-%d-%dT%d:%d:%d.%9[0-9]", &y, &mo, &d, &h, &mi, &sec, frac), 6,
                  "StartedAt: %s", s);
    double f = atof(frac);
    for (size_t i = strlen(frac); i > 0; i--)
        f /= 10;
    return ((((double)d * 24 + h) * 60 + mi) * 60 + sec) + f;
}

Test(container_compose, project_rolls_back_in_dependency_order, .timeout = 180)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *project = ctr_unique("rbt-proj");
    /* web first: the order of creation must not decide the order of start. */
    run_service(project, "web", "db:service_started:false", "A=1", "localhost/rbtest:v1");
    run_service(project, "db", NULL, "A=1", "localhost/rbtest:v1");
    char *web = rbt_fmt("%s-web", project), *db = rbt_fmt("%s-db", project);
    cJSON *v1 = ctr_inspect(db);
    char *v1_id = strdup(ctr_image_id(v1));
    cJSON_Delete(v1);

    char *config = ctr_config_project(project);
    cJSON *snap;
    int code = ctr_rbhost_json(store, &snap,
                               "create-snapshot --id p1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "create-snapshot: %s", ctr_str(snap, "error"));
    cr_assert_str_eq(ctr_str(snap, "metadata.compose_project"), project);
    cr_assert_str_eq(ctr_str(snap, "metadata.containers.0.name"), db, "db is recorded first");
    cr_assert_str_eq(ctr_str(snap, "metadata.containers.1.name"), web);
    cr_assert_null(ctr_get(snap, "metadata.containers.2"));
    cr_assert_str_eq(ctr_str(snap, "metadata.containers.0.image_blob"),
                     ctr_str(snap, "metadata.containers.1.image_blob"), "one image, stored once");
    cJSON_Delete(snap);

    free(ctr_podman_ok("rm -f -t 0 %s %s", web, db));
    run_service(project, "db", NULL, "A=2", "localhost/rbtest:v2");
    run_service(project, "web", "db:service_started:false", "A=2", "localhost/rbtest:v2");

    cJSON *rec;
    code = ctr_rbhost_json(store, &rec, "execute-rollback --id p1 --yes");
    cr_assert_eq(code, 0, "execute-rollback: %s", cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(ctr_str(rec, "status"), "completed");
    cr_assert_str_eq(ctr_str(rec, "execution_result.containers.0.name"), db);
    cr_assert_str_eq(ctr_str(rec, "execution_result.containers.1.name"), web);

    cJSON *d = ctr_inspect(db), *w = ctr_inspect(web);
    cr_assert_not_null(d);
    cr_assert_not_null(w);
    cr_assert_str_eq(ctr_image_id(d), v1_id);
    cr_assert_str_eq(ctr_image_id(w), v1_id);
    cr_assert(ctr_has_env(d, "A=1") && ctr_has_env(w, "A=1"));
    cr_assert(ctr_is_running(d) && ctr_is_running(w));
    cr_assert_leq(started_at(d), started_at(w), "db started before web, which depends on it");
    cJSON_Delete(d);
    cJSON_Delete(w);

    /* The containers the rollback set aside still carry the project's
     * labels; a new snapshot of the project leaves them out. */
    cJSON *again;
    code = ctr_rbhost_json(store, &again, "create-snapshot --id p2 --type container --config '%s'",
                           config);
    cr_assert_eq(code, 0, "%s", ctr_str(again, "error"));
    cr_assert_str_eq(ctr_str(again, "metadata.containers.0.name"), db);
    cr_assert_str_eq(ctr_str(again, "metadata.containers.1.name"), web);
    cr_assert_null(ctr_get(again, "metadata.containers.2"));
    cJSON_Delete(again);

    cJSON_Delete(rec);
    free(config);
    free(v1_id);
    free(web);
    free(db);
    ctr_remove_all(project);
    free(project);
    rbt_rmtree(store);
    free(store);
}

static long store_kib(const char *store)
{
    rbt_run du = rbt_sh("du -sk '%s' | cut -f1", store);
    long kib = atol(du.out);
    rbt_run_free(&du);
    return kib;
}

Test(container_compose, repeated_snapshot_reuses_the_stored_image, .timeout = 120)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *name = ctr_unique("rbt-dedup");
    ctr_run(name, "-e A=1", "localhost/rbtest:v1");
    char *config = ctr_config_containers(name, NULL);
    cJSON *first, *second;
    int code = ctr_rbhost_json(store, &first,
                               "create-snapshot --id d1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "%s", ctr_str(first, "error"));
    long after_first = store_kib(store);
    code = ctr_rbhost_json(store, &second, "create-snapshot --id d2 --type container --config '%s'",
                           config);
    cr_assert_eq(code, 0, "%s", ctr_str(second, "error"));
    cr_assert_str_eq(ctr_str(first, "metadata.containers.0.image_blob"),
                     ctr_str(second, "metadata.containers.0.image_blob"));
    long growth = store_kib(store) - after_first;
    cr_assert_lt(growth, 200,
                 "the second snapshot of the same image added %ld KiB (the first: %ld)", growth,
                 after_first);

    cJSON_Delete(first);
    cJSON_Delete(second);
    free(config);
    ctr_remove_all(name);
    free(name);
    rbt_rmtree(store);
    free(store);
}
