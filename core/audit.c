/* The audit log: who ran which state-changing command, on what, with what
 * result. Each line is a JSON object whose "prev" is the SHA-256 of the
 * line before it (of the empty string for the first), and whose "seq" is
 * its line number, so that an edited, inserted or removed line breaks the
 * chain at a line verify can name. */
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rb_audit.h"
#include "rb_config.h"
#include "rb_ctx.h"
#include "rb_error.h"

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        n = 0;
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[n ? 64 : 0] = '\0';
}

/* Keys whose values are secrets whatever backend they belong to; the
 * backends' declared secret keys are not known here without loading them. */
static int secret_key(const char *name)
{
    static const char *const words[] = {"password",   "passwd",     "secret",     "token",
                                        "passphrase", "credential", "private_key"};
    for (size_t i = 0; name && i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(name, words[i]))
            return 1;
    return 0;
}

static void redact_secret_keys(cJSON *v)
{
    cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        if (c->string && secret_key(c->string) && !cJSON_IsObject(c) && !cJSON_IsArray(c)) {
            cJSON_ReplaceItemViaPointer(v, c, cJSON_CreateString("<redacted>"));
            return redact_secret_keys(v); /* the walk's item was replaced */
        }
        redact_secret_keys(c);
    }
}

/* One argument fit to be written down: JSON documents (--config, --spec,
 * --validation) lose their secrets, as do URLs and key=value strings. */
static char *redact_arg(const char *arg)
{
    const char *value = arg;
    size_t prefix = 0;
    if (!strncmp(arg, "--", 2) && strchr(arg, '=')) {
        value = strchr(arg, '=') + 1;
        prefix = (size_t)(value - arg);
    }
    char *out = NULL;
    if (*value == '{' || *value == '[') {
        cJSON *j = cJSON_Parse(value);
        if (j) {
            cJSON *r = rb_config_redact(NULL, j);
            redact_secret_keys(r);
            char *text = r ? cJSON_PrintUnformatted(r) : NULL;
            if (text && asprintf(&out, "%.*s%s", (int)prefix, arg, text) < 0)
                out = NULL;
            free(text);
            cJSON_Delete(r);
            cJSON_Delete(j);
            return out;
        }
    }
    out = strdup(arg);
    if (out)
        rb_config_redact_string(out);
    return out;
}

char *rb_audit_command_line(int argc, char **argv)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    strcpy(s, "rbhost");
    len = strlen(s);
    for (int i = 0; i < argc; i++) {
        char *a = redact_arg(argv[i]);
        if (!a) {
            free(s);
            return NULL;
        }
        size_t n = strlen(a);
        if (len + n + 2 > cap) {
            cap = (len + n + 2) * 2;
            char *g = realloc(s, cap);
            if (!g) {
                free(a);
                free(s);
                return NULL;
            }
            s = g;
        }
        s[len++] = ' ';
        memcpy(s + len, a, n + 1);
        len += n;
        free(a);
    }
    return s;
}

static void add_id(cJSON *ids, const char *id)
{
    if (!id || !*id)
        return;
    const cJSON *e;
    cJSON_ArrayForEach(e, ids) if (!strcmp(e->valuestring, id)) return;
    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
}

/* The snapshots and rollbacks the command named or touched. */
static cJSON *collect_ids(const rb_audit_event *ev)
{
    cJSON *ids = cJSON_CreateArray();
    for (int i = 1; i < ev->argc; i++) {
        if (!strcmp(ev->argv[i], "--id") && i + 1 < ev->argc)
            add_id(ids, ev->argv[i + 1]);
        else if (!strncmp(ev->argv[i], "--id=", 5))
            add_id(ids, ev->argv[i] + 5);
    }
    static const char *const keys[] = {"snapshot_id", "rollback_id", "safety_snapshot_id"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        add_id(ids, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->response, keys[k])));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ev->response, "removed"))
        add_id(ids, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id")));
    return ids;
}

static const char *status_of(int exit_code)
{
    return exit_code == 0 ? "success" : exit_code == 1 ? "partial" : "failed";
}

static cJSON *who(void)
{
    cJSON *o = cJSON_CreateObject();
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, "time", when);
    uid_t uid = getuid();
    struct passwd pw, *found = NULL;
    char buf[4096];
    char name[64];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found)
        snprintf(name, sizeof name, "%s", found->pw_name);
    else
        snprintf(name, sizeof name, "%lu", (unsigned long)uid);
    cJSON_AddStringToObject(o, "user", name);
    cJSON_AddNumberToObject(o, "uid", (double)uid);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "unknown");
    cJSON_AddStringToObject(o, "host", host);
    return o;
}

typedef struct pending_line {
    cJSON *entry; /* everything but seq and prev */
} pending_line;

static char *make_line(const char *last, void *arg)
{
    pending_line *p = arg;
    double seq = 1;
    char prev[65];
    if (last) {
        sha256_hex(last, strlen(last), prev);
        cJSON *before = cJSON_Parse(last);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(before, "seq");
        /* After a damaged line the count goes on from the damage: verify
         * reports it, and appending must still work. */
        seq = cJSON_IsNumber(s) ? s->valuedouble + 1 : 0;
        cJSON_Delete(before);
    } else {
        snprintf(prev, sizeof prev, "%s", RB_AUDIT_GENESIS);
    }
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "seq", seq);
    for (cJSON *c = p->entry->child; c; c = c->next)
        cJSON_AddItemToObject(line, c->string, cJSON_Duplicate(c, 1));
    cJSON_AddStringToObject(line, "prev", prev);
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text)
        rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return text;
}

/* The context's store when the command opened it, else the store on disk
 * (never created for the log's sake); *owned when the caller closes it. */
static int audit_store(rb_ctx *ctx, rb_store **out, int *owned)
{
    *owned = 0;
    if (ctx->store) {
        *out = ctx->store;
        return 0;
    }
    int rc = rb_store_open(out, ctx->store_location, 0);
    *owned = rc == 0;
    return rc;
}

int rb_audit_record(rb_ctx *ctx, const rb_audit_event *ev)
{
    rb_store *store;
    int owned;
    int rc = audit_store(ctx, &store, &owned);
    if (rc == RB_ENOTFOUND) {
        rb_error_clear();
        return 0;
    }
    if (rc)
        return rc;
    char *command = rb_audit_command_line(ev->argc, ev->argv);
    cJSON *entry = who();
    cJSON_AddStringToObject(entry, "command", command ? command : "");
    free(command);
    cJSON_AddItemToObject(entry, "ids", collect_ids(ev));
    cJSON *result = cJSON_AddObjectToObject(entry, "result");
    cJSON_AddStringToObject(result, "status", status_of(ev->exit_code));
    cJSON_AddNumberToObject(result, "exit_code", ev->exit_code);
    if (ev->error && *ev->error) {
        char *msg = strdup(ev->error);
        if (msg)
            rb_config_redact_string(msg);
        cJSON_AddStringToObject(result, "error", msg ? msg : "");
        free(msg);
    }
    pending_line p = {entry};
    rc = rb_store_audit_append(store, make_line, &p);
    cJSON_Delete(entry);
    if (owned)
        rb_store_close(store);
    if (rc)
        rb_error_prefix("the audit log was not written");
    return rc;
}

/* The log split into lines (the text is modified in place). */
static char **split_lines(char *text, size_t len, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    if (len > 0 && text[len - 1] != '\n')
        n++;
    char **lines = malloc((n ? n : 1) * sizeof *lines);
    if (!lines)
        return NULL;
    size_t k = 0;
    char *p = text;
    while (k < n) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lines[k++] = p;
        p = nl ? nl + 1 : p + strlen(p);
    }
    *count = n;
    return lines;
}

static int read_log(rb_ctx *ctx, char **text, char ***lines, size_t *n)
{
    rb_store *store;
    *text = NULL;
    *lines = NULL;
    *n = 0;
    int rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, &store);
    if (rc == RB_ENOTFOUND) {
        rb_error_clear();
        return 0;
    }
    size_t len = 0;
    if (rc || (rc = rb_store_audit_read(store, text, &len)))
        return rc;
    *lines = split_lines(*text, len, n);
    if (!*lines) {
        free(*text);
        *text = NULL;
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    return 0;
}

int rb_audit_list(rb_ctx *ctx, long last, cJSON **response)
{
    char *text;
    char **lines;
    size_t n;
    int rc = read_log(ctx, &text, &lines, &n);
    if (rc)
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON *entries = cJSON_AddArrayToObject(r, "entries");
    size_t from = last > 0 && (size_t)last < n ? n - (size_t)last : 0;
    for (size_t i = from; i < n; i++) {
        cJSON *e = cJSON_Parse(lines[i]);
        if (!e) {
            /* Shown as it is: listing is not judging; verify does that. */
            e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "line", (double)(i + 1));
            cJSON_AddStringToObject(e, "unparsable", lines[i]);
        }
        cJSON_AddItemToArray(entries, e);
    }
    free(lines);
    free(text);
    *response = r;
    return 0;
}

/* The first problem in the chain, as {line, problem}; NULL when intact. */
static cJSON *first_break(char **lines, size_t n)
{
    char prev[65];
    snprintf(prev, sizeof prev, "%s", RB_AUDIT_GENESIS);
    char *msg = NULL;
    size_t at = 0;
    for (size_t i = 0; i < n && !msg; i++) {
        size_t line = i + 1;
        cJSON *e = cJSON_Parse(lines[i]);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "prev"));
        at = line;
        if (!e || !cJSON_IsNumber(seq) || !p) {
            if (asprintf(&msg, "line %zu is not an audit entry (edited, or cut short by a crash)",
                         line) < 0)
                msg = NULL;
        } else if (seq->valuedouble > (double)line) {
            if (asprintf(&msg, "line %zu holds entry %.0f: %.0f line(s) before it were removed",
                         line, seq->valuedouble, seq->valuedouble - (double)line) < 0)
                msg = NULL;
        } else if (seq->valuedouble < (double)line) {
            if (asprintf(&msg,
                         "line %zu holds entry %.0f again: a line was inserted at or before it",
                         line, seq->valuedouble) < 0)
                msg = NULL;
        } else if (strcmp(p, prev) != 0) {
            if (line == 1) {
                if (asprintf(&msg, "line 1 does not start the chain: it was edited") < 0)
                    msg = NULL;
            } else {
                at = line - 1;
                if (asprintf(&msg,
                             "line %zu was edited (or replaced): line %zu records another hash "
                             "for it",
                             line - 1, line) < 0)
                    msg = NULL;
            }
        }
        cJSON_Delete(e);
        sha256_hex(lines[i], strlen(lines[i]), prev);
    }
    if (!msg)
        return NULL;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "line", (double)at);
    cJSON_AddStringToObject(b, "problem", msg);
    free(msg);
    return b;
}

int rb_audit_verify(rb_ctx *ctx, cJSON **response)
{
    char *text;
    char **lines;
    size_t n;
    int rc = read_log(ctx, &text, &lines, &n);
    if (rc)
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "lines", (double)n);
    cJSON *problem = first_break(lines, n);
    char head[65];
    snprintf(head, sizeof head, "%s", RB_AUDIT_GENESIS);
    if (n > 0)
        sha256_hex(lines[n - 1], strlen(lines[n - 1]), head);
    if (problem) {
        cJSON_AddStringToObject(r, "status", "corrupt");
        const char *msg =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(problem, "problem"));
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "audit log %s/audit.log: %s",
                          rb_ctx_store_location(ctx), msg);
        cJSON_AddItemToObject(r, "first_problem", problem);
    } else {
        cJSON_AddStringToObject(r, "status", "intact");
        cJSON_AddStringToObject(r, "head", head);
    }
    free(lines);
    free(text);
    *response = r;
    return rc;
}
