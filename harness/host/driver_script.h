/* The scripted packet driver behind the fault host's save-packet and restore-packet callbacks:
 * its per-packet state and its answer to each call, as pure functions. The one definition used
 * by the host (harness/host/host.c), the oracle that predicts its answers (harness/oracle/oracle_save.c,
 * oracle_restore.c) and, pasted in as text, every C reproducer (harness/repro/repro_runtime.c).
 * So it includes nothing beyond the C library and vmbsave/abi.h. */
#ifndef VMBSAVE_HARNESS_DRIVER_SCRIPT_H
#define VMBSAVE_HARNESS_DRIVER_SCRIPT_H

#include <stdint.h>

#include "vmbsave/abi.h"

/* How the scripted driver answers save_packet. */
typedef enum vmbsave_save_packet_mode {
    VMBSAVE_SAVE_PACKET_STATE = 0,       /* protocol followed; state from vmbsave_driver_state() */
    VMBSAVE_SAVE_PACKET_NO_STATE,        /* first call succeeds: nothing to save */
    VMBSAVE_SAVE_PACKET_FAIL_SECOND,     /* second call fails (STATUS_UNSUCCESSFUL) */
    VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO, /* first call fails with bytes_needed 0 */
    VMBSAVE_SAVE_PACKET_OVER_LIMIT,      /* first call asks MAX_DRIVER_PACKET_STATE + 1 */
    VMBSAVE_SAVE_PACKET_ASKS_MORE,       /* second call fails asking for one byte more */
    VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND /* second call returns BUFFER_TOO_SMALL, same size */
} vmbsave_save_packet_mode;
/* Outside the enum so switches over the modes need no case for it. */
#define VMBSAVE_SAVE_PACKET_MODE_COUNT 7u
_Static_assert(VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND + 1 == VMBSAVE_SAVE_PACKET_MODE_COUNT,
               "a save-packet mode was added: update VMBSAVE_SAVE_PACKET_MODE_COUNT");

/* The scripted driver's per-packet state: a pure function of the packet id, so a restored
 * channel saves the same state again (RESTORE.FIXED_POINT). Returns its length (0..64; some
 * ids have none) and writes up to `cap` bytes of it to `out` (out may be NULL). */
uint32_t vmbsave_driver_state(uint64_t packet_id, uint8_t *out, uint32_t cap);

/* The mode in effect for `packet_id`: `save_mode` if `mode_packet_id` is 0 (every packet) or
 * this id, else VMBSAVE_SAVE_PACKET_STATE. */
vmbsave_save_packet_mode vmbsave_driver_mode(vmbsave_save_packet_mode save_mode,
                                             uint64_t mode_packet_id, uint64_t packet_id);

/* The driver's answer to one save_packet call (pointer arguments assumed valid). */
typedef struct vmbsave_driver_answer {
    NTSTATUS status;
    uint32_t bytes_needed; /* what it stores through BytesNeeded */
    uint32_t state_bytes;  /* how much of vmbsave_driver_state() it writes to the buffer */
} vmbsave_driver_answer;

/* The answer in `mode` to the call for `packet_id` with a buffer of `size` bytes: size 0 is the
 * first call (the size query), any other size the second. */
vmbsave_driver_answer vmbsave_driver_save(vmbsave_save_packet_mode mode, uint64_t packet_id,
                                          uint32_t size);

/* The driver state restore_packet expects for `packet_id` in `mode`: none in NO_STATE mode,
 * else vmbsave_driver_state() (same return value and `out`/`cap` meaning). */
uint32_t vmbsave_driver_saved_state(vmbsave_save_packet_mode mode, uint64_t packet_id, uint8_t *out,
                                    uint32_t cap);

#endif
