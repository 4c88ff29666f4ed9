/* The in-process predicate for the minimiser (program/minimize.h): a candidate still fails
 * when running it violates the same clause. */
#ifndef VMBSAVE_HARNESS_MINIMIZE_CLAUSE_H
#define VMBSAVE_HARNESS_MINIMIZE_CLAUSE_H

#include "program/minimize.h"
#include "run/runner.h"

/* In-process: a candidate still fails when running it with `runner` violates `clause`. For an
 * implementation that does not crash; otherwise run candidates in a child process through
 * vmbsave_minimize() with a predicate of the caller's. */
void vmbsave_minimize_clause(vmbsave_runner *runner, const vmbsave_program *program,
                             const char *clause, uint32_t max_candidates, vmbsave_program *out,
                             vmbsave_minimize_stats *stats);

#endif
