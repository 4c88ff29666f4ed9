/* Fuzz target: a canonical state (harness/program/canonical.h, chosen by the first byte) on channel 0,
 * then the program the rest of the input decodes to, then a round trip: capture channel 0,
 * restore the image into a fresh channel 1 (whole, or k chunks per call: also the first byte),
 * capture that (the oracle checks the re-save,
 * RESTORE.FIXED_POINT). The expansion is harness/run/fuzz_input.h's, which `vmbsave repro --target
 * roundtrip` replays. A violation aborts with the clause (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmbsave_fuzz_run_input(VMBSAVE_FUZZ_TARGET_ROUNDTRIP, data, size);
    return 0;
}
