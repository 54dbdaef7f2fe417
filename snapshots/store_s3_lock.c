/* The lock of an S3 store, shared by every host using the bucket.
 *
 * A writer of snapshots leaves a note lock/shared/<owner>.json; a command
 * that needs the store alone (delete, gc, import) creates
 * lock/exclusive.json with a conditional write (If-None-Match: *), so two
 * of them cannot both succeed. Each side then looks for the other: the
 * exclusive taker for live notes, the shared taker for a live exclusive
 * lock, and backs off when it finds one. With read-after-write consistency
 * at least one of two racing takers sees the other.
 *
 * Every lock object has a lease (LEASE_S), renewed by a thread while it is
 * held; one whose lease ran out (its holder died) is ignored and replaced.
 * Leases compare wall clocks: hosts sharing a bucket need synchronised
 * clocks (to well within the lease). */
#include "store_s3.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sys/random.h>

#include "rb_error.h"
#include "store_internal.h"

#define LEASE_S    120
#define RENEW_S    40
#define EXCL_KEY   "lock/exclusive.json"
#define SHARED_DIR "lock/shared/"

struct rb_s3_lock {
    rb_s3 *c;
    char owner[128];
    char *key;
    char *command;
    pthread_t renewer;
    bool renewing;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static char *lock_doc(const rb_s3_lock *l, bool exclusive)
{
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "owner", l->owner);
    cJSON_AddStringToObject(o, "host", host);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddStringToObject(o, "command", l->command);
    cJSON_AddStringToObject(o, "mode", exclusive ? "exclusive" : "shared");
    cJSON_AddNumberToObject(o, "expires", (double)(time(NULL) + LEASE_S));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int put_lock(rb_s3_lock *l, bool exclusive, bool noreplace)
{
    char *text = lock_doc(l, exclusive);
    if (!text)
        return rb_store_nomem();
    int rc = rb_s3_put(l->c, l->key, text, strlen(text), noreplace, NULL);
    free(text);
    return rc;
}

/* A holder on this host whose process is gone (it could not remove its
 * lock, the gateway being down when it failed) holds nothing. */
static bool holder_dead(const cJSON *doc)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "host"));
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(doc, "pid");
    if (!h || strcmp(h, host) != 0 || !cJSON_IsNumber(pid) || pid->valuedouble <= 0)
        return false;
    return kill((pid_t)pid->valuedouble, 0) < 0 && errno == ESRCH;
}

/* Reads a lock object: RB_ENOTFOUND when it is absent or its lease ran
 * out, otherwise 0 with *doc set. */
static int read_live(rb_s3 *c, const char *key, cJSON **doc)
{
    *doc = NULL;
    uint8_t *data;
    size_t len;
    int rc = rb_s3_get(c, key, &data, &len);
    if (rc < 0)
        return rc;
    cJSON *o = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    cJSON *exp = o ? cJSON_GetObjectItemCaseSensitive(o, "expires") : NULL;
    if (!cJSON_IsNumber(exp) || exp->valuedouble < (double)time(NULL) || holder_dead(o)) {
        cJSON_Delete(o);
        return RB_ENOTFOUND;
    }
    *doc = o;
    return 0;
}

static int held_by(rb_s3 *c, const cJSON *doc, const char *what)
{
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(doc, "pid");
    const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "host"));
    const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "command"));
    return rb_error_set(RB_ELOCKED, RB_ERRCLASS_LOCK, "store %s is %s by pid %ld on %s (%s)",
                        rb_s3_display(c), what, cJSON_IsNumber(pid) ? (long)pid->valuedouble : 0L,
                        host ? host : "an unknown host", cmd ? cmd : "unknown command");
}

static bool is_own(const cJSON *doc, const char *owner)
{
    const char *o = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "owner"));
    return o && !strcmp(o, owner);
}

static int take_exclusive(rb_s3_lock *l)
{
    int rc = put_lock(l, true, true);
    if (rc == RB_EEXISTS) {
        cJSON *doc;
        rb_error_clear();
        rc = read_live(l->c, EXCL_KEY, &doc);
        if (rc == 0) {
            rc = is_own(doc, l->owner) ? put_lock(l, true, false) : held_by(l->c, doc, "locked");
            cJSON_Delete(doc);
            return rc;
        }
        if (rc != RB_ENOTFOUND)
            return rc;
        /* A dead holder's lock: replace it, still refusing to overwrite a
         * lock someone else created in the meantime. */
        rb_error_clear();
        rc = rb_s3_delete(l->c, EXCL_KEY);
        if (rc == 0)
            rc = put_lock(l, true, true);
        if (rc == RB_EEXISTS)
            rc = rb_error_set(RB_ELOCKED, RB_ERRCLASS_LOCK, "store %s is locked by another process",
                              rb_s3_display(l->c));
    }
    if (rc < 0)
        return rc;
    rb_s3_object *notes;
    size_t n;
    rc = rb_s3_list(l->c, SHARED_DIR, &notes, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cJSON *doc;
        int r = read_live(l->c, notes[i].key, &doc);
        if (r == RB_ENOTFOUND) {
            rb_error_clear();
            continue;
        }
        if (r < 0) {
            rc = r;
            break;
        }
        if (!is_own(doc, l->owner))
            rc = held_by(l->c, doc, "in use");
        cJSON_Delete(doc);
    }
    rb_s3_list_free(notes, n);
    if (rc < 0) {
        const rb_error_info *e = rb_error_last();
        char *msg = strdup(e->message);
        rb_error_class k = e->klass;
        rb_s3_delete(l->c, EXCL_KEY);
        rc = msg ? rb_error_set(rc, k, "%s", msg) : rb_store_nomem();
        free(msg);
    }
    return rc;
}

static int take_shared(rb_s3_lock *l)
{
    int rc = put_lock(l, false, false);
    if (rc < 0)
        return rc;
    cJSON *doc;
    rc = read_live(l->c, EXCL_KEY, &doc);
    if (rc == RB_ENOTFOUND) {
        rb_error_clear();
        return 0;
    }
    if (rc == 0)
        rc = is_own(doc, l->owner) ? 0 : held_by(l->c, doc, "locked");
    cJSON_Delete(doc);
    if (rc < 0) {
        const rb_error_info *e = rb_error_last();
        char *msg = strdup(e->message);
        rb_error_class k = e->klass;
        rb_s3_delete(l->c, l->key);
        rc = msg ? rb_error_set(rc, k, "%s", msg) : rb_store_nomem();
        free(msg);
    }
    return rc;
}

static void *renew(void *arg)
{
    rb_s3_lock *l = arg;
    bool exclusive = !strcmp(l->key, EXCL_KEY);
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += RENEW_S;
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
            ;
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        /* A failed renewal is retried at the next period; the lease
         * covers a few missed ones. */
        if (put_lock(l, exclusive, false) < 0)
            rb_error_clear();
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void lock_free(rb_s3_lock *l)
{
    free(l->key);
    free(l->command);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int rb_s3_lock_take(rb_s3 *c, bool exclusive, const char *owner, const char *command,
                    rb_s3_lock **out)
{
    *out = NULL;
    rb_s3_lock *l = calloc(1, sizeof *l);
    if (!l)
        return rb_store_nomem();
    l->c = c;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    snprintf(l->owner, sizeof l->owner, "%s", owner);
    l->command = strdup(command ? command : "rbhost");
    if (exclusive)
        l->key = strdup(EXCL_KEY);
    else if (asprintf(&l->key, SHARED_DIR "%s.json", l->owner) < 0)
        l->key = NULL;
    int rc = !l->command || !l->key ? rb_store_nomem() : 0;
    if (rc == 0)
        rc = exclusive ? take_exclusive(l) : take_shared(l);
    if (rc == 0)
        l->renewing = pthread_create(&l->renewer, NULL, renew, l) == 0;
    if (rc < 0) {
        lock_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void rb_s3_lock_release(rb_s3_lock *l)
{
    if (!l)
        return;
    if (l->renewing) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->renewer, NULL);
    }
    /* Keeps the caller's error: unlocking runs on failure paths too. */
    const rb_error_info *e = rb_error_last();
    int code = e->code;
    rb_error_class k = e->klass;
    char *msg = code ? strdup(e->message) : NULL;
    if (rb_s3_delete(l->c, l->key) < 0)
        rb_error_clear();
    if (code && msg)
        rb_error_set(code, k, "%s", msg);
    free(msg);
    lock_free(l);
}

void rb_s3_lock_owner(char out[128])
{
    uint8_t rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd[0] = (uint8_t)time(NULL);
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '-';
    snprintf(out, 128, "%s-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", host, (long)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}
