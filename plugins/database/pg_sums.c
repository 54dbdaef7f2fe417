/* What verify compares: the schema (pg_dump --schema-only, normalised) and,
 * per table, materialized view and sequence, the row count and a checksum
 * of the rows streamed out with COPY. Rows are hashed one by one and the
 * digests summed, so the checksum does not depend on the order the server
 * returns them in (a copy or a restore reorders them) and nothing needs to
 * be sorted or held in memory. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

static const char *kind_name(char kind)
{
    return kind == 'S' ? "sequence" : kind == 'm' ? "materialized view" : "table";
}

static char kind_of(const char *name)
{
    return !strcmp(name, "sequence") ? 'S' : !strcmp(name, "materialized view") ? 'm' : 'r';
}

static int list_has(const rb_host_api *h, const rb_node *list, const char *a, const char *b)
{
    for (size_t i = 0; i < h->node_count(list); i++) {
        const char *s = h->node_string(h->node_at(list, i));
        if (s && (!strcmp(s, a) || (b && !strcmp(s, b))))
            return 1;
    }
    return 0;
}

static int in_scope(const pg_target *t, const char *nsp, const char *rel)
{
    const rb_host_api *h = t->host;
    const rb_node *cfg = h->config(t->op);
    const rb_node *schemas = h->node_get(cfg, "schemas");
    const rb_node *tables = h->node_get(cfg, "tables");
    if (h->node_count(schemas) && !list_has(h, schemas, nsp, NULL))
        return 0;
    if (h->node_count(tables)) {
        char full[300];
        snprintf(full, sizeof full, "%s.%s", nsp, rel);
        return list_has(h, tables, full, rel);
    }
    return 1;
}

static void sum_add(unsigned char acc[32], const unsigned char d[32])
{
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned v = (unsigned)acc[i] + d[i] + carry;
        acc[i] = (unsigned char)v;
        carry = v >> 8;
    }
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sum_one(pg_target *t, PGconn *c, EVP_MD_CTX *ctx, const EVP_MD *md, const char *nsp,
                   pg_relsum *rs)
{
    const char *dot = rs->name + strlen(nsp) + 1;
    char *qn = pg_ident(c, nsp), *qr = pg_ident(c, dot);
    if (!qn || !qr) {
        PQfreemem(qn);
        PQfreemem(qr);
        return t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    char sql[1024];
    if (rs->kind == 'S')
        snprintf(sql, sizeof sql, "COPY (SELECT last_value, is_called FROM %s.%s) TO STDOUT", qn,
                 qr);
    else if (rs->kind == 'm')
        snprintf(sql, sizeof sql, "COPY (SELECT * FROM %s.%s) TO STDOUT", qn, qr);
    else
        snprintf(sql, sizeof sql, "COPY (SELECT * FROM ONLY %s.%s) TO STDOUT", qn, qr);
    PQfreemem(qn);
    PQfreemem(qr);
    char what[400];
    snprintf(what, sizeof what, "reading %s %s", kind_name(rs->kind), rs->name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        int rc = pg_fail(t, c, r, what);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    unsigned char acc[32] = {0}, d[EVP_MAX_MD_SIZE];
    unsigned int dlen;
    char *row;
    int n;
    rs->rows = 0;
    while ((n = PQgetCopyData(c, &row, 0)) > 0) {
        EVP_DigestInit_ex2(ctx, md, NULL);
        EVP_DigestUpdate(ctx, row, (size_t)n);
        EVP_DigestFinal_ex(ctx, d, &dlen);
        sum_add(acc, d);
        if (rs->kind == 'S')
            snprintf(rs->seq, sizeof rs->seq, "%.*s", n > 0 && row[n - 1] == '\n' ? n - 1 : n, row);
        rs->rows++;
        PQfreemem(row);
    }
    int rc = 0;
    while ((r = PQgetResult(c))) {
        if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = pg_fail(t, c, r, what);
        PQclear(r);
    }
    if (!rc && n == -2)
        rc = pg_fail(t, c, NULL, what);
    to_hex(acc, 32, rs->checksum);
    return rc;
}

int pg_sums_relations(pg_target *t, PGconn *c, pg_sums *out)
{
    const rb_host_api *h = t->host;
    out->rel = NULL;
    out->count = 0;
    PGresult *r = pg_query(t, c, "listing the tables",
                           "SELECT n.nspname, c.relname, c.relkind, c.relispopulated "
                           "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE c.relkind IN ('r', 'm', 'S') "
                           "AND n.nspname <> 'information_schema' "
                           "AND n.nspname NOT LIKE 'pg\\_%' "
                           "ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
                           0, NULL);
    if (!r)
        return RB_EIO;
    int rows = PQntuples(r);
    out->rel = calloc((size_t)rows + 1, sizeof *out->rel);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Fetched once: EVP_sha256() looks the implementation up again at
     * every initialisation, which costs more than hashing a short row. */
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    int rc =
        out->rel && ctx && md ? 0 : h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (int i = 0; !rc && i < rows; i++) {
        const char *nsp = PQgetvalue(r, i, 0), *rel = PQgetvalue(r, i, 1);
        if (!in_scope(t, nsp, rel))
            continue;
        if (h->cancelled && h->cancelled(t->op)) {
            rc = h->error_set(RB_ECANCELED, RB_ERRCLASS_DATABASE,
                              "checksumming database %s was cancelled", t->live);
            break;
        }
        pg_relsum *rs = &out->rel[out->count];
        size_t len = strlen(nsp) + strlen(rel) + 2;
        rs->name = malloc(len);
        if (!rs->name) {
            rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
            break;
        }
        snprintf(rs->name, len, "%s.%s", nsp, rel);
        rs->schema_len = strlen(nsp);
        rs->kind = PQgetvalue(r, i, 2)[0];
        out->count++;
        if (rs->kind == 'm' && strcmp(PQgetvalue(r, i, 3), "t")) {
            snprintf(rs->checksum, sizeof rs->checksum, "unpopulated");
            continue;
        }
        rc = sum_one(t, c, ctx, md, nsp, rs);
        if (h->progress)
            h->progress(t->op, (uint64_t)i + 1, (uint64_t)rows, "relations");
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    PQclear(r);
    if (rc)
        pg_sums_free(out);
    return rc;
}

void pg_sums_free(pg_sums *s)
{
    for (size_t i = 0; s->rel && i < s->count; i++)
        free(s->rel[i].name);
    free(s->rel);
    s->rel = NULL;
    s->count = 0;
}

/* Lines that differ between two dumps of the same schema: the tool's and
 * server's versions, and the random key of \restrict (pg_dump 15.14 on). */
static int volatile_line(const char *line, size_t n)
{
    static const char *const prefixes[] = {"-- Dumped from ", "-- Dumped by ", "\\restrict ",
                                           "\\unrestrict "};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t k = strlen(prefixes[i]);
        if (n >= k && !memcmp(line, prefixes[i], k))
            return 1;
    }
    return 0;
}

static char *normalise(const char *raw, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(raw + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (raw + i)) + 1 : len - i;
        if (!volatile_line(raw + i, n)) {
            memcpy(out + o, raw + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return out;
}

static int add_arg(char **argv, size_t *n, size_t max, char *arg)
{
    if (!arg || *n + 1 >= max)
        return -1;
    argv[(*n)++] = arg;
    argv[*n] = NULL;
    return 0;
}

static char *dupcat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

int pg_sums_schema(pg_target *t, PGconn *c, const char *db, const char *snapshot, char **text,
                   char sha[65])
{
    const rb_host_api *h = t->host;
    const rb_node *cfg = h->config(t->op);
    *text = NULL;
    char *argv[80] = {NULL};
    size_t n = 0;
    char *ci = pg_conninfo_for(t, db);
    int bad = add_arg(argv, &n, 80, pg_tool_path(PQserverVersion(c) / 10000, "pg_dump"));
    bad |= add_arg(argv, &n, 80, strdup("--schema-only"));
    bad |= add_arg(argv, &n, 80, ci ? dupcat("--dbname=", ci) : NULL);
    free(ci);
    if (snapshot)
        bad |= add_arg(argv, &n, 80, dupcat("--snapshot=", snapshot));
    const char *lists[2] = {"schemas", "tables"};
    const char *flags[2] = {"--schema=", "--table="};
    for (int k = 0; k < 2 && !bad; k++) {
        const rb_node *l = h->node_get(cfg, lists[k]);
        for (size_t i = 0; i < h->node_count(l) && !bad; i++) {
            const char *s = h->node_string(h->node_at(l, i));
            if (s)
                bad |= add_arg(argv, &n, 80, dupcat(flags[k], s));
        }
    }
    int rc = bad ? h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory") : 0;
    char *raw = NULL;
    if (!rc)
        rc = pg_run_capture(t, argv, &raw);
    if (!rc) {
        *text = normalise(raw, strlen(raw));
        if (!*text)
            rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    if (!rc) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_Digest(*text, strlen(*text), md, &mdlen, EVP_sha256(), NULL);
        to_hex(md, 32, sha);
    }
    free(raw);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    return rc;
}

int pg_sums_record(pg_target *t, rb_node *meta, const pg_sums *s)
{
    const rb_host_api *h = t->host;
    if (!h->node_add_string(meta, "schema_sha256", s->schema_sha256))
        return RB_ENOMEM;
    rb_node *arr = h->node_add_array(meta, "relations");
    if (!arr)
        return RB_ENOMEM;
    for (size_t i = 0; i < s->count; i++) {
        rb_node *o = h->node_add_object(arr, NULL);
        if (!o || !h->node_add_string(o, "name", s->rel[i].name) ||
            !h->node_add_string(o, "kind", kind_name(s->rel[i].kind)) ||
            !h->node_add_int(o, "schema_length", (int64_t)s->rel[i].schema_len) ||
            (s->rel[i].seq[0] && !h->node_add_string(o, "sequence_state", s->rel[i].seq)) ||
            !h->node_add_int(o, "rows", s->rel[i].rows) ||
            !h->node_add_string(o, "checksum", s->rel[i].checksum))
            return RB_ENOMEM;
    }
    return 0;
}

int pg_sums_load(pg_target *t, const rb_node *meta, pg_sums *out)
{
    const rb_host_api *h = t->host;
    const rb_node *arr = h->node_get(meta, "relations");
    const char *sha = h->node_string(h->node_get(meta, "schema_sha256"));
    if (!sha || h->node_type(arr) != RB_NODE_ARRAY)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "snapshot %s of database %s has no recorded checksums",
                            h->op_snapshot_id(t->op), t->live);
    snprintf(out->schema_sha256, sizeof out->schema_sha256, "%s", sha);
    size_t n = h->node_count(arr);
    out->rel = calloc(n + 1, sizeof *out->rel);
    out->count = 0;
    if (!out->rel)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const rb_node *o = h->node_at(arr, i);
        const char *name = h->node_string(h->node_get(o, "name"));
        const char *sum = h->node_string(h->node_get(o, "checksum"));
        const char *kind = h->node_string(h->node_get(o, "kind"));
        if (!name || !sum)
            continue;
        pg_relsum *rs = &out->rel[out->count];
        rs->name = strdup(name);
        if (!rs->name) {
            pg_sums_free(out);
            return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        }
        rs->kind = kind_of(kind ? kind : "table");
        rs->rows = h->node_int(h->node_get(o, "rows"));
        rs->schema_len = (size_t)h->node_int(h->node_get(o, "schema_length"));
        if (rs->schema_len >= strlen(name))
            rs->schema_len = (size_t)(strchr(name, '.') ? strchr(name, '.') - name : 0);
        const char *seq = h->node_string(h->node_get(o, "sequence_state"));
        snprintf(rs->seq, sizeof rs->seq, "%s", seq ? seq : "");
        snprintf(rs->checksum, sizeof rs->checksum, "%s", sum);
        out->count++;
    }
    return 0;
}

/* "SELECT pg_catalog.setval('"s"."r"', 42, true);" for one sequence. */
static char *setval_sql(PGconn *c, const pg_relsum *rs)
{
    char nsp[256], rel[256];
    snprintf(nsp, sizeof nsp, "%.*s", (int)rs->schema_len, rs->name);
    snprintf(rel, sizeof rel, "%s", rs->name + rs->schema_len + 1);
    char *qn = pg_ident(c, nsp), *qr = pg_ident(c, rel);
    char *out = NULL;
    long long value = 0;
    char called = 'f';
    if (qn && qr && sscanf(rs->seq, "%lld\t%c", &value, &called) == 2) {
        size_t len = strlen(qn) + strlen(qr) + 2;
        char *full = malloc(len);
        if (full) {
            snprintf(full, len, "%s.%s", qn, qr);
            char *lit = PQescapeLiteral(c, full, strlen(full));
            if (lit) {
                size_t n = strlen(lit) + 96;
                out = malloc(n);
                if (out)
                    snprintf(out, n, "SELECT pg_catalog.setval(%s, %lld, %s);\n", lit, value,
                             called == 't' ? "true" : "false");
                PQfreemem(lit);
            }
            free(full);
        }
    }
    PQfreemem(qn);
    PQfreemem(qr);
    return out;
}

char *pg_sums_sequence_sql(pg_target *t, PGconn *c, const rb_node *meta)
{
    pg_sums s = {0};
    if (pg_sums_load(t, meta, &s))
        return NULL;
    char *all = calloc(1, 1);
    size_t len = 0;
    for (size_t i = 0; all && i < s.count; i++) {
        if (s.rel[i].kind != 'S' || !s.rel[i].seq[0])
            continue;
        char *one = setval_sql(c, &s.rel[i]);
        char *grown = one ? realloc(all, len + strlen(one) + 1) : NULL;
        if (!grown) {
            free(one);
            free(all);
            all = NULL;
            break;
        }
        all = grown;
        memcpy(all + len, one, strlen(one) + 1);
        len += strlen(one);
        free(one);
    }
    pg_sums_free(&s);
    if (!all)
        t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return all;
}

int pg_sums_set_sequences(pg_target *t, PGconn *c, const rb_node *meta)
{
    char *sql = pg_sums_sequence_sql(t, c, meta);
    if (!sql)
        return RB_ENOMEM;
    int rc = *sql ? pg_exec(t, c, "setting the sequences to their recorded state", sql) : 0;
    free(sql);
    return rc;
}
