/* The configuration backend's internal interface: the recorded set of
 * paths, how it is gathered from the live system and from a snapshot's
 * metadata, the differences between the two, and the all-or-nothing step
 * that removes them. */
#ifndef RB_CFG_H
#define RB_CFG_H

#include <rbhost/rbhost.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Set once by init(); the backend talks to the host only through it. */
extern const rb_host_api *rb_cfg_host;

typedef enum cfg_kind {
    CFG_ABSENT = 0,
    CFG_FILE = 1,
    CFG_SYMLINK = 2,
    CFG_DIR = 3,
} cfg_kind;

/* One path as a snapshot records it. */
typedef struct cfg_entry {
    char *path; /* absolute, normalised */
    cfg_kind kind;
    mode_t mode; /* permission bits, with setuid, setgid and sticky */
    uid_t uid;
    gid_t gid;
    int64_t size;                 /* files */
    char sha256[RB_BLOB_ID_SIZE]; /* files: the content's hash, also its blob id */
    char *target;                 /* symlinks */
    int contents;                 /* directories: every entry below is recorded too */
} cfg_entry;

typedef struct cfg_pattern {
    char *pattern; /* absolute */
    int64_t matched;
} cfg_pattern;

/* Everything one snapshot covers, sorted by path. */
typedef struct cfg_set {
    cfg_entry *v;
    size_t n, cap;
    cfg_pattern *patterns; /* glob patterns, re-expanded later to find new files */
    size_t npatterns, patterns_cap;
    /* backup_location: what rbhost itself writes there is never recorded
     * and never removed as new. */
    char *exclude;
} cfg_set;

/* cfg_set.c */
cfg_entry *rb_cfg_set_add(cfg_set *s, const char *path, cfg_kind kind);
int rb_cfg_set_add_pattern(cfg_set *s, const char *pattern, int64_t matched);
/* Sorts by path and merges entries named twice (a file listed and also
 * inside a listed directory). */
void rb_cfg_set_sort(cfg_set *s);
const cfg_entry *rb_cfg_set_find(const cfg_set *s, const char *path);
/* Reads backup_location from the config into s->exclude. */
int rb_cfg_set_exclude_backup(rb_op *op, cfg_set *s);
int rb_cfg_set_excludes(const cfg_set *s, const char *path);
void rb_cfg_set_free(cfg_set *s);
void rb_cfg_entry_from_stat(cfg_entry *e, const struct stat *st);

/* cfg_path.c */
char *rb_cfg_path_absolute(const char *path);
int rb_cfg_path_is_pattern(const char *path);
char *rb_cfg_path_join(const char *dir, const char *name);
char *rb_cfg_path_parent(const char *path);
/* "<dir>/.<name>.rbhost-<tag>-<pid>-<n>": a name beside `path`, on the same
 * file system, so rename() into place is atomic. */
char *rb_cfg_path_sibling(const char *path, const char *tag, unsigned n);
int rb_cfg_path_is_below(const char *path, const char *dir);
int rb_cfg_errno_code(int err);

/* cfg_scan.c: the live paths config_files names, read into a new set
 * (content into blobs). */
int rb_cfg_scan(rb_op *op, cfg_set *out);

/* cfg_read.c */
int rb_cfg_read_into_blob(rb_op *op, cfg_entry *e);
/* Hash of a live regular file; 0, or a negative rb_error after error_set. */
int rb_cfg_hash_file(const char *path, char out[RB_BLOB_ID_SIZE]);

/* cfg_record.c: the snapshot's metadata, written and read back. */
int rb_cfg_record_write(rb_op *op, const cfg_set *s);
int rb_cfg_record_read(rb_op *op, cfg_set *out);
char *rb_cfg_mode_string(mode_t mode, char buf[8]);

/* What must change in the live system to match a recorded entry. */
typedef enum cfg_action {
    CFG_CREATE = 1,   /* missing: write it */
    CFG_REWRITE = 2,  /* content, target or type differs: replace it */
    CFG_ATTRS = 3,    /* only mode or owner differ: change them in place */
    CFG_MKDIR = 4,    /* a recorded directory is missing */
    CFG_REMOVE = 5,   /* recorded absent, or created since the snapshot */
    CFG_CONFLICT = 6, /* a recorded directory is now something else */
} cfg_action;

#define CFG_DIFF_CONTENT 0x1u
#define CFG_DIFF_MODE    0x2u
#define CFG_DIFF_OWNER   0x4u
#define CFG_DIFF_TYPE    0x8u

typedef struct cfg_change {
    cfg_action action;
    char *path;
    const cfg_entry *rec; /* NULL: a path created since the snapshot */
    int live_exists;
    struct stat live;
    unsigned diff;                     /* CFG_DIFF_* */
    char live_sha256[RB_BLOB_ID_SIZE]; /* when the sizes matched and it was hashed */
    /* Restore bookkeeping, see cfg_apply.c. */
    char *staged;     /* the recorded content, written beside path */
    char *kept;       /* the replaced or removed original, until the end */
    int kept_by_link; /* kept is a hard link: path never went missing */
    int committed;    /* the live system has this change; undo it on failure */
} cfg_change;

typedef struct cfg_plan {
    cfg_change *v;
    size_t n, cap;
    size_t unchanged;
} cfg_plan;

/* cfg_diff.c */
int rb_cfg_diff(rb_op *op, const cfg_set *rec, cfg_plan *out);
void rb_cfg_plan_free(cfg_plan *p);
const char *rb_cfg_action_name(cfg_action a);

/* cfg_apply.c: every change or none. On failure the message (also given
 * to error_set) is left in msg. */
int rb_cfg_apply(rb_op *op, cfg_plan *p, char *msg, size_t msglen);

/* cfg_report.c */
int rb_cfg_report_plan(rb_op *op, const cfg_plan *p);
int rb_cfg_report_verify(rb_op *op, const cfg_plan *p);
int rb_cfg_report_restore(rb_op *op, const cfg_plan *p, int rc, const char *msg);

/* cfg_copy.c: backup_location, a plain copy for people to read. */
int rb_cfg_copy_write(rb_op *op, const cfg_set *s, char **copy_dir);
int rb_cfg_copy_remove(const char *copy_dir);

#endif
