#include "git_scan.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "git_scan_internal.h"

int rb_git_scan_add(rb_git_scan *s, const char *path, rb_git_change_kind kind, uint32_t mode)
{
    if (s->count == s->capacity) {
        size_t cap = s->capacity ? s->capacity * 2 : 64;
        rb_git_change *n = realloc(s->items, cap * sizeof *n);
        if (!n)
            return GIT_ERROR;
        s->items = n;
        s->capacity = cap;
    }
    char *p = strdup(path);
    if (!p)
        return GIT_ERROR;
    s->items[s->count++] = (rb_git_change){p, kind, mode};
    return 0;
}

uint32_t rb_git_scan_mode(const scan_ctx *c, const struct stat *st, uint32_t index_mode)
{
    if (S_ISLNK(st->st_mode))
        return GIT_FILEMODE_LINK;
    if (!c->filemode)
        return index_mode == GIT_FILEMODE_BLOB_EXECUTABLE ? index_mode : GIT_FILEMODE_BLOB;
    return (st->st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

static int time_before(int64_t sec, uint32_t nsec, const struct timespec *t)
{
    return sec < t->tv_sec || (sec == t->tv_sec && (long)nsec < t->tv_nsec);
}

/* The same test as git's ie_match_stat: any difference in what the index
 * remembers of the file, or a file written in the same instant as the
 * index (racily clean), means the content has to be looked at. */
static int stat_differs(const scan_ctx *c, const git_index_entry *e, const struct stat *st)
{
    if (rb_git_scan_mode(c, st, e->mode) != e->mode)
        return 1;
    if ((uint32_t)st->st_size != e->file_size || (uint32_t)st->st_ino != e->ino ||
        st->st_uid != e->uid || st->st_gid != e->gid)
        return 1;
    if ((uint32_t)st->st_mtim.tv_sec != (uint32_t)e->mtime.seconds ||
        (uint32_t)st->st_ctim.tv_sec != (uint32_t)e->ctime.seconds)
        return 1;
    /* A git built without nanosecond support writes zeros there. */
    if ((e->mtime.nanoseconds || e->ctime.nanoseconds) &&
        ((uint32_t)st->st_mtim.tv_nsec != e->mtime.nanoseconds ||
         (uint32_t)st->st_ctim.tv_nsec != e->ctime.nanoseconds))
        return 1;
    if (!e->mtime.nanoseconds)
        return e->mtime.seconds >= c->index_mtime.tv_sec;
    return !time_before(e->mtime.seconds, e->mtime.nanoseconds, &c->index_mtime);
}

enum { CLEAN = 0, GONE = 1, CHANGED = 2 };

typedef struct scan_job {
    const scan_ctx *c;
    size_t entry_begin, entry_end;
    size_t dir_begin, dir_end;
    unsigned char *verdict;
    uint32_t *modes;
    scan_found_list found;
    int failed;
} scan_job;

static int needs_stat(const git_index_entry *e)
{
    return e->mode != GIT_FILEMODE_COMMIT && !(e->flags_extended & GIT_INDEX_ENTRY_SKIP_WORKTREE);
}

/* Index entries are sorted by path, so one directory's files come
 * together: stat them relative to an open directory instead of walking the
 * whole path each time. */
static void check_entries(scan_job *j)
{
    const scan_ctx *c = j->c;
    char dir[4096];
    size_t dir_len = (size_t)-1;
    int dirfd = -1;
    for (size_t i = j->entry_begin; i < j->entry_end; i++) {
        const git_index_entry *e = c->entries[i];
        if (!needs_stat(e))
            continue;
        const char *slash = strrchr(e->path, '/');
        size_t len = slash ? (size_t)(slash - e->path) : 0;
        if (len != dir_len || strncmp(dir + c->workdir_len, e->path, len)) {
            if (dirfd >= 0)
                close(dirfd);
            dirfd = -1;
            dir_len = len;
            if (c->workdir_len + len + 1 <= sizeof dir) {
                memcpy(dir, c->workdir, c->workdir_len);
                memcpy(dir + c->workdir_len, e->path, len);
                dir[c->workdir_len + len] = '\0';
                dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
        }
        struct stat st;
        if (dirfd < 0 ||
            fstatat(dirfd, slash ? slash + 1 : e->path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            S_ISDIR(st.st_mode)) {
            j->verdict[i] = GONE;
        } else if (git_index_entry_stage(e) != 0 ||
                   (e->flags_extended & GIT_INDEX_ENTRY_INTENT_TO_ADD) || stat_differs(c, e, &st)) {
            j->verdict[i] = CHANGED;
            j->modes[i] = rb_git_scan_mode(c, &st, e->mode);
        }
    }
    if (dirfd >= 0)
        close(dirfd);
}

static void *run_job(void *arg)
{
    scan_job *j = arg;
    check_entries(j);
    if (j->c->untracked || j->c->ignored)
        j->failed = rb_git_scan_read_dirs(j->c, j->dir_begin, j->dir_end, &j->found) < 0;
    return NULL;
}

/* Like git's preloaded index: the stat calls dominate, and the kernel
 * serves them in parallel. */
static int run_parallel(const scan_ctx *c, unsigned char *verdict, uint32_t *modes,
                        scan_found_list *found)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = cpus > 1 ? (cpus > 4 ? 4 : (size_t)cpus) : 1;
    if (c->nentries < 4096)
        threads = 1;
    pthread_t tid[4];
    int started[4] = {0, 0, 0, 0};
    scan_job jobs[4];
    for (size_t t = 0; t < threads; t++) {
        jobs[t] = (scan_job){c,
                             c->nentries * t / threads,
                             c->nentries * (t + 1) / threads,
                             c->ndirs * t / threads,
                             c->ndirs * (t + 1) / threads,
                             verdict,
                             modes,
                             {NULL, 0, 0},
                             0};
        if (t + 1 < threads)
            started[t] = pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
    }
    for (size_t t = 0; t < threads; t++)
        if (!started[t])
            run_job(&jobs[t]);
    int failed = 0;
    for (size_t t = 0; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        failed |= jobs[t].failed;
        for (size_t i = 0; i < jobs[t].found.count; i++) {
            if (!failed && found->count == found->capacity) {
                size_t cap = found->capacity ? found->capacity * 2 : 16;
                scan_found *n = realloc(found->items, cap * sizeof *n);
                if (n) {
                    found->items = n;
                    found->capacity = cap;
                } else {
                    failed = 1;
                }
            }
            if (!failed)
                found->items[found->count++] = jobs[t].found.items[i];
            else
                free(jobs[t].found.items[i].path);
        }
        free(jobs[t].found.items);
    }
    return failed ? GIT_ERROR : 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp((*(const git_index_entry *const *)a)->path,
                  (*(const git_index_entry *const *)b)->path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_dir(char ***dirs, size_t *n, size_t *cap, const char *path, size_t len)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **p = realloc(*dirs, nc * sizeof *p);
        if (!p)
            return GIT_ERROR;
        *dirs = p;
        *cap = nc;
    }
    if (!((*dirs)[*n] = strndup(path, len)))
        return GIT_ERROR;
    (*n)++;
    return 0;
}

/* Every directory that holds a tracked path, each once. */
static int collect_dirs(scan_ctx *c)
{
    size_t cap = 0;
    int err = add_dir(&c->dirs, &c->ndirs, &cap, "", 0);
    const char *last = "";
    size_t last_len = 0;
    for (size_t i = 0; !err && i < c->nentries; i++) {
        const char *p = c->entries[i]->path;
        const char *slash = strrchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : 0;
        if (!len || (len == last_len && !strncmp(p, last, len)))
            continue;
        last = p;
        last_len = len;
        for (size_t k = 0; !err && k <= len; k++)
            if (k == len || p[k] == '/')
                err = add_dir(&c->dirs, &c->ndirs, &cap, p, k);
    }
    if (err)
        return err;
    qsort(c->dirs, c->ndirs, sizeof *c->dirs, cmp_str);
    size_t w = 0;
    for (size_t r = 0; r < c->ndirs; r++) {
        if (w && !strcmp(c->dirs[w - 1], c->dirs[r]))
            free(c->dirs[r]);
        else
            c->dirs[w++] = c->dirs[r];
    }
    c->ndirs = w;
    return 0;
}

static int read_filemode(git_repository *repo)
{
    git_config *cfg = NULL;
    int filemode = 1;
    if (git_repository_config_snapshot(&cfg, repo) == 0) {
        if (git_config_get_bool(&filemode, cfg, "core.filemode") < 0)
            filemode = 1;
        git_config_free(cfg);
    }
    git_error_clear();
    return filemode;
}

static int report(scan_ctx *c, const unsigned char *verdict, const uint32_t *modes,
                  rb_git_scan *out)
{
    int err = 0;
    for (size_t i = 0; !err && i < c->nentries; i++) {
        const git_index_entry *e = c->entries[i];
        if (verdict[i] == GONE && git_index_entry_stage(e) == 0)
            err = rb_git_scan_add(out, e->path, RB_GIT_DELETED, 0);
        else if (verdict[i] == CHANGED &&
                 (i == 0 || strcmp(c->entries[i - 1]->path, e->path) || verdict[i - 1] != CHANGED))
            err = rb_git_scan_add(out, e->path, RB_GIT_MAYBE_MODIFIED, modes[i]);
    }
    return err;
}

int rb_git_scan_workdir(git_repository *repo, git_index *index, int untracked, int ignored,
                        rb_git_scan *out)
{
    memset(out, 0, sizeof *out);
    scan_ctx c;
    memset(&c, 0, sizeof c);
    c.repo = repo;
    c.workdir = git_repository_workdir(repo);
    c.workdir_len = strlen(c.workdir);
    c.untracked = untracked;
    c.ignored = ignored;
    c.filemode = read_filemode(repo);
    struct stat st;
    const char *index_path = git_index_path(index);
    if (index_path && stat(index_path, &st) == 0)
        c.index_mtime = st.st_mtim;
    size_t n = git_index_entrycount(index);
    c.entries = malloc((n ? n : 1) * sizeof *c.entries);
    unsigned char *verdict = calloc(n ? n : 1, 1);
    uint32_t *modes = calloc(n ? n : 1, sizeof *modes);
    scan_found_list found = {NULL, 0, 0};
    int err = c.entries && verdict && modes ? 0 : GIT_ERROR;
    for (size_t i = 0; !err && i < n; i++)
        c.entries[c.nentries++] = git_index_get_byindex(index, i);
    /* Lookups go by byte order; an index of a case-insensitive repository
     * (core.ignorecase) is sorted another way. */
    if (!err && (git_index_caps(index) & GIT_INDEX_CAPABILITY_IGNORE_CASE))
        qsort(c.entries, c.nentries, sizeof *c.entries, cmp_entry);
    if (!err)
        err = collect_dirs(&c);
    if (!err)
        err = run_parallel(&c, verdict, modes, &found);
    if (!err)
        err = report(&c, verdict, modes, out);
    if (!err)
        err = rb_git_scan_untracked(&c, &found, out);
    rb_git_scan_found_free(&found);
    for (size_t i = 0; i < c.ndirs; i++)
        free(c.dirs[i]);
    free(c.dirs);
    free(modes);
    free(verdict);
    free(c.entries);
    if (err < 0)
        rb_git_scan_free(out);
    return err;
}

void rb_git_scan_free(rb_git_scan *scan)
{
    for (size_t i = 0; i < scan->count; i++)
        free(scan->items[i].path);
    free(scan->items);
    memset(scan, 0, sizeof *scan);
}
