/* Shared by the two halves of the working-tree scan. */
#ifndef RB_GIT_SCAN_INTERNAL_H
#define RB_GIT_SCAN_INTERNAL_H

#include <sys/stat.h>

#include "git_scan.h"

typedef struct scan_ctx {
    git_repository *repo;
    const char *workdir; /* ends with '/' */
    size_t workdir_len;
    int untracked;
    int ignored;
    int filemode; /* core.filemode: the executable bit counts */
    struct timespec index_mtime;
    /* The index's entries, sorted by path as the index is, and every
     * directory that holds a tracked path ("" included), sorted. */
    const git_index_entry **entries;
    size_t nentries;
    char **dirs;
    size_t ndirs;
} scan_ctx;

/* A path found on disk that the index does not know. */
typedef struct scan_found {
    char *path;
    int is_dir;
} scan_found;

typedef struct scan_found_list {
    scan_found *items;
    size_t count;
    size_t capacity;
} scan_found_list;

/* Reads dirs[begin, end) and lists what in them is not tracked. Thread
 * safe: touches nothing but its arguments. Returns 0 or -1 (no memory). */
int rb_git_scan_read_dirs(const scan_ctx *c, size_t begin, size_t end, scan_found_list *out);
/* Sorts out what rb_git_scan_read_dirs found: ignore rules, nested
 * repositories, the files inside untracked directories. Main thread. */
int rb_git_scan_untracked(const scan_ctx *c, scan_found_list *found, rb_git_scan *out);
void rb_git_scan_found_free(scan_found_list *list);

uint32_t rb_git_scan_mode(const scan_ctx *c, const struct stat *st, uint32_t index_mode);
int rb_git_scan_add(rb_git_scan *s, const char *path, rb_git_change_kind kind, uint32_t mode);

#endif
