/* The control, not a variant: the shared wrapper with no bug. Every program passes against it
 * exactly as against the reference, so a violation a variant shows comes from its bug and not
 * from the wrapper (tests/selftest/test_variants.c runs every variant's program on it). */
#include "variant.h"

static const variant_def def = {
    .impl_name = "vmbsave-variant-passthrough",
};

VARIANT_ENTRY(def)
