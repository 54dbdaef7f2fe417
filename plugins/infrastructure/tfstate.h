/* Reading Terraform/OpenTofu state documents (format version 4): their
 * identity (lineage, serial), their resource instances by address with a
 * keyed hash of each instance's attributes, and their output names. */
#ifndef RB_TFSTATE_H
#define RB_TFSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "infra.h"

#define RB_TFSTATE_KEY_LEN   32
#define RB_TFSTATE_HASH_SIZE 65 /* lowercase hex SHA-256 plus NUL */

typedef struct rb_tfstate_instance {
    char *address; /* module.net.aws_subnet.a["x"], data.x.y, ... (deposed objects suffixed) */
    char hash[RB_TFSTATE_HASH_SIZE];
} rb_tfstate_instance;

typedef struct rb_tfstate {
    int64_t version;
    uint64_t serial;
    char *lineage;
    char *terraform_version;
    size_t resource_count;          /* entries of "resources" */
    rb_tfstate_instance *instances; /* sorted by address */
    size_t instance_count;
    char **outputs; /* names only, sorted */
    size_t output_count;
} rb_tfstate;

/* The attribute hashes are HMAC-SHA-256 under a key derived from the
 * snapshot's whole state document. A reader of the metadata alone (which
 * holds the hashes, never the document) therefore cannot confirm a guess of
 * a secret attribute value against them. */
int rb_tfstate_key(const rb_infra_buf *snapshot_doc, unsigned char key[RB_TFSTATE_KEY_LEN]);

/* Parses doc. `what` names the document in messages ("state file X").
 * Messages never quote the document's content. When key is NULL the
 * instances are listed without hashes. */
int rb_tfstate_parse(const rb_infra_buf *doc, const char *what,
                     const unsigned char key[RB_TFSTATE_KEY_LEN], rb_tfstate *st);
void rb_tfstate_free(rb_tfstate *st);
/* Sorts st->instances by address, as rb_tfstate_find needs. */
void rb_tfstate_sort(rb_tfstate *st);
/* The instance with that address, or NULL. */
const rb_tfstate_instance *rb_tfstate_find(const rb_tfstate *st, const char *address);

/* The address -> hash map of st as compact JSON text (malloc'd), and such
 * text back into st->instances (sorted; nothing else of st is set). */
int rb_tfstate_index_json(const rb_tfstate *st, char **json);
int rb_tfstate_index_parse(const char *json, rb_tfstate *st);

/* Canonical JSON of a parsed value: object members sorted by key, no
 * insignificant whitespace, numbers in one spelling. Implemented over
 * cJSON; the void pointer keeps cJSON out of this header's users. */
int rb_tfstate_canonical(const void *cjson_item, rb_infra_buf *out);

/* The top-level "serial" member of a document, found without re-encoding
 * it, so that a rewrite changes those bytes only. */
int rb_tfstate_serial_get(const rb_infra_buf *doc, const char *what, uint64_t *serial);
int rb_tfstate_serial_set(const rb_infra_buf *doc, const char *what, uint64_t serial,
                          rb_infra_buf *out);

#endif
