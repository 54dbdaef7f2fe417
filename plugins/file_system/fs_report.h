/* Describing a comparison in a result object: summary, counts, bytes and
 * the list of changes (capped, with a "truncated" flag). */
#ifndef FS_REPORT_H
#define FS_REPORT_H

#include <rbhost/rbhost.h>

#include "fs_compare.h"

#define RB_FS_REPORT_MAX_ITEMS 1000

/* Adds "summary", "counts", "bytes", `list_key` (the changes) and
 * "truncated" to obj. Returns 0 or RB_ENOMEM. */
int rb_fs_report_diff(const rb_host_api *host, rb_node *obj, const rb_fs_diff *d,
                      const char *list_key);
/* Number of entries that differ (extras included). */
uint64_t rb_fs_report_total(const rb_fs_diff *d);

#endif
