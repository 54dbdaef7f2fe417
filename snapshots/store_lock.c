#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_s3.h"

/* flock cannot say who holds a lock, so every holder leaves a note
 * locks/<pid> with its command; a conflicting caller names a live holder. */

static char *holders_dir(rb_store *s)
{
    return rb_fs_join(s->dir, "locks");
}

/* Best effort: the note only improves a conflicting caller's message, so
 * failing to write it (read-only store, full disk) is no reason to refuse
 * a lock the kernel granted. */
static void note_write(rb_store *s, const char *command)
{
    char *dir = holders_dir(s);
    char *path = dir ? rb_store_path(dir, "%ld", (long)getpid()) : NULL;
    if (path && (mkdir(dir, RB_STORE_DIR_MODE) == 0 || errno == EEXIST)) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, RB_STORE_FILE_MODE);
        if (fd >= 0) {
            const char *c = command ? command : "rbhost";
            ssize_t written = write(fd, c, strlen(c));
            (void)written;
            close(fd);
        }
    }
    free(path);
    free(dir);
}

static void note_remove(rb_store *s)
{
    char *dir = holders_dir(s);
    char *path = dir ? rb_store_path(dir, "%ld", (long)getpid()) : NULL;
    if (path)
        unlink(path);
    free(path);
    free(dir);
}

static int locked_error(rb_store *s)
{
    char *dir = holders_dir(s);
    DIR *d = dir ? opendir(dir) : NULL;
    long pid = 0;
    char command[256] = "unknown command";
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long p = strtol(e->d_name, &end, 10);
        if (*end || p <= 0 || p == (long)getpid())
            continue;
        if (kill((pid_t)p, 0) < 0 && errno == ESRCH) {
            /* A holder that died without unlocking: its note is stale. */
            char *stale = rb_store_path(dir, "%s", e->d_name);
            if (stale)
                unlink(stale);
            free(stale);
            continue;
        }
        char *path = rb_store_path(dir, "%s", e->d_name);
        int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        free(path);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, command, sizeof command - 1);
        close(fd);
        command[n > 0 ? n : 0] = '\0';
        if (n <= 0)
            snprintf(command, sizeof command, "unknown command");
        pid = p;
        break;
    }
    if (d)
        closedir(d);
    free(dir);
    if (pid == 0)
        return rb_error_set(RB_ELOCKED, RB_ERRCLASS_LOCK, "store %s is locked by another process",
                            s->dir);
    return rb_error_set(RB_ELOCKED, RB_ERRCLASS_LOCK, "store %s is locked by pid %ld (%s)", s->dir,
                        pid, command);
}

int rb_store_lock(rb_store *store, rb_store_lock_mode mode, const char *command, int wait)
{
    if (mode != RB_STORE_LOCK_SHARED && mode != RB_STORE_LOCK_EXCLUSIVE)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "invalid lock mode %d", (int)mode);
    if (store->lock_fd < 0) {
        char *path = rb_fs_join(store->dir, "lock");
        if (!path)
            return rb_store_nomem();
        store->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, RB_STORE_FILE_MODE);
        /* A reader of a store on read-only media still gets its shared lock:
         * flock works on a descriptor opened for reading. */
        if (store->lock_fd < 0 && errno == EROFS && mode == RB_STORE_LOCK_SHARED)
            store->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
        int rc = store->lock_fd < 0 ? rb_error_os("cannot open lock file %s", path) : 0;
        free(path);
        if (rc < 0)
            return rc;
    }
    int op = (mode == RB_STORE_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
    while (flock(store->lock_fd, op) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            return locked_error(store);
        return rb_error_os("cannot lock store %s", store->dir);
    }
    /* Other hosts see only the bucket's lock. */
    int rc = rb_store_s3_lock(store, mode == RB_STORE_LOCK_EXCLUSIVE, command);
    if (rc < 0) {
        if (store->lock_mode)
            flock(store->lock_fd, store->lock_mode == RB_STORE_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH);
        else
            rb_store_unlock(store);
        return rc;
    }
    store->lock_mode = mode;
    note_write(store, command);
    return 0;
}

void rb_store_unlock(rb_store *store)
{
    rb_store_s3_unlock(store);
    if (store->lock_fd < 0)
        return;
    note_remove(store);
    flock(store->lock_fd, LOCK_UN);
    close(store->lock_fd);
    store->lock_fd = -1;
    store->lock_mode = 0;
}

int rb_store_data_lock(rb_store *s, bool exclusive, int *fd_out)
{
    char *path = rb_fs_join(s->data_dir, "txn.lock");
    if (!path)
        return rb_store_nomem();
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, RB_STORE_FILE_MODE);
    if (fd < 0) {
        int rc = rb_error_os("cannot open lock file %s", path);
        free(path);
        return rc;
    }
    free(path);
    int op = exclusive ? LOCK_EX | LOCK_NB : LOCK_SH;
    while (flock(fd, op) < 0) {
        if (errno == EINTR)
            continue;
        int rc = errno == EWOULDBLOCK
                     ? rb_error_set(RB_ELOCKED, RB_ERRCLASS_LOCK,
                                    "store %s is busy: a snapshot is being taken; try again "
                                    "when it is done",
                                    s->dir)
                     : rb_error_os("cannot lock store %s", s->dir);
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}
