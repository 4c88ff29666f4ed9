/* HARNESS.SANDBOX.*: untrusted code runs in a child that cannot take vmbsave down or outlive it
 * (tools/vmbsave/sandbox.h), and every hostile plug-in (tests/hostile/hostile.c) ends in an
 * outcome, never in the death of the caller. */
#define _GNU_SOURCE /* kill, nanosleep */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/clause_test.h"

#include "program/program.h"
#include "run/runner.h"
#include "sandbox.h"

static const sandbox_limits no_limits = {0, 0};

/* Whether process `pid` is gone (or a zombie nobody has reaped yet), waiting up to ms. */
static bool gone_within(pid_t pid, unsigned ms)
{
    for (unsigned waited = 0;; waited += 10) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return true;
        char path[64], state = '?';
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            int n = fscanf(f, "%*d %*s %c", &state);
            fclose(f);
            if (n == 1 && state == 'Z')
                return true;
        }
        if (waited >= ms)
            return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int exits_three(void *arg, void *report, size_t size)
{
    (void)arg;
    printf("hello from the child\n");
    snprintf(report, size, "reported");
    return 3;
}

static void exit_status_and_report(void **state)
{
    (void)state;
    sandbox_result r;
    assert_int_equal(sandbox_run_function(exits_three, NULL, 64, &no_limits, &r), 0);
    assert_int_equal(r.end, SANDBOX_EXITED);
    assert_int_equal(r.exit_code, 3);
    assert_true(r.finished);
    assert_non_null(r.report);
    assert_string_equal((const char *)r.report, "reported");
    assert_non_null(r.output);
    assert_non_null(strstr(r.output, "hello from the child"));
    sandbox_result_free(&r);
}

static int exits_midway(void *arg, void *report, size_t size)
{
    (void)arg;
    memset(report, 0x5A, size); /* what it had written before it was stopped */
    exit(0); /* as a plug-in calling exit() would: not a finished run */
}

static void exit_midway_not_finished(void **state)
{
    (void)state;
    sandbox_result r;
    assert_int_equal(sandbox_run_function(exits_midway, NULL, 16, &no_limits, &r), 0);
    assert_int_equal(r.end, SANDBOX_EXITED);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.finished);
    /* Not finished, yet what the child had written comes back (certify's search reads the
     * program in flight from it). */
    assert_non_null(r.report);
    assert_int_equal(r.report_size, 16);
    assert_int_equal(((const unsigned char *)r.report)[15], 0x5A);
    sandbox_result_free(&r);
}

static int segfaults(void *arg, void *report, size_t size)
{
    (void)arg;
    (void)report;
    (void)size;
    signal(SIGSEGV, SIG_DFL); /* no sanitizer report: the raw signal is the point */
    raise(SIGSEGV);
    return 0;
}

static void signal_reported(void **state)
{
    (void)state;
    sandbox_result r;
    assert_int_equal(sandbox_run_function(segfaults, NULL, 0, &no_limits, &r), 0);
    assert_int_equal(r.end, SANDBOX_SIGNALLED);
    assert_int_equal(r.signal_number, SIGSEGV);
    assert_false(r.finished);
    sandbox_result_free(&r);
}

static int sleeps_long(void *arg, void *report, size_t size)
{
    (void)arg;
    (void)report;
    (void)size;
    sleep(30);
    return 0;
}

static void timeout_kills(void **state)
{
    (void)state;
    sandbox_limits limits = {200, 0};
    sandbox_result r;
    assert_int_equal(sandbox_run_function(sleeps_long, NULL, 0, &limits, &r), 0);
    assert_int_equal(r.end, SANDBOX_TIMED_OUT);
    assert_true(r.elapsed_ms >= 200);
    assert_true(r.elapsed_ms < 5000);
    sandbox_result_free(&r);
}

static int eats_memory(void *arg, void *report, size_t size)
{
    (void)arg;
    (void)report;
    (void)size;
    for (;;) {
        char *p = malloc(8u << 20);
        if (p == NULL) {
            fprintf(stderr, "vmbsave: memory limit: an allocation failed\n");
            return 99;
        }
        memset(p, 1, 8u << 20);
    }
}

static void memory_limit_reported(void **state)
{
    (void)state;
    sandbox_limits limits = {20000, 256u << 20};
    sandbox_result r;
    assert_int_equal(sandbox_run_function(eats_memory, NULL, 0, &limits, &r), 0);
    char what[128];
    sandbox_describe(&r, what, sizeof(what));
    if (r.end != SANDBOX_MEMORY_LIMIT)
        fail_msg("ended %s, output: %.400s", what, r.output != NULL ? r.output : "");
    sandbox_result_free(&r);
}

/* A grandchild that would otherwise outlive everything: its pid goes into the report. */
static int leaves_a_grandchild(void *arg, void *report, size_t size)
{
    (void)arg;
    (void)size;
    pid_t g = fork();
    if (g == 0) {
        sleep(30);
        _exit(0);
    }
    memcpy(report, &g, sizeof(g));
    return 0;
}

static void group_killed_after_run(void **state)
{
    (void)state;
    sandbox_result r;
    assert_int_equal(
        sandbox_run_function(leaves_a_grandchild, NULL, sizeof(pid_t), &no_limits, &r), 0);
    assert_true(r.finished);
    pid_t g;
    memcpy(&g, r.report, sizeof(g));
    assert_true(g > 0);
    assert_true(gone_within(g, 2000));
    sandbox_result_free(&r);
}

/* The sandboxed child writes its pid to the pipe, then waits to be killed. */
static int reports_pid_then_sleeps(void *arg, void *report, size_t size)
{
    (void)report;
    (void)size;
    int fd = *(int *)arg;
    pid_t me = getpid();
    if (write(fd, &me, sizeof(me)) != (ssize_t)sizeof(me))
        return 1;
    sleep(30);
    return 0;
}

static void children_die_with_vmbsave(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t middle = fork(); /* plays vmbsave */
    assert_true(middle >= 0);
    if (middle == 0) {
        close(fds[0]);
        sandbox_result r;
        sandbox_run_function(reports_pid_then_sleeps, &fds[1], 0, &no_limits, &r);
        _exit(0);
    }
    close(fds[1]);
    pid_t child = 0;
    assert_int_equal(read(fds[0], &child, sizeof(child)), (ssize_t)sizeof(child));
    close(fds[0]);
    kill(middle, SIGKILL); /* vmbsave killed from outside: no handler runs */
    waitpid(middle, NULL, 0);
    assert_true(gone_within(child, 2000));
}

static void output_bounded(void **state)
{
    (void)state;
    char *argv[] = {"/bin/sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x; exit 4", NULL};
    sandbox_result r;
    assert_int_equal(sandbox_run_exec(argv, NULL, &no_limits, &r), 0);
    assert_int_equal(r.end, SANDBOX_EXITED);
    assert_int_equal(r.exit_code, 4);
    assert_int_equal(r.output_size, SANDBOX_MAX_OUTPUT);
    assert_true(r.output_truncated);
    sandbox_result_free(&r);
}

static void exec_missing_program(void **state)
{
    (void)state;
    char *argv[] = {"/nonexistent/vmbsave-no-such-program", NULL};
    sandbox_result r;
    assert_int_equal(sandbox_run_exec(argv, NULL, &no_limits, &r), 0);
    assert_int_equal(r.end, SANDBOX_EXITED);
    assert_int_equal(r.exit_code, 127);
    assert_non_null(strstr(r.output, "cannot run"));
    sandbox_result_free(&r);
}

/* ---- Hostile plug-ins ---------------------------------------------------------------------- */

typedef struct hostile_run {
    const char *path;
} hostile_run;

typedef struct hostile_report {
    int opened;                /* 1: the runner opened the plug-in */
    vmbsave_verdict verdict;
    char clause[64];
    char error[256];
} hostile_report;

/* In the child: open the plug-in, run a save session, then linger a moment (as a longer case
 * would), so a thread that crashes later does so inside this run. */
static int run_hostile(void *arg, void *report, size_t size)
{
    (void)size;
    const hostile_run *h = arg;
    hostile_report *rep = report;
    vmbsave_runner *runner = vmbsave_runner_open_path(h->path, rep->error, sizeof(rep->error));
    if (runner == NULL)
        return 2;
    rep->opened = 1;
    vmbsave_program program;
    char err[256];
    if (vmbsave_program_parse("enable ch=0\nsave_begin ch=0\nsave_continue ch=0 size=one\n"
                              "save_continue ch=0 size=one\nsave_end ch=0\n",
                              &program, err, sizeof(err)) != 0) {
        snprintf(rep->error, sizeof(rep->error), "parse: %.200s", err);
        return 3;
    }
    vmbsave_run_result result;
    vmbsave_runner_run(runner, &program, NULL, &result);
    rep->verdict = result.verdict;
    snprintf(rep->clause, sizeof(rep->clause), "%s", result.violation.clause);
    struct timespec ts = {0, 600 * 1000 * 1000};
    nanosleep(&ts, NULL);
    vmbsave_runner_close(runner);
    return 0;
}

/* Each plug-in, and the ends its run may have (a sanitizer build reports some crashes as an
 * exit with a report where a plain build dies of the signal). */
typedef struct hostile_case {
    const char *name;
    unsigned allowed; /* bit per outcome below */
    uint32_t timeout_ms; /* 0: the default, long enough for a loaded machine */
} hostile_case;

enum {
    OUT_SIGNAL = 1u << 0,     /* died of a signal */
    OUT_SAN_EXIT = 1u << 1,   /* exited non-zero, unfinished (a sanitizer report) */
    OUT_TIMEOUT = 1u << 2,
    OUT_MEMORY = 1u << 3,
    OUT_NOT_OPENED = 1u << 4, /* finished: the runner refused the plug-in */
    OUT_VIOLATION = 1u << 5,  /* finished: a violation */
    OUT_EXIT_EARLY = 1u << 6, /* exited 0 without finishing */
};

static const hostile_case hostile_cases[] = {
    {"entry_crash", OUT_SIGNAL | OUT_SAN_EXIT, 0},
    {"load_thread", OUT_SIGNAL | OUT_SAN_EXIT, 0},
    {"null_ops", OUT_NOT_OPENED, 0},
    {"absurd_size", OUT_NOT_OPENED, 0},
    {"call_crash", OUT_SIGNAL | OUT_SAN_EXIT, 0},
    {"hang", OUT_TIMEOUT, 1500},
    {"exits", OUT_EXIT_EARLY, 0},
    {"aborts", OUT_SIGNAL | OUT_SAN_EXIT, 0},
    {"eats_memory", OUT_MEMORY, 0},
    {"stack_overflow", OUT_SIGNAL | OUT_SAN_EXIT, 0},
    {"writes_far", OUT_SIGNAL | OUT_SAN_EXIT | OUT_VIOLATION, 0},
    {"huge_filled", OUT_VIOLATION, 0},
};

static unsigned outcome_of(const sandbox_result *r)
{
    const hostile_report *rep = r->report;
    switch (r->end) {
    case SANDBOX_SIGNALLED: return OUT_SIGNAL;
    case SANDBOX_TIMED_OUT: return OUT_TIMEOUT;
    case SANDBOX_MEMORY_LIMIT: return OUT_MEMORY;
    case SANDBOX_FAILED: return 0;
    case SANDBOX_EXITED: break;
    }
    if (!r->finished)
        return r->exit_code == 0 ? OUT_EXIT_EARLY : OUT_SAN_EXIT;
    if (rep == NULL)
        return 0;
    if (!rep->opened)
        return OUT_NOT_OPENED;
    return rep->verdict == VMBSAVE_VERDICT_VIOLATION ? OUT_VIOLATION : 0;
}

static void hostile_plugins_get_outcomes(void **state)
{
    (void)state;
    size_t failures = 0;
    for (size_t i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
        const hostile_case *c = &hostile_cases[i];
        char path[1024];
        snprintf(path, sizeof(path), "%s/libvmbsave_hostile_%s.so", VMBSAVE_HOSTILE_DIR, c->name);
        hostile_run h = {path};
        sandbox_limits limits = {c->timeout_ms != 0 ? c->timeout_ms : 30000u, 512u << 20};
        sandbox_result r;
        assert_int_equal(sandbox_run_function(run_hostile, &h, sizeof(hostile_report), &limits,
                                              &r), 0);
        unsigned got = outcome_of(&r);
        char what[160];
        sandbox_describe(&r, what, sizeof(what));
        const hostile_report *rep = r.report;
        printf("%-16s %s%s%s%s%s%s\n", c->name, what, r.finished ? ", finished" : "",
               rep != NULL && !rep->opened ? ", refused: " : "",
               rep != NULL && !rep->opened ? rep->error : "",
               rep != NULL && rep->opened ? ", verdict " : "",
               rep != NULL && rep->opened ? (rep->verdict == VMBSAVE_VERDICT_VIOLATION ? rep->clause : vmbsave_verdict_name(rep->verdict)) : "");
        if ((got & c->allowed) == 0) {
            printf("  FAIL: outcome not among those allowed; output: %.300s\n",
                   r.output != NULL ? r.output : "");
            failures++;
        }
        sandbox_result_free(&r);
    }
    assert_int_equal(failures, 0);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.SANDBOX.EXIT_STATUS", exit_status_and_report),
    CLAUSE_TEST("HARNESS.SANDBOX.EXIT_MIDWAY", exit_midway_not_finished),
    CLAUSE_TEST("HARNESS.SANDBOX.SIGNAL", signal_reported),
    CLAUSE_TEST("HARNESS.SANDBOX.TIMEOUT", timeout_kills),
    CLAUSE_TEST("HARNESS.SANDBOX.MEMORY_LIMIT", memory_limit_reported),
    CLAUSE_TEST("HARNESS.SANDBOX.GROUP_KILLED", group_killed_after_run),
    CLAUSE_TEST("HARNESS.SANDBOX.DIES_WITH_PARENT", children_die_with_vmbsave),
    CLAUSE_TEST("HARNESS.SANDBOX.OUTPUT_BOUNDED", output_bounded),
    CLAUSE_TEST("HARNESS.SANDBOX.EXEC_MISSING", exec_missing_program),
    CLAUSE_TEST("HARNESS.SANDBOX.HOSTILE_PLUGINS", hostile_plugins_get_outcomes),
};

CLAUSE_TEST_MAIN("sandbox", tests)
