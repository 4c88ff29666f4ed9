/* The concrete arguments of a program step's call (harness/program/program.h): offers, open
 * parameters, pfn arrays, payloads and ring data, each a pure function of the step's fields, so
 * a program replays identically and the oracle can regenerate any bulk data it models instead
 * of storing it. */
#ifndef VMBSAVE_HARNESS_STEP_ARGS_H
#define VMBSAVE_HARNESS_STEP_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "vmbsave/abi.h"

/* Most pfns a step passes (VMBSAVE_GPADL_OVER_LIMIT). */
#define VMBSAVE_ARGS_MAX_PFNS (VMBSAVE_MAX_GPADL_PFNS + 1u)

/* init_set_offer's offer for a program's offer mode (not VMBSAVE_OFFER_NULL). */
void vmbsave_args_offer(uint32_t mode, uint32_t salt, vmbsave_offer *out);
/* guest_open's parameters for an open mode (not VMBSAVE_OPEN_NULL): a the ring GPADL's id
 * code (vmbsave_program_gpadl_id), b and c ring pages. */
void vmbsave_args_open(uint32_t mode, uint32_t a, uint32_t b, uint32_t c, vmbsave_open_params *out);
/* gpadl_create's pfns for a GPADL mode with `count` pfns (at most VMBSAVE_ARGS_MAX_PFNS are
 * written to out). */
void vmbsave_args_pfns(uint32_t mode, uint32_t count, uint32_t salt, uint64_t *out);
/* The seed of a packet's payload bytes (packet_send: a id, b GPADL id, c bytes). */
uint64_t vmbsave_args_payload_seed(uint32_t mode, uint32_t a, uint32_t b, uint32_t c);
/* The same with a bulk salt (harness/program/canonical.h, vmbsave_canonical_steps): the
 * unsalted seed for salt 0, another stream for every other salt. */
uint64_t vmbsave_args_payload_seed_salted(uint32_t mode, uint32_t a, uint32_t b, uint32_t c,
                                          uint32_t salt);
/* The seed of ring_write's data. */
uint64_t vmbsave_args_ring_seed(uint32_t salt);
/* n bytes of the deterministic stream `seed` (payloads, ring data). */
void vmbsave_args_bytes(uint64_t seed, uint8_t *out, size_t n);

#endif
