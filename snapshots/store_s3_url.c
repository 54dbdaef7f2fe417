/* s3:// locations: bucket, prefix, endpoint, region and credentials. */
#include "store_s3_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_internal.h"

#define DEFAULT_RETRIES 4
#define DEFAULT_JOBS    6
#define JOBS_MAX        32

static int bad_url(const char *url, const char *why)
{
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "invalid S3 store '%s': %s", url, why);
}

static int from_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes %XX in place; false on a malformed escape. */
static bool unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '%') {
            int hi = from_hex((unsigned char)s[1]),
                lo = hi < 0 ? -1 : from_hex((unsigned char)s[2]);
            if (hi < 0 || lo < 0)
                return false;
            *o++ = (char)(hi << 4 | lo);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return true;
}

static bool bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '.' || ch == '-'))
            return false;
    }
    return isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[n - 1]);
}

/* Object keys stay within characters that need no encoding, so that every
 * S3 implementation signs and lists them the same way. */
static bool prefix_ok(const char *p)
{
    if (strstr(p, "//") || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
        (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
        return false;
    for (; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._-/", *p)))
            return false;
    return true;
}

static char *env_first(const char *a, const char *b)
{
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    return v && *v ? strdup(v) : NULL;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

/* ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE), profile AWS_PROFILE
 * or "default". */
static void credentials_file(rb_s3 *c)
{
    char *path = env_first("AWS_SHARED_CREDENTIALS_FILE", NULL);
    const char *home = getenv("HOME");
    if (!path && home && *home)
        path = rb_fs_join(home, ".aws/credentials");
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f)
        return;
    const char *profile = getenv("AWS_PROFILE");
    if (!profile || !*profile)
        profile = "default";
    char line[1024];
    bool in = false;
    while (fgets(line, sizeof line, f)) {
        trim(line);
        if (line[0] == '[') {
            char *end = strchr(line, ']');
            if (end)
                *end = '\0';
            char *name = line + 1;
            trim(name);
            in = strcmp(name, profile) == 0;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!in || !eq)
            continue;
        *eq = '\0';
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        if (!strcmp(k, "aws_access_key_id") && !c->access_key)
            c->access_key = strdup(v);
        else if (!strcmp(k, "aws_secret_access_key") && !c->secret_key)
            c->secret_key = strdup(v);
    }
    fclose(f);
}

static int credentials(rb_s3 *c)
{
    c->access_key = env_first("RBHOST_S3_ACCESS_KEY", NULL);
    c->secret_key = env_first("RBHOST_S3_SECRET_KEY", NULL);
    if (!c->access_key && !c->secret_key) {
        c->access_key = env_first("AWS_ACCESS_KEY_ID", NULL);
        c->secret_key = env_first("AWS_SECRET_ACCESS_KEY", NULL);
    }
    if (!c->access_key && !c->secret_key)
        credentials_file(c);
    if (!c->access_key || !c->secret_key)
        return rb_error_set(RB_EPERM, RB_ERRCLASS_CONFIG,
                            "no credentials for S3 store %s: set RBHOST_S3_ACCESS_KEY and "
                            "RBHOST_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials)",
                            c->display);
    return 0;
}

static int set_endpoint(rb_s3 *c, const char *url, const char *endpoint)
{
    const char *rest = NULL;
    if (!strncmp(endpoint, "http://", 7))
        rest = endpoint + 7;
    else if (!strncmp(endpoint, "https://", 8))
        rest = endpoint + 8;
    if (!rest || !*rest || *rest == '/')
        return bad_url(url, "the endpoint must be an http:// or https:// URL");
    const char *slash = strchr(rest, '/');
    size_t host_len = slash ? (size_t)(slash - endpoint) : strlen(endpoint);
    c->scheme_host = strndup(endpoint, host_len);
    c->base_path = strdup(slash ? slash : "");
    if (!c->scheme_host || !c->base_path)
        return rb_store_nomem();
    size_t n = strlen(c->base_path);
    while (n > 0 && c->base_path[n - 1] == '/')
        c->base_path[--n] = '\0';
    return 0;
}

static int parse_query(rb_s3 *c, const char *url, char *query, char **endpoint, char **style)
{
    char *save = NULL;
    for (char *kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return bad_url(url, "query parameters are name=value");
        *eq = '\0';
        char *v = eq + 1;
        if (!unescape(v))
            return bad_url(url, "malformed %-escape in the query");
        char **slot = NULL;
        if (!strcmp(kv, "endpoint"))
            slot = endpoint;
        else if (!strcmp(kv, "region"))
            slot = &c->region;
        else if (!strcmp(kv, "style"))
            slot = style;
        else if (strstr(kv, "key") || strstr(kv, "secret") || strstr(kv, "token"))
            return bad_url(url, "credentials are never read from the store location; set "
                                "RBHOST_S3_ACCESS_KEY and RBHOST_S3_SECRET_KEY");
        else
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "invalid S3 store '%s': unknown parameter '%s' (known: endpoint, "
                                "region, style)",
                                url, kv);
        free(*slot);
        if (!(*slot = strdup(v)))
            return rb_store_nomem();
    }
    return 0;
}

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < lo || n > hi ? def : (int)n;
}

static int parse(rb_s3 *c, const char *url, const rb_store_s3_settings *d)
{
    char *copy = strdup(url + strlen(RB_S3_SCHEME));
    if (!copy)
        return rb_store_nomem();
    char *endpoint = NULL, *style = NULL;
    char *q = strchr(copy, '?');
    int rc = 0;
    if (q) {
        *q++ = '\0';
        rc = parse_query(c, url, q, &endpoint, &style);
    }
    char *slash = rc == 0 ? strchr(copy, '/') : NULL;
    char *prefix = slash ? slash + 1 : "";
    if (slash)
        *slash = '\0';
    if (rc == 0 && !bucket_ok(copy))
        rc = bad_url(url, "the bucket name must be 3 to 63 lowercase letters, digits, '.' or '-'");
    while (rc == 0 && *prefix == '/')
        prefix++;
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        prefix[--plen] = '\0';
    if (rc == 0 && !prefix_ok(prefix))
        rc = bad_url(url, "the prefix may hold only letters, digits, '.', '_', '-' and '/' "
                          "(no empty or '..' parts)");
    if (rc == 0) {
        c->bucket = strdup(copy);
        c->prefix = malloc(plen + 2);
        if (c->prefix)
            snprintf(c->prefix, plen + 2, "%s%s", prefix, plen ? "/" : "");
        size_t dn = strlen(c->bucket ? c->bucket : "") + plen + 8;
        c->display = malloc(dn);
        if (c->display)
            snprintf(c->display, dn, "s3://%s%s%s", c->bucket, plen ? "/" : "", prefix);
        if (!c->bucket || !c->prefix || !c->display)
            rc = rb_store_nomem();
    }
    /* Then rbhost.conf's [s3] section, then the environment. */
    if (rc == 0 && d) {
        if (!endpoint && d->endpoint && !(endpoint = strdup(d->endpoint)))
            rc = rb_store_nomem();
        if (!c->region && d->region && !(c->region = strdup(d->region)))
            rc = rb_store_nomem();
        if (!style && d->style && !(style = strdup(d->style)))
            rc = rb_store_nomem();
        if (d->ca_file && !(c->ca_file = strdup(d->ca_file)))
            rc = rb_store_nomem();
    }
    if (rc == 0 && !c->region)
        c->region = env_first("RBHOST_S3_REGION", "AWS_REGION");
    if (rc == 0 && !c->region && !(c->region = env_first("AWS_DEFAULT_REGION", NULL)) &&
        !(c->region = strdup("us-east-1")))
        rc = rb_store_nomem();
    if (rc == 0 && !endpoint)
        endpoint = env_first("RBHOST_S3_ENDPOINT", "AWS_ENDPOINT_URL");
    if (rc == 0 && !endpoint) {
        size_t n = strlen(c->region) + 32;
        endpoint = malloc(n);
        if (endpoint)
            snprintf(endpoint, n, "https://s3.%s.amazonaws.com", c->region);
        else
            rc = rb_store_nomem();
        c->virtual_style = true;
    }
    if (rc == 0)
        rc = set_endpoint(c, url, endpoint);
    if (rc == 0 && style) {
        if (!strcmp(style, "virtual"))
            c->virtual_style = true;
        else if (!strcmp(style, "path"))
            c->virtual_style = false;
        else
            rc = bad_url(url, "style must be 'path' or 'virtual'");
    }
    free(endpoint);
    free(style);
    free(copy);
    return rc;
}

static int make_cache_name(rb_s3 *c)
{
    size_t n =
        strlen(c->scheme_host) + strlen(c->base_path) + strlen(c->bucket) + strlen(c->prefix) + 4;
    char *id = malloc(n);
    if (!id)
        return rb_store_nomem();
    snprintf(id, n, "%s%s|%s|%s", c->scheme_host, c->base_path, c->bucket, c->prefix);
    char hex[65];
    rb_s3_sha256_hex(id, strlen(id), hex);
    free(id);
    n = strlen(c->bucket) + 20;
    c->cache_name = malloc(n);
    if (!c->cache_name)
        return rb_store_nomem();
    snprintf(c->cache_name, n, "%s-%.16s", c->bucket, hex);
    return 0;
}

int rb_s3_client_new(const char *url, const rb_store_s3_settings *defaults, rb_s3 **out)
{
    *out = NULL;
    rb_s3 *c = calloc(1, sizeof *c);
    if (!c)
        return rb_store_nomem();
    pthread_mutex_init(&c->mu, NULL);
    c->retries = env_int("RBHOST_S3_RETRIES", DEFAULT_RETRIES, 0, 20);
    c->jobs = env_int("RBHOST_S3_JOBS", DEFAULT_JOBS, 1, JOBS_MAX);
    int rc = parse(c, url, defaults);
    if (rc == 0)
        rc = make_cache_name(c);
    if (rc == 0)
        rc = credentials(c);
    if (rc < 0) {
        rb_s3_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

const char *rb_s3_client_display(const rb_s3 *c)
{
    return c->display;
}

const char *rb_s3_client_cache_name(const rb_s3 *c)
{
    return c->cache_name;
}
