/* The dump method, rollback side: the recorded tables are created in a
 * shadow schema without their secondary indexes, filled by LOAD DATA LOCAL
 * straight from the store on two connections at once, given their indexes
 * (one sort each), then swapped in with one RENAME TABLE. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

#define LOAD_WORKERS MY_MAX_PARTS

typedef struct load_part {
    size_t table;
    int part;
} load_part;

typedef struct load_job {
    const my_catalog *cat;
    const char *shadow;
    load_part *parts;
    size_t nparts;
    int *parts_left; /* per table: parts not loaded yet */
    size_t next;
    int failed;
    pthread_mutex_t mu;
} load_job;

typedef struct load_worker {
    load_job *job;
    my_target t; /* a copy: its error message stays with this thread */
    MYSQL *c;
    const char *blob; /* the blob the current LOAD DATA reads */
    rb_blob_reader *reader;
    char reader_error[256];
    int rc;
} load_worker;

/* The server asks for the "file" named in LOAD DATA LOCAL; the answer is
 * always the blob of the table being loaded, whatever name comes back. */
static int infile_init(void **ptr, const char *name, void *userdata)
{
    (void)name;
    load_worker *w = userdata;
    *ptr = w;
    w->reader = NULL;
    w->reader_error[0] = '\0';
    int rc = w->t.host->blob_reader_open(w->t.op, w->blob, &w->reader);
    if (rc) {
        snprintf(w->reader_error, sizeof w->reader_error,
                 "cannot open blob %s of the snapshot (error %d)", w->blob, rc);
        return 1;
    }
    return 0;
}

static int infile_read(void *ptr, char *buf, unsigned int len)
{
    load_worker *w = ptr;
    int64_t n = w->t.host->blob_read(w->reader, buf, len);
    if (n < 0) {
        snprintf(w->reader_error, sizeof w->reader_error,
                 "reading blob %s of the snapshot failed (error %d)", w->blob, (int)n);
        return -1;
    }
    return (int)n;
}

static void infile_end(void *ptr)
{
    load_worker *w = ptr;
    if (w && w->reader)
        w->t.host->blob_reader_close(w->reader);
    if (w)
        w->reader = NULL;
}

static int infile_error(void *ptr, char *msg, unsigned int len)
{
    load_worker *w = ptr;
    snprintf(msg, len, "%s", w && w->reader_error[0] ? w->reader_error : "reading the snapshot");
    return 2000;
}

static int check_warnings(my_target *t, MYSQL *c, const my_table *tb)
{
    unsigned int n = mysql_warning_count(c);
    if (!n)
        return 0;
    MYSQL_RES *r = my_query(t, c, "reading warnings", "SHOW WARNINGS LIMIT 1");
    if (!r)
        return RB_ERROR;
    MYSQL_ROW row = mysql_fetch_row(r);
    int rc = my_error(t, RB_ECORRUPT, RB_ERRCLASS_DATABASE,
                      "loading table %s from the snapshot gave %u warning%s, the first: %s; "
                      "database '%s' is unchanged",
                      tb->name, n, n == 1 ? "" : "s", row && row[2] ? row[2] : "?", t->live);
    mysql_free_result(r);
    return rc;
}

static int load_part_run(load_worker *w, const load_part *lp)
{
    my_target *t = &w->t;
    const my_table *tb = &w->job->cat->tables[lp->table];
    w->blob = tb->blobs[lp->part];
    /* One transaction per part, foreign-key checks off. A table loaded
     * whole also gets unique checks off: InnoDB's bulk path for an empty
     * table. That path locks the whole table, so the parts of a split table
     * keep unique checks on and load side by side with row locks. */
    int rc =
        my_exec(t, w->c, "preparing a load",
                tb->nparts > 1 ? "SET SESSION unique_checks = 1" : "SET SESSION unique_checks = 0");
    if (!rc)
        rc = my_exec(t, w->c, "starting a load", "START TRANSACTION");
    my_buf q = {0};
    my_buf_printf(&q, "LOAD DATA LOCAL INFILE '%s' INTO TABLE ", w->blob);
    my_buf_qname(&q, w->job->shadow, tb->name);
    my_buf_printf(&q, " CHARACTER SET binary %s", tb->load_list);
    char what[160];
    snprintf(what, sizeof what, "loading table %.64s", tb->name);
    if (!rc)
        rc = my_exec(t, w->c, what, my_buf_str(&q));
    my_buf_free(&q);
    if (!rc)
        rc = check_warnings(t, w->c, tb);
    if (!rc)
        rc = my_exec(t, w->c, what, "COMMIT");
    else
        mysql_query(w->c, "ROLLBACK");
    /* Whoever loads a table's last part builds its indexes. */
    pthread_mutex_lock(&w->job->mu);
    int last = !rc && --w->job->parts_left[lp->table] == 0;
    pthread_mutex_unlock(&w->job->mu);
    if (last)
        rc = my_add_keys(t, w->c, w->job->shadow, tb, MY_KEYS);
    return rc;
}

static void *load_thread(void *arg)
{
    load_worker *w = arg;
    load_job *job = w->job;
    for (;;) {
        pthread_mutex_lock(&job->mu);
        size_t i = job->failed ? job->nparts : job->next++;
        pthread_mutex_unlock(&job->mu);
        if (i >= job->nparts)
            break;
        if (w->t.host->cancelled(w->t.op))
            w->rc = my_error(&w->t, RB_ECANCELED, RB_ERRCLASS_DATABASE, "cancelled");
        else
            w->rc = load_part_run(w, &job->parts[i]);
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

static int load_all(my_target *t, const my_catalog *cat, const char *shadow)
{
    size_t total = 0;
    for (size_t i = 0; i < cat->ntables; i++)
        total += (size_t)cat->tables[i].nparts;
    load_job job = {cat,
                    shadow,
                    calloc(total + 1, sizeof(load_part)),
                    total,
                    calloc(cat->ntables + 1, sizeof(int)),
                    0,
                    0,
                    PTHREAD_MUTEX_INITIALIZER};
    size_t *order = calloc(cat->ntables + 1, sizeof *order);
    if (!job.parts || !job.parts_left || !order) {
        free(job.parts);
        free(job.parts_left);
        free(order);
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    /* Most rows first, a table's parts next to each other, so the two
     * connections share the largest table and finish close together. */
    for (size_t i = 0; i < cat->ntables; i++)
        order[i] = i;
    for (size_t i = 1; i < cat->ntables; i++)
        for (size_t j = i; j > 0 && cat->tables[order[j]].rows > cat->tables[order[j - 1]].rows;
             j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    size_t n_parts = 0;
    for (size_t i = 0; i < cat->ntables; i++) {
        job.parts_left[order[i]] = cat->tables[order[i]].nparts;
        for (int p = 0; p < cat->tables[order[i]].nparts; p++)
            job.parts[n_parts++] = (load_part){order[i], p};
    }
    free(order);
    load_worker w[LOAD_WORKERS];
    memset(w, 0, sizeof w);
    int n = job.nparts < LOAD_WORKERS ? (int)job.nparts : LOAD_WORKERS;
    int rc = 0;
    for (int i = 0; !rc && i < n; i++) {
        w[i].job = &job;
        w[i].t = *t;
        rc = my_connect(&w[i].t, NULL, &w[i].c);
        if (!rc)
            rc = my_session_setup(&w[i].t, w[i].c);
        if (rc)
            rc = my_error_forward(t, &w[i].t);
        else
            mysql_set_local_infile_handler(w[i].c, infile_init, infile_read, infile_end,
                                           infile_error, &w[i]);
    }
    pthread_t tid[LOAD_WORKERS];
    int started = 0;
    for (; !rc && started < n; started++)
        if (pthread_create(&tid[started], NULL, load_thread, &w[started])) {
            rc = my_error(t, RB_ERROR, RB_ERRCLASS_OS, "cannot start a load thread");
            pthread_mutex_lock(&job.mu);
            job.failed = 1;
            pthread_mutex_unlock(&job.mu);
            break;
        }
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; !rc && i < n; i++)
        if (w[i].rc)
            rc = my_error_forward(t, &w[i].t);
    for (int i = 0; i < n; i++)
        if (w[i].c)
            mysql_close(w[i].c);
    free(job.parts);
    free(job.parts_left);
    pthread_mutex_destroy(&job.mu);
    return rc;
}

int my_dump_restore(my_target *t, MYSQL *c, const rb_node *meta, rb_node *result)
{
    const rb_host_api *h = t->host;
    my_catalog snap;
    int rc = my_catalog_load(t, meta, &snap);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < snap.ntables; i++)
        if (!snap.tables[i].nparts || !snap.tables[i].load_list)
            rc = my_error(t, RB_ECORRUPT, RB_ERRCLASS_STORE,
                          "snapshot %s records no rows for table %s", h->op_snapshot_id(t->op),
                          snap.tables[i].name);
    my_buf id = {0};
    const char *rid = h->op_rollback_id(t->op);
    my_buf_printf(&id, "%s-%s", h->op_snapshot_id(t->op), rid ? rid : "");
    char shadow[65];
    my_schema_name('l', my_buf_str(&id) ? id.p : h->op_snapshot_id(t->op), shadow);
    my_buf_free(&id);
    double start = my_now();
    if (!rc)
        rc = my_schema_create(t, c, shadow, &snap);
    if (!rc)
        rc = my_create_tables(t, c, shadow, &snap, 1);
    if (!rc)
        rc = load_all(t, &snap, shadow);
    /* Foreign keys one table after the other on this connection: adding
     * them from two connections at once has crashed MariaDB 10.11. */
    for (size_t i = 0; !rc && i < snap.ntables; i++)
        rc = my_add_keys(t, c, shadow, &snap.tables[i], MY_FOREIGN_KEYS);
    double loaded = my_now();
    if (!rc)
        rc = my_restore_swap(t, c, shadow, &snap, result);
    if (rc) {
        my_target failed = *t;
        my_schema_drop(t, c, shadow);
        my_catalog_free(&snap);
        return my_error_forward(t, &failed);
    }
    rc = my_schema_drop(t, c, shadow);
    if (!rc && (!h->node_add_string(result, "method", "mysql_load_and_swap") ||
                !h->node_add_number(result, "load_seconds", loaded - start)))
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    my_catalog_free(&snap);
    return rc;
}
