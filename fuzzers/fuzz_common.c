/* One-time runner set-up and the abort-on-violation rule shared by the fuzz targets. */
#include "fuzz_common.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "run/differential.h"
#include "run/runner.h"
#include "reference.h"

/* Engines call this once before the first input. The plug-in is loaded here, before AFL++'s
 * fork server starts (its runtime aborts on an instrumented library dlopen()ed later), so
 * every child shares it; the runners' own dlopen() of the same path takes this copy. A library
 * that cannot be loaded is reported by open_runner, with the loader's reason. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *path = getenv(VMBSAVE_FUZZ_IMPL_ENV);
    if (path != NULL && path[0] != '\0')
        (void)dlopen(path, RTLD_NOW | RTLD_LOCAL); /* kept open for the process's life */
    return 0;
}

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

/* The fixed-form first line engines deduplicate by (clause and step), then the implementation,
 * then abort. `prefix` is "" for the implementation under test, "reference-" for the reference
 * of the differential target. */
static void abort_on_violation(const char *prefix, const vmbsave_runner *runner,
                               const vmbsave_violation *v)
{
    fprintf(stderr, "vmbsave: %s%s at step %u: expected %s, observed %s\n", prefix, v->clause,
            (unsigned)v->step, v->expected, v->observed);
    fprintf(stderr, "vmbsave: implementation %s %s, check %s, call %u\n",
            vmbsave_runner_impl_name(runner), vmbsave_runner_impl_version(runner),
            vmbsave_check_kind_name(v->kind), (unsigned)v->call);
    abort();
}

void vmbsave_fuzz_run(const vmbsave_program *program)
{
    vmbsave_fuzz_run_with(program, NULL);
}

void vmbsave_fuzz_run_with(const vmbsave_program *program, const vmbsave_run_options *options)
{
    /* Opened once and never closed: engines run millions of inputs in one process. */
    static vmbsave_runner *runner;
    static vmbsave_run_result result; /* ~1 KiB; static keeps the fuzz loop off the stack */
    if (runner == NULL)
        runner = open_runner();
    vmbsave_runner_run(runner, program, options, &result);
    if (result.verdict == VMBSAVE_VERDICT_VIOLATION)
        abort_on_violation("", runner, &result.violation);
}

void vmbsave_fuzz_run_input(vmbsave_fuzz_target target, const uint8_t *data, size_t size)
{
    /* 4 MiB (restore_raw's image): static, so a run allocates nothing. */
    static vmbsave_fuzz_input input;
    if (vmbsave_fuzz_input_build(target, data, size, &input, NULL, 0))
        vmbsave_fuzz_run_with(&input.program, &input.options);
}

void vmbsave_fuzz_differential(const vmbsave_program *program)
{
    /* Opened once and never closed, as in vmbsave_fuzz_run. The reference is always a runner
     * of its own, so without VMBSAVE_FUZZ_IMPL two independent references are compared. */
    static vmbsave_runner *impl, *reference;
    static vmbsave_differential *diff;
    static vmbsave_differential_result result; /* ~3 KiB: off the fuzz loop's stack */
    if (diff == NULL) {
        char err[256] = "";
        impl = open_runner();
        reference = vmbsave_runner_open_entry(vmbsave_reference_get_interface, err, sizeof(err));
        if (reference == NULL) {
            fprintf(stderr, "vmbsave fuzz: cannot open the reference: %s\n", err);
            exit(2);
        }
        diff = vmbsave_differential_new(err, sizeof(err));
        if (diff == NULL) {
            fprintf(stderr, "vmbsave fuzz: %s\n", err);
            exit(2);
        }
    }
    vmbsave_differential_run(diff, reference, impl, program, &result);
    switch (result.outcome) {
    case VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION:
        abort_on_violation("", impl, &result.impl.violation);
        break;
    case VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION:
        abort_on_violation("reference-", reference, &result.reference.violation);
        break;
    case VMBSAVE_DIFFERENTIAL_DISAGREE: {
        const vmbsave_differential_disagreement *g = &result.disagreement;
        const char *field = vmbsave_differential_field_name(g->field);
        fprintf(stderr,
                "vmbsave: impl-vs-reference-%s at step %u, call %u (%s): reference %s=%s, "
                "implementation %s=%s\n",
                g->clause, (unsigned)g->step, (unsigned)g->call, g->call_text, field,
                g->reference, field, g->implementation);
        fprintf(stderr,
                "vmbsave: implementation %s %s, reference %s %s, both pass the oracle; "
                "%u fault_alloc step(s) dropped\n",
                vmbsave_runner_impl_name(impl), vmbsave_runner_impl_version(impl),
                vmbsave_runner_impl_name(reference), vmbsave_runner_impl_version(reference),
                (unsigned)result.dropped_steps);
        abort();
    }
    case VMBSAVE_DIFFERENTIAL_AGREE:
    case VMBSAVE_DIFFERENTIAL_ERROR: break;
    }
}
