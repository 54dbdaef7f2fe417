/* The state a running watch leaves in <store>/watch/<id>.json, for
 * `rbhost metrics` and for people asking what a watch is doing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "rb_watch.h"

int rb_watch_state_write(const char *store_location, const char *id, const cJSON *state)
{
    char *dir = rb_fs_join(store_location, "watch");
    char name[160];
    snprintf(name, sizeof name, "%s.json", id);
    char *path = dir ? rb_fs_join(dir, name) : NULL;
    char *text = cJSON_PrintUnformatted(state);
    int rc =
        dir && path && text ? 0 : rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (rc == 0)
        rc = rb_fs_mkdir_p(dir, 0700);
    if (rc == 0)
        rc = rb_fs_write_atomic(path, text, strlen(text), 0600);
    cJSON_free(text);
    free(path);
    free(dir);
    return rc;
}

cJSON *rb_watch_state_list(const char *store_location)
{
    cJSON *list = cJSON_CreateArray();
    char *dir = rb_fs_join(store_location, "watch");
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        /* Temporary files of an interrupted write start with a dot. */
        if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json"))
            continue;
        char *path = rb_fs_join(dir, e->d_name);
        char *text = NULL;
        size_t len = 0;
        if (path && rb_fs_read_all(path, &text, &len) == 0) {
            cJSON *state = cJSON_Parse(text);
            if (cJSON_IsObject(state))
                cJSON_AddItemToArray(list, state);
            else
                cJSON_Delete(state);
        }
        free(text);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
    return list;
}
