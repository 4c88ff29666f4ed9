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
                                          4 referencing a GPADL), ring bytes both ways */
    VMBSAVE_CANONICAL_LARGE_RING,      /* OPEN_PAUSED, 132 KiB pending in, 65 KiB out: five
                                          RING chunks */
    VMBSAVE_CANONICAL_COUNT
} vmbsave_canonical_id;

/* Most packets a canonical state holds in flight. */
#define VMBSAVE_CANONICAL_MAX_PACKETS 8u

/* What a canonical state is, as the checks need to know it. Every figure follows from the
 * prefix and FORMAT.md (greedy packing); canonical.c says how. */
typedef struct vmbsave_canonical_info {
    const char *name;      /* stable, lower_snake_case: "empty_offer", ... */
    const char *summary;   /* one line, for reports */
    uint32_t image_chunks; /* chunks of the state's image, HEADER and END included */
    uint32_t packet_count; /* packets in flight */
    uint32_t packet_ids[VMBSAVE_CANONICAL_MAX_PACKETS]; /* in send order */
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

/* Most steps any prefix has (so callers can size what they append after it). */
#define VMBSAVE_CANONICAL_MAX_PREFIX_STEPS 32u

#endif
