/* An S3 store in the RADOS Gateway started by tests/servers/ceph.sh, and
 * rbhost run against it as if from a given host (each "host" has its own
 * cache directory). */
#ifndef S3_FIXTURE_H
#define S3_FIXTURE_H

#include "rbtest.h"

typedef struct s3t {
    char *tmp;   /* scratch directory of the test */
    char *url;   /* s3://rbtest/<unique prefix>?endpoint=...&region=... */
    char *plain; /* the same without the query, as rbhost names it */
    const char *endpoint;
    const char *access_key;
    const char *secret_key;
} s3t;

void s3t_open(s3t *t);
void s3t_close(s3t *t);
/* rbhost with --store <url> from host `host` ("a", "b"...), credentials in
 * the environment; `env` is extra "NAME=value " text or "". */
rbt_run s3t_rbhost(const s3t *t, const char *host, const char *env, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The snapshot ids list-snapshots --json shows from host `host`, sorted,
 * comma-separated. */
char *s3t_ids(const s3t *t, const char *host);
/* Runs tests/servers/ceph.sh with the given action on the test cluster. */
void s3t_ceph(const char *action);

#endif
