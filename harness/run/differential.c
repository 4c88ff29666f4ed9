/* Differential runs (harness/run/differential.h): the implementation, then the reference, each under
 * the oracle with a digest trace, compared entry by entry. The clause table is documented in
 * docs/DIFFERENTIAL.md ("Clauses"); keep the two in step. */
#include "run/differential.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/spec_clauses.h"

struct vmbsave_differential {
    vmbsave_trace_entry *impl_trace;      /* VMBSAVE_DIFFERENTIAL_MAX_TRACE entries */
    vmbsave_trace_entry *reference_trace; /* the same */
    vmbsave_program program;              /* the input without its FAULT_ALLOC steps */
    /* original_step[i]: the input's index of program step i; [count] is the input's count
     * (the runner's final clean-up runs at step == count). */
    uint32_t original_step[VMBSAVE_PROGRAM_MAX_STEPS + 1u];
};

static void set_text(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_text(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

vmbsave_differential *vmbsave_differential_new(char *err, size_t err_size)
{
    vmbsave_differential *d = calloc(1, sizeof *d);
    if (d != NULL) {
        d->impl_trace = calloc(VMBSAVE_DIFFERENTIAL_MAX_TRACE, sizeof *d->impl_trace);
        d->reference_trace = calloc(VMBSAVE_DIFFERENTIAL_MAX_TRACE, sizeof *d->reference_trace);
    }
    if (d == NULL || d->impl_trace == NULL || d->reference_trace == NULL) {
        if (err != NULL && err_size != 0)
            set_text(err, err_size, "out of memory for the differential's traces");
        vmbsave_differential_free(d);
        return NULL;
    }
    return d;
}

void vmbsave_differential_free(vmbsave_differential *d)
{
    if (d == NULL)
        return;
    free(d->impl_trace);
    free(d->reference_trace);
    free(d);
}

const char *vmbsave_differential_field_name(vmbsave_differential_field field)
{
    switch (field) {
    case VMBSAVE_DIFF_FIELD_CALL: return "call";
    case VMBSAVE_DIFF_FIELD_STATUS: return "status";
    case VMBSAVE_DIFF_FIELD_FILLED: return "filled";
    case VMBSAVE_DIFF_FIELD_REQUIRED: return "required";
    case VMBSAVE_DIFF_FIELD_OUTPUT: return "output";
    case VMBSAVE_DIFF_FIELD_CALLS: return "calls";
    case VMBSAVE_DIFF_FIELD_DESCRIPTION: return "description";
    case VMBSAVE_DIFF_FIELD_COUNT: break;
    }
    return "?";
}

const char *vmbsave_differential_outcome_name(vmbsave_differential_outcome outcome)
{
    switch (outcome) {
    case VMBSAVE_DIFFERENTIAL_AGREE: return "AGREE";
    case VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION: return "IMPL_VIOLATION";
    case VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION: return "REFERENCE_VIOLATION";
    case VMBSAVE_DIFFERENTIAL_DISAGREE: return "DISAGREE";
    case VMBSAVE_DIFFERENTIAL_ERROR: return "ERROR";
    }
    return "?";
}

/* ---- The clause table (docs/DIFFERENTIAL.md, "Clauses") ---------------------------------- */

/* Each call's clauses and family are its descriptor's (oracle/ops.h); a call with no clause
 * there (none the runner traces) falls back to this one. */
#define UNKNOWN_CALL_CLAUSE CLAUSE(LIFECYCLE_CHECK_ORDER)

/* Whether a status is a call's progress: SUCCESS, and save_continue's BUFFER_OVERFLOW and a
 * restore's MORE_PROCESSING_REQUIRED. Anything else (BUFFER_TOO_SMALL included) is a refusal. */
static bool progress(vmbsave_call_family family, NTSTATUS st)
{
    return st == STATUS_SUCCESS ||
           (family == VMBSAVE_FAMILY_SAVE_CONTINUE && st == STATUS_BUFFER_OVERFLOW) ||
           (family == VMBSAVE_FAMILY_RESTORE && st == STATUS_MORE_PROCESSING_REQUIRED);
}

/* The clause whose rule gives a restore call this (refusing) status: SPEC.md section 8. */
static const char *restore_status_clause(NTSTATUS st)
{
    switch ((uint32_t)st) {
    case (uint32_t)STATUS_INVALID_PARAMETER: return CLAUSE(RESTORE_PARAMS);
    case (uint32_t)STATUS_INVALID_DEVICE_STATE: return CLAUSE(RESTORE_REQUIRES_FRESH);
    case (uint32_t)STATUS_INVALID_BUFFER_SIZE: return CLAUSE(RESTORE_PARTIAL_CHUNK);
    case (uint32_t)STATUS_DATA_ERROR: return CLAUSE(RESTORE_CORRUPT_CHECKSUM);
    /* Which of the RESTORE.CORRUPT.* conditions, and in which call (RESTORE.CORRUPT.WHEN), the
     * status alone does not say; the oracle names the condition. */
    case (uint32_t)STATUS_FILE_CORRUPT_ERROR: return CLAUSE(RESTORE_CORRUPT_WHEN);
    case (uint32_t)STATUS_UNKNOWN_REVISION: return CLAUSE(RESTORE_VERSION_MAJOR);
    case (uint32_t)STATUS_REQUEST_OUT_OF_SEQUENCE: return CLAUSE(RESTORE_SEQUENCE);
    case (uint32_t)STATUS_REVISION_MISMATCH: return CLAUSE(RESTORE_FOREIGN_CHUNK);
    case (uint32_t)STATUS_NOT_SUPPORTED: return CLAUSE(RESTORE_UNKNOWN_CHUNK);
    case (uint32_t)STATUS_IMPLEMENTATION_LIMIT: return CLAUSE(RESTORE_LIMITS_BEFORE_ALLOC);
    case (uint32_t)STATUS_NOT_FOUND: return CLAUSE(RESTORE_REFERENCES_UNRESOLVED);
    case (uint32_t)STATUS_DUPLICATE_OBJECTID: return CLAUSE(RESTORE_REFERENCES_DUPLICATE);
    case (uint32_t)STATUS_UNSUCCESSFUL: return CLAUSE(PACKET_RESTORE_FAILURE_ATOMIC);
    case (uint32_t)STATUS_INSUFFICIENT_RESOURCES: return CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS);
    default: return CLAUSE(RESTORE_ATOMIC);
    }
}

/* The clause whose rule gives save_continue this status: SPEC.md sections 5 and 9 (the
 * failures a packet callback calls for). */
static const char *continue_status_clause(NTSTATUS st)
{
    switch ((uint32_t)st) {
    case (uint32_t)STATUS_SUCCESS: return CLAUSE(SAVE_CONTINUE_SUCCESS_COMPLETE);
    case (uint32_t)STATUS_BUFFER_OVERFLOW: return CLAUSE(SAVE_CONTINUE_OVERFLOW_PROGRESS);
    case (uint32_t)STATUS_BUFFER_TOO_SMALL: return CLAUSE(SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS);
    case (uint32_t)STATUS_INVALID_PARAMETER: return CLAUSE(SAVE_CONTINUE_PARAMS);
    case (uint32_t)STATUS_INVALID_DEVICE_STATE: return CLAUSE(SAVE_CONTINUE_NO_SESSION);
    case (uint32_t)STATUS_UNSUCCESSFUL: return CLAUSE(PACKET_SAVE_SECOND_CALL_FAILS);
    case (uint32_t)STATUS_IMPLEMENTATION_LIMIT: return CLAUSE(PACKET_SAVE_OVER_LIMIT);
    case (uint32_t)STATUS_INTERNAL_ERROR: return CLAUSE(PACKET_SAVE_ASKS_MORE);
    default: return CLAUSE(SAVE_CONTINUE_STICKY_ERROR);
    }
}

/* The status field: where one run refused and the other did not, the refusing status names the
 * rule in question (it applied, or it did not); where both refused, the reference's does, except
 * that two refusals of a lifecycle call differ only in which check came first. */
static const char *status_clause(const vmbsave_call_desc *c, NTSTATUS ref, NTSTATUS impl)
{
    bool ref_progress = progress(c->family, ref), impl_progress = progress(c->family, impl);
    if (ref_progress && impl_progress) {
        /* Both progressed, differently: how much a call does is the freedom in question. */
        return c->clause;
    }
    if (!ref_progress && !impl_progress && c->family == VMBSAVE_FAMILY_LIFECYCLE)
        return CLAUSE(LIFECYCLE_CHECK_ORDER);
    NTSTATUS st = !ref_progress ? ref : impl;
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return c->family == VMBSAVE_FAMILY_SAVE_BEGIN ? CLAUSE(SAVE_BEGIN_NO_MEMORY)
                                              : CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS);
    switch (c->family) {
    case VMBSAVE_FAMILY_LIFECYCLE:
        return st == STATUS_INVALID_PARAMETER       ? c->params_clause
               : st == STATUS_IMPLEMENTATION_LIMIT ? c->limit_clause
                                                   : c->clause;
    case VMBSAVE_FAMILY_SAVE_BEGIN:
        return st == STATUS_INVALID_DEVICE_STATE ? CLAUSE(SAVE_BEGIN_REFUSED_STATES) : c->clause;
    case VMBSAVE_FAMILY_SAVE_CONTINUE: return continue_status_clause(st);
    case VMBSAVE_FAMILY_RESTORE: return restore_status_clause(st);
    case VMBSAVE_FAMILY_SAVE_END:
    case VMBSAVE_FAMILY_RELEASE:
    case VMBSAVE_FAMILY_DESCRIBE:
    case VMBSAVE_FAMILY_HOST: break;
    }
    return c->clause;
}

const char *vmbsave_differential_clause(const vmbsave_call *call, vmbsave_differential_field field,
                                        bool has_status, NTSTATUS reference_status,
                                        NTSTATUS impl_status)
{
    if (field == VMBSAVE_DIFF_FIELD_DESCRIPTION)
        return CLAUSE(ABI_DESCRIBE_FORMAT);
    const vmbsave_call_desc *c = call != NULL ? vmbsave_call_desc_of(call->op) : NULL;
    if (c == NULL || c->clause == NULL)
        return UNKNOWN_CALL_CLAUSE;
    if (!has_status) {
        reference_status = STATUS_SUCCESS;
        impl_status = STATUS_SUCCESS;
    }
    switch (field) {
    case VMBSAVE_DIFF_FIELD_FILLED:
        /* BytesFilled is how many whole chunks a call wrote; ring_read's count is FIFO's. */
        return c->clause;
    case VMBSAVE_DIFF_FIELD_REQUIRED:
        /* BytesRequired means what the reference's status says it means. */
        return c->family == VMBSAVE_FAMILY_SAVE_CONTINUE
                   ? continue_status_clause(reference_status)
                   : c->clause;
    case VMBSAVE_DIFF_FIELD_OUTPUT:
        return c->family == VMBSAVE_FAMILY_SAVE_CONTINUE ? CLAUSE(SAVE_IMAGE_COMPLETE)
                                                         : c->clause;
    case VMBSAVE_DIFF_FIELD_CALL:
    case VMBSAVE_DIFF_FIELD_STATUS:
    case VMBSAVE_DIFF_FIELD_CALLS:
        return status_clause(c, reference_status, impl_status);
    case VMBSAVE_DIFF_FIELD_DESCRIPTION:
    case VMBSAVE_DIFF_FIELD_COUNT: break;
    }
    return c->clause;
}

/* ---- Values as text ---------------------------------------------------------------------- */

static void status_value(char *dst, size_t cap, bool has_status, NTSTATUS st)
{
    const char *name = vmbsave_status_name(st);
    if (!has_status)
        set_text(dst, cap, "none");
    else if (name != NULL)
        set_text(dst, cap, "%s", name);
    else
        set_text(dst, cap, "0x%08" PRIx32, (uint32_t)st);
}

static void output_value(char *dst, size_t cap, const vmbsave_trace_entry *e)
{
    if (!e->has_output)
        set_text(dst, cap, "none");
    else
        set_text(dst, cap, "%" PRIu32 " bytes (xxh3 %016" PRIx64 ")", e->output_bytes,
                 e->output_digest);
}

static void description_value(char *dst, size_t cap, uint32_t slot,
                              const vmbsave_final_description *d)
{
    if (!d->live)
        set_text(dst, cap, "ch%" PRIu32 " none", slot);
    else if (!d->described)
        set_text(dst, cap, "ch%" PRIu32 " not described", slot);
    else
        set_text(dst, cap, "ch%" PRIu32 " %" PRIu32 " bytes (xxh3 %016" PRIx64 ")", slot, d->bytes,
                 d->digest);
}

/* ---- Comparing --------------------------------------------------------------------------- */

static uint32_t original_step(const vmbsave_differential *d, uint32_t step)
{
    return step <= d->program.count ? d->original_step[step] : step;
}

/* Records the disagreement on `field` of call `index`; `ref`/`impl` may be NULL past a trace's
 * end. Always returns true (so a comparison reads `return disagree(...)`). */
static bool disagree(const vmbsave_differential *d, vmbsave_differential_result *res,
                     uint32_t index, vmbsave_differential_field field,
                     const vmbsave_trace_entry *ref, const vmbsave_trace_entry *impl)
{
    vmbsave_differential_disagreement *g = &res->disagreement;
    const vmbsave_trace_entry *e = ref != NULL ? ref : impl;
    res->outcome = VMBSAVE_DIFFERENTIAL_DISAGREE;
    g->field = field;
    g->call = index;
    g->step = original_step(d, e->step);
    vmbsave_call_text(&e->call, g->call_text, sizeof g->call_text);
    bool has_status = ref != NULL && impl != NULL ? ref->has_status && impl->has_status
                                                  : e->has_status;
    NTSTATUS ref_st = ref != NULL ? ref->status : STATUS_SUCCESS;
    NTSTATUS impl_st = impl != NULL ? impl->status : STATUS_SUCCESS;
    if (field == VMBSAVE_DIFF_FIELD_CALL)
        impl_st = STATUS_SUCCESS; /* another call: the reference's status names the clause */
    set_text(g->clause, sizeof g->clause, "%s",
             vmbsave_differential_clause(&e->call, field, has_status, ref_st, impl_st));
    char *values[2] = {g->reference, g->implementation};
    const vmbsave_trace_entry *entries[2] = {ref, impl};
    const vmbsave_run_result *runs[2] = {&res->reference, &res->impl};
    for (unsigned k = 0; k < 2; k++) {
        const vmbsave_trace_entry *x = entries[k];
        char *dst = values[k];
        size_t cap = sizeof g->reference;
        if (field == VMBSAVE_DIFF_FIELD_CALLS) {
            set_text(dst, cap, "%" PRIu32, runs[k]->calls);
            continue;
        }
        switch (field) {
        case VMBSAVE_DIFF_FIELD_CALL: vmbsave_call_text(&x->call, dst, cap); break;
        case VMBSAVE_DIFF_FIELD_STATUS: status_value(dst, cap, x->has_status, x->status); break;
        case VMBSAVE_DIFF_FIELD_FILLED:
            if (x->has_counts)
                set_text(dst, cap, "%" PRIu32, x->filled);
            else
                set_text(dst, cap, "none");
            break;
        case VMBSAVE_DIFF_FIELD_REQUIRED:
            if (x->has_counts)
                set_text(dst, cap, "%" PRIu32, x->required);
            else
                set_text(dst, cap, "none");
            break;
        case VMBSAVE_DIFF_FIELD_OUTPUT: output_value(dst, cap, x); break;
        case VMBSAVE_DIFF_FIELD_CALLS:
        case VMBSAVE_DIFF_FIELD_DESCRIPTION:
        case VMBSAVE_DIFF_FIELD_COUNT: break;
        }
    }
    return true;
}

/* The first field in which two entries of the same index differ; false if none. */
static bool compare_entry(const vmbsave_differential *d, vmbsave_differential_result *res,
                          uint32_t i, const vmbsave_trace_entry *ref,
                          const vmbsave_trace_entry *impl)
{
    if (!vmbsave_call_equal(&ref->call, &impl->call))
        return disagree(d, res, i, VMBSAVE_DIFF_FIELD_CALL, ref, impl);
    if (ref->has_status != impl->has_status ||
        (ref->has_status && ref->status != impl->status))
        return disagree(d, res, i, VMBSAVE_DIFF_FIELD_STATUS, ref, impl);
    if (ref->has_counts != impl->has_counts || (ref->has_counts && ref->filled != impl->filled))
        return disagree(d, res, i, VMBSAVE_DIFF_FIELD_FILLED, ref, impl);
    if (ref->has_counts && ref->required != impl->required)
        return disagree(d, res, i, VMBSAVE_DIFF_FIELD_REQUIRED, ref, impl);
    if (ref->has_output != impl->has_output ||
        (ref->has_output && (ref->output_bytes != impl->output_bytes ||
                              ref->output_digest != impl->output_digest)))
        return disagree(d, res, i, VMBSAVE_DIFF_FIELD_OUTPUT, ref, impl);
    return false;
}

/* Live in both or neither, and the same text where both describe: an implementation without
 * descriptions (VMBSAVE_CAP_DESCRIBE is optional) is not a difference. */
static bool same_description(const vmbsave_final_description *x,
                             const vmbsave_final_description *y)
{
    return x->live == y->live &&
           (!x->described || !y->described || (x->bytes == y->bytes && x->digest == y->digest));
}

static void compare_runs(const vmbsave_differential *d, vmbsave_differential_result *res)
{
    const vmbsave_run_result *ref = &res->reference, *impl = &res->impl;
    uint32_t common = ref->trace_count < impl->trace_count ? ref->trace_count : impl->trace_count;
    for (uint32_t i = 0; i < common; i++) {
        if (compare_entry(d, res, i, &d->reference_trace[i], &d->impl_trace[i]))
            return;
    }
    if (ref->trace_count != impl->trace_count) {
        bool ref_longer = ref->trace_count > impl->trace_count;
        disagree(d, res, common, VMBSAVE_DIFF_FIELD_CALLS,
                 ref_longer ? &d->reference_trace[common] : NULL,
                 ref_longer ? NULL : &d->impl_trace[common]);
        return;
    }
    for (uint32_t slot = 0; slot < VMBSAVE_PROGRAM_CHANNELS; slot++) {
        const vmbsave_final_description *x = &ref->descriptions[slot];
        const vmbsave_final_description *y = &impl->descriptions[slot];
        if (same_description(x, y))
            continue;
        vmbsave_differential_disagreement *g = &res->disagreement;
        res->outcome = VMBSAVE_DIFFERENTIAL_DISAGREE;
        g->field = VMBSAVE_DIFF_FIELD_DESCRIPTION;
        g->call = common;
        g->step = original_step(d, d->program.count);
        set_text(g->call_text, sizeof g->call_text, "end of program, before the clean-up");
        set_text(g->clause, sizeof g->clause, "%s",
                 vmbsave_differential_clause(NULL, VMBSAVE_DIFF_FIELD_DESCRIPTION, false, 0, 0));
        description_value(g->reference, sizeof g->reference, slot, x);
        description_value(g->implementation, sizeof g->implementation, slot, y);
        return;
    }
    res->outcome = VMBSAVE_DIFFERENTIAL_AGREE;
}

/* The input without FAULT_ALLOC steps, and where each remaining step came from. */
static void filter_program(vmbsave_differential *d, const vmbsave_program *in,
                           vmbsave_differential_result *res)
{
    uint32_t count = in->count < VMBSAVE_PROGRAM_MAX_STEPS ? in->count : VMBSAVE_PROGRAM_MAX_STEPS;
    d->program.count = 0;
    for (uint32_t i = 0; i < count; i++) {
        vmbsave_step s = in->steps[i];
        vmbsave_step_normalize(&s); /* the op the runner would see */
        if (s.op == VMBSAVE_OP_FAULT_ALLOC) {
            res->dropped_steps++;
            continue;
        }
        d->original_step[d->program.count] = i;
        d->program.steps[d->program.count++] = s;
    }
    d->original_step[d->program.count] = count;
}

/* A run's verdict on the filtered program (vmbsave_differential_judge maps its steps back). */
static void run_one(vmbsave_differential *d, vmbsave_runner *runner, vmbsave_trace_entry *trace,
                    vmbsave_run_result *out)
{
    vmbsave_run_options options = {
        .trace = trace, .trace_cap = VMBSAVE_DIFFERENTIAL_MAX_TRACE, .digests = true};
    vmbsave_runner_run(runner, &d->program, &options, out);
}

/* ERROR if the run could not be compared: its own ERROR, or a trace that did not hold it. */
static bool run_error(vmbsave_differential_result *res, const vmbsave_run_result *run,
                      const char *which)
{
    if (run->verdict == VMBSAVE_VERDICT_ERROR) {
        res->outcome = VMBSAVE_DIFFERENTIAL_ERROR;
        set_text(res->error, sizeof res->error, "%s run: %s", which, run->error);
        return true;
    }
    if (run->calls > run->trace_count) {
        res->outcome = VMBSAVE_DIFFERENTIAL_ERROR;
        set_text(res->error, sizeof res->error,
                 "%s run: %" PRIu32 " calls, more than the %u trace entries kept", which,
                 run->calls, VMBSAVE_DIFFERENTIAL_MAX_TRACE);
        return true;
    }
    return false;
}

const vmbsave_program *vmbsave_differential_prepare(vmbsave_differential *d,
                                                   const vmbsave_program *program,
                                                   vmbsave_differential_result *res)
{
    memset(res, 0, sizeof *res);
    if (program == NULL) {
        d->program.count = 0;
        d->original_step[0] = 0;
        return &d->program;
    }
    filter_program(d, program, res);
    return &d->program;
}

vmbsave_trace_entry *vmbsave_differential_trace(vmbsave_differential *d, bool impl)
{
    return impl ? d->impl_trace : d->reference_trace;
}

void vmbsave_differential_judge(vmbsave_differential *d, vmbsave_differential_result *res)
{
    if (res->impl.verdict == VMBSAVE_VERDICT_VIOLATION) {
        res->impl.violation.step = original_step(d, res->impl.violation.step);
        res->outcome = VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION;
        return;
    }
    if (run_error(res, &res->impl, "implementation"))
        return;
    if (res->reference.verdict == VMBSAVE_VERDICT_VIOLATION) {
        res->reference.violation.step = original_step(d, res->reference.violation.step);
        res->outcome = VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION;
        return;
    }
    if (run_error(res, &res->reference, "reference"))
        return;
    compare_runs(d, res);
}

void vmbsave_differential_run(vmbsave_differential *d, vmbsave_runner *reference,
                              vmbsave_runner *impl, const vmbsave_program *program,
                              vmbsave_differential_result *res)
{
    if (program == NULL) {
        memset(res, 0, sizeof *res);
        res->outcome = VMBSAVE_DIFFERENTIAL_ERROR;
        set_text(res->error, sizeof res->error, "no program");
        return;
    }
    vmbsave_differential_prepare(d, program, res);
    run_one(d, impl, d->impl_trace, &res->impl);
    /* The reference runs only if the implementation's run can be compared. */
    if (res->impl.verdict != VMBSAVE_VERDICT_VIOLATION &&
        !(res->impl.verdict == VMBSAVE_VERDICT_ERROR || res->impl.calls > res->impl.trace_count))
        run_one(d, reference, d->reference_trace, &res->reference);
    vmbsave_differential_judge(d, res);
}
