/* Parsing a version 4 state document into what rbhost records and compares:
 * lineage, serial, Terraform version, output names and one entry per
 * resource instance (its address and a keyed hash of its attributes).
 * Output values and attribute values are read only to hash them; no
 * message quotes any part of the document. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfstate.h"

static const char key_label[] = "rbhost infrastructure attribute hash v1";

int rb_tfstate_key(const rb_infra_buf *snapshot_doc, unsigned char key[RB_TFSTATE_KEY_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(ctx, key_label, sizeof key_label) ||
        !EVP_DigestUpdate(ctx, snapshot_doc->data, snapshot_doc->len) ||
        !EVP_DigestFinal_ex(ctx, key, &len)) {
        EVP_MD_CTX_free(ctx);
        return rb_infra_host->error_set(RB_ERROR, RB_ERRCLASS_BACKEND, "SHA-256 failed");
    }
    EVP_MD_CTX_free(ctx);
    return 0;
}

static int oom(void)
{
    return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Appends printf output to a malloc'd string. */
static int append(char **str, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int append(char **str, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *grown = realloc(*str, *len + (size_t)n + 1);
    if (!grown)
        return -1;
    va_start(ap, fmt);
    vsnprintf(grown + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *str = grown;
    *len += (size_t)n;
    return 0;
}

/* ["key"] the way Terraform prints a string instance key. */
static int append_string_key(char **str, size_t *len, const char *key)
{
    if (append(str, len, "[\"") < 0)
        return -1;
    for (const char *p = key; *p; p++) {
        if ((*p == '"' || *p == '\\') && append(str, len, "\\") < 0)
            return -1;
        if (append(str, len, "%c", *p) < 0)
            return -1;
    }
    return append(str, len, "\"]");
}

/* module.x.type.name[key], data.type.name, plus " (deposed KEY)" for a
 * deposed object: the address `terraform state list` shows. */
static char *instance_address(const cJSON *res, const cJSON *inst)
{
    const char *module = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "module"));
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "mode"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "type"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "name"));
    if (!type || !name)
        return NULL;
    char *addr = NULL;
    size_t len = 0;
    int bad = 0;
    if (module && *module)
        bad |= append(&addr, &len, "%s.", module);
    if (mode && !strcmp(mode, "data"))
        bad |= append(&addr, &len, "data.");
    bad |= append(&addr, &len, "%s.%s", type, name);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(inst, "index_key");
    if (cJSON_IsNumber(key))
        bad |= append(&addr, &len, "[%.0f]", key->valuedouble);
    else if (cJSON_IsString(key))
        bad |= append_string_key(&addr, &len, key->valuestring);
    const char *deposed = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inst, "deposed"));
    if (deposed)
        bad |= append(&addr, &len, " (deposed %s)", deposed);
    if (bad) {
        free(addr);
        return NULL;
    }
    return addr;
}

/* One HMAC context for all instances of a document: setting the key up
 * once instead of per instance matters with tens of thousands of them. */
typedef struct hasher {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
} hasher;

static void hasher_close(hasher *hs)
{
    EVP_MAC_CTX_free(hs->ctx);
    EVP_MAC_free(hs->mac);
}

static int hasher_open(hasher *hs, const unsigned char key[RB_TFSTATE_KEY_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    hs->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    hs->ctx = hs->mac ? EVP_MAC_CTX_new(hs->mac) : NULL;
    if (hs->ctx && EVP_MAC_init(hs->ctx, key, RB_TFSTATE_KEY_LEN, params))
        return 0;
    hasher_close(hs);
    return rb_infra_host->error_set(RB_ERROR, RB_ERRCLASS_BACKEND,
                                    "HMAC-SHA-256 is not available from libcrypto");
}

static int hash_attributes(const cJSON *inst, hasher *hs, char out[RB_TFSTATE_HASH_SIZE])
{
    /* Version 4 keeps attributes as JSON; states upgraded from 0.11 may
     * still carry the flat map instead. */
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(inst, "attributes");
    if (!attrs)
        attrs = cJSON_GetObjectItemCaseSensitive(inst, "attributes_flat");
    rb_infra_buf canon = {NULL, 0};
    int rc = attrs ? rb_tfstate_canonical(attrs, &canon) : rb_infra_buf_set(&canon, "null", 4);
    if (rc < 0)
        return rc;
    unsigned char mac[32];
    size_t mac_len = 0;
    int ok = EVP_MAC_init(hs->ctx, NULL, 0, NULL) &&
             EVP_MAC_update(hs->ctx, (const unsigned char *)canon.data, canon.len) &&
             EVP_MAC_final(hs->ctx, mac, &mac_len, sizeof mac);
    rb_infra_buf_free(&canon);
    if (!ok || mac_len != sizeof mac)
        return rb_infra_host->error_set(RB_ERROR, RB_ERRCLASS_BACKEND, "HMAC-SHA-256 failed");
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof mac; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[2 * sizeof mac] = '\0';
    return 0;
}

static int by_address(const void *a, const void *b)
{
    return strcmp(((const rb_tfstate_instance *)a)->address,
                  ((const rb_tfstate_instance *)b)->address);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_instances(const cJSON *resources, const char *what, hasher *hs, rb_tfstate *st)
{
    size_t total = 0;
    const cJSON *res;
    cJSON_ArrayForEach(res, resources)
    {
        const cJSON *insts = cJSON_GetObjectItemCaseSensitive(res, "instances");
        if (!cJSON_IsObject(res) || (insts && !cJSON_IsArray(insts)))
            return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                            "%s: a \"resources\" entry is malformed", what);
        total += (size_t)cJSON_GetArraySize(insts);
        st->resource_count++;
    }
    st->instances = total ? calloc(total, sizeof *st->instances) : NULL;
    if (total && !st->instances)
        return oom();
    cJSON_ArrayForEach(res, resources)
    {
        const cJSON *inst;
        cJSON_ArrayForEach(inst, cJSON_GetObjectItemCaseSensitive(res, "instances"))
        {
            rb_tfstate_instance *out = &st->instances[st->instance_count];
            out->address = instance_address(res, inst);
            if (!out->address)
                return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                                "%s: a resource has no type or name", what);
            st->instance_count++;
            if (hs) {
                int rc = hash_attributes(inst, hs, out->hash);
                if (rc < 0)
                    return rc;
            }
        }
    }
    rb_tfstate_sort(st);
    return 0;
}

static int read_outputs(const cJSON *outputs, rb_tfstate *st)
{
    size_t n = (size_t)cJSON_GetArraySize(outputs);
    if (!cJSON_IsObject(outputs) || n == 0)
        return 0;
    st->outputs = calloc(n, sizeof *st->outputs);
    if (!st->outputs)
        return oom();
    const cJSON *o;
    cJSON_ArrayForEach(o, outputs)
    {
        st->outputs[st->output_count] = strdup(o->string ? o->string : "");
        if (!st->outputs[st->output_count])
            return oom();
        st->output_count++;
    }
    qsort(st->outputs, st->output_count, sizeof *st->outputs, by_name);
    return 0;
}

int rb_tfstate_parse(const rb_infra_buf *doc, const char *what,
                     const unsigned char key[RB_TFSTATE_KEY_LEN], rb_tfstate *st)
{
    memset(st, 0, sizeof *st);
    cJSON *root = cJSON_ParseWithLength(doc->data, doc->len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off =
            at && at >= doc->data && at <= doc->data + doc->len ? (size_t)(at - doc->data) : 0;
        return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                        "%s is not valid JSON (near byte %zu)", what, off);
    }
    int rc = 0;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *lineage = cJSON_GetObjectItemCaseSensitive(root, "lineage");
    const cJSON *resources = cJSON_GetObjectItemCaseSensitive(root, "resources");
    if (!cJSON_IsObject(root) || !cJSON_IsNumber(version)) {
        rc = rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                      "%s has no \"version\": not a Terraform state", what);
        goto out;
    }
    st->version = (int64_t)version->valuedouble;
    if (st->version != 4) {
        rc = rb_infra_host->error_set(
            RB_EUNSUPPORTED, RB_ERRCLASS_INFRA,
            "%s is state format version %" PRId64 "; rbhost reads version 4 (Terraform 0.12 "
            "and later, OpenTofu): run `terraform apply` or `tofu apply` once to upgrade it",
            what, st->version);
        goto out;
    }
    if (!cJSON_IsString(lineage) || (resources && !cJSON_IsArray(resources))) {
        rc = rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_INFRA,
                                      "%s has no lineage or a malformed \"resources\"", what);
        goto out;
    }
    rc = rb_tfstate_serial_get(doc, what, &st->serial);
    if (rc < 0)
        goto out;
    st->lineage = strdup(lineage->valuestring);
    st->terraform_version = dup_or_null(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "terraform_version")));
    if (!st->lineage) {
        rc = oom();
        goto out;
    }
    hasher hs;
    rc = key ? hasher_open(&hs, key) : 0;
    if (rc == 0) {
        rc = read_instances(resources, what, key ? &hs : NULL, st);
        if (key)
            hasher_close(&hs);
    }
    if (rc == 0)
        rc = read_outputs(cJSON_GetObjectItemCaseSensitive(root, "outputs"), st);
out:
    cJSON_Delete(root);
    if (rc < 0)
        rb_tfstate_free(st);
    return rc;
}

void rb_tfstate_free(rb_tfstate *st)
{
    for (size_t i = 0; i < st->instance_count; i++)
        free(st->instances[i].address);
    for (size_t i = 0; i < st->output_count; i++)
        free(st->outputs[i]);
    free(st->instances);
    free(st->outputs);
    free(st->lineage);
    free(st->terraform_version);
    memset(st, 0, sizeof *st);
}

void rb_tfstate_sort(rb_tfstate *st)
{
    if (st->instance_count > 1)
        qsort(st->instances, st->instance_count, sizeof *st->instances, by_address);
}

const rb_tfstate_instance *rb_tfstate_find(const rb_tfstate *st, const char *address)
{
    if (!st->instance_count)
        return NULL;
    rb_tfstate_instance probe = {(char *)address, {0}};
    return bsearch(&probe, st->instances, st->instance_count, sizeof probe, by_address);
}
