/* vmbsave run/repro --target differential: both sides, each in its own child, compared
 * (diff_replay.h). The verdict words follow docs/DIFFERENTIAL.md: a violation of either side
 * is the oracle's; a difference between two runs the oracle passed is INFO. */
#include "diff_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The side's trace, as the child relays it. */
static void store_entry(void *context, uint32_t index, const vmbsave_trace_entry *entry)
{
    vmbsave_trace_entry *trace = context;
    if (index < VMBSAVE_DIFFERENTIAL_MAX_TRACE)
        trace[index] = *entry;
}

/* One side in a child: a finished run goes into *result; false (with out's end) otherwise. */
static bool run_side(const char *plugin, const vmbsave_program *program, unsigned timeout,
                     vmbsave_trace_entry *trace, child_outcome *out, vmbsave_run_result *result)
{
    vmbsave_run_options options;
    memset(&options, 0, sizeof(options));
    options.digests = true;
    child_listener listener = {trace, store_entry, NULL, NULL, NULL};
    child_run(plugin, program, &options, timeout, &listener, out);
    if (out->status != CHILD_FINISHED)
        return false;
    *result = out->result;
    return true;
}

void diff_replay_run(const char *plugin, const vmbsave_program *program, unsigned timeout_seconds,
                     diff_replay *out)
{
    memset(out, 0, sizeof(*out));
    char err[256];
    vmbsave_differential *d = vmbsave_differential_new(err, sizeof(err));
    if (d == NULL) {
        out->exit = CLI_EXIT_USAGE;
        snprintf(out->line, sizeof(out->line), "error: %s", err);
        return;
    }
    vmbsave_differential_result *res = &out->result;
    const vmbsave_program *filtered = vmbsave_differential_prepare(d, program, res);
    char text[900];
    if (!run_side(plugin, filtered, timeout_seconds, vmbsave_differential_trace(d, true), &out->impl,
                  &res->impl)) {
        child_outcome_text(&out->impl, text, sizeof(text));
        out->exit = child_outcome_exit(&out->impl);
        snprintf(out->line, sizeof(out->line), "implementation: %s", text);
        vmbsave_differential_free(d);
        return;
    }
    if (res->impl.verdict != VMBSAVE_VERDICT_VIOLATION) {
        out->reference_ran = true;
        if (!run_side(NULL, filtered, timeout_seconds, vmbsave_differential_trace(d, false),
                      &out->reference, &res->reference)) {
            child_outcome_text(&out->reference, text, sizeof(text));
            out->exit = CLI_EXIT_USAGE;
            snprintf(out->line, sizeof(out->line), "error: the reference did not finish (%s)", text);
            vmbsave_differential_free(d);
            return;
        }
    }
    vmbsave_differential_judge(d, res);
    out->compared = true;
    const vmbsave_differential_disagreement *g = &res->disagreement;
    switch (res->outcome) {
    case VMBSAVE_DIFFERENTIAL_AGREE:
        out->exit = CLI_EXIT_CLEAN;
        snprintf(out->line, sizeof(out->line), "pass: agrees with the reference (%u calls compared)",
                 res->impl.trace_count);
        break;
    case VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION:
        out->exit = CLI_EXIT_FINDING;
        snprintf(out->line, sizeof(out->line), "violation %s at step %u: expected %s, observed %s",
                 res->impl.violation.clause, res->impl.violation.step, res->impl.violation.expected,
                 res->impl.violation.observed);
        break;
    case VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION:
        out->exit = CLI_EXIT_USAGE;
        snprintf(out->line, sizeof(out->line),
                 "error: the reference broke %s at step %u (a bug of vmbsave's): expected %s, observed %s",
                 res->reference.violation.clause, res->reference.violation.step,
                 res->reference.violation.expected, res->reference.violation.observed);
        break;
    case VMBSAVE_DIFFERENTIAL_DISAGREE:
        /* Both runs passed the oracle: the contract allows either answer. */
        out->exit = CLI_EXIT_CLEAN;
        snprintf(out->line, sizeof(out->line),
                 "INFO: differs from the reference where the contract allows it (%s): step %u, call #%u "
                 "%s: %s: reference %s, implementation %s",
                 g->clause, g->step, g->call, g->call_text, vmbsave_differential_field_name(g->field),
                 g->reference, g->implementation);
        break;
    case VMBSAVE_DIFFERENTIAL_ERROR:
        out->exit = CLI_EXIT_USAGE;
        snprintf(out->line, sizeof(out->line), "error: %s", res->error);
        break;
    }
    vmbsave_differential_free(d);
}
