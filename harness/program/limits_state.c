/* The limits state (program/limits_state.h). */
#include "program/limits_state.h"

#include <stdlib.h>
#include <string.h>

#define LIMITS_CALL(name, expr)                                                                    \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != STATUS_SUCCESS) {                                                                \
            what = (name);                                                                         \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

NTSTATUS vmbsave_limits_build(const vmbsave_interface_v1 *v, vmbsave_channel *ch, uint32_t salt,
                              const char **failed_call)
{
    NTSTATUS st = STATUS_SUCCESS;
    const char *what = NULL;
    uint64_t *pfns = malloc(VMBSAVE_MAX_GPADL_PFNS * sizeof *pfns);
    uint8_t *payload = malloc(VMBSAVE_MAX_PACKET_PAYLOAD);
    if (pfns == NULL || payload == NULL) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        what = "malloc";
        goto done;
    }
    vmbsave_offer offer;
    memset(&offer, 0, sizeof offer);
    /* The ids and user-defined bytes of the test fixture's offers (tests/support/fixture.c). */
    for (unsigned i = 0; i < 16u; i++) {
        offer.interface_type.bytes[i] = (uint8_t)(0x10u + i * 7u + salt);
        offer.interface_instance.bytes[i] = (uint8_t)(0xA0u + i * 13u + salt * 3u);
    }
    for (unsigned i = 0; i < VMBSAVE_USER_DEFINED_BYTES; i++)
        offer.user_defined[i] = (uint8_t)(i * 5u + 1u + salt);
    offer.subchannel_index = VMBSAVE_MAX_SUBCHANNEL_INDEX;
    offer.mmio_megabytes = VMBSAVE_MAX_MMIO_MEGABYTES;
    offer.flags = VMBSAVE_OFFER_FLAGS_VALID;
    LIMITS_CALL("init_set_offer", v->init_set_offer(ch, &offer));
    LIMITS_CALL("enable", v->enable(ch));
    for (uint32_t i = 0; i < VMBSAVE_MAX_GPADL_PFNS; i++)
        pfns[i] = (uint64_t)i * 977u;
    pfns[VMBSAVE_MAX_GPADL_PFNS - 1] = VMBSAVE_MAX_PFN;
    for (uint32_t g = 1; g < VMBSAVE_MAX_GPADLS; g++)
        LIMITS_CALL("gpadl_create", v->gpadl_create(ch, g, &pfns[g], 1));
    LIMITS_CALL("gpadl_create",
                v->gpadl_create(ch, VMBSAVE_LIMITS_RING_GPADL, pfns, VMBSAVE_MAX_GPADL_PFNS));
    vmbsave_open_params open = {.ring_gpadl_id = VMBSAVE_LIMITS_RING_GPADL,
                                .incoming_ring_bytes = VMBSAVE_MAX_RING_BYTES,
                                .outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES,
                                .target_vp = VMBSAVE_MAX_TARGET_VP,
                                .connection_id = UINT32_MAX};
    LIMITS_CALL("guest_open", v->guest_open(ch, &open));
    LIMITS_CALL("start", v->start(ch));
    for (uint32_t i = 0; i < VMBSAVE_MAX_PACKET_PAYLOAD; i++)
        payload[i] = (uint8_t)(i * 31u + 5u);
    for (uint32_t k = 0; k < VMBSAVE_MAX_PACKETS; k++) {
        uint64_t id = k + 1u == VMBSAVE_MAX_PACKETS ? UINT64_MAX : k + 1u;
        uint32_t bytes = k == 0 ? VMBSAVE_MAX_PACKET_PAYLOAD : k % 3u;
        LIMITS_CALL("packet_send", v->packet_send(ch, id, k % 5u == 0 ? 1u : 0u, payload, bytes));
    }
    LIMITS_CALL("ring_write",
                v->ring_write(ch, VMBSAVE_RING_OUTGOING, payload, VMBSAVE_MIN_RING_BYTES));
    LIMITS_CALL("ring_write", v->ring_write(ch, VMBSAVE_RING_INCOMING, payload, 100));
    LIMITS_CALL("pause", v->pause(ch));
done:
    free(pfns);
    free(payload);
    if (failed_call != NULL)
        *failed_call = what;
    return st;
}
