/* Indexes after data: a CREATE TABLE split into the table with only the
 * keys it cannot do without, and one ALTER TABLE that adds the rest once
 * the rows are in, so each index is built by one sort instead of row by
 * row. */
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

/* SHOW CREATE TABLE prints one column or key per line, each indented by
 * two spaces; these are the lines that can wait. FULLTEXT and SPATIAL keys
 * stay: adding them later rebuilds the table. */
static int deferrable(const char *line, size_t n, const char *auto_col)
{
    static const char *const prefixes[] = {"  KEY ", "  UNIQUE KEY "};
    int key = 0;
    for (size_t i = 0; i < 2; i++)
        if (n > strlen(prefixes[i]) && !strncmp(line, prefixes[i], strlen(prefixes[i])))
            key = 1;
    if (!key)
        return n > 13 && !strncmp(line, "  CONSTRAINT ", 13) &&
               memmem(line, n, " FOREIGN KEY ", 13);
    /* The AUTO_INCREMENT column must lead some key at every moment. */
    if (auto_col) {
        const char *open = memchr(line, '(', n);
        size_t al = strlen(auto_col);
        if (open && (size_t)(line + n - open) > al + 1 && !strncmp(open + 1, auto_col, al))
            return 0;
    }
    return 1;
}

/* The AUTO_INCREMENT column as it appears quoted in the key lines. */
static char *auto_increment_column(const char *create)
{
    for (const char *line = create; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > 3 && line[2] == '`' && memmem(line, n, " AUTO_INCREMENT", 15)) {
            const char *close = line + 3;
            while (close < line + n && !(close[0] == '`' && close[1] != '`'))
                close += close[0] == '`' ? 2 : 1;
            char *col = strndup(line + 2, (size_t)(close - line - 1));
            return col;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

static char *alter_of(const char *qname, my_buf *adds, int *failed)
{
    if (!adds->len)
        return NULL;
    my_buf sql = {0};
    my_buf_printf(&sql, "ALTER TABLE %s %s", qname, adds->p);
    if (!my_buf_str(&sql)) {
        my_buf_free(&sql);
        *failed = 1;
        return NULL;
    }
    return sql.p;
}

int my_create_split(const char *create, const char *qname, char **table, char **keys, char **fks)
{
    *table = *keys = *fks = NULL;
    char *auto_col = auto_increment_column(create);
    my_buf tb = {0}, adds[2] = {{0}, {0}};
    const char *line = create;
    int pending_comma = 0;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        size_t body = n && line[n - 1] == ',' ? n - 1 : n;
        int later =
            n > 2 && line[0] == ' ' && line[1] == ' ' ? deferrable(line, body, auto_col) : 0;
        if (later) {
            my_buf *al = &adds[later - 1];
            my_buf_puts(al, al->len ? ", ADD" : "ADD");
            my_buf_add(al, line + 1, body - 1);
        } else {
            if (pending_comma && line[0] == ' ')
                my_buf_puts(&tb, ",");
            if (pending_comma || tb.len)
                my_buf_puts(&tb, "\n");
            pending_comma = line[0] == ' ' && n && line[n - 1] == ',';
            my_buf_add(&tb, line, pending_comma ? n - 1 : n);
        }
        line = end ? end + 1 : line + n;
    }
    free(auto_col);
    int failed = adds[0].failed || adds[1].failed;
    *keys = alter_of(qname, &adds[0], &failed);
    *fks = alter_of(qname, &adds[1], &failed);
    *table = my_buf_str(&tb) ? tb.p : NULL;
    if (!*table) {
        failed = 1;
        my_buf_free(&tb);
    }
    my_buf_free(&adds[0]);
    my_buf_free(&adds[1]);
    if (failed) {
        free(*table);
        free(*keys);
        free(*fks);
        *table = *keys = *fks = NULL;
        return RB_ENOMEM;
    }
    return 0;
}
