/* Finding and rewriting the top-level "serial" of a state document in
 * place. A rollback writes the snapshot's bytes with only the serial
 * changed, so the document Terraform reads back is the one it wrote, down
 * to its formatting, and nothing is lost to a parse-and-print round trip
 * (large numbers, key order, escapes). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfstate.h"

typedef struct scan {
    const char *p;
    const char *end;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* At an opening quote: moves past the closing one. */
static int skip_string(scan *s)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '\\') {
            s->p++;
        } else if (*s->p == '"') {
            s->p++;
            return 0;
        }
    }
    return -1;
}

static int skip_value(scan *s)
{
    if (s->p >= s->end)
        return -1;
    if (*s->p == '"')
        return skip_string(s);
    if (*s->p == '{' || *s->p == '[') {
        size_t depth = 0;
        while (s->p < s->end) {
            char c = *s->p;
            if (c == '"') {
                if (skip_string(s) < 0)
                    return -1;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']')
                depth--;
            s->p++;
            if (depth == 0)
                return 0;
        }
        return -1;
    }
    const char *start = s->p;
    while (s->p < s->end && !strchr(",}] \t\r\n", *s->p))
        s->p++;
    return s->p > start ? 0 : -1;
}

/* The span of the value of the top-level member "serial". */
static int serial_span(const rb_infra_buf *doc, const char *what, size_t *off, size_t *len)
{
    scan s = {doc->data, doc->data + doc->len};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        goto bad;
    s.p++;
    for (;;) {
        skip_ws(&s);
        if (s.p < s.end && *s.p == '}')
            break;
        const char *key = s.p;
        if (skip_string(&s) < 0)
            goto bad;
        size_t key_len = (size_t)(s.p - key);
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':')
            goto bad;
        s.p++;
        skip_ws(&s);
        const char *value = s.p;
        if (skip_value(&s) < 0)
            goto bad;
        if (key_len == 8 && !memcmp(key, "\"serial\"", 8)) {
            *off = (size_t)(value - doc->data);
            *len = (size_t)(s.p - value);
            return 0;
        }
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        break;
    }
    return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                    "%s has no top-level \"serial\": not a Terraform state", what);
bad:
    return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                    "%s is not a JSON object: not a Terraform state", what);
}

int rb_tfstate_serial_get(const rb_infra_buf *doc, const char *what, uint64_t *serial)
{
    size_t off, len;
    int rc = serial_span(doc, what, &off, &len);
    if (rc < 0)
        return rc;
    char digits[24];
    if (len == 0 || len >= sizeof digits)
        goto bad;
    memcpy(digits, doc->data + off, len);
    digits[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (digits[i] < '0' || digits[i] > '9')
            goto bad;
    *serial = strtoull(digits, NULL, 10);
    return 0;
bad:
    return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                    "%s: \"serial\" is not a non-negative integer", what);
}

int rb_tfstate_serial_set(const rb_infra_buf *doc, const char *what, uint64_t serial,
                          rb_infra_buf *out)
{
    size_t off, len;
    int rc = serial_span(doc, what, &off, &len);
    if (rc < 0)
        return rc;
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, serial);
    size_t total = doc->len - len + (size_t)n;
    char *data = malloc(total + 1);
    if (!data)
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    memcpy(data, doc->data, off);
    memcpy(data + off, digits, (size_t)n);
    memcpy(data + off + (size_t)n, doc->data + off + len, doc->len - off - len);
    data[total] = '\0';
    out->data = data;
    out->len = total;
    return 0;
}
