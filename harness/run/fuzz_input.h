/* What each fuzz target's input is, and the program (with run options) a target runs for it:
 * the targets (fuzzers/<target>.c) and `vmbsave run|repro --target` (docs/vmbsave.1) share this
 * transformation, so a crash file of any target replays as the target ran it. corpus/README.md,
 * "What an input is, per target", says the same in prose. */
#ifndef VMBSAVE_HARNESS_FUZZ_INPUT_H
#define VMBSAVE_HARNESS_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program/program.h"
#include "run/runner.h"

/* The targets, one X(ID, name, is_program, header_bytes) each: the single list of these facts.
 * fuzzers/input_layout.c builds the mutator's table from it (that file is compiled without the
 * harness library, so this list is a macro: headers only, nothing to link).
 *   name          fuzzers/<name>.c, built as fuzz_<name>
 *   is_program    the bytes after the header decode as a program (harness/program/program.h); false:
 *                 they are raw image bytes
 *   header_bytes  bytes before them (a canonical state's pick; restore_raw's flags and split) */
#define VMBSAVE_FUZZ_TARGET_TABLE(X)                 \
    X(SAVE_SESSION, "save_session", true, 0)         \
    X(DIFFERENTIAL, "differential", true, 0)         \
    X(ROUNDTRIP, "roundtrip", true, 1)               \
    X(RESTORE, "restore", true, 1)                   \
    X(RESTORE_RAW, "restore_raw", false, 2)

typedef enum vmbsave_fuzz_target {
#define VMBSAVE_FUZZ_TARGET_ENUM_(id, name, is_program, header_bytes) VMBSAVE_FUZZ_TARGET_##id,
    VMBSAVE_FUZZ_TARGET_TABLE(VMBSAVE_FUZZ_TARGET_ENUM_)
#undef VMBSAVE_FUZZ_TARGET_ENUM_
    VMBSAVE_FUZZ_TARGET_COUNT
} vmbsave_fuzz_target;

/* restore_raw's header (fuzzers/restore_raw.c): a flags byte, a split byte, then the image. */
#define VMBSAVE_RAW_HEADER_BYTES 2u
#define VMBSAVE_RAW_RESEAL_MASK 0x03u  /* flags bits 0-1: what to reseal (image_reseal.h) */
#define VMBSAVE_RAW_SPLIT_INSIDE 0x04u /* flags bit 2: one call boundary inside chunk `split`
                                          (mod the chunks); clear: `split` mod 17 whole chunks
                                          per call (0: the whole image in one call) */
#define VMBSAVE_RAW_PER_CALL_MODULUS 17u

/* Everything one input expands to, and the room to build it in: the caller owns it (4 MiB,
 * mostly restore_raw's image; the targets keep one static, so a run allocates nothing). It
 * points into itself once built: do not copy it. */
typedef struct vmbsave_fuzz_input {
    vmbsave_program program;     /* the program the target runs */
    vmbsave_run_options options; /* with it: restore_raw's image preloaded into slot 0; no
                                    trace, no sink (add them before running if wanted) */
    vmbsave_program body;        /* workspace: the steps the input's program bytes decode to */
    /* restore_raw's image, copied from the input and resealed in place; longer images are cut
     * here, as the target always did. */
    uint8_t image[VMBSAVE_RUN_MAX_IMAGE_BYTES];
} vmbsave_fuzz_input;

/* The target named `name` (exact match), or -1 for NULL or an unknown name. */
int vmbsave_fuzz_target_find(const char *name);
/* Its name ("?" out of range). Whether its input is a program is the table's is_program. */
const char *vmbsave_fuzz_target_name(vmbsave_fuzz_target target);
/* The names, comma-separated, for messages ("save_session, differential, ..."). */
const char *vmbsave_fuzz_target_names(void);

/* Builds in `out` the program and run options fuzz_<target> runs for the input data[0..size).
 * Returns true; false when the target runs nothing for it (an input shorter than its header, or
 * for restore_raw one with no image byte: the target returns at once), with a one-line reason
 * in err (err may be NULL). What each target runs:
 *   save_session: the bytes decoded as a program;
 *   differential: the same, each FAULT_ALLOC step made "fault_alloc mode=off" (the target
 *     drops them; this keeps the input's step numbers), run against two implementations
 *     (harness/run/differential.h, fuzzers/fuzz_common.h);
 *   roundtrip: canonical state data[0] % VMBSAVE_CANONICAL_COUNT on channel 0, the program the
 *     rest decodes to (cut where the suffix would not fit), then CAPTURE ch0 into image 0,
 *     CLEANUP ch1, RESTORE image 0 into ch1 (data[0] / VMBSAVE_CANONICAL_COUNT % 4 whole chunks
 *     per call; 0: one call), CAPTURE ch1 into image 1;
 *   restore: the canonical state, CAPTURE ch0 into image 0, then per decoded step CLEANUP and
 *     RESTORE image 0 into channel 1 + ch % 2, edited by the step's mode and a/b/c
 *     (normalised), while both fit;
 *   restore_raw: the image (data[2..]) preloaded into slot 0, resealed per flags data[0],
 *     RESTORE into ch1 (flags bit 2: split inside chunk data[1]; else data[1] % 17 chunks per
 *     call), CAPTURE ch1 into image 1. */
bool vmbsave_fuzz_input_build(vmbsave_fuzz_target target, const uint8_t *data, size_t size,
                              vmbsave_fuzz_input *out, char *err, size_t err_size);

/* The program as fuzz_differential runs it on each implementation: its FAULT_ALLOC steps are
 * dropped there (docs/DIFFERENTIAL.md), made "fault_alloc mode=off" here. For a program read
 * some other way (text form) than vmbsave_fuzz_input_build. */
void vmbsave_fuzz_differential_program(vmbsave_program *program);

#endif
