/* Canonical JSON for hashing attributes: the same value always gives the
 * same bytes, whatever order or spacing the writer (Terraform, OpenTofu, a
 * hand edit) used. Members sorted by key bytes, no whitespace, strings with
 * only the escapes JSON requires, integers written as integers. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfstate.h"

typedef struct sink {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} sink;

static void put(sink *s, const char *data, size_t n)
{
    if (s->failed)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *nd = realloc(s->data, cap);
        if (!nd) {
            s->failed = 1;
            return;
        }
        s->data = nd;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, n);
    s->len += n;
    s->data[s->len] = '\0';
}

static void put_str(sink *s, const char *str)
{
    put(s, "\"", 1);
    const char *run = str;
    for (const char *p = str;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        /* Plain bytes go out in one piece up to the next one to escape. */
        put(s, run, (size_t)(p - run));
        run = p + 1;
        if (!c)
            break;
        char esc[8];
        switch (c) {
        case '"':
            put(s, "\\\"", 2);
            break;
        case '\\':
            put(s, "\\\\", 2);
            break;
        case '\n':
            put(s, "\\n", 2);
            break;
        case '\r':
            put(s, "\\r", 2);
            break;
        case '\t':
            put(s, "\\t", 2);
            break;
        case '\b':
            put(s, "\\b", 2);
            break;
        case '\f':
            put(s, "\\f", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(s, esc, 6);
        }
    }
    put(s, "\"", 1);
}

static void put_number(sink *s, double v)
{
    char num[40];
    int n;
    /* Integers below 2^53 are exact in a double: print them without an
     * exponent, so 10 and 1e1 and 10.0 hash alike. */
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && (double)(long long)v == v)
        n = snprintf(num, sizeof num, "%lld", (long long)v);
    else
        n = snprintf(num, sizeof num, "%.17g", v);
    put(s, num, (size_t)n);
}

static int by_key(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a;
    const cJSON *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void put_value(sink *s, const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            n++;
        const cJSON **members = n ? malloc(n * sizeof *members) : NULL;
        if (n && !members) {
            s->failed = 1;
            return;
        }
        size_t i = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            members[i++] = c;
        if (n)
            qsort(members, n, sizeof *members, by_key);
        put(s, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                put(s, ",", 1);
            put_str(s, members[i]->string ? members[i]->string : "");
            put(s, ":", 1);
            put_value(s, members[i]);
        }
        put(s, "}", 1);
        free(members);
    } else if (cJSON_IsArray(v)) {
        put(s, "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                put(s, ",", 1);
            put_value(s, c);
        }
        put(s, "]", 1);
    } else if (cJSON_IsString(v)) {
        put_str(s, v->valuestring ? v->valuestring : "");
    } else if (cJSON_IsNumber(v)) {
        put_number(s, v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        put(s, "true", 4);
    } else if (cJSON_IsFalse(v)) {
        put(s, "false", 5);
    } else {
        put(s, "null", 4);
    }
}

int rb_tfstate_canonical(const void *cjson_item, rb_infra_buf *out)
{
    sink s = {NULL, 0, 0, 0};
    put_value(&s, cjson_item);
    if (s.failed) {
        free(s.data);
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    out->data = s.data;
    out->len = s.len;
    return 0;
}
