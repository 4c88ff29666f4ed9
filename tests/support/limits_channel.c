/* The limits channel (support/limits_channel.h). */
#include "support/limits_channel.h"

#include <stdlib.h>

#include "support/check.h"
#include "support/util.h"

vmbsave_channel *vt_make_limits_channel(vt_env *e)
{
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 7);
    offer.subchannel_index = VMBSAVE_MAX_SUBCHANNEL_INDEX;
    offer.mmio_megabytes = VMBSAVE_MAX_MMIO_MEGABYTES;
    offer.flags = VMBSAVE_OFFER_FLAGS_VALID;
    EXPECT_OK(e, e->v->init_set_offer(ch, &offer));
    EXPECT_OK(e, e->v->enable(ch));
    uint64_t *pfns = vt_xmalloc(VMBSAVE_MAX_GPADL_PFNS * sizeof *pfns);
    for (uint32_t i = 0; i < VMBSAVE_MAX_GPADL_PFNS; i++)
        pfns[i] = (uint64_t)i * 977u;
    pfns[VMBSAVE_MAX_GPADL_PFNS - 1] = VMBSAVE_MAX_PFN;
    for (uint32_t g = 1; g < VMBSAVE_MAX_GPADLS; g++)
        EXPECT_OK(e, e->v->gpadl_create(ch, g, &pfns[g], 1));
    EXPECT_OK(e, e->v->gpadl_create(ch, VT_LIMITS_RING_GPADL, pfns, VMBSAVE_MAX_GPADL_PFNS));
    free(pfns);
    vmbsave_open_params open = {.ring_gpadl_id = VT_LIMITS_RING_GPADL,
                                .incoming_ring_bytes = VMBSAVE_MAX_RING_BYTES,
                                .outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES,
                                .target_vp = VMBSAVE_MAX_TARGET_VP,
                                .connection_id = UINT32_MAX};
    EXPECT_OK(e, e->v->guest_open(ch, &open));
    EXPECT_OK(e, e->v->start(ch));
    uint8_t *payload = vt_xmalloc(VMBSAVE_MAX_PACKET_PAYLOAD);
    for (uint32_t i = 0; i < VMBSAVE_MAX_PACKET_PAYLOAD; i++)
        payload[i] = (uint8_t)(i * 31u + 5u);
    for (uint32_t k = 0; k < VMBSAVE_MAX_PACKETS; k++) {
        uint64_t id = k + 1u == VMBSAVE_MAX_PACKETS ? UINT64_MAX : k + 1u;
        uint32_t bytes = k == 0 ? VMBSAVE_MAX_PACKET_PAYLOAD : k % 3u;
        EXPECT_OK(e, e->v->packet_send(ch, id, k % 5u == 0 ? 1u : 0u, payload, bytes));
    }
    EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, payload, VMBSAVE_MIN_RING_BYTES));
    EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, payload, 100));
    free(payload);
    EXPECT_OK(e, e->v->pause(ch));
    return ch;
}

