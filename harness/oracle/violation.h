/* The verdict of a run and the violation that decided it: what the oracle fills and every
 * layer above reads. */
#ifndef VMBSAVE_HARNESS_VIOLATION_H
#define VMBSAVE_HARNESS_VIOLATION_H

#include <stdint.h>

typedef enum vmbsave_verdict {
    VMBSAVE_VERDICT_PASS = 0,      /* every step ran and every check held */
    VMBSAVE_VERDICT_VIOLATION = 1, /* the implementation broke a clause */
    VMBSAVE_VERDICT_ERROR = 2,     /* the harness could not run the program (setup failed,
                                      or the program executed no step) */
} vmbsave_verdict;

/* What kind of observation broke the contract: tells a reproducer what to re-check. */
typedef enum vmbsave_check_kind {
    VMBSAVE_CHECK_STATUS = 0, /* a status the contract does not allow at this point */
    VMBSAVE_CHECK_COUNTS,     /* BytesFilled / BytesRequired (or describe's size) wrong */
    VMBSAVE_CHECK_GUARD,      /* bytes changed outside what the call may write */
    VMBSAVE_CHECK_CHUNKS,     /* written bytes are not the expected whole chunks */
    VMBSAVE_CHECK_IMAGE,      /* two images that must be byte-identical differ */
    VMBSAVE_CHECK_DESCRIBE,   /* a description changed where it must not, or differs */
    VMBSAVE_CHECK_LEAK,       /* live allocations not back where they must be */
    VMBSAVE_CHECK_CALLBACK,   /* the packet-callback protocol was broken */
    VMBSAVE_CHECK_KIND_COUNT
} vmbsave_check_kind;

typedef struct vmbsave_violation {
    char clause[64];           /* a clause ID of docs/SPEC.md */
    uint32_t step;             /* program step index (0-based) */
    uint32_t call;             /* trace entry index of the call that showed it */
    vmbsave_check_kind kind;
    char expected[256];
    char observed[256];
} vmbsave_violation;

const char *vmbsave_verdict_name(vmbsave_verdict verdict);
const char *vmbsave_check_kind_name(vmbsave_check_kind kind);

#endif
