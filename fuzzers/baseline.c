/* fuzz_baseline, the baseline of bench/oracle_cost.sh (bench/README.md, "Oracle cost against a
 * bare baseline"): not a fuzz target (it is not in VMBSAVE_FUZZ_TARGETS: no seeds, engine files,
 * OSS-Fuzz build or replay test). Its input is save_session's, a program, decoded the same way
 * and run against the same implementation with the runner's bare option (harness/run/runner.h):
 * the same calls into the implementation, but no oracle prediction or check and no describe()
 * look. So a target's exec/s over this one's is the share of the rate left after the oracle's
 * cost (HARNESS.RUNNER.BARE_SAME_CALLS checks that the calls are the same).
 *
 * VMBSAVE_BASELINE_TARGET=roundtrip|restore|restore_raw takes that target's input instead,
 * expanded as the target does (harness/run/fuzz_input.h), for a baseline of the same work. The
 * differential target has none: it runs two implementations and compares them. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"

#define BASELINE_TARGET_ENV "VMBSAVE_BASELINE_TARGET"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The target whose input this is (read once); exits with status 2 on a bad name. */
static vmbsave_fuzz_target baseline_target(void)
{
    static int target = -1;
    if (target >= 0)
        return (vmbsave_fuzz_target)target;
    const char *name = getenv(BASELINE_TARGET_ENV);
    target = name == NULL || name[0] == '\0' ? (int)VMBSAVE_FUZZ_TARGET_SAVE_SESSION
                                             : vmbsave_fuzz_target_find(name);
    if (target < 0 || target == (int)VMBSAVE_FUZZ_TARGET_DIFFERENTIAL) {
        fprintf(stderr,
                "fuzz_baseline: %s=%s: want save_session, roundtrip, restore or restore_raw\n",
                BASELINE_TARGET_ENV, name);
        exit(2);
    }
    return (vmbsave_fuzz_target)target;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmbsave_fuzz_target target = baseline_target();
    if (target == VMBSAVE_FUZZ_TARGET_SAVE_SESSION) {
        /* As fuzzers/save_session.c does. */
        static vmbsave_program program; /* 4 KiB: static, not on the fuzz loop's stack */
        static const vmbsave_run_options bare = {.bare = true};
        vmbsave_program_decode(data, size, &program);
        vmbsave_fuzz_run_with(&program, &bare);
        return 0;
    }
    /* As vmbsave_fuzz_run_input does (fuzzers/fuzz_common.c), bare. */
    static vmbsave_fuzz_input input; /* 4 MiB: static, so a run allocates nothing */
    if (vmbsave_fuzz_input_build(target, data, size, &input, NULL, 0)) {
        input.options.bare = true;
        vmbsave_fuzz_run_with(&input.program, &input.options);
    }
    return 0;
}
