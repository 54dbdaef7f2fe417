/* Reading rbhost.conf (see rb_conf.h for the files and the format). */
#include "rb_conf.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_fs.h"

typedef enum conf_type { CONF_STRING, CONF_PATH, CONF_PATH_LIST, CONF_BOOL, CONF_UINT } conf_type;

typedef struct conf_key {
    const char *name;
    conf_type type;
    const char *const *choices; /* for a string limited to these, else NULL */
} conf_key;

static const char *const addressing_styles[] = {"path", "virtual", NULL};

/* Every key a file may set. A key missing here is refused, so that a typo
 * never changes behaviour silently. */
static const conf_key known_keys[] = {
    {"store", CONF_PATH, NULL},
    {"plugin_dirs", CONF_PATH_LIST, NULL},
    {"confirmation_required", CONF_BOOL, NULL},
    {"dry_run_default", CONF_BOOL, NULL},
    {"retention.retention_days", CONF_UINT, NULL},
    {"retention.max_operations", CONF_UINT, NULL},
    {"retention.keep_last", CONF_UINT, NULL},
    {"retention.keep_daily", CONF_UINT, NULL},
    {"retention.keep_weekly", CONF_UINT, NULL},
    {"retention.keep_monthly", CONF_UINT, NULL},
    {"s3.endpoint", CONF_STRING, NULL},
    {"s3.region", CONF_STRING, NULL},
    {"s3.addressing_style", CONF_STRING, addressing_styles},
    {"s3.bucket", CONF_STRING, NULL},
    {"s3.prefix", CONF_STRING, NULL},
    {"s3.ca_file", CONF_PATH, NULL},
};

typedef struct conf_entry {
    const conf_key *key;
    char *value;
    char *origin;
} conf_entry;

struct rb_conf {
    conf_entry entries[sizeof known_keys / sizeof known_keys[0]];
};

static const rb_conf *active;

static const conf_key *find_key(const char *name, size_t *index)
{
    for (size_t i = 0; i < sizeof known_keys / sizeof known_keys[0]; i++) {
        if (!strcmp(known_keys[i].name, name)) {
            *index = i;
            return &known_keys[i];
        }
    }
    return NULL;
}

static int nomem(void)
{
    return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    char *out = NULL;
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home && *home) {
        if (asprintf(&out, "%s%s", home, path + 1) < 0)
            out = NULL;
        return out;
    }
    return strdup(path);
}

static char *expand_list(const char *list)
{
    size_t cap = strlen(list) + 1;
    char *copy = strdup(list), *save = NULL, *out = calloc(1, cap);
    int ok = copy && out;
    size_t len = 0;
    for (char *tok = ok ? strtok_r(copy, ":", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, ":", &save)) {
        char *e = expand_home(trim(tok));
        size_t n = e ? strlen(e) : 0;
        char *g = e ? realloc(out, cap + n + 2) : NULL;
        if (!g) {
            free(e);
            ok = 0;
            break;
        }
        out = g;
        cap += n + 2;
        if (len)
            out[len++] = ':';
        memcpy(out + len, e, n + 1);
        len += n;
        free(e);
    }
    free(copy);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static int bad(const char *path, int line, const char *fmt, ...) RB_PRINTF(3, 4);
static int bad(const char *path, int line, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "%s:%d: %s", path, line, detail);
}

/* Checks a value against its key's type; *out gets what is stored. */
static int typed_value(const conf_key *k, const char *v, const char *path, int line, char **out)
{
    *out = NULL;
    switch (k->type) {
    case CONF_BOOL:
        if (strcmp(v, "true") && strcmp(v, "false"))
            return bad(path, line, "'%s' must be true or false, not '%s'", k->name, v);
        break;
    case CONF_UINT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!*v || *end || errno || n < 0)
            return bad(path, line, "'%s' must be a whole number of 0 or more, not '%s'", k->name,
                       v);
        break;
    }
    case CONF_PATH:
    case CONF_PATH_LIST:
    case CONF_STRING:
        if (!*v)
            return bad(path, line, "'%s' is empty", k->name);
        break;
    }
    if (k->choices) {
        int ok = 0;
        for (const char *const *c = k->choices; *c && !ok; c++)
            ok = !strcmp(*c, v);
        if (!ok)
            return bad(path, line, "'%s' cannot be '%s' (path or virtual)", k->name, v);
    }
    *out = k->type == CONF_PATH        ? expand_home(v)
           : k->type == CONF_PATH_LIST ? expand_list(v)
                                       : strdup(v);
    return *out ? 0 : nomem();
}

static int set_entry(rb_conf *c, size_t index, const conf_key *k, char *value, const char *path,
                     int line)
{
    conf_entry *e = &c->entries[index];
    char *origin = NULL;
    if (asprintf(&origin, "%s:%d", path, line) < 0) {
        free(value);
        return nomem();
    }
    free(e->value);
    free(e->origin);
    e->key = k;
    e->value = value;
    e->origin = origin;
    return 0;
}

/* Cuts a comment off the end of a line: "#" or ";" after a blank, outside
 * double quotes. */
static void strip_comment(char *s)
{
    int quoted = 0;
    for (char *p = s; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && (*p == '#' || *p == ';') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

static int parse_line(rb_conf *c, char *raw, const char *path, int line, char *section,
                      size_t section_size)
{
    strip_comment(raw);
    char *s = trim(raw);
    if (!*s || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (!end || *trim(end + 1))
            return bad(path, line, "malformed section header '%s'", s);
        *end = '\0';
        char *name = trim(s + 1);
        if (strcmp(name, "retention") && strcmp(name, "s3"))
            return bad(path, line, "unknown section '[%s]' (known: [retention], [s3])", name);
        snprintf(section, section_size, "%s", name);
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq)
        return bad(path, line, "expected 'key = value', found '%s'", s);
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    size_t vlen = strlen(value);
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
        value[vlen - 1] = '\0';
        value++;
    }
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", section, *section ? "." : "", key);
    size_t index;
    const conf_key *k = find_key(full, &index);
    if (!k)
        return bad(path, line, "unknown key '%s'", full);
    char *stored;
    int rc = typed_value(k, value, path, line, &stored);
    return rc ? rc : set_entry(c, index, k, stored, path, line);
}

/* Reads `path` into c. A missing file is RB_ENOTFOUND. */
static int read_file(rb_conf *c, const char *path)
{
    char *text = NULL;
    int rc = rb_fs_read_all(path, &text, NULL);
    if (rc == RB_ENOTFOUND)
        return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_INVALID, "config file %s not found", path);
    if (rc)
        return rc;
    char section[64] = "";
    int line = 0;
    char *save = NULL;
    /* Line by line, blank lines included, so that numbers match an editor's. */
    for (char *p = text; rc == 0 && p; p = save) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        save = nl ? nl + 1 : NULL;
        line++;
        if (!nl && !*p)
            break;
        rc = parse_line(c, p, path, line, section, sizeof section);
    }
    free(text);
    return rc;
}

int rb_conf_load_file(rb_conf **out, const char *path)
{
    rb_conf *c = calloc(1, sizeof *c);
    if (!c)
        return nomem();
    int rc = read_file(c, path);
    if (rc) {
        rb_conf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static char *user_file(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *path = NULL;
    int n = -1;
    if (xdg && *xdg)
        n = asprintf(&path, "%s/rbhost/rbhost.conf", xdg);
    else if (home && *home)
        n = asprintf(&path, "%s/.config/rbhost/rbhost.conf", home);
    return n < 0 ? NULL : path;
}

int rb_conf_load(rb_conf **out, const char *explicit_path)
{
    rb_conf *c = calloc(1, sizeof *c);
    if (!c)
        return nomem();
    char *user = user_file();
    const char *files[] = {"/etc/rbhost/rbhost.conf", user, explicit_path};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof files / sizeof files[0]; i++) {
        if (!files[i])
            continue;
        rc = read_file(c, files[i]);
        /* Only the file asked for by name has to exist. A default file
         * behind a directory this user may not search (HOME still /root
         * under runuser) is not there for this user; one that exists but
         * cannot be read is an error. */
        struct stat st;
        if (rc && i < 2 && (rc == RB_ENOTFOUND || (stat(files[i], &st) < 0 && errno == EACCES))) {
            rb_error_clear();
            rc = 0;
        }
    }
    free(user);
    if (rc) {
        rb_conf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void rb_conf_free(rb_conf *conf)
{
    if (!conf)
        return;
    if (active == conf)
        active = NULL;
    for (size_t i = 0; i < sizeof known_keys / sizeof known_keys[0]; i++) {
        free(conf->entries[i].value);
        free(conf->entries[i].origin);
    }
    free(conf);
}

static const conf_entry *lookup(const rb_conf *conf, const char *key)
{
    size_t index;
    if (!conf || !find_key(key, &index) || !conf->entries[index].value)
        return NULL;
    return &conf->entries[index];
}

const char *rb_conf_get_string(const rb_conf *conf, const char *key)
{
    const conf_entry *e = lookup(conf, key);
    return e ? e->value : NULL;
}

int rb_conf_get_bool(const rb_conf *conf, const char *key, int *out)
{
    const conf_entry *e = lookup(conf, key);
    if (!e || e->key->type != CONF_BOOL)
        return 0;
    *out = !strcmp(e->value, "true");
    return 1;
}

int rb_conf_get_uint(const rb_conf *conf, const char *key, long *out)
{
    const conf_entry *e = lookup(conf, key);
    if (!e || e->key->type != CONF_UINT)
        return 0;
    *out = strtol(e->value, NULL, 10);
    return 1;
}

const char *rb_conf_origin(const rb_conf *conf, const char *key)
{
    const conf_entry *e = lookup(conf, key);
    return e ? e->origin : NULL;
}

void rb_conf_set_active(const rb_conf *conf)
{
    active = conf;
}

const rb_conf *rb_conf_active(void)
{
    return active;
}
