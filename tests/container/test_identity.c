/* A rollback refuses a snapshot taken on another container engine than the
 * one the connection reaches now (DOCKER_HOST pointing at a second podman
 * service, with storage of its own), before anything changes on either
 * engine; --force goes on. On the snapshot's engine a container re-created
 * under its name rolls back, and so does a snapshot written before the
 * engine's identity was recorded. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ctr_fixture.h"

TestSuite(container_identity, .timeout = 240);

/* A second engine: another podman service, on a socket and storage of its
 * own, started by the same script as the suite's engine. */
typedef struct engine {
    char *dir;
    char *socket;
} engine;

static engine engine_start(void)
{
    engine b;
    b.dir = rbt_tmpdir();
    b.socket = rbt_fmt("%s/podman.sock", b.dir);
    rbt_run r = rbt_sh("bash '%s/podman.sh' start '%s' >/dev/null 2>'%s/start.err'",
                       CTR_SERVERS_DIR, b.dir, b.dir);
    char *err = rbt_fmt("%s/start.err", b.dir);
    char *why = rbt_slurp(err);
    cr_assert_eq(r.code, 0, "starting a second podman service: %s", why ? why : "");
    free(why);
    free(err);
    rbt_run_free(&r);
    return b;
}

static void engine_stop(engine *b)
{
    rbt_run r = rbt_sh("bash '%s/podman.sh' stop '%s' >/dev/null 2>&1", CTR_SERVERS_DIR, b->dir);
    rbt_run_free(&r);
    rbt_rmtree(b->dir);
    free(b->dir);
    free(b->socket);
}

/* The podman CLI against the engine at `socket`, asserting success. */
static char *remote_ok(const char *socket, const char *args)
{
    rbt_run r = rbt_sh("podman --remote --url 'unix://%s' %s", socket, args);
    cr_assert_eq(r.code, 0, "podman %s on %s: exit %d: %s", args, socket, r.code, r.err);
    free(r.err);
    size_t n = strlen(r.out);
    while (n > 0 && r.out[n - 1] == '\n')
        r.out[--n] = '\0';
    return r.out;
}

/* What a user sees of a container: its id, image tag file and A. */
static char *container_view(const char *socket, const char *name)
{
    char *args = rbt_fmt("exec %s sh -c 'cat /etc/rbtest-release; echo A=$A'", name);
    char *inside = remote_ok(socket, args);
    free(args);
    args = rbt_fmt("inspect --format '{{.Id}} {{.State.Running}}' %s", name);
    char *state = remote_ok(socket, args);
    free(args);
    char *view = rbt_fmt("%s %s", state, inside);
    free(state);
    free(inside);
    return view;
}

static char *snapshot_ids(const char *store)
{
    cJSON *doc;
    int code = ctr_rbhost_json(store, &doc, "list-snapshots");
    cr_assert_eq(code, 0, "list-snapshots: %s", ctr_str(doc, "error"));
    const cJSON *list = cJSON_IsArray(doc) ? doc : ctr_get(doc, "snapshots");
    char *ids = strdup("");
    const cJSON *s;
    cJSON_ArrayForEach(s, list)
    {
        char *more = rbt_fmt("%s%s\n", ids, ctr_str(s, "id"));
        free(ids);
        ids = more;
    }
    cJSON_Delete(doc);
    return ids;
}

/* create-snapshot s1 of `name`, with the engine taken from DOCKER_HOST;
 * returns the engine identity it recorded. */
static char *snapshot_by_docker_host(const char *store, const char *name)
{
    char *config = rbt_fmt("{\"containers\":[\"%s\"]}", name);
    cJSON *doc;
    int code = ctr_rbhost_json(store, &doc,
                               "create-snapshot --id s1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "create-snapshot: %s", ctr_str(doc, "error"));
    char *id = strdup(ctr_str(doc, "metadata.identity.engine_id"));
    cr_assert_neq(strlen(id), 0, "the engine's identity is recorded");
    cJSON_Delete(doc);
    free(config);
    return id;
}

Test(container_identity, another_engine_refused_then_forced)
{
    const char *home = ctr_socket();
    char *store = rbt_tmpdir(), *name = ctr_unique("rbt-ident");
    char *home_host = rbt_fmt("unix://%s", home);
    setenv("DOCKER_HOST", home_host, 1);
    ctr_run(name, "-e A=1", "localhost/rbtest:v1");
    char *recorded = snapshot_by_docker_host(store, name);
    free(ctr_podman_ok("rm -f -t 0 %s", name));
    ctr_run(name, "-e A=2", "localhost/rbtest:v2");

    /* Another engine with a container of the same name, and the
     * connection now reaching it. */
    engine b = engine_start();
    char *args = rbt_fmt("run -d --name %s -e A=3 localhost/rbtest:v2", name);
    free(remote_ok(b.socket, args));
    free(args);
    char *b_host = rbt_fmt("unix://%s", b.socket);
    setenv("DOCKER_HOST", b_host, 1);
    char *home_view = container_view(home, name), *b_view = container_view(b.socket, name);
    char *ids = snapshot_ids(store);

    cJSON *rec;
    int code = ctr_rbhost_json(store, &rec, "execute-rollback --id s1 --yes");
    const char *err = ctr_str(rec, "error");
    cr_assert_eq(code, 6, "refused with exit 6: %s", err);
    cr_assert_str_eq(ctr_str(rec, "error_code"), "conflict", "%s", err);
    cr_assert(strstr(err, name), "the message names the container: %s", err);
    cr_assert(strstr(err, "another Docker engine"), "and says what differs: %s", err);
    cr_assert(strstr(err, b.socket), "and names the engine reached: %s", err);
    cr_assert(strstr(err, recorded), "and the recorded engine (%s): %s", recorded, err);
    cr_assert(strstr(err, "nothing was changed"), "%s", err);
    cJSON_Delete(rec);

    char *home_view2 = container_view(home, name), *b_view2 = container_view(b.socket, name);
    char *ids2 = snapshot_ids(store);
    cr_assert_str_eq(home_view2, home_view, "the snapshot's engine is untouched");
    cr_assert_str_eq(b_view2, b_view, "the other engine is untouched");
    cr_assert_str_eq(ids2, ids, "no safety snapshot was taken");
    code = ctr_rbhost_json(store, &rec, "execute-rollback --resume");
    cr_assert_neq(code, 0, "no rollback is pending");
    cJSON_Delete(rec);

    code = ctr_rbhost_json(store, &rec, "execute-rollback --id s1 --yes --force");
    cr_assert_eq(code, 0, "--force rolls back: %s", ctr_str(rec, "error"));
    cr_assert_str_eq(ctr_str(rec, "status"), "completed");
    cJSON_Delete(rec);
    char *b_view3 = container_view(b.socket, name), *home_view3 = container_view(home, name);
    cr_assert(strstr(b_view3, "rbtest v1") && strstr(b_view3, "A=1"),
              "the engine reached now runs the snapshot's container: %s", b_view3);
    cr_assert_str_eq(home_view3, home_view, "the snapshot's engine is still untouched");

    free(b_view3);
    free(home_view3);
    free(recorded);
    free(home_view2);
    free(b_view2);
    free(ids2);
    free(home_view);
    free(b_view);
    free(ids);
    engine_stop(&b);
    free(b_host);
    ctr_remove_all(name);
    rbt_rmtree(store);
    free(home_host);
    free(store);
    free(name);
}

/* The normal case: a deployment re-created the container under its name
 * on the same engine; the rollback, and undoing it, go ahead. */
Test(container_identity, same_engine_recreated_container_rolls_back)
{
    char *store = rbt_tmpdir(), *name = ctr_unique("rbt-ident");
    char *home_host = rbt_fmt("unix://%s", ctr_socket());
    setenv("DOCKER_HOST", home_host, 1);
    ctr_run(name, "-e A=1", "localhost/rbtest:v1");
    free(snapshot_by_docker_host(store, name));
    free(ctr_podman_ok("rm -f -t 0 %s", name));
    ctr_run(name, "-e A=2", "localhost/rbtest:v2");

    cJSON *rec;
    int code = ctr_rbhost_json(store, &rec, "execute-rollback --id s1 --yes");
    cr_assert_eq(code, 0, "rollback: %s", ctr_str(rec, "error"));
    char *undo = strdup(ctr_str(rec, "safety_snapshot_id"));
    cJSON_Delete(rec);
    char *view = container_view(ctr_socket(), name);
    cr_assert(strstr(view, "rbtest v1") && strstr(view, "A=1"), "%s", view);
    free(view);

    code = ctr_rbhost_json(store, &rec, "execute-rollback --id %s --yes", undo);
    cr_assert_eq(code, 0, "undoing the rollback: %s", ctr_str(rec, "error"));
    cJSON_Delete(rec);
    view = container_view(ctr_socket(), name);
    cr_assert(strstr(view, "rbtest v2") && strstr(view, "A=2"), "%s", view);
    free(view);

    free(undo);
    ctr_remove_all(name);
    rbt_rmtree(store);
    free(home_host);
    free(store);
    free(name);
}

/* A snapshot written before rbhost recorded the engine's identity: its
 * metadata has no "identity", and it rolls back as it always did. */
Test(container_identity, snapshot_without_identity_rolls_back)
{
    char *store = rbt_tmpdir(), *name = ctr_unique("rbt-ident");
    char *home_host = rbt_fmt("unix://%s", ctr_socket());
    setenv("DOCKER_HOST", home_host, 1);
    ctr_run(name, "-e A=1", "localhost/rbtest:v1");
    free(snapshot_by_docker_host(store, name));
    char *path = rbt_fmt("%s/s1_metadata.json", store);
    char *text = rbt_slurp(path);
    cr_assert_not_null(text, "%s", path);
    cJSON *doc = rbt_json(text);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "metadata"),
                                            "identity");
    char *old = cJSON_Print(doc);
    rbt_spit(path, old);
    free(ctr_podman_ok("rm -f -t 0 %s", name));
    ctr_run(name, "-e A=2", "localhost/rbtest:v2");

    cJSON *rec;
    int code = ctr_rbhost_json(store, &rec, "execute-rollback --id s1 --yes");
    cr_assert_eq(code, 0, "rollback: %s", ctr_str(rec, "error"));
    cJSON_Delete(rec);
    char *view = container_view(ctr_socket(), name);
    cr_assert(strstr(view, "rbtest v1") && strstr(view, "A=1"), "%s", view);

    free(view);
    free(old);
    cJSON_Delete(doc);
    free(text);
    free(path);
    ctr_remove_all(name);
    rbt_rmtree(store);
    free(home_host);
    free(store);
    free(name);
}
