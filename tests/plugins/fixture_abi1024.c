#include "fixture.h"
FIXTURE_DESCRIPTOR(d, "fixture_abi1024", RB_PLUGIN_VERSION, 1024);
RB_PLUGIN_DEFINE(d)
