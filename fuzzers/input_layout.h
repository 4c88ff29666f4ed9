/* What each fuzz target's input is (corpus/README.md, "What an input is, per target"), for the
 * structure-aware mutator: the libFuzzer hooks (custom_mutator.c) and the AFL++ library
 * (afl_mutator.c) look the target up here, by the name of fuzzers/<target>.c. A target missing
 * from the table has no mutator: FUZZ.MUTATOR.LAYOUT fails until it is added. */
#ifndef VMBSAVE_FUZZERS_INPUT_LAYOUT_H
#define VMBSAVE_FUZZERS_INPUT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most bytes a target reads before its program. */
#define VMBSAVE_FUZZ_MAX_HEADER_BYTES 4u

typedef struct vmbsave_fuzz_layout {
    const char *target;   /* fuzzers/<target>.c, built as fuzz_<target> */
    bool is_program;      /* false: the input is not a program (raw image bytes): the
                             mutator must not touch it; engines mutate it as bytes */
    uint8_t header_bytes; /* bytes before the program, mutated as plain bytes (a canonical
                             state's pick); <= VMBSAVE_FUZZ_MAX_HEADER_BYTES */
} vmbsave_fuzz_layout;

/* The layout of `target`, or NULL if the table has no such target (or target is NULL). */
const vmbsave_fuzz_layout *vmbsave_fuzz_layout_find(const char *target);

/* The table, for listing: entry i for i < vmbsave_fuzz_layout_count(), else NULL. */
size_t vmbsave_fuzz_layout_count(void);
const vmbsave_fuzz_layout *vmbsave_fuzz_layout_at(size_t i);

#endif
