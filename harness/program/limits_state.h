/* The limits state: a channel at every limit of the contract (abi.h) at once, built through an
 * implementation's own calls (no program can: programs name 14 GPADL and 24 packet ids). The
 * base of the format suite's limit cases, the oracle's model-limit test
 * (tests/selftest/test_oracle_limits.c) and the restore_raw seed limits-whole
 * (fuzzers/restore_raw_seeds.c). */
#ifndef VMBSAVE_HARNESS_LIMITS_STATE_H
#define VMBSAVE_HARNESS_LIMITS_STATE_H

#include "vmbsave/abi.h"

/* The ring GPADL's id: the largest GPADL id. */
#define VMBSAVE_LIMITS_RING_GPADL UINT32_MAX

/* Makes the fresh channel `ch` of `v` OPEN_PAUSED with: an offer at its maxima (user-defined
 * bytes from `salt`), 64 GPADLs (ids 1..63 of one pfn, and the ring's, id UINT32_MAX, of 4,096
 * pfns, the last VMBSAVE_MAX_PFN), rings of the largest incoming and the smallest outgoing size
 * (target VP and connection id at their maxima), 4,096 packets in flight (ids 1 .. 4,095 and
 * UINT64_MAX; packet 0 with the largest payload), 100 pending incoming bytes and an outgoing
 * ring whose pending bytes fill it exactly. Returns STATUS_SUCCESS, or the first other status
 * (STATUS_INSUFFICIENT_RESOURCES if its own scratch could not be allocated); *failed_call
 * (if not NULL) names the call that failed. */
NTSTATUS vmbsave_limits_build(const vmbsave_interface_v1 *v, vmbsave_channel *ch, uint32_t salt,
                              const char **failed_call);

#endif
