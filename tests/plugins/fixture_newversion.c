/* A descriptor from a future SDK whose struct this host cannot read. */
#include "fixture.h"
FIXTURE_DESCRIPTOR(d, "fixture_newversion", RB_PLUGIN_VERSION + 98, RB_ABI_MAJOR);
RB_PLUGIN_DEFINE(d)
