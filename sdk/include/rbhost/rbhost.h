/* rbhost plugin SDK: everything a backend needs, in one include. */
#ifndef RBHOST_RBHOST_H
#define RBHOST_RBHOST_H

#include "abi.h"
#include "config.h"
#include "errors.h"
#include "host.h"
#include "node.h"
#include "plugin.h"

#endif
