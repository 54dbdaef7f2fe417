/* Shared by the infrastructure suites: Terraform state documents in the
 * exact version 4 format Terraform writes, a temporary IaC directory and
 * store, and shortcuts for running rbhost on them. */
#ifndef INFRA_FIXTURE_H
#define INFRA_FIXTURE_H

#include <cjson/cJSON.h>

#include "rbtest.h"

/* Appears in a sensitive output and in a resource attribute marked
 * sensitive: it must never show up in metadata, records or logs. */
#define IFT_SECRET        "s3cr3t-Pa55w0rd-4e1b9c"
#define IFT_LINEAGE       "0b7c1f52-9d3e-4a61-b2f8-6c4d1e9a7f30"
#define IFT_OTHER_LINEAGE "f41d2a07-3c88-4e5b-9a1c-d2e6b7f80c19"

typedef struct ift_state {
    const char *lineage;
    int serial;
    const char *web_size; /* input of every terraform_data.web instance */
    int web_count;        /* terraform_data.web[0..web_count-1] */
    int subnet_b;         /* whether module.net's subnet["b"] exists */
} ift_state;

/* The state a first apply leaves: lineage IFT_LINEAGE, serial 5, two small
 * web instances, both subnets. */
ift_state ift_state_base(void);
/* The document, malloc'd. */
char *ift_tfstate(const ift_state *s);
/* doc with its "serial" line set to serial, malloc'd. */
char *ift_with_serial(const char *doc, int serial);

typedef struct ift {
    char *tmp;
    char *dir;   /* <tmp>/iac, the root module */
    char *state; /* <dir>/terraform.tfstate */
    char *store; /* <tmp>/store */
} ift;

void ift_open(ift *t);
void ift_close(ift *t);
/* <dir>/<rel>, malloc'd. */
char *ift_path(const ift *t, const char *rel);

/* Runs rbhost --json with the arguments; returns the parsed stdout, the
 * exit code in *code and (when err is not NULL) stderr in *err. */
cJSON *ift_rbhost_json(const char *store, int *code, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A member by path of keys, or NULL. */
cJSON *ift_get(const cJSON *j, ...) __attribute__((sentinel));
const char *ift_str(const cJSON *j, ...) __attribute__((sentinel));
/* The "error" of an rbhost response; the test fails when there is none. */
const char *ift_error(const cJSON *response);
/* Whether the array of objects holds one whose key1 is v1 and key2 is v2. */
int ift_has(const cJSON *array, const char *key1, const char *v1, const char *key2, const char *v2);

#endif
