/* fuzz_empty, the baseline of bench/fuzz_bench.sh: a fuzz target that ignores its input. It is
 * built like fuzzers/<target>.c (bench/CMakeLists.txt) and keeps a reference to the harness's
 * entry point, so the linker pulls in the same instrumented objects as the real targets: an
 * engine resets and scans the whole coverage map after every execution, so a baseline without
 * the harness linked in would have a smaller map and look faster than the engine really is on
 * these binaries. Target exec/s over this one's is then the cost of running the harness. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Never called. External and volatile, so neither the compiler nor the linker drops it (nor
 * fuzz_common.o and everything it references). */
extern void (*volatile vmbsave_bench_keep_harness)(const vmbsave_program *program);
void (*volatile vmbsave_bench_keep_harness)(const vmbsave_program *program) = vmbsave_fuzz_run;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
