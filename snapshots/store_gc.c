#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

/* gc runs with the store's exclusive lock and the transaction lock held
 * exclusively: no snapshot is being written, so every pack without an index
 * is garbage and the set of live blobs cannot grow under it.
 *
 * Per pack: no live record -> the pack goes; less than half its bytes live
 * -> the live records are copied to a new pack first; otherwise only the
 * index is rewritten without the dead records (their bytes stay until the
 * pack is mostly dead). */

typedef struct gc_run {
    rb_store *store;
    rb_idtab live;
    uint64_t freed_blobs, freed_bytes;
} gc_run;

static int mark_live(gc_run *g)
{
    char **ids;
    size_t n;
    int rc = rb_store_snapshot_list(g->store, &ids, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cJSON *doc;
        rc = rb_store_snapshot_read(g->store, ids[i], &doc);
        uint8_t *refs = NULL;
        size_t nrefs = 0;
        if (rc == 0)
            rc = rb_store_snapshot_refs(g->store, doc, &refs, &nrefs);
        cJSON_Delete(doc);
        if (rc < 0) {
            /* Without the full list of what a snapshot uses, nothing can be
             * removed safely. */
            rb_error_prefix("gc stopped: cannot tell which blobs snapshot '%s' uses; run "
                            "'rbhost check'",
                            ids[i]);
            break;
        }
        for (size_t k = 0; rc == 0 && k < nrefs; k++) {
            bool fresh;
            if (!rb_idtab_insert(&g->live, refs + 32 * k, &fresh))
                rc = rb_store_nomem();
        }
        free(refs);
    }
    rb_store_free_list(ids, n);
    return rc;
}

/* A record is live when a snapshot uses it and it is the copy the index
 * serves (a blob stored twice by concurrent snapshots keeps one copy). */
static bool is_live(gc_run *g, uint32_t pack, const rb_blob_loc *e)
{
    if (!rb_idtab_find(&g->live, e->id))
        return false;
    pthread_rwlock_rdlock(&g->store->index_lock);
    const rb_blob_loc *canon = rb_idtab_find(&g->store->index, e->id);
    bool live = canon && canon->pack == pack && canon->offset == e->offset;
    pthread_rwlock_unlock(&g->store->index_lock);
    return live;
}

static int pack_no_of(rb_store *s, const char *stem, uint32_t *no)
{
    int rc = RB_ENOTFOUND;
    pthread_mutex_lock(&s->packs_mu);
    for (size_t i = 0; rc != 0 && i < s->npacks; i++) {
        if (strcmp(s->packs[i].name, stem) == 0) {
            *no = (uint32_t)i;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->packs_mu);
    return rc;
}

static int remove_pack(gc_run *g, const char *stem)
{
    char *pack = rb_store_path(g->store->packs_dir, "%s.pack", stem);
    struct stat st;
    if (pack && stat(pack, &st) == 0)
        g->freed_bytes += (uint64_t)st.st_size;
    free(pack);
    return rb_store_pack_remove(g->store, stem);
}

static int copy_live(gc_run *g, uint32_t from, rb_blob_loc *live, size_t n)
{
    rb_store_txn *t;
    int rc = rb_store_txn_begin_locked(g->store, &t);
    if (rc < 0)
        return rc;
    rc = rb_store_repack_copy(t, from, live, n);
    if (rc == 0)
        rc = rb_store_txn_write_indexes(t);
    rb_store_txn_free(t, rc < 0);
    return rc;
}

static int sweep_pack(gc_run *g, const char *stem)
{
    rb_store *s = g->store;
    char *path = rb_store_path(s->packs_dir, "%s.idx", stem);
    if (!path)
        return rb_store_nomem();
    rb_blob_loc *entries;
    size_t n;
    int rc = rb_store_index_read(path, &entries, &n);
    free(path);
    if (rc == RB_ECORRUPT) {
        /* Leave damage in place for check to report and the user to see. */
        rb_error_clear();
        return 0;
    }
    if (rc < 0)
        return rc;
    uint32_t no;
    if (pack_no_of(s, stem, &no) < 0) {
        free(entries);
        return 0;
    }
    size_t nlive = 0;
    uint64_t live_bytes = 0, all_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        all_bytes += entries[i].stored_len;
        if (is_live(g, no, &entries[i])) {
            live_bytes += entries[i].stored_len;
            entries[nlive++] = entries[i];
        }
    }
    uint64_t dead = n - nlive;
    if (nlive == 0) {
        rc = remove_pack(g, stem);
    } else if (live_bytes * 2 < all_bytes) {
        rc = copy_live(g, no, entries, nlive);
        if (rc == 0)
            rc = remove_pack(g, stem);
        g->freed_bytes -= live_bytes;
    } else if (dead > 0) {
        rc = rb_store_index_write(s, no, entries, nlive);
    }
    if (rc == 0)
        g->freed_blobs += dead;
    free(entries);
    return rc;
}

static bool stale_temp(const char *name)
{
    /* ".<name>.tmp.<pid>.<n>", left by a writer that died. */
    const char *t = strstr(name, ".tmp.");
    if (name[0] != '.' || !t)
        return false;
    long pid = strtol(t + 5, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int sweep_dir(gc_run *g, const char *dir, bool packs)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : rb_error_os("cannot read %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = rb_store_nomem();
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name)))
            rc = rb_store_nomem();
        else
            n++;
    }
    closedir(d);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *name = names[i];
        size_t len = strlen(name);
        if (stale_temp(name)) {
            char *p = rb_fs_join(dir, name);
            if (p)
                unlink(p);
            free(p);
        } else if (packs && len == RB_STORE_PACK_NAME + 5 && !strcmp(name + len - 5, ".pack")) {
            char *idx = rb_store_path(dir, "%.*s.idx", RB_STORE_PACK_NAME, name);
            struct stat st;
            if (idx && stat(idx, &st) < 0 && errno == ENOENT) {
                char stem[RB_STORE_PACK_NAME + 1];
                snprintf(stem, sizeof stem, "%.*s", RB_STORE_PACK_NAME, name);
                rc = remove_pack(g, stem);
            }
            free(idx);
        } else if (packs && len == RB_STORE_PACK_NAME + 4 && !strcmp(name + len - 4, ".idx")) {
            char stem[RB_STORE_PACK_NAME + 1];
            snprintf(stem, sizeof stem, "%.*s", RB_STORE_PACK_NAME, name);
            rc = sweep_pack(g, stem);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int gc_locked(gc_run *g)
{
    rb_store *s = g->store;
    rb_store_index_reset(s);
    int rc = rb_store_index_ensure(s);
    if (rc == 0)
        rc = mark_live(g);
    if (rc == 0)
        rc = sweep_dir(g, s->packs_dir, true);
    if (rc == 0)
        rc = sweep_dir(g, s->dir, false);
    if (rc == 0)
        rc = sweep_dir(g, s->records_dir, false);
    if (rc == 0)
        rc = rb_fs_fsync_dir(s->packs_dir);
    /* The index now names what the sweep left, copies included. */
    rb_store_index_reset(s);
    if (rc == 0)
        rc = rb_store_index_ensure(s);
    if (rc == 0)
        rc = rb_store_repack_small(s);
    rb_store_index_reset(s);
    return rc;
}

int rb_store_gc(rb_store *store, uint64_t *freed_blobs, uint64_t *freed_bytes)
{
    if (freed_blobs)
        *freed_blobs = 0;
    if (freed_bytes)
        *freed_bytes = 0;
    rb_store_lock_mode before = store->lock_mode;
    int rc = 0;
    if (before != RB_STORE_LOCK_EXCLUSIVE)
        rc = rb_store_lock(store, RB_STORE_LOCK_EXCLUSIVE, "rbhost gc", 0);
    if (rc < 0)
        return rc;
    int data_fd = -1;
    rc = rb_store_data_lock(store, true, &data_fd);
    gc_run g = {store, {NULL, 0, 0}, 0, 0};
    if (rc == 0)
        rc = gc_locked(&g);
    if (data_fd >= 0)
        close(data_fd);
    rb_idtab_free(&g.live);
    if (before == 0)
        rb_store_unlock(store);
    else if (before == RB_STORE_LOCK_SHARED && flock(store->lock_fd, LOCK_SH) == 0)
        store->lock_mode = RB_STORE_LOCK_SHARED;
    if (rc == 0) {
        if (freed_blobs)
            *freed_blobs = g.freed_blobs;
        if (freed_bytes)
            *freed_bytes = g.freed_bytes;
    }
    return rc;
}
