/* Shared set-up of the vmbsave fuzz targets (fuzzers/save_session.c, roundtrip.c, restore.c):
 * the implementation under test is opened once per process, and a program's run aborts the
 * process on a contract violation so every engine (and the plain replay driver,
 * fuzzers/replay_main.c) records it as a crash. */
#ifndef VMBSAVE_FUZZERS_FUZZ_COMMON_H
#define VMBSAVE_FUZZERS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "run/fuzz_input.h"
#include "program/program.h"
#include "run/runner.h"

/* The implementation the targets run: the plug-in named by this variable, or the linked-in
 * reference when it is unset or empty. */
#define VMBSAVE_FUZZ_IMPL_ENV "VMBSAVE_FUZZ_IMPL"

/* Runs `program` against the implementation (opened on first use; if it cannot be opened the
 * process exits with status 2 and a one-line reason). On a VIOLATION prints
 * "vmbsave: <CLAUSE> at step N: expected ..., observed ..." to stderr and aborts; PASS and
 * ERROR (the harness could not run the program) return. */
void vmbsave_fuzz_run(const vmbsave_program *program);

/* The differential target (fuzzers/differential.c, harness/run/differential.h): `program` against
 * the implementation of VMBSAVE_FUZZ_IMPL and against the linked-in reference, both opened once
 * (unset: a second, independent reference, so the target checks the reference's determinism).
 * Aborts after one first line on stderr:
 *   the implementation breaks a clause: "vmbsave: <CLAUSE> at step N: expected ..., observed ..."
 *   the reference does (a bug of vmbsave's): "vmbsave: reference-<CLAUSE> at step N: ..."
 *   both pass but differ: "vmbsave: impl-vs-reference-<CLAUSE> at step N, call K (<call>):
 *     reference <field>=<value>, implementation <field>=<value>"
 * Agreement and ERROR outcomes (a run the harness could not make or compare) return. */
void vmbsave_fuzz_differential(const vmbsave_program *program);

/* vmbsave_fuzz_run with run options (runner.h), e.g. preloaded images (restore_raw). */
void vmbsave_fuzz_run_with(const vmbsave_program *program, const vmbsave_run_options *options);

/* A target's input expanded as harness/run/fuzz_input.h says (the same expansion `vmbsave repro
 * --target` replays), then run by vmbsave_fuzz_run_with; an input the target runs nothing for
 * returns. For the targets that run one implementation (not differential). */
void vmbsave_fuzz_run_input(vmbsave_fuzz_target target, const uint8_t *data, size_t size);

/* The engines' one-time hook (libFuzzer, AFL++'s driver, the replay driver): loads the
 * VMBSAVE_FUZZ_IMPL plug-in before any input runs. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
