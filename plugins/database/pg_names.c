/* Names of the databases the engine keeps beside the live one. PostgreSQL
 * truncates identifiers to 63 bytes silently, which could make two
 * snapshots' copies collide; a long name is cut and given a hash of the
 * whole name instead, so every (database, snapshot) pair keeps its own. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "pg_db.h"

#define PG_NAME_MAX 63

void pg_copy_name(const char *live, const char *tag, const char *snapshot_id, char out[64])
{
    char full[1024];
    int n = snprintf(full, sizeof full, "rb_%s_%s_%s", tag, live, snapshot_id);
    if (n >= 0 && n <= PG_NAME_MAX) {
        memcpy(out, full, (size_t)n + 1);
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(full, strlen(full), md, &mdlen, EVP_sha256(), NULL);
    size_t keep = PG_NAME_MAX - 13;
    /* Never cut a UTF-8 character in two: back up to a lead byte. */
    while (keep > 0 && ((unsigned char)full[keep] & 0xC0) == 0x80)
        keep--;
    memcpy(out, full, keep);
    snprintf(out + keep, 64 - keep, "_%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4],
             md[5]);
}
