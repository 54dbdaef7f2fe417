/* The target's configuration: the roots to record and the exclude globs. */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stddef.h>

#include <rbhost/rbhost.h>

typedef struct rb_fs_root {
    char *path;       /* absolute, normalised: no "//", "." or trailing "/" */
    char *parent;     /* the directory holding it ("/" for a top-level path) */
    const char *name; /* its last component, inside `path` */
} rb_fs_root;

typedef struct rb_fs_config {
    rb_fs_root *roots;
    size_t n_roots;
    char **exclude;
    size_t n_exclude;
} rb_fs_config;

extern const rb_config_key rb_fs_config_keys[];

/* Reads "paths" and "exclude" from `node` (the config at snapshot time,
 * the metadata afterwards). Paths are made absolute against the working
 * directory; "..", "/" and roots nested in one another are refused. */
int rb_fs_config_read(const rb_host_api *host, const rb_node *node, rb_fs_config *cfg);
void rb_fs_config_free(rb_fs_config *cfg);

/* Non-zero when the entry at `rel` (relative to its root, not "") is
 * excluded: a pattern without "/" is matched against the entry's name, one
 * with "/" against the whole relative path (fnmatch, FNM_PATHNAME). */
int rb_fs_config_excluded(const rb_fs_config *cfg, const char *rel);

#endif
