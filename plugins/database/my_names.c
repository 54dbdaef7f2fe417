/* Names of the hidden schemas that hold snapshot copies, loads in progress
 * and replaced tables. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "my_db.h"

void my_schema_name(char kind, const char *id, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(id, strlen(id), md, &mdlen, EVP_sha256(), NULL))
        memset(md, 0, sizeof md);
    /* "_rbhost_" + kind + "_" (11) + up to 40 of the id + "_" + 12 hex = 64:
     * the hash keeps ids apart that differ only in replaced characters or
     * past the cut. */
    size_t o = (size_t)snprintf(out, 65, "_rbhost_%c_", kind);
    for (const char *s = id; *s && o < 51; s++) {
        char ch = *s;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_';
        out[o++] = ok ? ch : '_';
    }
    out[o++] = '_';
    for (int i = 0; i < 6; i++)
        o += (size_t)snprintf(out + o, 65 - o, "%02x", md[i]);
    out[o] = '\0';
}
