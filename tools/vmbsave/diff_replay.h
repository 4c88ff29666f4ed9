/* Replaying a differential input (vmbsave run/repro --target differential): the program
 * against the implementation and against the reference, each in a child of its own
 * (child.h), compared as fuzz_differential compares them (harness/run/differential.h). */
#ifndef VMBSAVE_CLI_DIFF_REPLAY_H
#define VMBSAVE_CLI_DIFF_REPLAY_H

#include <stdbool.h>

#include "child.h"
#include "run/differential.h"

typedef struct diff_replay {
    child_outcome impl, reference;      /* each side's end (reference: only if it ran) */
    bool reference_ran;
    vmbsave_differential_result result; /* both finished: the comparison */
    bool compared;
    int exit;        /* CLI_EXIT_*: FINDING for a violation or crash of the implementation,
                        CLEAN for agreement or a difference the contract allows (INFO),
                        USAGE for a harness problem (the reference broke, a trace overflowed) */
    char line[1024]; /* the verdict in one line */
} diff_replay;

/* plugin NULL: the reference against itself. */
void diff_replay_run(const char *plugin, const vmbsave_program *program, unsigned timeout_seconds,
                     diff_replay *out);

#endif
