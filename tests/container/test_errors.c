/* What a user sees when the engine, a container or a rollback step is not
 * as expected: a clear message naming the thing, and nothing left
 * half-done. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctr_fixture.h"

static int snapshot_fails(const char *store, const char *config, cJSON **doc)
{
    int code = ctr_rbhost_json(store, doc, "create-snapshot --id e1 --type container --config '%s'",
                               config);
    cr_assert_neq(code, 0, "create-snapshot succeeded: %s", cJSON_PrintUnformatted(*doc));
    cr_assert_str_eq(ctr_str(*doc, "status"), "failed");
    return code;
}

Test(container_errors, missing_engine_socket_is_named, .timeout = 60)
{
    char *store = rbt_tmpdir();
    char *sock = rbt_fmt("%s/no-engine/docker.sock", store);
    char *config = rbt_fmt("{\"containers\":[\"web\"],\"engine\":\"unix://%s\"}", sock);
    cJSON *doc;
    int code = snapshot_fails(store, config, &doc);
    cr_assert_eq(code, 6);
    cr_assert(strstr(ctr_str(doc, "error"), sock), "%s", ctr_str(doc, "error"));
    cr_assert(strstr(ctr_str(doc, "error"), "does not exist"), "%s", ctr_str(doc, "error"));
    cr_assert_str_eq(ctr_str(doc, "error_class"), "container");
    cJSON_Delete(doc);
    free(config);
    free(sock);
    rbt_rmtree(store);
    free(store);
}

Test(container_errors, engine_socket_without_listener_is_unreachable, .timeout = 60)
{
    char *store = rbt_tmpdir();
    char *sock = rbt_fmt("%s/dead.sock", store);
    /* A socket file nobody listens on, as a crashed engine leaves behind. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, sock, sizeof addr.sun_path - 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd);
    char *config = rbt_fmt("{\"containers\":[\"web\"],\"engine\":\"%s\"}", sock);
    cJSON *doc;
    snapshot_fails(store, config, &doc);
    const char *err = ctr_str(doc, "error");
    cr_assert(strstr(err, sock) && strstr(err, "unreachable"), "%s", err);
    cJSON_Delete(doc);
    free(config);
    free(sock);
    rbt_rmtree(store);
    free(store);
}

Test(container_errors, socket_permission_denied_is_named, .timeout = 60)
{
    const char *sock = ctr_socket();
    if (geteuid() != 0)
        cr_skip_test("needs root to run rbhost as another user");
    rbt_run probe = rbt_sh("setpriv --reuid=nobody --regid=nogroup --clear-groups test -x '%s'",
                           rbt_rbhost_bin());
    int usable = probe.code == 0;
    rbt_run_free(&probe);
    if (!usable)
        cr_skip_test("user nobody cannot run %s", rbt_rbhost_bin());
    char *store = rbt_tmpdir();
    cr_assert_eq(chmod(store, 0777), 0);
    /* The engine's socket is root's only (0600): nobody may not use it. */
    rbt_run r = rbt_sh("setpriv --reuid=nobody --regid=nogroup --clear-groups '%s' --store "
                       "'%s/store' --json create-snapshot --id p1 --type container --config "
                       "'{\"containers\":[\"web\"],\"engine\":\"%s\"}'",
                       rbt_rbhost_bin(), store, sock);
    cJSON *doc = rbt_json(r.out);
    cr_assert_eq(r.code, 6, "%s", r.err);
    const char *err = ctr_str(doc, "error");
    cr_assert(strstr(err, "permission denied") && strstr(err, sock), "%s", err);
    cr_assert_str_eq(ctr_str(doc, "error_code"), "perm");
    cJSON_Delete(doc);
    rbt_run_free(&r);
    rbt_rmtree(store);
    free(store);
}

Test(container_errors, missing_container_is_named, .timeout = 60)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *name = ctr_unique("rbt-missing");
    char *config = ctr_config_containers(name, NULL);
    cJSON *doc;
    int code = snapshot_fails(store, config, &doc);
    cr_assert_eq(code, 4, "not found");
    const char *err = ctr_str(doc, "error");
    cr_assert(strstr(err, name) && strstr(err, "not found"), "%s", err);
    cJSON_Delete(doc);
    free(config);
    free(name);
    rbt_rmtree(store);
    free(store);
}

Test(container_errors, config_without_containers_or_project_is_refused, .timeout = 60)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *config = rbt_fmt("{\"engine\":\"%s\"}", ctr_socket());
    cJSON *doc;
    int code = snapshot_fails(store, config, &doc);
    cr_assert_eq(code, 3);
    cr_assert(strstr(ctr_str(doc, "error"), "compose_project"), "%s", ctr_str(doc, "error"));
    cJSON_Delete(doc);
    free(config);
    rbt_rmtree(store);
    free(store);
}

Test(container_errors, empty_compose_project_is_named, .timeout = 60)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *project = ctr_unique("rbt-noproj");
    char *config = ctr_config_project(project);
    cJSON *doc;
    snapshot_fails(store, config, &doc);
    cr_assert(strstr(ctr_str(doc, "error"), project), "%s", ctr_str(doc, "error"));
    cJSON_Delete(doc);
    free(config);
    free(project);
    rbt_rmtree(store);
    free(store);
}

/* save_image false and the image deleted since: the rollback cannot
 * recreate the container, says why, and does not touch the live one. */
Test(container_errors, missing_unsaved_image_changes_nothing, .timeout = 120)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *name = ctr_unique("rbt-noimg");
    char *image = ctr_make_image("v1", name);
    ctr_run(name, "-e A=1", image);
    char *config = rbt_fmt("{\"containers\":[\"%s\"],\"engine\":\"%s\",\"save_image\":false}", name,
                           ctr_socket());
    cJSON *snap;
    int code = ctr_rbhost_json(store, &snap,
                               "create-snapshot --id n1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "%s", ctr_str(snap, "error"));
    cr_assert_null(ctr_get(snap, "metadata.containers.0.image_blob"));
    cJSON_Delete(snap);
    free(ctr_podman_ok("rm -f -t 0 %s", name));
    ctr_run(name, "-e A=2", "localhost/rbtest:v2");
    free(ctr_podman_ok("rmi %s", image));
    cJSON *live = ctr_inspect(name);
    char *live_id = strdup(ctr_str(live, "Id"));
    cJSON_Delete(live);

    cJSON *rec;
    code = ctr_rbhost_json(store, &rec, "execute-rollback --id n1 --yes");
    cr_assert_eq(code, 4, "the image is not found: %s", cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(ctr_str(rec, "status"), "failed");
    char *text = cJSON_PrintUnformatted(rec);
    cr_assert(strstr(text, name) && strstr(text, "save_image was false"), "%s", text);
    free(text);
    cJSON *after = ctr_inspect(name);
    cr_assert_str_eq(ctr_str(after, "Id"), live_id);
    cr_assert(ctr_is_running(after));
    cJSON_Delete(after);

    cJSON_Delete(rec);
    free(live_id);
    free(config);
    free(image);
    ctr_remove_all(name);
    free(name);
    rbt_rmtree(store);
    free(store);
}

/* The recorded container bind-mounts a file that is gone by the time of
 * the rollback: the engine makes a directory in its place and starting the
 * new container fails after the live one was stopped and renamed, so the
 * live one must get its name back and run again. */
Test(container_errors, failed_rollback_puts_the_live_container_back, .timeout = 120)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *data = rbt_tmpdir();
    char *file = rbt_fmt("%s/release", data);
    rbt_spit(file, "rbtest mounted\n");
    char *name = ctr_unique("rbt-undo");
    char *opts = rbt_fmt("-e A=1 -v %s:/etc/rbtest-release", file);
    ctr_run(name, opts, "localhost/rbtest:v1");
    char *config = ctr_config_containers(name, NULL);
    cJSON *snap;
    int code = ctr_rbhost_json(store, &snap,
                               "create-snapshot --id u1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "%s", ctr_str(snap, "error"));
    cJSON_Delete(snap);

    free(ctr_podman_ok("rm -f -t 0 %s", name));
    ctr_run(name, "-e A=2", "localhost/rbtest:v2");
    cJSON *live = ctr_inspect(name);
    char *live_id = strdup(ctr_str(live, "Id"));
    cJSON_Delete(live);
    cr_assert_eq(unlink(file), 0);

    cJSON *rec;
    code = ctr_rbhost_json(store, &rec, "execute-rollback --id u1 --yes");
    cr_assert_neq(code, 0, "the rollback cannot succeed: %s", cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(ctr_str(rec, "status"), "failed");
    char *text = cJSON_PrintUnformatted(rec);
    cr_assert(strstr(text, name), "the failure names the container: %s", text);
    cr_assert(strstr(text, "put back as it was"), "and says nothing was left half-done: %s", text);
    free(text);

    cJSON *after = ctr_inspect(name);
    cr_assert_not_null(after);
    cr_assert_str_eq(ctr_str(after, "Id"), live_id, "the live container has its name back");
    cr_assert(ctr_is_running(after), "and runs again");
    cr_assert(ctr_has_env(after, "A=2"));
    cJSON_Delete(after);
    char *kept = rbt_fmt("%s.rbhost-pre-%s", name, ctr_str(rec, "rollback_id"));
    cJSON *none = ctr_inspect(kept);
    cr_assert_null(none, "no renamed container is left behind");

    free(kept);
    cJSON_Delete(rec);
    free(live_id);
    free(config);
    free(opts);
    ctr_remove_all(name);
    free(name);
    free(file);
    rbt_rmtree(data);
    free(data);
    rbt_rmtree(store);
    free(store);
}
