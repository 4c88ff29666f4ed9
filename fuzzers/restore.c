/* Fuzz target over edited images: a canonical state (harness/program/canonical.h, chosen by the first
 * byte) on channel 0, captured into image slot 0; then every step the rest of the input decodes
 * to becomes a RESTORE of that image, edited by the step's mode and a/b/c, into a fresh
 * channel 1 or 2 (the step's channel picks which; cleaned up first). The expansion is
 * harness/run/fuzz_input.h's, which `vmbsave repro --target restore` replays. A violation aborts
 * with the clause (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmbsave_fuzz_run_input(VMBSAVE_FUZZ_TARGET_RESTORE, data, size);
    return 0;
}
