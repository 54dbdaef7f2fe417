/* Filled in by review; see the tests below. */
#include <criterion/criterion.h>

#include "rbtest.h"
