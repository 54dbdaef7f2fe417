#include "infra_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ift_state ift_state_base(void)
{
    ift_state s = {IFT_LINEAGE, 5, "small", 2, 1};
    return s;
}

static void web_instance(FILE *f, int i, const char *size, int last)
{
    fprintf(f,
            "        {\n"
            "          \"index_key\": %d,\n"
            "          \"schema_version\": 0,\n"
            "          \"attributes\": {\n"
            "            \"id\": \"4ac3d3b1-57cd-b883-2675-5a90fc4afb%02d\",\n"
            "            \"input\": {\n"
            "              \"value\": {\n"
            "                \"name\": \"web-%d\",\n"
            "                \"size\": \"%s\"\n"
            "              },\n"
            "              \"type\": [\n"
            "                \"object\",\n"
            "                {\n"
            "                  \"name\": \"string\",\n"
            "                  \"size\": \"string\"\n"
            "                }\n"
            "              ]\n"
            "            },\n"
            "            \"output\": null,\n"
            "            \"triggers_replace\": null\n"
            "          },\n"
            "          \"sensitive_attributes\": [],\n"
            "          \"dependencies\": [\n"
            "            \"random_password.db\"\n"
            "          ]\n"
            "        }%s\n",
            i, i, i, size, last ? "" : ",");
}

static void subnet_instance(FILE *f, const char *key, int last)
{
    fprintf(f,
            "        {\n"
            "          \"index_key\": \"%s\",\n"
            "          \"schema_version\": 0,\n"
            "          \"attributes\": {\n"
            "            \"id\": \"a4d9ae2f-c5e7-6d12-7697-888f8fc6c1%s\",\n"
            "            \"input\": {\n"
            "              \"value\": \"10.0.%s.0/24\",\n"
            "              \"type\": \"string\"\n"
            "            },\n"
            "            \"output\": {\n"
            "              \"value\": \"10.0.%s.0/24\",\n"
            "              \"type\": \"string\"\n"
            "            },\n"
            "            \"triggers_replace\": null\n"
            "          },\n"
            "          \"sensitive_attributes\": []\n"
            "        }%s\n",
            key, key[0] == 'a' ? "0a" : "0b", key[0] == 'a' ? "1" : "2", key[0] == 'a' ? "1" : "2",
            last ? "" : ",");
}

char *ift_tfstate(const ift_state *s)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    cr_assert_not_null(f);
    fprintf(f,
            "{\n"
            "  \"version\": 4,\n"
            "  \"terraform_version\": \"1.9.8\",\n"
            "  \"serial\": %d,\n"
            "  \"lineage\": \"%s\",\n"
            "  \"outputs\": {\n"
            "    \"db_password\": {\n"
            "      \"value\": \"" IFT_SECRET "\",\n"
            "      \"type\": \"string\",\n"
            "      \"sensitive\": true\n"
            "    },\n"
            "    \"web_count\": {\n"
            "      \"value\": %d,\n"
            "      \"type\": \"number\"\n"
            "    }\n"
            "  },\n"
            "  \"resources\": [\n",
            s->serial, s->lineage, s->web_count);
    fprintf(f, "    {\n"
               "      \"mode\": \"data\",\n"
               "      \"type\": \"terraform_remote_state\",\n"
               "      \"name\": \"shared\",\n"
               "      \"provider\": \"provider[\\\"terraform.io/builtin/terraform\\\"]\",\n"
               "      \"instances\": [\n"
               "        {\n"
               "          \"schema_version\": 0,\n"
               "          \"attributes\": {\n"
               "            \"backend\": \"local\",\n"
               "            \"config\": {\n"
               "              \"value\": {\n"
               "                \"path\": \"../shared/terraform.tfstate\"\n"
               "              },\n"
               "              \"type\": [\n"
               "                \"object\",\n"
               "                {\n"
               "                  \"path\": \"string\"\n"
               "                }\n"
               "              ]\n"
               "            },\n"
               "            \"defaults\": null,\n"
               "            \"outputs\": {\n"
               "              \"value\": {\n"
               "                \"vpc_id\": \"vpc-0a1b2c3d\"\n"
               "              },\n"
               "              \"type\": [\n"
               "                \"object\",\n"
               "                {\n"
               "                  \"vpc_id\": \"string\"\n"
               "                }\n"
               "              ]\n"
               "            },\n"
               "            \"workspace\": null\n"
               "          },\n"
               "          \"sensitive_attributes\": []\n"
               "        }\n"
               "      ]\n"
               "    },\n");
    fprintf(f, "    {\n"
               "      \"mode\": \"managed\",\n"
               "      \"type\": \"random_password\",\n"
               "      \"name\": \"db\",\n"
               "      \"provider\": \"provider[\\\"registry.terraform.io/hashicorp/random\\\"]\",\n"
               "      \"instances\": [\n"
               "        {\n"
               "          \"schema_version\": 3,\n"
               "          \"attributes\": {\n"
               "            \"bcrypt_hash\": "
               "\"$2a$10$7bX9eSx1y1f5o0Qm3v0mUe0rJkq4h0eFqkq1Qk7XyYt9w3uJ2kqGa\",\n"
               "            \"id\": \"none\",\n"
               "            \"keepers\": null,\n"
               "            \"length\": 22,\n"
               "            \"lower\": true,\n"
               "            \"min_numeric\": 0,\n"
               "            \"numeric\": true,\n"
               "            \"override_special\": null,\n"
               "            \"result\": \"" IFT_SECRET "\",\n"
               "            \"special\": true,\n"
               "            \"upper\": true\n"
               "          },\n"
               "          \"sensitive_attributes\": [\n"
               "            [\n"
               "              {\n"
               "                \"type\": \"get_attr\",\n"
               "                \"value\": \"bcrypt_hash\"\n"
               "              }\n"
               "            ],\n"
               "            [\n"
               "              {\n"
               "                \"type\": \"get_attr\",\n"
               "                \"value\": \"result\"\n"
               "              }\n"
               "            ]\n"
               "          ],\n"
               "          \"private\": \"eyJzY2hlbWFfdmVyc2lvbiI6IjMifQ==\"\n"
               "        }\n"
               "      ]\n"
               "    },\n");
    fprintf(f, "    {\n"
               "      \"mode\": \"managed\",\n"
               "      \"type\": \"terraform_data\",\n"
               "      \"name\": \"web\",\n"
               "      \"provider\": \"provider[\\\"terraform.io/builtin/terraform\\\"]\",\n"
               "      \"instances\": [\n");
    for (int i = 0; i < s->web_count; i++)
        web_instance(f, i, s->web_size, i == s->web_count - 1);
    fprintf(f, "      ]\n"
               "    },\n"
               "    {\n"
               "      \"module\": \"module.net\",\n"
               "      \"mode\": \"managed\",\n"
               "      \"type\": \"terraform_data\",\n"
               "      \"name\": \"subnet\",\n"
               "      \"provider\": \"provider[\\\"terraform.io/builtin/terraform\\\"]\",\n"
               "      \"instances\": [\n");
    subnet_instance(f, "a", !s->subnet_b);
    if (s->subnet_b)
        subnet_instance(f, "b", 1);
    fprintf(f, "      ]\n"
               "    }\n"
               "  ],\n"
               "  \"check_results\": null\n"
               "}\n");
    cr_assert_eq(fclose(f), 0);
    return doc;
}

char *ift_with_serial(const char *doc, int serial)
{
    const char *at = strstr(doc, "\n  \"serial\": ");
    cr_assert_not_null(at, "no serial line in the document");
    at += strlen("\n  \"serial\": ");
    const char *end = strchr(at, ',');
    cr_assert_not_null(end);
    return rbt_fmt("%.*s%d%s", (int)(at - doc), doc, serial, end);
}

void ift_open(ift *t)
{
    t->tmp = rbt_tmpdir();
    t->dir = rbt_fmt("%s/iac", t->tmp);
    t->state = rbt_fmt("%s/terraform.tfstate", t->dir);
    t->store = rbt_fmt("%s/store", t->tmp);
    rbt_run r = rbt_sh("mkdir -p '%s'", t->dir);
    cr_assert_eq(r.code, 0);
    rbt_run_free(&r);
}

void ift_close(ift *t)
{
    rbt_rmtree(t->tmp);
    free(t->tmp);
    free(t->dir);
    free(t->state);
    free(t->store);
}

char *ift_path(const ift *t, const char *rel)
{
    return rbt_fmt("%s/%s", t->dir, rel);
}

cJSON *ift_rbhost_json(const char *store, int *code, char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(store, "--json %s", args);
    free(args);
    *code = r.code;
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "rbhost printed no JSON (exit %d): %s\nstderr: %s", r.code, r.out, r.err);
    if (err) {
        *err = r.err;
        r.err = NULL;
    }
    rbt_run_free(&r);
    return j;
}

cJSON *ift_get(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *key;
    while (j && (key = va_arg(ap, const char *)) != NULL)
        j = cJSON_GetObjectItemCaseSensitive(j, key);
    va_end(ap);
    return (cJSON *)j;
}

const char *ift_str(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *key;
    while (j && (key = va_arg(ap, const char *)) != NULL)
        j = cJSON_GetObjectItemCaseSensitive(j, key);
    va_end(ap);
    return cJSON_GetStringValue(j);
}

const char *ift_error(const cJSON *response)
{
    const char *msg = ift_str(response, "error", NULL);
    cr_assert_not_null(msg, "the response has no error message");
    return msg;
}

int ift_has(const cJSON *array, const char *key1, const char *v1, const char *key2, const char *v2)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, array)
    {
        const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, key1));
        const char *b = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, key2));
        if (a && b && !strcmp(a, v1) && !strcmp(b, v2))
            return 1;
    }
    return 0;
}
