#include "fixture.h"
FIXTURE_DESCRIPTOR(d, "fixture_abi0", RB_PLUGIN_VERSION, 0);
RB_PLUGIN_DEFINE(d)
