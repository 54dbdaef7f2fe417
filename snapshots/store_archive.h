/* export and import, built into a module of their own (rbhost-archive.so)
 * so that only those two commands load libarchive. store_archive.c loads
 * the module and forwards rb_store_export and rb_store_import to it. */
#ifndef RB_STORE_ARCHIVE_H
#define RB_STORE_ARCHIVE_H

#include "rb_store.h"

#define RB_STORE_ARCHIVE_VERSION 1
#define RB_STORE_ARCHIVE_FILE    "rbhost-archive.so"
#define RB_STORE_ARCHIVE_ENTRY   "rb_store_archive_entry"

typedef struct rb_store_archive_module {
    unsigned int version;
    int (*export_snapshot)(rb_store *store, const char *id, const char *archive_path);
    int (*import_snapshot)(rb_store *store, const char *archive_path, char **id_out);
} rb_store_archive_module;

/* Implemented in the module. */
int rb_store_archive_export(rb_store *store, const char *id, const char *archive_path);
int rb_store_archive_import(rb_store *store, const char *archive_path, char **id_out);

#endif
