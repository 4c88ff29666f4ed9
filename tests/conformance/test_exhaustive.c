/* Bounded exhaustive checks (harness/run/exhaustive.h) against the implementation named by
 * $VMBSAVE_PLUGIN: every save-protocol sequence up to the length bound, every restore grouping,
 * allocation-fault sweeps over a whole save and a whole restore, and packet-callback faults,
 * from each canonical state (harness/program/canonical.h). Each check must pass, and must show that it
 * ran what it claims (programs counted, faults injected). A failure prints the program in text
 * form and the violation. docs/SPEC.md's appendix "what the exhaustive checks cover" states
 * the bounds and their run time. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"

#include "program/canonical.h"
#include "run/exhaustive.h"
#include "host/host.h"
#include "run/runner.h"

/* The plug-in under test: $VMBSAVE_PLUGIN, or the reference when it is unset or empty. */
static const char *plugin_path(void)
{
    const char *p = getenv("VMBSAVE_PLUGIN");
    return p != NULL && p[0] != '\0' ? p : VMBSAVE_DEFAULT_PLUGIN;
}

static vmbsave_runner *open_runner(void)
{
    const char *path = plugin_path();
    char err[256] = "";
    vmbsave_runner *runner = vmbsave_runner_open_path(path, err, sizeof err);
    if (runner == NULL)
        fail_msg("cannot open %s: %s", path, err);
    return runner;
}

static vmbsave_exhaustive_report *new_report(void)
{
    vmbsave_exhaustive_report *report = calloc(1, sizeof *report);
    if (report == NULL)
        fail_msg("out of memory");
    return report;
}

/* Fails the test, with the program and the violation, unless the check was OK. Closes the
 * runner and frees the report first, so that a failure reports no leak of its own. */
static void expect_ok(vmbsave_exhaustive_status status, vmbsave_exhaustive_report *report,
                      vmbsave_runner *runner, const char *check, const char *state)
{
    if (status == VMBSAVE_EXHAUSTIVE_OK && report->status == VMBSAVE_EXHAUSTIVE_OK)
        return;
    fprintf(stderr, "%s from %s:\n", check, state);
    vmbsave_exhaustive_report_print(report, stderr);
    char reason[sizeof report->reason];
    memcpy(reason, report->reason, sizeof reason);
    free(report);
    vmbsave_runner_close(runner);
    fail_msg("%s from %s: %s: %s", check, state, vmbsave_exhaustive_status_name(status), reason);
}

static uint64_t sequences_up_to(uint32_t length)
{
    uint64_t total = 0, n = 1;
    for (uint32_t l = 1; l <= length; l++) {
        n *= VMBSAVE_EXHAUSTIVE_LETTERS;
        total += n;
    }
    return total;
}

/* ---- canonical states ------------------------------------------------------------------ */

/* Each prefix is already normalised, its text form parses back to it, its name finds it, and
 * it runs (with a capture, and a restore of that into a fresh channel) to a PASS: the states
 * every other check starts from are what they claim. */
static void canonical_states(void **state)
{
    (void)state;
    vmbsave_runner *runner = open_runner();
    vmbsave_program *p = calloc(1, sizeof *p), *back = calloc(1, sizeof *back);
    char *text = malloc(VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
    assert_non_null(p);
    assert_non_null(back);
    assert_non_null(text);
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        const vmbsave_canonical_info *info = vmbsave_canonical_info_of(id);
        assert_non_null(info);
        assert_string_equal(vmbsave_canonical_name(id), info->name);
        assert_int_equal(vmbsave_canonical_find(info->name), id);
        assert_true(vmbsave_canonical_prefix(id, p));
        assert_true(p->count > 0 && p->count <= VMBSAVE_CANONICAL_MAX_PREFIX_STEPS);
        for (uint32_t i = 0; i < p->count; i++) {
            vmbsave_step s = p->steps[i];
            vmbsave_step_normalize(&s);
            if (memcmp(&s, &p->steps[i], sizeof s) != 0)
                fail_msg("%s: step %" PRIu32 " is not normalised", info->name, i);
        }
        assert_true(vmbsave_program_print(p, text, VMBSAVE_PROGRAM_TEXT_MAX_BYTES) > 0);
        char err[128] = "";
        if (vmbsave_program_parse(text, back, err, sizeof err) != 0)
            fail_msg("%s: its text does not parse: %s\n%s", info->name, err, text);
        assert_true(vmbsave_program_equal(p, back));

        /* On another channel slot: the same steps but for the slot. */
        memset(back, 0, sizeof *back);
        assert_true(vmbsave_canonical_append(id, 2, back));
        assert_int_equal(back->count, p->count);
        for (uint32_t i = 0; i < p->count; i++) {
            vmbsave_step moved = back->steps[i];
            assert_int_equal(moved.ch, 2);
            moved.ch = p->steps[i].ch;
            assert_memory_equal(&moved, &p->steps[i], sizeof moved);
        }

        vmbsave_step tail[] = {
            {.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0},
            {.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0, .mode = VMBSAVE_EDIT_WHOLE},
            {.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1},
        };
        for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
            p->steps[p->count++] = tail[i];
        vmbsave_run_result result;
        vmbsave_runner_run(runner, p, NULL, &result);
        if (result.verdict != VMBSAVE_VERDICT_PASS) {
            vmbsave_program_print(p, text, VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
            fail_msg("%s: %s at step %" PRIu32 " (%s): expected %s, observed %s %s\n%s", info->name,
                     vmbsave_verdict_name(result.verdict), result.violation.step,
                     result.violation.clause, result.violation.expected, result.violation.observed,
                     result.error, text);
        }
        assert_int_equal(result.steps_run, p->count);
    }
    assert_null(vmbsave_canonical_info_of(VMBSAVE_CANONICAL_COUNT));
    assert_int_equal(vmbsave_canonical_find("no_such_state"), -1);
    assert_false(vmbsave_canonical_append(0, VMBSAVE_PROGRAM_CHANNELS, p));
    free(text);
    free(back);
    free(p);
    vmbsave_runner_close(runner);
}

/* ---- the checks -------------------------------------------------------------------------- */

static void save_protocol(void **state)
{
    (void)state;
    uint32_t length;
    if (!vmbsave_exhaustive_length_bound(&length))
        fail_msg("%s is not an integer in 1..%u", VMBSAVE_EXHAUSTIVE_LENGTH_ENV,
                 VMBSAVE_EXHAUSTIVE_MAX_LENGTH);
    vmbsave_runner *runner = open_runner();
    vmbsave_exhaustive_report *report = new_report();
    uint64_t total = 0;
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        vmbsave_exhaustive_status st = vmbsave_exhaustive_save_protocol(runner, id, length, report);
        expect_ok(st, report, runner, "save protocol", vmbsave_canonical_name(id));
        assert_int_equal(report->programs, sequences_up_to(length));
        total += report->programs;
    }
    print_message("save protocol: %" PRIu64 " programs, sequences of 1..%" PRIu32 "\n", total,
                  length);
    assert_true(total >= VMBSAVE_CANONICAL_COUNT * sequences_up_to(1));
    free(report);
    vmbsave_runner_close(runner);
}

static void restore_groupings(void **state)
{
    (void)state;
    vmbsave_runner *runner = open_runner();
    vmbsave_exhaustive_report *report = new_report();
    uint64_t total = 0;
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        vmbsave_exhaustive_status st = vmbsave_exhaustive_restore_groupings(runner, id, report);
        expect_ok(st, report, runner, "restore groupings", vmbsave_canonical_name(id));
        /* c = 0 and every c from 1 to the chunk count. */
        assert_int_equal(report->programs, vmbsave_canonical_info_of(id)->image_chunks + 1u);
        total += report->programs;
    }
    print_message("restore groupings: %" PRIu64 " programs\n", total);
    assert_true(total >= 2u * VMBSAVE_CANONICAL_COUNT);
    free(report);
    vmbsave_runner_close(runner);
}

static void channel_interleavings(void **state)
{
    (void)state;
    vmbsave_runner *runner = open_runner();
    vmbsave_exhaustive_report *report = new_report();
    uint64_t total = 0;
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        vmbsave_exhaustive_status st = vmbsave_exhaustive_channel_interleavings(runner, id, report);
        expect_ok(st, report, runner, "channel interleavings", vmbsave_canonical_name(id));
        /* 7!/(3!2!2!) = 210 interleavings per kind of second lane (6!/(2!2!2!) = 90 for a
         * two-chunk image), two kinds. */
        uint32_t chunks = vmbsave_canonical_info_of(id)->image_chunks;
        assert_int_equal(report->programs, chunks >= 3u ? 420u : 180u);
        total += report->programs;
    }
    print_message("channel interleavings: %" PRIu64 " programs\n", total);
    free(report);
    vmbsave_runner_close(runner);
}

/* `deepest_at_least`: the largest k some state's sweep must have injected at. A restore stages
 * every GPADL, packet and ring separately, so its sweeps go deep; a save may allocate once, in
 * save_begin (the reference does: its session reads the frozen channel), so k = 0 is all a save
 * sweep can be asked for. */
static void fault_sweeps(vmbsave_sweep_target target, const char *what, uint32_t deepest_at_least)
{
    vmbsave_runner *runner = open_runner();
    vmbsave_exhaustive_report *report = new_report();
    static const vmbsave_fault_mode modes[] = {VMBSAVE_FAULT_ONCE, VMBSAVE_FAULT_FROM};
    uint64_t programs = 0, faults = 0;
    uint32_t deepest = 0;
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            vmbsave_exhaustive_status st =
                vmbsave_exhaustive_fault_sweep(runner, id, target, modes[m], report);
            expect_ok(st, report, runner, what, vmbsave_canonical_name(id));
            /* One run per k that injected (0 .. deepest), and the one that injected nothing. */
            assert_true(report->faults_injected >= 1);
            assert_int_equal(report->programs, report->deepest_fault + 2u);
            assert_true(report->faults_injected >= report->deepest_fault + 1u);
            print_message("%s of %s, %s: %" PRIu64 " programs, %" PRIu64
                          " faults, last at k = %" PRIu32 "\n",
                          what, vmbsave_canonical_name(id), m == 0 ? "once" : "from",
                          report->programs, report->faults_injected, report->deepest_fault);
            programs += report->programs;
            faults += report->faults_injected;
            if (report->deepest_fault > deepest)
                deepest = report->deepest_fault;
        }
    }
    assert_true(deepest >= deepest_at_least);
    assert_true(programs >= 2u * 2u * VMBSAVE_CANONICAL_COUNT);
    assert_true(faults >= 2u * VMBSAVE_CANONICAL_COUNT);
    free(report);
    vmbsave_runner_close(runner);
}

static void fault_sweep_save(void **state)
{
    (void)state;
    fault_sweeps(VMBSAVE_SWEEP_SAVE, "save fault sweep", 0);
}

static void fault_sweep_restore(void **state)
{
    (void)state;
    fault_sweeps(VMBSAVE_SWEEP_RESTORE, "restore fault sweep", 2);
}

static void packet_callback_faults(void **state)
{
    (void)state;
    vmbsave_runner *runner = open_runner();
    vmbsave_exhaustive_report *report = new_report();
    const vmbsave_canonical_id with_packets = VMBSAVE_CANONICAL_PAUSED_PACKETS;
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(with_packets);
    assert_true(info->packet_count >= 2);

    vmbsave_exhaustive_status st =
        vmbsave_exhaustive_save_packet_faults(runner, with_packets, report);
    expect_ok(st, report, runner, "save-packet faults", info->name);
    /* Mode STATE once; every other mode on every packet (0) and on each packet alone. */
    assert_int_equal(report->programs,
                     1u + (VMBSAVE_SAVE_PACKET_MODE_COUNT - 1u) * (1u + info->packet_count));
    uint64_t programs = report->programs;

    st = vmbsave_exhaustive_restore_packet_faults(runner, with_packets, report);
    expect_ok(st, report, runner, "restore-packet faults", info->name);
    assert_int_equal(report->programs, info->packet_count + 1u);
    programs += report->programs;

    /* A state with no packet has no callback to fault: the checks refuse to pass hollow. */
    assert_int_equal(vmbsave_canonical_info_of(VMBSAVE_CANONICAL_EMPTY_OFFER)->packet_count, 0);
    assert_int_equal(
        vmbsave_exhaustive_save_packet_faults(runner, VMBSAVE_CANONICAL_EMPTY_OFFER, report),
        VMBSAVE_EXHAUSTIVE_HOLLOW);
    assert_int_equal(
        vmbsave_exhaustive_restore_packet_faults(runner, VMBSAVE_CANONICAL_EMPTY_OFFER, report),
        VMBSAVE_EXHAUSTIVE_HOLLOW);

    print_message("packet callback faults: %" PRIu64 " programs\n", programs);
    free(report);
    vmbsave_runner_close(runner);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.CANONICAL_STATES", canonical_states),
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.SAVE_PROTOCOL", save_protocol),
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.RESTORE_GROUPINGS", restore_groupings),
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.CHANNEL_INTERLEAVINGS", channel_interleavings),
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.FAULT_SWEEP_SAVE", fault_sweep_save),
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.FAULT_SWEEP_RESTORE", fault_sweep_restore),
    CLAUSE_TEST("HARNESS.EXHAUSTIVE.PACKET_CALLBACK_FAULTS", packet_callback_faults),
};

CLAUSE_TEST_MAIN("exhaustive", tests)
