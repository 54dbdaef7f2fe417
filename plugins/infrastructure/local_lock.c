/* Terraform's local state lock, as its statemgr.Filesystem takes it
 * (internal/states/statemgr/filesystem.go and filesystem_lock_unix.go in
 * Terraform; the same in OpenTofu): an fcntl write lock on the whole state
 * file is the lock itself, and a JSON file .<name>.lock.info next to it,
 * mode 0600, says who holds it, with the fields of statemgr.LockInfo (ID,
 * Operation, Info, Who, Version, Created, Path). rbhost takes both: the
 * file lock so that a running terraform and rbhost exclude each other, and
 * the info file, created exclusively, so that a lock left behind by a
 * process that died, or held from a machine whose file system does not
 * pass fcntl locks on, is refused too rather than overwritten. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "infra.h"
#include "local_lock.h"

int rb_infra_local_lock_fd(int fd, short type, const char *state_path)
{
    /* Open file description locks conflict with the POSIX record lock
     * Terraform takes, and unlike it are not dropped when some other
     * descriptor of this process on the same file is closed. */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    if (errno == EAGAIN || errno == EACCES)
        return RB_ELOCKED;
    return rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot lock %s: %s", state_path,
                                    strerror(errno));
}

char *rb_infra_lockinfo_path(const char *state_path)
{
    const char *slash = strrchr(state_path, '/');
    const char *name = slash ? slash + 1 : state_path;
    int dir_len = slash ? (int)(slash - state_path + 1) : 0;
    if (*name == '.')
        name++;
    char *path = NULL;
    if (asprintf(&path, "%.*s.%s.lock.info", dir_len, state_path, name) < 0)
        return NULL;
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return NULL;
    char *text = calloc(1, 65537);
    size_t n = text ? fread(text, 1, 65536, f) : 0;
    fclose(f);
    if (text)
        text[n] = '\0';
    return text;
}

static const char *field(const cJSON *info, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, key));
    return v && *v ? v : "?";
}

int rb_infra_lockinfo_refuse(const char *state_path, const char *info_path, int held)
{
    char *text = slurp(info_path);
    cJSON *info = text ? cJSON_Parse(text) : NULL;
    free(text);
    int rc;
    if (info && held) {
        rc = rb_infra_host->error_set(
            RB_ELOCKED, RB_ERRCLASS_LOCK,
            "Terraform state %s is locked by %s (lock ID %s, operation %s, created %s); wait "
            "for that run to finish, then retry",
            state_path, field(info, "Who"), field(info, "ID"), field(info, "Operation"),
            field(info, "Created"));
    } else if (info) {
        rc = rb_infra_host->error_set(
            RB_ELOCKED, RB_ERRCLASS_LOCK,
            "Terraform state %s is locked by %s (lock ID %s, operation %s, created %s): %s "
            "exists although no process here holds the state file's lock; if that run is "
            "over (or died), remove %s and retry",
            state_path, field(info, "Who"), field(info, "ID"), field(info, "Operation"),
            field(info, "Created"), info_path, info_path);
    } else if (held) {
        rc = rb_infra_host->error_set(RB_ELOCKED, RB_ERRCLASS_LOCK,
                                      "Terraform state %s is locked by another process (no "
                                      "readable %s says which); wait for it to finish, then "
                                      "retry",
                                      state_path, info_path);
    } else {
        rc = rb_infra_host->error_set(RB_ELOCKED, RB_ERRCLASS_LOCK,
                                      "Terraform state %s is locked: %s exists but cannot be "
                                      "read as lock info; if no terraform run is active, "
                                      "remove it and retry",
                                      state_path, info_path);
    }
    cJSON_Delete(info);
    return rc;
}

/* A random UUID, the form Terraform gives its lock IDs. */
static int lock_id(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

/* RFC 3339 with nanoseconds, trailing zeros dropped: how Go prints the
 * Created time.Time. */
static void created_now(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec) {
        char frac[11];
        snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
        size_t len = strlen(frac);
        while (len > 2 && frac[len - 1] == '0')
            frac[--len] = '\0';
        n += (size_t)snprintf(out + n, 40 - n, "%s", frac);
    }
    snprintf(out + n, 40 - n, "Z");
}

static void who(char *out, size_t size)
{
    char hostname[256] = "";
    gethostname(hostname, sizeof hostname - 1);
    struct passwd pw, *found = NULL;
    char pwbuf[4096];
    getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &found);
    snprintf(out, size, "%s@%s", found ? found->pw_name : "", hostname);
}

static char *lockinfo_json(const char *state_path, const char *snapshot_id)
{
    char id[37], created[40], whom[512];
    if (lock_id(id) < 0)
        return NULL;
    created_now(created);
    who(whom, sizeof whom);
    char *info_text = NULL;
    if (asprintf(&info_text, "rbhost rollback to snapshot %s", snapshot_id) < 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    char *json = NULL;
    if (o && cJSON_AddStringToObject(o, "ID", id) &&
        cJSON_AddStringToObject(o, "Operation", "rbhost-rollback") &&
        cJSON_AddStringToObject(o, "Info", info_text) && cJSON_AddStringToObject(o, "Who", whom) &&
        cJSON_AddStringToObject(o, "Version", rb_infra_host->host_version) &&
        cJSON_AddStringToObject(o, "Created", created) &&
        cJSON_AddStringToObject(o, "Path", state_path))
        json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(info_text);
    return json;
}

int rb_infra_lockinfo_create(const char *state_path, const char *info_path, const char *snapshot_id)
{
    int fd = open(info_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        return rb_infra_lockinfo_refuse(state_path, info_path, 0);
    if (fd < 0)
        return rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create %s: %s", info_path,
                                        strerror(errno));
    char *json = lockinfo_json(state_path, snapshot_id);
    const char *problem = json ? NULL : "out of memory";
    size_t len = json ? strlen(json) : 0;
    if (json && write(fd, json, len) != (ssize_t)len)
        problem = strerror(errno);
    close(fd);
    free(json);
    if (problem) {
        unlink(info_path);
        return rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot write %s: %s", info_path,
                                        problem);
    }
    return 0;
}
