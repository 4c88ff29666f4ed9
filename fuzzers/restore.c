/* Fuzz target over edited images: a canonical state (harness/canonical.h, chosen by the first
 * byte) on channel 0, captured into image slot 0; then every step the rest of the input decodes
 * to becomes a RESTORE of that image, edited by the step's mode and a/b/c, into a fresh
 * channel 1 or 2 (the step's channel picks which; cleaned up first). A violation aborts with
 * the clause (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "harness/canonical.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vmbsave_program program, body;
    if (size == 0)
        return 0;
    vmbsave_canonical_prefix(vmbsave_fuzz_pick_canonical(data[0]), &program);
    program.steps[program.count++] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0};
    vmbsave_program_decode(data + 1, size - 1, &body);
    /* Two steps (CLEANUP, RESTORE) per body step, while they fit. */
    for (uint32_t i = 0; i < body.count && program.count + 2u <= VMBSAVE_PROGRAM_MAX_STEPS; i++) {
        const vmbsave_step *s = &body.steps[i];
        uint8_t ch = (uint8_t)(1u + s->ch % 2u);
        program.steps[program.count++] = (vmbsave_step){.op = VMBSAVE_OP_CLEANUP, .ch = ch};
        vmbsave_step restore = {.op = VMBSAVE_OP_RESTORE, .ch = ch, .slot = 0,
                                .mode = s->mode, .a = s->a, .b = s->b, .c = s->c};
        vmbsave_step_normalize(&restore); /* the step's fields into RESTORE's ranges */
        program.steps[program.count++] = restore;
    }
    vmbsave_fuzz_run(&program);
    return 0;
}
