/* rbhost plugin SDK: return codes and error classes.
 *
 * Every function returns 0 on success or a negative rb_error code. The
 * human-readable message travels separately, through host->error_set(). */
#ifndef RBHOST_ERRORS_H
#define RBHOST_ERRORS_H

typedef enum rb_error {
    RB_OK = 0,
    RB_ERROR = -1,        /* generic failure; the message says what */
    RB_ENOMEM = -2,       /* out of memory */
    RB_EINVAL = -3,       /* invalid argument or input */
    RB_ENOTFOUND = -4,    /* a file, snapshot, database, container... is missing */
    RB_EEXISTS = -5,      /* the thing to create is already there */
    RB_EIO = -6,          /* read, write or network I/O failed */
    RB_EPERM = -7,        /* permission denied */
    RB_ELOCKED = -8,      /* someone else holds a lock */
    RB_EUNSUPPORTED = -9, /* valid request this backend or host cannot do */
    RB_ECANCELED = -10,   /* the operation was cancelled */
    RB_ETIMEOUT = -11,    /* an operation exceeded its time limit */
    RB_EDRIFT = -12,      /* verify: the live state differs from the snapshot */
    RB_ECONFLICT = -13,   /* the live state is in a state that forbids the change */
    RB_ECORRUPT = -14,    /* stored data failed its integrity check */
    RB_ENOSPC = -15,      /* no space left on a device */
} rb_error;

/* Which part of the system an error comes from. Stable numbers: they are
 * printed by `rbhost --json` as names (see rb_error_class_name in the host). */
typedef enum rb_error_class {
    RB_ERRCLASS_NONE = 0,
    RB_ERRCLASS_NOMEMORY = 1,
    RB_ERRCLASS_OS = 2,         /* a system call failed; message carries strerror */
    RB_ERRCLASS_INVALID = 3,    /* bad input from the user */
    RB_ERRCLASS_CONFIG = 4,     /* a target's config is wrong */
    RB_ERRCLASS_PLUGIN = 5,     /* loading or talking to a backend failed */
    RB_ERRCLASS_STORE = 6,      /* the snapshot store */
    RB_ERRCLASS_BACKEND = 7,    /* a backend's own failure */
    RB_ERRCLASS_NET = 8,        /* network or HTTP */
    RB_ERRCLASS_DATABASE = 9,   /* a database server */
    RB_ERRCLASS_GIT = 10,       /* a git repository */
    RB_ERRCLASS_CONTAINER = 11, /* a container engine */
    RB_ERRCLASS_VERIFY = 12,    /* a verification found a difference */
    RB_ERRCLASS_LOCK = 13,      /* a lock is held */
    RB_ERRCLASS_FILESYSTEM = 14,
    RB_ERRCLASS_INFRA = 15, /* infrastructure state */
} rb_error_class;

#endif
