/* Comparing the live database with a snapshot: verify (does it match?) and
 * plan (what would a rollback change?). Both read the live database in one
 * snapshot-isolated transaction, so a concurrent writer cannot make the
 * schema and the rows disagree with each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

typedef struct live_state {
    pg_sums sums;
    char *schema;
} live_state;

static int read_live(pg_target *t, live_state *ls)
{
    memset(ls, 0, sizeof *ls);
    PGconn *c = NULL;
    int rc = pg_connect(t, t->live, &c);
    if (rc)
        return rc;
    PGresult *r = NULL;
    rc = pg_exec(t, c, "starting a snapshot transaction",
                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!rc)
        r = pg_query(t, c, "exporting a snapshot", "SELECT pg_export_snapshot()", 0, NULL);
    if (!r)
        rc = rc ? rc : RB_EIO;
    if (!rc)
        rc =
            pg_sums_schema(t, c, t->live, PQgetvalue(r, 0, 0), &ls->schema, ls->sums.schema_sha256);
    PQclear(r);
    if (!rc)
        rc = pg_sums_relations(t, c, &ls->sums);
    PQfinish(c);
    return rc;
}

static void live_free(live_state *ls)
{
    pg_sums_free(&ls->sums);
    free(ls->schema);
}

static const pg_relsum *find(const pg_sums *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++)
        if (!strcmp(s->rel[i].name, name))
            return &s->rel[i];
    return NULL;
}

static const char *kind_word(char kind)
{
    return kind == 'S' ? "sequence" : kind == 'm' ? "materialized view" : "table";
}

/* One entry per relation whose rows differ; returns how many. */
static int compare_rows(pg_target *t, const pg_sums *then, const pg_sums *now, rb_node *arr,
                        const char *action_key)
{
    const rb_host_api *h = t->host;
    int n = 0;
    for (size_t i = 0; i < then->count; i++) {
        const pg_relsum *a = &then->rel[i], *b = find(now, a->name);
        if (b && !strcmp(a->checksum, b->checksum) && a->rows == b->rows)
            continue;
        rb_node *o = h->node_add_object(arr, NULL);
        if (!o)
            return RB_ENOMEM;
        h->node_add_string(o, action_key ? action_key : "change", b ? "restore" : "recreate");
        h->node_add_string(o, "item", a->name);
        h->node_add_string(o, "kind", kind_word(a->kind));
        h->node_add_int(o, "rows_then", a->rows);
        if (b)
            h->node_add_int(o, "rows_now", b->rows);
        else
            h->node_add_string(o, "now", "missing");
        n++;
    }
    for (size_t i = 0; i < now->count; i++) {
        const pg_relsum *b = &now->rel[i];
        if (find(then, b->name))
            continue;
        rb_node *o = h->node_add_object(arr, NULL);
        if (!o)
            return RB_ENOMEM;
        h->node_add_string(o, action_key ? action_key : "change", "drop");
        h->node_add_string(o, "item", b->name);
        h->node_add_string(o, "kind", kind_word(b->kind));
        h->node_add_string(o, "then", "absent");
        h->node_add_int(o, "rows_now", b->rows);
        n++;
    }
    return n;
}

/* pg_dump's schema output is a sequence of sections, each headed
 * "-- Name: x; Type: T; Schema: s; Owner: o". */
typedef struct section {
    const char *head;
    size_t head_len;
    const char *body;
    size_t body_len;
} section;

static section *split(const char *text, size_t *count)
{
    size_t cap = 64, n = 0;
    section *s = malloc(cap * sizeof *s);
    const char *p = text;
    while (s && (p = strstr(p, "\n-- Name: "))) {
        if (n == cap) {
            section *g = realloc(s, (cap *= 2) * sizeof *s);
            if (!g) {
                free(s);
                return NULL;
            }
            s = g;
        }
        const char *head = p + 4;
        const char *eol = strchr(head, '\n');
        size_t hl = eol ? (size_t)(eol - head) : strlen(head);
        const char *body = head + hl;
        const char *next = strstr(body, "\n-- Name: ");
        /* The header is wrapped in "--" lines; the next one's opening line
         * belongs to it. */
        size_t bl = next ? (size_t)(next - body) : strlen(body);
        s[n++] = (section){head, hl, body, bl};
        p = body;
    }
    *count = n;
    return s;
}

static const section *find_section(const section *s, size_t n, const section *want)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].head_len == want->head_len && !memcmp(s[i].head, want->head, want->head_len))
            return &s[i];
    return NULL;
}

/* "Name: orders; Type: TABLE; Schema: app; Owner: o" -> "TABLE app.orders";
 * a heading of another shape is kept as it is. */
static void item_name(const char *head, char *out, size_t len)
{
    char name[256], type[128], schema[128];
    if (sscanf(head, "Name: %255[^;]; Type: %127[^;]; Schema: %127[^;];", name, type, schema) !=
        3) {
        snprintf(out, len, "%s", head);
        return;
    }
    if (!strcmp(schema, "-"))
        snprintf(out, len, "%s %s", type, name);
    else
        snprintf(out, len, "%s %s.%s", type, schema, name);
}

static int add_schema_change(const rb_host_api *h, rb_node *arr, const char *action_key,
                             const char *action, const section *s)
{
    rb_node *o = h->node_add_object(arr, NULL);
    char head[512], item[600];
    snprintf(head, sizeof head, "%.*s", (int)s->head_len, s->head);
    item_name(head, item, sizeof item);
    if (!o || !h->node_add_string(o, action_key ? action_key : "change", action) ||
        !h->node_add_string(o, "item", item) || !h->node_add_string(o, "kind", "schema"))
        return RB_ENOMEM;
    return 0;
}

/* Names the schema objects that differ; falls back to one entry for the
 * whole schema when the recorded schema text is not in the store. */
static int compare_schema(pg_target *t, const rb_node *meta, const live_state *ls, rb_node *arr,
                          const char *action_key)
{
    const rb_host_api *h = t->host;
    const char *then_sha = h->node_string(h->node_get(meta, "schema_sha256"));
    if (then_sha && !strcmp(then_sha, ls->sums.schema_sha256))
        return 0;
    const char *blob = h->node_string(h->node_get(meta, "schema_blob"));
    rb_blob_reader *rd = NULL;
    char *then = NULL;
    size_t len = 0, cap = 0;
    if (blob && h->blob_reader_open(t->op, blob, &rd) == 0) {
        for (;;) {
            if (cap - len < 65536) {
                char *g = realloc(then, cap = cap * 2 + 65536);
                if (!g)
                    break;
                then = g;
            }
            int64_t got = h->blob_read(rd, then + len, cap - len - 1);
            if (got <= 0) {
                if (got < 0)
                    len = 0, free(then), then = NULL;
                break;
            }
            len += (size_t)got;
        }
        h->blob_reader_close(rd);
    }
    int n = 0;
    size_t na = 0, nb = 0;
    section *a = NULL, *b = NULL;
    if (then) {
        then[len] = '\0';
        a = split(then, &na);
        b = split(ls->schema, &nb);
    }
    if (a && b) {
        for (size_t i = 0; i < na; i++) {
            const section *o = find_section(b, nb, &a[i]);
            if (o && o->body_len == a[i].body_len && !memcmp(o->body, a[i].body, o->body_len))
                continue;
            if (add_schema_change(h, arr, action_key, o ? "alter" : "create", &a[i]))
                n = RB_ENOMEM;
            n += n >= 0;
        }
        for (size_t i = 0; n >= 0 && i < nb; i++)
            if (!find_section(a, na, &b[i])) {
                if (add_schema_change(h, arr, action_key, "drop", &b[i]))
                    n = RB_ENOMEM;
                n += n >= 0;
            }
    }
    if (n == 0) {
        rb_node *o = h->node_add_object(arr, NULL);
        if (!o || !h->node_add_string(o, action_key ? action_key : "change", "alter") ||
            !h->node_add_string(o, "item", "schema") || !h->node_add_string(o, "kind", "schema") ||
            !h->node_add_string(o, "sha256_then", then_sha ? then_sha : "") ||
            !h->node_add_string(o, "sha256_now", ls->sums.schema_sha256))
            n = RB_ENOMEM;
        else
            n = 1;
    }
    free(a);
    free(b);
    free(then);
    return n;
}

static int compare(pg_target *t, const rb_node *meta, rb_node *arr, const char *action_key,
                   int *count)
{
    pg_sums then = {0};
    live_state ls;
    int rc = pg_sums_load(t, meta, &then);
    if (rc)
        return rc;
    rc = read_live(t, &ls);
    int ns = rc ? 0 : compare_schema(t, meta, &ls, arr, action_key);
    int nr = rc || ns < 0 ? 0 : compare_rows(t, &then, &ls.sums, arr, action_key);
    if (!rc && (ns < 0 || nr < 0))
        rc = RB_ENOMEM;
    *count = ns + nr;
    live_free(&ls);
    pg_sums_free(&then);
    return rc;
}

int pg_verify_run(pg_target *t)
{
    const rb_host_api *h = t->host;
    rb_node *arr = h->node_add_array(h->result(t->op), "differences");
    if (!arr)
        return RB_ENOMEM;
    int n = 0;
    int rc = compare(t, h->metadata(t->op), arr, NULL, &n);
    if (rc)
        return rc;
    if (n)
        return h->error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                            "database %s differs from snapshot %s in %d place(s)", t->live,
                            h->op_snapshot_id(t->op), n);
    return 0;
}

int pg_plan_run(pg_target *t)
{
    const rb_host_api *h = t->host;
    rb_node *res = h->result(t->op);
    rb_node *arr = h->node_add_array(res, "changes");
    if (!arr)
        return RB_ENOMEM;
    int n = 0;
    int rc = compare(t, h->metadata(t->op), arr, "action", &n);
    if (rc)
        return rc;
    const char *method = h->node_string(h->node_get(h->metadata(t->op), "method"));
    char summary[400];
    if (n)
        snprintf(summary, sizeof summary,
                 "database %s: %d change(s) to undo; the rollback replaces the whole database "
                 "(method %s) and keeps the current one as the safety snapshot",
                 t->live, n, method ? method : "?");
    else
        snprintf(summary, sizeof summary, "database %s already matches the snapshot", t->live);
    return h->node_add_string(res, "summary", summary) ? 0 : RB_ENOMEM;
}
