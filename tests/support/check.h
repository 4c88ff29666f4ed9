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
 *                              a status already obtained must be `want`; fmt names the call */
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
            print_error("%s:%d: [%s] failed: %s\n    ", __FILE__, __LINE__, vt_where, #cond);      \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* vmbsave_host_leave(&e->host), then returns s: the second half of CALL. */
NTSTATUS vt_left(vt_env *e, NTSTATUS s);
#define CALL(e, expr) (vmbsave_host_enter(&(e)->host), vt_left((e), (expr)))

#define EXPECT_ST(e, expr, want)                                                                   \
    do {                                                                                           \
        NTSTATUS got_ = CALL(e, expr);                                                             \
        NTSTATUS want_ = (want);                                                                   \
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
            fail_msg("%s:%d: %s: got %s (0x%08x), expected %s", __FILE__, __LINE__, what_,         \
                     vt_status_str(got_), (unsigned)(uint32_t)got_, vt_status_str(want_));         \
        }                                                                                          \
    } while (0)

#endif
