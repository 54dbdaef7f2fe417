#include "rb_checks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_checks_module.h"
#include "rb_progress.h"

extern char **environ;

typedef struct check_kind {
    const char *name;
    const char *const *required;
    const char *const *optional;
    cJSON *(*run)(const cJSON *test, const char *default_repo);
} check_kind;

static cJSON *run_file_exists(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    const char *path = rb_check_str(test, "path");
    cJSON *r = rb_check_result("file_exists");
    cJSON_AddStringToObject(r, "path", path);
    struct stat st;
    int ok = lstat(path, &st) == 0;
    if (!ok)
        cJSON_AddStringToObject(r, "error", strerror(errno));
    cJSON_AddBoolToObject(r, "passed", ok);
    return r;
}

/* git_commit and health_check need libgit2 and libcurl; they live in a
 * module loaded only when such a test runs, so that no other command pays
 * for loading those libraries. */
static cJSON *run_in_module(const cJSON *test, const char *default_repo, int git)
{
    const rb_checks_module *m = rb_checks_module_load();
    if (!m) {
        cJSON *r = rb_check_result(git ? "git_commit" : "health_check");
        cJSON_AddStringToObject(r, "error", rb_error_last()->message);
        cJSON_AddBoolToObject(r, "passed", 0);
        return r;
    }
    return git ? m->git_commit(test, default_repo) : m->health_check(test);
}

static cJSON *run_git_commit(const cJSON *test, const char *default_repo)
{
    return run_in_module(test, default_repo, 1);
}

static cJSON *run_health_check(const cJSON *test, const char *default_repo)
{
    return run_in_module(test, default_repo, 0);
}

static int run_argv(char *const argv[], int quiet, double timeout, int *status_out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    } else {
        /* stdout is rbhost's own (one JSON document with --json): what a
         * test command prints goes with the rest of the diagnostics. */
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc)
        return -rc;
    double deadline = rb_monotonic() + timeout;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (rb_monotonic() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -ETIMEDOUT;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    *status_out = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

/* Under systemd, `systemctl is-active`; elsewhere a running process of
 * that name (containers and minimal hosts have no systemd). */
static int process_running(const char *name)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], comm[256];
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof comm, f)) {
            comm[strcspn(comm, "\n")] = '\0';
            /* The kernel keeps only the first 15 characters of the name. */
            found = strlen(name) > 15 ? strlen(comm) == 15 && !strncmp(comm, name, 15)
                                      : !strcmp(comm, name);
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static cJSON *run_service_status(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    cJSON *r = rb_check_result("service_status");
    cJSON *states = cJSON_AddObjectToObject(r, "services");
    const cJSON *services = cJSON_GetObjectItemCaseSensitive(test, "services");
    struct stat st;
    int systemd = stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
    cJSON_AddStringToObject(r, "method", systemd ? "systemd" : "process");
    int passed = 1;
    const cJSON *s;
    cJSON_ArrayForEach(s, services)
    {
        int active = 0;
        if (systemd) {
            int status = 1;
            char *argv[] = {"systemctl", "is-active", "--quiet", s->valuestring, NULL};
            active = run_argv(argv, 1, 30, &status) == 0 && status == 0;
        } else {
            active = process_running(s->valuestring);
        }
        cJSON_AddStringToObject(states, s->valuestring, active ? "active" : "inactive");
        passed &= active;
    }
    cJSON_AddBoolToObject(r, "passed", passed);
    return r;
}

static cJSON *run_command(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    const char *cmd = rb_check_str(test, "run");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(test, "expect_exit");
    const cJSON *tmo = cJSON_GetObjectItemCaseSensitive(test, "timeout");
    int expected = cJSON_IsNumber(exp) ? exp->valueint : 0;
    double timeout = cJSON_IsNumber(tmo) ? tmo->valuedouble : 300;
    cJSON *r = rb_check_result("command");
    cJSON_AddStringToObject(r, "run", cmd);
    cJSON_AddNumberToObject(r, "expected", expected);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    int status = -1;
    int rc = run_argv(argv, 0, timeout, &status);
    if (rc) {
        cJSON_AddNullToObject(r, "actual");
        cJSON_AddStringToObject(r, "error", rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
    } else {
        cJSON_AddNumberToObject(r, "actual", status);
    }
    cJSON_AddBoolToObject(r, "passed", rc == 0 && status == expected);
    return r;
}

static const char *const fe_req[] = {"path", NULL};
static const char *const none[] = {NULL};
static const char *const gc_req[] = {"expected_commit", NULL};
static const char *const gc_opt[] = {"repo_path", NULL};
static const char *const ss_req[] = {"services", NULL};
static const char *const hc_req[] = {"url", NULL};
static const char *const hc_opt[] = {"expected_status", "timeout", "ca_file", NULL};
static const char *const cmd_req[] = {"run", NULL};
static const char *const cmd_opt[] = {"expect_exit", "timeout", NULL};

static const check_kind kinds[] = {
    {"file_exists", fe_req, none, run_file_exists},
    {"git_commit", gc_req, gc_opt, run_git_commit},
    {"service_status", ss_req, none, run_service_status},
    {"health_check", hc_req, hc_opt, run_health_check},
    {"command", cmd_req, cmd_opt, run_command},
};

static const check_kind *kind_of(const char *name)
{
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].name, name))
            return &kinds[i];
    return NULL;
}

static int listed(const char *const *list, const char *k)
{
    for (; *list; list++)
        if (!strcmp(*list, k))
            return 1;
    return 0;
}

static int check_one(const cJSON *t, size_t i)
{
    if (!cJSON_IsObject(t))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "validation: tests[%zu] is not an object", i);
    const char *type = rb_check_str(t, "type");
    const check_kind *k = kind_of(type);
    if (!k)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "validation: tests[%zu]: unknown test type '%s' (known: file_exists, "
                            "git_commit, service_status, health_check, command)",
                            i, type ? type : "(none)");
    const cJSON *m;
    cJSON_ArrayForEach(m, t)
    {
        if (strcmp(m->string, "type") && !listed(k->required, m->string) &&
            !listed(k->optional, m->string))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "validation: tests[%zu] (%s): unknown key '%s'", i, type,
                                m->string);
    }
    for (const char *const *r = k->required; *r; r++)
        if (!cJSON_GetObjectItemCaseSensitive(t, *r))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "validation: tests[%zu] (%s) needs '%s'", i, type, *r);
    const cJSON *services = cJSON_GetObjectItemCaseSensitive(t, "services");
    if (services) {
        const cJSON *s;
        int ok = cJSON_IsArray(services);
        cJSON_ArrayForEach(s, services) ok &= cJSON_IsString(s);
        if (!ok)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "validation: tests[%zu]: services must be a list of names", i);
    }
    static const char *const strings[] = {"path", "expected_commit", "repo_path", "url",
                                          "run",  "ca_file"};
    for (size_t s = 0; s < sizeof strings / sizeof strings[0]; s++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, strings[s]);
        if (v && !cJSON_IsString(v))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "validation: tests[%zu] (%s): '%s' must be a string", i, type,
                                strings[s]);
    }
    static const char *const numbers[] = {"expected_status", "timeout", "expect_exit"};
    for (size_t s = 0; s < sizeof numbers / sizeof numbers[0]; s++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, numbers[s]);
        if (v && !cJSON_IsNumber(v))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "validation: tests[%zu] (%s): '%s' must be a number", i, type,
                                numbers[s]);
    }
    return 0;
}

int rb_checks_parse(const cJSON *validation, cJSON **tests_out)
{
    const cJSON *tests = validation;
    if (cJSON_IsObject(validation)) {
        const cJSON *m;
        cJSON_ArrayForEach(m, validation) if (strcmp(m->string, "tests")) return rb_error_set(
            RB_EINVAL, RB_ERRCLASS_INVALID, "validation: unknown key '%s' (known: tests)",
            m->string);
        tests = cJSON_GetObjectItemCaseSensitive(validation, "tests");
    }
    if (validation && !cJSON_IsArray(tests))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "validation: expected {\"tests\": [...]} or a list of tests");
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tests)
    {
        int rc = check_one(t, i++);
        if (rc)
            return rc;
    }
    *tests_out = tests ? cJSON_Duplicate(tests, 1) : cJSON_CreateArray();
    return *tests_out ? 0 : rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

cJSON *rb_checks_run(const cJSON *test, const char *default_repo)
{
    const check_kind *k = kind_of(rb_check_str(test, "type"));
    return k->run(test, default_repo);
}
