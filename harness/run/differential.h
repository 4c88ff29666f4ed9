/* Differential runs: one program against an implementation and against the reference, both
 * under the oracle (harness/run/runner.h), compared call by call. Where the contract allows only one
 * outcome the oracle already checks it; the comparison finds what it cannot: an implementation
 * that picks another of several allowed outcomes, a value the oracle does not pin, or a gap in
 * the oracle. docs/DIFFERENTIAL.md says what is compared and which clause names a difference.
 *
 * FAULT_ALLOC steps are dropped before both runs: which allocation a fault index lands on
 * depends on how an implementation allocates, which the contract leaves to it (the other fuzz
 * targets check fault handling under the oracle). Packet-callback fault directives stay: the
 * host drives those identically. */
#ifndef VMBSAVE_HARNESS_DIFFERENTIAL_H
#define VMBSAVE_HARNESS_DIFFERENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program/program.h"
#include "run/runner.h"

/* Trace entries kept per run (6.25 MiB each: 200-byte entries). A step makes at most about 90 calls, one chunk
 * per call, on the largest state a program can build (docs/DIFFERENTIAL.md), so 256 steps stay
 * below it; a run that makes more is an ERROR outcome, never compared in part. */
#define VMBSAVE_DIFFERENTIAL_MAX_TRACE 32768u

typedef enum vmbsave_differential_outcome {
    VMBSAVE_DIFFERENTIAL_AGREE = 0,          /* both PASS, every compared field equal */
    VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION,     /* the implementation broke a clause: impl */
    VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION, /* the reference did (a bug of vmbsave's) */
    VMBSAVE_DIFFERENTIAL_DISAGREE,           /* both PASS, but differ: disagreement */
    VMBSAVE_DIFFERENTIAL_ERROR,              /* a run was an ERROR, or a trace overflowed */
} vmbsave_differential_outcome;

/* What was compared, in this order for each call. */
typedef enum vmbsave_differential_field {
    VMBSAVE_DIFF_FIELD_CALL = 0,    /* the call made (its trace text) */
    VMBSAVE_DIFF_FIELD_STATUS,
    VMBSAVE_DIFF_FIELD_FILLED,      /* BytesFilled, ring_read's count */
    VMBSAVE_DIFF_FIELD_REQUIRED,    /* BytesRequired */
    VMBSAVE_DIFF_FIELD_OUTPUT,      /* the bytes written for the caller (size and digest) */
    VMBSAVE_DIFF_FIELD_CALLS,       /* one run made more calls */
    VMBSAVE_DIFF_FIELD_DESCRIPTION, /* a channel's description at the end of the program */
    VMBSAVE_DIFF_FIELD_COUNT
} vmbsave_differential_field;

typedef struct vmbsave_differential_disagreement {
    uint32_t step;       /* step of the input program (FAULT_ALLOC steps counted) */
    uint32_t call;       /* trace index of the call */
    vmbsave_differential_field field;
    char clause[64];     /* the clause of docs/SPEC.md that governs the field for the call */
    char call_text[192]; /* the call's text (the reference's; the implementation's if it has more) */
    char reference[160]; /* the field's value in each run, as text */
    char implementation[160];
} vmbsave_differential_disagreement;

typedef struct vmbsave_differential_result {
    vmbsave_differential_outcome outcome;
    vmbsave_run_result impl;      /* the implementation's run */
    vmbsave_run_result reference; /* the reference's run (not made after an impl violation) */
    /* Violation steps in impl and reference are steps of the input program, as in disagreement. */
    vmbsave_differential_disagreement disagreement; /* DISAGREE */
    uint32_t dropped_steps;       /* FAULT_ALLOC steps removed before the runs */
    char error[256];              /* ERROR: why */
} vmbsave_differential_result;

typedef struct vmbsave_differential vmbsave_differential;

/* Two traces of VMBSAVE_DIFFERENTIAL_MAX_TRACE entries and the filtered program, allocated
 * once: runs allocate nothing. The runners stay the caller's (vmbsave_runner_open_*). Returns
 * NULL with a reason in err. */
vmbsave_differential *vmbsave_differential_new(char *err, size_t err_size);
void vmbsave_differential_free(vmbsave_differential *diff);

/* Runs `program` (FAULT_ALLOC steps dropped) on `impl` with digests, then, unless it broke a
 * clause, on `reference`, and compares the two traces entry by entry (call, status,
 * BytesFilled, BytesRequired, output), their lengths, and the final descriptions. */
void vmbsave_differential_run(vmbsave_differential *diff, vmbsave_runner *reference,
                              vmbsave_runner *impl, const vmbsave_program *program,
                              vmbsave_differential_result *result);

/* The same in three parts, for a caller that runs each side itself (in a child process of its
 * own, tools/vmbsave): _prepare resets `result` and gives the program both sides must run (the
 * input without its FAULT_ALLOC steps; valid until the next call with `diff`); each side runs
 * it with options.digests and a trace of VMBSAVE_DIFFERENTIAL_MAX_TRACE entries into
 * _trace(diff, impl) and stores its run result in result->impl or result->reference (the
 * reference's need not run after an implementation violation: verdict PASS, trace_count 0);
 * _judge maps violation steps back to the input and compares, setting result->outcome and the
 * disagreement exactly as vmbsave_differential_run would. */
const vmbsave_program *vmbsave_differential_prepare(vmbsave_differential *diff,
                                                   const vmbsave_program *program,
                                                   vmbsave_differential_result *result);
vmbsave_trace_entry *vmbsave_differential_trace(vmbsave_differential *diff, bool impl);
void vmbsave_differential_judge(vmbsave_differential *diff, vmbsave_differential_result *result);

/* The clause that governs `field` of `call` (NULL: the end of the program), given the statuses
 * the two runs saw (ignored when the call has none) (docs/DIFFERENTIAL.md, "Clauses"): from the
 * call's descriptor (oracle/ops.h) and the statuses. Never NULL. */
const char *vmbsave_differential_clause(const vmbsave_call *call, vmbsave_differential_field field,
                                        bool has_status, NTSTATUS reference_status,
                                        NTSTATUS impl_status);

const char *vmbsave_differential_field_name(vmbsave_differential_field field);
const char *vmbsave_differential_outcome_name(vmbsave_differential_outcome outcome);

#endif
