/* A growing string for building SQL, with quoting of identifiers and
 * literals. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

static int reserve(my_buf *b, size_t more)
{
    if (b->failed)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void my_buf_add(my_buf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void my_buf_puts(my_buf *b, const char *s)
{
    my_buf_add(b, s, strlen(s));
}

void my_buf_printf(my_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n)) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void my_buf_ident(my_buf *b, const char *name)
{
    my_buf_add(b, "`", 1);
    for (const char *s = name; *s; s++) {
        if (*s == '`')
            my_buf_add(b, "``", 2);
        else
            my_buf_add(b, s, 1);
    }
    my_buf_add(b, "`", 1);
}

void my_buf_qname(my_buf *b, const char *schema, const char *name)
{
    my_buf_ident(b, schema);
    my_buf_add(b, ".", 1);
    my_buf_ident(b, name);
}

void my_buf_literal(my_buf *b, const char *s, size_t n)
{
    my_buf_add(b, "'", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\0':
            esc = "\\0";
            break;
        case '\'':
            esc = "\\'";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\032':
            esc = "\\Z";
            break;
        default:
            break;
        }
        if (esc) {
            my_buf_add(b, s + run, i - run);
            my_buf_add(b, esc, 2);
            run = i + 1;
        }
    }
    my_buf_add(b, s + run, n - run);
    my_buf_add(b, "'", 1);
}

void my_buf_free(my_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

const char *my_buf_str(my_buf *b)
{
    if (b->failed)
        return NULL;
    if (!b->p)
        my_buf_add(b, "", 0);
    return b->failed ? NULL : b->p;
}
