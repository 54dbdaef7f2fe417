/* Progress on stderr during a file_system snapshot and rollback: plain
 * lines when stderr is a file (their period set by
 * RBHOST_PROGRESS_INTERVAL), a bar redrawn with \r under a pseudo-terminal,
 * nothing with --quiet. */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbtest.h"

/* Enough content that a snapshot lasts well over the 0.01 s interval and
 * the 0.1 s redraw period even on a fast machine. */
#define FILES     48
#define FILE_SIZE 1000000

static char *tmp, *store, *tree;

static void setup(void)
{
    tmp = rbt_tmpdir();
    store = rbt_fmt("%s/store", tmp);
    tree = rbt_fmt("%s/tree", tmp);
    rbt_run r = rbt_sh("mkdir -p '%s' && for i in $(seq 1 %d); do head -c %d /dev/urandom > "
                       "'%s'/f$i || exit 1; done",
                       tree, FILES, FILE_SIZE, tree);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    unsetenv("RBHOST_PROGRESS_INTERVAL");
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
    free(store);
    free(tree);
}

TestSuite(progress, .init = setup, .fini = teardown);

static rbt_run snapshot(const char *global, const char *id)
{
    return rbt_rbhost(store,
                      "%s create-snapshot --id %s --type file_system --config "
                      "'{\"paths\":[\"%s\"]}'",
                      global, id, tree);
}

/* The store's own count of the snapshot's content bytes. */
static unsigned long long original_bytes(const char *id)
{
    rbt_run r = rbt_rbhost(store, "--json show-snapshot --id %s", id);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    rbt_run_free(&r);
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "original_bytes");
    cr_assert(cJSON_IsNumber(v));
    unsigned long long n = (unsigned long long)v->valuedouble;
    cJSON_Delete(doc);
    return n;
}

typedef struct lines {
    unsigned long long bytes[4096];
    size_t n;
    unsigned long long final;
    int finals;
} lines;

#define SIZE_RE "[0-9]+(\\.[0-9])? (B|KiB|MiB|GiB)"

/* Every line on stderr is a progress line of `label` in the documented
 * format; collects their byte counts. */
static lines parse_lines(const char *err, const char *label)
{
    lines l = {0};
    char *tick_re = rbt_fmt("^rbhost: progress: %s: ([0-9]+) bytes \\(" SIZE_RE ") at " SIZE_RE
                            "/s(, [0-9]+ [a-z ]+)?, [0-9]+\\.[0-9] s elapsed$",
                            label);
    char *done_re = rbt_fmt("^rbhost: progress: %s: done, ([0-9]+) bytes \\(" SIZE_RE
                            "\\) in [0-9]+\\.[0-9] s at " SIZE_RE "/s(, [0-9]+ [a-z ]+)?$",
                            label);
    regex_t tick, done;
    cr_assert_eq(regcomp(&tick, tick_re, REG_EXTENDED), 0);
    cr_assert_eq(regcomp(&done, done_re, REG_EXTENDED), 0);
    char *copy = strdup(err), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        regmatch_t m[2];
        cr_assert_eq(l.finals, 0, "a line after the last one: %s", line);
        if (regexec(&tick, line, 2, m, 0) == 0) {
            cr_assert_lt(l.n, sizeof l.bytes / sizeof l.bytes[0]);
            l.bytes[l.n++] = strtoull(line + m[1].rm_so, NULL, 10);
        } else if (regexec(&done, line, 2, m, 0) == 0) {
            l.final = strtoull(line + m[1].rm_so, NULL, 10);
            l.finals++;
        } else {
            cr_assert_fail("not a progress line of '%s': %s", label, line);
        }
    }
    free(copy);
    regfree(&tick);
    regfree(&done);
    free(tick_re);
    free(done_re);
    return l;
}

static void assert_increasing_to(const lines *l, unsigned long long total)
{
    cr_assert_eq(l->finals, 1, "one last line");
    cr_assert_geq(l->n, 1, "at least one line before the last");
    for (size_t i = 1; i < l->n; i++)
        cr_assert_geq(l->bytes[i], l->bytes[i - 1], "bytes go down: %llu then %llu",
                      l->bytes[i - 1], l->bytes[i]);
    cr_assert_leq(l->bytes[l->n - 1], l->final);
    cr_assert_eq(l->final, total, "last line says %llu bytes, the store holds %llu", l->final,
                 total);
}

Test(progress, a_log_gets_lines_whose_bytes_grow_to_the_total)
{
    setenv("RBHOST_PROGRESS_INTERVAL", "0.01", 1);
    rbt_run r = snapshot("--json", "s1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON_Delete(rbt_json(r.out)); /* stdout stays one JSON document */
    cr_assert_null(strchr(r.err, '\r'), "no redraws in a file: %s", r.err);
    cr_assert_null(strchr(r.err, '\033'), "no escape sequences in a file: %s", r.err);
    lines l = parse_lines(r.err, "snapshot file_system");
    rbt_run_free(&r);
    unsigned long long total = original_bytes("s1");
    cr_assert_geq(total, (unsigned long long)FILES * FILE_SIZE);
    assert_increasing_to(&l, total);

    /* A rollback reads what it restores: a third of the files changed. */
    r = rbt_sh("for i in $(seq 1 %d); do echo changed > '%s'/f$i; done", FILES / 3, tree);
    rbt_run_free(&r);
    r = rbt_rbhost(store, "execute-rollback --id s1 --yes --no-safety-snapshot");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.err, "rbhost: progress: restore file_system: done, "), "%s", r.err);
    rbt_run_free(&r);
}

Test(progress, short_operations_and_an_interval_of_zero_print_nothing)
{
    /* The default period is 5 s: a snapshot of this tree is over sooner. */
    rbt_run r = snapshot("", "s1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    rbt_run_free(&r);
    setenv("RBHOST_PROGRESS_INTERVAL", "0", 1);
    r = snapshot("", "s2");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    rbt_run_free(&r);
}

Test(progress, a_bad_interval_is_named_and_the_default_used)
{
    setenv("RBHOST_PROGRESS_INTERVAL", "soon", 1);
    rbt_run r = snapshot("", "s1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "RBHOST_PROGRESS_INTERVAL=soon is not a number of seconds"), "%s",
              r.err);
    cr_assert_null(strstr(r.err, "progress:"), "%s", r.err);
    rbt_run_free(&r);
}

Test(progress, quiet_prints_nothing)
{
    setenv("RBHOST_PROGRESS_INTERVAL", "0.01", 1);
    rbt_run r = snapshot("--quiet", "s1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    rbt_run_free(&r);
    r = rbt_sh("script -qec \"'%s' --quiet --store '%s' create-snapshot --id s2 --type "
               "file_system --config '{\\\"paths\\\":[\\\"%s\\\"]}'\" /dev/null",
               rbt_rbhost_bin(), store, tree);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    /* The terminal turns newlines into \r\n: a bar is what erases a line. */
    cr_assert_null(strstr(r.out, "\033[K"), "%s", r.out);
    cr_assert_null(strstr(r.out, "/s"), "%s", r.out);
    rbt_run_free(&r);
}

Test(progress, a_terminal_gets_a_bar_redrawn_in_place_and_cleared)
{
    /* Four times the content: several tenths of a second, several redraws. */
    rbt_run r = rbt_sh("for i in $(seq 1 %d); do head -c %d /dev/urandom > '%s'/g$i || exit 1; "
                       "done",
                       3 * FILES, FILE_SIZE, tree);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    /* script(1) gives rbhost a pseudo-terminal; everything it wrote,
     * stderr included, comes back on script's stdout. */
    r = rbt_sh("script -qec \"'%s' --store '%s' create-snapshot --id s1 --type "
               "file_system --config '{\\\"paths\\\":[\\\"%s\\\"]}'\" /dev/null",
               rbt_rbhost_bin(), store, tree);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    const char *first = strstr(r.out, "\rsnapshot file_system  ");
    cr_assert_not_null(first, "no bar: %s", r.out);
    cr_assert(strstr(first + 1, "\rsnapshot file_system  "), "drawn once, never redrawn: %s",
              r.out);
    regex_t rate;
    cr_assert_eq(
        regcomp(&rate, "  " SIZE_RE "  " SIZE_RE "/s  [0-9]+:[0-9]{2}\033\\[K", REG_EXTENDED), 0);
    cr_assert_eq(regexec(&rate, first, 0, NULL, 0), 0, "no bytes and rate: %s", r.out);
    regfree(&rate);
    /* Cleared before the result is printed, on the same line. */
    const char *result = strstr(r.out, "snapshot s1 created");
    cr_assert_not_null(result, "%s", r.out);
    cr_assert_geq(result - r.out, 4);
    cr_assert_eq(strncmp(result - 4, "\r\033[K", 4), 0, "%s", r.out);
    cr_assert_null(strstr(r.out, "progress:"), "lines are for files, not terminals: %s", r.out);
    rbt_run_free(&r);
}
