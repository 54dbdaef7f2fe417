#include "rb_checks.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
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
#include "rb_progress.h"

extern char **environ;

typedef struct check_kind {
    const char *name;
    const char *const *required;
    const char *const *optional;
    cJSON *(*run)(const cJSON *test, const char *default_repo);
} check_kind;

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static cJSON *result_for(const char *name)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "test", name);
    return r;
}

static cJSON *run_file_exists(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    const char *path = str(test, "path");
    cJSON *r = result_for("file_exists");
    cJSON_AddStringToObject(r, "path", path);
    struct stat st;
    int ok = lstat(path, &st) == 0;
    if (!ok)
        cJSON_AddStringToObject(r, "error", strerror(errno));
    cJSON_AddBoolToObject(r, "passed", ok);
    return r;
}

static cJSON *run_git_commit(const cJSON *test, const char *default_repo)
{
    const char *expected = str(test, "expected_commit");
    const char *repo_path = str(test, "repo_path");
    if (!repo_path)
        repo_path = default_repo ? default_repo : ".";
    cJSON *r = result_for("git_commit");
    cJSON_AddStringToObject(r, "expected", expected);
    cJSON_AddStringToObject(r, "repo_path", repo_path);
    git_libgit2_init();
    git_repository *repo = NULL;
    git_oid oid;
    int passed = 0;
    if (git_repository_open_ext(&repo, repo_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
        git_reference_name_to_id(&oid, repo, "HEAD") < 0) {
        const git_error *ge = git_error_last();
        cJSON_AddNullToObject(r, "actual");
        cJSON_AddStringToObject(r, "error", ge && ge->message ? ge->message : "cannot read HEAD");
    } else {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &oid);
        cJSON_AddStringToObject(r, "actual", hex);
        /* An abbreviated expected commit matches as a prefix, as git does. */
        size_t n = strlen(expected);
        passed = n >= 4 && n <= GIT_OID_HEXSZ && strncasecmp(hex, expected, n) == 0;
    }
    git_repository_free(repo);
    git_libgit2_shutdown();
    cJSON_AddBoolToObject(r, "passed", passed);
    return r;
}

static int run_argv(char *const argv[], int quiet, double timeout, int *status_out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
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
            found = !strcmp(comm, name);
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static cJSON *run_service_status(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    cJSON *r = result_for("service_status");
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

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

static cJSON *run_health_check(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    const char *url = str(test, "url");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(test, "expected_status");
    const cJSON *tmo = cJSON_GetObjectItemCaseSensitive(test, "timeout");
    long expected = cJSON_IsNumber(exp) ? (long)exp->valuedouble : 200;
    long timeout_ms = cJSON_IsNumber(tmo) ? (long)(tmo->valuedouble * 1000) : 10000;
    cJSON *r = result_for("health_check");
    cJSON_AddStringToObject(r, "url", url);
    cJSON_AddNumberToObject(r, "expected", (double)expected);
    CURL *c = curl_easy_init();
    long code = 0;
    CURLcode cc = CURLE_FAILED_INIT;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        cc = curl_easy_perform(c);
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
    }
    if (cc == CURLE_OK)
        cJSON_AddNumberToObject(r, "actual", (double)code);
    else {
        cJSON_AddNullToObject(r, "actual");
        cJSON_AddStringToObject(r, "error", curl_easy_strerror(cc));
    }
    cJSON_AddBoolToObject(r, "passed", cc == CURLE_OK && code == expected);
    return r;
}

static cJSON *run_command(const cJSON *test, const char *default_repo)
{
    (void)default_repo;
    const char *cmd = str(test, "run");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(test, "expect_exit");
    const cJSON *tmo = cJSON_GetObjectItemCaseSensitive(test, "timeout");
    int expected = cJSON_IsNumber(exp) ? exp->valueint : 0;
    double timeout = cJSON_IsNumber(tmo) ? tmo->valuedouble : 300;
    cJSON *r = result_for("command");
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
static const char *const hc_opt[] = {"expected_status", "timeout", NULL};
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
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "validation: tests[%zu] is not an object",
                            i);
    const char *type = str(t, "type");
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
    static const char *const strings[] = {"path", "expected_commit", "repo_path", "url", "run"};
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
    const check_kind *k = kind_of(str(test, "type"));
    return k->run(test, default_repo);
}
