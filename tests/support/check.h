/* Assertion macros shared by the test files. Every one fails the current cmocka test with the
 * file and line of its use.
 *
 *   WHERE(fmt, ...)            what the test is doing now, printed with any CHECK failure
 *   CHECK(cond, fmt, ...)      fails unless cond, with the message and the WHERE text
 *   CALL(e, expr)              runs an implementation call inside vmbsave_host_enter/leave (as
 *                              every fixture call is), giving its NTSTATUS
 *   EXPECT_ST(e, expr, want)   CALL(e, expr) must return `want`
 *   EXPECT_OK(e, expr)         CALL(e, expr) must return STATUS_SUCCESS
 *   EXPECT_STATUS(got, want, fmt, ...)
 *                              a status already obtained must be `want`; fmt names the call
 *
 * A failing check also writes its expected and observed values to the file VMBSAVE_CASE_REPORT
 * names, if set (check.c; every cmocka assertion does too). */
#ifndef VMBSAVE_TESTS_CHECK_H
#define VMBSAVE_TESTS_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "util.h"

/* The text WHERE() last set. */
extern char vt_where[256];
#define WHERE(...) snprintf(vt_where, sizeof(vt_where), __VA_ARGS__)

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            vt_note_condition(#cond);                                                              \
            print_error("%s:%d: [%s] failed: %s\n    ", __FILE__, __LINE__, vt_where, #cond);      \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* What the next fail() reports as expected and observed (check.c): a status against the one
 * wanted, or a condition that did not hold. */
void vt_note_status(const char *call, NTSTATUS got, NTSTATUS want);
void vt_note_condition(const char *expression);
/* A save_continue call the fixture's checks refused: `problem` is "CLAUSE: what was wrong";
 * `offset` the byte outside the filled range that changed, or VT_NO_OFFSET. */
#define VT_NO_OFFSET (-0x7fffffffL)
void vt_note_save_continue(uint32_t size, NTSTATUS status, uint32_t filled, uint32_t required,
                           const char *problem, long offset);

/* vmbsave_host_leave(&e->host), then returns s: the second half of CALL. */
NTSTATUS vt_left(vt_env *e, NTSTATUS s);
#define CALL(e, expr) (vmbsave_host_enter(&(e)->host), vt_left((e), (expr)))

#define EXPECT_ST(e, expr, want)                                                                   \
    do {                                                                                           \
        NTSTATUS got_ = CALL(e, expr);                                                             \
        NTSTATUS want_ = (want);                                                                   \
        if (got_ != want_)                                                                         \
            vt_note_status(#expr, got_, want_);                                                    \
        CHECK(got_ == want_, "%s returned %s, expected %s", #expr, vt_status_str(got_),            \
              vt_status_str(want_));                                                               \
    } while (0)
#define EXPECT_OK(e, expr) EXPECT_ST(e, expr, STATUS_SUCCESS)

#define EXPECT_STATUS(got, want, ...)                                                              \
    do {                                                                                           \
        NTSTATUS got_ = (got), want_ = (want);                                                     \
        if (got_ != want_) {                                                                       \
            char what_[256];                                                                       \
            snprintf(what_, sizeof(what_), __VA_ARGS__);                                           \
            vt_note_status(what_, got_, want_);                                                    \
            fail_msg("%s:%d: %s: got %s (0x%08x), expected %s", __FILE__, __LINE__, what_,         \
                     vt_status_str(got_), (unsigned)(uint32_t)got_, vt_status_str(want_));         \
        }                                                                                          \
    } while (0)

#endif
