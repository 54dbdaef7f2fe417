#include "fixture.h"
FIXTURE_DESCRIPTOR(d, "fixture_dup", RB_PLUGIN_VERSION, RB_ABI_MAJOR);
RB_PLUGIN_DEFINE(d)
