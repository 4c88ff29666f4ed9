/* HARNESS.EMIT_C.*: the C reproducer writer (harness/repro/emit_c.h) on its own: what it refuses, and
 * the statements and check it writes for a given call stream and violation. That the files
 * compile with plain cc and reproduce is HARNESS.CLI.EMIT_C_* (tests/selftest/test_cli.c). */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"

#include "repro/emit_c.h"
#include "vmbsave/ntstatus.h"

static const char runtime_text[] = "/* runtime */\n#include \"vmbsave/abi.h\"\nint vb_runtime;\n";

/* Writes the emitter's file to memory: 0 and the text in *text, or -1 and the error. */
static int write_to_memory(const vmbsave_emitter *e, const char *plugin, char **text,
                           char *err, size_t err_size)
{
    size_t size;
    FILE *f = open_memstream(text, &size);
    assert_non_null(f);
    int rc = vmbsave_emitter_write(e, f, runtime_text, plugin, err, err_size);
    fclose(f);
    return rc;
}

static vmbsave_emitter *three_calls(void)
{
    vmbsave_program program;
    char err[256];
    if (vmbsave_program_parse("enable ch=0\nsave_begin ch=0\nsave_continue ch=0 size=one\n",
                              &program, err, sizeof(err)) != 0)
        fail_msg("parse: %s", err);
    vmbsave_emitter *e = vmbsave_emitter_new(&program);
    assert_non_null(e);
    /* A host setting (not a call), then three calls: their statements are the printers'. */
    static const vmbsave_call fill = {.op = VMBSAVE_CALL_HOST_FILL_BYTE, .arg = {165}};
    static const vmbsave_call enable = {.op = VMBSAVE_CALL_ENABLE};
    static const vmbsave_call begin = {.op = VMBSAVE_CALL_SAVE_BEGIN};
    static const vmbsave_call one = {.op = VMBSAVE_CALL_SAVE_CONTINUE, .arg = {1}};
    assert_int_equal(vmbsave_emitter_add_call(e, 0, &fill), 0);
    assert_int_equal(vmbsave_emitter_add_call(e, 0, &enable), 0);
    assert_int_equal(vmbsave_emitter_add_call(e, 1, &begin), 0);
    assert_int_equal(vmbsave_emitter_add_call(e, 2, &one), 0);
    return e;
}

/* Values for the cases: the writer reads the typed fields, never the text. */
static vmbsave_value rule(const char *words)
{
    vmbsave_value v;
    memset(&v, 0, sizeof(v));
    vmbsave_value_set_rule(&v, words);
    return v;
}

static vmbsave_value statuses(const NTSTATUS *s, unsigned n, bool negate)
{
    vmbsave_value v;
    memset(&v, 0, sizeof(v));
    vmbsave_value_set_statuses(&v, s, n);
    v.u.status.negate = negate;
    return v;
}

static vmbsave_value counts(uint32_t flo, uint32_t fhi, uint32_t rlo, uint32_t rhi)
{
    vmbsave_value v;
    memset(&v, 0, sizeof(v));
    vmbsave_value_set_filled(&v, flo, fhi);
    vmbsave_value_set_required(&v, rlo, rhi);
    return v;
}

static vmbsave_value live(int64_t n, bool has_delta, int64_t delta)
{
    vmbsave_value v;
    memset(&v, 0, sizeof(v));
    if (has_delta)
        vmbsave_value_set_live_delta(&v, n, delta, false);
    else
        vmbsave_value_set_live(&v, n);
    return v;
}

static vmbsave_violation violation(vmbsave_check_kind kind, uint32_t call, vmbsave_value want,
                                   vmbsave_value seen)
{
    vmbsave_violation v;
    memset(&v, 0, sizeof(v));
    snprintf(v.clause, sizeof(v.clause), "SOME.CLAUSE");
    v.kind = kind;
    v.step = call;
    v.call = call;
    v.want = want;
    v.seen = seen;
    return v;
}

static void refuses_bad_data_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"1abc", "vb_mine", "a-b", "", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vmbsave_emitter *e = vmbsave_emitter_new(NULL);
        assert_non_null(e);
        assert_int_equal(vmbsave_emitter_add_data(e, bad[i], "x", 1), -1);
        assert_true(strlen(vmbsave_emitter_error(e)) > 0);
        vmbsave_emitter_free(e);
    }
    vmbsave_emitter *e = three_calls();
    assert_int_equal(vmbsave_emitter_add_data(e, "d1", "abc", 3), 0);
    assert_int_equal(vmbsave_emitter_add_data(e, "d1", "abc", 3), -1);
    assert_non_null(strstr(vmbsave_emitter_error(e), "d1"));
    /* A failed emitter writes nothing. */
    vmbsave_violation v = violation(VMBSAVE_CHECK_GUARD, 2, rule("x"), rule("y"));
    vmbsave_emitter_set_violation(e, &v, NULL);
    char *text = NULL;
    char err[256];
    assert_int_equal(write_to_memory(e, NULL, &text, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "d1"));
    free(text);
    vmbsave_emitter_free(e);
}

static void needs_a_violation_or_a_crash(void **state)
{
    (void)state;
    vmbsave_emitter *e = three_calls();
    char *text = NULL;
    char err[256];
    assert_int_equal(write_to_memory(e, NULL, &text, err, sizeof(err)), -1);
    free(text);
    text = NULL;
    vmbsave_emitter_set_crash(e, 11);
    assert_int_equal(write_to_memory(e, "/x/lib.so", &text, err, sizeof(err)), 0);
    /* Every call, then the crash check; the runtime without its vmbsave/ include. */
    assert_non_null(strstr(text, "host.fill_byte = 165;"));
    assert_non_null(strstr(text, "st = api->save_continue(ch[0], out, 1u, &filled, &required);"));
    assert_non_null(strstr(text, "return vb_check_crash(11);"));
    assert_non_null(strstr(text, "\"/x/lib.so\""));
    assert_non_null(strstr(text, "int vb_runtime;"));
    assert_null(strstr(text, "#include \"vmbsave/"));
    free(text);
    vmbsave_emitter_free(e);
}

static void stops_at_the_violating_call_with_its_check(void **state)
{
    (void)state;
    static const NTSTATUS progress[] = {STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW};
    static const NTSTATUS not_found = STATUS_NOT_FOUND;
    const struct {
        vmbsave_check_kind kind;
        vmbsave_value want, seen;
        const char *check;
    } cases[] = {
        {VMBSAVE_CHECK_STATUS, statuses(progress, 2, false), statuses(&not_found, 1, false),
         "vb_check_status(vb_clause, vb_expected, (const NTSTATUS[]){VMBSAVE_NTSTATUS_VALUE("
         "0x00000000u), VMBSAVE_NTSTATUS_VALUE(0x80000005u)}, 2, false);"},
        {VMBSAVE_CHECK_STATUS, statuses(progress, 1, true), statuses(progress, 1, false),
         "VMBSAVE_NTSTATUS_VALUE(0x00000000u)}, 1, true);"},
        {VMBSAVE_CHECK_COUNTS, counts(1, 40, 64, 64), counts(0, 0, 65, 65),
         "vb_check_counts(vb_clause, vb_expected, true, 1u, 40u, true, 64u, 64u, true);"},
        {VMBSAVE_CHECK_GUARD, rule("no byte outside"), rule("byte 3"), "vb_check_guard("},
        {VMBSAVE_CHECK_CHUNKS, rule("whole chunks"), rule("half"), "vb_check_chunks("},
        {VMBSAVE_CHECK_IMAGE, rule("same image"), rule("other"),
         "vb_check_image(vb_clause, vb_expected, NULL, 0);"},
        {VMBSAVE_CHECK_DESCRIBE, rule("same"), rule("other"),
         "vb_check_describe(vb_clause, vb_expected, NULL, 0, false);"},
        {VMBSAVE_CHECK_LEAK, live(4, false, 0), live(5, true, -1),
         /* before the call 5 - (-1) = 6 live, 4 expected: the run expected -2 */
         "vb_check_leak(vb_clause, vb_expected, 4u, true, -2);"},
        {VMBSAVE_CHECK_CALLBACK, rule("on the thread"), rule("another"), "vb_check_callback("},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vmbsave_emitter *e = three_calls();
        /* Call 1 (save_begin) violated: the save_continue after it is left out. */
        vmbsave_violation v = violation(cases[i].kind, 1, cases[i].want, cases[i].seen);
        vmbsave_emitter_set_violation(e, &v, NULL);
        char *text = NULL;
        char err[256];
        if (write_to_memory(e, NULL, &text, err, sizeof(err)) != 0)
            fail_msg("case %zu: %s", i, err);
        if (strstr(text, cases[i].check) == NULL)
            fail_msg("case %zu: no \"%s\" in:\n%s", i, cases[i].check, strstr(text, "int main"));
        assert_non_null(strstr(text, "st = api->save_begin(ch[0]);"));
        assert_null(strstr(text, "api->save_continue"));
        assert_non_null(strstr(text, "vb_watch = 1u;"));
        assert_non_null(strstr(text, "static const char *const vb_default_plugin = NULL;"));
        free(text);
        vmbsave_emitter_free(e);
    }
}

static void uses_the_runners_expected_data(void **state)
{
    (void)state;
    vmbsave_emitter *e = three_calls();
    assert_int_equal(vmbsave_emitter_add_data(e, "expected_description_except_fresh",
                                              "state=ENABLED\n", 15),
                     0);
    vmbsave_violation v =
        violation(VMBSAVE_CHECK_DESCRIBE, 2, rule("state=ENABLED"), rule("state=DISABLED"));
    vmbsave_emitter_set_violation(e, &v, NULL);
    char *text = NULL;
    char err[256];
    assert_int_equal(write_to_memory(e, NULL, &text, err, sizeof(err)), 0);
    assert_non_null(strstr(text, "_Alignas(16) static const uint8_t "
                                 "expected_description_except_fresh[15] = {"));
    /* The text without its NUL, compared without the fresh= line. */
    assert_non_null(strstr(text, "(const char *)expected_description_except_fresh, 14, true);"));
    free(text);
    vmbsave_emitter_free(e);

    /* A STATUS violation whose expected value holds no status falls back to the observed one. */
    e = three_calls();
    static const NTSTATUS success = STATUS_SUCCESS;
    v = violation(VMBSAVE_CHECK_STATUS, 0, rule("a refusal"), statuses(&success, 1, false));
    vmbsave_emitter_set_violation(e, &v, NULL);
    text = NULL;
    assert_int_equal(write_to_memory(e, NULL, &text, err, sizeof(err)), 0);
    assert_non_null(strstr(text, "vb_check_status_same(vb_clause, vb_expected, "
                                 "VMBSAVE_NTSTATUS_VALUE(0x00000000u));"));
    free(text);
    vmbsave_emitter_free(e);

    /* ... and with neither, writing fails with a reason. */
    e = three_calls();
    v = violation(VMBSAVE_CHECK_STATUS, 0, rule("a refusal"), rule("something else"));
    vmbsave_emitter_set_violation(e, &v, NULL);
    text = NULL;
    assert_int_equal(write_to_memory(e, NULL, &text, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "a refusal"));
    free(text);
    vmbsave_emitter_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.EMIT_C.BAD_DATA_NAMES", refuses_bad_data_names),
    CLAUSE_TEST("HARNESS.EMIT_C.NEEDS_AN_OUTCOME", needs_a_violation_or_a_crash),
    CLAUSE_TEST("HARNESS.EMIT_C.CHECK_PER_KIND", stops_at_the_violating_call_with_its_check),
    CLAUSE_TEST("HARNESS.EMIT_C.RUNNER_DATA", uses_the_runners_expected_data),
};

CLAUSE_TEST_MAIN("emit_c", tests)
