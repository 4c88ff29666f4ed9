/* One-time runner set-up and the abort-on-violation rule shared by the fuzz targets. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>

#include "harness/canonical.h"
#include "harness/runner.h"
#include "reference.h"

static vmbsave_runner *open_runner(void)
{
    char err[256] = "";
    const char *path = getenv(VMBSAVE_FUZZ_IMPL_ENV);
    vmbsave_runner *runner = (path != NULL && path[0] != '\0')
        ? vmbsave_runner_open_path(path, err, sizeof(err))
        : vmbsave_runner_open_entry(vmbsave_reference_get_interface, err, sizeof(err));
    if (runner == NULL) {
        fprintf(stderr, "vmbsave fuzz: cannot open the implementation %s: %s\n",
                (path != NULL && path[0] != '\0') ? path : "(built-in reference)", err);
        exit(2);
    }
    return runner;
}

void vmbsave_fuzz_run(const vmbsave_program *program)
{
    /* Opened once and never closed: engines run millions of inputs in one process. */
    static vmbsave_runner *runner;
    static vmbsave_run_result result; /* ~1 KiB; static keeps the fuzz loop off the stack */
    if (runner == NULL)
        runner = open_runner();
    vmbsave_runner_run(runner, program, NULL, &result);
    if (result.verdict != VMBSAVE_VERDICT_VIOLATION)
        return;
    /* First line fixed-form, so engines deduplicate crashes by clause and step. */
    const vmbsave_violation *v = &result.violation;
    fprintf(stderr, "vmbsave: %s at step %u: expected %s, observed %s\n", v->clause,
            (unsigned)v->step, v->expected, v->observed);
    fprintf(stderr, "vmbsave: implementation %s %s, check %s, call %u\n",
            vmbsave_runner_impl_name(runner), vmbsave_runner_impl_version(runner),
            vmbsave_check_kind_name(v->kind), (unsigned)v->call);
    abort();
}

uint8_t vmbsave_fuzz_pick_canonical(uint8_t byte)
{
    return (uint8_t)(byte % VMBSAVE_CANONICAL_COUNT);
}
