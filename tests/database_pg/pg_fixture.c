#include "pg_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int counter;

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* psql as the superuser over the unix socket; `input` is SQL on stdin. */
static rbt_run psql(const pgt *t, const char *db, const char *file)
{
    return rbt_sh("'%s/psql' -X -q -At -v ON_ERROR_STOP=1 -h '%s' -p '%s' -U '%s' -d '%s' -f '%s'",
                  t->bindir, t->host, t->port, t->user, db ? db : t->db, file);
}

char *pgt_sql(const pgt *t, const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = NULL;
    cr_assert(vasprintf(&sql, fmt, ap) >= 0);
    va_end(ap);
    char *file = rbt_fmt("%s/q-%d.sql", t->tmp, counter++);
    rbt_spit(file, sql);
    rbt_run r = psql(t, db, file);
    cr_assert_eq(r.code, 0, "psql failed on %s: %s", sql, r.err);
    char *out = strdup(r.out);
    trim(out);
    rbt_run_free(&r);
    unlink(file);
    free(file);
    free(sql);
    return out;
}

void pgt_sql_file(const pgt *t, const char *name)
{
    char *file = rbt_fmt("%s/%s", RBT_PG_SQL_DIR, name);
    rbt_run r = psql(t, NULL, file);
    cr_assert_eq(r.code, 0, "psql -f %s failed: %s", name, r.err);
    rbt_run_free(&r);
    free(file);
}

void pgt_open(pgt *t, int schema)
{
    memset(t, 0, sizeof *t);
    t->host = rbt_server_env("RBT_PG_HOST");
    t->port = rbt_server_env("RBT_PG_PORT");
    t->user = rbt_server_env("RBT_PG_USER");
    t->bindir = rbt_server_env("RBT_PG_BINDIR");
    t->tmp = rbt_tmpdir();
    t->store = rbt_fmt("%s/store", t->tmp);
    t->db = rbt_fmt("rbt_%d_%d", (int)getpid(), counter++);
    t->cs = rbt_fmt("host=%s port=%s user=%s", t->host, t->port, t->user);
    free(pgt_sql(t, "postgres", "CREATE DATABASE %s", t->db));
    if (schema)
        pgt_sql_file(t, "schema.sql");
}

void pgt_drop_databases(const pgt *t)
{
    /* The copies rbhost keeps carry the live name; so do the safety ones. */
    char *names = pgt_sql(t, "postgres",
                          "SELECT string_agg(quote_ident(datname), ' ') FROM pg_database "
                          "WHERE datname = '%s' OR datname LIKE 'rb\\_%%\\_%s\\_%%'",
                          t->db, t->db);
    for (char *p = strtok(names, " "); p; p = strtok(NULL, " "))
        free(pgt_sql(t, "postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)", p));
    free(names);
}

void pgt_close(pgt *t)
{
    if (!t->db)
        return;
    pgt_drop_databases(t);
    rbt_rmtree(t->tmp);
    free(t->tmp);
    free(t->store);
    free(t->db);
    free(t->cs);
    memset(t, 0, sizeof *t);
}

char *pgt_schema(const pgt *t, const char *db)
{
    rbt_run r = rbt_sh("'%s/pg_dump' --schema-only -h '%s' -p '%s' -U '%s' -d '%s' | "
                       "grep -v '^\\\\\\(un\\)\\?restrict '",
                       t->bindir, t->host, t->port, t->user, db ? db : t->db);
    cr_assert_eq(r.code, 0, "pg_dump failed: %s", r.err);
    char *out = strdup(r.out);
    rbt_run_free(&r);
    return out;
}

char *pgt_contents(const pgt *t, const char *db)
{
    /* A function per call keeps this independent of what the test created. */
    return pgt_sql(
        t, db,
        "CREATE TEMP TABLE rbt_out (line text);\n"
        "DO $$ DECLARE r record; c bigint; h text; BEGIN\n"
        "FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'S', 'm') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1::text LOOP\n"
        "  IF r.relkind = 'S' THEN\n"
        "    EXECUTE format('SELECT 1, md5(last_value::text || is_called::text) FROM %%s', r.rel)"
        " INTO c, h;\n"
        "  ELSE\n"
        "    EXECUTE format('SELECT count(*), md5(coalesce(string_agg(t::text, '','' ORDER BY "
        "t::text), '''')) FROM ONLY %%s t', r.rel) INTO c, h;\n"
        "  END IF;\n"
        "  INSERT INTO rbt_out VALUES (r.rel::text || ' ' || c || ' ' || h);\n"
        "END LOOP; END $$;\n"
        "SELECT string_agg(line, E'\\n' ORDER BY line) FROM rbt_out;");
}

char *pgt_config(const pgt *t, const char *cs, const char *extra)
{
    return rbt_fmt("{\"database_name\": \"%s\", \"connection_string\": \"%s\"%s%s}", t->db,
                   cs ? cs : t->cs, extra && *extra ? ", " : "", extra ? extra : "");
}

cJSON *pgt_rbhost(const pgt *t, int *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(t->store, "--json %s", args);
    *code = r.code;
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "rbhost %s printed no JSON (exit %d): %s %s", args, r.code, r.out, r.err);
    free(args);
    rbt_run_free(&r);
    return j;
}

cJSON *pgt_snapshot(const pgt *t, const char *id, const char *config)
{
    char *file = rbt_fmt("%s/config-%s.json", t->tmp, id);
    rbt_spit(file, config);
    int code;
    cJSON *j =
        pgt_rbhost(t, &code, "create-snapshot --id '%s' --type database --config @%s", id, file);
    cr_assert_eq(code, 0, "create-snapshot %s exited %d: %s", id, code,
                 pgt_str(j, "error", NULL) ? pgt_str(j, "error", NULL) : "");
    cr_assert_str_eq(pgt_str(j, "status", NULL), "success");
    free(file);
    return j;
}

cJSON *pgt_rollback(const pgt *t, const char *id, const char *flags, int *code)
{
    return pgt_rbhost(t, code, "execute-rollback --id '%s' --yes %s", id, flags ? flags : "");
}

static cJSON *get_v(const cJSON *j, va_list ap)
{
    const char *key;
    while (j && (key = va_arg(ap, const char *)))
        j = cJSON_GetObjectItemCaseSensitive(j, key);
    return (cJSON *)j;
}

cJSON *pgt_get(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = get_v(j, ap);
    va_end(ap);
    return r;
}

const char *pgt_str(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    cJSON *r = get_v(j, ap);
    va_end(ap);
    return cJSON_GetStringValue(r);
}

int pgt_db_exists(const pgt *t, const char *name)
{
    char *n = pgt_sql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '%s'", name);
    int found = !strcmp(n, "1");
    free(n);
    return found;
}
