/* Regular-file content against the store: comparing a live file with a
 * recorded one, and writing a recorded one (holes kept) into a new file. */
#ifndef FS_CONTENT_H
#define FS_CONTENT_H

#include <rbhost/rbhost.h>

#include "fs_index.h"

/* 1 when the open file `fd` holds exactly e's content (same size assumed),
 * 0 when not, -errno on a read error. */
int rb_fs_content_same(int fd, const rb_fs_entry *e);

/* Writes e's content into the empty file `fd`; a sparse file's holes stay
 * holes. Returns 0 or a negative rb_error (RB_ENOSPC when the disk fills). */
int rb_fs_content_write(const rb_host_api *host, rb_op *op, int fd, const rb_fs_entry *e);

#endif
