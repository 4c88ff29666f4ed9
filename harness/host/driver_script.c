/* The scripted packet driver (harness/host/driver_script.h). Also pasted as text into every C
 * reproducer, after vmbsave/ntstatus.h, vmbsave/abi.h and driver_script.h: standard headers
 * only, and nothing that needs the rest of the harness. */
#include <stddef.h>
#include <stdint.h>

#include "host/driver_script.h"

uint32_t vmbsave_driver_state(uint64_t packet_id, uint8_t *out, uint32_t cap)
{
    /* Every fourth id has no state; the others 0..64 bytes, derived from the id alone. */
    uint32_t len = (packet_id % 4u == 0u) ? 0u : (uint32_t)((packet_id * 7u) % 65u);
    if (out != NULL) {
        uint64_t x = packet_id * UINT64_C(0x9E3779B97F4A7C15) + UINT64_C(0xD1B54A32D192ED03);
        for (uint32_t i = 0; i < len && i < cap; i++) {
            x ^= x >> 29;
            x *= UINT64_C(0xBF58476D1CE4E5B9);
            x ^= x >> 32;
            out[i] = (uint8_t)(x >> 24);
        }
    }
    return len;
}

vmbsave_save_packet_mode vmbsave_driver_mode(vmbsave_save_packet_mode save_mode,
                                             uint64_t mode_packet_id, uint64_t packet_id)
{
    if (mode_packet_id != 0 && packet_id != mode_packet_id)
        return VMBSAVE_SAVE_PACKET_STATE;
    return save_mode;
}

/* The number of bytes the driver asks for on the first call in `mode`. The failing modes need
 * a second call to exercise, so they ask for 16 bytes where the id itself has no state. */
static uint32_t first_call_need(vmbsave_save_packet_mode mode, uint64_t packet_id)
{
    uint32_t n = vmbsave_driver_state(packet_id, NULL, 0);
    switch (mode) {
    case VMBSAVE_SAVE_PACKET_STATE: return n;
    case VMBSAVE_SAVE_PACKET_NO_STATE: return 0;
    case VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO: return 0;
    case VMBSAVE_SAVE_PACKET_OVER_LIMIT: return VMBSAVE_MAX_DRIVER_PACKET_STATE + 1u;
    case VMBSAVE_SAVE_PACKET_FAIL_SECOND:
    case VMBSAVE_SAVE_PACKET_ASKS_MORE:
    case VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND: return n != 0 ? n : 16u;
    }
    return n;
}

static vmbsave_driver_answer driver_answer(NTSTATUS status, uint32_t bytes_needed,
                                           uint32_t state_bytes)
{
    vmbsave_driver_answer a;
    a.status = status;
    a.bytes_needed = bytes_needed;
    a.state_bytes = state_bytes;
    return a;
}

vmbsave_driver_answer vmbsave_driver_save(vmbsave_save_packet_mode mode, uint64_t packet_id,
                                          uint32_t size)
{
    uint32_t need = first_call_need(mode, packet_id);

    if (size == 0) {
        /* First call: the size query. */
        switch (mode) {
        case VMBSAVE_SAVE_PACKET_NO_STATE: return driver_answer(STATUS_SUCCESS, 0, 0);
        case VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO:
            return driver_answer(STATUS_BUFFER_TOO_SMALL, 0, 0);
        default:
            return driver_answer(need == 0 ? STATUS_SUCCESS : STATUS_BUFFER_TOO_SMALL, need, 0);
        }
    }

    /* Second call. */
    switch (mode) {
    case VMBSAVE_SAVE_PACKET_STATE: {
        if (size < need)
            return driver_answer(STATUS_BUFFER_TOO_SMALL, need, 0);
        uint32_t len = vmbsave_driver_state(packet_id, NULL, 0);
        return driver_answer(STATUS_SUCCESS, need, len < size ? len : size);
    }
    case VMBSAVE_SAVE_PACKET_FAIL_SECOND: return driver_answer(STATUS_UNSUCCESSFUL, need, 0);
    case VMBSAVE_SAVE_PACKET_ASKS_MORE: return driver_answer(STATUS_BUFFER_TOO_SMALL, need + 1u, 0);
    case VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND:
        return driver_answer(STATUS_BUFFER_TOO_SMALL, need, 0);
    case VMBSAVE_SAVE_PACKET_NO_STATE:
    case VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO:
    case VMBSAVE_SAVE_PACKET_OVER_LIMIT:
        /* No second call belongs to these modes; answer it as a refusal. */
        return driver_answer(STATUS_UNSUCCESSFUL, 0, 0);
    }
    return driver_answer(STATUS_UNSUCCESSFUL, 0, 0);
}

uint32_t vmbsave_driver_saved_state(vmbsave_save_packet_mode mode, uint64_t packet_id, uint8_t *out,
                                    uint32_t cap)
{
    return mode == VMBSAVE_SAVE_PACKET_NO_STATE ? 0u : vmbsave_driver_state(packet_id, out, cap);
}
