/* The limits channel (harness/program/limits_state.h) in a test's environment: the base of the
 * format suite's limit cases (tests/conformance/test_format_suite.c) and of the oracle's
 * model-limit test (tests/selftest/test_oracle_limits.c). */
#ifndef VMBSAVE_TEST_LIMITS_CHANNEL_H
#define VMBSAVE_TEST_LIMITS_CHANNEL_H

#include "support/fixture.h"

/* A new channel of `e` in the limits state (offer salt 7); fails the test on any refused call. */
vmbsave_channel *vt_make_limits_channel(vt_env *e);

#endif
