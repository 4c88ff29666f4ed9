/* Running untrusted code (a vendor's plug-in, or a program that loads one) in a child process
 * that cannot take vmbsave down and cannot outlive it.
 *
 * Every child runs in a process group of its own, gets SIGKILL when vmbsave dies
 * (PR_SET_PDEATHSIG), and is killed as a group when its time is up, when vmbsave is
 * interrupted (SIGINT, SIGTERM, SIGHUP: sandbox_install_signal_handlers) and on every return
 * path. Its address space is capped (RLIMIT_AS: the size it has when it starts plus the
 * limit, so a sanitizer's shadow reservation is not counted), core dumps are off, and its
 * standard output and error are captured, bounded. The parent turns its end into one of the
 * outcomes below; nothing the child does can stop the parent (it never reads from the child
 * without a deadline). */
#ifndef VMBSAVE_CLI_SANDBOX_H
#define VMBSAVE_CLI_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most output kept of one child (the rest is counted and dropped). */
#define SANDBOX_MAX_OUTPUT (256u * 1024u)
/* The largest memory limit accepted (64 GiB): a larger one is no limit on this machine. */
#define SANDBOX_MAX_MEMORY_BYTES (64ull << 30)
/* The longest time limit accepted: a day. */
#define SANDBOX_MAX_TIMEOUT_MS (86400u * 1000u)

typedef struct sandbox_limits {
    uint32_t timeout_ms;   /* 0: none */
    uint64_t memory_bytes; /* 0: none; else at most SANDBOX_MAX_MEMORY_BYTES */
} sandbox_limits;

typedef enum sandbox_end {
    SANDBOX_EXITED = 0,   /* exit_code is set */
    SANDBOX_SIGNALLED,    /* signal_number is set (a crash, an abort, a stack overflow) */
    SANDBOX_TIMED_OUT,    /* killed at the time limit */
    SANDBOX_MEMORY_LIMIT, /* ran out of its address space: an allocation failed at the cap, or
                             a sanitizer said it was out of memory */
    SANDBOX_FAILED        /* could not be started; error says why */
} sandbox_end;

typedef struct sandbox_result {
    sandbox_end end;
    int exit_code;
    int signal_number;
    uint64_t max_rss_bytes; /* peak resident size, from the kernel */
    uint32_t elapsed_ms;
    bool finished;          /* sandbox_run_function: fn returned */
    void *report;           /* sandbox_run_function: the report's bytes as the child left them
                             * (complete only when finished); free() it */
    size_t report_size;
    char *output;           /* stdout and stderr interleaved, NUL-terminated; free() it */
    size_t output_size;
    bool output_truncated;
    char error[256];
} sandbox_result;

/* The most bytes a function run hands back (sandbox_run_function). */
#define SANDBOX_MAX_REPORT (4u * 1024u * 1024u)

/* Code run in the child. `report` is report_size zeroed bytes shared with the parent: what the
 * run found goes there. Its return value is the child's exit status (0..255). */
typedef int (*sandbox_function)(void *arg, void *report, size_t report_size);

/* Runs fn in a forked child. The parent learns that fn returned (out->finished) from memory the
 * child cannot fake by exiting: code under test that calls exit(0) midway is not a finished
 * run. When finished, out->report holds a copy of the report bytes (free() it). Always fills
 * `out`; returns 0 when the child ran (whatever its end), -1 when it could not be started
 * (out->end == SANDBOX_FAILED) or report_size exceeds SANDBOX_MAX_REPORT. */
int sandbox_run_function(sandbox_function fn, void *arg, size_t report_size,
                         const sandbox_limits *limits, sandbox_result *out);

/* Runs argv[0] (a path) with argv, the parent's environment plus `env_add` ("NAME=value"
 * strings, NULL-terminated, may be NULL). Same return and result as sandbox_run_function; an
 * exec failure is SANDBOX_EXITED with exit code 127 and the reason in the output. */
int sandbox_run_exec(char *const argv[], char *const env_add[], const sandbox_limits *limits,
                     sandbox_result *out);

void sandbox_result_free(sandbox_result *r);

/* Whether this process (and so the children it execs from the same build) runs under
 * AddressSanitizer: another allocator (a guard-page one) or valgrind cannot be put under it. */
bool sandbox_sanitized(void);

/* Installs handlers for SIGINT, SIGTERM and SIGHUP that kill every running child's group and
 * then end vmbsave with the signal's usual status. Idempotent. */
void sandbox_install_signal_handlers(void);

/* A monotonic clock in milliseconds, for the deadlines of every child vmbsave starts. */
uint64_t sandbox_now_ms(void);

/* For children started elsewhere (child.c): killed as a group with the others when vmbsave
 * is interrupted. */
void sandbox_track_group(int pgid);
void sandbox_untrack_group(int pgid);

/* A short phrase for a result: "exit 0", "signal 11 (SIGSEGV)", "timed out after 5000 ms",
 * "memory limit", "not started: ...". */
void sandbox_describe(const sandbox_result *r, char *buf, size_t cap);

#endif
