/* The scenario a user runs: a container on v1 with A=1 is replaced by v2
 * with A=2 under the same name, the v1 image is deleted, and the rollback
 * brings back v1 with A=1 under the name, from the image in the store. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ctr_fixture.h"

typedef struct scenario {
    char *store;
    char *name;
    char *image;    /* the container's own v1 image */
    char *image_id; /* its id, as the engine reports it */
    char *v2_id;    /* the id of the container that replaced it */
} scenario;

/* v1 + A=1, snapshot s1, then replaced by v2 + A=2 and the v1 image gone. */
static scenario setup_replaced(const char *prefix)
{
    scenario s;
    s.store = rbt_tmpdir();
    s.name = ctr_unique(prefix);
    s.image = ctr_make_image("v1", s.name);
    ctr_run(s.name, "-e A=1", s.image);
    cJSON *before = ctr_inspect(s.name);
    cr_assert_not_null(before);
    s.image_id = strdup(ctr_image_id(before));
    cJSON_Delete(before);

    char *config = ctr_config_containers(s.name, NULL);
    cJSON *doc;
    int code = ctr_rbhost_json(s.store, &doc,
                               "create-snapshot --id s1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "create-snapshot: %s", ctr_str(doc, "error"));
    cr_assert_str_eq(ctr_str(doc, "status"), "success");
    cr_assert_str_eq(ctr_str(doc, "metadata.containers.0.name"), s.name);
    cr_assert_str_eq(ctr_str(doc, "metadata.containers.0.image_id"), s.image_id);
    cr_assert(cJSON_IsTrue(ctr_get(doc, "metadata.containers.0.running")));
    cr_assert_eq(strlen(ctr_str(doc, "metadata.containers.0.image_blob")), 64,
                 "the image was saved into the store");
    cJSON_Delete(doc);
    free(config);

    free(ctr_podman_ok("rm -f -t 0 %s", s.name));
    ctr_run(s.name, "-e A=2", "localhost/rbtest:v2");
    free(ctr_podman_ok("rmi %s", s.image));
    cr_assert(!ctr_image_exists(s.image_id), "the v1 image is gone before the rollback");
    cJSON *replaced = ctr_inspect(s.name);
    s.v2_id = strdup(ctr_str(replaced, "Id"));
    cJSON_Delete(replaced);
    return s;
}

static void teardown_scenario(scenario *s)
{
    ctr_remove_all(s->name);
    rbt_run r = ctr_podman("rmi -f %s", s->image_id);
    rbt_run_free(&r);
    rbt_rmtree(s->store);
    free(s->store);
    free(s->name);
    free(s->image);
    free(s->image_id);
    free(s->v2_id);
}

Test(container_rollback, brings_back_image_env_and_name_after_image_deleted, .timeout = 120)
{
    ctr_socket();
    scenario s = setup_replaced("rbt-roll");
    cJSON *rec;
    int code = ctr_rbhost_json(s.store, &rec, "execute-rollback --id s1 --yes");
    cr_assert_eq(code, 0, "execute-rollback: exit %d: %s", code,
                 ctr_str(rec, "technical_details.1.result.error"));
    cr_assert_str_eq(ctr_str(rec, "status"), "completed");
    cr_assert_str_eq(ctr_str(rec, "execution_result.containers.0.action"), "recreated");
    cr_assert(cJSON_IsTrue(ctr_get(rec, "execution_result.containers.0.image_loaded")));

    cJSON *now = ctr_inspect(s.name);
    cr_assert_not_null(now, "a container named %s exists after the rollback", s.name);
    cr_assert_str_eq(ctr_image_id(now), s.image_id, "it runs the recorded v1 image");
    cr_assert(ctr_has_env(now, "A=1"), "with A=1");
    cr_assert(!ctr_has_env(now, "A=2"));
    cr_assert(ctr_is_running(now));
    cr_assert_str_neq(ctr_str(now, "Id"), s.v2_id);
    cr_assert(ctr_image_exists(s.image), "the image has its tag %s again", s.image);
    cJSON_Delete(now);
    char *release = ctr_podman_ok("exec %s cat /etc/rbtest-release", s.name);
    cr_assert_str_eq(release, "rbtest v1", "the files inside are v1's");
    free(release);
    char *a = ctr_podman_ok("exec %s sh -c 'echo $A'", s.name);
    cr_assert_str_eq(a, "1");
    free(a);

    /* The replaced container is kept, stopped, as the safety snapshot. */
    char *kept = rbt_fmt("%s.rbhost-pre-%s", s.name, ctr_str(rec, "rollback_id"));
    cJSON *old = ctr_inspect(kept);
    cr_assert_not_null(old, "the replaced container is kept as %s", kept);
    cr_assert_str_eq(ctr_str(old, "Id"), s.v2_id);
    cr_assert(!ctr_is_running(old));
    cJSON_Delete(old);

    cJSON *v;
    code = ctr_rbhost_json(s.store, &v, "verify --id s1");
    cr_assert_eq(code, 0, "verify after the rollback: %s", cJSON_PrintUnformatted(v));
    cr_assert_str_eq(ctr_str(v, "status"), "match");
    cJSON_Delete(v);

    /* Undoing the rollback gives back the very container it replaced. */
    char *safety = strdup(ctr_str(rec, "safety_snapshot_id"));
    cr_assert_str_neq(safety, "");
    cJSON *undo;
    code = ctr_rbhost_json(s.store, &undo, "execute-rollback --id %s --yes --no-safety-snapshot",
                           safety);
    cr_assert_eq(code, 0, "rolling back the rollback: %s", cJSON_PrintUnformatted(undo));
    cJSON *back = ctr_inspect(s.name);
    cr_assert_str_eq(ctr_str(back, "Id"), s.v2_id, "the v2 container has its name back");
    cr_assert(ctr_has_env(back, "A=2"));
    cr_assert(ctr_is_running(back));
    cJSON_Delete(back);
    cJSON_Delete(undo);

    free(safety);
    free(kept);
    cJSON_Delete(rec);
    teardown_scenario(&s);
}

Test(container_rollback, without_safety_snapshot_removes_the_replaced_container, .timeout = 120)
{
    ctr_socket();
    scenario s = setup_replaced("rbt-nosafe");
    cJSON *rec;
    int code =
        ctr_rbhost_json(s.store, &rec, "execute-rollback --id s1 --yes --no-safety-snapshot");
    cr_assert_eq(code, 0, "execute-rollback: %s", cJSON_PrintUnformatted(rec));
    cJSON *now = ctr_inspect(s.name);
    cr_assert_str_eq(ctr_image_id(now), s.image_id);
    cr_assert(ctr_has_env(now, "A=1"));
    cJSON_Delete(now);
    char *kept = rbt_fmt("%s.rbhost-pre-%s", s.name, ctr_str(rec, "rollback_id"));
    cJSON *old = ctr_inspect(kept);
    cr_assert_null(old, "no container is left as %s", kept);
    cJSON *gone = ctr_inspect(s.v2_id);
    cr_assert_null(gone, "the v2 container was removed");
    free(kept);
    cJSON_Delete(rec);
    teardown_scenario(&s);
}

Test(container_rollback, dry_run_plans_image_and_env_change_without_touching, .timeout = 120)
{
    ctr_socket();
    scenario s = setup_replaced("rbt-plan");
    cJSON *plan;
    int code = ctr_rbhost_json(s.store, &plan, "execute-rollback --id s1 --dry-run");
    cr_assert_eq(code, 0, "dry run: %s", cJSON_PrintUnformatted(plan));
    const cJSON *change = ctr_get(plan, "targets.0.plan.changes.0");
    cr_assert_str_eq(ctr_str(change, "action"), "recreate");
    cr_assert_str_eq(ctr_str(change, "item"), s.name);
    cr_assert_str_eq(ctr_str(change, "image_to"), s.image_id);
    cr_assert(cJSON_IsTrue(ctr_get(change, "load_image")));
    int env_seen = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, ctr_get(change, "fields"))
    {
        if (strcmp(ctr_str(f, "field"), "env") != 0)
            continue;
        env_seen = 1;
        cr_assert_str_eq(ctr_str(f, "from.0"), "A=2");
        cr_assert_str_eq(ctr_str(f, "to.0"), "A=1");
    }
    cr_assert(env_seen, "the plan names the env change: %s", cJSON_PrintUnformatted(change));
    cJSON *still = ctr_inspect(s.name);
    cr_assert_str_eq(ctr_str(still, "Id"), s.v2_id, "a dry run changes nothing");
    cJSON_Delete(still);

    cJSON *v;
    code = ctr_rbhost_json(s.store, &v, "verify --id s1");
    cr_assert_eq(code, 1, "verify reports drift: %s", cJSON_PrintUnformatted(v));
    cr_assert_str_eq(ctr_str(v, "status"), "drift");
    char *text = cJSON_PrintUnformatted(v);
    cr_assert(strstr(text, "image_id") && strstr(text, "A=2"), "%s", text);
    free(text);
    cJSON_Delete(v);
    cJSON_Delete(plan);
    teardown_scenario(&s);
}

Test(container_rollback, deleting_the_safety_snapshot_removes_the_kept_container, .timeout = 120)
{
    ctr_socket();
    scenario s = setup_replaced("rbt-destroy");
    cJSON *rec;
    int code = ctr_rbhost_json(s.store, &rec, "execute-rollback --id s1 --yes");
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    char *kept = rbt_fmt("%s.rbhost-pre-%s", s.name, ctr_str(rec, "rollback_id"));
    cJSON *old = ctr_inspect(kept);
    cr_assert_not_null(old);
    cJSON_Delete(old);
    rbt_run del =
        rbt_rbhost(s.store, "delete-snapshot --id %s", ctr_str(rec, "safety_snapshot_id"));
    cr_assert_eq(del.code, 0, "%s", del.err);
    rbt_run_free(&del);
    old = ctr_inspect(kept);
    cr_assert_null(old, "%s went with the safety snapshot", kept);
    cJSON *now = ctr_inspect(s.name);
    cr_assert(ctr_has_env(now, "A=1"), "the rolled-back container stays");
    cJSON_Delete(now);
    free(kept);
    cJSON_Delete(rec);
    teardown_scenario(&s);
}
