#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_s3.h"

int rb_store_id_validate(const char *id, const char *what)
{
    if (!what)
        what = "snapshot id";
    if (!id || !*id)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "invalid %s '': must not be empty",
                            what);
    size_t n = strlen(id);
    if (n > RB_STORE_ID_MAX)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "invalid %s '%.*s...': longer than %d characters", what, 40, id,
                            RB_STORE_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (i == 0 && !alnum)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "invalid %s '%s': must start with a letter or a digit", what, id);
        if (!alnum && c != '.' && c != '_' && c != '-')
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "invalid %s '%s': only letters, digits, '.', '_' and '-' are "
                                "allowed",
                                what, id);
    }
    return 0;
}

char *rb_store_default_location(void)
{
    if (geteuid() == 0)
        return strdup("/var/lib/rbhost");
    const char *state = getenv("XDG_STATE_HOME");
    if (state && state[0] == '/')
        return rb_fs_join(state, "rbhost");
    const char *home = getenv("HOME");
    if (!home || !*home)
        return NULL;
    return rb_fs_join(home, ".local/state/rbhost");
}

const char *rb_store_location(const rb_store *store)
{
    return store->url ? store->url : store->dir;
}

/* Creates `path` with mode 0700 whatever the umask; leaves an existing
 * directory's mode alone except inside the store. */
static int make_dir(const char *path, bool force_mode)
{
    struct stat st;
    bool existed = stat(path, &st) == 0;
    int rc = rb_fs_mkdir_p(path, RB_STORE_DIR_MODE);
    if (rc < 0)
        return rc;
    if ((!existed || force_mode) && chmod(path, RB_STORE_DIR_MODE) < 0)
        return rb_error_os("cannot set the mode of %s", path);
    return 0;
}

static int init_dirs(rb_store *s, bool create)
{
    struct stat st;
    if (stat(s->dir, &st) < 0) {
        if (errno != ENOENT || !create)
            return errno == ENOENT ? rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE,
                                                  "store %s does not exist", s->dir)
                                   : rb_error_os("cannot open store %s", s->dir);
    } else if (!S_ISDIR(st.st_mode)) {
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_STORE, "store %s is not a directory", s->dir);
    }
    if (!create)
        return 0;
    int rc = make_dir(s->dir, false);
    if (rc == 0)
        rc = make_dir(s->data_dir, true);
    if (rc == 0)
        rc = make_dir(s->packs_dir, true);
    if (rc == 0)
        rc = make_dir(s->records_dir, true);
    /* Made now so that taking a snapshot later creates no file but its
     * own: a refused snapshot leaves the store as it was. */
    char *txn_lock = rc == 0 ? rb_fs_join(s->data_dir, "txn.lock") : NULL;
    if (rc == 0 && !txn_lock)
        rc = rb_store_nomem();
    int fd = txn_lock ? open(txn_lock, O_RDWR | O_CREAT | O_CLOEXEC, RB_STORE_FILE_MODE) : -1;
    if (txn_lock && fd < 0)
        rc = rb_error_os("cannot create %s", txn_lock);
    if (fd >= 0 && fchmod(fd, RB_STORE_FILE_MODE) < 0)
        rc = rb_error_os("cannot set the mode of %s", txn_lock);
    if (fd >= 0)
        close(fd);
    free(txn_lock);
    return rc;
}

int rb_store_open(rb_store **out, const char *location, unsigned int flags)
{
    *out = NULL;
    if (!location || !*location)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "empty store location");
    rb_store *s = calloc(1, sizeof *s);
    if (!s)
        return rb_store_nomem();
    s->lock_fd = -1;
    pthread_rwlock_init(&s->index_lock, NULL);
    pthread_mutex_init(&s->packs_mu, NULL);
    rb_store_pool_init(&s->cctx_pool);
    rb_store_pool_init(&s->dctx_pool);
    size_t n = strlen(location);
    while (n > 1 && location[n - 1] == '/')
        n--;
    s->dir = strndup(location, n);
    bool create = flags & RB_STORE_CREATE;
    if (s->dir && rb_s3_is_url(location)) {
        /* The cache directory stands in for the store directory; it is
         * made whatever `flags` say, the bucket being the store. */
        char *cache;
        int rc = rb_store_s3_attach(s, location, create, &cache);
        if (rc < 0) {
            rb_store_close(s);
            return rc;
        }
        create = true;
    }
    if (s->dir) {
        s->data_dir = rb_fs_join(s->dir, "data");
        s->records_dir = rb_fs_join(s->dir, "rollbacks");
    }
    if (s->data_dir)
        s->packs_dir = rb_fs_join(s->data_dir, "packs");
    if (!s->dir || !s->data_dir || !s->packs_dir || !s->records_dir) {
        rb_store_close(s);
        return rb_store_nomem();
    }
    int rc = init_dirs(s, create);
    if (rc < 0) {
        rb_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void rb_store_close(rb_store *store)
{
    if (!store)
        return;
    rb_store_unlock(store);
    rb_store_index_reset(store);
    rb_store_s3_detach(store);
    free(store->txns);
    rb_store_pool_destroy(&store->cctx_pool, rb_store_cctx_free);
    rb_store_pool_destroy(&store->dctx_pool, rb_store_dctx_free);
    pthread_rwlock_destroy(&store->index_lock);
    pthread_mutex_destroy(&store->packs_mu);
    free(store->dir);
    free(store->data_dir);
    free(store->packs_dir);
    free(store->records_dir);
    free(store);
}
