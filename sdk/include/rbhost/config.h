/* rbhost plugin SDK: the config keys a backend declares.
 *
 * The host validates a target's config against this table before calling
 * the backend: unknown keys, missing required keys and wrong types are
 * refused with a message naming the key. Defaults are applied, so the
 * config the backend reads (host->config) always has every key that has a
 * default. */
#ifndef RBHOST_CONFIG_H
#define RBHOST_CONFIG_H

#include "abi.h"

typedef enum rb_key_type {
    RB_KEY_STRING = 1,
    RB_KEY_INT = 2,
    RB_KEY_BOOL = 3,
    RB_KEY_NUMBER = 4,
    RB_KEY_STRING_LIST = 5, /* an array of strings; a single string is accepted as a list of one */
    RB_KEY_OBJECT = 6,
    RB_KEY_ARRAY = 7,
    RB_KEY_ANY = 8,
} rb_key_type;

typedef struct rb_config_key {
    unsigned int version; /* RB_CONFIG_KEY_VERSION */
    const char *name;     /* NULL ends the table */
    rb_key_type type;
    int required;             /* non-zero: the key must be present */
    const char *default_json; /* JSON text of the default, or NULL for none */
    const char *description;  /* one line, shown by `rbhost plugins --keys` */
    int secret;               /* non-zero: the host never prints the value */
} rb_config_key;

#define RB_CONFIG_KEY(name, type, required, default_json, description)                             \
    {                                                                                              \
        RB_CONFIG_KEY_VERSION, (name), (type), (required), (default_json), (description), 0        \
    }
#define RB_CONFIG_SECRET_KEY(name, type, required, default_json, description)                      \
    {                                                                                              \
        RB_CONFIG_KEY_VERSION, (name), (type), (required), (default_json), (description), 1        \
    }
#define RB_CONFIG_KEY_END                                                                          \
    {                                                                                              \
        RB_CONFIG_KEY_VERSION, 0, 0, 0, 0, 0, 0                                                    \
    }

#endif
