/* The runner executes a program against an implementation, through the ABI only, with the
 * fault host, and checks every call against the contract oracle (harness/oracle/oracle.h): the
 * executable model of docs/SPEC.md. It stops at the first disagreement and names the violated
 * clause, the step, and the expected and observed values. A run that executed no step is
 * never a pass. */
#ifndef VMBSAVE_HARNESS_RUNNER_H
#define VMBSAVE_HARNESS_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "image/chunks.h"
#include "oracle/ops.h"
#include "oracle/violation.h"
#include "program/program.h"
#include "vmbsave/abi.h"


/* One call into the implementation, as the trace shows it. */
typedef struct vmbsave_trace_entry {
    uint32_t step;
    vmbsave_call call;         /* typed; vmbsave_call_text() prints "save_continue(ch0, size=40)" */
    bool has_status;
    NTSTATUS status;
    bool has_counts;           /* save_continue / describe / ring_read outputs */
    uint32_t filled, required;
    uint32_t faults_injected;  /* allocation faults injected during this call */
    char note[128];            /* e.g. "fault: allocation #7 failed (once)" */
    /* With options->digests: what the call wrote into the caller's buffer (save_continue on
     * SUCCESS / BUFFER_OVERFLOW, ring_read on SUCCESS), so two runs compare call by call
     * without keeping the bytes. */
    bool has_output;
    uint32_t output_bytes;
    uint64_t output_digest;    /* XXH3-64, seed 0, of those bytes */
} vmbsave_trace_entry;

/* Receives every call as it is made, so a front end can write a standalone reproducer
 * (harness/repro/emit_c.h). All hooks optional. The conventions are emit_c.h's ("Conventions
 * for the runner's sink"); what harness/run/runner_calls.c passes, in short:
 *  - one on_call per traced call, before it, in trace order, as a typed vmbsave_call whose
 *    descriptor says `traced` (oracle/ops.h): the n-th of them is trace entry n. Its C
 *    statement is vmbsave_call_c_statement(), e.g.
 *    { vmbsave_offer o; memcpy(&o, d3, sizeof o); st = api->init_set_offer(ch[0], &o); }
 *  - host settings (FAULT_* steps, fill_byte, log trimming, faults off before the final clean-up)
 *    as on_call with a VMBSAVE_CALL_HOST_* op (not traced), before the call they affect;
 *  - on_data before the call that reads it, named "d<trace index of that call>" (its
 *    vmbsave_call.data; pfns as little-endian u64 bytes, offers as the struct's bytes,
 *    payloads, ring data, restore streams);
 *  - describe calls the oracle makes to look are neither traced nor passed;
 *  - at a violation: on_data "expected_image" (IMAGE: the model's bytes of the session so far) or
 *    "expected_description" (DESCRIBE: the model's text), then on_violation. */
typedef struct vmbsave_call_sink {
    void *context;
    /* Called before the call is made (or the host setting applies). `step` indexes the
     * program. */
    void (*on_call)(void *context, uint32_t step, const vmbsave_call *call);
    /* Data a following call reads (a restore buffer, a pfn array, a payload): emitted as a
     * static array named `name`. */
    void (*on_data)(void *context, const char *name, const void *bytes, size_t size);
    /* The first violation, once, with the trace index of its call. */
    void (*on_violation)(void *context, const vmbsave_violation *violation);
} vmbsave_call_sink;

typedef struct vmbsave_run_options {
    vmbsave_trace_entry *trace; /* NULL: no trace kept */
    uint32_t trace_cap;
    const vmbsave_call_sink *sink; /* NULL: none */
    /* Output digests in the trace entries and the final descriptions in the result
     * (harness/run/differential.h); off by default, as it costs a hash of every output. */
    bool digests;
    /* A bare run, the baseline of bench/oracle_cost.sh (fuzzers/baseline.c): the same calls
     * into the implementation as a normal run of the program, but no oracle prediction or
     * check, no describe() look at a channel, no stop at a violation. What the runner's own
     * control flow reads of the oracle's model (a session's phase and BytesRequired, whether a
     * channel is disabled, the image slots) it keeps from the statuses and outputs instead;
     * for a conforming implementation that equals the model, so both runs make the same calls
     * (tests/selftest/test_runner.c, HARNESS.RUNNER.BARE_SAME_CALLS). The verdict is PASS
     * unless the harness could not run the program (ERROR). */
    bool bare;
    /* Image slots filled before the first step from the caller's bytes, as if captured: a
     * RESTORE step reads them like any image, and the oracle predicts what the implementation
     * must answer by reading them as FORMAT.md's reader (docs/ORACLE.md, "Preloaded images").
     * NULL or size 0: the slot starts empty. A size above VMBSAVE_RUN_MAX_IMAGE_BYTES is an
     * ERROR verdict (nothing runs); a valid image at any of the contract's limits is modelled
     * (docs/ORACLE.md, "Model bounds"). */
    const uint8_t *preload_image[VMBSAVE_PROGRAM_IMAGES];
    uint32_t preload_image_size[VMBSAVE_PROGRAM_IMAGES];
    /* Image slots handed back after the run (whatever the verdict): slot i's bytes are copied
     * to export_image[i] if non-NULL and export_image_cap[i] holds them (else nothing is
     * copied); result->image_size[i] says how many bytes the slot held. */
    uint8_t *export_image[VMBSAVE_PROGRAM_IMAGES];
    uint32_t export_image_cap[VMBSAVE_PROGRAM_IMAGES];
} vmbsave_run_options;

/* A channel slot's description at the end of the program, before the final clean-up: an
 * untraced describe(), like the oracle's. Kept only with options->digests. */
typedef struct vmbsave_final_description {
    bool live;        /* the slot held a channel */
    bool described;   /* describe() returned SUCCESS and a NUL-terminated text */
    uint32_t bytes;   /* the text's length, without the NUL */
    uint64_t digest;  /* XXH3-64, seed 0, of the text */
} vmbsave_final_description;

typedef struct vmbsave_run_result {
    vmbsave_verdict verdict;
    vmbsave_violation violation; /* when VIOLATION */
    char error[256];             /* when ERROR */
    uint32_t steps_run;          /* steps whose calls were made */
    uint32_t steps_skipped;      /* steps with nothing to do (a RESTORE of an empty slot...) */
    uint32_t trace_count;        /* entries written to options->trace (capped) */
    uint32_t calls;              /* calls made, traced or not */
    /* options->digests, and the program ran to its end with no stop: per channel slot. */
    bool has_descriptions;
    vmbsave_final_description descriptions[VMBSAVE_PROGRAM_CHANNELS];
    /* Bytes each image slot held at the end (0: empty), for options->export_image. */
    uint32_t image_size[VMBSAVE_PROGRAM_IMAGES];
} vmbsave_run_result;

typedef struct vmbsave_runner vmbsave_runner;

/* Opens an implementation: a plug-in path (dlopen), or an entry point linked into the
 * process. Everything a run needs is allocated here, once, so runs allocate nothing of their
 * own (fuzzing speed). Returns NULL with a one-line reason in err. */
vmbsave_runner *vmbsave_runner_open_path(const char *plugin_path, char *err, size_t err_size);
vmbsave_runner *vmbsave_runner_open_entry(vmbsave_get_interface_fn entry, char *err,
                                          size_t err_size);
void vmbsave_runner_close(vmbsave_runner *runner);
/* The implementation's name and version (from its table), for reports. */
const char *vmbsave_runner_impl_name(const vmbsave_runner *runner);
const char *vmbsave_runner_impl_version(const vmbsave_runner *runner);

/* Runs a program from a clean start: a new interface instance, a new fault host, empty
 * channel and image slots, no faults. At the end every channel is cleaned up, the interface
 * released, and the live allocation count must be 0 (RESOURCES.NO_LEAK). options may be
 * NULL. */
void vmbsave_runner_run(vmbsave_runner *runner, const vmbsave_program *program,
                        const vmbsave_run_options *options, vmbsave_run_result *result);


#endif
