/* Structure-aware mutation of whole fuzz inputs: the target's header bytes (input_layout.h),
 * then a program in byte form. Shared by the libFuzzer hooks (custom_mutator.c) and the AFL++
 * custom mutator library (afl_mutator.c), and tested directly (tests/selftest/test_program_mutate.c).
 *
 * An input is decoded (harness/program/program.h), mutated step by step (harness/program/program_mutate.h) and
 * encoded again, so every result is a whole number of normalised steps after the header and
 * decodes to exactly the program that was written. Header bytes are kept, except that now and
 * then one is replaced by a random byte (the engines' byte-level mutators change them too).
 * Deterministic in the seed; no allocation (the caller passes the scratch space). */
#ifndef VMBSAVE_FUZZERS_INPUT_MUTATE_H
#define VMBSAVE_FUZZERS_INPUT_MUTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program/program.h"
#include "program/program_mutate.h"
#include "input_layout.h"

/* Most program mutations stacked in one call. */
#define VMBSAVE_FUZZ_MAX_STACKED 8u

/* About 12 KiB: callers keep it static or in their mutator state, off the stack. */
typedef struct vmbsave_fuzz_scratch {
    vmbsave_program first, second, out;
} vmbsave_fuzz_scratch;

/* What one call did, for crash names (AFL++'s afl_custom_describe) and tests. */
typedef struct vmbsave_fuzz_mutation_log {
    bool header_changed;         /* a header byte replaced; crossover: the second's header */
    vmbsave_crossover crossover; /* VMBSAVE_CROSSOVER_NONE: no crossover */
    uint32_t count;              /* entries of kinds[] */
    vmbsave_mutation kinds[VMBSAVE_FUZZ_MAX_STACKED];
} vmbsave_fuzz_mutation_log;

/* Mutates the input data[0, size) in place, in a buffer of max_size bytes: `mutations` program
 * mutations (clamped to 1..VMBSAVE_FUZZ_MAX_STACKED), stacked. A header shorter than the
 * layout's (a short input) is completed with random bytes. Returns the new size, at most
 * max_size, or 0 (data untouched) if `layout` is not a program layout or max_size cannot hold
 * the header and one step. `log` may be NULL. */
size_t vmbsave_fuzz_mutate_input(const vmbsave_fuzz_layout *layout, uint8_t *data, size_t size,
                                 size_t max_size, uint64_t seed, uint32_t mutations,
                                 vmbsave_fuzz_scratch *scratch, vmbsave_fuzz_mutation_log *log);

/* Writes to out[0, max_out) a crossover of the programs of two inputs (vmbsave_program_crossover),
 * after the header of the first (one time in four, of the second). Returns its size, or 0
 * (nothing written) if either input has no step, `layout` is not a program layout, or max_out
 * cannot hold the header and two steps. `log` may be NULL. */
size_t vmbsave_fuzz_crossover_input(const vmbsave_fuzz_layout *layout, const uint8_t *first,
                                    size_t first_size, const uint8_t *second, size_t second_size,
                                    uint8_t *out, size_t max_out, uint64_t seed,
                                    vmbsave_fuzz_scratch *scratch, vmbsave_fuzz_mutation_log *log);

#endif
