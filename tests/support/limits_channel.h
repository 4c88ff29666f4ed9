/* A channel at every limit of the contract (abi.h), built through an implementation's own
 * calls: the base of the format suite's limit cases (tests/conformance/test_format_suite.c) and
 * of the oracle's model-limit test (tests/selftest/test_oracle_limits.c). */
#ifndef VMBSAVE_TEST_LIMITS_CHANNEL_H
#define VMBSAVE_TEST_LIMITS_CHANNEL_H

#include "support/fixture.h"

/* The ring GPADL's id: the largest GPADL id. */
#define VT_LIMITS_RING_GPADL UINT32_MAX

/* The limits channel, OPEN_PAUSED: an offer at its maxima, 64 GPADLs (the ring's id UINT32_MAX
 * with 4,096 pfns, the last VMBSAVE_MAX_PFN), rings of the largest and the smallest size,
 * 4,096 packets in flight (ids 1 .. 4,095 and UINT64_MAX; packet 0 with the largest payload),
 * 100 pending incoming bytes and an outgoing ring whose pending bytes fill it exactly. */
vmbsave_channel *vt_make_limits_channel(vt_env *e);

#endif
