#include "run/minimize_clause.h"

#include <string.h>

typedef struct clause_predicate {
    vmbsave_runner *runner;
    const char *clause;
} clause_predicate;

static bool same_clause(void *context, const vmbsave_program *candidate)
{
    const clause_predicate *p = context;
    vmbsave_run_result result;
    vmbsave_runner_run(p->runner, candidate, NULL, &result);
    return result.verdict == VMBSAVE_VERDICT_VIOLATION &&
           strcmp(result.violation.clause, p->clause) == 0;
}

void vmbsave_minimize_clause(vmbsave_runner *runner, const vmbsave_program *program,
                             const char *clause, uint32_t max_candidates, vmbsave_program *out,
                             vmbsave_minimize_stats *stats)
{
    clause_predicate p = {runner, clause};
    vmbsave_minimize(program, same_clause, &p, max_candidates, out, stats);
}
