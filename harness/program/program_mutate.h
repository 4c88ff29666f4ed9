/* Structure-aware mutation of programs (harness/program/program.h) for fuzzing engines: one step-level
 * change at a time (insert, delete, swap, duplicate, change a field, set a size to a boundary,
 * add or move a fault directive), and crossover of two programs. The libFuzzer hooks
 * (fuzzers/custom_mutator.c) and the AFL++ custom mutator library (fuzzers/afl_mutator.c) are
 * built on these; docs/PROGRAMS.md ("Mutations") lists the kinds.
 *
 * Pure and deterministic: a result depends only on the arguments and the 64-bit seed (a private
 * generator, no global state), so a test or an engine replays a mutation exactly. Nothing
 * allocates. Every step of a result is normalised (vmbsave_step_normalize), so encoding it and
 * decoding the bytes gives the same program back. */
#ifndef VMBSAVE_HARNESS_PROGRAM_MUTATE_H
#define VMBSAVE_HARNESS_PROGRAM_MUTATE_H

#include <stdint.h>

#include "program/program.h"

typedef enum vmbsave_mutation {
    VMBSAVE_MUTATE_INSERT_RANDOM = 0,  /* a random step of any op */
    VMBSAVE_MUTATE_INSERT_COPY,        /* a copy of one of the program's steps */
    VMBSAVE_MUTATE_INSERT_INTERESTING, /* save_begin, save_continue at a boundary size,
                                          save_end, capture, restore with an edit, cleanup */
    VMBSAVE_MUTATE_INSERT_SAVE_SESSION, /* save_begin, 1-3 save_continue at boundary sizes,
                                           save_end, on one channel */
    VMBSAVE_MUTATE_DELETE,             /* 1-8 consecutive steps; never the last step left */
    VMBSAVE_MUTATE_SWAP,               /* two steps, adjacent half of the time */
    VMBSAVE_MUTATE_DUPLICATE_RUN,      /* 1-8 consecutive steps, copied right after themselves */
    VMBSAVE_MUTATE_CHANGE_FIELD,       /* op, ch, mode, slot, a, b or c of one step */
    VMBSAVE_MUTATE_BOUNDARY,           /* a size to a boundary value (see docs/PROGRAMS.md) */
    VMBSAVE_MUTATE_ADD_FAULT,          /* a fault_alloc, fault_save_packet or
                                          fault_restore_packet directive */
    VMBSAVE_MUTATE_MOVE_FAULT,         /* a fault directive to another position */
    VMBSAVE_MUTATE_KIND_COUNT,
    VMBSAVE_MUTATE_NONE = VMBSAVE_MUTATE_KIND_COUNT /* nothing applies (max_steps 0) */
} vmbsave_mutation;

typedef enum vmbsave_crossover {
    VMBSAVE_CROSSOVER_SPLICE = 0,   /* a prefix of the first program, a suffix of the second */
    VMBSAVE_CROSSOVER_INSERT_RUN,   /* the first program with a run of the second's inserted */
    VMBSAVE_CROSSOVER_KIND_COUNT,
    VMBSAVE_CROSSOVER_NONE = VMBSAVE_CROSSOVER_KIND_COUNT /* a program is empty: a copy */
} vmbsave_crossover;

/* Applies one mutation to `program` in place, keeping it to at most `max_steps` steps
 * (clamped to VMBSAVE_PROGRAM_MAX_STEPS; a longer program is cut to it first). The kind is
 * drawn from `seed`, by weight (deletion balances the kinds that add steps); when it cannot
 * apply (an insert into a full program, a deletion from a
 * one-step program, a move with no fault directive) the next kind in enum order that can is
 * used. Returns the kind applied, or VMBSAVE_MUTATE_NONE (the program then only cut and
 * normalised) when max_steps is 0. A mutation usually changes the program, but may not (a
 * swap of two equal steps). */
vmbsave_mutation vmbsave_program_mutate(vmbsave_program *program, uint32_t max_steps,
                                        uint64_t seed);

/* Writes to `out` a mix of `first` and `second` of at most `max_steps` steps (clamped as
 * above). Unless it returns VMBSAVE_CROSSOVER_NONE, `out` holds at least one step of each
 * parent. NONE: one parent is empty or max_steps < 2; `out` is then `first`, cut to
 * max_steps. `out` may not be `first` or `second`. */
vmbsave_crossover vmbsave_program_crossover(const vmbsave_program *first,
                                            const vmbsave_program *second, uint32_t max_steps,
                                            uint64_t seed, vmbsave_program *out);

/* Stable lower_snake_case names ("insert_random", ..., "none"), for logs and crash names. */
const char *vmbsave_mutation_name(vmbsave_mutation kind);
const char *vmbsave_crossover_name(vmbsave_crossover kind);

#endif
