#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_error.h"
#include "rbtest.h"
#include "store_fixture.h"

static sf_store f;

static void setup(void)
{
    sf_open(&f);
}

static void teardown(void)
{
    sf_close(&f);
}

TestSuite(store_locks, .init = setup, .fini = teardown);

/* Forks a child that opens the store, takes `mode` and waits to be killed. */
static pid_t child_holding(rb_store_lock_mode mode, const char *command)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        rb_store *s;
        if (rb_store_open(&s, f.dir, 0) < 0 || rb_store_lock(s, mode, command, 0) < 0)
            _exit(1);
        char ok = 'y';
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    cr_assert_eq(read(p[0], &c, 1), 1, "the child could not take the lock");
    close(p[0]);
    return pid;
}

static void kill_child(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

Test(store_locks, conflicting_lock_names_the_holder)
{
    pid_t pid = child_holding(RB_STORE_LOCK_EXCLUSIVE, "rbhost create-snapshot --id x");
    cr_assert_eq(rb_store_lock(f.store, RB_STORE_LOCK_SHARED, "rbhost list-snapshots", 0),
                 RB_ELOCKED);
    char *want =
        rbt_fmt("store %s is locked by pid %ld (rbhost create-snapshot --id x)", f.dir, (long)pid);
    cr_assert_str_eq(sf_msg(), want);
    cr_assert_eq(rb_error_last()->klass, RB_ERRCLASS_LOCK);
    free(want);
    /* The kernel drops the lock of a dead holder. */
    kill_child(pid);
    cr_assert_eq(rb_store_lock(f.store, RB_STORE_LOCK_EXCLUSIVE, "rbhost gc", 0), 0, "%s",
                 sf_msg());
    rb_store_unlock(f.store);
}

Test(store_locks, shared_holders_coexist_and_block_exclusive)
{
    pid_t pid = child_holding(RB_STORE_LOCK_SHARED, "rbhost verify");
    cr_assert_eq(rb_store_lock(f.store, RB_STORE_LOCK_SHARED, "rbhost status", 0), 0, "%s",
                 sf_msg());
    rb_store_unlock(f.store);
    cr_assert_eq(rb_store_lock(f.store, RB_STORE_LOCK_EXCLUSIVE, "rbhost gc", 0), RB_ELOCKED);
    char *want = rbt_fmt("locked by pid %ld (rbhost verify)", (long)pid);
    cr_assert(strstr(sf_msg(), want), "%s", sf_msg());
    free(want);
    kill_child(pid);
}

/* What `rbhost create-snapshot` does, several times over. */
static int snapshot_process(const char *dir, const char *prefix)
{
    rb_store *s;
    if (rb_store_open(&s, dir, 0) < 0 ||
        rb_store_lock(s, RB_STORE_LOCK_SHARED, "rbhost create-snapshot", 0) < 0)
        return 1;
    char buf[20000];
    for (int i = 0; i < 5; i++) {
        rb_store_txn *txn;
        if (rb_store_txn_begin(s, &txn) < 0)
            return 1;
        for (int k = 0; k < 30; k++) {
            /* Even blobs are the same in both processes. */
            sf_fill(buf, sizeof buf,
                    k % 2 ? (uint64_t)(prefix[0] * 1000 + i * 100 + k) : (uint64_t)k);
            char id[RB_BLOB_ID_SIZE];
            if (rb_store_put(txn, buf, sizeof buf, id) < 0)
                return 1;
        }
        char name[32];
        snprintf(name, sizeof name, "%s-%d", prefix, i);
        cJSON *doc = cJSON_CreateObject();
        int rc = rb_store_snapshot_commit(txn, name, doc);
        cJSON_Delete(doc);
        if (rc < 0)
            return 1;
    }
    rb_store_close(s);
    return 0;
}

Test(store_locks, two_processes_snapshot_into_one_store_at_once)
{
    pid_t pids[2];
    const char *prefixes[] = {"a", "b"};
    for (int p = 0; p < 2; p++) {
        pids[p] = fork();
        cr_assert_geq(pids[p], 0);
        if (pids[p] == 0)
            _exit(snapshot_process(f.dir, prefixes[p]));
    }
    for (int p = 0; p < 2; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %s failed", prefixes[p]);
    }
    char **ids;
    size_t n;
    cr_assert_eq(rb_store_snapshot_list(f.store, &ids, &n), 0);
    cr_assert_eq(n, 10);
    rb_store_free_list(ids, n);
    cr_assert_eq(rb_store_check(f.store, NULL, NULL), 0, "%s", sf_msg());
    cr_assert_eq(rb_store_gc(f.store, NULL, NULL), 0, "%s", sf_msg());
    cr_assert_eq(rb_store_check(f.store, NULL, NULL), 0, "%s", sf_msg());
    char buf[20000];
    sf_fill(buf, sizeof buf, 4);
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    char id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_put(txn, buf, sizeof buf, id), 0);
    rb_store_txn_abort(txn);
    sf_expect_blob(f.store, id, buf, sizeof buf);
}
