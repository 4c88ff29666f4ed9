/* Fuzz target: any input is a program (harness/program/program.h, byte form) run against the
 * implementation; a contract violation aborts with the clause (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vmbsave_program program; /* 4 KiB: static, not on the fuzz loop's stack */
    vmbsave_program_decode(data, size, &program);
    vmbsave_fuzz_run(&program);
    return 0;
}
