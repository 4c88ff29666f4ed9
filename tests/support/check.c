/* Assertion helpers shared by the test files (check.h), and the structured failure report:
 * when VMBSAVE_CASE_REPORT names a file, the first failing assertion of the process writes what
 * it expected and what it observed there as JSON (docs/vmbsave.1: certify, and ENVIRONMENT),
 * so vmbsave certify reports typed values instead of cmocka's text alone.
 *
 * cmocka's assertion entry points (_assert_true, _assert_int_equal, _fail, print_error, ...)
 * are wrapped at link time (-Wl,--wrap, tests/CMakeLists.txt): every assertion of every test
 * file reports without the tests changing. Each wrapper records, then calls cmocka's own. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

char vt_where[256];

NTSTATUS vt_left(vt_env *e, NTSTATUS s)
{
    vmbsave_host_leave(&e->host);
    return s;
}

/* ---- The case report ------------------------------------------------------------------------ */

/* The most text kept of the messages printed before a failure (the rest is dropped). */
#define VT_MAX_MESSAGE 1024u

static char messages[VT_MAX_MESSAGE];
static bool reported; /* one report per process: the first failure decided the case */
/* What a check macro (CHECK, EXPECT_ST, EXPECT_STATUS) said before it failed, or NULL. */
static json_t *noted_expected, *noted_observed;
static const char *noted_assertion;

static json_t *status_value(NTSTATUS s)
{
    char code[16];
    snprintf(code, sizeof(code), "0x%08x", (unsigned)(uint32_t)s);
    return json_pack("{s:s, s:s, s:s}", "kind", "status", "status", vt_status_str(s), "code", code);
}

/* A cmocka integer: its signed reading when it fits (statuses, counts and offsets all do). */
static json_t *integer_value(LargestIntegralType v)
{
    char hex[24];
    snprintf(hex, sizeof(hex), "0x%jx", (uintmax_t)v);
    return json_pack("{s:s, s:I, s:s}", "kind", "integer", "value", (json_int_t)(intmax_t)v, "hex", hex);
}

static json_t *condition_value(const char *expression, bool holds)
{
    return json_pack("{s:s, s:s, s:b}", "kind", "condition", "expression", expression, "holds", holds);
}

/* Writes the report (temporary name, then rename), once; takes the values. */
static void write_report(const char *assertion, const char *file, int line, json_t *expected,
                         json_t *observed)
{
    const char *path = getenv("VMBSAVE_CASE_REPORT");
    if (reported || path == NULL || path[0] == '\0' || expected == NULL || observed == NULL) {
        json_decref(expected);
        json_decref(observed);
        return;
    }
    reported = true;
    if (messages[0] != '\0')
        json_object_set_new(observed, "message", json_string(messages));
    if (vt_where[0] != '\0')
        json_object_set_new(observed, "where", json_string(vt_where));
    json_t *report = json_pack("{s:s, s:s, s:i, s:o, s:o}", "assertion", assertion, "file", file,
                               "line", line, "expected", expected, "observed", observed);
    char tmp[4096];
    if (report != NULL && (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) < sizeof(tmp) &&
        json_dump_file(report, tmp, JSON_COMPACT | JSON_ENSURE_ASCII) == 0)
        rename(tmp, path);
    json_decref(report);
}

void vt_note_status(const char *call, NTSTATUS got, NTSTATUS want)
{
    json_decref(noted_expected);
    json_decref(noted_observed);
    noted_expected = status_value(want);
    noted_observed = status_value(got);
    json_object_set_new(noted_expected, "call", json_string(call));
    json_object_set_new(noted_observed, "call", json_string(call));
    noted_assertion = "EXPECT_STATUS";
}

void vt_note_condition(const char *expression)
{
    if (noted_expected != NULL)
        return; /* EXPECT_ST's CHECK: the statuses say more */
    json_decref(noted_expected);
    json_decref(noted_observed);
    noted_expected = condition_value(expression, true);
    noted_observed = condition_value(expression, false);
    noted_assertion = "CHECK";
}

void vt_note_save_continue(uint32_t size, NTSTATUS status, uint32_t filled, uint32_t required,
                           const char *problem, long offset)
{
    json_decref(noted_expected);
    json_decref(noted_observed);
    /* The fixture's problems are "CLAUSE: what was wrong" (fixture.c, its own constants). */
    const char *colon = strstr(problem, ": ");
    int clause_len = colon != NULL ? (int)(colon - problem) : 0;
    noted_expected = json_pack("{s:s, s:s%}", "kind", "clause", "clause", problem, (size_t)clause_len);
    noted_observed = json_pack("{s:s, s:I, s:o, s:I, s:I, s:s}", "kind", "save_continue",
                               "buffer_size", (json_int_t)size, "status", status_value(status),
                               "bytes_filled", (json_int_t)filled, "bytes_required", (json_int_t)required,
                               "problem", colon != NULL ? colon + 2 : problem);
    if (noted_observed != NULL && offset != VT_NO_OFFSET)
        json_object_set_new(noted_observed, "changed_byte_offset", json_integer(offset));
    noted_assertion = "save_continue";
}

/* ---- cmocka's entry points, wrapped --------------------------------------------------------- */

void __real__fail(const char *file, int line);
void __wrap__fail(const char *file, int line);
void __real__assert_true(LargestIntegralType result, const char *expression, const char *file,
                         int line);
void __wrap__assert_true(LargestIntegralType result, const char *expression, const char *file,
                         int line);
void __real__assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                              int line);
void __wrap__assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                              int line);
void __real__assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                                  int line);
void __wrap__assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                                  int line);
void __real__assert_string_equal(const char *a, const char *b, const char *file, int line);
void __wrap__assert_string_equal(const char *a, const char *b, const char *file, int line);
void __real__assert_memory_equal(const void *a, const void *b, size_t size, const char *file,
                                 int line);
void __wrap__assert_memory_equal(const void *a, const void *b, size_t size, const char *file,
                                 int line);
void __wrap_print_error(const char *format, ...);

/* fail(), fail_msg(), CHECK, EXPECT_STATUS: what a check macro noted, else the message alone. */
void __wrap__fail(const char *file, int line)
{
    if (noted_expected != NULL) {
        write_report(noted_assertion, file, line, noted_expected, noted_observed);
    } else {
        char rule[128];
        snprintf(rule, sizeof(rule), "the check at %s:%d holds", file, line);
        write_report("fail", file, line, json_pack("{s:s, s:s}", "kind", "rule", "text", rule),
                     json_pack("{s:s}", "kind", "message"));
    }
    noted_expected = noted_observed = NULL;
    __real__fail(file, line);
}

void __wrap__assert_true(LargestIntegralType result, const char *expression, const char *file,
                         int line)
{
    if (!result)
        write_report("assert_true", file, line, condition_value(expression, true),
                     condition_value(expression, false));
    __real__assert_true(result, expression, file, line);
}

void __wrap__assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                              int line)
{
    if (a != b)
        write_report("assert_int_equal", file, line, integer_value(b), integer_value(a));
    __real__assert_int_equal(a, b, file, line);
}

void __wrap__assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                                  int line)
{
    if (a == b) {
        json_t *want = integer_value(b);
        json_object_set_new(want, "negate", json_true()); /* anything but this value */
        write_report("assert_int_not_equal", file, line, want, integer_value(a));
    }
    __real__assert_int_not_equal(a, b, file, line);
}

void __wrap__assert_string_equal(const char *a, const char *b, const char *file, int line)
{
    if (a != NULL && b != NULL && strcmp(a, b) != 0)
        write_report("assert_string_equal", file, line,
                     json_pack("{s:s, s:s%}", "kind", "text", "value", b, strnlen(b, 512)),
                     json_pack("{s:s, s:s%}", "kind", "text", "value", a, strnlen(a, 512)));
    __real__assert_string_equal(a, b, file, line);
}

/* The first byte that differs, in both buffers. */
void __wrap__assert_memory_equal(const void *a, const void *b, size_t size, const char *file,
                                 int line)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; x != NULL && y != NULL && i < size; i++) {
        if (x[i] != y[i]) {
            write_report("assert_memory_equal", file, line,
                         json_pack("{s:s, s:I, s:I, s:i}", "kind", "byte", "size", (json_int_t)size,
                                   "offset", (json_int_t)i, "value", y[i]),
                         json_pack("{s:s, s:I, s:I, s:i}", "kind", "byte", "size", (json_int_t)size,
                                   "offset", (json_int_t)i, "value", x[i]));
            break;
        }
    }
    __real__assert_memory_equal(a, b, size, file, line);
}

/* Keeps what is printed before a failure (fail_msg's and CHECK's text) for the report. */
void __wrap_print_error(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    size_t used = strlen(messages);
    if (used + 1 < sizeof(messages)) {
        va_list copy;
        va_copy(copy, ap);
        vsnprintf(messages + used, sizeof(messages) - used, format, copy);
        va_end(copy);
    }
    vprint_error(format, ap);
    va_end(ap);
}
