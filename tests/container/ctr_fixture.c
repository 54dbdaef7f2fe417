#include "ctr_fixture.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ctr_socket(void)
{
    return rbt_server_env("RBT_PODMAN_SOCKET");
}

char *ctr_unique(const char *prefix)
{
    static int counter;
    return rbt_fmt("%s-%d-%d", prefix, (int)getpid(), ++counter);
}

static char *podman_command(const char *fmt, va_list ap)
{
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    const char *conf = rbt_server_env("RBT_PODMAN_CONTAINERS_CONF");
    const char *storage = rbt_server_env("RBT_PODMAN_STORAGE_CONF");
    const char *registries = getenv("RBT_PODMAN_REGISTRIES_CONF");
    char *cmd = rbt_fmt("CONTAINERS_CONF='%s' CONTAINERS_STORAGE_CONF='%s' "
                        "CONTAINERS_REGISTRIES_CONF='%s' podman %s",
                        conf, storage, registries ? registries : "/dev/null", args);
    free(args);
    return cmd;
}

rbt_run ctr_podman(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = podman_command(fmt, ap);
    va_end(ap);
    rbt_run r = rbt_sh("%s", cmd);
    free(cmd);
    return r;
}

char *ctr_podman_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = podman_command(fmt, ap);
    va_end(ap);
    rbt_run r = rbt_sh("%s", cmd);
    cr_assert_eq(r.code, 0, "%s\nexit %d: %s", cmd, r.code, r.err);
    free(cmd);
    size_t n = strlen(r.out);
    while (n > 0 && (r.out[n - 1] == '\n' || r.out[n - 1] == '\r'))
        r.out[--n] = '\0';
    free(r.err);
    return r.out;
}

void ctr_remove_all(const char *prefix)
{
    char *list = ctr_podman_ok("ps -a --format '{{.Names}}'");
    char *save = NULL;
    for (char *n = strtok_r(list, "\n", &save); n; n = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(n, prefix, strlen(prefix))) {
            rbt_run r = ctr_podman("rm -f -t 0 %s", n);
            rbt_run_free(&r);
        }
    }
    free(list);
}

char *ctr_make_image(const char *base, const char *name)
{
    char *tmp = ctr_unique("rbt-img-src");
    char *ref = rbt_fmt("localhost/%s:%s", name, base);
    free(ctr_podman_ok("create --name %s localhost/rbtest:%s", tmp, base));
    free(ctr_podman_ok("commit --quiet --change 'LABEL rbt.image=%s' %s %s", name, tmp, ref));
    free(ctr_podman_ok("rm %s", tmp));
    free(tmp);
    return ref;
}

void ctr_run(const char *name, const char *options, const char *image)
{
    free(ctr_podman_ok("run -d --name %s %s %s", name, options, image));
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0, n = size * nmemb;
    char *nb = realloc(*buf, old + n + 1);
    cr_assert_not_null(nb);
    memcpy(nb + old, ptr, n);
    nb[old + n] = '\0';
    *buf = nb;
    return n;
}

cJSON *ctr_inspect(const char *name)
{
    char *url = rbt_fmt("http://localhost/v1.41/containers/%s/json", name);
    char *body = NULL;
    CURL *curl = curl_easy_init();
    cr_assert_not_null(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, ctr_socket());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    cr_assert_eq(rc, CURLE_OK, "GET %s: %s", url, curl_easy_strerror(rc));
    free(url);
    cJSON *doc = status == 200 ? rbt_json(body) : NULL;
    free(body);
    return doc;
}

const char *ctr_image_id(const cJSON *inspect)
{
    return ctr_str(inspect, "Image");
}

int ctr_is_running(const cJSON *inspect)
{
    return cJSON_IsTrue(ctr_get(inspect, "State.Running"));
}

int ctr_has_env(const cJSON *inspect, const char *entry)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, ctr_get(inspect, "Config.Env"))
    {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, entry))
            return 1;
    }
    return 0;
}

int ctr_image_exists(const char *ref)
{
    rbt_run r = ctr_podman("image exists %s", ref);
    int code = r.code;
    rbt_run_free(&r);
    return code == 0;
}

char *ctr_config_containers(const char *name1, const char *name2)
{
    if (name2)
        return rbt_fmt("{\"containers\":[\"%s\",\"%s\"],\"engine\":\"unix://%s\"}", name1, name2,
                       ctr_socket());
    return rbt_fmt("{\"containers\":[\"%s\"],\"engine\":\"unix://%s\"}", name1, ctr_socket());
}

char *ctr_config_project(const char *project)
{
    return rbt_fmt("{\"compose_project\":\"%s\",\"engine\":\"%s\"}", project, ctr_socket());
}

int ctr_rbhost_json(const char *store, cJSON **doc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(store, "--json %s", args);
    *doc = cJSON_Parse(r.out);
    cr_assert_not_null(*doc, "rbhost %s\nexit %d, no JSON on stdout: %s\nstderr: %s", args, r.code,
                       r.out, r.err);
    free(args);
    int code = r.code;
    rbt_run_free(&r);
    return code;
}

const cJSON *ctr_get(const cJSON *doc, const char *path)
{
    char *copy = strdup(path);
    cr_assert_not_null(copy);
    const cJSON *cur = doc;
    char *save = NULL;
    for (char *part = strtok_r(copy, ".", &save); part && cur; part = strtok_r(NULL, ".", &save)) {
        if (cJSON_IsArray(cur))
            cur = cJSON_GetArrayItem(cur, atoi(part));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, part);
    }
    free(copy);
    return cur;
}

const char *ctr_str(const cJSON *doc, const char *path)
{
    const cJSON *v = ctr_get(doc, path);
    return cJSON_IsString(v) ? v->valuestring : "";
}
