/* Other clients at work: a rollback while another client stays connected,
 * and snapshots taken while a writer commits rows into two tables at once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "my_fixture.h"

static myt t;

static void setup(void)
{
    myt_open(&t, 1);
}

static void teardown(void)
{
    myt_close(&t);
}

TestSuite(mysql_concurrency, .init = setup, .fini = teardown, .timeout = 180);

Test(mysql_concurrency, rollback_while_another_client_stays_connected)
{
    char *cfg = myt_config(&t, "clone", NULL);
    cJSON_Delete(myt_snapshot(&t, "oc", cfg));
    myt_source(&t, RBT_MY_DIR "/changes.sql");

    MYSQL *other = mysql_init(NULL);
    cr_assert_not_null(mysql_real_connect(other, NULL, t.user, t.password, t.db, 0, t.socket, 0));
    cr_assert_eq(mysql_query(other, "SELECT name FROM customer WHERE id = 100"), 0);
    mysql_free_result(mysql_store_result(other));

    int code;
    cJSON *rec = myt_rollback(&t, "oc", NULL, &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);

    /* The other client's connection survives and sees the restored rows. */
    cr_assert_eq(mysql_query(other, "SELECT balance FROM customer WHERE id = 100"), 0, "%s",
                 mysql_error(other));
    MYSQL_RES *r = mysql_store_result(other);
    MYSQL_ROW row = mysql_fetch_row(r);
    cr_assert_str_eq(row[0], "10.50");
    mysql_free_result(r);
    mysql_close(other);
    free(cfg);
}

typedef struct writer {
    myt *t;
    atomic_int stop;
    long committed;
} writer;

/* Each transaction adds one row to each table: any consistent state has
 * as many rows in one as in the other. */
static void *write_pairs(void *arg)
{
    writer *w = arg;
    MYSQL *c = mysql_init(NULL);
    if (!mysql_real_connect(c, NULL, w->t->user, w->t->password, w->t->db, 0, w->t->socket, 0))
        return NULL;
    while (!atomic_load(&w->stop)) {
        if (mysql_query(c, "START TRANSACTION") ||
            mysql_query(c, "INSERT INTO pair_a (v) VALUES (1)") ||
            mysql_query(c, "INSERT INTO pair_b (v) VALUES (1)") || mysql_query(c, "COMMIT"))
            break;
        w->committed++;
    }
    mysql_close(c);
    return NULL;
}

static void snapshot_under_writes(const char *method)
{
    myt_sql(&t, "CREATE TABLE pair_a (id INT AUTO_INCREMENT PRIMARY KEY, v INT); "
                "CREATE TABLE pair_b (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
    writer w = {&t, 0, 0};
    pthread_t tid;
    cr_assert_eq(pthread_create(&tid, NULL, write_pairs, &w), 0);
    while (w.committed < 200)
        usleep(10000);
    char *cfg = myt_config(&t, method, NULL);
    cJSON_Delete(myt_snapshot(&t, "w1", cfg));
    usleep(200000);
    atomic_store(&w.stop, 1);
    pthread_join(tid, NULL);

    int code;
    cJSON *rec = myt_rollback(&t, "w1", NULL, &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    char *a = myt_value(&t, "SELECT COUNT(*) FROM pair_a");
    char *b = myt_value(&t, "SELECT COUNT(*) FROM pair_b");
    cr_assert_str_eq(a, b, "the snapshot is not one consistent state");
    cr_assert_gt(atol(a), 0);
    cr_assert_lt(atol(a), w.committed, "the writer went on after the snapshot");
    free(a);
    free(b);
    free(cfg);
}

Test(mysql_concurrency, clone_snapshot_under_writes_is_consistent)
{
    snapshot_under_writes("clone");
}

Test(mysql_concurrency, dump_snapshot_under_writes_is_consistent)
{
    snapshot_under_writes("dump");
}
