/* rbhost plugin SDK: ABI version numbers and portability macros.
 *
 * The ABI major changes only when an existing struct field or function
 * signature changes meaning; the host refuses a backend built for another
 * major. The minor grows when fields are appended at the end of a struct. */
#ifndef RBHOST_ABI_H
#define RBHOST_ABI_H

#define RB_ABI_MAJOR 1
#define RB_ABI_MINOR 1

/* Current versions of the structs that cross the boundary. A struct's
 * version goes up by one each time fields are appended to it. */
#define RB_PLUGIN_VERSION     1
#define RB_HOST_API_VERSION   1
#define RB_CONFIG_KEY_VERSION 1

/* The one symbol a backend exports. Its signature never changes. */
#define RB_PLUGIN_ENTRY_SYMBOL "rbhost_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define RB_EXPORT            __attribute__((visibility("default")))
#define RB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define RB_EXPORT
#define RB_PRINTF(fmt, args)
#endif

#endif
