/* The real parts the watch suite drives: an nginx serving a site from a
 * temporary directory on a loopback port, and receiver.py (webhooks, a
 * slow endpoint). Each test starts and stops its own. */
#ifndef WATCH_SITE_H
#define WATCH_SITE_H

typedef struct site {
    char *dir;   /* nginx prefix: nginx.conf, logs/, site/ */
    char *root;  /* the site: index.html, health */
    char *store; /* the rbhost store */
    int port;
    char *url; /* http://127.0.0.1:port */
} site;

/* Creates the site (index.html "v1", health "ok") and starts nginx. */
void site_start(site *s);
void site_stop(site *s);
/* The HTTP status of GET url+path, 0 when nothing answered. */
int site_status(const site *s, const char *path);
/* "deploys" v2: index.html changes, /health disappears. */
void site_break(const site *s);

/* Starts receiver.py; returns its port. Events are appended to `events`. */
int receiver_start(const char *dir, const char *events);
void receiver_stop(const char *dir);

#endif
