/* Bounded exhaustive checks over the runner (harness/run/runner.h): from each canonical state
 * (harness/program/canonical.h),
 *   - every save-protocol call sequence up to a length bound,
 *   - a restore of the state's image with every grouping of chunks into calls,
 *   - allocation-fault sweeps over a whole save and a whole restore (the k-th allocation
 *     failed once, and every allocation from the k-th on, for every k until one injects
 *     nothing),
 *   - every scripted save-packet driver mode, and a restore-packet failure at every packet,
 *   - every interleaving of restores into two channels and a save session of a third.
 * Every program must PASS against the oracle. A check stops at the first program that does not
 * and hands it back, with the runner's result, for printing. A check that ran no program, or a
 * sweep that injected no fault, fails: it proved nothing. */
#ifndef VMBSAVE_HARNESS_EXHAUSTIVE_H
#define VMBSAVE_HARNESS_EXHAUSTIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "program/canonical.h"
#include "program/program.h"
#include "run/runner.h"

/* The save-protocol alphabet: SAVE_BEGIN, SAVE_END and SAVE_CONTINUE with the sizes zero-null,
 * one, required-1, required, max-chunk and large. */
#define VMBSAVE_EXHAUSTIVE_LETTERS 8u
/* Sequence length bounds. The default keeps the whole set (every canonical state) near a
 * minute under ASan on two cores (docs/SPEC.md, appendix); VMBSAVE_EXHAUSTIVE_LENGTH raises it
 * for local runs, up to the maximum (8^7 = 2.1M sequences per state already takes hours). */
#define VMBSAVE_EXHAUSTIVE_DEFAULT_LENGTH 4u
#define VMBSAVE_EXHAUSTIVE_MAX_LENGTH 7u
#define VMBSAVE_EXHAUSTIVE_LENGTH_ENV "VMBSAVE_EXHAUSTIVE_LENGTH"

/* Trace entries kept per run: enough for every canonical state's prefix and the steps a check
 * adds (a run whose trace would not fit is reported as a harness error, never guessed at). */
#define VMBSAVE_EXHAUSTIVE_TRACE_CAP 2048u

typedef enum vmbsave_exhaustive_status {
    VMBSAVE_EXHAUSTIVE_OK = 0,     /* every program passed and the check proved something */
    VMBSAVE_EXHAUSTIVE_FAILED = 1, /* a program did not PASS: see program and result */
    VMBSAVE_EXHAUSTIVE_HOLLOW = 2, /* the check itself went wrong: it ran nothing, a sweep
                                      injected no fault or never ended, a trace overflowed,
                                      an image had the wrong chunk count... see `reason` */
} vmbsave_exhaustive_status;

typedef struct vmbsave_exhaustive_report {
    vmbsave_exhaustive_status status;
    uint64_t programs;         /* programs run */
    uint64_t faults_injected;  /* allocation faults injected over all runs */
    uint32_t deepest_fault;    /* sweeps: largest k whose run injected a fault */
    char reason[512];          /* HOLLOW: why; FAILED: which check and state */
    vmbsave_program program;   /* FAILED / HOLLOW: the program concerned (count 0 if none) */
    vmbsave_run_result result; /* its run */
} vmbsave_exhaustive_report;

/* The sequence length bound: VMBSAVE_EXHAUSTIVE_LENGTH if set to an integer in
 * 1..VMBSAVE_EXHAUSTIVE_MAX_LENGTH, else the default. Returns false (and the default) if the
 * variable is set to anything else, so a caller can say it was ignored. */
bool vmbsave_exhaustive_length_bound(uint32_t *length);

/* The letter-th member of the alphabet as a step on channel slot `ch`. */
vmbsave_step vmbsave_exhaustive_letter(uint32_t letter, uint8_t ch);

/* Every sequence of 1..max_length letters after the prefix of `state`. max_length is clamped
 * to 1..VMBSAVE_EXHAUSTIVE_MAX_LENGTH. */
vmbsave_exhaustive_status vmbsave_exhaustive_save_protocol(vmbsave_runner *runner,
                                                           vmbsave_canonical_id state,
                                                           uint32_t max_length,
                                                           vmbsave_exhaustive_report *report);

/* CAPTURE, then RESTORE into a fresh channel with c chunks per call for c = 0 (all at once),
 * 1, ..., the image's chunk count, each followed by a CAPTURE of the restored channel. Also
 * checks, from the trace, that c = 1 takes exactly the state's chunk count of calls. */
vmbsave_exhaustive_status vmbsave_exhaustive_restore_groupings(vmbsave_runner *runner,
                                                               vmbsave_canonical_id state,
                                                               vmbsave_exhaustive_report *report);

typedef enum vmbsave_sweep_target {
    VMBSAVE_SWEEP_SAVE = 0,   /* the CAPTURE of the state */
    VMBSAVE_SWEEP_RESTORE = 1 /* the RESTORE of its image into a fresh channel */
} vmbsave_sweep_target;

/* FAULT_ALLOC(mode, a = k) right before the target step, for k = 0, 1, ... until a run injects
 * no fault in that step; the target followed by a fault-free retry (and, for a restore, a
 * CAPTURE of the restored channel). mode is VMBSAVE_FAULT_ONCE or VMBSAVE_FAULT_FROM. HOLLOW
 * if k = 0 injected no fault (the step allocated nothing: the sweep proved nothing), if a fault
 * landed outside the target step, or if k = 63, the last FAULT_ALLOC can name, still injected
 * one (the sweep could not end). */
vmbsave_exhaustive_status vmbsave_exhaustive_fault_sweep(vmbsave_runner *runner,
                                                         vmbsave_canonical_id state,
                                                         vmbsave_sweep_target target,
                                                         vmbsave_fault_mode mode,
                                                         vmbsave_exhaustive_report *report);

/* Every vmbsave_save_packet_mode, applied to every packet (id 0) and to each packet in flight
 * alone, on a CAPTURE of `state`, then a fault-free CAPTURE and a restore of it. HOLLOW if the
 * state has no packets in flight. */
vmbsave_exhaustive_status vmbsave_exhaustive_save_packet_faults(vmbsave_runner *runner,
                                                                vmbsave_canonical_id state,
                                                                vmbsave_exhaustive_report *report);

/* FAULT_RESTORE_PACKET(n) for n = 1 .. packets in flight + 1 before the RESTORE of the state's
 * image into a fresh channel, then a fault-free retry and a CAPTURE. HOLLOW if the state has no
 * packets in flight, or a run with n <= packets shows no restore that failed. */
vmbsave_exhaustive_status
vmbsave_exhaustive_restore_packet_faults(vmbsave_runner *runner, vmbsave_canonical_id state,
                                         vmbsave_exhaustive_report *report);

/* Lanes of vmbsave_exhaustive_channel_interleavings. */
#define VMBSAVE_EXHAUSTIVE_LANES 3u

/* Several channels of one interface at once: CAPTURE of the state (slot 0), then every
 * interleaving (each lane's order kept) of three lanes: a restore of the image into slot 1 fed
 * in two or three steps (RESTORE edit=chunks: the restore stays in progress between them), a
 * restore into slot 2 in two steps (or its first chunk, then the whole image again, which must
 * fail while slot 1's restore completes), and a save session (begin, continue) of slot 0;
 * then a CAPTURE of each restored channel. Besides each PASS, the trace must show exactly the
 * restores that commit committing (a refused restore is not an interleaving). HOLLOW if the
 * state's image has fewer than two chunks. */
vmbsave_exhaustive_status vmbsave_exhaustive_channel_interleavings(
    vmbsave_runner *runner, vmbsave_canonical_id state, vmbsave_exhaustive_report *report);

/* A failure in text: the reason, the program (vmbsave_program_print), and the runner's verdict
 * with the violation's clause, step, check kind, expected and observed. */
void vmbsave_exhaustive_report_print(const vmbsave_exhaustive_report *report, FILE *out);

const char *vmbsave_exhaustive_status_name(vmbsave_exhaustive_status status);

#endif
