/* Reading a table's rows in LOAD DATA's default text format: fields
 * separated by tabs, rows by newlines, backslash escapes, \N for NULL. It
 * is compact, streams, and the server loads it back at full speed. */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "my_db.h"

typedef struct outbuf {
    char data[1 << 18];
    size_t len;
    my_sink_fn sink;
    void *ctx;
    int rc;
} outbuf;

static void flush(outbuf *o)
{
    if (o->len && !o->rc)
        o->rc = o->sink(o->ctx, o->data, o->len);
    o->len = 0;
}

static void put(outbuf *o, const char *s, size_t n)
{
    while (n && !o->rc) {
        size_t room = sizeof o->data - o->len;
        size_t k = n < room ? n : room;
        memcpy(o->data + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
        if (o->len == sizeof o->data)
            flush(o);
    }
}

static void put_field(outbuf *o, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\0':
            esc = "\\0";
            break;
        default:
            break;
        }
        if (esc) {
            put(o, s + run, i - run);
            put(o, esc, 2);
            run = i + 1;
        }
    }
    put(o, s + run, n - run);
}

static int stream(my_target *t, MYSQL *c, const char *schema, const my_table *tb, const char *where,
                  outbuf *ob, int64_t *rows)
{
    my_buf q = {0};
    my_buf_printf(&q, "SELECT %s FROM ", tb->select_list);
    my_buf_qname(&q, schema, tb->name);
    if (where)
        my_buf_printf(&q, " WHERE %s", where);
    char what[160];
    snprintf(what, sizeof what, "reading table %s.%.64s", schema, tb->name);
    if (!my_buf_str(&q)) {
        my_buf_free(&q);
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    int failed = mysql_query(c, q.p);
    my_buf_free(&q);
    if (failed)
        return my_fail(t, c, what);
    MYSQL_RES *r = mysql_use_result(c);
    if (!r)
        return my_fail(t, c, what);
    unsigned int nf = mysql_num_fields(r);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        unsigned long *len = mysql_fetch_lengths(r);
        for (unsigned int i = 0; i < nf; i++) {
            if (i)
                put(ob, "\t", 1);
            if (row[i])
                put_field(ob, row[i], len[i]);
            else
                put(ob, "\\N", 2);
        }
        put(ob, "\n", 1);
        (*rows)++;
        if (ob->rc)
            break;
    }
    int rc = 0;
    if (!ob->rc && mysql_errno(c))
        rc = my_fail(t, c, what);
    mysql_free_result(r);
    flush(ob);
    return rc ? rc : ob->rc;
}

int my_rows_stream(my_target *t, MYSQL *c, const char *schema, const my_table *tb,
                   const char *where, my_sink_fn sink, void *ctx, int64_t *rows)
{
    *rows = 0;
    outbuf *ob = malloc(sizeof *ob);
    if (!ob)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    ob->len = 0;
    ob->sink = sink;
    ob->ctx = ctx;
    ob->rc = 0;
    int rc = stream(t, c, schema, tb, where, ob, rows);
    free(ob);
    return rc;
}
