/* Containers with a healthcheck: the rollback is verified only once the
 * recreated container reports healthy, and one that never does is a
 * failed verification, not a completed rollback.
 *
 * podman runs healthchecks from systemd timers, which this engine (no
 * systemd) lacks, so the test runs them itself, as the timer would. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ctr_fixture.h"

/* Runs `podman healthcheck run <name>` every half second for at most
 * `seconds`; returns the driver's pid. */
static pid_t drive_healthchecks(const char *name, int seconds)
{
    rbt_run r = rbt_sh("( for i in $(seq 1 %d); do sleep 0.5; CONTAINERS_CONF='%s' "
                       "CONTAINERS_STORAGE_CONF='%s' podman healthcheck run %s; done ) "
                       "</dev/null >/dev/null 2>&1 & echo $!",
                       seconds * 2, rbt_server_env("RBT_PODMAN_CONTAINERS_CONF"),
                       rbt_server_env("RBT_PODMAN_STORAGE_CONF"), name);
    pid_t pid = (pid_t)atol(r.out);
    rbt_run_free(&r);
    cr_assert_gt(pid, 0);
    return pid;
}

static void stop_driver(pid_t pid)
{
    kill(pid, SIGTERM);
}

/* A container whose healthcheck passes while /tmp/ok exists, made healthy,
 * snapshotted, then replaced by v2. */
static char *setup(const char *store, const char *prefix, int health_timeout)
{
    char *name = ctr_unique(prefix);
    ctr_run(name, "-e A=1 --health-cmd 'test -f /tmp/ok' --health-interval 1s",
            "localhost/rbtest:v1");
    free(ctr_podman_ok("exec %s touch /tmp/ok", name));
    free(ctr_podman_ok("healthcheck run %s", name));
    char *config = rbt_fmt("{\"containers\":[\"%s\"],\"engine\":\"%s\",\"health_timeout\":%d}",
                           name, ctr_socket(), health_timeout);
    cJSON *snap;
    int code = ctr_rbhost_json(store, &snap,
                               "create-snapshot --id h1 --type container --config '%s'", config);
    cr_assert_eq(code, 0, "%s", ctr_str(snap, "error"));
    cr_assert_str_eq(ctr_str(snap, "metadata.containers.0.health"), "healthy");
    cJSON_Delete(snap);
    free(config);
    free(ctr_podman_ok("rm -f -t 0 %s", name));
    ctr_run(name, "-e A=2", "localhost/rbtest:v2");
    return name;
}

Test(container_health, rollback_is_verified_once_healthy, .timeout = 120)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *name = setup(store, "rbt-healthy", 30);
    /* The recreated container starts without /tmp/ok: it turns healthy
     * only when this creates the file, a few seconds in. */
    rbt_run bg = rbt_sh("( sleep 3; CONTAINERS_CONF='%s' CONTAINERS_STORAGE_CONF='%s' podman exec "
                        "%s touch /tmp/ok ) </dev/null >/dev/null 2>&1 &",
                        rbt_server_env("RBT_PODMAN_CONTAINERS_CONF"),
                        rbt_server_env("RBT_PODMAN_STORAGE_CONF"), name);
    rbt_run_free(&bg);
    pid_t driver = drive_healthchecks(name, 30);
    cJSON *rec;
    int code = ctr_rbhost_json(store, &rec, "execute-rollback --id h1 --yes");
    stop_driver(driver);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(ctr_str(rec, "status"), "completed");
    cJSON *now = ctr_inspect(name);
    cr_assert_str_eq(ctr_str(now, "State.Health.Status"), "healthy");
    cr_assert(ctr_has_env(now, "A=1"));
    cJSON_Delete(now);
    cJSON_Delete(rec);
    ctr_remove_all(name);
    free(name);
    rbt_rmtree(store);
    free(store);
}

Test(container_health, never_healthy_fails_verification, .timeout = 120)
{
    ctr_socket();
    char *store = rbt_tmpdir();
    char *name = setup(store, "rbt-unhealthy", 3);
    pid_t driver = drive_healthchecks(name, 15);
    cJSON *rec;
    int code = ctr_rbhost_json(store, &rec, "execute-rollback --id h1 --yes");
    stop_driver(driver);
    cr_assert_neq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cr_assert_str_neq(ctr_str(rec, "status"), "completed");
    char *text = cJSON_PrintUnformatted(rec);
    cr_assert(strstr(text, "health"), "the record says the health is why: %s", text);
    free(text);
    cJSON *now = ctr_inspect(name);
    cr_assert(ctr_has_env(now, "A=1"), "the rollback itself was carried out");
    cJSON_Delete(now);
    cJSON_Delete(rec);
    ctr_remove_all(name);
    free(name);
    rbt_rmtree(store);
    free(store);
}
