#include "site.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbtest.h"

/* A port nothing listens on right now (the kernel's pick for port 0). */
static int free_port(void)
{
    rbt_run r = rbt_sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
                       "print(s.getsockname()[1])'");
    cr_assert_eq(r.code, 0, "%s", r.err);
    int port = atoi(r.out);
    rbt_run_free(&r);
    return port;
}

void site_start(site *s)
{
    s->dir = rbt_tmpdir();
    s->root = rbt_fmt("%s/site", s->dir);
    s->store = rbt_fmt("%s/store", s->dir);
    rbt_run r = rbt_sh("mkdir -p '%s/logs' '%s/tmp' '%s' && chmod 755 '%s'", s->dir, s->dir,
                       s->root, s->dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *index = rbt_fmt("%s/index.html", s->root), *health = rbt_fmt("%s/health", s->root);
    rbt_spit(index, "v1\n");
    rbt_spit(health, "ok\n");
    free(index);
    free(health);
    s->port = free_port();
    s->url = rbt_fmt("http://127.0.0.1:%d", s->port);
    /* Workers of an nginx started as root would run as nobody and could
     * not read the test's private directory. */
    char *conf = rbt_fmt("%s"
                         "worker_processes 1;\n"
                         "pid %s/nginx.pid;\n"
                         "error_log %s/logs/error.log;\n"
                         "events { worker_connections 64; }\n"
                         "http {\n"
                         "  access_log off;\n"
                         "  client_body_temp_path %s/tmp/body; proxy_temp_path %s/tmp/proxy;\n"
                         "  fastcgi_temp_path %s/tmp/fastcgi; uwsgi_temp_path %s/tmp/uwsgi;\n"
                         "  scgi_temp_path %s/tmp/scgi;\n"
                         "  server { listen 127.0.0.1:%d; root %s; }\n"
                         "}\n",
                         geteuid() == 0 ? "user root root;\n" : "", s->dir, s->dir, s->dir, s->dir,
                         s->dir, s->dir, s->dir, s->port, s->root);
    char *conf_path = rbt_fmt("%s/nginx.conf", s->dir);
    rbt_spit(conf_path, conf);
    free(conf);
    free(conf_path);
    r = rbt_sh("nginx -p '%s' -c '%s/nginx.conf' >'%s/logs/start.log' 2>&1", s->dir, s->dir,
               s->dir);
    cr_assert_eq(r.code, 0, "nginx did not start (see %s/logs)", s->dir);
    rbt_run_free(&r);
    /* nginx binds its port before it becomes a daemon and returns. */
    cr_assert_eq(site_status(s, "/health"), 200, "nginx serves the site");
}

void site_stop(site *s)
{
    if (!s->dir)
        return;
    rbt_run r = rbt_sh("nginx -p '%s' -c '%s/nginx.conf' -s stop >/dev/null 2>&1; "
                       "for i in $(seq 50); do [ -e '%s/nginx.pid' ] || break; sleep 0.1; done",
                       s->dir, s->dir, s->dir);
    rbt_run_free(&r);
    rbt_rmtree(s->dir);
    free(s->dir);
    free(s->root);
    free(s->store);
    free(s->url);
    memset(s, 0, sizeof *s);
}

int site_status(const site *s, const char *path)
{
    rbt_run r = rbt_sh("curl -s -o /dev/null -w '%%{http_code}' --max-time 5 '%s%s'", s->url, path);
    int code = atoi(r.out ? r.out : "0");
    rbt_run_free(&r);
    return code;
}

void site_break(const site *s)
{
    rbt_run r = rbt_sh("echo v2 > '%s/index.html' && rm '%s/health'", s->root, s->root);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}

int receiver_start(const char *dir, const char *events)
{
    rbt_run r = rbt_sh("python3 '%s' '%s' '%s/receiver.port' >'%s/receiver.log' 2>&1 & "
                       "echo $! > '%s/receiver.pid'; "
                       "for i in $(seq 100); do [ -e '%s/receiver.port' ] && exit 0; sleep 0.1; "
                       "done; exit 1",
                       RBT_RECEIVER, events, dir, dir, dir, dir);
    cr_assert_eq(r.code, 0, "receiver.py did not start");
    rbt_run_free(&r);
    char *pf = rbt_fmt("%s/receiver.port", dir);
    char *port = rbt_slurp(pf);
    int p = atoi(port);
    free(port);
    free(pf);
    return p;
}

void receiver_stop(const char *dir)
{
    rbt_run r = rbt_sh("[ -e '%s/receiver.pid' ] && kill $(cat '%s/receiver.pid') 2>/dev/null; "
                       "rm -f '%s/receiver.pid'",
                       dir, dir, dir);
    rbt_run_free(&r);
}
