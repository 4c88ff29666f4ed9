/* Shared set-up of the vmbsave fuzz targets (fuzzers/save_session.c, roundtrip.c, restore.c):
 * the implementation under test is opened once per process, and a program's run aborts the
 * process on a contract violation so every engine (and the plain replay driver,
 * fuzzers/replay_main.c) records it as a crash. */
#ifndef VMBSAVE_FUZZERS_FUZZ_COMMON_H
#define VMBSAVE_FUZZERS_FUZZ_COMMON_H

#include <stdint.h>

#include "harness/program.h"

/* The implementation the targets run: the plug-in named by this variable, or the linked-in
 * reference when it is unset or empty. */
#define VMBSAVE_FUZZ_IMPL_ENV "VMBSAVE_FUZZ_IMPL"

/* Runs `program` against the implementation (opened on first use; if it cannot be opened the
 * process exits with status 2 and a one-line reason). On a VIOLATION prints
 * "vmbsave: <CLAUSE> at step N: expected ..., observed ..." to stderr and aborts; PASS and
 * ERROR (the harness could not run the program) return. */
void vmbsave_fuzz_run(const vmbsave_program *program);

/* The canonical state a target starts from, chosen by one input byte. */
uint8_t vmbsave_fuzz_pick_canonical(uint8_t byte);

#endif
