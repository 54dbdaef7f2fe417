/* The validation tests that need libgit2 and libcurl, and the HTTP requests
 * of watch rules and webhooks. Built as a module of its own, loaded by the
 * core on first use (see rb_checks_module.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <git2.h>
#include <string.h>
#include <strings.h>

#include "rb_checks_module.h"

static cJSON *check_git_commit(const cJSON *test, const char *default_repo)
{
    const char *expected = rb_check_str(test, "expected_commit");
    const char *repo_path = rb_check_str(test, "repo_path");
    if (!repo_path)
        repo_path = default_repo ? default_repo : ".";
    cJSON *r = rb_check_result("git_commit");
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

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

static cJSON *check_health(const cJSON *test)
{
    const char *url = rb_check_str(test, "url");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(test, "expected_status");
    const cJSON *tmo = cJSON_GetObjectItemCaseSensitive(test, "timeout");
    long expected = cJSON_IsNumber(exp) ? (long)exp->valuedouble : 200;
    long timeout_ms = cJSON_IsNumber(tmo) ? (long)(tmo->valuedouble * 1000) : 10000;
    const char *ca_file = rb_check_str(test, "ca_file");
    cJSON *r = rb_check_result("health_check");
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
        if (ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
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

static CURL *request_new(const char *url, double timeout)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    return c;
}

static int http_sample(const char *url, double timeout, long *status, double *seconds, char *err,
                       size_t errlen)
{
    CURL *c = request_new(url, timeout);
    if (!c) {
        snprintf(err, errlen, "cannot start a request");
        return -1;
    }
    CURLcode cc = curl_easy_perform(c);
    double total = 0;
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
    *seconds = total;
    *status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(err, errlen, "%s", curl_easy_strerror(cc));
    curl_easy_cleanup(c);
    return cc == CURLE_OK ? 0 : -1;
}

static int http_post_json(const char *url, const char *const *headers, const char *body,
                          double timeout, long *status, char *err, size_t errlen)
{
    CURL *c = request_new(url, timeout);
    if (!c) {
        snprintf(err, errlen, "cannot start a request");
        return -1;
    }
    struct curl_slist *list = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t i = 0; headers && headers[i] && list; i++) {
        struct curl_slist *n = curl_slist_append(list, headers[i]);
        if (n)
            list = n;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode cc = curl_easy_perform(c);
    *status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(err, errlen, "%s", curl_easy_strerror(cc));
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    return cc == CURLE_OK ? 0 : -1;
}

static const rb_checks_module module = {RB_CHECKS_MODULE_VERSION, check_git_commit, check_health,
                                        http_sample, http_post_json};

RB_EXPORT const rb_checks_module *rb_checks_module_entry(void);
RB_EXPORT const rb_checks_module *rb_checks_module_entry(void)
{
    return &module;
}
