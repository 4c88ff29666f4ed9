/* Canonical channel states as program prefixes: short step lists (harness/program/program.h) that bring
 * one channel slot to a named state the exhaustive checks (harness/run/exhaustive.h) start from,
 * and that seed the fuzz corpora. Each state exercises one part of the image: the offer alone,
 * GPADLs (one mid-teardown), packets in flight with and without driver state, and ring data
 * spread over several RING chunks. Names are stable: corpora and reports use them. */
#ifndef VMBSAVE_HARNESS_CANONICAL_H
#define VMBSAVE_HARNESS_CANONICAL_H

#include <stdbool.h>
#include <stdint.h>

#include "program/program.h"

typedef enum vmbsave_canonical_id {
    VMBSAVE_CANONICAL_EMPTY_OFFER = 0, /* ENABLED, offer set, nothing else */
    VMBSAVE_CANONICAL_OPEN_GPADLS,     /* OPEN_PAUSED, 4 GPADLs (one TEARING_DOWN), no traffic */
    VMBSAVE_CANONICAL_PAUSED_PACKETS,  /* OPEN_PAUSED, 6 packets in flight (4 with driver state,
                                          4 referencing a GPADL), 4 GPADLs (one TEARING_DOWN
                                          that nothing references), ring bytes both ways */
    VMBSAVE_CANONICAL_LARGE_RING,      /* OPEN_PAUSED, 132 KiB pending in, 65 KiB out: five
                                          RING chunks */
    VMBSAVE_CANONICAL_COUNT
} vmbsave_canonical_id;

/* Most packets a canonical state holds in flight. */
#define VMBSAVE_CANONICAL_MAX_PACKETS 8u
/* Most GPADLs a canonical state holds. */
#define VMBSAVE_CANONICAL_MAX_GPADLS 8u

/* What a canonical state is, as the checks and the conformance tests need to know it, so that
 * no test hard-codes an id. Every figure follows from the prefix and FORMAT.md (greedy
 * packing); canonical.c says how, and the selftest HARNESS.CANONICAL.INFO checks each against
 * the reference's description of the state. */
typedef struct vmbsave_canonical_info {
    const char *name;      /* stable, lower_snake_case: "empty_offer", ... */
    const char *summary;   /* one line, for reports */
    uint32_t image_chunks; /* chunks of the state's image, HEADER and END included */
    uint32_t packet_count; /* packets in flight */
    uint32_t packet_ids[VMBSAVE_CANONICAL_MAX_PACKETS]; /* in send order */
    uint32_t gpadl_count;  /* GPADLs, TEARING_DOWN ones included */
    uint32_t gpadl_ids[VMBSAVE_CANONICAL_MAX_GPADLS]; /* ascending */
    uint32_t ring_gpadl;   /* the open channel's ring GPADL; 0 when not open */
    uint32_t tearing_down_gpadl; /* a TEARING_DOWN GPADL no packet references; 0 if none */
} vmbsave_canonical_info;

/* The state's description, or NULL for an id out of range. */
const vmbsave_canonical_info *vmbsave_canonical_info_of(vmbsave_canonical_id id);
/* Its name, or "?" for an id out of range. */
const char *vmbsave_canonical_name(vmbsave_canonical_id id);
/* The id whose name is `name` (exact match), or -1. */
int vmbsave_canonical_find(const char *name);

/* Appends the steps that take channel slot `ch` (which must be empty, i.e. never used by the
 * program so far or cleaned up) to state `id`. Every step is valid and succeeds against a
 * conforming implementation. Returns false, appending nothing, if `id` or `ch` is out of range
 * or the program has no room. */
bool vmbsave_canonical_append(vmbsave_canonical_id id, uint8_t ch, vmbsave_program *program);

/* The prefix alone, on channel slot 0: `out` is overwritten. Returns false for an id out of
 * range. */
bool vmbsave_canonical_prefix(vmbsave_canonical_id id, vmbsave_program *out);

/* The state's steps on channel slot 0 with bulk salt `salt`, for a caller that executes them
 * itself (the conformance fixture, tests/support/fixture.h). Salt 0 gives exactly the prefix;
 * another salt gives the same shape (same ids, counts, sizes, order; the same offer, so the
 * same HEADER) with different bulk bytes: GPADL_CREATE and RING_WRITE get another `c` salt
 * (vmbsave_canonical_salt_field), and a PACKET_SEND's payload comes from
 * vmbsave_args_payload_seed_salted(mode, a, b, c, salt) instead of the unsalted seed. Writes
 * at most `cap` steps; returns the count, or 0 for an id out of range or too small a `cap`. */
uint32_t vmbsave_canonical_steps(vmbsave_canonical_id id, uint32_t salt, vmbsave_step *out,
                                 uint32_t cap);

/* The `c` salt field of a salted GPADL_CREATE or RING_WRITE whose unsalted field is `c`:
 * c itself for salt 0. */
uint32_t vmbsave_canonical_salt_field(uint32_t c, uint32_t salt);

/* Most steps any prefix has (so callers can size what they append after it). */
#define VMBSAVE_CANONICAL_MAX_PREFIX_STEPS 32u

#endif
