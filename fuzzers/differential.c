/* Fuzz target: any input is a program (harness/program/program.h, byte form), run against the
 * implementation of VMBSAVE_FUZZ_IMPL and against the reference, both under the oracle, and
 * compared call by call (harness/run/differential.h, docs/DIFFERENTIAL.md). A violation, or two
 * conforming runs that differ, aborts (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vmbsave_program program; /* 4 KiB: static, not on the fuzz loop's stack */
    vmbsave_program_decode(data, size, &program);
    vmbsave_fuzz_differential(&program);
    return 0;
}
