/* Notifications: one JSON event per step of a rollback, POSTed to
 * webhooks (through the checks module's libcurl) or handed to a command.
 * Delivery is best effort with a short timeout: a notification that fails
 * is logged and the rollback goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rb_checks_module.h"
#include "rb_error.h"
#include "rb_events.h"
#include "rb_log.h"

/* Header values may name environment variables, "${TOKEN}", so that a
 * secret is read when sending and never stored with the snapshot. */
static void expand(const char *in, char *out, size_t len)
{
    size_t o = 0;
    while (*in && o + 1 < len) {
        const char *end;
        if (in[0] == '$' && in[1] == '{' && (end = strchr(in + 2, '}'))) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - in - 2), in + 2);
            const char *v = getenv(name);
            o += (size_t)snprintf(out + o, len - o, "%s", v ? v : "");
            if (o >= len)
                o = len - 1;
            in = end + 1;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

static void post(const cJSON *n, const char *body)
{
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "url"));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(n, "timeout");
    double timeout = cJSON_IsNumber(t) ? t->valuedouble : 5;
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(n, "headers");
    size_t count = (size_t)cJSON_GetArraySize(headers);
    char **lines = calloc(count + 1, sizeof *lines);
    const cJSON *h;
    size_t i = 0;
    cJSON_ArrayForEach(h, headers)
    {
        char value[2048], line[2304];
        expand(h->valuestring, value, sizeof value);
        snprintf(line, sizeof line, "%s: %s", h->string, value);
        if (lines)
            lines[i++] = strdup(line);
    }
    const rb_checks_module *m = rb_checks_module_load();
    long status = 0;
    char err[256] = "";
    if (!m)
        snprintf(err, sizeof err, "%s", rb_error_last()->message);
    else if (m->http_post_json(url, (const char *const *)lines, body, timeout, &status, err,
                               sizeof err) == 0 &&
             (status < 200 || status >= 300))
        snprintf(err, sizeof err, "HTTP status %ld", status);
    if (err[0])
        rb_log(RB_LOG_WARN, "notification to %s not delivered: %s", url, err);
    for (i = 0; lines && i < count; i++)
        free(lines[i]);
    free(lines);
}

/* A command notification gets the event as RBHOST_EVENT_JSON, under the
 * same runner as hooks (timeout, its own process group). */
static void command(rb_events *ev, const cJSON *n, const char *event, const char *body)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(n, "timeout");
    cJSON *h = cJSON_CreateObject();
    cJSON_AddItemToObject(h, "run", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(n, "run"), 1));
    cJSON_AddNumberToObject(h, "timeout", cJSON_IsNumber(t) ? t->valuedouble : 10);
    rb_events one = {cJSON_CreateObject(), NULL, cJSON_Duplicate(ev->fields, 1)};
    cJSON *list = cJSON_AddArrayToObject(one.hooks, event);
    cJSON_AddItemToArray(list, h);
    cJSON_AddStringToObject(one.fields, "event_json", body);
    int code = rb_hooks_run(&one, event, NULL);
    if (code)
        rb_log(RB_LOG_WARN, "notification command for %s failed (exit %d)", event, code);
    cJSON_Delete(one.hooks);
    cJSON_Delete(one.fields);
}

void rb_events_emit(rb_events *ev, const char *event, const cJSON *payload)
{
    if (!ev || !cJSON_GetArraySize(ev->notify))
        return;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "event", event);
    cJSON_AddNumberToObject(doc, "timestamp", (double)time(NULL));
    const cJSON *f;
    cJSON_ArrayForEach(f, ev->fields) cJSON_AddItemToObject(doc, f->string, cJSON_Duplicate(f, 1));
    cJSON_ArrayForEach(f, payload)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, f->string);
        cJSON_AddItemToObject(doc, f->string, cJSON_Duplicate(f, 1));
    }
    char *body = cJSON_PrintUnformatted(doc);
    rb_error_info saved = *rb_error_last();
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", saved.message);
    const cJSON *n;
    cJSON_ArrayForEach(n, ev->notify)
    {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "type"));
        if (!body)
            break;
        if (type && !strcmp(type, "webhook"))
            post(n, body);
        else
            command(ev, n, event, body);
    }
    /* Notifying must not replace the message of what is being reported. */
    if (saved.code)
        rb_error_set(saved.code, saved.klass, "%s", msg);
    cJSON_free(body);
    cJSON_Delete(doc);
}
