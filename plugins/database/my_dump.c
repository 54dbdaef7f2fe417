/* The dump method, snapshot side: every table's rows read inside one
 * consistent snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT, on two
 * connections that start it while the tables are read-locked, so both see
 * the same state) and streamed into the store. A large table with an
 * integer primary key is read in two key ranges, one per connection, each
 * into a blob of its own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

#define DUMP_WORKERS MY_MAX_PARTS
/* Tables smaller than this are read whole by one connection. */
#define SPLIT_BYTES (32LL << 20)

typedef struct dump_part {
    size_t table;
    int part;
    char *where; /* the key range, or NULL for the whole table */
    int64_t rows;
} dump_part;

typedef struct dump_job {
    my_catalog *cat;
    dump_part *parts;
    size_t nparts;
    size_t next;
    int failed;
    pthread_mutex_t mu;
} dump_job;

typedef struct dump_worker {
    dump_job *job;
    my_target t; /* a copy: its error message stays with this thread */
    MYSQL *c;
    int rc;
} dump_worker;

typedef struct sink_ctx {
    dump_worker *w;
    rb_blob_writer *bw;
} sink_ctx;

static int write_sink(void *ctx, const void *data, size_t len)
{
    sink_ctx *s = ctx;
    int rc = s->w->t.host->blob_write(s->bw, data, len);
    return rc ? my_error(&s->w->t, rc, RB_ERRCLASS_STORE,
                         "writing a table's rows into the snapshot store failed")
              : 0;
}

static int checksum(dump_worker *w, my_table *tb)
{
    my_target *t = &w->t;
    /* Inside the transaction CHECKSUM TABLE reads the same snapshot. */
    my_buf q = {0};
    my_buf_puts(&q, "CHECKSUM TABLE ");
    my_buf_qname(&q, t->live, tb->name);
    MYSQL_RES *r = my_query(t, w->c, "checksumming a table", my_buf_str(&q));
    my_buf_free(&q);
    if (!r)
        return RB_ERROR;
    MYSQL_ROW row = mysql_fetch_row(r);
    tb->checksum = row && mysql_num_fields(r) > 1 && row[1] ? strtoll(row[1], NULL, 10) : -1;
    mysql_free_result(r);
    return 0;
}

static int dump_part_run(dump_worker *w, dump_part *p)
{
    my_target *t = &w->t;
    const rb_host_api *h = t->host;
    my_table *tb = &w->job->cat->tables[p->table];
    sink_ctx s = {w, NULL};
    int rc = h->blob_writer_open(t->op, &s.bw);
    if (rc)
        return my_error(t, rc, RB_ERRCLASS_STORE, "opening a blob for table %s failed", tb->name);
    rc = my_rows_stream(t, w->c, t->live, tb, p->where, write_sink, &s, &p->rows);
    if (rc) {
        h->blob_writer_abort(s.bw);
        return rc;
    }
    rc = h->blob_writer_commit(s.bw, tb->blobs[p->part]);
    if (rc)
        return my_error(t, rc, RB_ERRCLASS_STORE, "storing the rows of table %s failed", tb->name);
    return p->part == 0 ? checksum(w, tb) : 0;
}

static void *dump_thread(void *arg)
{
    dump_worker *w = arg;
    dump_job *job = w->job;
    for (;;) {
        pthread_mutex_lock(&job->mu);
        size_t i = job->failed ? job->nparts : job->next++;
        pthread_mutex_unlock(&job->mu);
        if (i >= job->nparts)
            break;
        if (w->t.host->cancelled(w->t.op))
            w->rc = my_error(&w->t, RB_ECANCELED, RB_ERRCLASS_DATABASE, "cancelled");
        else
            w->rc = dump_part_run(w, &job->parts[i]);
        if (w->rc) {
            pthread_mutex_lock(&job->mu);
            job->failed = 1;
            pthread_mutex_unlock(&job->mu);
            break;
        }
        w->t.host->progress(w->t.op, i + 1, job->nparts, "parts");
    }
    return NULL;
}

/* The single integer column of the primary key, quoted, or NULL. */
static char *integer_key(const my_table *tb)
{
    const char *pk = strstr(tb->create, "\n  PRIMARY KEY (`");
    if (!pk)
        return NULL;
    pk += strlen("\n  PRIMARY KEY (");
    const char *end = strstr(pk, ")");
    if (!end || memchr(pk, ',', (size_t)(end - pk)))
        return NULL;
    char *col = strndup(pk, (size_t)(end - pk));
    my_buf def = {0};
    my_buf_printf(&def, "\n  %s ", col ? col : "");
    const char *line = my_buf_str(&def) ? strstr(tb->create, def.p) : NULL;
    static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint"};
    int integer = 0;
    for (size_t i = 0; line && i < 5; i++)
        integer |= !strncmp(line + def.len, ints[i], strlen(ints[i]));
    my_buf_free(&def);
    if (!integer) {
        free(col);
        return NULL;
    }
    return col;
}

/* The boundary between the two key ranges of a large table: the middle of
 * its keys. Rows added later still fall in one of the open ranges. */
static int plan_parts(my_target *t, MYSQL *c, my_catalog *cat, const int64_t *size, dump_job *job)
{
    job->parts = calloc(cat->ntables * DUMP_WORKERS + 1, sizeof *job->parts);
    if (!job->parts)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (size_t i = 0; i < cat->ntables; i++) {
        my_table *tb = &cat->tables[i];
        char *key = size[i] >= SPLIT_BYTES ? integer_key(tb) : NULL;
        long long mid = 0;
        int split = 0;
        if (key) {
            my_buf q = {0};
            my_buf_printf(&q, "SELECT MIN(%s), MAX(%s) FROM ", key, key);
            my_buf_qname(&q, t->live, tb->name);
            MYSQL_RES *r = my_query(t, c, "reading a key range", my_buf_str(&q));
            my_buf_free(&q);
            if (!r) {
                free(key);
                return RB_ERROR;
            }
            MYSQL_ROW row = mysql_fetch_row(r);
            if (row && row[0] && row[1]) {
                long long lo = strtoll(row[0], NULL, 10), hi = strtoll(row[1], NULL, 10);
                mid = lo + (hi - lo) / 2 + 1;
                split = hi > lo;
            }
            mysql_free_result(r);
        }
        tb->nparts = split ? 2 : 1;
        for (int p = 0; p < tb->nparts; p++) {
            dump_part *dp = &job->parts[job->nparts++];
            dp->table = i;
            dp->part = p;
            if (split) {
                my_buf w = {0};
                my_buf_printf(&w, "%s %s %lld", key, p ? ">=" : "<", mid);
                dp->where = my_buf_str(&w) ? w.p : NULL;
                if (!dp->where) {
                    my_buf_free(&w);
                    free(key);
                    return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
                }
            }
        }
        free(key);
    }
    return 0;
}

/* Largest tables first (their parts next to each other, so both
 * connections share the largest), so the two finish close together. */
static int order_by_size(my_target *t, MYSQL *c, my_catalog *cat, dump_job *job)
{
    int64_t *size = calloc(cat->ntables + 1, sizeof *size);
    size_t *order = calloc(cat->ntables + 1, sizeof *order);
    if (!size || !order) {
        free(size);
        free(order);
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    my_buf q = {0};
    my_buf_puts(&q, "SELECT TABLE_NAME, DATA_LENGTH FROM information_schema.TABLES WHERE "
                    "TABLE_SCHEMA = ");
    my_buf_literal(&q, t->live, strlen(t->live));
    MYSQL_RES *r = my_query(t, c, "reading table sizes", my_buf_str(&q));
    my_buf_free(&q);
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r))) {
        my_table *tb = my_catalog_table(cat, row[0]);
        if (tb && row[1])
            size[tb - cat->tables] = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(r);
    int rc = r ? plan_parts(t, c, cat, size, job) : RB_ERROR;
    for (size_t i = 0; i < cat->ntables; i++)
        order[i] = i;
    for (size_t i = 1; i < cat->ntables; i++)
        for (size_t j = i; j > 0 && size[order[j]] > size[order[j - 1]]; j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    /* Parts in the tables' order of size. */
    dump_part *sorted = rc ? NULL : calloc(job->nparts + 1, sizeof *sorted);
    if (!rc && !sorted)
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    size_t n = 0;
    for (size_t i = 0; sorted && i < cat->ntables; i++)
        for (size_t p = 0; p < job->nparts; p++)
            if (job->parts[p].table == order[i])
                sorted[n++] = job->parts[p];
    if (sorted) {
        free(job->parts);
        job->parts = sorted;
    }
    free(size);
    free(order);
    return rc;
}

static int start_workers(my_target *t, MYSQL *c, my_catalog *cat, dump_worker *w, int n)
{
    for (int i = 0; i < n; i++) {
        w[i].t = *t;
        int rc = my_connect(&w[i].t, NULL, &w[i].c);
        if (!rc)
            rc = my_session_setup(&w[i].t, w[i].c);
        /* Rows as stored, in each column's own character set. */
        if (!rc)
            rc = my_exec(&w[i].t, w[i].c, "preparing a dump connection",
                         "SET SESSION character_set_results = binary");
        if (!rc)
            rc = my_exec(&w[i].t, w[i].c, "preparing a dump connection",
                         "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        if (rc)
            return my_error_forward(t, &w[i].t);
    }
    /* While the read locks hold, no transaction writing these tables is
     * open or can begin: both snapshots start from the same state. */
    int rc = my_lock_tables(t, c, t->live, NULL, cat);
    for (int i = 0; !rc && i < n; i++)
        if (my_exec(&w[i].t, w[i].c, "starting the consistent snapshot",
                    "START TRANSACTION WITH CONSISTENT SNAPSHOT"))
            rc = my_error_forward(t, &w[i].t);
    if (cat->ntables)
        mysql_query(c, "UNLOCK TABLES");
    return rc;
}

static int run_workers(my_target *t, dump_job *job, dump_worker *w, int n)
{
    pthread_t tid[DUMP_WORKERS];
    int started = 0, rc = 0;
    for (; started < n; started++) {
        w[started].job = job;
        if (pthread_create(&tid[started], NULL, dump_thread, &w[started])) {
            rc = my_error(t, RB_ERROR, RB_ERRCLASS_OS, "cannot start a dump thread");
            pthread_mutex_lock(&job->mu);
            job->failed = 1;
            pthread_mutex_unlock(&job->mu);
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; !rc && i < n; i++)
        if (w[i].rc)
            rc = my_error_forward(t, &w[i].t);
    return rc;
}

int my_dump_snapshot(my_target *t, MYSQL *c, my_catalog *cat, rb_node *meta)
{
    const rb_host_api *h = t->host;
    double start = my_now();
    dump_job job = {cat, NULL, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    dump_worker w[DUMP_WORKERS];
    memset(w, 0, sizeof w);
    int rc = order_by_size(t, c, cat, &job);
    int n = job.nparts < DUMP_WORKERS ? (int)job.nparts : DUMP_WORKERS;
    if (!rc)
        rc = start_workers(t, c, cat, w, n);
    if (!rc)
        rc = run_workers(t, &job, w, n);
    for (int i = 0; i < n; i++)
        if (w[i].c)
            mysql_close(w[i].c);
    for (size_t i = 0; i < cat->ntables; i++)
        cat->tables[i].rows = 0;
    for (size_t p = 0; p < job.nparts; p++) {
        cat->tables[job.parts[p].table].rows += job.parts[p].rows;
        free(job.parts[p].where);
    }
    free(job.parts);
    pthread_mutex_destroy(&job.mu);
    if (!rc && !h->node_add_number(meta, "dump_seconds", my_now() - start))
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return rc;
}
