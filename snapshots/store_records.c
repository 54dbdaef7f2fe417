#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "rb_fs.h"

static char *record_path(rb_store *s, const char *rollback_id)
{
    return rb_store_path(s->records_dir, "%s.json", rollback_id);
}

int rb_store_record_write(rb_store *store, const char *rollback_id, const cJSON *record)
{
    int rc = rb_store_id_validate(rollback_id, "rollback id");
    if (rc < 0)
        return rc;
    rc = rb_fs_mkdir_p(store->records_dir, RB_STORE_DIR_MODE);
    if (rc < 0)
        return rc;
    char *text = cJSON_Print(record);
    char *path = record_path(store, rollback_id);
    rc = !text || !path ? rb_store_nomem() : rb_store_file_write(path, text, strlen(text), false);
    free(text);
    free(path);
    return rc;
}

int rb_store_record_read(rb_store *store, const char *rollback_id, cJSON **record_out)
{
    *record_out = NULL;
    int rc = rb_store_id_validate(rollback_id, "rollback id");
    if (rc < 0)
        return rc;
    char *path = record_path(store, rollback_id);
    if (!path)
        return rb_store_nomem();
    char *text;
    rc = rb_fs_read_all(path, &text, NULL);
    if (rc == RB_ENOTFOUND)
        rc = rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "rollback '%s' not found in store %s",
                          rollback_id, store->dir);
    if (rc == 0) {
        *record_out = cJSON_Parse(text);
        free(text);
        if (!*record_out)
            rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                              "rollback record '%s' (%s) is not valid JSON", rollback_id, path);
    }
    free(path);
    return rc;
}

int rb_store_record_list(rb_store *store, char ***ids_out, size_t *count_out)
{
    return rb_store_list_docs(store->records_dir, ".json", "started_at", ids_out, count_out);
}
