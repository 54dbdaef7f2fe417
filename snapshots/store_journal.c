/* Journals of rollbacks in progress: one JSON document per rollback,
 * rewritten durably after each step, removed when the rollback has its
 * record. A journal left behind means a rollback was interrupted. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

static char *journal_dir(rb_store *s)
{
    return rb_store_path(s->dir, "journal");
}

static char *journal_path(rb_store *s, const char *rollback_id)
{
    char *dir = journal_dir(s);
    char *path = dir ? rb_store_path(dir, "%s.json", rollback_id) : NULL;
    free(dir);
    return path;
}

int rb_store_journal_write(rb_store *store, const char *rollback_id, const cJSON *journal)
{
    int rc = rb_store_id_validate(rollback_id, "rollback id");
    if (rc < 0)
        return rc;
    char *dir = journal_dir(store);
    if (!dir)
        return rb_store_nomem();
    rc = rb_fs_mkdir_p(dir, RB_STORE_DIR_MODE);
    free(dir);
    if (rc < 0)
        return rc;
    char *text = cJSON_Print(journal);
    char *path = journal_path(store, rollback_id);
    rc = !text || !path ? rb_store_nomem() : rb_store_file_write(path, text, strlen(text), false);
    free(text);
    free(path);
    if (rc < 0)
        rb_error_prefix("cannot write the journal of rollback %s", rollback_id);
    return rc;
}

int rb_store_journal_read(rb_store *store, const char *rollback_id, cJSON **journal_out)
{
    *journal_out = NULL;
    int rc = rb_store_id_validate(rollback_id, "rollback id");
    if (rc < 0)
        return rc;
    char *path = journal_path(store, rollback_id);
    if (!path)
        return rb_store_nomem();
    char *text;
    rc = rb_fs_read_all(path, &text, NULL);
    if (rc == RB_ENOTFOUND)
        rc = rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "no pending rollback '%s' in store %s",
                          rollback_id, store->dir);
    if (rc == 0) {
        *journal_out = cJSON_Parse(text);
        free(text);
        if (!*journal_out)
            rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                              "the journal of rollback '%s' (%s) is not valid JSON", rollback_id,
                              path);
    }
    free(path);
    return rc;
}

int rb_store_journal_list(rb_store *store, char ***ids_out, size_t *count_out)
{
    char *dir = journal_dir(store);
    if (!dir)
        return rb_store_nomem();
    int rc = rb_store_list_docs(dir, ".json", "started_at", ids_out, count_out);
    free(dir);
    return rc;
}

int rb_store_journal_remove(rb_store *store, const char *rollback_id)
{
    int rc = rb_store_id_validate(rollback_id, "rollback id");
    if (rc < 0)
        return rc;
    char *dir = journal_dir(store);
    char *path = journal_path(store, rollback_id);
    if (!dir || !path)
        rc = rb_store_nomem();
    else if ((rc = rb_store_file_remove(path)) < 0)
        rb_error_prefix("cannot remove the journal of rollback %s", rollback_id);
    else
        rc = rb_fs_fsync_dir(dir);
    free(dir);
    free(path);
    return rc;
}
