/* Fuzz target: a canonical state (harness/canonical.h, chosen by the first byte) on channel 0,
 * then the program the rest of the input decodes to, then a round trip: capture channel 0,
 * restore the image into a fresh channel 1, capture that (the oracle checks the re-save,
 * RESTORE.FIXED_POINT). A violation aborts with the clause (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "harness/canonical.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Steps appended after the decoded program: CAPTURE, CLEANUP, RESTORE, CAPTURE. */
#define ROUNDTRIP_SUFFIX_STEPS 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vmbsave_program program, body;
    if (size == 0)
        return 0;
    vmbsave_canonical_prefix(vmbsave_fuzz_pick_canonical(data[0]), &program);
    vmbsave_program_decode(data + 1, size - 1, &body);
    /* Room for the suffix: body steps past it are dropped. */
    uint32_t room = VMBSAVE_PROGRAM_MAX_STEPS - ROUNDTRIP_SUFFIX_STEPS - program.count;
    for (uint32_t i = 0; i < body.count && i < room; i++)
        program.steps[program.count++] = body.steps[i];
    const vmbsave_step suffix[ROUNDTRIP_SUFFIX_STEPS] = {
        {.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0},
        {.op = VMBSAVE_OP_CLEANUP, .ch = 1}, /* the body may have used channel 1 */
        {.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0, .mode = VMBSAVE_EDIT_WHOLE},
        {.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1},
    };
    for (uint32_t i = 0; i < ROUNDTRIP_SUFFIX_STEPS; i++)
        program.steps[program.count++] = suffix[i];
    vmbsave_fuzz_run(&program);
    return 0;
}
