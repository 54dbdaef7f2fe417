/* s3:// locations and the defaults the front end gives them from
 * rbhost.conf's [s3] section. Kept out of the client module: the front end
 * sets them for every command, and only opening an S3 store loads it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "store_s3.h"

static pthread_mutex_t settings_mu = PTHREAD_MUTEX_INITIALIZER;
static rb_store_s3_settings settings;

static void settings_free(rb_store_s3_settings *s)
{
    free((char *)s->endpoint);
    free((char *)s->region);
    free((char *)s->style);
    free((char *)s->ca_file);
    memset(s, 0, sizeof *s);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int settings_copy(rb_store_s3_settings *to, const rb_store_s3_settings *from)
{
    to->endpoint = dup_or_null(from->endpoint);
    to->region = dup_or_null(from->region);
    to->style = dup_or_null(from->style);
    to->ca_file = dup_or_null(from->ca_file);
    if ((from->endpoint && !to->endpoint) || (from->region && !to->region) ||
        (from->style && !to->style) || (from->ca_file && !to->ca_file)) {
        settings_free(to);
        return rb_store_nomem();
    }
    return 0;
}

int rb_store_s3_configure(const rb_store_s3_settings *s)
{
    pthread_mutex_lock(&settings_mu);
    settings_free(&settings);
    int rc = s ? settings_copy(&settings, s) : 0;
    pthread_mutex_unlock(&settings_mu);
    return rc;
}

int rb_store_s3_defaults(rb_store_s3_settings *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&settings_mu);
    int rc = settings_copy(out, &settings);
    pthread_mutex_unlock(&settings_mu);
    return rc;
}

void rb_store_s3_defaults_free(rb_store_s3_settings *s)
{
    settings_free(s);
}

bool rb_s3_is_url(const char *location)
{
    return location && strncmp(location, RB_S3_SCHEME, strlen(RB_S3_SCHEME)) == 0;
}
