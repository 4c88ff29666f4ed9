/* libFuzzer hooks for the structure-aware mutator (input_mutate.h): linked into each
 * fuzz_<target> whose input is a program when the engine is libFuzzer and the CMake option
 * VMBSAVE_FUZZ_MUTATOR is ON (fuzzers/CMakeLists.txt). VMBSAVE_FUZZ_TARGET_NAME, a compile
 * definition, names the target; its layout comes from input_layout.c.
 *
 * On (the default): LLVMFuzzerCustomMutator hands one call in BYTE_LEVEL_ONE_IN to
 * LLVMFuzzerMutate, libFuzzer's own byte-level mutators, and does one step-level mutation
 * otherwise (libFuzzer stacks up to -mutate_depth mutations itself). Byte-level mutation stays
 * in the mix because it does what the step mutator cannot: values guided by the comparisons
 * the code makes (-use_cmp), dictionary words, and bytes of a step changed without regard to
 * its op; any byte string still decodes. One in four keeps it a minority, since a byte-level
 * insertion or erasure shifts every later step. LLVMFuzzerCustomCrossOver mixes two programs
 * step-wise.
 *
 * Off: VMBSAVE_FUZZ_MUTATOR=off (or 0) in the environment. libFuzzer has no flag that turns a
 * linked custom mutator off (its mutator list depends only on whether these symbols exist), so
 * the switch is here: LLVMFuzzerCustomMutator becomes exactly LLVMFuzzerMutate and
 * LLVMFuzzerCustomCrossOver returns 0, which libFuzzer treats as a failed mutation and retries
 * with another pick; every mutation is then one of libFuzzer's default mutations, byte-level
 * crossover included. Caveat: it is not bit-for-bit a build without the hooks. While the hooks
 * exist, libFuzzer turns -len_control off by default (corpus/<target>.options sets it back to
 * 100, its usual default), its random stream differs (so -seed=N runs differ), and "MS:" lines
 * name "Custom". Unset, "on" or "1": on. Any other value: a one-line error and exit status 2. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_layout.h"
#include "input_mutate.h"

#ifndef VMBSAVE_FUZZ_TARGET_NAME
#error "VMBSAVE_FUZZ_TARGET_NAME (the fuzz target this is linked into) must be defined"
#endif

#define MUTATOR_SWITCH_ENV "VMBSAVE_FUZZ_MUTATOR"
#define BYTE_LEVEL_ONE_IN 4u

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
                                 size_t size2, uint8_t *out, size_t max_out_size,
                                 unsigned int seed);

/* The target's layout when the step mutator is on for it, NULL when the hooks step aside;
 * decided once per process. */
static const vmbsave_fuzz_layout *active_layout(void)
{
    static int decided;
    static const vmbsave_fuzz_layout *layout;
    if (decided)
        return layout;
    decided = 1;
    const char *value = getenv(MUTATOR_SWITCH_ENV);
    if (value != NULL && (strcmp(value, "off") == 0 || strcmp(value, "0") == 0))
        return layout = NULL;
    if (value != NULL && value[0] != '\0' && strcmp(value, "on") != 0 && strcmp(value, "1") != 0) {
        fprintf(stderr, "vmbsave fuzz: %s=%s: expected on, off, 1 or 0\n", MUTATOR_SWITCH_ENV,
                value);
        exit(2);
    }
    layout = vmbsave_fuzz_layout_find(VMBSAVE_FUZZ_TARGET_NAME);
    if (layout == NULL) {
        fprintf(stderr, "vmbsave fuzz: no input layout for target '%s' in fuzzers/input_layout.c\n",
                VMBSAVE_FUZZ_TARGET_NAME);
        exit(2);
    }
    if (!layout->is_program)
        layout = NULL; /* not a program: libFuzzer's byte-level mutators only */
    return layout;
}

static vmbsave_fuzz_scratch scratch; /* 12 KiB: static, off the fuzz loop's stack */

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    const vmbsave_fuzz_layout *layout = active_layout();
    if (layout == NULL || seed % BYTE_LEVEL_ONE_IN == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t n = vmbsave_fuzz_mutate_input(layout, data, size, max_size, seed, 1, &scratch, NULL);
    return n > 0 ? n : LLVMFuzzerMutate(data, size, max_size); /* max_size below one step */
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
                                 size_t size2, uint8_t *out, size_t max_out_size,
                                 unsigned int seed)
{
    const vmbsave_fuzz_layout *layout = active_layout();
    if (layout == NULL)
        return 0;
    return vmbsave_fuzz_crossover_input(layout, data1, size1, data2, size2, out, max_out_size,
                                        seed, &scratch, NULL);
}
