/* Target configs: validation against a backend's declared keys, and the
 * redaction applied before a config is recorded anywhere. */
#ifndef RB_CONFIG_H
#define RB_CONFIG_H

#include <cjson/cJSON.h>

/* Checks `config` (an object) against `keys` (as described by the
 * registry) and returns in *effective a copy with defaults applied and
 * single strings given for string lists wrapped in a list. Unknown keys,
 * missing required keys and wrong types are refused naming the key. */
int rb_config_validate(const cJSON *keys, const char *type, const cJSON *config, cJSON **effective);
/* A copy of `config` fit to be written down: values of keys declared
 * secret replaced by "<redacted>", passwords removed from URLs
 * (scheme://user:pw@host) and from key=value strings (password=...). */
cJSON *rb_config_redact(const cJSON *keys, const cJSON *config);
/* Redacts one string in place the same way. */
void rb_config_redact_string(char *s);

#endif
