#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

typedef struct checker {
    rb_store *store;
    rb_store_problem_fn fn;
    void *ctx;
    size_t problems;
    rb_idtab corrupt; /* corrupt records; `used` marks one a snapshot named */
    char **details;   /* message for each corrupt record, by insertion order */
    size_t ndetails;
} checker;

static void report(checker *c, const char *kind, const char *object, const char *snapshot,
                   const char *detail)
{
    c->problems++;
    if (!c->fn)
        return;
    rb_store_problem p = {kind, object, snapshot, detail};
    c->fn(&p, c->ctx);
}

static int check_index_files(checker *c)
{
    DIR *d = opendir(c->store->packs_dir);
    if (!d)
        return errno == ENOENT ? 0 : rb_error_os("cannot read %s", c->store->packs_dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || e->d_name[0] == '.' || strcmp(e->d_name + n - 4, ".idx") != 0)
            continue;
        char *path = rb_fs_join(c->store->packs_dir, e->d_name);
        rb_blob_loc *entries;
        size_t count;
        if (path && rb_store_index_read(path, &entries, &count) < 0) {
            report(c, "bad_index", e->d_name, NULL, rb_error_last()->message);
            rb_error_clear();
        } else if (path) {
            free(entries);
        }
        free(path);
    }
    closedir(d);
    return 0;
}

/* Re-hashing is the whole cost of check: records are verified on every
 * core, in pack order so that the disk reads sequentially. */
#define VERIFY_THREADS_MAX 4
#define VERIFY_BATCH       64

typedef struct verify_run {
    rb_store *store;
    const rb_blob_loc *all;
    size_t n;
    char **why; /* per record: NULL when sound */
    atomic_size_t next;
    atomic_int failed; /* out of memory */
} verify_run;

static void *verify_worker(void *arg)
{
    verify_run *v = arg;
    for (;;) {
        size_t first = atomic_fetch_add(&v->next, VERIFY_BATCH);
        if (first >= v->n)
            break;
        size_t last = first + VERIFY_BATCH < v->n ? first + VERIFY_BATCH : v->n;
        for (size_t i = first; i < last; i++) {
            int rc = rb_store_record_verify(v->store, &v->all[i]);
            if (rc == RB_ENOMEM || (rc < 0 && !(v->why[i] = strdup(rb_error_last()->message))))
                atomic_store(&v->failed, RB_ENOMEM);
        }
    }
    return NULL;
}

static int cmp_location(const void *a, const void *b)
{
    const rb_blob_loc *x = a, *y = b;
    if (x->pack != y->pack)
        return x->pack < y->pack ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int note_corrupt(checker *c, const uint8_t id[32], char *why)
{
    bool fresh;
    rb_blob_loc *e = rb_idtab_insert(&c->corrupt, id, &fresh);
    char **g = realloc(c->details, (c->ndetails + 1) * sizeof *g);
    if (g)
        c->details = g;
    if (!e || !g) {
        free(why);
        return rb_store_nomem();
    }
    e->offset = c->ndetails;
    e->flags = 0;
    c->details[c->ndetails++] = why;
    return 0;
}

static int check_records(checker *c)
{
    rb_store *s = c->store;
    /* Records are verified outside the index lock: a copy of the table is
     * taken first. */
    pthread_rwlock_rdlock(&s->index_lock);
    size_t n = 0;
    rb_blob_loc *all = malloc((s->index.count ? s->index.count : 1) * sizeof *all);
    for (size_t i = 0; all && i < s->index.cap; i++)
        if (s->index.slots[i].used)
            all[n++] = s->index.slots[i];
    pthread_rwlock_unlock(&s->index_lock);
    char **why = calloc(n ? n : 1, sizeof *why);
    if (!all || !why) {
        free(all);
        free(why);
        return rb_store_nomem();
    }
    qsort(all, n, sizeof *all, cmp_location);
    verify_run v = {s, all, n, why, 0, 0};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = cpus < 1 ? 1 : cpus > VERIFY_THREADS_MAX ? VERIFY_THREADS_MAX : (size_t)cpus;
    pthread_t threads[VERIFY_THREADS_MAX];
    size_t started = 0;
    while (started < nthreads && pthread_create(&threads[started], NULL, verify_worker, &v) == 0)
        started++;
    /* Without threads the caller does the work itself. */
    if (started == 0)
        verify_worker(&v);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    int rc = atomic_load(&v.failed) ? rb_store_nomem() : 0;
    for (size_t i = 0; i < n; i++) {
        if (why[i] && rc == 0)
            rc = note_corrupt(c, all[i].id, why[i]);
        else
            free(why[i]);
    }
    free(why);
    free(all);
    return rc;
}

static int check_snapshot(checker *c, const char *id)
{
    cJSON *doc;
    int rc = rb_store_snapshot_read(c->store, id, &doc);
    if (rc == RB_ECORRUPT || (rc == 0 && !cJSON_IsObject(doc))) {
        report(c, "bad_metadata", id, id,
               rc < 0 ? rb_error_last()->message : "the document is not a JSON object");
        rb_error_clear();
        cJSON_Delete(doc);
        return 0;
    }
    if (rc < 0)
        return rc == RB_ENOTFOUND ? 0 : rc; /* deleted meanwhile */
    uint8_t *ids;
    size_t n;
    rc = rb_store_snapshot_refs(c->store, doc, &ids, &n);
    if (rc == RB_ENOTFOUND || rc == RB_ECORRUPT) {
        const cJSON *refs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(doc, "store"), "refs");
        bool missing = rc == RB_ENOTFOUND;
        report(c, missing ? "missing_blob" : "bad_metadata",
               cJSON_IsString(refs) ? refs->valuestring : id, id, rb_error_last()->message);
        rb_error_clear();
        cJSON_Delete(doc);
        return 0;
    }
    cJSON_Delete(doc);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char hex[RB_BLOB_ID_SIZE];
        rb_store_hex(ids + 32 * i, hex);
        rb_blob_loc loc;
        rb_blob_loc *bad = rb_idtab_find(&c->corrupt, ids + 32 * i);
        if (bad) {
            bad->flags = 1;
            report(c, "corrupt_blob", hex, id, c->details[bad->offset]);
            continue;
        }
        pthread_rwlock_rdlock(&c->store->index_lock);
        bool found = rb_idtab_find(&c->store->index, ids + 32 * i) != NULL;
        pthread_rwlock_unlock(&c->store->index_lock);
        if (!found && rb_store_index_lookup(c->store, ids + 32 * i, &loc, true) < 0) {
            rb_error_clear();
            report(c, "missing_blob", hex, id, "the blob is not in the store");
        }
    }
    free(ids);
    return 0;
}

int rb_store_check(rb_store *store, rb_store_problem_fn fn, void *ctx)
{
    checker c = {store, fn, ctx, 0, {NULL, 0, 0}, NULL, 0};
    int rc = check_index_files(&c);
    if (rc == 0) {
        rb_store_index_reset(store);
        rc = rb_store_index_ensure(store);
    }
    if (rc == 0)
        rc = check_records(&c);
    char **ids = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = rb_store_snapshot_list(store, &ids, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_snapshot(&c, ids[i]);
    rb_store_free_list(ids, n);
    /* Damage no snapshot uses still deserves a report: gc would keep
     * nothing of it, but the disk under the store may be failing. */
    for (size_t i = 0; rc == 0 && i < c.corrupt.cap; i++) {
        const rb_blob_loc *e = &c.corrupt.slots[i];
        if (!e->used || e->flags)
            continue;
        char hex[RB_BLOB_ID_SIZE];
        rb_store_hex(e->id, hex);
        report(&c, "corrupt_blob", hex, NULL, c.details[e->offset]);
    }
    for (size_t i = 0; i < c.ndetails; i++)
        free(c.details[i]);
    free(c.details);
    rb_idtab_free(&c.corrupt);
    if (rc < 0)
        return rc;
    if (c.problems > 0)
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "store %s has %zu problem%s",
                            store->dir, c.problems, c.problems == 1 ? "" : "s");
    return 0;
}
