/* Helpers for the container suite: the podman API service that
 * tests/servers/podman.sh started, its CLI on the same storage, and rbhost
 * runs against it. */
#ifndef CTR_FIXTURE_H
#define CTR_FIXTURE_H

#include "rbtest.h"

/* The engine socket (skips the test when the server is not running). */
const char *ctr_socket(void);
/* A name no other test or earlier run uses: <prefix>-<pid>-<n>. */
char *ctr_unique(const char *prefix);

/* Runs the podman CLI on the test engine's storage. */
rbt_run ctr_podman(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, asserting success; returns stdout without the trailing newline. */
char *ctr_podman_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Removes every container whose name starts with `prefix` (the ones a
 * test made, and the ones a rollback kept). */
void ctr_remove_all(const char *prefix);

/* A new image of its own (its own id) on top of localhost/rbtest:<base>,
 * tagged localhost/<name>:<base>; deleting it affects no other test. */
char *ctr_make_image(const char *base, const char *name);
/* Starts a detached container: ctr_run("web", "-e A=1", "localhost/rbtest:v1"). */
void ctr_run(const char *name, const char *options, const char *image);

/* The engine's inspect document (Docker API, the way rbhost sees it), or
 * NULL when there is no such container. */
cJSON *ctr_inspect(const char *name);
const char *ctr_image_id(const cJSON *inspect);
int ctr_is_running(const cJSON *inspect);
int ctr_has_env(const cJSON *inspect, const char *entry);
int ctr_image_exists(const char *ref);

/* The config JSON of a container target on the test engine. */
char *ctr_config_containers(const char *name1, const char *name2);
char *ctr_config_project(const char *project);

/* rbhost --json ... in `store`; the parsed document lands in *doc. */
int ctr_rbhost_json(const char *store, cJSON **doc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A member by dotted path ("targets.0.plan.summary"), or NULL. */
const cJSON *ctr_get(const cJSON *doc, const char *path);
/* The string at that path, or "" (never NULL, for assertions). */
const char *ctr_str(const cJSON *doc, const char *path);

#endif
