/* Context: store location, backend search path, registry. */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_conf.h"
#include "rb_ctx.h"
#include "rb_error.h"
#include "rb_fs.h"
#include "rb_log.h"
#include "rb_paths.h"
#include "rb_rollback.h"

static int push_dir(rb_ctx *ctx, const char *dir)
{
    if (!dir || !*dir)
        return 0;
    char **n = realloc(ctx->plugin_dirs, (ctx->plugin_dir_count + 1) * sizeof *n);
    if (!n)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    ctx->plugin_dirs = n;
    n[ctx->plugin_dir_count] = strdup(dir);
    if (!n[ctx->plugin_dir_count])
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    ctx->plugin_dir_count++;
    return 0;
}

/* The installed backends live beside the binary's prefix
 * (<prefix>/bin/rbhost, <prefix>/<libdir>/rbhost/plugins), so an install
 * can be moved and the build tree works the same way. */
static int push_default_dir(rb_ctx *ctx)
{
    char dir[PATH_MAX];
    if (rb_paths_under_prefix(RB_PLUGIN_RELDIR, dir, sizeof dir) < 0)
        return 0;
    return push_dir(ctx, dir);
}

static char *cache_path(void)
{
    const char *env = getenv("RBHOST_CACHE_DIR");
    char buf[PATH_MAX];
    if (env && *env)
        snprintf(buf, sizeof buf, "%s/plugins.json", env);
    else if (geteuid() == 0)
        snprintf(buf, sizeof buf, "/var/cache/rbhost/plugins.json");
    else if ((env = getenv("XDG_CACHE_HOME")) && *env)
        snprintf(buf, sizeof buf, "%s/rbhost/plugins.json", env);
    else if ((env = getenv("HOME")) && *env)
        snprintf(buf, sizeof buf, "%s/.cache/rbhost/plugins.json", env);
    else
        return NULL;
    return strdup(buf);
}

/* S3 stores (--store s3://...) take endpoint, region, addressing style
 * and CA file from rbhost.conf's [s3] section when the URL does not. */
static int s3_defaults(void)
{
    const rb_conf *conf = rb_conf_active();
    if (!conf)
        return 0;
    rb_store_s3_settings s = {
        rb_conf_get_string(conf, "s3.endpoint"), rb_conf_get_string(conf, "s3.region"),
        rb_conf_get_string(conf, "s3.addressing_style"), rb_conf_get_string(conf, "s3.ca_file")};
    return rb_store_s3_configure(&s);
}

int rb_ctx_new(rb_ctx **out, const rb_ctx_options *opts)
{
    rb_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    rb_log_set_verbosity(opts->verbosity);
    ctx->progress = opts->progress && opts->verbosity >= 0;
    ctx->progress_tty = isatty(2);
    ctx->command = strdup(opts->command ? opts->command : "rbhost");
    const char *store = opts->store;
    if (!store || !*store)
        store = getenv("RBHOST_STORE");
    ctx->store_location = store && *store ? strdup(store) : rb_store_default_location();
    int rc = ctx->store_location && ctx->command
                 ? 0
                 : rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (rc == 0)
        rc = s3_defaults();
    for (size_t i = 0; rc == 0 && i < opts->plugin_dir_count; i++)
        rc = push_dir(ctx, opts->plugin_dirs[i]);
    const char *env = getenv("RBHOST_PLUGIN_PATH");
    if (rc == 0 && env) {
        char *copy = strdup(env), *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok && rc == 0;
             tok = strtok_r(NULL, ":", &save))
            rc = push_dir(ctx, tok);
        free(copy);
    }
    if (rc == 0)
        rc = push_default_dir(ctx);
    if (rc) {
        rb_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void rb_ctx_free(rb_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->registry_ready) {
        rb_registry_save_cache(&ctx->registry);
        rb_registry_free(&ctx->registry);
    }
    if (ctx->store)
        rb_store_close(ctx->store);
    for (size_t i = 0; i < ctx->plugin_dir_count; i++)
        free(ctx->plugin_dirs[i]);
    free(ctx->plugin_dirs);
    free(ctx->store_location);
    free(ctx->command);
    free(ctx);
}

const char *rb_ctx_store_location(rb_ctx *ctx)
{
    return ctx->store_location;
}

void rb_ctx_cancel(rb_ctx *ctx)
{
    atomic_store(&ctx->cancel, 1);
}

int rb_ctx_store(rb_ctx *ctx, int create, rb_store_lock_mode mode, rb_store **out)
{
    if (!ctx->store) {
        int rc = rb_store_open(&ctx->store, ctx->store_location, create ? RB_STORE_CREATE : 0);
        if (rc)
            return rc;
        rc = rb_store_lock(ctx->store, mode, ctx->command, 0);
        /* An interrupted rollback must be finished or reverted before
         * anything else changes the live state or the store. */
        if (rc == 0)
            rc = rb_rollback_pending_check(ctx, ctx->store,
                                           create || mode == RB_STORE_LOCK_EXCLUSIVE);
        if (rc) {
            rb_store_close(ctx->store);
            ctx->store = NULL;
            return rc;
        }
    }
    *out = ctx->store;
    return 0;
}

rb_registry *rb_ctx_registry(rb_ctx *ctx)
{
    if (!ctx->registry_ready) {
        char *cache = cache_path();
        if (rb_registry_scan(&ctx->registry, (const char *const *)ctx->plugin_dirs,
                             ctx->plugin_dir_count, cache) < 0)
            rb_log(RB_LOG_WARN, "backend discovery: %s", rb_error_last()->message);
        free(cache);
        ctx->registry_ready = 1;
    }
    return &ctx->registry;
}

int rb_ctx_backend(rb_ctx *ctx, const char *type, rb_plugin_entry **out)
{
    rb_registry *reg = rb_ctx_registry(ctx);
    rb_plugin_entry *e;
    int rc = rb_registry_find(reg, type, &e);
    if (rc)
        return rc;
    rc = rb_registry_load(reg, e);
    if (rc)
        return rc;
    *out = e;
    return 0;
}
