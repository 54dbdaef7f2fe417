#include "ops_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ops_open(ops *t)
{
    t->tmp = rbt_tmpdir();
    t->store = rbt_fmt("%s/store", t->tmp);
    /* Days and weeks are the local calendar's: pin it. */
    setenv("TZ", "UTC", 1);
    ops_sh("mkdir '%s/data'", t->tmp);
}

void ops_close(ops *t)
{
    rbt_rmtree(t->tmp);
    free(t->tmp);
    free(t->store);
}

void ops_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_sh("%s", cmd);
    cr_assert_eq(r.code, 0, "command failed (%d): %s\n%s%s", r.code, cmd, r.out, r.err);
    rbt_run_free(&r);
    free(cmd);
}

cJSON *ops_json(const ops *t, int *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(t->store, "--json %s", args);
    free(args);
    cJSON *doc = rbt_json(r.out);
    *code = r.code;
    rbt_run_free(&r);
    return doc;
}

void ops_snapshot(const ops *t, const char *id, int kib)
{
    ops_sh("mkdir -p '%s/data/%s' && head -c %d /dev/urandom > '%s/data/%s/blob'", t->tmp, id,
           kib * 1024, t->tmp, id);
    rbt_run r = rbt_rbhost(t->store,
                           "create-snapshot --id '%s' --type file_system --config "
                           "'{\"paths\": [\"%s/data/%s\"]}'",
                           id, t->tmp, id);
    cr_assert_eq(r.code, 0, "snapshot %s failed: %s", id, r.err);
    rbt_run_free(&r);
}

void ops_set_created(const ops *t, const char *id, long long when)
{
    char *path = rbt_fmt("%s/%s_metadata.json", t->store, id);
    char *text = rbt_slurp(path);
    cr_assert_not_null(text, "no metadata document %s", path);
    cJSON *doc = rbt_json(text);
    cJSON_ReplaceItemInObject(doc, "created_at", cJSON_CreateNumber((double)when));
    char *out = cJSON_Print(doc);
    rbt_spit(path, out);
    free(out);
    cJSON_Delete(doc);
    free(text);
    free(path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *ops_ids(const cJSON *response, const char *key)
{
    const cJSON *list = cJSON_GetObjectItem(response, key);
    cr_assert(cJSON_IsArray(list), "no array '%s' in the response", key);
    int n = cJSON_GetArraySize(list);
    const char **ids = calloc((size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++)
        ids[i] = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, i), "id"));
    qsort(ids, (size_t)n, sizeof *ids, cmp_str);
    char *out = rbt_fmt("%s", "");
    for (int i = 0; i < n; i++) {
        char *next = rbt_fmt("%s%s%s", out, i ? " " : "", ids[i]);
        free(out);
        out = next;
    }
    free(ids);
    return out;
}

int ops_tree_contains(const char *dir, const void *needle, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *path = rbt_fmt("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            found = ops_tree_contains(path, needle, len);
        } else if (S_ISREG(st.st_mode)) {
            FILE *f = fopen(path, "rb");
            char *buf = f ? malloc((size_t)st.st_size + 1) : NULL;
            size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
            found = buf && memmem(buf, n, needle, len) != NULL;
            free(buf);
            if (f)
                fclose(f);
        }
        free(path);
    }
    closedir(d);
    return found;
}

void ops_blob_head(const ops *t, const char *id, unsigned char out[64])
{
    char *path = rbt_fmt("%s/data/%s/blob", t->tmp, id);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    cr_assert_eq(fread(out, 1, 64, f), 64);
    fclose(f);
    free(path);
}
