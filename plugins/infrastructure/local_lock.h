/* Terraform's lock convention for a local state file, which rbhost follows
 * so that the two never write the same state at once. */
#ifndef RB_INFRA_LOCAL_LOCK_H
#define RB_INFRA_LOCAL_LOCK_H

/* Tries a non-blocking whole-file lock on fd, of type F_RDLCK or F_WRLCK.
 * 0, or RB_ELOCKED (without a message) when another process holds a
 * conflicting one, or RB_EIO after error_set. */
int rb_infra_local_lock_fd(int fd, short type, const char *state_path);

/* The lock info file next to a state file: .<name>.lock.info (a leading
 * dot of the state file's name is dropped first, as Terraform does).
 * malloc'd, or NULL when out of memory. */
char *rb_infra_lockinfo_path(const char *state_path);

/* Sets RB_ELOCKED with a message naming who holds the state's lock, from
 * its lock info file when there is one; `held` says whether a process
 * still holds the file lock. Returns RB_ELOCKED. */
int rb_infra_lockinfo_refuse(const char *state_path, const char *info_path, int held);

/* Creates the lock info file exclusively, describing this rbhost run;
 * refuses with RB_ELOCKED naming the holder when it exists. */
int rb_infra_lockinfo_create(const char *state_path, const char *info_path,
                             const char *snapshot_id);

#endif
