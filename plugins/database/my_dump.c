/* The dump method, snapshot side: every table's rows read inside one
 * consistent snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT, on two
 * connections that start it while the tables are read-locked, so both see
 * the same state) and streamed into the store, one blob per table. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

#define DUMP_WORKERS 2

typedef struct dump_job {
    my_target *t;
    my_catalog *cat;
    size_t *order;
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

static int dump_table(dump_worker *w, my_table *tb)
{
    my_target *t = &w->t;
    const rb_host_api *h = t->host;
    sink_ctx s = {w, NULL};
    int rc = h->blob_writer_open(t->op, &s.bw);
    if (rc)
        return my_error(t, rc, RB_ERRCLASS_STORE, "opening a blob for table %s failed", tb->name);
    int64_t rows = 0;
    rc = my_rows_stream(t, w->c, t->live, tb, write_sink, &s, &rows);
    if (rc) {
        h->blob_writer_abort(s.bw);
        return rc;
    }
    rc = h->blob_writer_commit(s.bw, tb->blob);
    if (rc)
        return my_error(t, rc, RB_ERRCLASS_STORE, "storing the rows of table %s failed", tb->name);
    tb->rows = rows;
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

static void *dump_thread(void *arg)
{
    dump_worker *w = arg;
    dump_job *job = w->job;
    for (;;) {
        pthread_mutex_lock(&job->mu);
        size_t i = job->failed ? job->cat->ntables : job->next++;
        pthread_mutex_unlock(&job->mu);
        if (i >= job->cat->ntables)
            break;
        if (w->t.host->cancelled(w->t.op))
            w->rc = my_error(&w->t, RB_ECANCELED, RB_ERRCLASS_DATABASE, "cancelled");
        else
            w->rc = dump_table(w, &job->cat->tables[job->order[i]]);
        if (w->rc) {
            pthread_mutex_lock(&job->mu);
            job->failed = 1;
            pthread_mutex_unlock(&job->mu);
            break;
        }
        w->t.host->progress(w->t.op, i + 1, job->cat->ntables, "tables");
    }
    return NULL;
}

/* Largest tables first, so two workers finish close together. */
static int order_by_size(my_target *t, MYSQL *c, my_catalog *cat, size_t *order)
{
    int64_t *size = calloc(cat->ntables + 1, sizeof *size);
    if (!size)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    my_buf q = {0};
    my_buf_puts(&q, "SELECT TABLE_NAME, DATA_LENGTH FROM information_schema.TABLES WHERE "
                    "TABLE_SCHEMA = ");
    my_buf_literal(&q, t->live, strlen(t->live));
    MYSQL_RES *r = my_query(t, c, "reading table sizes", my_buf_str(&q));
    my_buf_free(&q);
    if (!r) {
        free(size);
        return RB_ERROR;
    }
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        my_table *tb = my_catalog_table(cat, row[0]);
        if (tb && row[1])
            size[tb - cat->tables] = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(r);
    for (size_t i = 0; i < cat->ntables; i++)
        order[i] = i;
    for (size_t i = 1; i < cat->ntables; i++)
        for (size_t j = i; j > 0 && size[order[j]] > size[order[j - 1]]; j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    free(size);
    return 0;
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

int my_dump_snapshot(my_target *t, MYSQL *c, my_catalog *cat, rb_node *meta)
{
    const rb_host_api *h = t->host;
    double start = my_now();
    dump_job job = {t, cat, calloc(cat->ntables + 1, sizeof(size_t)),
                    0, 0,   PTHREAD_MUTEX_INITIALIZER};
    dump_worker w[DUMP_WORKERS];
    memset(w, 0, sizeof w);
    int n = cat->ntables < DUMP_WORKERS ? (int)cat->ntables : DUMP_WORKERS;
    int rc = job.order ? order_by_size(t, c, cat, job.order)
                       : my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc)
        rc = start_workers(t, c, cat, w, n);
    pthread_t tid[DUMP_WORKERS];
    int started = 0;
    for (; !rc && started < n; started++) {
        w[started].job = &job;
        if (pthread_create(&tid[started], NULL, dump_thread, &w[started])) {
            rc = my_error(t, RB_ERROR, RB_ERRCLASS_OS, "cannot start a dump thread");
            pthread_mutex_lock(&job.mu);
            job.failed = 1;
            pthread_mutex_unlock(&job.mu);
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; !rc && i < n; i++)
        if (w[i].rc)
            rc = my_error_forward(t, &w[i].t);
    for (int i = 0; i < n; i++)
        if (w[i].c)
            mysql_close(w[i].c);
    free(job.order);
    pthread_mutex_destroy(&job.mu);
    if (!rc && !h->node_add_number(meta, "dump_seconds", my_now() - start))
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return rc;
}
