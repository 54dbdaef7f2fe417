#include "ctr_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct save_sink {
    rb_ctr_engine *e;
    rb_blob_writer *w;
    uint64_t done;
} save_sink;

static int to_blob(void *ud, const void *data, size_t len)
{
    save_sink *s = ud;
    int rc = s->e->host->blob_write(s->w, data, len);
    if (rc < 0)
        return rc;
    s->done += len;
    s->e->host->progress(s->e->op, s->done, 0, "bytes");
    return 0;
}

static char *image_path(rb_ctr_engine *e, const char *image, const char *suffix)
{
    char *esc = rb_ctr_escape(e, image);
    if (!esc)
        return NULL;
    size_t n = strlen(esc) + strlen(suffix) + 10;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "/images/%s%s", esc, suffix);
    free(esc);
    return path;
}

int rb_ctr_image_save(rb_ctr_engine *e, const char *image_id, const char *container,
                      const char *reuse, char blob_out[RB_BLOB_ID_SIZE])
{
    const rb_host_api *h = e->host;
    if (reuse && strlen(reuse) == RB_BLOB_ID_LEN && h->blob_ref(e->op, reuse) == 0) {
        memcpy(blob_out, reuse, RB_BLOB_ID_SIZE);
        return 0;
    }
    char *path = image_path(e, image_id, "/get");
    if (!path)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    save_sink s = {e, NULL, 0};
    int rc = h->blob_writer_open(e->op, &s.w);
    if (rc < 0) {
        free(path);
        return rc;
    }
    long status = 0;
    rc = rb_ctr_download(e, path, to_blob, &s, &status);
    free(path);
    if (rc == 0 && status != 200) {
        char why[sizeof e->err];
        snprintf(why, sizeof why, "%s", e->err);
        rc = rb_ctr_fail(e, status == 404 ? RB_ENOTFOUND : RB_EIO,
                         "saving image %s of container %s failed (HTTP %ld): %s", image_id,
                         container, status, why);
    }
    if (rc < 0) {
        h->blob_writer_abort(s.w);
        return rc;
    }
    return h->blob_writer_commit(s.w, blob_out);
}

typedef struct load_source {
    rb_ctr_engine *e;
    rb_blob_reader *rd;
    uint64_t done, total;
} load_source;

static int64_t from_blob(void *ud, void *buf, size_t len)
{
    load_source *s = ud;
    int64_t n = s->e->host->blob_read(s->rd, buf, len);
    if (n > 0) {
        s->done += (uint64_t)n;
        s->e->host->progress(s->e->op, s->done, s->total, "bytes");
    }
    return n;
}

/* Docker answers an image load with 200 and a stream of JSON messages, one
 * of which may carry the error. */
static const char *load_error(const rb_ctr_response *r)
{
    if (r->status != 200)
        return rb_ctr_response_message(r);
    const char *err = strstr(r->body, "\"error\"");
    return err ? r->body : NULL;
}

static int load(rb_ctr_engine *e, const rb_ctr_recorded *r)
{
    const rb_host_api *h = e->host;
    int64_t size = h->blob_size(e->op, r->image_blob);
    load_source s = {e, NULL, 0, size > 0 ? (uint64_t)size : 0};
    if (size < 0 || h->blob_reader_open(e->op, r->image_blob, &s.rd) < 0)
        return rb_ctr_fail(e, RB_ECORRUPT,
                           "the saved image %s of container %s is missing from the store",
                           r->image_id, r->name);
    h->log(RB_LOG_INFO, "loading image %s of container %s (%lld bytes)", r->image_id, r->name,
           (long long)size);
    rb_ctr_response resp;
    int rc = rb_ctr_upload(e, "/images/load?quiet=1", from_blob, &s, size, &resp);
    h->blob_reader_close(s.rd);
    if (rc < 0)
        return rc;
    const char *err = load_error(&resp);
    if (err)
        rc = rb_ctr_fail(e, RB_EIO, "loading image %s for container %s failed (HTTP %ld): %s",
                         r->image_id, r->name, resp.status, err);
    rb_ctr_response_free(&resp);
    if (rc < 0)
        return rc;
    rc = rb_ctr_image_present(e, r->image_id);
    if (rc == 0)
        rc = rb_ctr_fail(e, RB_EIO,
                         "loading the saved image for container %s did not give the engine "
                         "image %s",
                         r->name, r->image_id);
    return rc < 0 ? rc : 0;
}

/* "repo[:tag]" of a reference that names a tag (not a digest or an id). */
static int split_tag(const char *ref, char **repo, char **tag)
{
    *repo = *tag = NULL;
    if (!ref || !*ref || strchr(ref, '@') || !strncmp(ref, "sha256:", 7))
        return 0;
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    size_t n = colon ? (size_t)(colon - ref) : strlen(ref);
    *repo = strndup(ref, n);
    *tag = strdup(colon ? colon + 1 : "latest");
    return *repo && *tag ? 1 : -1;
}

static int retag(rb_ctr_engine *e, const rb_ctr_recorded *r)
{
    char *repo, *tag;
    int rc = split_tag(r->image, &repo, &tag);
    if (rc <= 0) {
        free(repo);
        free(tag);
        return rc < 0 ? rb_ctr_fail(e, RB_ENOMEM, "out of memory") : 0;
    }
    char *erepo = rb_ctr_escape(e, repo), *etag = rb_ctr_escape(e, tag);
    size_t n = (erepo ? strlen(erepo) : 0) + (etag ? strlen(etag) : 0) + 32;
    char *suffix = malloc(n);
    char *path = NULL;
    if (erepo && etag && suffix) {
        snprintf(suffix, n, "/tag?repo=%s&tag=%s", erepo, etag);
        path = image_path(e, r->image_id, suffix);
    }
    free(repo);
    free(tag);
    free(erepo);
    free(etag);
    free(suffix);
    if (!path)
        return rb_ctr_fail(e, RB_ENOMEM, "out of memory");
    rb_ctr_response resp;
    rc = rb_ctr_call(e, "POST", path, NULL, 60L, &resp);
    free(path);
    if (rc < 0)
        return rc;
    /* A missing tag only costs the name shown by `docker ps`: the
     * container is created from the image id all the same. */
    if (resp.status >= 300)
        e->host->log(RB_LOG_WARN, "could not tag image %s as %s for container %s: %s", r->image_id,
                     r->image, r->name, rb_ctr_response_message(&resp));
    rb_ctr_response_free(&resp);
    return 0;
}

int rb_ctr_image_ensure(rb_ctr_engine *e, const rb_ctr_recorded *r, char **image_out, int *loaded)
{
    *image_out = NULL;
    *loaded = 0;
    int rc = rb_ctr_image_present(e, r->image_id);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        if (!r->image_blob)
            return rb_ctr_fail(e, RB_ENOTFOUND,
                               "image %s of container %s is gone from the engine and the "
                               "snapshot did not save it (save_image was false): pull or "
                               "load %s first",
                               r->image_id, r->name,
                               r->image && *r->image ? r->image : r->image_id);
        rc = load(e, r);
        if (rc < 0)
            return rc;
        *loaded = 1;
    }
    char *now = rb_ctr_image_resolve(e, r->image);
    if (!now) {
        rc = retag(e, r);
        if (rc < 0)
            return rc;
        now = rb_ctr_image_resolve(e, r->image);
    }
    int tag_is_ours = now && !strcmp(now, r->image_id);
    free(now);
    *image_out = strdup(tag_is_ours ? r->image : r->image_id);
    return *image_out ? 0 : rb_ctr_fail(e, RB_ENOMEM, "out of memory");
}
