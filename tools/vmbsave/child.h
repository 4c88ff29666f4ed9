/* Running one program in a forked child, so that an implementation that crashes, aborts or
 * hangs takes down only the child. The implementation is opened in the child only: vmbsave's
 * own process never loads a plug-in. The child runs in a process group of its own, dies with
 * vmbsave (PR_SET_PDEATHSIG), and its group is killed when it ends, when its time is up
 * (enforced by the parent too) and when vmbsave is interrupted (sandbox.h). The child relays
 * what the run produces (the implementation's names, the runner's result, and for `repro` the
 * trace entries and call-sink events, as they happen) over a pipe; the parent turns the
 * child's end into an outcome. */
#ifndef VMBSAVE_CLI_CHILD_H
#define VMBSAVE_CLI_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program/program.h"
#include "run/runner.h"

typedef enum child_status {
    CHILD_FINISHED = 0, /* the run ended and reported its result */
    CHILD_SIGNALLED,    /* the child died of a signal (the implementation crashed) */
    CHILD_TIMED_OUT,    /* the run took longer than its timeout */
    CHILD_EXITED,       /* the child exited before reporting a result (e.g. a sanitizer) */
    CHILD_FAILED        /* the child could not be started or spoke garbage */
} child_status;

typedef struct child_outcome {
    child_status status;
    vmbsave_run_result result; /* CHILD_FINISHED */
    int signal_number;         /* CHILD_SIGNALLED */
    int exit_code;             /* CHILD_EXITED */
    unsigned timeout;          /* CHILD_TIMED_OUT: the limit, in seconds */
    char error[512];           /* CHILD_FAILED */
    char impl_name[128];       /* the implementation's, once the child opened it ("" before) */
    char impl_version[128];
} child_outcome;

/* What the parent hears while the child runs (all optional). */
typedef struct child_listener {
    void *context;
    void (*on_trace)(void *context, uint32_t index, const vmbsave_trace_entry *entry);
    void (*on_statement)(void *context, uint32_t step, const vmbsave_call *call);
    void (*on_data)(void *context, const char *name, const void *bytes, size_t size);
    void (*on_violation)(void *context, const vmbsave_violation *violation);
} child_listener;

/* Runs `program` in a child against the plug-in at `plugin_path` (NULL: the linked-in
 * reference), opened there. preload: images preloaded into slots before the first step (only
 * its preload_image fields and `digests` are used; NULL: none), as a fuzz target's input sets them
 * (harness/run/fuzz_input.h). listener NULL: only the result comes back (no trace, no sink).
 * timeout_seconds 0: no limit. program NULL: only open the implementation and report its names
 * (CHILD_FINISHED), or why it cannot be opened (CHILD_FAILED). Always fills `out`. */
void child_run(const char *plugin_path, const vmbsave_program *program,
               const vmbsave_run_options *preload, unsigned timeout_seconds,
               const child_listener *listener, child_outcome *out);

/* "SIGSEGV" for SIGSEGV, ... ("signal" for one it does not know). */
const char *child_signal_name(int signal_number);

/* The outcome as a report says it: "pass (N steps)", "violation CLAUSE at step S: expected
 * ..., observed ...", "crash: signal 11 (SIGSEGV)", "error: ...". */
void child_outcome_text(const child_outcome *o, char *buf, size_t cap);
/* CLI_EXIT_* for it: 0 pass, 1 violation or crash, 2 error. */
int child_outcome_exit(const child_outcome *o);
/* Whether two outcomes fail the same way: the same clause, or the same signal / exit code /
 * timeout. */
bool child_outcome_same_failure(const child_outcome *a, const child_outcome *b);
/* Whether it is a failure minimisation can target (a violation or a crash). */
bool child_outcome_is_failure(const child_outcome *o);

#endif
