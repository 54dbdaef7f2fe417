/* backup_file: the snapshot also as a SQL script the mysql client reads
 * (mysql DB < file), written to a temporary name, synced and renamed. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "my_db.h"

/* INSERT statements are cut at about this size, under the server's default
 * max_allowed_packet. */
#define STMT_BYTES (1u << 20)

typedef struct sql_out {
    my_target *t;
    FILE *f;
    const my_table *tb;
    char *bits; /* per field: a BIT column read as a number */
    size_t nfields;
    my_buf line;
    my_buf stmt;
    int err;
} sql_out;

/* Which fields of LOAD DATA's column list are user variables: the BIT
 * columns, which a dump reads as numbers. */
static char *bit_fields(const char *load_list, size_t *n)
{
    size_t cap = 16, count = 0;
    char *bits = calloc(cap, 1);
    int quoted = 0, start = 1;
    for (const char *s = load_list + 1; bits && *s && (quoted || *s != ')'); s++) {
        if (start) {
            if (count == cap) {
                char *nb = realloc(bits, cap * 2);
                if (!nb) {
                    free(bits);
                    return NULL;
                }
                memset(nb + cap, 0, cap);
                bits = nb;
                cap *= 2;
            }
            bits[count++] = *s == '@';
            start = 0;
        }
        if (*s == '`')
            quoted = !quoted;
        else if (*s == ',' && !quoted)
            start = 1;
    }
    *n = count;
    return bits;
}

static void emit(sql_out *o, const char *s, size_t n)
{
    if (!o->err && fwrite(s, 1, n, o->f) != n)
        o->err = errno ? errno : EIO;
}

static void emits(sql_out *o, const char *s)
{
    emit(o, s, strlen(s));
}

static void flush_stmt(sql_out *o)
{
    if (o->stmt.len) {
        my_buf_puts(&o->stmt, ";\n");
        if (o->stmt.failed)
            o->err = ENOMEM;
        else
            emit(o, o->stmt.p, o->stmt.len);
    }
    o->stmt.len = 0;
}

static void row_out(sql_out *o, char *line, size_t len)
{
    my_buf *b = &o->stmt;
    if (!b->len) {
        my_buf_puts(b, "INSERT INTO ");
        my_buf_ident(b, o->tb->name);
        my_buf_printf(b, " (%s) VALUES\n(", o->tb->columns);
    } else {
        my_buf_puts(b, ",\n(");
    }
    size_t field = 0, i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && line[end] != '\t')
            end++;
        if (field)
            my_buf_puts(b, ",");
        if (end - i == 2 && line[i] == '\\' && line[i + 1] == 'N') {
            my_buf_puts(b, "NULL");
        } else {
            size_t w = i;
            for (size_t r = i; r < end; r++) {
                char ch = line[r];
                if (ch == '\\' && r + 1 < end) {
                    ch = line[++r];
                    ch = ch == 't' ? '\t' : ch == 'n' ? '\n' : ch == '0' ? '\0' : ch;
                }
                line[w++] = ch;
            }
            if (field < o->nfields && o->bits[field]) {
                my_buf_add(b, line + i, w - i);
            } else {
                my_buf_puts(b, "_binary");
                my_buf_literal(b, line + i, w - i);
            }
        }
        field++;
        i = end + 1;
    }
    my_buf_puts(b, ")");
    if (b->len >= STMT_BYTES)
        flush_stmt(o);
}

static int tsv_sink(void *ctx, const void *data, size_t len)
{
    sql_out *o = ctx;
    const char *p = data;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            if (o->line.failed)
                o->err = ENOMEM;
            else
                row_out(o, o->line.p ? o->line.p : (char *)"", o->line.len);
            o->line.len = 0;
        } else {
            my_buf_add(&o->line, p + i, 1);
        }
    }
    return o->err ? my_error(o->t, RB_EIO, RB_ERRCLASS_FILESYSTEM, "writing backup_file: %s",
                             strerror(o->err))
                  : 0;
}

static int table_rows(sql_out *o, MYSQL *c, const char *method, const char *schema)
{
    my_target *t = o->t;
    const rb_host_api *h = t->host;
    if (!strcmp(method, "clone")) {
        int64_t rows;
        return my_rows_stream(t, c, schema, o->tb, NULL, tsv_sink, o, &rows);
    }
    int rc = 0;
    char buf[1 << 16];
    for (int p = 0; !rc && p < o->tb->nparts; p++) {
        rb_blob_reader *r;
        rc = h->blob_reader_open(t->op, o->tb->blobs[p], &r);
        if (rc)
            return my_error(t, rc, RB_ERRCLASS_STORE, "reading the rows of table %s back failed",
                            o->tb->name);
        int64_t n;
        while (!rc && (n = h->blob_read(r, buf, sizeof buf)) > 0)
            rc = tsv_sink(o, buf, (size_t)n);
        h->blob_reader_close(r);
        if (!rc && n < 0)
            rc = my_error(t, (int)n, RB_ERRCLASS_STORE, "reading the rows of table %s back failed",
                          o->tb->name);
    }
    return rc;
}

static void object_out(sql_out *o, const my_object *ob)
{
    static const char *const what[] = {"VIEW", "TRIGGER", "PROCEDURE", "FUNCTION"};
    my_buf b = {0};
    my_buf_printf(&b, "DROP %s IF EXISTS ", what[ob->kind]);
    my_buf_ident(&b, ob->name);
    my_buf_puts(&b, ";;\nSET SESSION sql_mode = ");
    my_buf_literal(&b, ob->sql_mode ? ob->sql_mode : "", strlen(ob->sql_mode ? ob->sql_mode : ""));
    my_buf_puts(&b, ", character_set_client = ");
    const char *client = my_object_charset_usable(ob) ? ob->charset_client : "utf8mb4";
    my_buf_literal(&b, client, strlen(client));
    if (ob->collation_connection && *ob->collation_connection) {
        my_buf_puts(&b, ", collation_connection = ");
        my_buf_literal(&b, ob->collation_connection, strlen(ob->collation_connection));
    }
    my_buf_printf(&b, ";;\n%s;;\n", ob->create);
    if (b.failed)
        o->err = ENOMEM;
    else
        emit(o, b.p, b.len);
    my_buf_free(&b);
}

/* Does a view's text name a view not written yet? Then it waits: mysql
 * runs the file top to bottom, so a view must come after those it uses. */
static int needs_pending_view(const my_catalog *cat, const char *done, const my_object *v)
{
    for (size_t i = 0; i < cat->nobjects; i++) {
        const my_object *u = &cat->objects[i];
        if (u == v || u->kind != MY_VIEW || done[i])
            continue;
        my_buf name = {0};
        my_buf_ident(&name, u->name);
        int uses = my_buf_str(&name) && strstr(v->create, name.p) != NULL;
        my_buf_free(&name);
        if (uses)
            return 1;
    }
    return 0;
}

static int objects_out(sql_out *o, const my_catalog *cat)
{
    static const my_kind order[] = {MY_FUNCTION, MY_PROCEDURE, MY_VIEW, MY_TRIGGER};
    char *done = calloc(cat->nobjects + 1, 1);
    if (!done)
        return my_error(o->t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (size_t k = 0; k < 4; k++) {
        int progress = 1;
        while (progress) {
            progress = 0;
            for (size_t i = 0; i < cat->nobjects; i++) {
                const my_object *ob = &cat->objects[i];
                if (ob->kind != order[k] || done[i])
                    continue;
                if (ob->kind == MY_VIEW && needs_pending_view(cat, done, ob))
                    continue;
                object_out(o, ob);
                done[i] = progress = 1;
            }
        }
        /* A cycle of names (or a name merely mentioned in a string):
         * write the rest as they come. */
        for (size_t i = 0; i < cat->nobjects; i++)
            if (cat->objects[i].kind == order[k] && !done[i]) {
                object_out(o, &cat->objects[i]);
                done[i] = 1;
            }
    }
    free(done);
    return 0;
}

static int write_all(sql_out *o, MYSQL *c, const my_catalog *cat, const char *method,
                     const char *schema)
{
    my_target *t = o->t;
    fprintf(o->f,
            "-- rbhost snapshot %s of MySQL/MariaDB database `%s` (%s)\n"
            "-- Restore with: mysql DATABASE < this file\n"
            "SET NAMES utf8mb4;\n"
            "SET @rb_fk = @@FOREIGN_KEY_CHECKS, @rb_uc = @@UNIQUE_CHECKS, "
            "@rb_mode = @@SQL_MODE, @rb_tz = @@TIME_ZONE;\n"
            "SET FOREIGN_KEY_CHECKS = 0, UNIQUE_CHECKS = 0, "
            "SQL_MODE = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', TIME_ZONE = '+00:00';\n",
            t->host->op_snapshot_id(t->op), t->live, method);
    int rc = 0;
    for (size_t i = 0; !rc && !o->err && i < cat->ntables; i++) {
        const my_table *tb = &cat->tables[i];
        my_buf b = {0};
        my_buf_puts(&b, "\nDROP TABLE IF EXISTS ");
        my_buf_ident(&b, tb->name);
        my_buf_printf(&b, ";\n%s;\n", tb->create);
        if (b.failed)
            o->err = ENOMEM;
        else
            emit(o, b.p, b.len);
        my_buf_free(&b);
        free(o->bits);
        o->tb = tb;
        o->bits = bit_fields(tb->load_list, &o->nfields);
        if (!o->bits)
            return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        rc = table_rows(o, c, method, schema);
        flush_stmt(o);
    }
    if (!rc && cat->nobjects) {
        emits(o, "\nDELIMITER ;;\n");
        rc = objects_out(o, cat);
        emits(o, "DELIMITER ;\nSET NAMES utf8mb4;\n");
    }
    fprintf(o->f, "SET FOREIGN_KEY_CHECKS = @rb_fk, UNIQUE_CHECKS = @rb_uc, "
                  "SQL_MODE = @rb_mode, TIME_ZONE = @rb_tz;\n");
    return rc;
}

static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int my_sqlfile_write(my_target *t, MYSQL *c, const my_catalog *cat, const char *method,
                     const char *clone_schema, const char *path)
{
    my_buf tmp = {0};
    my_buf_printf(&tmp, "%s.tmp-%ld", path, (long)getpid());
    if (!my_buf_str(&tmp))
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    /* The file holds the data: readable by its owner only, like the store. */
    int fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    sql_out o = {t, fd >= 0 ? fdopen(fd, "w") : NULL, NULL, NULL, 0, {0}, {0}, 0};
    if (!o.f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        my_buf_free(&tmp);
        return my_error(t, e == ENOSPC ? RB_ENOSPC : RB_EIO, RB_ERRCLASS_FILESYSTEM,
                        "backup_file: cannot create %s: %s", path, strerror(e));
    }
    int rc = 0;
    if (!strcmp(method, "clone"))
        rc = my_exec(t, c, "preparing to read the copies", "SET character_set_results = binary");
    if (!rc)
        rc = write_all(&o, c, cat, method, clone_schema);
    if (!strcmp(method, "clone") && mysql_query(c, "SET NAMES utf8mb4") && !rc)
        rc = my_fail(t, c, "resetting the connection's character set");
    int err = o.err;
    if (fflush(o.f) || fsync(fileno(o.f)))
        err = err ? err : errno;
    if (fclose(o.f) && !err)
        err = errno;
    if (!rc && err)
        rc = my_error(t, err == ENOSPC ? RB_ENOSPC : RB_EIO, RB_ERRCLASS_FILESYSTEM,
                      "backup_file: writing %s: %s", path, strerror(err));
    if (!rc && (rename(tmp.p, path) || sync_dir(path)))
        rc = my_error(t, RB_EIO, RB_ERRCLASS_FILESYSTEM, "backup_file: renaming to %s: %s", path,
                      strerror(errno));
    if (rc)
        unlink(tmp.p);
    free(o.bits);
    my_buf_free(&o.line);
    my_buf_free(&o.stmt);
    my_buf_free(&tmp);
    return rc;
}
