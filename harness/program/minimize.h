/* Shrinking a failing program while it keeps failing the same way: delta debugging over its
 * steps (chunks, then one at a time), fault steps dropped, then every field of every step
 * pushed toward 0 (numbers to 0, 1, half, one less; modes and slots toward 0). Each candidate
 * is judged by a predicate, so the caller decides how to run it (in-process with a runner, or
 * in a forked child when the implementation may crash). No I/O. */
#ifndef VMBSAVE_HARNESS_MINIMIZE_H
#define VMBSAVE_HARNESS_MINIMIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "program/program.h"

/* Candidates one minimisation tries at most, unless the caller gives a lower bound. A
 * 256-step program needs far fewer; the bound stops a slow implementation from making a
 * minimisation endless. */
#define VMBSAVE_MINIMIZE_MAX_CANDIDATES 20000u

/* True when `candidate` still fails the way the original did. */
typedef bool (*vmbsave_minimize_predicate)(void *context, const vmbsave_program *candidate);

typedef struct vmbsave_minimize_stats {
    uint32_t candidates; /* predicate calls */
    uint32_t accepted;   /* candidates that still failed and were kept */
    bool budget_exhausted;
} vmbsave_minimize_stats;

/* Shrinks `program` (which must satisfy `still_fails`; not re-checked) into `out`. The result
 * is normalised, has no more steps than `program`, satisfies the predicate (or is `program`
 * itself, normalised, if nothing smaller did), and is a fixed point of every reduction tried
 * unless the budget ran out. max_candidates 0 means VMBSAVE_MINIMIZE_MAX_CANDIDATES. `out`
 * may be `program`. stats may be NULL. */
void vmbsave_minimize(const vmbsave_program *program, vmbsave_minimize_predicate still_fails,
                      void *context, uint32_t max_candidates, vmbsave_program *out,
                      vmbsave_minimize_stats *stats);

#endif
