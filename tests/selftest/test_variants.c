/* HARNESS.VARIANT.*: the harness catches every deliberately broken plug-in of variants/ under
 * the clause its bug breaks, at the step where the bug shows, while the same program passes
 * against the reference (so the program itself is not what fails) and against the wrapper
 * with no bug (so the wrapper is not what fails either).
 *
 * Each program is a text file in tests/variants/ (docs/PROGRAMS.md), runnable by hand with the
 * vmbsave command; its header comment states the expectation this file asserts. The plug-ins
 * are found in $VMBSAVE_VARIANT_DIR (set by tests/CMakeLists.txt), the reference at
 * $VMBSAVE_PLUGIN. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clause_test.h"
#include "program/program.h"
#include "run/runner.h"

#if !defined(VMBSAVE_VARIANT_PROGRAM_DIR) || !defined(VMBSAVE_VARIANT_NAMES)
#error "tests/CMakeLists.txt defines VMBSAVE_VARIANT_PROGRAM_DIR and VMBSAVE_VARIANT_NAMES"
#endif

/* One program, and what the harness must say about the variant it was written for. */
typedef struct variant_case {
    const char *variant; /* variants/<variant>.c, libvmbsave_variant_<variant>.so */
    const char *program; /* tests/variants/<program>.prog */
    const char *clause;  /* the violation the harness must report */
    uint32_t step;       /* at this program step (0-based) */
} variant_case;

static const variant_case cases[] = {
    {"wrong_bytes_required", "wrong_bytes_required", "SAVE.CONTINUE.OVERFLOW.PROGRESS", 3},
    {"split_chunk", "split_chunk", "SAVE.CONTINUE.WHOLE_CHUNKS", 3},
    {"success_after_alloc_failure", "success_after_alloc_failure",
     "RESOURCES.ALLOC_FAILURE.STATUS", 3},
    {"leak_on_abort", "leak_on_abort", "SAVE.END.FREES_SESSION", 4},
    {"non_sticky_error", "non_sticky_error", "SAVE.CONTINUE.STICKY_ERROR", 10},
    {"overrun_one_byte", "overrun_one_byte", "SAVE.CONTINUE.NO_OVERRUN", 3},
    {"restore_partial_state", "restore_partial_state", "RESTORE.ATOMIC", 3},
    {"nondeterministic_byte", "nondeterministic_byte", "SAVE.IMAGE.DETERMINISTIC", 5},
    {"replay_restore_callback", "replay_restore_callback", "RESTORE.NO_REPLAY", 8},
    {"accepts_second_begin", "accepts_second_begin", "SAVE.BEGIN.ACTIVE_SESSION", 4},
    {"too_small_writes", "too_small_writes", "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS", 3},
    {"more_processing_as_success", "more_processing_as_success", "RESTORE.MORE_PROCESSING", 3},
    {"unzeroed_driver_buffer", "unzeroed_driver_buffer", "PACKET.SAVE.SIZE_QUERY_FIRST", 7},
    {"forwards_callback_status", "forwards_callback_status",
     "PACKET.SAVE.STATUS_NOT_FORWARDED", 9},
    {"continue_after_success", "continue_after_success", "SAVE.CONTINUE.AFTER_SUCCESS", 4},
    {"begin_while_running", "begin_while_running", "SAVE.BEGIN.REFUSED_STATES", 5},
    {"unfrozen_during_save", "unfrozen_during_save", "LIFECYCLE.FROZEN_DURING_SAVE", 3},
    {"callback_off_thread", "callback_off_thread", "CONTEXT.IRQL.PASSIVE", 7},
    {"save_begin_ignores_no_memory", "save_begin_ignores_no_memory", "SAVE.BEGIN.NO_MEMORY", 3},
    {"shared_restore_state", "shared_restore_state", "RESTORE.WHOLE_CHUNKS", 4},
    {"packet_id_32bit", "packet_id_32bit", "SAVE.IMAGE.COMPLETE", 7},
};

#define CASE_COUNT (sizeof cases / sizeof cases[0])

/* The control: the shared wrapper with no bug (variants/passthrough.c). */
#define CONTROL_VARIANT "passthrough"

/* ---- Helpers ------------------------------------------------------------------------------ */

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        fail_msg("$%s is not set (ctest sets it: run the tests through ctest)", name);
    }
    return v;
}

static void variant_path(const char *variant, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/libvmbsave_variant_%s.so", env_or_fail("VMBSAVE_VARIANT_DIR"),
                     variant);
    assert_true(n > 0 && (size_t)n < cap);
}

/* Reads and parses tests/variants/<name>.prog into *out. */
static void load_program(const char *name, vmbsave_program *out)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s.prog", VMBSAVE_VARIANT_PROGRAM_DIR, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("%s: cannot open", path);
    }
    static char text[VMBSAVE_PROGRAM_TEXT_MAX_BYTES + 1];
    size_t len = fread(text, 1, sizeof text, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || len == sizeof text) {
        fail_msg("%s: read error, or longer than %u bytes", path,
                 (unsigned)VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
    }
    text[len] = '\0';
    char err[256];
    if (vmbsave_program_parse(text, out, err, sizeof err) != 0) {
        fail_msg("%s: %s", path, err);
    }
    assert_true(out->count > 0);
}

static void print_result(const char *what, const vmbsave_run_result *r)
{
    print_message("    %s: %s after %u steps", what, vmbsave_verdict_name(r->verdict),
                  (unsigned)r->steps_run);
    if (r->verdict == VMBSAVE_VERDICT_VIOLATION) {
        print_message(" -- %s at step %u (%s check)\n      expected: %s\n      observed: %s\n",
                      r->violation.clause, (unsigned)r->violation.step,
                      vmbsave_check_kind_name(r->violation.kind), r->violation.expected,
                      r->violation.observed);
    } else if (r->verdict == VMBSAVE_VERDICT_ERROR) {
        print_message(" -- %s\n", r->error);
    } else {
        print_message("\n");
    }
}

/* Runs `program` against the plug-in at `path`. */
static void run_plugin(const char *path, const vmbsave_program *program,
                       vmbsave_run_result *result)
{
    char err[256] = "";
    vmbsave_runner *runner = vmbsave_runner_open_path(path, err, sizeof err);
    if (runner == NULL) {
        fail_msg("%s: %s", path, err);
    }
    memset(result, 0, sizeof *result);
    vmbsave_runner_run(runner, program, NULL, result);
    vmbsave_runner_close(runner);
}

static void expect_pass(const char *what, const char *path, const vmbsave_program *program,
                        const char *program_name)
{
    vmbsave_run_result r;
    run_plugin(path, program, &r);
    if (r.verdict != VMBSAVE_VERDICT_PASS) {
        print_result(what, &r);
        fail_msg("%s.prog must pass against the %s", program_name, what);
    }
    assert_int_equal(r.steps_run + r.steps_skipped, program->count);
}

/* The whole check for one case: PASS on the reference and the control, the clause on the
 * variant. */
static void check_case(const variant_case *c)
{
    print_message("  %s.prog on %s\n", c->program, c->variant);
    static vmbsave_program program;
    load_program(c->program, &program);
    assert_true(c->step < program.count);

    expect_pass("reference", env_or_fail("VMBSAVE_PLUGIN"), &program, c->program);

    char path[1024];
    variant_path(CONTROL_VARIANT, path, sizeof path);
    expect_pass("bug-free wrapper", path, &program, c->program);

    variant_path(c->variant, path, sizeof path);
    vmbsave_run_result r;
    run_plugin(path, &program, &r);
    print_result(c->variant, &r);
    if (r.verdict != VMBSAVE_VERDICT_VIOLATION) {
        fail_msg("variant %s: expected a violation of %s, got %s", c->variant, c->clause,
                 vmbsave_verdict_name(r.verdict));
    }
    if (strcmp(r.violation.clause, c->clause) != 0) {
        fail_msg("variant %s: expected %s, the harness reported %s", c->variant, c->clause,
                 r.violation.clause);
    }
    if (r.violation.step != c->step) {
        fail_msg("variant %s: %s expected at step %u, reported at step %u", c->variant,
                 c->clause, (unsigned)c->step, (unsigned)r.violation.step);
    }
}

/* Every case written for `variant` (at least one). */
static void check_variant(const char *variant)
{
    unsigned found = 0;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (strcmp(cases[i].variant, variant) == 0) {
            check_case(&cases[i]);
            found++;
        }
    }
    if (found == 0) {
        fail_msg("no program for variant %s", variant);
    }
}

/* ---- Tests -------------------------------------------------------------------------------- */

/* Whether the comma-separated `list` holds `name`. */
static bool list_has(const char *list, const char *name)
{
    size_t want = strlen(name);
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == want && strncmp(p, name, len) == 0) {
            return true;
        }
        p += len;
        p += *p == ',';
    }
    return false;
}

/* Every variant variants/CMakeLists.txt builds has a case here, and every case names a variant
 * it builds, so a new variant cannot go untested. */
static void every_variant_tested(void **state)
{
    (void)state;
    static const char built[] = VMBSAVE_VARIANT_NAMES; /* "a,b,c" from CMake */
    assert_true(list_has(built, CONTROL_VARIANT));
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (!list_has(built, cases[i].variant)) {
            fail_msg("case for %s: no such variant in variants/CMakeLists.txt", cases[i].variant);
        }
    }
    char name[128];
    for (const char *p = built; *p != '\0';) {
        size_t len = strcspn(p, ",");
        assert_true(len < sizeof name);
        memcpy(name, p, len);
        name[len] = '\0';
        bool tested = strcmp(name, CONTROL_VARIANT) == 0;
        for (size_t i = 0; i < CASE_COUNT && !tested; i++) {
            tested = strcmp(cases[i].variant, name) == 0;
        }
        if (!tested) {
            fail_msg("variant %s (variants/CMakeLists.txt) has no case in test_variants.c", name);
        }
        p += len;
        p += *p == ',';
    }
}

#define VARIANT_TEST(fn, name)                                                                 \
    static void fn(void **state)                                                               \
    {                                                                                          \
        (void)state;                                                                           \
        check_variant(name);                                                                   \
    }

VARIANT_TEST(variant_wrong_bytes_required, "wrong_bytes_required")
VARIANT_TEST(variant_split_chunk, "split_chunk")
VARIANT_TEST(variant_success_after_alloc_failure, "success_after_alloc_failure")
VARIANT_TEST(variant_leak_on_abort, "leak_on_abort")
VARIANT_TEST(variant_non_sticky_error, "non_sticky_error")
VARIANT_TEST(variant_overrun_one_byte, "overrun_one_byte")
VARIANT_TEST(variant_restore_partial_state, "restore_partial_state")
VARIANT_TEST(variant_nondeterministic_byte, "nondeterministic_byte")
VARIANT_TEST(variant_replay_restore_callback, "replay_restore_callback")
VARIANT_TEST(variant_accepts_second_begin, "accepts_second_begin")
VARIANT_TEST(variant_too_small_writes, "too_small_writes")
VARIANT_TEST(variant_more_processing_as_success, "more_processing_as_success")
VARIANT_TEST(variant_unzeroed_driver_buffer, "unzeroed_driver_buffer")
VARIANT_TEST(variant_forwards_callback_status, "forwards_callback_status")
VARIANT_TEST(variant_continue_after_success, "continue_after_success")
VARIANT_TEST(variant_begin_while_running, "begin_while_running")
VARIANT_TEST(variant_unfrozen_during_save, "unfrozen_during_save")
VARIANT_TEST(variant_callback_off_thread, "callback_off_thread")
VARIANT_TEST(variant_save_begin_ignores_no_memory, "save_begin_ignores_no_memory")
VARIANT_TEST(variant_shared_restore_state, "shared_restore_state")
VARIANT_TEST(variant_packet_id_32bit, "packet_id_32bit")

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.VARIANT.EVERY_VARIANT_TESTED", every_variant_tested),
    CLAUSE_TEST("HARNESS.VARIANT.WRONG_BYTES_REQUIRED", variant_wrong_bytes_required),
    CLAUSE_TEST("HARNESS.VARIANT.SPLIT_CHUNK", variant_split_chunk),
    CLAUSE_TEST("HARNESS.VARIANT.SUCCESS_AFTER_ALLOC_FAILURE", variant_success_after_alloc_failure),
    CLAUSE_TEST("HARNESS.VARIANT.LEAK_ON_ABORT", variant_leak_on_abort),
    CLAUSE_TEST("HARNESS.VARIANT.NON_STICKY_ERROR", variant_non_sticky_error),
    CLAUSE_TEST("HARNESS.VARIANT.OVERRUN_ONE_BYTE", variant_overrun_one_byte),
    CLAUSE_TEST("HARNESS.VARIANT.RESTORE_PARTIAL_STATE", variant_restore_partial_state),
    CLAUSE_TEST("HARNESS.VARIANT.NONDETERMINISTIC_BYTE", variant_nondeterministic_byte),
    CLAUSE_TEST("HARNESS.VARIANT.REPLAY_RESTORE_CALLBACK", variant_replay_restore_callback),
    CLAUSE_TEST("HARNESS.VARIANT.ACCEPTS_SECOND_BEGIN", variant_accepts_second_begin),
    CLAUSE_TEST("HARNESS.VARIANT.TOO_SMALL_WRITES", variant_too_small_writes),
    CLAUSE_TEST("HARNESS.VARIANT.MORE_PROCESSING_AS_SUCCESS", variant_more_processing_as_success),
    CLAUSE_TEST("HARNESS.VARIANT.UNZEROED_DRIVER_BUFFER", variant_unzeroed_driver_buffer),
    CLAUSE_TEST("HARNESS.VARIANT.FORWARDS_CALLBACK_STATUS", variant_forwards_callback_status),
    CLAUSE_TEST("HARNESS.VARIANT.CONTINUE_AFTER_SUCCESS", variant_continue_after_success),
    CLAUSE_TEST("HARNESS.VARIANT.BEGIN_WHILE_RUNNING", variant_begin_while_running),
    CLAUSE_TEST("HARNESS.VARIANT.UNFROZEN_DURING_SAVE", variant_unfrozen_during_save),
    CLAUSE_TEST("HARNESS.VARIANT.CALLBACK_OFF_THREAD", variant_callback_off_thread),
    CLAUSE_TEST("HARNESS.VARIANT.SAVE_BEGIN_IGNORES_NO_MEMORY", variant_save_begin_ignores_no_memory),
    CLAUSE_TEST("HARNESS.VARIANT.SHARED_RESTORE_STATE", variant_shared_restore_state),
    CLAUSE_TEST("HARNESS.VARIANT.PACKET_ID_32BIT", variant_packet_id_32bit),
};

CLAUSE_TEST_MAIN("variants", tests)
