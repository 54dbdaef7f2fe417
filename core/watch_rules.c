/* watch: reading the check document, and the latency and error_rate rules
 * judged over a sliding window of samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_checks.h"
#include "rb_checks_module.h"
#include "rb_error.h"
#include "rb_watch.h"

static int bad_key(const cJSON *obj, const char *const *known, const char *what)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(*k, m->string);
        if (!ok)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "%s: unknown key '%s'", what,
                                m->string);
    }
    return 0;
}

static int number(const cJSON *obj, const char *key, const char *what, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "%s: '%s' must be a positive number",
                            what, key);
    *out = v->valuedouble;
    return 0;
}

static int parse_rule(const cJSON *c, size_t i, double interval, rb_watch_rule *r)
{
    char what[64];
    snprintf(what, sizeof what, "check: checks[%zu] (%s)", i, rb_check_str(c, "type"));
    int latency = !strcmp(rb_check_str(c, "type"), "latency");
    static const char *const lat_keys[] = {"type", "url", "p95_ms", "timeout", NULL};
    static const char *const err_keys[] = {"type", "url", "threshold", "timeout", NULL};
    const char *limit_key = latency ? "p95_ms" : "threshold";
    int rc = bad_key(c, latency ? lat_keys : err_keys, what);
    if (rc)
        return rc;
    r->type = rb_check_str(c, "type");
    r->url = rb_check_str(c, "url");
    if (!r->url)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "%s needs 'url' (a string)", what);
    if (!cJSON_GetObjectItemCaseSensitive(c, limit_key))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "%s needs '%s'", what, limit_key);
    r->timeout = interval < 10 ? interval : 10;
    if ((rc = number(c, limit_key, what, &r->limit)) ||
        (rc = number(c, "timeout", what, &r->timeout)))
        return rc;
    if (!latency && r->limit >= 1)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "%s: 'threshold' is a fraction of failed requests, below 1", what);
    return 0;
}

static int int_setting(const cJSON *doc, const char *key, int given, int dflt, int *out)
{
    double v = given > 0 ? given : dflt;
    int rc = given > 0 ? 0 : number(doc, key, "check", &v);
    if (rc == 0 && v != floor(v))
        rc =
            rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "check: '%s' must be a whole number", key);
    *out = (int)v;
    return rc;
}

int rb_watch_plan_parse(const rb_watch_options *o, rb_watch_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    static const char *const doc_keys[] = {
        "checks", "interval", "failures", "window", "hooks", "notify", "max_rollback_attempts",
        NULL};
    const cJSON *in = o->check;
    int rc = 0;
    if (cJSON_IsObject(in))
        rc = bad_key(in, doc_keys, "check");
    else if (!cJSON_IsArray(in))
        rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                          "check: expected a list of checks or {\"checks\": [...]}");
    if (rc)
        return rc;
    plan->doc = cJSON_IsObject(in) ? cJSON_Duplicate(in, 1) : cJSON_CreateObject();
    if (cJSON_IsArray(in))
        cJSON_AddItemToObject(plan->doc, "checks", cJSON_Duplicate(in, 1));
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(plan->doc, "checks");
    if (!cJSON_IsArray(checks) || cJSON_GetArraySize(checks) == 0)
        rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                          "check: 'checks' must list at least one check");
    plan->interval = o->interval > 0 ? o->interval : 10;
    plan->window = o->window > 0 ? o->window : 300;
    if (rc == 0 && o->interval <= 0)
        rc = number(plan->doc, "interval", "check", &plan->interval);
    if (rc == 0 && o->window <= 0)
        rc = number(plan->doc, "window", "check", &plan->window);
    if (rc == 0)
        rc = int_setting(plan->doc, "failures", o->failures, 3, &plan->failures);
    if (rc == 0)
        rc = int_setting(plan->doc, "max_rollback_attempts", o->max_rollback_attempts, 1,
                         &plan->max_attempts);
    plan->hooks = o->hooks ? o->hooks : cJSON_GetObjectItemCaseSensitive(plan->doc, "hooks");
    plan->notify = o->notify ? o->notify : cJSON_GetObjectItemCaseSensitive(plan->doc, "notify");
    cJSON *tests = cJSON_CreateArray();
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, checks)
    {
        if (rc)
            break;
        const char *type = cJSON_IsObject(c) ? rb_check_str(c, "type") : NULL;
        if (type && (!strcmp(type, "latency") || !strcmp(type, "error_rate"))) {
            rb_watch_rule *n = realloc(plan->rules, (plan->nrules + 1) * sizeof *n);
            if (!n) {
                rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
                break;
            }
            plan->rules = n;
            memset(&n[plan->nrules], 0, sizeof *n);
            rc = parse_rule(c, i, plan->interval, &n[plan->nrules++]);
        } else {
            cJSON_AddItemToArray(tests, cJSON_Duplicate(c, 1));
        }
        i++;
    }
    if (rc == 0 && (rc = rb_checks_parse(tests, &plan->tests)))
        rb_error_prefix("check (kinds: the validation tests, latency {url, p95_ms}, "
                        "error_rate {url, threshold})");
    cJSON_Delete(tests);
    /* The rules need `failures` samples inside the window to judge. */
    if (rc == 0 && plan->nrules && plan->window < plan->interval * plan->failures)
        rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                          "check: a window of %gs cannot hold %d samples taken every %gs "
                          "(window >= interval x failures)",
                          plan->window, plan->failures, plan->interval);
    if (rc)
        rb_watch_plan_free(plan);
    return rc;
}

void rb_watch_plan_free(rb_watch_plan *plan)
{
    for (size_t i = 0; i < plan->nrules; i++) {
        free(plan->rules[i].at);
        free(plan->rules[i].seconds);
        free(plan->rules[i].bad);
    }
    free(plan->rules);
    cJSON_Delete(plan->tests);
    cJSON_Delete(plan->doc);
    memset(plan, 0, sizeof *plan);
}

static int push_sample(rb_watch_rule *r, double at, double seconds, int bad)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        double *a = realloc(r->at, cap * sizeof *a);
        if (a)
            r->at = a;
        double *s = realloc(r->seconds, cap * sizeof *s);
        if (s)
            r->seconds = s;
        int *b = realloc(r->bad, cap * sizeof *b);
        if (b)
            r->bad = b;
        if (!a || !s || !b)
            return -1;
        r->cap = cap;
    }
    r->at[r->n] = at;
    r->seconds[r->n] = seconds;
    r->bad[r->n] = bad;
    r->n++;
    return 0;
}

static void drop_old(rb_watch_rule *r, double now, double window)
{
    size_t keep = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (now - r->at[i] > window)
            continue;
        r->at[keep] = r->at[i];
        r->seconds[keep] = r->seconds[i];
        r->bad[keep] = r->bad[i];
        keep++;
    }
    r->n = keep;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank p95 of the window, in milliseconds. */
static double p95_ms(const rb_watch_rule *r)
{
    double *v = malloc(r->n * sizeof *v);
    if (!v)
        return 0;
    memcpy(v, r->seconds, r->n * sizeof *v);
    qsort(v, r->n, sizeof *v, cmp_double);
    size_t rank = (size_t)ceil(0.95 * (double)r->n);
    double p = v[rank ? rank - 1 : 0] * 1000;
    free(v);
    return p;
}

int rb_watch_rules_round(rb_watch_plan *plan, double now, cJSON *results, char *why, size_t whylen)
{
    const rb_checks_module *m = plan->nrules ? rb_checks_module_load() : NULL;
    int crossed = -1;
    for (size_t i = 0; i < plan->nrules; i++) {
        rb_watch_rule *r = &plan->rules[i];
        cJSON *res = rb_check_result(r->type);
        cJSON_AddStringToObject(res, "url", r->url);
        long status = 0;
        double seconds = r->timeout;
        char err[256] = "";
        int ok = m && m->http_sample(r->url, r->timeout, &status, &seconds, err, sizeof err) == 0;
        if (!m)
            snprintf(err, sizeof err, "%s", rb_error_last()->message);
        /* An answer of 400 or more counts as an error: the watch is the only
         * client of this URL, so the service itself is at fault. */
        int bad = !ok || status >= 400;
        drop_old(r, now, plan->window);
        if (push_sample(r, now, seconds, bad) < 0)
            snprintf(err, sizeof err, "out of memory");
        if (ok)
            cJSON_AddNumberToObject(res, "status", (double)status);
        else
            cJSON_AddStringToObject(res, "error", err);
        cJSON_AddNumberToObject(res, "samples", (double)r->n);
        int judged = r->n >= (size_t)plan->failures;
        int over = 0;
        char reason[512] = "";
        if (!strcmp(r->type, "latency")) {
            double p = p95_ms(r);
            cJSON_AddNumberToObject(res, "p95_ms", p);
            cJSON_AddNumberToObject(res, "limit_p95_ms", r->limit);
            over = judged && p > r->limit;
            if (over)
                snprintf(reason, sizeof reason,
                         "latency of %s: p95 %.0f ms over %zu samples > %g ms", r->url, p, r->n,
                         r->limit);
        } else {
            size_t nbad = 0;
            for (size_t k = 0; k < r->n; k++)
                nbad += (size_t)r->bad[k];
            double rate = (double)nbad / (double)r->n;
            cJSON_AddNumberToObject(res, "error_rate", rate);
            cJSON_AddNumberToObject(res, "threshold", r->limit);
            over = judged && rate > r->limit;
            if (over)
                snprintf(reason, sizeof reason,
                         "error rate of %s: %zu of %zu requests failed (%.2f > %g)", r->url, nbad,
                         r->n, rate, r->limit);
        }
        cJSON_AddBoolToObject(res, "judged", judged);
        cJSON_AddBoolToObject(res, "passed", !over);
        cJSON_AddItemToArray(results, res);
        if (over && crossed < 0) {
            crossed = (int)i;
            snprintf(why, whylen, "%s", reason);
        }
    }
    return crossed;
}
