/* Rolling back from a dump: pg_restore into a new database that is then
 * swapped in, or, in place, the configured schemas replaced inside the
 * live database in one transaction. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_db.h"

static int make_empty(pg_target *t, PGconn *admin, const rb_node *meta, const char *name)
{
    const rb_host_api *h = t->host;
    const char *keys[4] = {"encoding", "lc_collate", "lc_ctype", "owner"};
    const char *sqlkw[4] = {"ENCODING", "LC_COLLATE", "LC_CTYPE", "OWNER"};
    pg_role role;
    int rc = pg_role_read(t, admin, &role);
    if (rc)
        return rc;
    char *qn = pg_ident(admin, name);
    if (!qn)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    char sql[1024];
    int len = snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0", qn);
    PQfreemem(qn);
    for (int i = 0; i < 4; i++) {
        const char *v = h->node_string(h->node_get(meta, keys[i]));
        /* Only a superuser may give a database another owner. */
        if (!v || (i == 3 && !role.superuser))
            continue;
        char *q = i == 3 ? pg_ident(admin, v) : PQescapeLiteral(admin, v, strlen(v));
        if (!q)
            return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        len += snprintf(sql + len, sizeof sql - (size_t)len, " %s %s", sqlkw[i], q);
        PQfreemem(q);
    }
    char what[200];
    snprintf(what, sizeof what, "creating database %s to restore into", name);
    return pg_exec(t, admin, what, sql);
}

static int run_pg_restore(pg_target *t, PGconn *admin, const char *db, const char *file)
{
    pg_role role;
    int rc = pg_role_read(t, admin, &role);
    if (rc)
        return rc;
    char *ci = pg_conninfo_for(t, db);
    char dbarg[4200];
    snprintf(dbarg, sizeof dbarg, "--dbname=%s", ci ? ci : "");
    free(ci);
    char *tool = pg_tool_path(role.server_major, "pg_restore");
    char *argv[] = {tool,
                    "--jobs=2",
                    "--exit-on-error",
                    dbarg,
                    role.superuser ? (char *)file : "--no-owner",
                    role.superuser ? NULL : (char *)file,
                    NULL};
    pg_child child = {-1, NULL};
    rc = tool ? pg_spawn(t, argv, -1, -1, &child)
              : t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc) {
        char what[200];
        snprintf(what, sizeof what, "pg_restore into database %s", db);
        rc = pg_child_wait(t, &child, what);
    }
    free(tool);
    return rc;
}

static int blob_to_file(pg_target *t, const char *blob, char *path, size_t pathlen)
{
    const rb_host_api *h = t->host;
    const char *scratch = h->op_scratch_dir ? h->op_scratch_dir(t->op) : NULL;
    snprintf(path, pathlen, "%s/pgdump-XXXXXX", scratch && *scratch ? scratch : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create %s: %s", path, strerror(errno));
    int rc = h->blob_get_fd(t->op, blob, fd);
    if (close(fd) && !rc)
        rc = h->error_set(RB_EIO, RB_ERRCLASS_OS, "writing %s: %s", path, strerror(errno));
    if (rc)
        unlink(path);
    return rc;
}

int pg_restore_dump(pg_target *t, PGconn *admin, const rb_node *meta)
{
    const rb_host_api *h = t->host;
    const char *id = h->op_snapshot_id(t->op);
    const char *blob = h->node_string(h->node_get(meta, "dump_blob"));
    if (!blob)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "snapshot %s names no dump", id);
    pg_role role;
    int rc = pg_role_read(t, admin, &role);
    if (rc)
        return rc;
    if (!role.createdb)
        return h->error_set(RB_EPERM, RB_ERRCLASS_DATABASE,
                            "restoring snapshot %s of database %s into a new database needs "
                            "the CREATEDB privilege, which the connecting role lacks on "
                            "PostgreSQL server %s; grant it, or set \"in_place\": true to "
                            "restore the schemas inside the live database (the live database "
                            "is untouched)",
                            id, t->live, pg_server_name(t));
    char incoming[64], keep[64], path[4200];
    pg_copy_name(t->live, "i", id, incoming);
    pg_keep_name(t, keep);
    rc = pg_drop_database(t, admin, incoming);
    if (!rc && strncmp(keep, "rb_r_", 5))
        rc = pg_ensure_absent(t, admin, keep);
    else if (!rc)
        rc = pg_drop_database(t, admin, keep);
    if (!rc)
        rc = blob_to_file(t, blob, path, sizeof path);
    if (rc)
        return rc;
    double t0 = pg_now_ms();
    rc = make_empty(t, admin, meta, incoming);
    if (!rc)
        rc = run_pg_restore(t, admin, incoming, path);
    if (!rc) {
        PGconn *c = NULL;
        rc = pg_connect(t, incoming, &c);
        if (!rc)
            rc = pg_sums_set_sequences(t, c, meta);
        PQfinish(c);
    }
    unlink(path);
    double restore_ms = pg_now_ms() - t0;
    int replaced = 0;
    if (!rc)
        rc = pg_identity_label(t, admin, incoming, id);
    if (!rc)
        rc = pg_swap_in(t, admin, incoming, keep, NULL, NULL, &replaced);
    if (rc) {
        char *q = pg_ident(admin, incoming);
        char sql[200];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", q ? q : "");
        PQclear(PQexec(admin, sql));
        PQfreemem(q);
        return rc;
    }
    rb_node *res = h->result(t->op);
    if (!h->node_add_string(res, "method", "dump_restore_swap") ||
        !h->node_add_string(res, "database", t->live) ||
        !h->node_add_number(res, "restore_ms", restore_ms))
        return RB_ENOMEM;
    return replaced ? pg_keep_replaced(t, admin, keep) : 0;
}

/* The TOC entries that create, comment on and grant on the schemas
 * themselves: `pg_restore --schema` leaves them out. Marks in `has_create`
 * which schemas are created by the dump. "public" never is: dropping it
 * would lose the initial privileges the server records for it, so it is
 * emptied instead. */
static char *schema_entries(const rb_host_api *h, const rb_node *schemas, const char *toc,
                            int *has_create)
{
    size_t len = strlen(toc);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const char *p = toc; *p;) {
        size_t n = strcspn(p, "\n");
        for (size_t i = 0; p[0] != ';' && i < h->node_count(schemas); i++) {
            const char *s = h->node_string(h->node_at(schemas, i));
            char a[300], b[300];
            snprintf(a, sizeof a, " SCHEMA - %s ", s);
            snprintf(b, sizeof b, " - SCHEMA %s ", s);
            char line[4096];
            snprintf(line, sizeof line, "%.*s ", (int)n, p);
            int create = strstr(line, a) != NULL;
            if (create && !strcmp(s, "public"))
                break;
            if (create || strstr(line, b)) {
                has_create[i] |= create;
                memcpy(out + o, p, n);
                o += n;
                out[o++] = '\n';
                break;
            }
        }
        p += n + (p[n] == '\n');
    }
    out[o] = '\0';
    return out;
}

/* A schema the dump creates is dropped whole. */
static char *drop_schema_sql(PGconn *c, const char *schema)
{
    char *q = pg_ident(c, schema);
    if (!q)
        return NULL;
    size_t n = strlen(q) + 64;
    char *sql = malloc(n);
    if (sql)
        snprintf(sql, n, "DROP SCHEMA IF EXISTS %s CASCADE;\n", q);
    PQfreemem(q);
    return sql;
}

/* A schema the dump does not create ("public", which every database has
 * with an owner and privileges of its own) keeps existing: its relations,
 * routines and types are dropped instead, leaving what belongs to
 * extensions. */
static char *empty_schema_sql(PGconn *c, const char *schema)
{
    static const char body[] =
        "DO $rb$ DECLARE r record; s text := %s; BEGIN\n"
        "FOR r IN SELECT format('DROP %%s IF EXISTS %%I.%%I CASCADE', CASE c.relkind "
        "WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' "
        "WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, s, c.relname) AS q "
        "FROM pg_class c WHERE c.relnamespace = s::regnamespace "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT EXISTS (SELECT 1 FROM pg_depend "
        "d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') "
        "LOOP EXECUTE r.q; END LOOP;\n"
        "FOR r IN SELECT format('DROP %%s IF EXISTS %%I.%%I(%%s) CASCADE', CASE p.prokind WHEN "
        "'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END, s, p.proname, "
        "pg_get_function_identity_arguments(p.oid)) AS q FROM pg_proc p "
        "WHERE p.pronamespace = s::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') "
        "LOOP EXECUTE r.q; END LOOP;\n"
        "FOR r IN SELECT format('DROP %%s IF EXISTS %%I.%%I CASCADE', CASE t.typtype WHEN 'd' "
        "THEN 'DOMAIN' ELSE 'TYPE' END, s, t.typname) AS q FROM pg_type t "
        "WHERE t.typnamespace = s::regnamespace AND t.typtype IN ('e', 'c', 'd', 'r') "
        "AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass "
        "AND d.objid = t.oid AND d.deptype = 'e') "
        "LOOP EXECUTE r.q; END LOOP;\n"
        "END $rb$;\n";
    char *lit = PQescapeLiteral(c, schema, strlen(schema));
    if (!lit)
        return NULL;
    size_t n = sizeof body + strlen(lit);
    char *sql = malloc(n);
    if (sql)
        snprintf(sql, n, body, lit);
    PQfreemem(lit);
    return sql;
}

static int write_all(int fd, const char *s)
{
    for (size_t off = 0, n = strlen(s); off < n;) {
        ssize_t w = write(fd, s + off, n - off);
        if (w < 0 && errno != EINTR)
            return -1;
        off += w > 0 ? (size_t)w : 0;
    }
    return 0;
}

/* Runs pg_restore with `extra` arguments, its SQL going to `out_fd`. */
static int restore_sql(pg_target *t, const pg_role *role, const char *file, char **extra,
                       int out_fd)
{
    char *argv[80] = {NULL};
    size_t n = 0;
    argv[n++] = pg_tool_path(role->server_major, "pg_restore");
    argv[n++] = "--file=-";
    if (!role->superuser)
        argv[n++] = "--no-owner";
    for (size_t i = 0; extra[i] && n < 77; i++)
        argv[n++] = extra[i];
    argv[n++] = (char *)file;
    pg_child child = {-1, NULL};
    int rc = argv[0] ? pg_spawn(t, argv, -1, out_fd, &child)
                     : t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc)
        rc = pg_child_wait(t, &child, "pg_restore");
    free(argv[0]);
    return rc;
}

int pg_restore_in_place(pg_target *t, PGconn *admin, const rb_node *meta)
{
    const rb_host_api *h = t->host;
    const rb_node *schemas = h->node_get(h->config(t->op), "schemas");
    size_t ns = h->node_count(schemas);
    const char *blob = h->node_string(h->node_get(meta, "dump_blob"));
    if (!ns)
        return h->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "in_place restores the schemas listed in \"schemas\" inside database "
                            "%s; list them (the live database is untouched)",
                            t->live);
    if (!blob)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "snapshot %s names no dump",
                            h->op_snapshot_id(t->op));
    pg_role role;
    int rc = pg_role_read(t, admin, &role);
    if (rc)
        return rc;
    rb_node *safety = h->safety_metadata ? h->safety_metadata(t->op) : NULL;
    /* Nothing of the replaced state survives an in-place restore, so the
     * safety snapshot is a dump of the same schemas, taken first. */
    if (safety) {
        rc = pg_meta_common(t, admin, safety, "dump");
        if (!rc)
            rc = pg_snapshot_dump(t, safety, &role, NULL);
        if (rc)
            return rc;
    }
    char path[4200], listpath[4300];
    rc = blob_to_file(t, blob, path, sizeof path);
    if (rc)
        return rc;
    snprintf(listpath, sizeof listpath, "%s.list", path);
    char *tool = pg_tool_path(role.server_major, "pg_restore");
    char *largv[] = {tool, "--list", path, NULL};
    char *toc = NULL, *entries = NULL;
    int *has_create = calloc(ns, sizeof *has_create);
    rc = tool && has_create ? pg_run_capture(t, largv, &toc)
                            : h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    free(tool);
    if (!rc && !(entries = schema_entries(h, schemas, toc, has_create)))
        rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc) {
        FILE *f = fopen(listpath, "w");
        if (!f || fputs(entries, f) < 0 || fclose(f))
            rc = h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot write %s", listpath);
    }
    double t0 = pg_now_ms();
    int fds[2] = {-1, -1};
    pg_child psql = {-1, NULL};
    if (!rc && pipe2(fds, O_CLOEXEC))
        rc = h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create a pipe: %s", strerror(errno));
    char *ci = pg_conninfo_for(t, t->live);
    char dbarg[4200];
    snprintf(dbarg, sizeof dbarg, "--dbname=%s", ci ? ci : "");
    free(ci);
    char *psql_path = pg_tool_path(role.server_major, "psql");
    char *pargv[] = {
        psql_path,  "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
        "--file=-", dbarg,         NULL};
    if (!rc)
        rc = pg_spawn(t, pargv, fds[0], -1, &psql);
    if (fds[0] >= 0)
        close(fds[0]);
    /* A lock the restore cannot get fails the transaction instead of
     * waiting behind a long-running session. */
    int bad = rc || write_all(fds[1], "SET client_min_messages = warning;\n"
                                      "SET lock_timeout = '10s';\n");
    for (size_t i = 0; !bad && i < ns; i++) {
        const char *s = h->node_string(h->node_at(schemas, i));
        char *sql = has_create[i] ? drop_schema_sql(admin, s) : empty_schema_sql(admin, s);
        bad = !sql || write_all(fds[1], sql);
        free(sql);
    }
    if (!rc && bad)
        rc = h->error_set(RB_EIO, RB_ERRCLASS_DATABASE, "psql stopped reading the restore of %s",
                          t->live);
    char lflag[4400];
    snprintf(lflag, sizeof lflag, "--use-list=%s", listpath);
    char *first[] = {lflag, NULL};
    if (!rc)
        rc = restore_sql(t, &role, path, first, fds[1]);
    char *objects[80] = {NULL};
    for (size_t i = 0; i < ns && i < 78; i++) {
        const char *s = h->node_string(h->node_at(schemas, i));
        size_t len = strlen(s) + 10;
        objects[i] = malloc(len);
        if (objects[i])
            snprintf(objects[i], len, "--schema=%s", s);
        else
            rc = rc ? rc : RB_ENOMEM;
    }
    if (!rc)
        rc = restore_sql(t, &role, path, objects, fds[1]);
    char *seqs = rc ? NULL : pg_sums_sequence_sql(t, admin, meta);
    if (!rc && (!seqs || write_all(fds[1], seqs)))
        rc = seqs ? h->error_set(RB_EIO, RB_ERRCLASS_DATABASE,
                                 "psql stopped reading the restore of %s", t->live)
                  : RB_ENOMEM;
    free(seqs);
    for (size_t i = 0; i < 80; i++)
        free(objects[i]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (psql.pid > 0) {
        char what[300];
        snprintf(what, sizeof what,
                 "restoring the schemas of database %s in place (rolled back: the live "
                 "database is unchanged)",
                 t->live);
        /* psql reads to the end even after a failed pg_restore: the
         * transaction is then left open and rolled back at its exit. */
        int prc = pg_child_wait(t, &psql, what);
        rc = rc ? rc : prc;
    }
    free(psql_path);
    unlink(listpath);
    unlink(path);
    free(toc);
    free(entries);
    free(has_create);
    if (rc)
        return rc;
    rb_node *res = h->result(t->op);
    if (!h->node_add_string(res, "method", "dump_restore_in_place") ||
        !h->node_add_string(res, "database", t->live) ||
        !h->node_add_number(res, "restore_ms", pg_now_ms() - t0))
        return RB_ENOMEM;
    return 0;
}
