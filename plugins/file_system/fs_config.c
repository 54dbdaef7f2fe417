#include "fs_config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const rb_config_key rb_fs_config_keys[] = {
    RB_CONFIG_KEY("paths", RB_KEY_STRING_LIST, 1, NULL,
                  "directories or files to record (absolute, or relative to the working "
                  "directory)"),
    RB_CONFIG_KEY("exclude", RB_KEY_STRING_LIST, 0, NULL,
                  "globs of entries to leave out and leave alone on restore: without '/' "
                  "matched against the name, with '/' against the path relative to its root"),
    RB_CONFIG_KEY("backup_location", RB_KEY_STRING, 0, NULL,
                  "recorded in the metadata only: the content lives in the rbhost store"),
    RB_CONFIG_KEY("restore_to", RB_KEY_STRING, 0, NULL,
                  "restore into this directory (each path below it, at its absolute path) "
                  "instead of in place; --to DIR overrides it"),
    RB_CONFIG_KEY_END,
};

/* Lexical clean-up only: resolving symlinks here would record a
 * different tree than the one the user named. */
static char *normalise(const rb_host_api *host, const char *in)
{
    char *cwd = NULL;
    if (in[0] != '/') {
        cwd = getcwd(NULL, 0);
        if (!cwd) {
            host->error_set(RB_ERROR, RB_ERRCLASS_OS,
                            "paths: cannot resolve '%s' against the working directory: %s", in,
                            strerror(errno));
            return NULL;
        }
    }
    size_t n = strlen(in) + (cwd ? strlen(cwd) : 0) + 3;
    char *src = malloc(n), *out = malloc(n);
    if (!src || !out) {
        free(src);
        free(out);
        free(cwd);
        host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        return NULL;
    }
    snprintf(src, n, "%s/%s", cwd ? cwd : "", in);
    free(cwd);
    size_t len = 0;
    char *save = NULL;
    for (char *c = strtok_r(src, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "paths: '%s' contains '..'; give the path without it", in);
            free(src);
            free(out);
            return NULL;
        }
        out[len++] = '/';
        size_t cl = strlen(c);
        memcpy(out + len, c, cl);
        len += cl;
    }
    out[len] = '\0';
    free(src);
    if (len == 0) {
        host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                        "paths: '%s' is the root directory; list the directories under / to "
                        "record instead",
                        in);
        free(out);
        return NULL;
    }
    return out;
}

static int nested(const char *a, const char *b)
{
    size_t n = strlen(a);
    return !strncmp(a, b, n) && (b[n] == '/' || b[n] == '\0');
}

int rb_fs_config_read(const rb_host_api *host, const rb_node *node, rb_fs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const rb_node *paths = host->node_get(node, "paths");
    const rb_node *excl = host->node_get(node, "exclude");
    size_t np = host->node_type(paths) == RB_NODE_ARRAY ? host->node_count(paths) : 0;
    if (host->node_type(paths) == RB_NODE_STRING)
        np = 1;
    if (np == 0)
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                               "paths: list at least one directory or file to record");
    if (np > UINT16_MAX)
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG, "paths: too many paths (%zu)", np);
    size_t ne = host->node_type(excl) == RB_NODE_ARRAY ? host->node_count(excl) : 0;
    if (host->node_type(excl) == RB_NODE_STRING)
        ne = 1;
    cfg->roots = calloc(np, sizeof *cfg->roots);
    cfg->exclude = calloc(ne ? ne : 1, sizeof *cfg->exclude);
    if (!cfg->roots || !cfg->exclude) {
        rb_fs_config_free(cfg);
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    for (size_t i = 0; i < np; i++) {
        const rb_node *n =
            host->node_type(paths) == RB_NODE_STRING ? paths : host->node_at(paths, i);
        const char *s = host->node_string(n);
        if (!s || !*s) {
            rb_fs_config_free(cfg);
            return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                   "paths: entry %zu is not a non-empty string", i);
        }
        char *p = normalise(host, s);
        if (!p) {
            rb_fs_config_free(cfg);
            return RB_EINVAL;
        }
        rb_fs_root *r = &cfg->roots[cfg->n_roots++];
        r->path = p;
        char *slash = strrchr(p, '/');
        r->name = slash + 1;
        r->parent = slash == p ? strdup("/") : strndup(p, (size_t)(slash - p));
        if (!r->parent) {
            rb_fs_config_free(cfg);
            return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        }
        for (size_t j = 0; j < i; j++) {
            const char *q = cfg->roots[j].path;
            if (nested(q, p) || nested(p, q)) {
                int rc = host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                         "paths: '%s' and '%s' overlap; list each tree once", q, p);
                rb_fs_config_free(cfg);
                return rc;
            }
        }
    }
    for (size_t i = 0; i < ne; i++) {
        const rb_node *n = host->node_type(excl) == RB_NODE_STRING ? excl : host->node_at(excl, i);
        const char *s = host->node_string(n);
        if (!s || !*s) {
            rb_fs_config_free(cfg);
            return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                   "exclude: entry %zu is not a non-empty string", i);
        }
        cfg->exclude[cfg->n_exclude] = strdup(s);
        if (!cfg->exclude[cfg->n_exclude++]) {
            rb_fs_config_free(cfg);
            return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        }
    }
    return 0;
}

void rb_fs_config_free(rb_fs_config *cfg)
{
    for (size_t i = 0; i < cfg->n_roots; i++) {
        free(cfg->roots[i].path);
        free(cfg->roots[i].parent);
    }
    for (size_t i = 0; i < cfg->n_exclude; i++)
        free(cfg->exclude[i]);
    free(cfg->roots);
    free(cfg->exclude);
    memset(cfg, 0, sizeof *cfg);
}

int rb_fs_config_excluded(const rb_fs_config *cfg, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *name = slash ? slash + 1 : rel;
    for (size_t i = 0; i < cfg->n_exclude; i++) {
        const char *pat = cfg->exclude[i];
        if (strchr(pat, '/') ? !fnmatch(pat, rel, FNM_PATHNAME) : !fnmatch(pat, name, 0))
            return 1;
    }
    return 0;
}
