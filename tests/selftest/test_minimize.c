/* HARNESS.MINIMIZE.*: shrinking failing programs (harness/program/minimize.h). Synthetic predicates
 * pin down what the result must be; one test shrinks a real violation in-process against the
 * overrun_one_byte variant (path from VMBSAVE_CLI_VARIANT_DIR, set by tests/CMakeLists.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"

#include "run/minimize_clause.h"
#include "program/program.h"
#include "run/runner.h"

static void parse_or_fail(const char *text, vmbsave_program *out)
{
    char err[256];
    if (vmbsave_program_parse(text, out, err, sizeof(err)) != 0)
        fail_msg("parse: %s", err);
}

/* Fails while some save_continue has an explicit size of at least 100 bytes. */
static bool big_explicit_continue(void *context, const vmbsave_program *p)
{
    unsigned *calls = context;
    (*calls)++;
    for (uint32_t i = 0; i < p->count; i++) {
        const vmbsave_step *s = &p->steps[i];
        if (s->op == VMBSAVE_OP_SAVE_CONTINUE && s->mode == VMBSAVE_SIZE_EXPLICIT &&
            s->a >= 100u)
            return true;
    }
    return false;
}

static const char noisy_program[] = "offer ch=1 mode=valid salt=77\n"
                                    "enable ch=1\n"
                                    "fault_alloc mode=once after=5\n"
                                    "gpadl_create ch=2 mode=valid id=3 pfns=9 salt=4\n"
                                    "save_begin ch=1\n"
                                    "ring_write ch=0 dir=out bytes=500 salt=8\n"
                                    "save_continue ch=2 size=explicit bytes=1000\n"
                                    "fault_save_packet mode=asks-more packet=3\n"
                                    "save_end ch=1\n"
                                    "capture ch=1 image=3\n"
                                    "cleanup ch=2\n";

static void shrinks_to_the_cause(void **state)
{
    (void)state;
    vmbsave_program in, out;
    parse_or_fail(noisy_program, &in);
    unsigned calls = 0;
    vmbsave_minimize_stats stats;
    vmbsave_minimize(&in, big_explicit_continue, &calls, 0, &out, &stats);
    /* One step: the save_continue, on channel 0, at the smallest size that still fails. */
    assert_int_equal(out.count, 1);
    assert_int_equal(out.steps[0].op, VMBSAVE_OP_SAVE_CONTINUE);
    assert_int_equal(out.steps[0].ch, 0);
    assert_int_equal(out.steps[0].mode, VMBSAVE_SIZE_EXPLICIT);
    assert_int_equal(out.steps[0].a, 100);
    assert_int_equal(stats.candidates, calls);
    assert_true(stats.accepted > 0 && stats.accepted <= stats.candidates);
    assert_false(stats.budget_exhausted);
}

/* Fails while at least three enable steps remain. */
static bool three_enables(void *context, const vmbsave_program *p)
{
    (void)context;
    unsigned n = 0;
    for (uint32_t i = 0; i < p->count; i++)
        n += p->steps[i].op == VMBSAVE_OP_ENABLE;
    return n >= 3;
}

static void never_longer_and_still_failing(void **state)
{
    (void)state;
    /* Pseudo-random byte programs: the result always satisfies the predicate and is no
     * longer; a program made of enables shrinks to exactly three of them on channel 0. */
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (int round = 0; round < 20; round++) {
        uint8_t bytes[VMBSAVE_PROGRAM_MAX_BYTES];
        for (size_t i = 0; i < sizeof(bytes); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes[i] = (uint8_t)x;
        }
        vmbsave_program in, out;
        vmbsave_program_decode(bytes, 16u * (20u + (unsigned)round * 7u), &in);
        for (uint32_t i = 0; i < in.count; i += 4)
            in.steps[i].op = VMBSAVE_OP_ENABLE; /* enough enables to fail */
        assert_true(three_enables(NULL, &in));
        vmbsave_minimize(&in, three_enables, NULL, 0, &out, NULL);
        assert_true(out.count <= in.count);
        assert_true(three_enables(NULL, &out));
        assert_int_equal(out.count, 3);
        for (uint32_t i = 0; i < out.count; i++) {
            assert_int_equal(out.steps[i].op, VMBSAVE_OP_ENABLE);
            assert_int_equal(out.steps[i].ch, 0);
        }
    }
}

static void stops_at_the_candidate_budget(void **state)
{
    (void)state;
    vmbsave_program in, out;
    parse_or_fail(noisy_program, &in);
    unsigned calls = 0;
    vmbsave_minimize_stats stats;
    vmbsave_minimize(&in, big_explicit_continue, &calls, 5, &out, &stats);
    assert_int_equal(calls, 5);
    assert_int_equal(stats.candidates, 5);
    assert_true(stats.budget_exhausted);
    assert_true(out.count <= in.count);
    assert_true(big_explicit_continue(&calls, &out));
}

static void shrinks_a_real_violation_in_process(void **state)
{
    (void)state;
    const char *dir = getenv("VMBSAVE_CLI_VARIANT_DIR");
    if (dir == NULL)
        fail_msg("VMBSAVE_CLI_VARIANT_DIR is not set (tests/CMakeLists.txt sets it)");
    char path[4096];
    snprintf(path, sizeof(path), "%s/libvmbsave_variant_overrun_one_byte.so", dir);
    char err[256];
    vmbsave_runner *runner = vmbsave_runner_open_path(path, err, sizeof(err));
    if (runner == NULL)
        fail_msg("%s: %s", path, err);
    vmbsave_program in, out;
    parse_or_fail("offer ch=1 mode=valid salt=9\n"
                  "offer ch=0 mode=valid salt=77\n"
                  "enable ch=1\n"
                  "enable ch=0\n"
                  "gpadl_create ch=1 mode=valid id=3 pfns=4 salt=5\n"
                  "save_begin ch=0\n"
                  "save_continue ch=0 size=explicit bytes=300\n"
                  "save_end ch=0\n",
                  &in);
    vmbsave_run_result result;
    vmbsave_runner_run(runner, &in, NULL, &result);
    assert_int_equal(result.verdict, VMBSAVE_VERDICT_VIOLATION);
    assert_string_equal(result.violation.clause, "SAVE.CONTINUE.NO_OVERRUN");

    vmbsave_minimize_clause(runner, &in, "SAVE.CONTINUE.NO_OVERRUN", 0, &out, NULL);
    assert_true(out.count < in.count);
    vmbsave_runner_run(runner, &out, NULL, &result);
    assert_int_equal(result.verdict, VMBSAVE_VERDICT_VIOLATION);
    assert_string_equal(result.violation.clause, "SAVE.CONTINUE.NO_OVERRUN");
    vmbsave_runner_close(runner);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.MINIMIZE.SHRINKS_TO_THE_CAUSE", shrinks_to_the_cause),
    CLAUSE_TEST("HARNESS.MINIMIZE.NEVER_LONGER", never_longer_and_still_failing),
    CLAUSE_TEST("HARNESS.MINIMIZE.BUDGET", stops_at_the_candidate_budget),
    CLAUSE_TEST("HARNESS.MINIMIZE.SAME_CLAUSE_IN_PROCESS", shrinks_a_real_violation_in_process),
};

CLAUSE_TEST_MAIN("minimize", tests)
